#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The benchmark in one command (`make bench`): ingest against the empty_gif
# ceiling and the peers, queue to MariaDB against LOAD DATA and single
# INSERTs, the end-to-end sustained rate (one Redis, then a Redis Cluster of
# 1-3 shards), what each durability setting costs (bench/durability.sh),
# and the consumer's memory with a large backlog (bench/backlog.sh); then
# one markdown report.
#
# Usage: bench/run.sh [ingest] [drain] [e2e] [scale] [durability] [backlog]
#        (default: all)
#
# Loopback only; about 30 minutes with the defaults.  BENCH_QUICK=1 shrinks
# every part to a smoke run (about 3 minutes).  Each part's settings are
# described in bench/ingest.sh, bench/drain.sh, bench/e2e.sh,
# bench/durability.sh and bench/backlog.sh.
#
# Output: bench/results/<date>/ (raw .tsv files and report.md), with
# bench/results/latest.md a copy of the newest report (bench/README.md's
# "Results" are that report).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cmdline="${BENCH_CMD:-bench/run.sh${*:+ $*}}"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    export BENCH_DURATION=${BENCH_DURATION:-2} BENCH_REPEAT=${BENCH_REPEAT:-1}
    export BENCH_CONNS=${BENCH_CONNS:-64} BENCH_WARMUP=${BENCH_WARMUP:-1}
    export BENCH_EVENTS=${BENCH_EVENTS:-50000} BENCH_SINGLE=${BENCH_SINGLE:-2000}
    export BENCH_EVENTS_PROFILES=${BENCH_EVENTS_PROFILES:-typical}
    export BENCH_CONSUMERS=${BENCH_CONSUMERS:-1}
    export BENCH_E2E_PROBE=${BENCH_E2E_PROBE:-5} BENCH_E2E_PROBES=${BENCH_E2E_PROBES:-3}
    export BENCH_E2E_HOLD=${BENCH_E2E_HOLD:-10} BENCH_BACKLOG=${BENCH_BACKLOG:-300000}
fi
export BENCH_DURATION=${BENCH_DURATION:-4} BENCH_REPEAT=${BENCH_REPEAT:-3}
export BENCH_CONNS=${BENCH_CONNS:-16 64 256} BENCH_THREADS=${BENCH_THREADS:-2}
export BENCH_WORKERS=${BENCH_WORKERS:-2} BENCH_EVENTS=${BENCH_EVENTS:-200000}
export BENCH_E2E_HOLD=${BENCH_E2E_HOLD:-60}
export BENCH_E2E_CONSUMERS=${BENCH_E2E_CONSUMERS:-1}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(ingest drain e2e scale durability backlog)

for t in wrk nginx redis-server mariadbd node npm curl perl; do
    command -v "$t" >/dev/null || {
        echo "bench: $t is missing; run: scripts/deps.sh bench" >&2
        exit 1
    }
done
[ -f "$root/build/nginx/ngx_http_track_module.so" ] || {
    echo "bench: build the module first: make module" >&2; exit 1; }

out=$here/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

version() { "$@" 2>&1 | head -n 1; }
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'mem\t%s\n' "$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
    printf 'os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's|.*nginx/||')"
    printf 'redis\t%s\n' "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
    printf 'mariadb\t%s\n' "$(mariadbd --version | sed 's/.*Ver \([^ ]*\).*/MariaDB \1/')"
    printf 'node\t%s\n' "$(node --version)"
    printf 'wrk\t%s\n' "$(version wrk --version | awk '{ print "wrk " $2 }')"
    printf 'wrk_threads\t%s\n' "$BENCH_THREADS"
    printf 'workers\t%s\n' "$BENCH_WORKERS"
    printf 'duration\t%s\n' "$BENCH_DURATION"
    printf 'repeat\t%s\n' "$BENCH_REPEAT"
    printf 'hold\t%s\n' "$BENCH_E2E_HOLD"
    printf 'headline_conns\t%s\n' "${BENCH_HEADLINE_CONNS:-64}"
    printf 'command\t%s\n' "$cmdline"
    printf 'clk_tck\t%s\n' "$(getconf CLK_TCK)"
    printf 'load_before\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.tsv"

