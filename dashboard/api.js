/* SPDX-License-Identifier: BSD-2-Clause */
// api.js: the stats API client of the dashboard: GET with the bearer token,
// every failure as an ApiError whose describe() a person can read.

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;       // 0: no answer
        this.code = code;
    }
}

// getStats('/stats/v1', 'series', {app: 'shop', ...}, token) -> answer JSON
export async function getStats(base, endpoint, params, token) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    let r;
    try {
        r = await fetch(`${base}/${endpoint}?${q}`, { headers, cache: 'no-store' });
    } catch (e) {
        throw new ApiError(0, 'network', 'no answer from the stats API');
    }
    let body = null;
    try {
        body = await r.json();
    } catch (e) { /* not JSON: a proxy's error page */ }
    if (!r.ok) {
        throw new ApiError(r.status, (body && body.error) || `http_${r.status}`,
                           (body && body.message) || r.statusText);
    }
    return body;
}

export function describe(err) {
    if (!(err instanceof ApiError)) return `Unexpected error: ${err.message}`;
    switch (err.status) {
    case 0:
        return 'The stats API does not answer (network error).';
    case 400:
        return `The stats API refused the selection: ${err.message} (${err.code}).`;
    case 401:
        return 'Not authorized: enter the stats API token (Token field).';
    case 503:
        return `The stats API is unavailable for now: ${err.message} (${err.code}).`;
    default:
        return `The stats API answered ${err.status}: ${err.message} (${err.code}).`;
    }
}
