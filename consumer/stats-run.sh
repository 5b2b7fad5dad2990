#!/usr/bin/env bash
# Starts or stops track-stats for `make run` (scripts/run.sh), so that run.sh
# needs one line for each and the nginx location below.
#
#   consumer/stats-run.sh start DIR MARIADB_DIR PORT [TIMEZONE]
#       track-stats on 127.0.0.1:PORT as the read-only user of the mariadbd
#       started by start_mariadb MARIADB_DIR (its env file); pid, log and
#       token-less config under DIR.  Does nothing if it already runs.
#   consumer/stats-run.sh stop DIR
#
# nginx, in the server block next to the report locations:
#   location /stats/ { proxy_pass http://127.0.0.1:PORT; }
# and run/env: STATS_URL=$NGINX_URL/stats/v1
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/lib/services.sh
. "$root/scripts/lib/services.sh"

bin=${STATS_BIN:-$root/consumer/build/stats/track-stats}

start() {
    local dir=$1 mariadb_dir=$2 port=$3 tz=${4:-${TZ:-}}
    local pid_file=$dir/track-stats.pid
    mkdir -p "$dir"
    if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "track-stats already running on port $port"
        return 0
    fi
    [ -x "$bin" ] || {
        echo "missing $bin (make -C consumer stats)" >&2
        return 1
    }
    (
        # shellcheck disable=SC1091
        . "$mariadb_dir/env"
        export TRACK_STATS_MYSQL_PASSWORD=$MYSQL_READER_PASSWORD
        setsid "$bin" --listen "127.0.0.1:$port" \
            --mysql-host localhost --mysql-socket "$MYSQL_SOCKET" \
            --mysql-user "$MYSQL_READER_USER" \
            ${tz:+--timezone "$tz"} \
            --pid-file "$pid_file" --log-file "$dir/track-stats.log" \
            </dev/null >>"$dir/track-stats.log" 2>&1 &
    )
    wait_until 10 curl -sf "http://127.0.0.1:$port/stats/v1/health" || {
        echo "track-stats did not start; see $dir/track-stats.log" >&2
        return 1
    }
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop_pidfile "$2/track-stats.pid" ;;
    *) echo "usage: $0 start DIR MARIADB_DIR PORT [TIMEZONE] | stop DIR" >&2
       exit 2 ;;
esac
