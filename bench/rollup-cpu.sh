#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The statistics roll-up's cost, compared between track-consumer builds on
# a shared machine: CPU seconds of the consumer (its lanes included) and
# of mariadbd around a `--drain` of the same events, the builds alternated
# round by round, and where the roll-up passes spent their time (the
# roll-up's debug line; builds without it show "-").
#
#   bench/rollup-cpu.sh LABEL=BINARY [LABEL=BINARY ...]
#
# env: BENCH_EVENTS (200000), BENCH_ROUNDS (3), BENCH_PROFILES ("typical
#      wide", bench/consumer-gen.pl), BENCH_CONF (extra config lines, ';'
#      between them, e.g. "rollup_ms = 100").
# Prints one line per drain: profile, label, consumer and mariadbd CPU-s,
# seconds, passes, rows per pass, and the passes' milliseconds summed per
# phase (read, rank, memberships, counters, commit).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

EVENTS=${BENCH_EVENTS:-200000}
ROUNDS=${BENCH_ROUNDS:-3}
PROFILES=${BENCH_PROFILES:-typical wide}
[ $# -gt 0 ] || { echo "usage: $0 LABEL=BINARY..." >&2; exit 2; }

bench_queue_and_db_scratch rollup-cpu
IFS=';' read -r -a extra <<<"${BENCH_CONF:-}"
bench_consumer_conf "$tmp/consumer.conf" "$BENCH_REDIS_PORT" "id = bench" \
    "drain = yes" "log_level = debug" "${extra[@]}"
dbpid=$(cat "$tmp/db/mariadbd.pid")
hz=$(getconf CLK_TCK)
TIMEFORMAT='%3U %3S'


echo "load $(cut -d' ' -f1-3 /proc/loadavg); ${BENCH_CONF:-default settings}"
printf '%-8s %-10s %7s %7s %6s %6s %6s %6s %6s %6s %6s %6s\n' profile build \
    cons-s db-s wall-s passes rows/p read rank member count commit

for profile in $PROFILES; do
    "$here/consumer-gen.pl" "$EVENTS" "$tmp/ev" 1 "$profile"
    for _ in $(seq 1 "$ROUNDS"); do
        for build in "$@"; do
            label=${build%%=*} bin=${build#*=}
            bench_db_reset "$tmp/db"
            rcli FLUSHALL >/dev/null
            redis-cli -p "$BENCH_REDIS_PORT" --pipe <"$tmp/ev.resp" >/dev/null
            : >"$tmp/consumer.log"

            db0=$(cpu_ticks "$dbpid")
            t0=$(now)
            # bash's time: user + system of the consumer and its lanes
            { time "$bin" --config "$tmp/consumer.conf" \
                  2>"$tmp/consumer.log"; } 2>"$tmp/cpu"
            t1=$(now)
            db1=$(cpu_ticks "$dbpid")

            daily=$(sql -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_daily')
            [ "$daily" = "$EVENTS" ] || {
                echo "$label counted $daily of $EVENTS events" >&2; exit 1; }
            users=$(sql -N -e 'SELECT (SELECT COALESCE(SUM(users), 0)
                FROM stats_daily_users) - (SELECT COUNT(*) FROM stats_user_seen)')
            [ "$users" = 0 ] || {
                echo "$label: daily users and memberships differ by $users" >&2
                exit 1; }

            awk -v p="$profile" -v l="$label" -v c="$(awk '{ print $1 + $2 }' "$tmp/cpu")" \
                -v d="$(( db1 - db0 ))" -v hz="$hz" \
                -v w="$(seconds_between "$t0" "$t1")" '
                /roll-up: .* rows counted/ {
                    match($0, /[0-9]+ rows counted/)
                    rows += substr($0, RSTART, RLENGTH) + 0; n++
                    if (match($0, /read [0-9]+, rank [0-9]+, memberships [0-9]+, counters [0-9]+, commit [0-9]+/)) {
                        split(substr($0, RSTART, RLENGTH), f, /[^0-9]+/)
                        for (k = 1; k <= 5; k++) ms[k] += f[k + 1]; timed = 1
                    }
                }
                END {
                    printf "%-8s %-10s %7.2f %7.2f %6.1f %6d %6.0f", p, l,
                           c, d / hz, w, n, n ? rows / n : 0
                    for (k = 1; k <= 5; k++)
                        printf timed ? " %6d" : " %6s", timed ? ms[k] : "-"
                    printf "\n"
                }' "$tmp/consumer.log"
        done
    done
done
