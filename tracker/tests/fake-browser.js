/* SPDX-License-Identifier: BSD-2-Clause */
// A fake window for the tracker's unit tests: a transport that records every
// request and answers what the test scripts, localStorage in a Map, events.
'use strict';

class FakeStorage {
    constructor() { this.map = new Map(); this.denied = false; }
    check() { if (this.denied) throw new Error('SecurityError'); }
    get length() { this.check(); return this.map.size; }
    key(i) { this.check(); return [...this.map.keys()][i] ?? null; }
    getItem(k) { this.check(); return this.map.has(k) ? this.map.get(k) : null; }
    setItem(k, v) { this.check(); this.map.set(k, String(v)); }
    removeItem(k) { this.check(); this.map.delete(k); }
}

// an element with the little of the DOM the click handler uses
class FakeElement {
    constructor(attrs, parent) {
        this.attrs = attrs || {};
        this.parent = parent || null;
        this.attributes = Object.entries(this.attrs)
            .map(([name, value]) => ({ name, value }));
        if (attrs && attrs.href) {
            const u = new URL(attrs.href, 'https://shop.example/');
            this.host = u.host;
            this.href = u.href;
        }
    }
    getAttribute(n) { return n in this.attrs ? this.attrs[n] : null; }
    matches(sel) {
        return sel.split(',').some(s => {
            const m = s.trim().match(/^(a)?\[([\w-]+)\]$/);
            return m && (!m[1] || 'href' in this.attrs) && m[2] in this.attrs;
        });
    }
    closest(sel) {
        for (let e = this; e; e = e.parent) if (e.matches(sel)) return e;
        return null;
    }
}

// fakeWindow({ answers, fetch: false, beacon: false, crypto, ... }):
// answers is a list of statuses (or 'network' for a rejected fetch) given
// to the fetches in order, then 204.
function fakeWindow(opt = {}) {
    const w = new EventTarget();
    const answers = [...(opt.answers || [])];
    w.requests = [];     // { via, url, body, events, init }
    w.document = new EventTarget();
    w.document.visibilityState = 'visible';
    w.localStorage = opt.localStorage || new FakeStorage();
    w.location = { pathname: '/', host: 'shop.example', href: 'https://shop.example/' };
    w.history = {
        pushState(state, title, url) { w.location.pathname = url; }
    };
    w.navigator = Object.assign({}, opt.navigator);
    w.crypto = 'crypto' in opt ? opt.crypto : globalThis.crypto;
    w.console = { warnings: [], warn(...a) { this.warnings.push(a.join(' ')); } };
    // looked up when called, so that node:test's mock.timers applies
    w.setTimeout = (f, ms) => setTimeout(f, ms);
    w.clearTimeout = id => clearTimeout(id);
    if (opt.fetch !== false) {
        w.fetch = (url, init) => {
            w.requests.push({ via: 'fetch', url, init, body: init.body,
                              events: JSON.parse(init.body) });
            const a = answers.length ? answers.shift() : 204;
            return a === 'network' ? Promise.reject(new TypeError('failed'))
                                   : Promise.resolve({ status: a });
        };
    }
    if (opt.beacon !== false) {
        w.beaconAnswer = true;
        w.navigator.sendBeacon = (url, body) => {
            w.requests.push({ via: 'beacon', url, body,
                              events: JSON.parse(body) });
            return w.beaconAnswer;
        };
    }
    w.Image = class {
        set src(u) {
            w.requests.push({ via: 'pixel', url: u });
            const a = answers.length ? answers.shift() : 204;
            Promise.resolve().then(() => (a < 300 ? this.onload() : this.onerror()));
        }
    };
    return w;
}

// lets the promises of answered requests run (timers stay mocked)
const settle = () => new Promise(r => setImmediate(r));

module.exports = { fakeWindow, FakeStorage, FakeElement, settle };
