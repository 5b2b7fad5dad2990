#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Instructions per request of one nginx worker, counted by callgrind: the
# module's pixel (and beacon) path against empty_gif.  Instruction counts do
# not depend on the machine's load, so this compares paths on a busy machine
# where req/s cannot.
#
# Each path runs nginx in one process (master_process off) under
# valgrind --tool=callgrind, twice: with N and with 2N keep-alive requests
# from ab (C connections); instructions/request = (Ir(2N) - Ir(N)) / N, so
# start-up, configuration and exit cancel out.  The module pushes to a real
# Redis, so the batches' write path is in the count.  With one connection
# (the default) every request is one RPUSH and the count repeats to a few
# instructions; with more, how requests coalesce depends on timing, so the
# pushes per request are printed too.  User space only: the kernel's share
# (syscalls, wake-ups) is not in it.
#
# Usage: bench/callgrind.sh [OUTDIR]    (default: a temporary directory)
# env: CG_PATHS ("ceiling pixel beacon10"), CG_REQUESTS (N, 1000),
#      CG_CONNS (C, 1), BENCH_MODULE_SO
# Prints one line per path: instructions/request, the ratio to the
# ceiling, RPUSHes per request; keeps the callgrind files (for
# callgrind_annotate) in OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

PATHS=${CG_PATHS:-ceiling pixel beacon10}
N=${CG_REQUESTS:-1000}
C=${CG_CONNS:-1}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-bench-cg.XXXXXX")
out=${1:-$tmp/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)

cleanup() {
    set +e
    [ -f "$tmp/nginx/nginx.pid" ] && stop_pidfile "$tmp/nginx/nginx.pid"
    stop_redis "$tmp/redis"
    [ "$out" = "$tmp/out" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(free_port)
start_redis "$tmp/redis" "$redis_port"

# RPUSH commands Redis has run
rpushes() {
    redis-cli -p "$redis_port" info commandstats \
        | sed -n 's/^cmdstat_rpush:calls=\([0-9]*\).*/\1/p' | grep . || echo 0
}

# run PATH REQUESTS: nginx under callgrind for REQUESTS requests; prints
# the total instruction count of the run
run() {
    local p=$1 n=$2 dir=$tmp/nginx port main http server file
    port=$(free_port)
    main='master_process off;'
    http=''
    case $p in
        ceiling) server='        location = /t.gif { empty_gif; }' ;;
        *)
            main+="
load_module $BENCH_MODULE_SO;"
            http="    track_redis 127.0.0.1:$redis_port;
    track_redis_key bench:cg;"
            server='        location = /t.gif { track; }
        location = /collect { track; }'
            ;;
    esac
    rm -rf "$dir"
    BENCH_WORKERS=1 bench_nginx_conf "$dir" "$port" "$main" "$http" "$server"
    file=$out/callgrind.$p.$n
    valgrind --tool=callgrind --callgrind-out-file="$file" \
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        -g 'daemon off;' >"$dir.valgrind.log" 2>&1 &
    wait_until 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || {
        echo "nginx under valgrind did not start" >&2
        cat "$dir.valgrind.log" "$dir/logs/error.log" >&2
        exit 1
    }
    case $p in
        beacon10)
            printf '%s' "$BATCH10" >"$tmp/body"
            ab -q -k -c "$C" -n "$n" -p "$tmp/body" -T text/plain \
                "http://127.0.0.1:$port/collect" >"$dir.ab" ;;
        *)
            ab -q -k -c "$C" -n "$n" \
                "http://127.0.0.1:$port/t.gif?$PIXEL_QUERY" >"$dir.ab" ;;
    esac
    if ! grep -q '^Non-2xx responses' "$dir.ab" \
        && grep -q "^Complete requests: *$n\$" "$dir.ab"; then
        :
    else
        echo "$p: not every request got a 2xx:" >&2
        cat "$dir.ab" >&2
        exit 1
    fi
    kill -QUIT "$(cat "$dir/nginx.pid")"
    wait
    sed -n 's/^totals: \([0-9]*\).*/\1/p' "$file"
}

base=
for p in $PATHS; do
    r0=$(rpushes)
    a=$(run "$p" "$N")
    b=$(run "$p" $((2 * N)))
    pushes=$(( $(rpushes) - r0 ))
    per=$(( (b - a) / N ))
    [ "$p" = ceiling ] && base=$per
    awk -v p="$p" -v per="$per" -v base="${base:-0}" -v pushes="$pushes" \
        -v n=$((3 * N)) 'BEGIN {
            printf "%-10s %8d instructions/request", p, per
            if (base > 0) printf "  %.2fx ceiling", per / base
            printf "  %.2f RPUSH/request\n", pushes / n
        }'
done
