#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Ingest benchmark: the module against its ceiling and its peers, in one run,
# same nginx build, same worker count, same wrk settings (bench/wrk.lua).
#
# Paths (BENCH_PATHS, in this order by default):
#   ceiling  nginx empty_gif, access_log off
#   log      nginx empty_gif with a buffered access_log ("log it, parse later")
#   lua      Debian's libnginx-mod-http-lua + lua-nginx-redis, RPUSH per
#            request over the cosocket keepalive pool (bench/peers/lua)
#   node     Node.js cluster (2 workers) + express + node-redis LPUSH per
#            request (bench/peers/node; npm installs it there)
#   pixel    ours, GET /t.gif, durable ack (2xx after Redis acknowledged)
#   beacon   ours, POST /collect with one JSON event, durable ack
#   beacon10 ours, POST /collect with a batch of 10 events, durable ack
#   X-b      (pixel-b, beacon-b, ...) path X with the module build in
#            BENCH_MODULE_SO_B (default: the same build) and the http-level
#            directives in BENCH_TRACK_CONF_B: A/B comparison in one run
#   async    ours, pixel GET in respond-at-once mode (BENCH_ASYNC_CONF, default
#            "track_ack immediate;"); reported absent when this build of
#            the module does not know the directive
#
# All servers run at once on their own loopback ports (idle ones cost
# nothing); runs are interleaved (repeat, connections, path) so that drift
# on the machine hits every path alike.  Every run starts on an empty list
# and counts what reached Redis (or the log file) afterwards.
#
# Usage: bench/ingest.sh OUTDIR
# env: BENCH_DURATION (s per run, 5), BENCH_REPEAT (3), BENCH_CONNS
#      ("16 64 256"), BENCH_THREADS (2), BENCH_WORKERS (2), BENCH_PATHS,
#      BENCH_ASYNC_CONF
# Writes OUTDIR/ingest.tsv (one line per run) and OUTDIR/paths.tsv.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

out=$(mkdir -p "$1" && cd "$1" && pwd)
DURATION=${BENCH_DURATION:-5}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNS:-16 64 256}
PATHS=${BENCH_PATHS:-ceiling log lua node pixel beacon beacon10 async}
WARMUP=${BENCH_WARMUP:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-bench-ingest.XXXXXX")
chmod 755 "$tmp"    # nginx workers (www-data) reopen the access log in it
declare -A port url body key label pid_of kind per_req

cleanup() {
    local p
    set +e
    for p in "${!kind[@]}"; do
        case ${kind[$p]} in
            nginx) bench_nginx_stop "$tmp/$p" ;;
            node) stop_pidfile "$tmp/$p/node.pid" ;;
        esac
    done
    stop_redis "$tmp/redis"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_REDIS_PORT=$(free_port)
start_redis "$tmp/redis" "$BENCH_REDIS_PORT"
redis_pid=$(cat "$tmp/redis/redis.pid")

: >"$out/ingest.tsv"
printf 'path\tlabel\tkind\trss_before_kb\trss_after_kb\tnote\n' >"$out/paths.tsv"

setup_path() {
    local p=$1 dir=$tmp/$1 main='' http='' server=''
    port[$p]=$(free_port)
    key[$p]=bench:$p
    per_req[$p]=1
    url[$p]="http://127.0.0.1:${port[$p]}/t.gif?$PIXEL_QUERY"
    body[$p]=
    kind[$p]=nginx

    case $p in
        ceiling)
            label[$p]='nginx empty_gif, access_log off (ceiling)'
            server='        location = /t.gif { empty_gif; }'
            ;;
        log)
            label[$p]='nginx empty_gif + buffered access_log'
            http="    access_log $dir/logs/access.log combined buffer=64k flush=1s;"
            server='        location = /t.gif { empty_gif; }'
            ;;
        lua)
            label[$p]='lua-resty-redis RPUSH per request (OpenResty peer)'
            main="load_module $BENCH_NGINX_MODULES/ndk_http_module.so;
