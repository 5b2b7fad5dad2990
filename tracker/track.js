/* SPDX-License-Identifier: BSD-2-Clause */
/* track.js: the browser tracker of ngx_http_track_module (tracker/README.md).
 * <script src="/tracker/track.js" data-app="shop" defer></script>, then
 * track(module, action, object, props).  No dependencies, no build step. */
(function (root) {
    'use strict';

    // the module's defaults: track_max_events, track_max_body_size,
    // track_max_field_length, track_max_prop_length; and track_max_event_size
    // (8k) less what nginx adds (ip, ua, referer, fields)
    const MAX_EVENTS = 100, MAX_BODY = 65536, MAX_FIELD = 128, MAX_PROP = 1024;
    const MAX_EVENT = 6144;
    const OK = 0, RETRY = 1, DROP = 2;

    const defaults = {
        endpoint: '/collect', pixel: '/t.gif', app: '', uid: '',
        batchSize: 10, flushMs: 2000, minBackoffMs: 1000, maxBackoffMs: 60000,
        maxBatches: 100, pageviews: false, clicks: false, honorDnt: false,
        consent: true, storage: true, debug: false
    };

    const utf8 = s => new TextEncoder().encode(s).length;

    // a string the module accepts: at most max UTF-8 bytes, cut at a
    // character boundary; control characters (which the module refuses, and
    // with them the whole batch) as spaces, lone surrogates as U+FFFD
    function clip(v, max) {
        let out = '', n = 0;
        for (let c of String(v)) {
            const cp = c.codePointAt(0);
            if (cp < 32 || (cp > 126 && cp < 160)) c = ' ';
            else if (cp >= 0xd800 && cp < 0xe000) c = '\ufffd';
            n += cp < 128 ? 1 : cp < 2048 ? 2 : cp < 65536 ? 3 : 4;
            if (n > max) break;
            out += c;
        }
        return out;
    }

    function createTracker(options, env) {
        const g = (env && env.global) || root;
        const random = (env && env.random) || Math.random;
        const cfg = Object.assign({}, defaults, options);
        const size = Math.max(1, Math.min(MAX_EVENTS, cfg.batchSize | 0));
        const nav = g.navigator || {};
        const doc = g.document;
        const prefix = 'track:' + cfg.app + ':';
        const pending = [];     // events not yet in a batch
        const outbox = [];      // batches to send, oldest first
        let flushTimer = 0, retryTimer = 0, busy = null, seq = 0;
        let uid = cfg.uid, lastPath = null;
        const dnt = cfg.honorDnt && [nav.doNotTrack, g.doNotTrack,
            nav.globalPrivacyControl].some(v => v === '1' || v === true);
        let enabled = cfg.consent !== false && !dnt;

        let store = null;
        try {
            if (cfg.storage && g.localStorage) {
                store = g.localStorage;
                store.length;   // throws where storage is denied
            }
        } catch (e) {
            store = null;
        }

        function debug(...args) {
            if (cfg.debug && g.console) g.console.warn('track:', ...args);
        }

        function save(b) {
            try {
                if (store) store.setItem(prefix + b.id, JSON.stringify(b.events));
            } catch (e) { /* full or denied: memory only */ }
        }

        function forget(b) {
            try {
                if (store) store.removeItem(prefix + b.id);
            } catch (e) { /* denied */ }
        }

        function stored() {
            const keys = [];
            try {
                for (let i = 0; store && i < store.length; i++) {
                    const k = store.key(i);
                    if (k && k.startsWith(prefix)) keys.push(k);
                }
            } catch (e) { /* denied */ }
            return keys.sort();
        }

        function uuid() {
            const c = g.crypto;
            if (c && c.randomUUID) return c.randomUUID();
            const b = new Uint8Array(16);
            if (c && c.getRandomValues) c.getRandomValues(b);
            else for (let i = 0; i < 16; i++) b[i] = random() * 256;
            b[6] = (b[6] & 15) | 64;
            b[8] = (b[8] & 63) | 128;
            const h = Array.from(b, x => (x + 256).toString(16).slice(1));
            return [0, 4, 6, 8, 10].map((at, i, a) =>
                h.slice(at, a[i + 1] || 16).join('')).join('-');
        }

        function props(p) {
            const out = {};
            let n = 0;
            for (const k in p || {}) {
                const v = p[k];
                const t = typeof v;
                if (n === 32) break;
                if (clip(k, 64) !== k) continue;
                if (v === null || t === 'number' || t === 'boolean') out[k] = v;
                else if (t === 'string') out[k] = clip(v, MAX_PROP);
                else continue;
                n++;
            }
            return n ? out : undefined;
        }

        function track(module, action, object, p) {
            if (!enabled) return false;
            if (!module || !action) {
                debug('module and action are required');
                return false;
            }
            const e = { app: cfg.app, module: clip(module, MAX_FIELD),
                        action: clip(action, MAX_FIELD) };
            if (object != null && object !== '') e.object = clip(object, MAX_FIELD);
            if (uid != null && uid !== '') e.uid = clip(uid, MAX_FIELD);
            e.ts = Date.now();
            e.eid = uuid();
            e.props = props(p);
            if (utf8(JSON.stringify(e)) > MAX_EVENT) {
                debug('event over', MAX_EVENT, 'bytes: not sent');
                return false;
            }
            pending.push(e);
            if (pending.length >= size) seal(true);
            else if (!flushTimer) flushTimer = g.setTimeout(() => seal(true), cfg.flushMs);
            return e.eid;
        }

        // pending events into batches of at most `size` events and
        // MAX_BODY bytes, kept in storage until the server confirms them
        function seal(send) {
            g.clearTimeout(flushTimer);
            flushTimer = 0;
            while (pending.length) {
                let n = 0, bytes = 2;
                while (n < Math.min(size, pending.length)) {
                    const b = utf8(JSON.stringify(pending[n])) + 1;
                    if (n && bytes + b > MAX_BODY) break;
                    bytes += b;
                    n++;
                }
                const b = { id: String(Date.now()).padStart(15, '0') + '-'
                                + (seq++).toString(36) + uuid().slice(0, 8),
                            events: pending.splice(0, n), tries: 0 };
                outbox.push(b);
                save(b);
                if (outbox.length > cfg.maxBatches) {
                    debug('too many unsent batches: dropping the oldest');
                    forget(outbox.splice(busy ? 1 : 0, 1)[0]);
                }
            }
            if (send) pump();
        }

        function verdict(status) {
            if (status >= 200 && status < 300) return OK;
            if (status >= 500 || status === 408 || status === 429) return RETRY;
            debug('batch refused with', status, '(not retried)');
            return DROP;
        }

        function post(body) {
            return g.fetch(cfg.endpoint, {
                method: 'POST', body, keepalive: true, credentials: 'omit',
                headers: { 'Content-Type': 'text/plain' }
            });
        }

        function pixels(events) {
            return Promise.all(events.map(e => new Promise(done => {
                const q = [];
                for (const k in e) {
                    if (k === 'props') {
                        for (const p in e.props || {}) q.push(['p.' + p, e.props[p]]);
                    } else if (e[k] !== undefined) {
                        q.push([k, e[k]]);
                    }
                }
                const img = new g.Image();
                img.onload = () => done(OK);
                img.onerror = () => done(RETRY);
                img.src = cfg.pixel + '?' + q.map(([k, v]) =>
                    encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
            }))).then(r => Math.max(...r));
        }

        // while the page lives: fetch, whose answer says what to do next
        function send(events) {
            const body = JSON.stringify(events);
            if (g.fetch) return post(body).then(r => verdict(r.status), () => RETRY);
            if (nav.sendBeacon) return Promise.resolve(nav.sendBeacon(cfg.endpoint, body) ? OK : RETRY);
            return pixels(events);
        }

        function pump() {
            if (!enabled || busy || retryTimer || !outbox.length) return;
            const b = busy = outbox[0];
            send(b.events).then(result => {
                busy = null;
                const at = outbox.indexOf(b);
                if (at < 0) return;     // consent withdrawn meanwhile
                if (result === RETRY) {
                    b.tries++;
                    const delay = Math.min(cfg.maxBackoffMs,
                        cfg.minBackoffMs * 2 ** (b.tries - 1)) * (0.5 + random() / 2);
                    debug('batch failed; retry', b.tries, 'in', Math.round(delay), 'ms');
                    retryTimer = g.setTimeout(() => {
                        retryTimer = 0;
                        pump();
                    }, delay);
                    return;
                }
                outbox.splice(at, 1);
                forget(b);
                pump();
            });
        }

        // the page is hidden or going away: nothing will wait for an answer,
        // so each batch goes as a beacon (fetch keepalive where the beacon is
        // refused).  They stay in storage: the next page of this site sends
        // them again, to be sure; the consumer stores each eid once.
        function leave() {
            if (!enabled) return;
            seal(false);
            for (const b of outbox.splice(busy ? 1 : 0)) {
                const body = JSON.stringify(b.events);
                if (!(nav.sendBeacon && nav.sendBeacon(cfg.endpoint, body)) && g.fetch) {
                    post(body).catch(() => {});
                }
            }
            g.clearTimeout(retryTimer);
            retryTimer = 0;
        }

        function pageview() {
            lastPath = g.location.pathname;
            return track('page', 'view', lastPath);
        }

        function routed() {
            if (g.location.pathname !== lastPath) pageview();
        }

        function clicked(ev) {
            const t = ev.target && ev.target.closest
                && ev.target.closest('[data-track-action],a[href]');
            if (!t) return;
            const action = t.getAttribute('data-track-action');
            if (!action) {
                if (t.host && t.host !== g.location.host) track('outbound', 'click', t.href);
                return;
            }
            const m = t.closest('[data-track-module]');
            const p = {};
            for (const a of t.attributes) {
                if (a.name.startsWith('data-track-prop-')) p[a.name.slice(16)] = a.value;
            }
            track(m ? m.getAttribute('data-track-module') : 'ui', action,
                  t.getAttribute('data-track-object'), p);
        }

        track.flush = () => seal(true);
        track.user = v => { uid = v; };
        track.pageview = pageview;
        // events not yet confirmed by the server (this page's)
        track.pending = () => outbox.reduce((n, b) => n + b.events.length,
                                            pending.length);
        track.consent = on => {
            if (on) {
                enabled = !dnt;
                pump();
                return;
            }
            enabled = false;
            g.clearTimeout(flushTimer);
            g.clearTimeout(retryTimer);
            flushTimer = retryTimer = 0;
            pending.length = 0;
            outbox.length = 0;
            for (const k of stored()) {
                try { store.removeItem(k); } catch (e) { /* denied */ }
            }
        };

        // batches an earlier page left unconfirmed
        for (const k of stored()) {
            try {
                outbox.push({ id: k.slice(prefix.length), tries: 0,
                              events: JSON.parse(store.getItem(k)) });
            } catch (e) {
                store.removeItem(k);
            }
        }

        if (doc) {
            doc.addEventListener('visibilitychange', () => {
                if (doc.visibilityState === 'hidden') leave();
            });
            if (cfg.clicks) doc.addEventListener('click', clicked, true);
        }
        if (g.addEventListener) g.addEventListener('pagehide', leave);
        if (cfg.pageviews && g.location) {
            const h = g.history;
            if (h && h.pushState) {
                const push = h.pushState;
                h.pushState = function () {
                    const r = push.apply(this, arguments);
                    routed();
                    return r;
                };
            }
            g.addEventListener('popstate', routed);
            pageview();
        }
        if (!enabled) track.consent(false);
        pump();
        return track;
    }

    // options from the script tag's data-* attributes, then window.trackConfig
    function fromScript(s) {
        const o = {};
        const d = (s && s.dataset) || {};
        for (const k in d) {
            const v = d[k];
            o[k] = typeof defaults[k] === 'number' ? Number(v)
                 : typeof defaults[k] === 'boolean' ? !/^(false|off|0)$/.test(v)
                 : v;
        }
        return Object.assign(o, root.trackConfig);
    }

    if (typeof module === 'object' && module.exports) {
        module.exports = { createTracker, fromScript };
    } else if (root.document) {
        const queued = root.track && root.track.q;
        const t = createTracker(fromScript(root.document.currentScript));
        t.create = createTracker;
        root.track = t;
        // calls made before this script ran: track.q = [arguments, ...]
        for (const a of queued || []) t.apply(null, a);
    }
})(globalThis);
