#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs libFuzzer targets for a bounded time each.
# Usage: run.sh OUTDIR SECONDS TARGET...   (SECONDS 0: replay the seeds only)
# Seeds: fuzz/corpus/<target>/ (read only); new inputs: OUTDIR/corpus/<target>/;
# findings: OUTDIR/crashes/<target>-*; logs: OUTDIR/logs/<target>.log.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$1 secs=$2
shift 2
mkdir -p "$out/crashes" "$out/logs"

# leaks are findings too; a slow input (over 10 s) is a hang
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for t in "$@"; do
    seeds=$here/corpus/$t
    work=$out/corpus/$t
    log=$out/logs/$t.log
    mkdir -p "$work" "$seeds"
    dict=()
    [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
    t0=$SECONDS
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
               tail -n 1)"
    else
        failed=1
        printf 'fuzz %-20s FAIL  %4ss  see %s\n' "$t" "$((SECONDS - t0))" "$log"
        grep -aE 'check failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|Test unit written' \
            "$log" | head -n 5
    fi
done

exit "$failed"