load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench: load average is $load1: other work is running, results will be low and noisy" >&2
fi

start=$(date +%s)
for part in "${parts[@]}"; do
    case $part in
        ingest) "$here/ingest.sh" "$out" ;;
        drain)
            # the consumer engineer's bench when it is there (two event
            # profiles, best of BENCH_ROUNDS), else bench/drain.sh
            if [ -x "$here/consumer-bench.sh" ]; then
                # shellcheck disable=SC2086 # profiles are words
                BENCH_ROUNDS=${BENCH_ROUNDS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 2)} \
                    "$here/consumer-bench.sh" ${BENCH_EVENTS_PROFILES:-} | tee "$out/consumer-bench.txt"
                # its table: profile events consumer/s LOAD-DATA/s INSERT/s ...
                awk -v single="${BENCH_SINGLE:-5000}" '
                    NF >= 6 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9.]+$/ {
                        printf "load_data\t%d\t%.3f\tok\t%s\n", $2, $2 / $4, $1
                        printf "consumer_1\t%d\t%.3f\tok\t%s\n", $2, $2 / $3, $1
                        printf "single\t%d\t%.3f\tok\t%s\n", single, single / $5, $1
                    }' "$out/consumer-bench.txt" >"$out/drain.tsv"
            else
                "$here/drain.sh" "$out"
            fi
            ;;
        e2e)
            # start the search near what the consumer managed alone
            if [ -z "${BENCH_E2E_START:-}" ] && [ -s "$out/drain.tsv" ]; then
                BENCH_E2E_START=$(awk -F'\t' '$1 ~ /^consumer_/ && $3 > 0 {
                        r = $2 / $3; if (r > m) m = r }
                    END { printf "%d", int(m * 0.8 / 1000) * 1000 }' "$out/drain.tsv")
                [ "$BENCH_E2E_START" -ge 1000 ] || BENCH_E2E_START=
                export BENCH_E2E_START
            fi
            # single-event pixels, and 10-event beacons as SDKs send them
            for mode in ${BENCH_E2E_MODES:-pixel beacon10}; do
                BENCH_E2E_MODE=$mode "$here/e2e.sh" "$out/e2e-$mode"
            done
            ;;
        scale)
            # end to end on a Redis Cluster of 1, 2, 3 masters with as many
            # shard lists and consumers (ops/scaling.md)
            for n in ${BENCH_SCALE_SHARDS:-1 2 3}; do
                BENCH_E2E_SHARDS=$n BENCH_E2E_FRESHNESS=0 \
                BENCH_E2E_MODE=${BENCH_SCALE_MODE:-beacon10} \
                    "$here/e2e.sh" "$out/scale-$n"
            done
            ;;
        durability)
            # one line per setting of the Delivery table, as ratios
            "$here/durability.sh" "$out" | tee "$out/durability.md"
            ;;
        backlog)
            # the consumer's memory with a backlog of millions
            "$here/backlog.sh" "$out" ;;
        *) echo "bench: unknown part $part (ingest, drain, e2e, scale, durability, backlog)" >&2
           exit 2 ;;
    esac
done
printf 'load_after\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/meta.tsv"

"$here/report.pl" "$out" >"$out/report.md"
if [ -s "$out/durability.md" ]; then
    printf '\n### What each durability setting costs\n\n' >>"$out/report.md"
    cat "$out/durability.md" >>"$out/report.md"
fi
if [ -s "$out/backlog.md" ]; then
    printf '\n### The consumer'"'"'s memory with a large backlog\n\n' >>"$out/report.md"
    cat "$out/backlog.md" >>"$out/report.md"
fi
cp "$out/report.md" "$here/results/latest.md"
echo
cat "$out/report.md"
echo
echo "bench: $(( $(date +%s) - start )) s; report in ${out#"$root"/}/report.md and bench/results/latest.md"