load_module $BENCH_NGINX_MODULES/ngx_http_lua_module.so;"
            http="    lua_package_path '$here/peers/lua/?.lua;/usr/share/lua/5.1/?.lua;;';"
            server="        location = /t.gif {
            set \$bench_key ${key[$p]};
            set \$bench_redis_port $BENCH_REDIS_PORT;
            content_by_lua_block { require('bench_collect').handle() }
        }"
            ;;
        node)
            label[$p]='Node.js cluster(2) + express + redis LPUSH (seed)'
            kind[$p]=node
            ;;
        pixel|beacon|beacon10|async|pixel-b|beacon-b|beacon10-b|async-b)
            local so=$BENCH_MODULE_SO b='' conf=''
            if [ "${p%-b}" != "$p" ]; then
                so=${BENCH_MODULE_SO_B:-$BENCH_MODULE_SO}
                conf=${BENCH_TRACK_CONF_B:-}
                b=" [B]"
            fi
            main="load_module $so;"
            http="    track_redis 127.0.0.1:$BENCH_REDIS_PORT;
    track_redis_key ${key[$p]};
    $conf"
            local extra=''
            [ "${p%-b}" = async ] && extra=${BENCH_ASYNC_CONF:-track_ack immediate;}
            server="        location = /t.gif { track; $extra }
        location = /collect { track; $extra }
        location = /metrics { track_metrics; }"
            case ${p%-b} in
                pixel) label[$p]='ours: pixel GET, durable ack' ;;
                beacon)
                    label[$p]='ours: beacon POST (1 event), durable ack'
                    url[$p]="http://127.0.0.1:${port[$p]}/collect"
                    body[$p]=$EVENT
                    ;;
                beacon10)
                    label[$p]='ours: beacon POST (10 events), durable ack'
                    url[$p]="http://127.0.0.1:${port[$p]}/collect"
                    body[$p]=$BATCH10
                    per_req[$p]=10
                    ;;
                async)
                    label[$p]="ours: pixel GET, respond-at-once (${BENCH_ASYNC_CONF:-track_ack immediate;})"
                    ;;
            esac
            label[$p]+=$b
            ;;
        *) echo "unknown path $p" >&2; exit 2 ;;
    esac

    if [ "${kind[$p]}" = node ]; then
        mkdir -p "$dir"
        if [ ! -d "$here/peers/node/node_modules/express" ] \
            || [ ! -d "$here/peers/node/node_modules/redis" ]; then
            log "npm: installing the Node peer's packages into bench/peers/node"
            (cd "$here/peers/node" && npm install --no-audit --no-fund \
                --loglevel=error >/dev/null)
        fi
        (cd "$dir" && PORT=${port[$p]} REDIS_PORT=$BENCH_REDIS_PORT \
            BENCH_KEY=${key[$p]} WORKERS=${BENCH_WORKERS:-2} \
            exec node "$here/peers/node/server.js") \
            </dev/null >"$dir/node.log" 2>&1 &
        echo $! >"$dir/node.pid"
        wait_until 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/${port[$p]}" || {
            echo "the Node peer did not start:" >&2; cat "$dir/node.log" >&2
            exit 1
        }
        pid_of[$p]=$(cat "$dir/node.pid")
    else
        bench_nginx_conf "$dir" "${port[$p]}" "$main" "$http" "$server"
        if [ "${p%-b}" = async ] && ! bench_nginx "$dir" -t -q 2>"$dir/conftest"; then
            log "ingest: no respond-at-once mode in this build: $(grep -o 'unknown directive[^ ]* "[^"]*"' "$dir/conftest" || tail -n 1 "$dir/conftest")"
            kind[$p]=absent
            return 0
        fi
        bench_nginx_start "$dir" "${port[$p]}"
        pid_of[$p]=$(cat "$dir/nginx.pid")
    fi

    # a request that must succeed before any load
    local code
    if [ -n "${body[$p]}" ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
            --data-binary "${body[$p]}" "${url[$p]}")
    else
        code=$(curl -s -o /dev/null -w '%{http_code}' "${url[$p]}")
    fi
    case $code in 200|204) ;; *)
        echo "$p: a first request got HTTP $code" >&2
        cat "$dir/logs/error.log" "$dir/node.log" 2>/dev/null | tail -n 20 >&2
        exit 1
    esac
}

# events that reached the store of path p since the last call
stored() {
    local p=$1
    case $p in
        ceiling) echo 0 ;;
        log)
            # USR1 reopens the log, which flushes the workers' buffers
            kill -USR1 "${pid_of[$p]}"
            sleep 0.5
            wc -l <"$tmp/$p/logs/access.log"
            ;;
        *) rcli llen "${key[$p]}" ;;
    esac
}

