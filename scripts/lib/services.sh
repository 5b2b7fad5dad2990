# Start and stop the throwaway services that `make run` and `make test` use.
# Sourced by bash scripts; every service lives under a directory given by the
# caller and listens on loopback only.

# free_port: prints a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, ReuseAddr => 1) or die $!;
        print $s->sockport, "\n";'
}

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds.
wait_until() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# stop_pidfile FILE: TERM the process in FILE, wait for it, KILL if it stays.
stop_pidfile() {
    local f=$1 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_until 10 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

# start_redis DIR PORT [extra redis-server args...]
start_redis() {
    local dir=$1 port=$2; shift 2
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --dir "$dir" "$@"
    wait_until 10 redis-cli -p "$port" ping || {
        echo "redis on port $port did not start; see $dir/redis.log" >&2
        return 1
    }
}

stop_redis() {
    stop_pidfile "$1/redis.pid"
}
