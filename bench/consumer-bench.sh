#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# track-consumer benchmark (not a test): events/s drained from a pre-filled
# Redis queue into MariaDB with statistics, against LOAD DATA of the same
# rows (raw rows only) and against one autocommitted INSERT per event, on
# one private redis-server + mariadbd, printed as ratios.
#
#   bench/consumer-bench.sh [typical|wide ...]
#
# env: BENCH_EVENTS (200000), BENCH_SINGLE (5000 events for the one-INSERT
#      run), BENCH_ROUNDS (3: the best of each is kept, the machine may be
#      shared), BENCH_ARGS (extra track-consumer flags), CONSUMER_BIN.
# Profiles (bench/consumer-gen.pl): typical (Zipf objects and users) and
# wide (nearly every event a new counter row and a new user row).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
root=$bench_root

EVENTS=${BENCH_EVENTS:-200000}
SINGLE=${BENCH_SINGLE:-5000}
ROUNDS=${BENCH_ROUNDS:-3}
bin=$(bench_consumer_bin)
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(typical wide)

bench_queue_and_db_scratch consumer-bench
rport=$BENCH_REDIS_PORT
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
day_table() { sed "s/@TABLE@/$1/g" "$root/sql/events_day.sql" | sql; }

bench_consumer_conf "$tmp/consumer.conf" "$rport" "id = bench" "drain = yes"

reset() {
    bench_db_reset "$tmp/db"
    redis-cli -p "$rport" FLUSHALL >/dev/null
}

echo "mariadb: $(sql -N -e 'SELECT VERSION()'), innodb_flush_log_at_trx_commit=$(sql -N -e 'SELECT @@innodb_flush_log_at_trx_commit'); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %9s %10s %11s %11s %9s %9s %8s %9s\n' profile events \
    'consumer/s' 'LOAD DATA/s' 'INSERT/s' 'xLOAD' 'xINSERT' rows/ev \
    users/ev

for profile in "${profiles[@]}"; do
    "$root/bench/consumer-gen.pl" "$EVENTS" "$tmp/ev" "$SINGLE" "$profile"
    t_load= t_cons=

    for _ in $(seq 1 "$ROUNDS"); do
        # LOAD DATA of the same rows into an empty day table, one statement
        sql -e 'DROP TABLE IF EXISTS events_load'
        day_table events_load
        t0=$(now)
        sql --local-infile=1 -e "LOAD DATA LOCAL INFILE '$tmp/ev.tsv'
            INTO TABLE events_load (eid, recv_ts, app, module, action,
            object, uid, ts, ip, ua, referer, props, fields)"
        t1=$(now)
        t_load=$(best "$t_load" "$(seconds_between "$t0" "$t1")")
        sql -e 'DROP TABLE events_load'

        # the consumer drains the pre-filled queue, statistics included
        reset
        redis-cli -p "$rport" --pipe <"$tmp/ev.resp" >/dev/null
        t0=$(now)
        # shellcheck disable=SC2086
        "$bin" --config "$tmp/consumer.conf" ${BENCH_ARGS:-}
        t1=$(now)
        t_cons=$(best "$t_cons" "$(seconds_between "$t0" "$t1")")

        rows=$(bench_stored_rows "$tmp/db")
        daily=$(sql -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_daily')
        if [ "$rows" != "$EVENTS" ] || [ "$daily" != "$EVENTS" ]; then
            echo "consumer stored $rows rows, counted $daily" >&2
            exit 1
        fi
    done
    counters=$(sql -N -e 'SELECT (SELECT COUNT(*) FROM stats_hourly)
                                 + (SELECT COUNT(*) FROM stats_daily)')
    users=$(sql -N -e 'SELECT COUNT(*) FROM stats_user_seen')

    # one autocommitted INSERT per event, on the first SINGLE events
    sql -e 'DROP TABLE IF EXISTS events_single'
    day_table events_single
    t0=$(now)
    sql <"$tmp/ev.sql"
    t1=$(now)
    t_single=$(seconds_between "$t0" "$t1")

    awk -v p="$profile" -v n="$EVENTS" -v s="$SINGLE" -v c="$t_cons" \
        -v l="$t_load" -v i="$t_single" -v k="$counters" -v u="$users" '
        BEGIN {
            rc = n / c; rl = n / l; ri = s / i
            printf "%-8s %9d %10.0f %11.0f %11.0f %8.2fx %8.1fx %8.2f %9.2f\n",
                   p, n, rc, rl, ri, rc / rl, rc / ri, k / n, u / n
        }'
done
echo "(rows/ev: statistics rows, hourly + daily, per event; users/ev:" \
     "user-day memberships per event; best of $ROUNDS rounds)"
