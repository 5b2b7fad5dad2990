#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark of track-stats: queries/s and latency percentiles (wrk) for a
# 30-day series and a top-10 on a day with a million events.
#
# A private mariadbd gets one raw day table of EVENTS events (default 1e6:
# skewed objects, 5 actions, 20% of events without object), aggregated into
# stats_hourly/stats_daily/stats_daily_users by SQL as track-consumer would;
# the 29 days before it get stats_daily rows shaped like that day.  The day
# is today (DAY=YYYY-MM-DD to change), so a 30-day series is "the last 30
# days" of a dashboard: never cacheable as a whole.
# Then track-stats (consumer/build/release, or STATS_BIN) is loaded with wrk on
# loopback, one endpoint at a time.
#
# Usage: bench/stats-bench.sh        (env: EVENTS OBJECTS DURATION CONNS
#                                     THREADS POOL)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib/services.sh
. "$root/scripts/lib/services.sh"

EVENTS=${EVENTS:-1000000}
OBJECTS=${OBJECTS:-50000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
THREADS=${THREADS:-4}
POOL=${POOL:-4}
bin=${STATS_BIN:-$root/consumer/build/release/track-stats}
day=${DAY:-$(date -u +%F)}    # today: the dashboard case, not cacheable

die() { echo "$*" >&2; exit 1; }
[ -x "$bin" ] || die "build track-stats first: make -C consumer stats"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-stats-bench.XXXXXX")
stats_pid=
cleanup() {
    if [ -n "$stats_pid" ]; then
        # shellcheck disable=SC2086
        kill -TERM $stats_pid 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    stop_mariadb "$tmp/db" || true
    rm -rf "$tmp"
}
trap cleanup EXIT

db_port=$(free_port)
# durability does not matter for a scratch load
mkdir -p "$tmp/mysqltmp"
start_mariadb "$tmp/db" "$db_port" --innodb-flush-log-at-trx-commit=0 \
    --innodb-doublewrite=0 --tmpdir="$tmp/mysqltmp" >/dev/null
# shellcheck disable=SC1091
. "$tmp/db/env"
sql() { mariadb_client "$tmp/db" track "$@"; }

table="events_${day//-/}"
echo "== loading $EVENTS events into $table ($OBJECTS objects) ..."
t0=$(date +%s)
sed "s/@TABLE@/$table/g" "$root/sql/events_day.sql" | sql
sql <<SQL
SET time_zone = '+00:00';
-- object: rank r with weight ~ 1/r (Zipf-like), 20 % without object
INSERT INTO \`$table\` (eid, recv_ts, app, module, action, object, uid, ip)
SELECT LPAD(HEX(seq), 32, '0'),
       UNIX_TIMESTAMP('$day') * 1000 + FLOOR(RAND(seq) * 86400000),
       ELT(1 + seq % 2, 'shop', 'news'),
       ELT(1 + (seq DIV 2) % 5, 'home-feed', 'home-feed', 'search', 'cart',
           'home-feed'),
       ELT(1 + (seq DIV 10) % 5, 'click', 'view', 'view', 'add', 'click'),
       IF(seq % 5 = 0, NULL,
          CAST(FLOOR(EXP(RAND(seq * 7) * LN($OBJECTS))) AS CHAR)),
       IF(seq % 7 = 0, NULL, CAST(FLOOR(RAND(seq * 13) * 200000) AS CHAR)),
       '127.0.0.1'
FROM seq_1_to_$EVENTS;

INSERT IGNORE INTO stats_actions (app, module, action)
SELECT DISTINCT app, module, action FROM \`$table\`;

INSERT INTO stats_hourly (day, hour, action_id, object, events)
SELECT DATE '$day', HOUR(FROM_UNIXTIME(e.recv_ts DIV 1000)), a.id,
       COALESCE(e.object, ''), COUNT(*)
FROM \`$table\` e JOIN stats_actions a USING (app, module, action)
GROUP BY 2, a.id, COALESCE(e.object, '');

INSERT INTO stats_daily (day, action_id, object, events)
SELECT DATE '$day', a.id, COALESCE(e.object, ''), COUNT(*)
FROM \`$table\` e JOIN stats_actions a USING (app, module, action)
GROUP BY a.id, COALESCE(e.object, '');

INSERT INTO stats_daily_users (day, app, module, action, users)
SELECT DATE '$day', app, module, action, COUNT(DISTINCT uid)
FROM \`$table\` WHERE uid <> '' GROUP BY app, module, action;

-- the 29 days before: the same shape, counts varied
INSERT INTO stats_daily (day, action_id, object, events)
SELECT d.day - INTERVAL s.seq DAY, d.action_id, d.object,
       GREATEST(1, ROUND(d.events * (0.5 + RAND(s.seq))))
FROM stats_daily d JOIN seq_1_to_29 s WHERE d.day = '$day';

INSERT INTO stats_daily_users (day, app, module, action, users)
SELECT d.day - INTERVAL s.seq DAY, d.app, d.module, d.action, d.users
FROM stats_daily_users d JOIN seq_1_to_29 s WHERE d.day = '$day';

ANALYZE TABLE stats_daily, stats_hourly, stats_daily_users;
SQL
echo "   loaded in $(( $(date +%s) - t0 )) s"
sql -N -e "SELECT CONCAT('   raw events: ', COUNT(*)) FROM \`$table\`;
  SELECT CONCAT('   stats_daily rows on $day: ', COUNT(*),
                ', for shop/home-feed/click: ',
                SUM(app = 'shop' AND module = 'home-feed'
                    AND action = 'click'),
                ' objects, ',
                SUM(IF(app = 'shop' AND module = 'home-feed'
                       AND action = 'click', events, 0)), ' events')
  FROM stats_daily JOIN stats_actions ON id = action_id
  WHERE day = '$day';
  SELECT CONCAT('   stats_daily rows in 30 days: ', COUNT(*))
  FROM stats_daily;"

# two instances: A without the day cache (every query reads the database),
# B with it (closed days of series come from memory)
stats_pids=()
start_stats() {
    local port=$1; shift
    TRACK_STATS_MYSQL_PASSWORD=$MYSQL_READER_PASSWORD \
    "$bin" --listen "127.0.0.1:$port" --mysql-host localhost \
        --mysql-socket "$MYSQL_SOCKET" --mysql-user "$MYSQL_READER_USER" \
        --threads "$THREADS" --mysql-pool "$POOL" --timezone UTC \
        --settle 0 --log-level warn "$@" 2>>"$tmp/stats.log" &
    stats_pids+=($!)
    stats_pid="${stats_pids[*]}"
    wait_until 10 curl -sf "http://127.0.0.1:$port/stats/v1/health"
}
port_a=$(free_port)
start_stats "$port_a" --day-cache 0
port_b=$(free_port)
start_stats "$port_b"

from=$(date -u -d "$day - 29 days" +%F)
a="http://127.0.0.1:$port_a/stats/v1"
b="http://127.0.0.1:$port_b/stats/v1"
top_object=$(curl -s \
    "$a/top?app=shop&module=home-feed&action=click&day=$day&limit=1" \
    | sed -n 's/.*"object":"\([^"]*\)".*/\1/p')
f="app=shop&module=home-feed&action=click"

declare -a names urls
names+=("series 30 days, one object");
urls+=("$a/series?$f&object=$top_object&from=$from&to=$day")
names+=("series 30 days, one action (sums objects)")
urls+=("$a/series?$f&from=$from&to=$day")
names+=("  the same, day cache (B)")
urls+=("$b/series?$f&from=$from&to=$day")
names+=("top 10 on the 1e6-event day")
urls+=("$a/top?$f&day=$day&limit=10")
names+=("top 10 over 30 days")
urls+=("$a/top?$f&from=$from&to=$day&limit=10")
names+=("series 24 hours, one action")
urls+=("$a/series?$f&day=$day&interval=hour")
names+=("users 30 days")
urls+=("$a/users?$f&from=$from&to=$day")
names+=("breakdown of the 1e6-event day")
urls+=("$a/breakdown?app=shop&day=$day")

echo "== wrk: ${DURATION}s per query, $CONNS connections, track-stats" \
     "--threads $THREADS --mysql-pool $POOL, $(nproc) CPUs," \
     "load $(cut -d' ' -f1 /proc/loadavg)"
echo "   (A: --day-cache 0; B: day cache on; $day is today, still open)"
echo "   last column: p50 with a single connection (no queueing)"
printf '%-42s %9s %9s %9s %9s %s\n' query 'req/s' p50 p99 'p50 c=1' errors
for i in "${!urls[@]}"; do
    url=${urls[$i]}
    curl -sf -o /dev/null "$url" || die "query failed: $url"
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "$url")
    one=$(wrk -t1 -c1 -d"$(( (DURATION + 1) / 2 ))s" --timeout 10s \
        --latency "$url")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    p50one=$(awk '$1 == "50%" {print $2}' <<<"$one")
    errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
    printf '%-42s %9s %9s %9s %9s %s\n' "${names[$i]}" "$rps" "$p50" "$p99" \
        "$p50one" "${errs:-0}"
done
