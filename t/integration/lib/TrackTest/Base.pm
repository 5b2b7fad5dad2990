# SPDX-License-Identifier: BSD-2-Clause
# What every integration test needs: the checkout's root, clean-up at exit
# (services stopped, then the scratch directory removed or kept), shell
# helpers of scripts/lib/services.sh, polling with a deadline, a plain HTTP
# request, and the sanitizer reports of the processes a test started.
package TrackTest::Base;

use strict;
use warnings;

use Cwd qw(abs_path);
use DBI ();      # loaded first: its END (disconnect all) must run after ours
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw($ROOT sh free_port scratch_dir wait_for pid_alive at_exit slurp
                 http sanitizer_env sanitizer_reports no_sanitizer_reports);

our $ROOT = abs_path(dirname(__FILE__) . '/../../../..');

my (@cleanups, @scratch, %sanitized);
my $test_pid = $$;      # a forked child exits without cleaning up

# an interrupted test still stops what it started
$SIG{INT} = sub { exit 130 };
$SIG{TERM} = sub { exit 143 };

# at_exit($code): run when the test exits, passed or not, newest first,
# before the scratch directories are judged
sub at_exit {
    push @cleanups, $_[0];
}

END {
    return unless $$ == $test_pid;
    my $rc = $?;
    $_->() for reverse @cleanups;
    # a sanitizer report of a process stopped just now fails the test even
    # when the test did not look for one
    if (my @r = sanitizer_texts()) {
        print STDERR "# sanitizer reports:\n", map { "# $_\n" }
            map { split /\n/ } @r;
        $rc ||= 1;
    }
    $_->($rc) for @scratch;
    $? = $rc;
}

sub sh {
    my ($cmd) = @_;
    return system('bash', '-c',
                  ". '$ROOT/scripts/lib/services.sh'; set -e; $cmd") == 0;
}

# a port nobody listens on now, and not handed out before by this process
# (the kernel may offer the same free port twice before anything binds it)
my %ports_given;

sub free_port {
    for (1 .. 100) {
        my $p = `bash -c ". '$ROOT/scripts/lib/services.sh'; free_port"`;
        chomp $p;
        return $p if !$ports_given{$p}++;
    }
    die "free_port: no new port in 100 tries\n";
}

# a directory under t/tmp, removed at exit once everything started in it
# has stopped; kept (and named) when a test failed or KEEP_TMP is set
sub scratch_dir {
    make_path("$ROOT/t/tmp");
    my $dir = tempdir('it-XXXXXX', DIR => "$ROOT/t/tmp");
    push @scratch, sub {
        my ($rc) = @_;
        if ($rc == 0 && Test::More->builder->is_passing && !$ENV{KEEP_TMP}) {
            remove_tree($dir);
        } else {
            print STDERR "# logs kept in $dir\n";
        }
    };
    return $dir;
}

# polls $cond every 20 ms for up to $secs seconds; true when it held
sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return $cond->() ? 1 : 0;
}

# the process $pid runs; a zombie does not (it has exited and let go of its
# ports and files; a daemon's parent is init, which may reap it a second
# or more later, and kill 0 would wait for that: scripts/lib/services.sh)
sub pid_alive {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/status") or return 0;
    while (my $line = <$fh>) {      # not $_: callers grep with it
        return $1 ne 'Z' if $line =~ /^State:\s*(\S)/;
    }
    return 0;
}

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "$file: $!";
    local $/;
    return <$fh>;
}

# http($method, $url, $body, \%headers) -> HTTP::Tiny response
sub http {
    my ($method, $url, $body, $headers) = @_;
    my %opt = (headers => $headers || {});
    $opt{content} = $body if defined $body;
    return HTTP::Tiny->new(keep_alive => 0, timeout => 10)
                     ->request($method, $url, \%opt);
}

# --- sanitizers ---------------------------------------------------------------

# sanitizer_env($dir): the environment under which a process of an
# AddressSanitizer/UBSan build writes its reports to $dir/sanitizer.<pid>
# (the first error is fatal); harmless for other builds.  $dir is then
# searched by sanitizer_reports and at exit.
sub sanitizer_env {
    my ($dir) = @_;
    $sanitized{$dir} = 1;
    return (ASAN_OPTIONS => "log_path=$dir/sanitizer:abort_on_error=0:"
                            . 'exitcode=99:detect_leaks=1',
            UBSAN_OPTIONS => "log_path=$dir/sanitizer:print_stacktrace=1:"
                             . 'halt_on_error=1');
}

# the reports in the given directories (default: every one handed to
# sanitizer_env), and in the given log files
sub sanitizer_texts {
    my (@where) = @_;
    @where = sort keys %sanitized unless @where;
    my @texts;
    for my $w (@where) {
        if (-f $w) {
            my @l = grep { /ERROR: (Address|Leak)Sanitizer|runtime error:/ }
                    split /\n/, slurp($w);
            push @texts, map { "$w: $_" } @l;
            next;
        }
        for my $f (glob("$w/sanitizer.*")) {
            my $text = slurp($f);
            # a process SIGKILLed (a test killing a supervisor takes its
            # lanes along) while LeakSanitizer checks it leaves only the
            # checker's complaint that the thread it stopped is gone: not a
            # finding about the program
            next unless grep { !/^==\d+==Unable to get registers from thread \d+\.$/ }
                        split /\n/, $text;
            push @texts, "$f:\n$text";
        }
    }
    return @texts;
}

# sanitizer_reports(@dirs_or_logs): how many reports there are
sub sanitizer_reports {
    return scalar sanitizer_texts(@_);
}

# no_sanitizer_reports($label): one check that the processes this test
# started (so far) reported nothing
sub no_sanitizer_reports {
    my ($label) = @_;
    my @r = sanitizer_texts();
    Test::More::ok(!@r, $label // 'no sanitizer reports')
        or Test::More::diag(join("\n", @r));
    return !@r;
}

1;
