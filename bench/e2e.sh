#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end sustained rate: nginx + the module (2 workers), Redis, MariaDB
# and track-consumer all on this machine, wrk offering a fixed rate of
# events (bench/wrk.lua, BENCH_RATE) with varying objects and users.  The
# rate is sustained when wrk gets it through with only 2xx answers and the
# Redis queue stays flat: its least-squares slope stays under 2 % of the
# rate and it grows by less than one second of traffic over the window.
#
# Search: probes of BENCH_E2E_PROBE seconds, upwards by x1.5 from
# BENCH_E2E_START until one fails, then bisection, at most BENCH_E2E_PROBES
# probes; then the best passing rate must hold for BENCH_E2E_HOLD seconds
# (default 60), else once more: at what got through when only wrk fell
# short of the offered rate (the queue flat, every answer 2xx), else 15 %
# less.  At the end every event the module acknowledged must be in MariaDB.
#
# Freshness: during the hold, bench/freshness.pl sends a probe pixel every
# 200 ms and polls track-stats until its series counts it: the distribution
# of accept -> visible in the stats API at the held rate.
#
# Usage: bench/e2e.sh OUTDIR
# env: BENCH_E2E_START (events/s, 40000), BENCH_E2E_PROBE (15),
#      BENCH_E2E_PROBES (5), BENCH_E2E_HOLD (60), BENCH_E2E_MODE (pixel:
#      GET, 1 event per request; beacon10: POST of 10 events),
#      BENCH_E2E_CONSUMERS (1), BENCH_E2E_CONNS (256), BENCH_CONSUMER_ARGS,
#      BENCH_E2E_FRESHNESS (1; 0: no probes, no track-stats),
#      BENCH_E2E_SHARDS (0: one Redis; N: a Redis Cluster of N masters on
#      loopback, N shard lists and N consumers of one lane each, sharing
#      them by lease: the scale-out layout of ops/scaling.md on one box)
# Writes OUTDIR/e2e.tsv: phase, offered events/s, achieved events/s,
# non-2xx, slope (events/s), growth, verdict; OUTDIR/cpu.tsv: phase,
# offered, achieved, then CPU us per achieved event of nginx's workers,
# Redis, the consumer (lanes included), mariadbd, track-stats, the rest of
# the machine (wrk, the probes, the kernel) and the machine in all;
# OUTDIR/e2e-check.tsv; and
# OUTDIR/freshness.tsv: phase, rate, probes, refused, seen, p50, p90, p99,
# max (ms).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

