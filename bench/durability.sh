#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What each durability setting of the *Delivery* table in
# ngx_http_track_module/README.md costs, in one run, as ratios against the
# baseline of that run:
#
#   ingest (nginx + the module, 2 workers, pixel GET with varied objects and
#   users, wrk unpaced on BENCH_CONNS connections, BENCH_DURATION s) into
#     none       Redis without persistence (baseline)
#     everysec   appendonly yes, appendfsync everysec (make run's Redis)
#     always     appendonly yes, appendfsync always
#     wait1      everysec with one replica, track_redis_wait_replicas 1
#   drain (track-consumer --drain of BENCH_EVENTS events, default settings)
#   into MariaDB with
#     flush1     innodb_flush_log_at_trx_commit=1 (baseline, the default)
#     flush2     innodb_flush_log_at_trx_commit=2
#
# Runs are interleaved (BENCH_REPEAT rounds over every setting) so that
# drift on the machine hits each alike; the median of each is reported.
#
# Usage: bench/durability.sh OUTDIR
# env: BENCH_DURATION (5), BENCH_REPEAT (3), BENCH_DURABILITY_CONNS (64: not
#      BENCH_CONNS, which make bench sets to a list),
#      BENCH_EVENTS (100000), CONSUMER_BIN
# Writes OUTDIR/durability.tsv (one line per run) and prints a markdown
# table: setting, median events/s, ratio to its baseline.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

out=$(bench_out_dir "$1")
DURATION=${BENCH_DURATION:-5}
REPEAT=${BENCH_REPEAT:-3}
export REPEAT
CONNS=${BENCH_DURABILITY_CONNS:-${BENCH_HEADLINE_CONNS:-64}}
EVENTS=${BENCH_EVENTS:-100000}
bin=$(bench_consumer_bin)

INGEST=(none everysec always wait1)
DRAIN=(flush1 flush2)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/track-bench-durability.XXXXXX")
chmod 755 "$tmp"
cleanup() {
    local s
    set +e
    for s in "${INGEST[@]}"; do bench_nginx_stop "$tmp/nginx-$s"; done
    for s in "${INGEST[@]}" replica; do stop_redis "$tmp/redis-$s"; done
    for s in "${DRAIN[@]}"; do stop_mariadb "$tmp/db-$s"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A rport nport
for s in "${INGEST[@]}" replica; do rport[$s]=$(free_port); done
start_redis "$tmp/redis-none" "${rport[none]}"
REDIS_MAXMEMORY=0 start_redis "$tmp/redis-everysec" "${rport[everysec]}" --durable
REDIS_MAXMEMORY=0 start_redis "$tmp/redis-always" "${rport[always]}" --durable \
    --appendfsync always
REDIS_MAXMEMORY=0 start_redis "$tmp/redis-wait1" "${rport[wait1]}" --durable
REDIS_MAXMEMORY=0 start_redis "$tmp/redis-replica" "${rport[replica]}" --durable \
    --replicaof 127.0.0.1 "${rport[wait1]}"
wait_until 30 bash -c "redis-cli -p ${rport[wait1]} info replication |
                       grep -q 'connected_slaves:1'" || {
    echo "the replica did not attach" >&2; exit 1; }

for s in "${INGEST[@]}"; do
    nport[$s]=$(free_port)
    wait=
    [ "$s" = wait1 ] && wait='    track_redis_wait_replicas 1;'
    bench_nginx_conf "$tmp/nginx-$s" "${nport[$s]}" \
        "load_module $BENCH_MODULE_SO;" \
        "    track_redis 127.0.0.1:${rport[$s]};
$wait" \
        "        location = /t.gif { track; }"
    bench_nginx_start "$tmp/nginx-$s" "${nport[$s]}"
done

for s in "${DRAIN[@]}"; do
    start_mariadb "$tmp/db-$s" "$(free_port)" \
        --innodb-flush-log-at-trx-commit="${s#flush}" >/dev/null
done

log "durability: generating $EVENTS events"
"$here/gen-events.pl" "$EVENTS" "$tmp/ev" >/dev/null

: >"$out/durability.tsv"
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$out/durability.tsv"; }

ingest() {
    local s=$1 r res n bad
    redis-cli -p "${rport[$s]}" del track:events >/dev/null
    res=$(run_wrk "http://127.0.0.1:${nport[$s]}/t.gif?app=shop&module=feed&action=view&object=@OBJ@&uid=@UID@" \
        "$CONNS" "$DURATION" BENCH_VARY=1)
    n=$(field requests "$res")
    bad=$(( $(field non2xx "$res") + $(field errors "$res") ))
    r=$(awk -v n="$n" -v us="$(field duration_us "$res")" \
        'BEGIN { printf "%.0f", n / (us / 1e6) }')
    record ingest "$s" "$r" "$([ "$bad" = 0 ] && echo ok || echo "$bad not 2xx")"
    log "durability: ingest $s: $r events/s"
}

drain() {
    local s=$1 db=$tmp/db-$1 t0 t1 n r
    (
        # shellcheck disable=SC1091
        . "$db/env"
        bench_db_reset "$db"
        redis-cli -p "${rport[none]}" flushall >/dev/null
        redis-cli -p "${rport[none]}" --pipe <"$tmp/ev.resp" >/dev/null
        bench_consumer_conf "$tmp/consumer.conf" "${rport[none]}" "drain = yes"
    )
    t0=$(now)
    "$bin" --config "$tmp/consumer.conf" --id bench 2>>"$tmp/consumer.log"
    t1=$(now)
    n=$(mariadb_client "$db" track -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_daily')
    r=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    record drain "$s" "$r" "$([ "$n" = "$EVENTS" ] && echo ok || echo "stored $n")"
    log "durability: drain $s: $r events/s"
}

for _ in $(seq 1 "$REPEAT"); do
    for s in "${INGEST[@]}"; do ingest "$s"; done
    for s in "${DRAIN[@]}"; do drain "$s"; done
done

# per setting: median events/s, and its ratio to the baseline (the first
# setting of its kind) within each round: median and range
perl -F'\t' -lane '
    push @{ $v{$F[0]}{$F[1]} }, $F[2];
    push @{ $order{$F[0]} }, $F[1] unless $seen{$F[0]}{$F[1]}++;
    END {
        my $med = sub { my @x = sort { $a <=> $b } @_; $x[$#x / 2] };
        print "| setting | events/s (median of $ENV{REPEAT}) | ratio to baseline, median (range over rounds) |";
        print "|---|---|---|";
        for my $kind (qw(ingest drain)) {
            my $base = $v{$kind}{ $order{$kind}[0] };
            for my $s (@{ $order{$kind} }) {
                my @r = map { $v{$kind}{$s}[$_] / $base->[$_] } 0 .. $#$base;
                my @sorted = sort { $a <=> $b } @r;
                printf "| %s %s | %d | %.2fx (%.2f-%.2f) |\n", $kind, $s,
                    $med->(@{ $v{$kind}{$s} }), $med->(@r), $sorted[0],
                    $sorted[-1];
            }
        }
    }' "$out/durability.tsv"
if grep -qv $'\tok$' "$out/durability.tsv"; then
    echo "some runs were not clean:" >&2
    grep -v $'\tok$' "$out/durability.tsv" >&2
    exit 1
fi
