/* SPDX-License-Identifier: BSD-2-Clause */
// Unit tests of tracker/track.js: batching, transports, retry with backoff,
// storage across reloads, consent, DNT, page views and clicks.  Fake timers
// (node:test) and the fake window of fake-browser.js.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createTracker } = require('../track.js');
const { fakeWindow, FakeStorage, FakeElement, settle } = require('./fake-browser.js');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const faked = new WeakSet();

function fakeTimers(t) {
    if (faked.has(t)) return;
    faked.add(t);
    // node 20.11+ takes { apis }, older releases an array
    try {
        t.mock.timers.enable({ apis: ['setTimeout'] });
    } catch (e) {
        t.mock.timers.enable(['setTimeout']);
    }
}

// a tracker on a fake window; random() = 1 makes the backoff exact
function setup(t, options = {}, windowOptions = {}) {
    fakeTimers(t);
    const w = fakeWindow(windowOptions);
    const track = createTracker(Object.assign({ app: 'shop' }, options),
                                { global: w, random: () => 1 });
    return { w, track };
}

const eids = r => r.events.map(e => e.eid);

test('a full batch goes at once as one text/plain POST', async t => {
    const { w, track } = setup(t, { batchSize: 3 });
    track('cart', 'add', 17, { qty: 2 });
    track('cart', 'add', '18');
    assert.equal(w.requests.length, 0);
    track('home-feed', 'click', 991);
    await settle();
    assert.equal(w.requests.length, 1);
    const r = w.requests[0];
    assert.equal(r.via, 'fetch');
    assert.equal(r.url, '/collect');
    assert.equal(r.init.method, 'POST');
    assert.equal(r.init.keepalive, true);
    assert.equal(r.init.credentials, 'omit');
    assert.equal(r.init.headers['Content-Type'], 'text/plain');
    assert.deepEqual(r.events.map(e => [e.app, e.module, e.action, e.object]),
                     [['shop', 'cart', 'add', '17'], ['shop', 'cart', 'add', '18'],
                      ['shop', 'home-feed', 'click', '991']]);
    assert.deepEqual(r.events[0].props, { qty: 2 });
    assert.ok(!('props' in r.events[1]));
    for (const e of r.events) {
        assert.match(e.eid, UUID);
        assert.equal(typeof e.ts, 'number');
    }
    assert.equal(new Set(eids(r)).size, 3);
    assert.equal(track.pending(), 0);
});

test('a partial batch waits flushMs, not longer', async t => {
    const { w, track } = setup(t, { batchSize: 10, flushMs: 500 });
    track('cart', 'add', 1);
    t.mock.timers.tick(499);
    await settle();
    assert.equal(w.requests.length, 0);
    track('cart', 'add', 2);          // does not restart the clock
    t.mock.timers.tick(1);
    await settle();
    assert.equal(w.requests.length, 1);
    assert.equal(w.requests[0].events.length, 2);
});

test('batches are bounded by the module limits: 100 events, 64 KiB', async t => {
    const { w, track } = setup(t, { batchSize: 1000 });
    for (let i = 0; i < 250; i++) track('m', 'a', i);
    track.flush();
    for (let i = 0; i < 5; i++) await settle();
    assert.deepEqual(w.requests.map(r => r.events.length), [100, 100, 50]);

    w.requests.length = 0;
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 100; i++) {
        track('m', 'a', i, Object.fromEntries(
            Array.from({ length: 5 }, (_, k) => ['p' + k, big])));
    }
    track.flush();
    for (let i = 0; i < 5; i++) await settle();
    assert.ok(w.requests.length >= 2, 'split in several requests');
    for (const r of w.requests) {
        assert.ok(Buffer.byteLength(r.body) <= 65536, 'body within 64 KiB');
    }
    assert.equal(w.requests.reduce((n, r) => n + r.events.length, 0), 100);
});

test('values are cut to the module\'s field and property limits', async t => {
    const { w, track } = setup(t, { batchSize: 1 });
    track('m'.repeat(200), 'a', 'é'.repeat(100), { long: 'y'.repeat(2000), nested: { a: 1 } });
    await settle();
    const e = w.requests[0].events[0];
    assert.equal(e.module.length, 128);
    assert.equal(Buffer.byteLength(e.object), 128);
    assert.equal(e.props.long.length, 1024);
    assert.ok(!('nested' in e.props), 'nested properties are left out');
});

