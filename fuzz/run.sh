#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs libFuzzer targets for a bounded time each.
# Usage: run.sh OUTDIR SECONDS TARGET...   (SECONDS 0: replay the seeds only)
# Seeds: fuzz/corpus/<target>/ (read only); new inputs: OUTDIR/corpus/<target>/;
# findings: OUTDIR/crashes/<target>-*; logs: OUTDIR/logs/<target>.log.
# FUZZ_JOBS (default: the cores) targets run at once.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$1 secs=$2
shift 2
mkdir -p "$out/crashes" "$out/logs"

# leaks are findings too; a slow input (over 10 s) is a hang
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_target TARGET: one target's run; its line of the summary goes to
# OUTDIR/logs/TARGET.result, and its exit status says whether it failed
run_target() {
    local t=$1 seeds=$here/corpus/$1 work=$out/corpus/$1
    local log=$out/logs/$1.log res=$out/logs/$1.result t0=$SECONDS
    local dict=() args=()
    mkdir -p "$work" "$seeds"
    [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
    if [ "$secs" -eq 0 ]; then
        args=(-runs=0 "$seeds")
    else
        args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
              -max_len=16384 -print_final_stats=1 "$work" "$seeds")
    fi
    if "$out/$t" "${dict[@]}" -artifact_prefix="$out/crashes/$t-" \
        "${args[@]}" >"$log" 2>&1; then
        printf 'fuzz %-20s ok    %4ss  %s\n' "$t" "$((SECONDS - t0))" \
            "$(grep -aEo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" |
               tail -n 1)" >"$res"
    else
        { printf 'fuzz %-20s FAIL  %4ss  see %s\n' "$t" "$((SECONDS - t0))" \
              "$log"
          grep -aE 'check failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|Test unit written' \
              "$log" | head -n 5; } >"$res"
        return 1
    fi
}

# one target per core at a time (FUZZ_JOBS): each still fuzzes for SECONDS,
# the whole run takes a fraction of their sum
jobs=${FUZZ_JOBS:-$(nproc)}
failed=0 running=0
for t in "$@"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    run_target "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
for t in "$@"; do
    cat "$out/logs/$t.result"
done

exit "$failed"
