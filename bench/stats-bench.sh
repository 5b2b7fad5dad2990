#!/usr/bin/env bash
# Benchmark of track-stats: queries/s and latency percentiles (wrk) for a
# 30-day series and a top-10 on a day with a million events.
#
# A private mariadbd gets one raw day table of EVENTS events (default 1e6:
# skewed objects, 5 actions, 20% of events without object), aggregated into
# stats_hourly/stats_daily/stats_daily_users by SQL as track-consumer would;
# the 29 days before it get stats_daily rows shaped like that day.
# Then track-stats (the build in consumer/build, or STATS_BIN) is loaded with
# wrk on loopback, one endpoint at a time.
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
bin=${STATS_BIN:-$root/consumer/build/stats/track-stats}
day=${DAY:-2024-06-30}

[ -x "$bin" ] || { echo "build track-stats first: make -C consumer stats" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-stats-bench.XXXXXX")
stats_pid=
cleanup() {
    [ -n "$stats_pid" ] && kill -TERM "$stats_pid" 2>/dev/null && wait "$stats_pid" 2>/dev/null
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

INSERT INTO stats_hourly (day, hour, app, module, action, object, events)
SELECT DATE '$day', HOUR(FROM_UNIXTIME(recv_ts DIV 1000)), app, module,
       action, COALESCE(object, ''), COUNT(*)
FROM \`$table\` GROUP BY 2, app, module, action, COALESCE(object, '');

INSERT INTO stats_daily (day, app, module, action, object, events)
SELECT DATE '$day', app, module, action, COALESCE(object, ''), COUNT(*)
FROM \`$table\` GROUP BY app, module, action, COALESCE(object, '');

INSERT INTO stats_daily_users (day, app, module, action, users)
SELECT DATE '$day', app, module, action, COUNT(DISTINCT uid)
FROM \`$table\` WHERE uid <> '' GROUP BY app, module, action;

-- the 29 days before: the same shape, counts varied
INSERT INTO stats_daily (day, app, module, action, object, events)
SELECT d.day - INTERVAL s.seq DAY, d.app, d.module, d.action, d.object,
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
                SUM(app = 'shop' AND module = 'home-feed' AND action = 'click'),
                ' objects, ',
                SUM(IF(app = 'shop' AND module = 'home-feed'
                       AND action = 'click', events, 0)), ' events')
  FROM stats_daily WHERE day = '$day';
  SELECT CONCAT('   stats_daily rows in 30 days: ', COUNT(*)) FROM stats_daily;"

port=$(free_port)
TRACK_STATS_MYSQL_PASSWORD=$MYSQL_READER_PASSWORD \
"$bin" --listen "127.0.0.1:$port" --mysql-host localhost \
    --mysql-socket "$MYSQL_SOCKET" --mysql-user "$MYSQL_READER_USER" \
    --threads "$THREADS" --mysql-pool "$POOL" --timezone UTC \
    --log-level warn 2>"$tmp/stats.log" &
stats_pid=$!
wait_until 10 curl -sf "http://127.0.0.1:$port/stats/v1/health"

from=$(date -u -d "$day - 29 days" +%F)
base="http://127.0.0.1:$port/stats/v1"
top_object=$(curl -s "$base/top?app=shop&module=home-feed&action=click&day=$day&limit=1" \
    | sed -n 's/.*"object":"\([^"]*\)".*/\1/p')

declare -a names urls
names+=("series, 30 days, one object");
urls+=("$base/series?app=shop&module=home-feed&action=click&object=$top_object&from=$from&to=$day")
names+=("series, 30 days, one action (all objects)")
urls+=("$base/series?app=shop&module=home-feed&action=click&from=$from&to=$day")
names+=("top 10 on the 1e6-event day")
urls+=("$base/top?app=shop&module=home-feed&action=click&day=$day&limit=10")
names+=("top 10 over 30 days")
urls+=("$base/top?app=shop&module=home-feed&action=click&from=$from&to=$day&limit=10")
names+=("series, 24 hours, one action")
urls+=("$base/series?app=shop&module=home-feed&action=click&day=$day&interval=hour")
names+=("users, 30 days")
urls+=("$base/users?app=shop&module=home-feed&action=click&from=$from&to=$day")
names+=("breakdown of the day")
urls+=("$base/breakdown?app=shop&day=$day")

echo "== wrk: ${DURATION}s per query, $CONNS connections, track-stats" \
     "--threads $THREADS --mysql-pool $POOL, $(nproc) CPUs"
printf '%-44s %10s %9s %9s %9s\n' query 'req/s' p50 p99 errors
for i in "${!urls[@]}"; do
    curl -sf -o /dev/null "${urls[$i]}" || { echo "query failed: ${urls[$i]}" >&2; exit 1; }
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "${urls[$i]}")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
    printf '%-44s %10s %9s %9s %9s\n' "${names[$i]}" "$rps" "$p50" "$p99" "${errs:-0}"
done