reset_store() {
    local p=$1
    case $p in
        log) kill -USR1 "${pid_of[$p]}"; sleep 0.3; : >"$tmp/$p/logs/access.log" ;;
        ceiling) ;;
        *) rcli del "${key[$p]}" >/dev/null ;;
    esac
}

one_run() {
    local p=$1 c=$2 secs=$3 rep=$4 res n workers srv0 srv1 rds0 rds1
    reset_store "$p"
    # CPU time of the server's workers and of Redis: cost per request that
    # does not depend on how busy the machine is
    workers=$(pgrep -P "${pid_of[$p]}" | tr '\n' ' ')
    # shellcheck disable=SC2086
    srv0=$(cpu_ticks $workers) rds0=$(cpu_ticks "$redis_pid")
    res=$(run_wrk "${url[$p]}" "$c" "$secs" BENCH_BODY="${body[$p]}")
    sleep 0.3   # replies to requests still in flight when wrk stopped
    # shellcheck disable=SC2086
    srv1=$(cpu_ticks $workers) rds1=$(cpu_ticks "$redis_pid")
    n=$(stored "$p")
    [ "$rep" = warmup ] && return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$c" "$rep" \
        "$(field requests "$res")" "$(field duration_us "$res")" \
        "$(field non2xx "$res")" "$(field errors "$res")" \
        "$(field p50 "$res")" "$(field p99 "$res")" "$(field p999 "$res")" \
        "$n" "${per_req[$p]}" $((srv1 - srv0)) $((rds1 - rds0)) >>"$out/ingest.tsv"
    log "  $p c=$c: $(awk -v n="$(field requests "$res")" -v d="$(field duration_us "$res")" \
        'BEGIN { printf "%.0f req/s", n / d * 1e6 }'), p99 $(field p99 "$res") us, stored $n"
}

live=()
for p in $PATHS; do
    setup_path "$p"
    [ "${kind[$p]}" = absent ] || live+=("$p")
done

declare -A rss_before
for p in "${live[@]}"; do
    rss_before[$p]=$(children_rss_kb "${pid_of[$p]}")
done

max_c=0
for c in $CONNS; do [ "$c" -gt "$max_c" ] && max_c=$c; done

log "ingest: warming up ${live[*]} (${WARMUP}s each at $max_c connections)"
for p in "${live[@]}"; do
    one_run "$p" "$max_c" "$WARMUP" warmup
done

for rep in $(seq 1 "$REPEAT"); do
    for c in $CONNS; do
        log "ingest: run $rep/$REPEAT, $c connections, ${DURATION}s per path"
        for p in "${live[@]}"; do
            one_run "$p" "$c" "$DURATION" "$rep"
        done
    done
done

for p in $PATHS; do
    if [ "${kind[$p]}" = absent ]; then
        printf '%s\t%s\tabsent\t\t\t%s\n' "$p" "${label[$p]}" \
            "this build of the module does not take \"${BENCH_ASYNC_CONF:-track_ack immediate;}\"" \
            >>"$out/paths.tsv"
        continue
    fi
    note=
    case ${p%-b} in pixel|beacon|beacon10|async)
        # how well requests were coalesced: events per RPUSH
        note=$(curl -s "http://127.0.0.1:${port[$p]}/metrics" | awk '
            $1 == "track_events_pushed_total" { e = $2 }
            $1 == "track_redis_pushes_total" { n = $2 }
            END { if (n > 0) printf "%.1f events per RPUSH", e / n }')
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "${label[$p]}" "${kind[$p]}" \
        "${rss_before[$p]}" "$(children_rss_kb "${pid_of[$p]}")" "$note" >>"$out/paths.tsv"
done

# errors the servers logged during the runs (e.g. lost Redis connections)
for p in "${live[@]}"; do
    f=$tmp/$p/logs/error.log
    [ "${kind[$p]}" = node ] && f=$tmp/$p/node.log
    if [ -s "$f" ] && grep -qv '\[notice\]\|\[info\]' "$f"; then
        log "ingest: $p logged:"
        grep -v '\[notice\]\|\[info\]' "$f" | sort | uniq -c | sort -rn | head -n 5 >&2
    fi
done
