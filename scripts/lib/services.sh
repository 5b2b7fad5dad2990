# SPDX-License-Identifier: BSD-2-Clause
# Start and stop the throwaway services that `make run` and `make test` use.
# Sourced by bash scripts; every service lives under a directory given by the
# caller and listens on loopback only.

# free_port: prints a TCP port on 127.0.0.1 that nobody listens on now,
# below the kernel's ephemeral range (32768 and up): a port handed out there
# can be taken by any outgoing connection (a Galera node's, an rsync's)
# before the server it was chosen for binds it.
free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 500) {
            my $p = 10000 + int(rand(22000));
            IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                  LocalPort => $p, ReuseAddr => 1) or next;
            print "$p\n";
            exit 0;
        }
        die "free_port: no free port below 32000\n";'
}

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() {
    perl -MIO::Socket::INET -e '
        IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                              LocalPort => $ARGV[0], ReuseAddr => 1)
            or exit 1' "$1"
}

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds.
wait_until() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# pid_alive PID: the process runs.  A zombie does not: it has exited and
# let go of its ports and files, and only waits for its parent; a daemon's
# parent is init, and an init that reaps late (a container's, a VM's
# agent) would add a second or more to every stop that waited on kill -0.
pid_alive() {
    local key val
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    while read -r key val _; do
        [ "$key" = State: ] && { [ "$val" != Z ]; return; }
    done 2>/dev/null <"/proc/$1/status"
    return 1
}

pid_exited() {
    ! pid_alive "$1"
}

# stop_pidfile FILE [SECONDS]: TERM the process in FILE, wait for it (10 s
# unless told), KILL if it stays.
stop_pidfile() {
    local f=$1 secs=${2:-10} pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null) || return 0
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_until "$secs" pid_exited "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

# The Redis settings ngx_http_track_module/README.md's *Delivery* section
# asks of production, used by `make run` and by the tests that kill Redis
# and expect its data back: every acknowledged write in the append-only
# file (written before the reply, fsynced every second), and a memory limit
# that refuses writes rather than evicting keys (an evicting Redis would
# drop the queue; refused pushes go to nginx's spool).
REDIS_DURABLE_ARGS=(--appendonly yes --appendfsync everysec
                    --maxmemory-policy noeviction)
REDIS_MAXMEMORY=${REDIS_MAXMEMORY:-256mb}

# start_redis DIR PORT [--durable] [extra redis-server args...]
# Without --durable: nothing persisted (fast, for tests that need nothing
# back after a restart).  --durable: REDIS_DURABLE_ARGS and maxmemory
# REDIS_MAXMEMORY; the data of an earlier run in DIR is loaded.
start_redis() {
    local dir=$1 port=$2 mode=(--save '' --appendonly no); shift 2
    if [ "${1:-}" = --durable ]; then
        shift
        mode=(--save '' "${REDIS_DURABLE_ARGS[@]}" --maxmemory "$REDIS_MAXMEMORY")
    fi
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 "${mode[@]}" \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --dir "$dir" "$@"
    wait_until 10 redis-cli -p "$port" ping || {
        echo "redis on port $port did not start; see $dir/redis.log" >&2
        return 1
    }
}

# stop_redis DIR: SIGTERM, which Redis takes as SHUTDOWN: with an append-only
# file it writes and fsyncs what it holds before it exits; it is given a
# minute for that rather than the usual 10 s before a KILL.
stop_redis() {
    stop_pidfile "$1/redis.pid" 60
}

# mariadb_client DIR [args...]: the mariadb command-line client as the admin
# account of the server started by start_mariadb DIR.
mariadb_client() {
    local dir=$1; shift
    mariadb --defaults-file="$dir/root.cnf" "$@"
}

# start_mariadb DIR PORT [extra mariadbd options...]
# A private mariadbd (no systemd) with its datadir and tmpdir under DIR,
# listening on 127.0.0.1:PORT and on the socket DIR/mysqld.sock.  The first
# start creates the datadir, the database `track`, the users track_writer
# (the consumer: reads and writes, creates and drops day tables) and
# track_reader (SELECT only, for the stats API) with generated passwords,
# gives root a password (DIR/root.cnf holds client options for it) and
# applies sql/schema.sql.
# Every start rewrites DIR/env with MYSQL_SOCKET=, MYSQL_PORT=,
# MYSQL_DATABASE=, MYSQL_USER=, MYSQL_PASSWORD=, MYSQL_READER_USER=,
# MYSQL_READER_PASSWORD=.  Safe to call again on an existing DIR.
start_mariadb() {
    local dir=$1 port=$2; shift 2
    local root sql_dir new=0 wpw rpw apw
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    sql_dir=$root/sql
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ ! -d "$dir/data/mysql" ]; then
        rm -rf "$dir/data"
        mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$dir/install.log" 2>&1 || {
            echo "mariadb-install-db failed; see $dir/install.log" >&2
            return 1
        }
        new=1
    fi
    # temporary tables in the server's own directory, not a /tmp shared
    # with every other server and cleaner (a DISTINCT once failed there)
    mkdir -p "$dir/tmp"
    cat >"$dir/my.cnf" <<CNF
