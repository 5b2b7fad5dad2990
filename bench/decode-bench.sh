#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Decoding micro-benchmark (not a test): bench/decode-bench.c built against
# the consumer of a base commit and against the working tree, run in
# alternation on the same events, µs per event, and the ratio.
#
#   bench/decode-bench.sh [BASE]      BASE: a commit (default main)
#
# env: BENCH_EVENTS (100000), BENCH_ROUNDS (3 alternations), BENCH_PROFILE
#      (typical|wide, bench/consumer-gen.pl).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
base=${1:-main}
EVENTS=${BENCH_EVENTS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/decode-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# the queue elements, one per line (generated values hold no newline)
"$root/bench/consumer-gen.pl" "$EVENTS" "$tmp/ev" 0 "${BENCH_PROFILE:-typical}"
grep -a '^{' "$tmp/ev.resp" >"$tmp/events"

# build DIR OUT: decode-bench against the consumer sources in DIR (consumer/,
# flat before the one-room-per-concern layout, track-consumer/ + common/
# after it)
build() {
    local dir=$1 out=$2 src=$1 objs=() inc=(-I"$1")
    if [ -d "$dir/track-consumer" ]; then
        src=$dir/track-consumer
        inc+=(-I"$src")
        objs+=("$dir/common/date.c" "$dir/common/log.c" "$dir/common/buf.c")
    else
        objs+=("$dir/day.c")
    fi
    if [ -f "$src/event_fast.cc" ]; then
        g++ -std=c++17 -O2 "${inc[@]}" -c "$src/event_fast.cc" -o "$out.fast.o"
        objs+=("$out.fast.o" -lsimdjson -lstdc++)
    fi
    gcc -std=c11 -O2 -D_GNU_SOURCE "${inc[@]}" -o "$out" \
        "$root/bench/decode-bench.c" "$src/event.c" "$src/batch.c" \
        "${objs[@]}" -ljansson
}

mkdir -p "$tmp/base"
git -C "$root" archive "$base" consumer | tar -x -C "$tmp/base"
build "$tmp/base/consumer" "$tmp/before"
build "$root/consumer" "$tmp/after"

echo "$EVENTS events ($(git -C "$root" rev-parse --short "$base") vs working tree); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %12s %12s %12s %8s %8s\n' run 'event before' 'event after' \
    'batch before' 'batch after' 'xevent' 'xbatch'
for r in $(seq 1 "$ROUNDS"); do
    read -r eb bb < <("$tmp/before" "$tmp/events" 3)
    read -r ea ba < <("$tmp/after" "$tmp/events" 3)
    awk -v r="$r" -v eb="$eb" -v ea="$ea" -v bb="$bb" -v ba="$ba" 'BEGIN {
        printf "%-6s %12.3f %12.3f %12.3f %12.3f %7.2fx %7.2fx\n",
               r, eb, ea, bb, ba, eb / ea, bb / ba }'
done
echo "(µs per event, best of 3 passes each; x: before / after)"
