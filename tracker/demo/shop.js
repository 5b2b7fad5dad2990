/* SPDX-License-Identifier: BSD-2-Clause */
// shop.js: the demo shop's own behaviour: SPA routes (history.pushState,
// which track.js reports as page views), sign-in (the uid) and consent.
for (const b of document.querySelectorAll('[data-route]')) {
    b.addEventListener('click', () => {
        history.pushState(null, '', b.dataset.route);
        document.title = `Demo shop: ${b.textContent}`;
    });
}
document.getElementById('signed-in').addEventListener('change', e => {
    track.user(e.target.checked ? '42' : '');
});
document.getElementById('consent').addEventListener('change', e => {
    track.consent(e.target.checked);
});
