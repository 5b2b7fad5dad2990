/* SPDX-License-Identifier: BSD-2-Clause */
// The seed's architecture as a benchmark peer: a Node.js cluster (WORKERS
// processes, default 2) of express apps, each with one node-redis client,
// doing one LPUSH per request and answering the pixel once Redis said yes.
// It builds the same event as the module and the Lua peer (app, module,
// action required; generated eid, recv_ts, ip, ua, referer, p.* props).
//
// env: PORT, REDIS_PORT, BENCH_KEY, WORKERS
'use strict';

const cluster = require('node:cluster');

const workers = Number(process.env.WORKERS || 2);

if (cluster.isPrimary) {
    for (let i = 0; i < workers; i++) {
        cluster.fork();
    }
    cluster.on('exit', (w, code, signal) => {
        if (!process.exitCode && signal !== 'SIGTERM') {
            console.error(`worker ${w.process.pid} died (${signal || code})`);
        }
    });
    const stop = () => {
        for (const id in cluster.workers) {
            cluster.workers[id].process.kill('SIGTERM');
        }
        process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
}

const express = require('express');
const { createClient } = require('redis');

const key = process.env.BENCH_KEY || 'bench:node';
const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
                        'base64');

const redis = createClient({ socket: { host: '127.0.0.1',
                                       port: Number(process.env.REDIS_PORT) } });
redis.on('error', (err) => console.error('redis:', err.message));

let seq = 0;
const node = '0000';
const pid = (process.pid & 0xffffff).toString(16).padStart(6, '0');

const app = express();
app.disable('x-powered-by');
app.disable('etag');

app.get('/t.gif', async (req, res) => {
    const q = req.query;
    if (typeof q.app !== 'string' || !q.app || typeof q.module !== 'string'
        || !q.module || typeof q.action !== 'string' || !q.action) {
        return res.status(400).json({ error: 'missing_field' });
    }
    const now = Date.now();
    seq++;
    const ev = {
        eid: now.toString(16).padStart(12, '0') + node + pid
             + seq.toString(16).padStart(10, '0'),
        recv_ts: now, app: q.app, module: q.module, action: q.action,
    };
    if (typeof q.object === 'string') ev.object = q.object;
    if (typeof q.uid === 'string') ev.uid = q.uid;
    ev.ip = req.socket.remoteAddress;
    const ua = req.get('user-agent'), referer = req.get('referer');
    if (ua) ev.ua = ua;
    if (referer) ev.referer = referer;
    let props;
    for (const k in q) {
        if (k.startsWith('p.') && typeof q[k] === 'string') {
            (props ||= {})[k.slice(2)] = q[k];
        }
    }
    if (props) ev.props = props;
    try {
        await redis.lPush(key, JSON.stringify(ev));
    } catch (err) {
        return res.status(503).json({ error: 'unavailable' });
    }
    res.set('Cache-Control', 'no-store').type('image/gif').send(gif);
});

redis.connect().then(() => {
    app.listen(Number(process.env.PORT), '127.0.0.1');
});
