/* SPDX-License-Identifier: BSD-2-Clause */
// selection.js: what the dashboard shows (app, filters, days, interval,
// live), read from and written to the page URL so that links can be shared.

export const FILTERS = ['app', 'module', 'action', 'object'];

// a local date as YYYY-MM-DD, days after `date`
export function dayOf(date, days = 0) {
    const d = new Date(date.getFullYear(), date.getMonth(), date.getDate() + days);
    const p = n => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// the selection in a query string; the defaults: the last 7 days, per day
export function readSelection(search, now = new Date()) {
    const q = new URLSearchParams(search);
    const s = {};
    for (const k of FILTERS) s[k] = q.get(k) || '';
    s.to = q.get('to') || dayOf(now);
    s.from = q.get('from') || dayOf(new Date(s.to + 'T00:00'), -6);
    s.interval = q.get('interval') === 'hour' ? 'hour' : 'day';
    s.live = q.get('live') === '1';
    s.refresh = Math.max(1, Number(q.get('refresh')) || 5);
    return s;
}

export function writeSelection(s) {
    const q = new URLSearchParams();
    for (const k of [...FILTERS, 'from', 'to']) if (s[k]) q.set(k, s[k]);
    if (s.interval !== 'day') q.set('interval', s.interval);
    if (s.live) q.set('live', '1');
    if (s.refresh !== 5) q.set('refresh', String(s.refresh));
    return `?${q}`;
}
