/* SPDX-License-Identifier: BSD-2-Clause */
// The size budget: track.js minified by terser (Debian's `terser`, installed
// by scripts/deps.sh) and gzipped stays under 3 KiB.  The source is measured
// minified because comments and long names are free to keep in it.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const zlib = require('node:zlib');

const BUDGET = 3072;
const source = path.join(__dirname, '..', 'track.js');

test(`track.js minified and gzipped is under ${BUDGET} bytes`, () => {
    // Debian's terser finds its libraries under /usr/share/nodejs, which a
    // node from elsewhere (nodesource) does not search by itself
    const env = Object.assign({}, process.env, {
        NODE_PATH: ['/usr/share/nodejs', process.env.NODE_PATH]
            .filter(Boolean).join(path.delimiter) });
    const min = execFileSync('terser', [source, '--compress', '--mangle'],
                             { env });
    assert.ok(min.length > 1000, `terser wrote ${min.length} bytes`);
    const gz = zlib.gzipSync(min, { level: 9 }).length;
    assert.ok(gz < BUDGET, `${gz} bytes gzipped (budget ${BUDGET})`);
    // what was measured is still a working tracker
    const m = { exports: {} };
    new Function('module', 'globalThis', min.toString())(m, globalThis);
    assert.equal(typeof m.exports.createTracker, 'function');
});