test('what the module would refuse, and the batch with it, is made acceptable', async t => {
    const { w, track } = setup(t, { batchSize: 1 });
    track('m\n', 'a\u0000b\u007f\u0085', 'x'.repeat(126) + '😀', {
        lone: 'a\ud800b', ['k'.repeat(65)]: 'skipped', ok: 'tab\there' });
    await settle();
    const e = w.requests[0].events[0];
    assert.equal(e.module, 'm ');
    assert.equal(e.action, 'a b  ');
    assert.equal(e.object, 'x'.repeat(126), 'a 4-byte character is not cut in two');
    assert.deepEqual(e.props, { lone: 'a\ufffdb', ok: 'tab here' });
    assert.doesNotMatch(w.requests[0].body, /\\ud800/, 'no lone surrogate on the wire');
});

test('an event over the event size limit is not sent, the others are', async t => {
    const { w, track } = setup(t, { batchSize: 2, debug: true });
    const p = Object.fromEntries(Array.from({ length: 8 }, (_, k) => ['p' + k, 'z'.repeat(1000)]));
    assert.equal(track('m', 'a', 1, p), false);
    track('m', 'a', 2);
    track('m', 'a', 3);
    await settle();
    assert.deepEqual(w.requests[0].events.map(e => e.object), ['2', '3']);
    assert.match(w.console.warnings[0], /event over 6144 bytes/);
});

test('without module or action nothing is queued (debug says why)', async t => {
    const { w, track } = setup(t, { batchSize: 1, debug: true });
    assert.equal(track('', 'click'), false);
    assert.equal(track('m'), false);
    await settle();
    assert.equal(w.requests.length, 0);
    assert.match(w.console.warnings[0], /module and action are required/);
});

test('a 503 is retried with doubling backoff, the same eids each time', async t => {
    const { w, track } = setup(t, { batchSize: 2, minBackoffMs: 100, maxBackoffMs: 350 },
                               { answers: [503, 503, 503, 503, 204] });
    track('m', 'a', 1);
    track('m', 'a', 2);
    await settle();
    assert.equal(w.requests.length, 1);
    const delays = [100, 200, 350, 350];  // doubling, capped
    for (const d of delays) {
        t.mock.timers.tick(d - 1);
        await settle();
        const before = w.requests.length;
        t.mock.timers.tick(1);
        await settle();
        assert.equal(w.requests.length, before + 1, `retried after ${d} ms`);
    }
    assert.equal(w.requests.length, 5);
    for (const r of w.requests) assert.deepEqual(eids(r), eids(w.requests[0]));
    assert.equal(track.pending(), 0, 'confirmed after the 204');
    assert.equal(w.localStorage.map.size, 0, 'and gone from storage');
    t.mock.timers.tick(10000);
    await settle();
    assert.equal(w.requests.length, 5, 'no more requests');
});

test('network errors, 408 and 429 are retried; later batches wait their turn', async t => {
    const { w, track } = setup(t, { batchSize: 1, minBackoffMs: 50 },
                               { answers: ['network', 408, 429] });
    track('m', 'a', 'first');
    track('m', 'a', 'second');
    await settle();
    for (let i = 0; i < 3; i++) {
        t.mock.timers.tick(50 * 2 ** i);
        await settle();
    }
    await settle();
    assert.deepEqual(w.requests.map(r => r.events[0].object),
                     ['first', 'first', 'first', 'first', 'second']);
    assert.equal(track.pending(), 0);
});

test('a 400 is not retried; debug mode logs it', async t => {
    const { w, track } = setup(t, { batchSize: 1, debug: true, minBackoffMs: 10 },
                               { answers: [400] });
    track('m', 'a', 1);
    await settle();
    t.mock.timers.tick(1000);
    await settle();
    assert.equal(w.requests.length, 1);
    assert.equal(track.pending(), 0);
    assert.match(w.console.warnings.join('\n'), /refused with 400/);
    assert.equal(w.localStorage.map.size, 0);
});