out=$(bench_out_dir "$1")
START=${BENCH_E2E_START:-40000}
PROBE=${BENCH_E2E_PROBE:-15}
PROBES=${BENCH_E2E_PROBES:-5}
HOLD=${BENCH_E2E_HOLD:-60}
MODE=${BENCH_E2E_MODE:-pixel}
NCONS=${BENCH_E2E_CONSUMERS:-1}
FRESH=${BENCH_E2E_FRESHNESS:-1}
CONNS=${BENCH_E2E_CONNS:-256}
SHARDS=${BENCH_E2E_SHARDS:-0}
bin=$(bench_consumer_bin)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-bench-e2e.XXXXXX")
chmod 755 "$tmp"
sampler=
cleanup() {
    set +e
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    for f in "$tmp"/consumer*.pid; do stop_pidfile "$f"; done
    stop_stats "$tmp/stats"
    bench_nginx_stop "$tmp/nginx"
    bench_stop_queue_and_db "$tmp"
    for d in "$tmp"/cluster-*; do [ -d "$d" ] && stop_redis "$d"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_start_queue_and_db "$tmp"

# the queue: the Redis started above, or a cluster of SHARDS masters, each
# with an even share of the slots (CLUSTER ADDSLOTSRANGE: redis-cli
# --cluster create wants three masters at least)
queue="track_redis 127.0.0.1:$BENCH_REDIS_PORT;"
cluster_ports=()
if [ "$SHARDS" -gt 0 ]; then
    for i in $(seq 0 $((SHARDS - 1))); do
        p=$(free_port) bus=$(free_port)
        # announced: a lone node would name itself "" in CLUSTER SLOTS
        start_redis "$tmp/cluster-$i" "$p" --cluster-enabled yes \
            --cluster-port "$bus" --cluster-announce-ip 127.0.0.1 \
            --cluster-config-file "$tmp/cluster-$i/nodes.conf"
        redis-cli -p "$p" cluster addslotsrange $((16384 * i / SHARDS)) \
            $((16384 * (i + 1) / SHARDS - 1)) >/dev/null
        [ "$i" = 0 ] && bus0=$bus ||
            redis-cli -p "$p" cluster meet 127.0.0.1 "${cluster_ports[0]}" \
                "$bus0" >/dev/null
        cluster_ports+=("$p")
    done
    for p in "${cluster_ports[@]}"; do
        wait_until 30 bash -c "redis-cli -p $p cluster info |
                               grep -q cluster_state:ok" ||
            { echo "e2e: the cluster is not ok" >&2; exit 1; }
    done
    queue="track_redis_cluster 127.0.0.1:${cluster_ports[0]};
    track_redis_cluster_shards $SHARDS;"
fi

port=$(free_port)
bench_nginx_conf "$tmp/nginx" "$port" "load_module $BENCH_MODULE_SO;" \
    "    $queue" \
    "        location = /t.gif { track; }
        location = /collect { track; }
        location = /metrics { track_metrics; }"
bench_nginx_start "$tmp/nginx" "$port"

case $MODE in
    pixel)
        per_req=1 body=
        url="http://127.0.0.1:$port/t.gif?app=shop&module=home-feed&action=click&object=@OBJ@&uid=@UID@&p.pos=3"
        ;;
    beacon10)
        per_req=10 body='['
        url="http://127.0.0.1:$port/collect"
        for i in 1 2 3 4 5 6 7 8 9 10; do
            body+="{\"app\":\"shop\",\"module\":\"home-feed\",\"action\":\"a$((i % 4))\",\"object\":@OBJ@,\"uid\":@UID@,\"props\":{\"pos\":$i}}"
            [ "$i" = 10 ] || body+=,
        done
        body+=']'
        ;;
    *) echo "BENCH_E2E_MODE: pixel or beacon10" >&2; exit 2 ;;
esac

bench_consumer_conf "$tmp/consumer.conf" "$BENCH_REDIS_PORT"
if [ "$SHARDS" -gt 0 ]; then
    NCONS=$SHARDS
    seeds=$(printf '127.0.0.1:%s,' "${cluster_ports[@]}")
    bench_consumer_conf "$tmp/consumer.conf" "${cluster_ports[0]}" \
        "redis_cluster = ${seeds%,}" "cluster_shards = $SHARDS" "lanes = 1"
    sed -i '/^redis_port/d' "$tmp/consumer.conf"
fi
for i in $(seq 1 "$NCONS"); do
    # shellcheck disable=SC2086
    "$bin" --config "$tmp/consumer.conf" --id "e2e$i" ${BENCH_CONSUMER_ARGS:-} \
        2>>"$tmp/consumer.log" &
    echo $! >"$tmp/consumer$i.pid"
done

stats_port=
if [ "$FRESH" = 1 ]; then
    stats_port=$(free_port)
    start_stats "$tmp/stats" "$bench_root/consumer/build/release/track-stats" \
        "$tmp/db" "$stats_port" UTC
fi
: >"$out/freshness.tsv"

