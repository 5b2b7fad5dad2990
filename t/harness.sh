#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `make test`: every test suite on throwaway services (free loopback ports,
# scratch files under t/tmp/).  Stages, in order; a failed stage does not
# stop the next ones, the exit status says whether any failed:
#   a) the Test::Nginx suites t/[0-9]*.t
#   b) the same suites with nginx under valgrind, then the valgrind reports
#   c) `make -C consumer test` (the unit tests of track-consumer and
#      track-stats), when consumer/Makefile has that target
#   d) the integration tests: every family of t/integration/ with prove,
#      then the consumer and stats families again against the
#      AddressSanitizer + UBSan build (see t/README.md)
#   e) each fuzz target in fuzz/ for FUZZ_TEST_SECONDS (default 20)
#   j) the unit tests of the browser code (node --test)
#   k) checks of the tree: document links, licence lines, no call loops
#      between files
# HARNESS_STAGES (default abcdejk) picks stages; TEST_NGINX_UPSTREAM_LIB runs
# the suites under that upstream Test::Nginx instead (see t/upstream.sh).
set -euo pipefail
shopt -s nullglob

# The whole script is one block, so bash has read all of it before it runs
# and editing this file during a run cannot garble that run.
{

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=../scripts/lib/services.sh
. scripts/lib/services.sh

mkdir -p t/tmp
scratch=$(mktemp -d "$root/t/tmp/run.XXXXXX")
started=()     # "kind dir" of every service this script started

cleanup() {
    local rc=$? s
    trap '' INT TERM                    # let the cleanup finish
    # nginx left by an interrupted suite (each server root has its pidfile)
    for s in "$scratch"/servroot*/logs/nginx.pid; do
        stop_pidfile "$s" || true
    done
    for s in "${started[@]}"; do
        case $s in
            redis\ *)   stop_redis "${s#* }" || true ;;
            mariadb\ *) stop_mariadb "${s#* }" || true ;;
        esac
    done
    if [ "$rc" -eq 0 ]; then
        rm -rf "$scratch"
    else
        echo "harness: scratch files kept in ${scratch#"$root"/}" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- services and the environment of the suites --------------------------

redis_port=$(free_port)
start_redis "$scratch/redis" "$redis_port"
started+=("redis $scratch/redis")

export TEST_NGINX_REDIS_PORT=$redis_port
export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_LOAD_MODULES=$root/build/nginx/ngx_http_track_module.so
export TEST_NGINX_SERVER_PORT
TEST_NGINX_SERVER_PORT=$(free_port)
export TEST_NGINX_SERVROOT=$scratch/servroot
export TEST_NGINX_VALGRIND_LOG_DIR=$scratch/valgrind

[ -f "$TEST_NGINX_LOAD_MODULES" ] ||
    echo "harness: warning: $TEST_NGINX_LOAD_MODULES is missing (make module)" >&2

# The fallback runner in t/lib only when the real Test::Nginx is missing.
prove_inc=()
if [ -n "${TEST_NGINX_UPSTREAM_LIB:-}" ]; then
    prove_inc=(-I "$TEST_NGINX_UPSTREAM_LIB")
    perl "${prove_inc[@]}" -MTest::Nginx::Socket -e1
elif ! perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    prove_inc=(-I t/lib)
fi
echo "harness: Test::Nginx::Socket from $(perl "${prove_inc[@]}" \
    -MTest::Nginx::Socket -e 'print $INC{"Test/Nginx/Socket.pm"}')"

# --- stages ----------------------------------------------------------------

names=() results=() times=()

# skip REASON: a stage function has nothing to run (it then returns 0).
skipped_stage=0
skip() {
    echo "$1"
    skipped_stage=1
}

