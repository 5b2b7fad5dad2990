/* SPDX-License-Identifier: BSD-2-Clause */
// dashboard.js: the dashboard page: the picker form and the URL, one
// refresh of the four panels from the stats API, and live mode.
import { getStats, describe } from './api.js';
import { readSelection, writeSelection } from './selection.js';
import { draw } from './charts.js';

const api = document.body.dataset.api || '/stats/v1';
const form = document.getElementById('picker');
const TOKEN_KEY = 'track-dashboard-token';
let sel = readSelection(location.search);
let timer = 0, refreshes = 0;

function el(tag, text, cls) {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
}

function row(tbody, cells) {
    const tr = document.createElement('tr');
    for (const c of cells) tr.append(el('td', c, typeof c === 'number' ? 'n' : ''));
    tbody.append(tr);
    return tr;
}

// a panel shows its chart/table, or a message instead (a hint or an error)
function panel(id, message, failed = false) {
    const s = document.getElementById(id);
    const m = s.querySelector('.message');
    m.textContent = message || '';
    m.hidden = !message;
    m.classList.toggle('failed', failed);
    for (const c of s.querySelectorAll('.chart, table')) c.hidden = !!message;
    return s;
}

const panels = {
    async series(token) {
        const r = await getStats(api, 'series', {
            app: sel.app, module: sel.module, action: sel.action,
            object: sel.object, from: sel.from, to: sel.to, interval: sel.interval,
        }, token);
        panel('series').querySelector('.interval').textContent = sel.interval;
        document.getElementById('series-total').textContent = r.total;
        draw('series-chart', 'line', 'events', r.points.map(p => p.t),
             r.points.map(p => p.events));
    },

    async top(token) {
        if (!sel.module || !sel.action) return 'Pick a module and an action (or a row of the breakdown).';
        const r = await getStats(api, 'top', {
            app: sel.app, module: sel.module, action: sel.action,
            from: sel.from, to: sel.to, limit: 10,
        }, token);
        const body = panel('top').querySelector('tbody');
        body.replaceChildren();
        for (const o of r.objects) row(body, [o.object, o.events]);
        draw('top-chart', 'bar', 'events', r.objects.map(o => o.object),
             r.objects.map(o => o.events), true);
        if (!r.objects.length) panel('top', 'No objects in these days.');
    },

    async users(token) {
        if (!sel.module || !sel.action) return 'Pick a module and an action.';
        const r = await getStats(api, 'users', {
            app: sel.app, module: sel.module, action: sel.action,
            from: sel.from, to: sel.to,
        }, token);
        panel('users');
        draw('users-chart', 'bar', 'users', r.points.map(p => p.t),
             r.points.map(p => p.users));
    },

    async breakdown(token) {
        const r = await getStats(api, 'breakdown', { app: sel.app, day: sel.to }, token);
        const s = panel('breakdown');
        s.querySelector('.day').textContent = r.day;
        document.getElementById('breakdown-total').textContent = r.events;
        const body = s.querySelector('tbody');
        body.replaceChildren();
        const actions = new Set();
        for (const m of r.modules) {
            for (const a of m.actions) {
                actions.add(a.action);
                const tr = row(body, [m.module, a.action, a.events, a.objects, a.users]);
                tr.addEventListener('click', () => choose({ module: m.module, action: a.action }));
            }
        }
        document.getElementById('modules').replaceChildren(
            ...r.modules.map(m => Object.assign(document.createElement('option'), { value: m.module })));
        document.getElementById('actions').replaceChildren(
            ...[...actions].map(a => Object.assign(document.createElement('option'), { value: a })));
        if (!r.modules.length) panel('breakdown', `No events of ${r.app} on ${r.day}.`);
    },
};

async function refresh() {
    clearTimeout(timer);
    const token = sessionStorage.getItem(TOKEN_KEY) || '';
    const banner = document.getElementById('error');
    const errors = [];
    if (!sel.app) {
        for (const id in panels) panel(id, 'Enter an app.');
    } else {
        await Promise.all(Object.entries(panels).map(async ([id, load]) => {
            try {
                const hint = await load(token);
                if (hint) panel(id, hint);
            } catch (err) {
                const text = describe(err);
                panel(id, text, true);
                errors.push(text);
            }
        }));
    }
    banner.textContent = [...new Set(errors)].join(' ');
    banner.hidden = !errors.length;
    document.getElementById('status').textContent =
        `updated ${new Date().toLocaleTimeString()}${sel.live ? `, live every ${sel.refresh} s` : ''}`;
    // for tests and scripts: how many refreshes finished, and how
    document.body.dataset.state = errors.length ? 'error' : 'ok';
    document.body.dataset.refreshes = String(++refreshes);
    if (sel.live) timer = setTimeout(refresh, sel.refresh * 1000);
}

function fillForm() {
    for (const k of ['app', 'module', 'action', 'object', 'from', 'to', 'interval']) {
        form.elements[k].value = sel[k];
    }
    form.elements.live.checked = sel.live;
    form.elements.token.value = sessionStorage.getItem(TOKEN_KEY) || '';
}

// a new selection: into the URL (shareable), then drawn
function choose(changes) {
    Object.assign(sel, changes);
    history.replaceState(null, '', writeSelection(sel));
    fillForm();
    refresh();
}

form.addEventListener('change', e => {
    if (e.target.name === 'token') {
        // the token stays in this tab, never in the URL
        sessionStorage.setItem(TOKEN_KEY, e.target.value);
        refresh();
        return;
    }
    const f = form.elements;
    choose({ app: f.app.value.trim(), module: f.module.value.trim(),
             action: f.action.value.trim(), object: f.object.value.trim(),
             from: f.from.value, to: f.to.value, interval: f.interval.value,
             live: f.live.checked });
});
form.addEventListener('submit', e => e.preventDefault());

fillForm();
refresh();
