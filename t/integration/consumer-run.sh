#!/usr/bin/env bash
# Runs the track-consumer integration tests (t/integration/consumer-*.pl)
# against a real redis-server and mariadbd; called by `make -C consumer
# integration` with the consumer binary to test.
#   consumer-run.sh BINARY [COUNTS_FILE] [TEST...]
# MariaDB: the server t/harness.sh started (MARIADB_DIR, exported with its
# env) when there is one, else a private one; Redis: always a private one.
# Sanitizer reports of the binary land in the scratch directory and fail the
# run.  COUNTS_FILE gets "passed failed" of every test.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
counts=${2:-}
shift 2 || shift $#
# shellcheck source=../../scripts/lib/services.sh
. "$root/scripts/lib/services.sh"

mkdir -p "$root/t/tmp"
scratch=$(mktemp -d "$root/t/tmp/consumer.XXXXXX")
own_db=

cleanup() {
    local rc=$?
    stop_redis "$scratch/redis" || true
    [ -n "$own_db" ] && { stop_mariadb "$own_db" || true; }
    if [ "$rc" -eq 0 ]; then
        rm -rf "$scratch"
    else
        echo "consumer-run: logs kept in ${scratch#"$root"/}" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export TC_BIN=$bin TC_SCRATCH=$scratch TC_ROOT=$root
export TC_REDIS_PORT
TC_REDIS_PORT=$(free_port)
start_redis "$scratch/redis" "$TC_REDIS_PORT"

if [ -n "${MARIADB_DIR:-}" ] && [ -f "$MARIADB_DIR/root.cnf" ]; then
    export TC_MARIADB_DIR=$MARIADB_DIR
else
    own_db=$scratch/mariadb
    start_mariadb "$own_db" "$(free_port)"
    export TC_MARIADB_DIR=$own_db
fi
export TC_MYSQL_PORT
TC_MYSQL_PORT=$(sed -n 's/^MYSQL_PORT=//p' "$TC_MARIADB_DIR/env")

# sanitizers: reports to files, the first error is fatal
export ASAN_OPTIONS="log_path=$scratch/sanitizer:abort_on_error=0:exitcode=99:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$scratch/sanitizer:print_stacktrace=1:halt_on_error=1"

export TC_COUNTS=$scratch/counts
: >"$TC_COUNTS"

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$root"/t/integration/consumer-[a-z]*.pl)

rc=0
for t in "${tests[@]}"; do
    case $t in */consumer-lib.pl) continue ;; esac
    echo "--- ${t#"$root"/}"
    before=$(wc -l <"$TC_COUNTS")
    t0=$SECONDS
    if ! perl "$t"; then
        rc=1
        echo "--- ${t#"$root"/}: FAILED"
        # a test that died before its summary counts as one failure
        [ "$(wc -l <"$TC_COUNTS")" -gt "$before" ] || echo "0 1" >>"$TC_COUNTS"
    fi
    echo "--- ${t#"$root"/}: $((SECONDS - t0))s"
done

shopt -s nullglob
# A lane SIGKILLed (a test killing its supervisor: PR_SET_PDEATHSIG) while
# LeakSanitizer checks it at exit leaves only the checker's own complaint
# that the thread it stopped is gone: not a finding about the program.
for f in "$scratch"/sanitizer*; do
    if ! grep -qv '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' "$f"; then
        echo "--- ignored $(basename "$f"): LeakSanitizer interrupted by SIGKILL"
        rm -f "$f"
    fi
done
reports=("$scratch"/sanitizer*)
if [ ${#reports[@]} -gt 0 ]; then
    echo "--- sanitizer reports:"
    cat "${reports[@]}"
    echo "0 1" >>"$TC_COUNTS"
    rc=1
else
    echo "1 0" >>"$TC_COUNTS"
    echo "ok - no sanitizer reports"
fi

awk '{ p += $1; f += $2 } END { printf "integration: %d passed, %d failed\n", p, f }' \
    "$TC_COUNTS"
[ -z "$counts" ] || awk '{ p += $1; f += $2 } END { print p, f }' \
    "$TC_COUNTS" >"$counts"
exit "$rc"