test('an unconfirmed batch survives a reload through localStorage', async t => {
    const storage = new FakeStorage();
    const { w, track } = setup(t, { batchSize: 2, minBackoffMs: 1000 },
                               { answers: [503], localStorage: storage });
    track('m', 'a', 1);
    track('m', 'a', 2);
    await settle();
    assert.equal(storage.map.size, 1, 'kept while unconfirmed');
    const sent = eids(w.requests[0]);

    // the page goes away before the retry; the next page of the site
    const w2 = fakeWindow({ localStorage: storage });
    createTracker({ app: 'shop' }, { global: w2, random: () => 1 });
    await settle();
    assert.equal(w2.requests.length, 1);
    assert.deepEqual(eids(w2.requests[0]), sent, 'same events, same eids');
    assert.equal(storage.map.size, 0);
});

test('denied storage: memory only, still retried', async t => {
    const storage = new FakeStorage();
    storage.denied = true;
    const { w, track } = setup(t, { batchSize: 1, minBackoffMs: 10 },
                               { answers: [503], localStorage: storage });
    track('m', 'a', 1);
    await settle();
    t.mock.timers.tick(10);
    await settle();
    assert.equal(w.requests.length, 2);
    assert.equal(track.pending(), 0);
});

test('storage off: nothing written', async t => {
    const storage = new FakeStorage();
    const { track } = setup(t, { batchSize: 5, storage: false },
                            { localStorage: storage });
    track('m', 'a', 1);
    track.flush();
    assert.equal(storage.map.size, 0);
});

test('hidden page: pending events leave as a beacon and stay stored', async t => {
    const { w, track } = setup(t, { batchSize: 10 });
    track('m', 'a', 1);
    track('m', 'a', 2);
    w.document.visibilityState = 'hidden';
    w.document.dispatchEvent(new Event('visibilitychange'));
    assert.equal(w.requests.length, 1);
    assert.equal(w.requests[0].via, 'beacon');
    assert.equal(w.requests[0].url, '/collect');
    assert.equal(w.requests[0].events.length, 2);
    assert.equal(w.localStorage.map.size, 1,
                 'a beacon is unconfirmed: the next page sends it again');
    t.mock.timers.tick(5000);
    await settle();
    assert.equal(w.requests.length, 1, 'not sent twice by this page');
});

test('pagehide with a refused beacon falls back to fetch keepalive', async t => {
    const { w, track } = setup(t, { batchSize: 10 });
    w.beaconAnswer = false;
    track('m', 'a', 1);
    w.dispatchEvent(new Event('pagehide'));
    assert.deepEqual(w.requests.map(r => r.via), ['beacon', 'fetch']);
    assert.equal(w.requests[1].init.keepalive, true);
});

test('without fetch: sendBeacon; without both: the pixel GET', async t => {
    const a = setup(t, { batchSize: 1 }, { fetch: false });
    a.track('m', 'a', 1);
    await settle();
    assert.equal(a.w.requests[0].via, 'beacon');

    const b = setup(t, { batchSize: 2, minBackoffMs: 10 },
                    { fetch: false, beacon: false, answers: [204, 503] });
    b.track('cart', 'add', 'x y', { pos: 3 });
    b.track('cart', 'add', 2);
    await settle();
    await settle();
    assert.equal(b.w.requests.length, 2);
    const u = new URL(b.w.requests[0].url, 'https://shop.example');
    assert.equal(u.pathname, '/t.gif');
    assert.equal(u.searchParams.get('object'), 'x y');
    assert.equal(u.searchParams.get('p.pos'), '3');
    assert.match(u.searchParams.get('eid'), UUID);
    t.mock.timers.tick(10);
    await settle();
    await settle();
    assert.equal(b.w.requests.length, 4, 'one pixel failed: the batch is retried');
    assert.equal(b.track.pending(), 0);
});

test('consent(false) drops what is queued and stored, and stops sending', async t => {
    const { w, track } = setup(t, { batchSize: 1, minBackoffMs: 100 },
                               { answers: [503] });
    track('m', 'a', 1);
    await settle();
    assert.equal(w.localStorage.map.size, 1);
    track.consent(false);
    assert.equal(w.localStorage.map.size, 0);
    assert.equal(track.pending(), 0);
    assert.equal(track('m', 'a', 2), false);
    t.mock.timers.tick(10000);
    await settle();
    assert.equal(w.requests.length, 1);
    track.consent(true);
    track('m', 'a', 3);
    await settle();
    assert.equal(w.requests.length, 2);
    assert.equal(w.requests[1].events[0].object, '3');
});

