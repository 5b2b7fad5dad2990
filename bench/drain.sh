#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Queue-to-database benchmark: how fast track-consumer moves a pre-filled
# Redis queue into MariaDB (day table + statistics, exactly-once
# bookkeeping), against the two ways to compare it with on the same server:
#
#   load_data   LOAD DATA LOCAL INFILE of the same events into a day table
#               (raw rows only, no statistics: the bulk-load ceiling)
#   consumer    track-consumer --drain yes, BENCH_CONSUMERS processes (each
#               row of "1 2" is one run), default settings otherwise
#   single      one autocommitted INSERT per event (the naive way), on the
#               first BENCH_SINGLE events
#
# Usage: bench/drain.sh OUTDIR
# env: BENCH_EVENTS (300000), BENCH_SINGLE (10000), BENCH_CONSUMERS ("1 2"),
#      BENCH_CONSUMER_ARGS (extra track-consumer flags), CONSUMER_BIN
# Writes OUTDIR/drain.tsv: what, events, seconds, verified ("ok" or why not).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

out=$(bench_out_dir "$1")
EVENTS=${BENCH_EVENTS:-300000}
SINGLE=${BENCH_SINGLE:-10000}
CONSUMERS=${BENCH_CONSUMERS:-1 2}
bin=$(bench_consumer_bin)

bench_queue_and_db_scratch track-bench-drain

log "drain: generating $EVENTS events"
"$here/gen-events.pl" "$EVENTS" "$tmp/ev" "$SINGLE" events_single

: >"$out/drain.tsv"
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$out/drain.tsv"; }

# --- LOAD DATA ------------------------------------------------------------
sed 's/@TABLE@/events_load/g' "$bench_root/sql/events_day.sql" | sql
log "drain: LOAD DATA of $EVENTS events"
t0=$(now)
sql --local-infile=1 -e "LOAD DATA LOCAL INFILE '$tmp/ev.tsv' INTO TABLE events_load
    (eid, recv_ts, app, module, action, object, uid, ts, ip, ua, referer, props, fields)"
t1=$(now)
n=$(sql -N -e 'SELECT COUNT(*) FROM events_load')
record load_data "$EVENTS" "$(seconds_between "$t0" "$t1")" "$([ "$n" = "$EVENTS" ] && echo ok || echo "stored $n")"
sql -e 'DROP TABLE events_load'

# --- track-consumer -------------------------------------------------------
bench_consumer_conf "$tmp/consumer.conf" "$BENCH_REDIS_PORT" "drain = yes"

for k in $CONSUMERS; do
    bench_db_reset "$tmp/db"
    rcli flushall >/dev/null
    redis-cli -p "$BENCH_REDIS_PORT" --pipe <"$tmp/ev.resp" >/dev/null
    q=$(rcli llen track:events)
    [ "$q" = "$EVENTS" ] || { echo "queue holds $q events, not $EVENTS" >&2; exit 1; }
    log "drain: $k consumer(s) draining $EVENTS events"
    pids=()
    t0=$(now)
    for i in $(seq 1 "$k"); do
        # shellcheck disable=SC2086
        "$bin" --config "$tmp/consumer.conf" --id "bench$i" ${BENCH_CONSUMER_ARGS:-} \
            2>>"$tmp/consumer.log" &
        pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    t1=$(now)
    n=$(bench_stored_rows "$tmp/db")
    s=$(sql -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_daily')
    h=$(sql -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_hourly')
    verdict=ok
    [ "$rc" = 0 ] || verdict="exit $rc"
    [ "$n" = "$EVENTS" ] && [ "$s" = "$EVENTS" ] && [ "$h" = "$EVENTS" ] \
        || verdict="rows $n, daily $s, hourly $h"
    record "consumer_$k" "$EVENTS" "$(seconds_between "$t0" "$t1")" "$verdict"
    if [ -s "$tmp/consumer.log" ]; then
        log "drain: the consumer logged:"; tail -n 5 "$tmp/consumer.log" >&2
        : >"$tmp/consumer.log"
    fi
done

# --- one INSERT per event -------------------------------------------------
if [ "$SINGLE" -gt 0 ]; then
    sed 's/@TABLE@/events_single/g' "$bench_root/sql/events_day.sql" | sql
    log "drain: $SINGLE single-row INSERTs"
    t0=$(now)
    sql <"$tmp/ev.sql"
    t1=$(now)
    n=$(sql -N -e 'SELECT COUNT(*) FROM events_single')
    record single "$SINGLE" "$(seconds_between "$t0" "$t1")" "$([ "$n" = "$SINGLE" ] && echo ok || echo "stored $n")"
fi
