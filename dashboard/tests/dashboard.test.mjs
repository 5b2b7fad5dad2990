/* SPDX-License-Identifier: BSD-2-Clause */
// Unit tests of the dashboard's logic that needs no browser: the selection
// in the URL, the stats API client and its error messages (a fake fetch).
import test from 'node:test';
import assert from 'node:assert/strict';
import { getStats, describe, ApiError } from '../api.js';
import { readSelection, writeSelection, dayOf } from '../selection.js';

test('selection defaults: app unset, the last 7 days by day, not live', () => {
    const s = readSelection('', new Date(2024, 10, 3, 15, 0));
    assert.deepEqual(s, { app: '', module: '', action: '', object: '',
                          from: '2024-10-28', to: '2024-11-03', interval: 'day',
                          live: false, refresh: 5 });
});

test('selection round trip through the URL', () => {
    const q = '?app=shop&module=home-feed&action=click&object=991'
              + '&from=2024-02-27&to=2024-03-01&interval=hour&live=1&refresh=2';
    const s = readSelection(q);
    assert.equal(s.from, '2024-02-27');
    assert.equal(s.interval, 'hour');
    assert.equal(s.live, true);
    assert.equal(s.refresh, 2);
    assert.equal(writeSelection(s), q);
    assert.equal(readSelection('?interval=minute&refresh=0').interval, 'day');
    assert.equal(readSelection('?refresh=0').refresh, 5);
    assert.equal(readSelection('?to=2024-03-01').from, '2024-02-24', 'a week before to');
});

test('dayOf crosses months and years', () => {
    assert.equal(dayOf(new Date(2024, 0, 1), -1), '2023-12-31');
    assert.equal(dayOf(new Date(2024, 1, 28), 1), '2024-02-29');
});

function fakeFetch(t, answer) {
    const calls = [];
    t.mock.method(globalThis, 'fetch', async (url, init) => {
        calls.push({ url, init });
        if (answer === 'network') throw new TypeError('failed');
        return { ok: answer.status < 300, status: answer.status, statusText: answer.statusText,
                 json: async () => {
                     if (answer.body === undefined) throw new SyntaxError('not JSON');
                     return answer.body;
                 } };
    });
    return calls;
}

test('getStats: the query without empty filters, the bearer token', async t => {
    const calls = fakeFetch(t, { status: 200, body: { total: 3 } });
    const r = await getStats('/stats/v1', 'series',
                             { app: 'shop', module: '', object: 'ä b', action: undefined }, 'tok');
    assert.deepEqual(r, { total: 3 });
    assert.equal(calls[0].url, '/stats/v1/series?app=shop&object=%C3%A4+b');
    assert.equal(calls[0].init.headers.Authorization, 'Bearer tok');
    await getStats('/stats/v1', 'top', { app: 'shop' }, '');
    assert.deepEqual(calls[1].init.headers, {}, 'no token, no header');
});

const cases = [
    [{ status: 400, body: { error: 'invalid_range', message: 'from is after to' } },
     /^The stats API refused the selection: from is after to \(invalid_range\)\.$/],
    [{ status: 401, body: { error: 'unauthorized', message: 'token required' } },
     /^Not authorized: enter the stats API token/],
    [{ status: 503, body: { error: 'unavailable', message: 'database unavailable' } },
     /^The stats API is unavailable for now: database unavailable \(unavailable\)\.$/],
    [{ status: 502, statusText: 'Bad Gateway' },
     /^The stats API answered 502: Bad Gateway \(http_502\)\.$/],
    ['network', /^The stats API does not answer/],
];

for (const [answer, message] of cases) {
    test(`an error answer is a readable message: ${answer.status || answer}`, async t => {
        fakeFetch(t, answer);
        const err = await getStats('/stats/v1', 'series', { app: 'shop' }).then(
            () => assert.fail('no error'), e => e);
        assert.ok(err instanceof ApiError);
        assert.match(describe(err), message);
    });
}