test('consent: false in the options: nothing until consent(true)', async t => {
    const { w, track } = setup(t, { batchSize: 1, consent: false });
    assert.equal(track('m', 'a'), false);
    track.consent(true);
    track('m', 'a');
    await settle();
    assert.equal(w.requests.length, 1);
});

test('Do Not Track is honoured when configured', async t => {
    const on = setup(t, { batchSize: 1, honorDnt: true },
                     { navigator: { doNotTrack: '1' } });
    assert.equal(on.track('m', 'a'), false);
    on.track.consent(true);
    assert.equal(on.track('m', 'a'), false, 'consent does not override DNT');
    const gpc = setup(t, { batchSize: 1, honorDnt: true },
                      { navigator: { globalPrivacyControl: true } });
    assert.equal(gpc.track('m', 'a'), false);
    const off = setup(t, { batchSize: 1 }, { navigator: { doNotTrack: '1' } });
    assert.match(off.track('m', 'a'), UUID);
});

test('uid: from the options, then track.user()', async t => {
    const { w, track } = setup(t, { batchSize: 1, uid: '42' });
    track('m', 'a');
    track.user('43');
    track('m', 'a');
    track.user('');
    track('m', 'a');
    await settle();
    for (let i = 0; i < 3; i++) await settle();
    assert.deepEqual(w.requests.map(r => r.events[0].uid), ['42', '43', undefined]);
});

test('eid without crypto.randomUUID: getRandomValues, then Math.random', async t => {
    const a = setup(t, {}, { crypto: { getRandomValues: b => b.fill(0xab) } });
    assert.equal(a.track('m', 'a'), 'abababab-abab-4bab-abab-abababababab');
    const b = setup(t, {}, { crypto: undefined });
    assert.match(b.track('m', 'a'), UUID);
});

test('page views: the first page, pushState and popstate', async t => {
    const { w, track } = setup(t, { batchSize: 1, pageviews: true });
    w.history.pushState(null, '', '/cart');
    w.history.pushState(null, '', '/cart');   // same path: no view
    w.location.pathname = '/';
    w.dispatchEvent(new Event('popstate'));
    for (let i = 0; i < 4; i++) await settle();
    assert.deepEqual(w.requests.map(r => {
        const e = r.events[0];
        return [e.module, e.action, e.object];
    }), [['page', 'view', '/'], ['page', 'view', '/cart'], ['page', 'view', '/']]);
    assert.equal(track.pending(), 0);
});

test('clicks: data-track-action, its module, object and props; outbound links', async t => {
    const { w } = setup(t, { batchSize: 1, clicks: true });
    const section = new FakeElement({ 'data-track-module': 'home-feed' });
    const button = new FakeElement({ 'data-track-action': 'add-to-cart',
                                     'data-track-object': '991',
                                     'data-track-prop-pos': '3' }, section);
    const label = new FakeElement({}, button);
    const click = target => {
        const ev = new Event('click');
        Object.defineProperty(ev, 'target', { value: target });
        w.document.dispatchEvent(ev);
    };
    click(label);
    click(new FakeElement({ 'data-track-action': 'open' }));
    click(new FakeElement({ href: 'https://elsewhere.example/x' }));
    click(new FakeElement({ href: '/local' }));
    click(new FakeElement({}));
    for (let i = 0; i < 4; i++) await settle();
    assert.deepEqual(w.requests.map(r => {
        const e = r.events[0];
        return [e.module, e.action, e.object, e.props];
    }), [['home-feed', 'add-to-cart', '991', { pos: '3' }],
         ['ui', 'open', undefined, undefined],
         ['outbound', 'click', 'https://elsewhere.example/x', undefined]]);
});

test('clicks are not tracked unless configured', async t => {
    const { w } = setup(t, { batchSize: 1 });
    const ev = new Event('click');
    Object.defineProperty(ev, 'target', {
        value: new FakeElement({ 'data-track-action': 'open' }) });
    w.document.dispatchEvent(ev);
    await settle();
    assert.equal(w.requests.length, 0);
});
