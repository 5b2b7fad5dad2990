#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# track-consumer's memory against the size of the backlog (not a test): one
# track-consumer (its defaults) drains a pre-filled queue of a small backlog
# and of a large one into MariaDB, statistics included, while its resident
# memory (the supervisor and its lanes) is read every 0.2 s.  A bounded
# consumer has the same peak for both.
#
#   bench/backlog.sh [OUTDIR]
#
# env: BENCH_BACKLOG (10000000 events), BENCH_BACKLOG_SMALL (1000000: the
#      users caches are full by then),
#      BENCH_BACKLOG_PROFILE (wide: nearly every event a new user, so the
#      users cache fills; typical), CONSUMER_BIN.
# Writes OUTDIR/backlog.tsv (one line per drain) and OUTDIR/backlog-N.tsv
# (the samples: seconds, events left in the queue, VmRSS kB), and prints a
# markdown table.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
root=$bench_root

out=$(bench_out_dir "${1:-.}")
LARGE=${BENCH_BACKLOG:-10000000}
SMALL=${BENCH_BACKLOG_SMALL:-1000000}
PROFILE=${BENCH_BACKLOG_PROFILE:-wide}
bin=$(bench_consumer_bin)

bench_queue_and_db_scratch backlog-bench
rport=$BENCH_REDIS_PORT
bench_consumer_conf "$tmp/consumer.conf" "$rport" "id = bench" "drain = yes"

# tree_kb FIELD PID: FIELD (VmRSS, VmHWM) summed over PID and its children
# (the lanes are processes of their own); empty once PID is gone
tree_kb() {
    [ -e "/proc/$2" ] || return 0
    # shellcheck disable=SC2046
    status_kb "$1" "$2" $(pgrep -P "$2")
}

printf 'backlog\tprofile\tseconds\tpeak_rss_kb\thwm_kb\thalf_rss_kb\tredis_peak_bytes\trows\tcounted\n' \
    >"$out/backlog.tsv"

for n in "$SMALL" "$LARGE"; do
    bench_db_reset "$tmp/db"
    rcli FLUSHALL >/dev/null
    "$root/bench/consumer-gen.pl" "$n" "$tmp/ev" 0 "$PROFILE" resp
    redis-cli -p "$rport" --pipe <"$tmp/ev.resp" >/dev/null
    rm -f "$tmp/ev.resp"
    redis_peak=$(rcli INFO memory | sed -n 's/^used_memory_peak:\([0-9]*\).*/\1/p')

    samples=$out/backlog-$n.tsv
    printf 'seconds\tleft\trss_kb\n' >"$samples"
    t0=$(now)
    "$bin" --config "$tmp/consumer.conf" &
    pid=$!
    peak=0 hwm=0 half=
    # VmHWM is each process's own high-water mark, so their sum (read
    # last at most 0.2 s before the exit) bounds the drain's peak
    while rss=$(tree_kb VmRSS "$pid") && [ -n "$rss" ]; do
        h=$(tree_kb VmHWM "$pid")
        [ -z "$h" ] || hwm=$h
        left=$(rcli LLEN track:events)
        [ "$rss" -le "$peak" ] || peak=$rss
        printf '%s\t%s\t%s\n' "$(seconds_between "$t0" "$(now)")" "$left" \
            "$rss" >>"$samples"
        if [ -z "$half" ] && [ "$left" -le $((n / 2)) ]; then half=$rss; fi
        sleep 0.2
    done
    wait "$pid"
    t1=$(now)

    rows=$(bench_stored_rows "$tmp/db")
    counted=$(sql -N -e 'SELECT COALESCE(SUM(events), 0) FROM stats_daily')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$PROFILE" \
        "$(seconds_between "$t0" "$t1")" "$peak" "$hwm" "${half:-}" "$redis_peak" \
        "$rows" "$counted" >>"$out/backlog.tsv"
    if [ "$rows" != "$n" ] || [ "$counted" != "$n" ]; then
        echo "backlog $n: stored $rows rows, counted $counted" >&2
        exit 1
    fi
done

awk -F'\t' '
    function commas(x,   s) {
        s = sprintf("%d", x)
        while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
        return s
    }
    NR == 1 { next }
    { printf "| %s | %s | %.0f s | %s | %.1f MB | %.1f MB | %s | %.1f GB | %s / %s |\n",
          commas($1), $2, $3, commas($1 / $3), $4 / 1024, $5 / 1024,
          $6 == "" ? "-" : sprintf("%.1f MB", $6 / 1024), $7 / 1e9,
          commas($8), commas($9)
      peak[NR] = $4 }
    END { if (peak[2] > 0)
              printf "\nPeak RSS with the large backlog: %.2fx the small one\047s.\n",
                     peak[3] / peak[2] }' "$out/backlog.tsv" >"$tmp/rows"
{
    echo "One track-consumer (its defaults: 2 lanes, batches of 2,000, users cache"
    echo "of 200,000 per lane) drains a pre-filled queue ($PROFILE events) into"
    echo "MariaDB, statistics included (\`--drain\` exits once they are complete);"
    echo "its memory, summed over the supervisor and the lanes, is read every"
    echo "0.2 s; *summed VmHWM* adds each process's own peak."
    echo
    echo '| backlog | profile | drain | events/s | peak RSS | summed VmHWM | RSS half-way | Redis peak | rows / counted |'
    echo '|---:|---|---:|---:|---:|---:|---:|---:|---|'
    cat "$tmp/rows"
} | tee "$out/backlog.md"