# the queue's length: the list, or every list on every master
qlen() {
    [ "$SHARDS" -gt 0 ] || { rcli llen track:events; return; }
    local p n=0 l
    for p in "${cluster_ports[@]}"; do
        l=$(redis-cli -p "$p" eval "local n = 0
            for _, k in ipairs(redis.call('keys', 'track:*')) do
                if redis.call('type', k).ok == 'list' then
                    n = n + redis.call('llen', k) end end
            return n" 0)
        n=$((n + l))
    done
    echo "$n"
}

# the pids of one part of the pipeline, for its CPU time over a window
part_pids() {
    local f p
    case $1 in
        nginx) pgrep -P "$(cat "$tmp/nginx/nginx.pid")" ;;
        redis) cat "$tmp"/redis/redis.pid "$tmp"/cluster-*/redis.pid 2>/dev/null ;;
        consumer)
            for f in "$tmp"/consumer*.pid; do
                p=$(cat "$f"); echo "$p"; pgrep -P "$p"
            done ;;
        mariadb) cat "$tmp/db/mariadbd.pid" ;;
        stats) cat "$tmp/stats/track-stats.pid" 2>/dev/null ;;
    esac
}
PARTS=(nginx redis consumer mariadb stats)
# busy ticks of the whole machine (user, nice, system, irq, softirq)
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# part_ticks: one line, the ticks of each of PARTS, then the machine's
part_ticks() {
    local p line=
    # shellcheck disable=SC2046 # pids are words
    for p in "${PARTS[@]}"; do line+="$(cpu_ticks $(part_pids "$p")) "; done
    echo "$line$(machine_ticks)"
}

# events committed and not counted by the roll-up yet
uncounted() {
    mariadb_client "$tmp/db" track -N -e \
        'SELECT COALESCE(SUM(events), 0) FROM stats_pending'
}

# wait_drained SECONDS: the queue empty and the roll-up caught up (a probe
# after a failed one would otherwise pay for its backlog)
wait_drained() {
    local deadline=$(( $(date +%s) + ${1:-60} ))
    while [ "$(qlen)" -gt 2000 ] || [ "$(uncounted)" -gt 50000 ]; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}

: >"$out/e2e.tsv"
: >"$out/cpu.tsv"

