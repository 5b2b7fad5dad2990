-- SPDX-License-Identifier: BSD-2-Clause
-- wrk script shared by every benchmark path, so that all of them are driven
-- the same way.  Settings come from the environment:
--
--   BENCH_BODY     request body: the request becomes a POST with
--                  Content-Type text/plain (what navigator.sendBeacon sends)
--   BENCH_RATE     offered rate in requests/s over all threads (default:
--                  as fast as the connections go); needs BENCH_THREADS
--   BENCH_THREADS  wrk's -t, to split BENCH_RATE between the threads
--   BENCH_VARY     "1": rotate object and uid over a pool of precomputed
--                  requests (realistic statistics cardinality for the
--                  end-to-end run): every @OBJ@ and @UID@ in the body, or
--                  in the URL when there is no body, gets a fresh value
--
-- done() prints one machine-readable line that bench/ingest.sh parses:
--   BENCHRESULT requests=N duration_us=N non2xx=N errors=N p50=US p99=US
--               p999=US max=US

local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
end

local vary = os.getenv("BENCH_VARY") == "1"
local pool, npool, ipool
local nthreads = 0

function setup(thread)
    nthreads = nthreads + 1
    thread:set("tid", nthreads)
end

function init(args)
    if not vary then
        return
    end
    -- a pool of ready-made requests: request() then costs one table lookup
    math.randomseed(os.time() * 16 + (tid or 0))
    pool, npool, ipool = {}, 4096, 0
    -- objects roughly Zipf-like over 10k items, uids over 100k users
    local function fill(t)
        t = t:gsub("@OBJ@", function()
            return tostring(math.floor(10000 ^ math.random()))
        end)
        return (t:gsub("@UID@", function()
            return tostring(math.random(100000))
        end))
    end
    for i = 1, npool do
        if wrk.body then
            pool[i] = wrk.format(nil, nil, nil, fill(wrk.body))
        else
            pool[i] = wrk.format(nil, fill(wrk.path))
        end
    end
end

if vary then
    function request()
        ipool = ipool % npool + 1
        return pool[ipool]
    end
end

local rate = tonumber(os.getenv("BENCH_RATE") or "")

if rate and rate > 0 then
    local ffi = require("ffi")
    ffi.cdef [[
        typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
        int clock_gettime(int clk, bench_timespec_t *tp);
    ]]
    local ts = ffi.new("bench_timespec_t")
    local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local step = 1000 * threads / rate      -- ms between two requests
    local slot

    local function now_ms()
        ffi.C.clock_gettime(1, ts)          -- CLOCK_MONOTONIC
        return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end

    -- each request takes the next slot of the thread's schedule; a thread
    -- that fell behind catches up at most 50 ms worth of requests at once
    function delay()
        local now = now_ms()
        if slot == nil or slot < now - 50 then
            slot = now
        end
        local d = slot - now
        slot = slot + step
        if d < 0 then
            return 0
        end
        return d
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCHRESULT requests=%d duration_us=%d non2xx=%d errors=%d "
        .. "p50=%d p99=%d p999=%d max=%d\n",
        summary.requests, summary.duration, e.status,
        e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99),
        latency:percentile(99.9), latency.max))
end