# stage LETTER TITLE FUNCTION: runs FUNCTION, records PASS, FAIL or SKIP.
stage() {
    local letter=$1 title=$2 fn=$3 rc=0 t0=$SECONDS result=PASS
    [[ ${HARNESS_STAGES:-abcdejk} == *$letter* ]] || return 0
    printf '\n==> [%s] %s\n' "$letter" "$title"
    skipped_stage=0
    "$fn" || rc=$?
    if [ "$rc" -ne 0 ]; then
        result=FAIL
    elif [ "$skipped_stage" -eq 1 ]; then
        result=SKIP
    fi
    printf '<== [%s] %s: %s (%ss)\n' "$letter" "$title" "$result" \
        "$((SECONDS - t0))"
    names+=("[$letter] $title") results+=("$result")
    times+=("$((SECONDS - t0))")
}

suites=(t/[0-9]*.t)

run_suites() {
    [ ${#suites[@]} -gt 0 ] || { skip "no t/[0-9]*.t"; return 0; }
    prove "${prove_inc[@]}" "${suites[@]}"
}

# Prints the valgrind records that matter and fails when there is one: any
# memcheck error, and any "definitely lost" block allocated under a frame of
# ngx_http_track.  Known nginx-core noise is in t/valgrind.suppress.
check_valgrind_logs() {
    local logs=("$TEST_NGINX_VALGRIND_LOG_DIR"/*.log)
    echo "checking ${#logs[@]} valgrind report(s)"
    [ ${#logs[@]} -gt 0 ] || return 0
    perl -e '
        my $bad = 0;
        for my $file (@ARGV) {
            open my $in, "<", $file or die "$file: $!\n";
            my (@recs, $cur);
            while (<$in>) {
                if (/^==\d+== (\S.*)/) {
                    push @recs, $cur = { head => $1, text => "" } unless $cur;
                } elsif (/^==\d+== ?$/) {
                    undef $cur;
                    next;
                }
                $recs[-1]{text} .= $_ if @recs;
            }
            for my $r (@recs) {
                next if $r->{head} =~ /(indirectly|possibly) lost|still reachable/;
                next if $r->{head} =~ /definitely lost/
                        && $r->{text} !~ /ngx_http_track/;
                if ($r->{head} =~ /^Warning:/) {
                    print "valgrind warning in $file: $r->{head}\n";
                    next;
                }
                $bad++;
                print "---- $file\n$r->{text}";
            }
        }
        print "$bad valgrind problem(s) attributable to the tests\n" if $bad;
        exit($bad ? 1 : 0);
    ' "${logs[@]}"
}

# Under valgrind each nginx start takes a second or two, so suites run
# HARNESS_JOBS at a time (default 2), each with its own port and server root
# (prove runs "run-one SUITE"); they share the redis-server.
run_valgrind() {
    [ ${#suites[@]} -gt 0 ] || { skip "no t/[0-9]*.t"; return 0; }
    local rc=0 one=$scratch/run-one
    {
        echo '#!/usr/bin/env bash'
        echo 'set -euo pipefail'
        printf '. %q\n' "$root/scripts/lib/services.sh"
        echo 'TEST_NGINX_SERVER_PORT=$(free_port)'
        printf 'TEST_NGINX_SERVROOT=%q/servroot-$(basename "$1" .t)\n' "$scratch"
        echo 'export TEST_NGINX_SERVER_PORT TEST_NGINX_SERVROOT'
        printf 'exec perl %s "$1"\n' "$(printf '%q ' "${prove_inc[@]}")"
    } >"$one"
    chmod +x "$one"
    rm -rf "$TEST_NGINX_VALGRIND_LOG_DIR"
    TEST_NGINX_USE_VALGRIND=1 prove -j "${HARNESS_JOBS:-2}" --exec "$one" \
        "${suites[@]}" || rc=1
    check_valgrind_logs || rc=1
    return "$rc"
}

run_consumer() {
    # (a grep, not `make -n test`: make -n still runs $(MAKE) lines)
    if [ ! -f consumer/Makefile ] ||
       ! grep -Eq '^([^#:=]*[[:space:]])?test([[:space:]][^#:=]*)?:([^=]|$)' \
            consumer/Makefile; then
        skip "consumer/Makefile has no test target"
        return 0
    fi
    make -C consumer test
}

# The integration tests are TAP tests on t/integration/lib/TrackTest.pm, one
# folder per family; each starts its own services, except MariaDB: one
# server here (MARIADB_DIR), each test in a database of its own.
families=(module e2e consumer stats galera ops browser deb hosts)
# run a second time against the sanitizer build, where a sanitizer report
# of any process a test started fails that test
sanitized_families=(consumer stats)
sanitizer=address,undefined
sanitizer_build=consumer/build/${sanitizer/,/-}

# prove_family LABEL DIR: prove of one family; its failed files, named in
# prove's report, are kept for the summary (a long log's tail is often all
# that is shown of a run)
failed_files=()
prove_family() {
    local label=$1 dir=$2 rc=0 f
    prove --timer -r "$dir" 2>&1 | tee "$scratch/prove.log" ||
        rc=${PIPESTATUS[0]}
    while read -r f; do
        failed_files+=("$f$label")
    done < <(sed -n 's/^\(t\/[^ ]*\.t\) \+(Wstat.*/\1/p' "$scratch/prove.log")
    return "$rc"
}

run_integration() {
    local fam rc=0 db=$scratch/mariadb
    [ -d t/integration ] || { skip "no t/integration/"; return 0; }
    start_mariadb "$db" "$(free_port)" || return 1
    started+=("mariadb $db")
    export MARIADB_DIR=$db
    for fam in "${families[@]}"; do
        echo "--- t/integration/$fam"
        prove_family "" "t/integration/$fam" || rc=1
    done
    echo "--- make -C consumer SANITIZER=$sanitizer"
    make -s -C consumer SANITIZER="$sanitizer" || return 1
    for fam in "${sanitized_families[@]}"; do
        echo "--- t/integration/$fam against $sanitizer_build/"
        CONSUMER_BIN=$root/$sanitizer_build/track-consumer \
        STATS_BIN=$root/$sanitizer_build/track-stats \
            prove_family " ($sanitizer)" "t/integration/$fam" || rc=1
    done
    return "$rc"
}

# --- fuzzers (fuzz/, owned by the fuzzing work): a short run of every
# target, long enough for a regression in parsing or escaping to show
run_fuzz() {
    [ -f fuzz/Makefile ] || { skip "no fuzz/Makefile"; return 0; }
    make -s -C fuzz run FUZZ_SECONDS="${FUZZ_TEST_SECONDS:-20}"
}

# the tracker's and the dashboard's logic under node's test runner (fake
# timers and transport); stage d runs both for real in Chromium
run_node() {
    node --test tracker/tests/ dashboard/tests/
}

# documents link to files and headings that exist; no two source files of
# the module or of the consumer use each other's functions in a loop
run_tree_checks() {
    local rc=0
    perl scripts/check-doc-links.pl || rc=1
    scripts/check-licence-headers.sh || rc=1
    local calls=$scratch/calls.txt
    perl scripts/check-call-cycles.pl ngx_http_track_module >"$calls" ||
        { cat "$calls"; rc=1; }
    perl scripts/check-call-cycles.pl consumer/common consumer/track-consumer \
        consumer/track-stats >"$calls" || { cat "$calls"; rc=1; }
    return "$rc"
}

stage a "Test::Nginx suites" run_suites
stage b "Test::Nginx suites under valgrind" run_valgrind
stage c "consumer unit tests (make -C consumer test)" run_consumer
stage d "integration tests" run_integration
stage e "fuzz targets, briefly (make -C fuzz run)" run_fuzz
stage j "browser code unit tests (node --test)" run_node
stage k "checks of the tree (links, licences, call loops)" run_tree_checks

# --- summary ---------------------------------------------------------------

passed=0 failed=0 skipped=0
printf '\n==> summary\n'
for i in "${!names[@]}"; do
    printf '  %-4s %-48s %5ss\n' "${results[$i]}" "${names[$i]}" "${times[$i]}"
    case ${results[$i]} in
        PASS) passed=$((passed + 1)) ;;
        FAIL) failed=$((failed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
    esac
done
[ "$skipped" -eq 0 ] || echo "  ($skipped stage(s) had nothing to run)"
for i in "${failed_files[@]}"; do
    echo "  failed: $i"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
exit
}