# probe PHASE RATE SECONDS: prints pass or fail, appends a line to e2e.tsv
probe() {
    local phase=$1 rate=$2 secs=$3 res reqs dur non2xx errs ach verdict
    wait_drained 180 || log "e2e: the queue or the roll-up did not catch up before this probe"
    ( while :; do
          printf '%s %s\n' "$(date +%s.%N)" "$(qlen)"
          sleep 1
      done ) >"$tmp/samples" &
    sampler=$!
    fresh=
    if [ -n "$stats_port" ] && [ "$phase" = hold ]; then
        # probes over the window but its first and last 3 s
        ( sleep 3; "$here/freshness.pl" "http://127.0.0.1:$port/t.gif" \
              "http://127.0.0.1:$stats_port/stats/v1" $(( secs - 6 )) 200 \
              >"$tmp/freshness" ) &
        fresh=$!
    fi
    read -r -a ticks0 < <(part_ticks)
    res=$(run_wrk "$url" "$CONNS" "$secs" BENCH_VARY=1 BENCH_BODY="$body" \
        BENCH_RATE="$(( rate / per_req ))")
    read -r -a ticks1 < <(part_ticks)
    kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=
    if [ -n "$fresh" ]; then
        wait "$fresh" || true
        f=$(cat "$tmp/freshness")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$rate" \
            "$(field probes "$f")" "$(field refused "$f")" "$(field seen "$f")" \
            "$(field p50_ms "$f")" "$(field p90_ms "$f")" \
            "$(field p99_ms "$f")" "$(field max_ms "$f")" >>"$out/freshness.tsv"
        log "e2e: freshness at $rate events/s: $f"
    fi
    reqs=$(field requests "$res") dur=$(field duration_us "$res")
    non2xx=$(field non2xx "$res") errs=$(field errors "$res")
    ach=$(awk -v n="$reqs" -v d="$dur" -v k="$per_req" 'BEGIN { printf "%.0f", n * k / d * 1e6 }')
    # slope and growth of the queue after the first 3 s of the window
    read -r slope growth < <(awk -v skip=3 '
        NR == 1 { t0 = $1 }
        $1 - t0 >= skip { n++; x = $1 - t0; y = $2; sx += x; sy += y;
                          sxx += x * x; sxy += x * y;
                          if (n == 1) first = y; last = y }
        END { d = n * sxx - sx * sx;
              printf "%.0f %d\n", (n > 2 && d > 0) ? (n * sxy - sx * sy) / d : 0,
                     last - first }' "$tmp/samples")
    verdict=pass
    if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then verdict=fail
    elif [ "$ach" -lt $(( rate * 97 / 100 )) ]; then verdict=fail
    elif [ "$slope" -gt $(( rate / 50 )) ] || [ "$growth" -gt "$rate" ]; then verdict=fail
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$rate" "$ach" "$non2xx" \
        "$errs" "$slope" "$growth" "$verdict" >>"$out/e2e.tsv"
    # CPU microseconds per event of each part, and of the rest of the
    # machine (wrk, the freshness probes, the kernel's other work)
    printf '%s\t%s\t%s\t%s\t%s\n' "$phase" "$rate" "$ach" "$dur" \
        "${ticks0[*]} ${ticks1[*]}" | awk -F"\t" -v hz="$(getconf CLK_TCK)" -v np="${#PARTS[@]}" '
        BEGIN { OFS = "\t" }
        { n = split($5, t, " "); ev = $3 * $4 / 1e6; line = $1 OFS $2 OFS $3
          known = 0
          for (i = 1; i <= np; i++) {
              d = t[np + 1 + i] - t[i]; known += d
              line = line OFS sprintf("%.1f", d / hz * 1e6 / ev) }
          d = t[2 * np + 2] - t[np + 1]
          print line, sprintf("%.1f", (d - known) / hz * 1e6 / ev),
                sprintf("%.1f", d / hz * 1e6 / ev) }' >>"$out/cpu.tsv"
    log "e2e: $phase $rate events/s offered: $ach achieved, queue slope $slope/s, grew $growth: $verdict"
    echo "$verdict"
}

log "e2e: $MODE, $NCONS consumer(s), ${PROBE}s probes from $START events/s"
lo=0 hi=0 rate=$START
for i in $(seq 1 "$PROBES"); do
    if [ "$(probe probe "$rate" "$PROBE")" = pass ]; then lo=$rate; else hi=$rate; fi
    if [ "$hi" = 0 ]; then
        rate=$(( rate * 3 / 2 ))
    elif [ "$lo" = 0 ]; then
        rate=$(( rate / 2 ))
    else
        [ $(( (hi - lo) * 10 )) -le "$lo" ] && break
        rate=$(( (lo + hi) / 2 ))
    fi
    rate=$(( rate / 1000 * 1000 ))
done

held=0
if [ "$lo" -gt 0 ]; then
    for _ in 1 2; do
        if [ "$(probe hold "$lo" "$HOLD")" = pass ]; then held=$lo; break; fi
        # short only of the offered rate (wrk could not send it; every
        # answer 2xx, the queue flat): next, what got through; else 15 % less
        lo=$(awk -F'\t' -v lo="$lo" 'END {
            short = $4 == 0 && $5 == 0 && $6 <= lo / 50 && $7 <= lo
            r = short ? $3 * 0.99 : lo * 0.85
            printf "%d", int(r / 1000) * 1000 }' "$out/e2e.tsv")
    done
fi

# every event the module acknowledged must reach MariaDB
pushed=$(curl -s "http://127.0.0.1:$port/metrics" |
    awk '$1 == "track_events_pushed_total" { print $2 }')
deadline=$(( $(date +%s) + 120 ))
while :; do
    stored=$(bench_stored_rows "$tmp/db")
    [ "$stored" -ge "$pushed" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 2
done
printf 'held\t%s\nmode\t%s\nconsumers\t%s\nshards\t%s\npushed\t%s\nstored\t%s\n' \
    "$held" "$MODE" "$NCONS" "$SHARDS" "$pushed" "$stored" >"$out/e2e-check.tsv"
log "e2e: sustained $held events/s for ${HOLD}s; module pushed $pushed events, MariaDB holds $stored"
if [ -s "$tmp/consumer.log" ]; then
    log "e2e: the consumer logged:"; sort "$tmp/consumer.log" | uniq -c | sort -rn | head -n 5 >&2
fi
