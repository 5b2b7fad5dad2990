#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Compatibility check, not part of `make test`: runs the Test::Nginx suites
# t/[0-9]*.t under upstream Test::Nginx (openresty/test-nginx) instead of the
# fallback runner in t/lib, on the same throwaway services as `make test`.
# A suite written for t/lib should give the same plan and results here.
#
#   TEST_NGINX_UPSTREAM_LIB=/path/to/test-nginx/lib t/upstream.sh [STAGES]
#
# STAGES defaults to "a" (the suites); "ab" adds the valgrind run.  Upstream
# needs Debian's libtest-base-perl, libtext-diff-perl, libwww-perl,
# libtest-longstring-perl and liblist-moreutils-perl (scripts/deps.sh).
set -euo pipefail

: "${TEST_NGINX_UPSTREAM_LIB:?set it to the lib/ directory of openresty/test-nginx}"
[ -f "$TEST_NGINX_UPSTREAM_LIB/Test/Nginx/Socket.pm" ] || {
    echo "upstream.sh: no Test/Nginx/Socket.pm under $TEST_NGINX_UPSTREAM_LIB" >&2
    exit 2
}
TEST_NGINX_UPSTREAM_LIB=$(cd "$TEST_NGINX_UPSTREAM_LIB" && pwd)
export TEST_NGINX_UPSTREAM_LIB
export HARNESS_STAGES=${1:-a}

# Upstream waits for a stopped nginx until it is no longer "running", and the
# daemonized nginx is reparented to pid 1, which does not always reap it: a
# zombie then costs seconds per block.  Run the harness as a Linux child
# subreaper (prctl PR_SET_CHILD_SUBREAPER) that reaps every orphan.
exec perl -e '
    eval { require "syscall.ph"; syscall(&SYS_prctl, 36, 1, 0, 0, 0) };
    my $pid = fork // die "fork: $!\n";
    exec @ARGV or die "exec: $!\n" if $pid == 0;
    $SIG{INT} = sub {};                     # the harness gets it too
    $SIG{TERM} = sub { kill "TERM", $pid };
    my $rc = 0;
    while (1) {
        my $w = wait;
        if ($w == -1) {
            last unless $!{EINTR};
            next;
        }
        $rc = $? if $w == $pid;
    }
    exit($rc & 127 ? 128 + ($rc & 127) : $rc >> 8);
' "$(dirname "$0")/harness.sh"