[mariadbd]
datadir=$dir/data
tmpdir=$dir/tmp
socket=$dir/mysqld.sock
port=$port
bind-address=127.0.0.1
user=root
pid-file=$dir/mariadbd.pid
log-error=$dir/mariadbd.log
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max_allowed_packet=64M
innodb_buffer_pool_size=256M
innodb_log_file_size=256M
CNF
    (setsid mariadbd --defaults-file="$dir/my.cnf" "$@" \
        </dev/null >>"$dir/mariadbd.log" 2>&1 &)
    # ping answers even when the login is refused: it only says "alive".
    # With root's password (every start after the first) it logs in, so
    # that mariadbd's log is not filled with refused logins.
    local login=(--no-defaults --user=root)
    [ -f "$dir/root.cnf" ] && login=(--defaults-file="$dir/root.cnf")
    wait_until 60 mariadb-admin "${login[@]}" --socket="$dir/mysqld.sock" \
        --connect-timeout=1 ping || {
        echo "mariadbd did not start; see $dir/mariadbd.log" >&2
        return 1
    }
    if [ "$new" = 1 ]; then
        apw=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
        wpw=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
        rpw=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
        mariadb --no-defaults --socket="$dir/mysqld.sock" --user=root <<SQL || return 1
CREATE DATABASE IF NOT EXISTS track CHARACTER SET utf8mb4;
CREATE USER 'track_writer'@'localhost' IDENTIFIED BY '$wpw';
CREATE USER 'track_writer'@'127.0.0.1' IDENTIFIED BY '$wpw';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER
    ON track.* TO 'track_writer'@'localhost', 'track_writer'@'127.0.0.1';
CREATE USER 'track_reader'@'localhost' IDENTIFIED BY '$rpw';
CREATE USER 'track_reader'@'127.0.0.1' IDENTIFIED BY '$rpw';
GRANT SELECT ON track.* TO 'track_reader'@'localhost', 'track_reader'@'127.0.0.1';
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$apw';
SQL
        printf '[client]\nuser=root\npassword=%s\nsocket=%s\n' \
            "$apw" "$dir/mysqld.sock" >"$dir/root.cnf"
        printf 'MYSQL_USER=track_writer\nMYSQL_PASSWORD=%s\n' "$wpw" \
            >"$dir/writer"
        printf 'MYSQL_READER_USER=track_reader\nMYSQL_READER_PASSWORD=%s\n' \
            "$rpw" >"$dir/reader"
        chmod 600 "$dir/root.cnf" "$dir/writer" "$dir/reader"
    fi
    if [ -f "$sql_dir/schema.sql" ]; then
        mariadb_client "$dir" track <"$sql_dir/schema.sql" || return 1
    fi
    {
        echo "MYSQL_SOCKET=$dir/mysqld.sock"
        echo "MYSQL_PORT=$port"
        echo "MYSQL_DATABASE=track"
        cat "$dir/writer" "$dir/reader"
    } >"$dir/env"
}

stop_mariadb() {
    stop_pidfile "$1/mariadbd.pid"
}

# start_consumer DIR BINARY CONFIG: track-consumer in the background, its pid
# in DIR/consumer.pid, its log in DIR/consumer.log (reopened on SIGHUP).
# Waits until it has connected to MariaDB and Redis.
start_consumer() {
    local dir=$1 bin=$2 conf=$3 size
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    touch "$dir/consumer.log"
    size=$(stat -c %s "$dir/consumer.log")
    (setsid "$bin" --config "$conf" --log-file "$dir/consumer.log" \
        </dev/null >>"$dir/consumer.log" 2>&1 &
     echo $! >"$dir/consumer.pid")
    wait_until 30 bash -c "tail -c +$((size + 1)) '$dir/consumer.log' |
                           grep -q 'redis: connected'" || {
        echo "track-consumer did not start; see $dir/consumer.log" >&2
        return 1
    }
}

# stop_consumer DIR: SIGTERM (it finishes the batch in hand), then waits
# (KILL after 30 s: safe too, the batch is finished at the next start).
stop_consumer() {
    stop_pidfile "$1/consumer.pid" 30
}

# start_stats DIR BINARY MARIADB_DIR PORT [TIMEZONE]: track-stats in the
# background on 127.0.0.1:PORT as the read-only user of the mariadbd started
# by start_mariadb MARIADB_DIR (its env file); pid and log under DIR.  Waits
# until its health endpoint answers.  nginx passes /stats/ to it:
#   location /stats/ { proxy_pass http://127.0.0.1:PORT; }
start_stats() {
    local dir=$1 bin=$2 mariadb_dir=$3 port=$4 tz=${5:-${TZ:-}}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -x "$bin" ] || {
        echo "missing $bin (make -C consumer)" >&2
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
            --pid-file "$dir/track-stats.pid" --log-file "$dir/track-stats.log" \
            </dev/null >>"$dir/track-stats.log" 2>&1 &
    )
    wait_until 10 curl -sf "http://127.0.0.1:$port/stats/v1/health" || {
        echo "track-stats did not start; see $dir/track-stats.log" >&2
        return 1
    }
}

# stop_stats DIR: SIGTERM (it finishes the requests in hand), then waits.
stop_stats() {
    stop_pidfile "$1/track-stats.pid"
}
