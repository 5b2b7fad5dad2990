# SPDX-License-Identifier: BSD-2-Clause
# Overload is bounded: the pipeline as `make run` starts it (scripts/run.sh
# in a scratch directory, with a smaller queue ceiling and Redis memory
# limit so that a short run reaches them) takes unpaced pixels with varied
# objects and users from wrk (8 connections) for OVERLOAD_SECONDS (20),
# the consumer held (SIGSTOP) for the first half so that it falls behind.
# The queue stays near track_redis_max_queue and Redis below maxmemory,
# the excess goes to nginx's spool, nothing is refused, and once the load
# stops everything drains: every event the module counted as accepted is
# in MariaDB once, and the statistics equal the raw rows.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);
use TrackTest;

my $secs = $ENV{OVERLOAD_SECONDS} || 20;
my $ceiling = 20000;
my $maxmemory = 64 * 1024 * 1024;

$ENV{TZ} = 'UTC';
$ENV{TRACK_MAX_QUEUE} = $ceiling;
$ENV{REDIS_MAXMEMORY} = $maxmemory;
my $t0 = time;
my $dir = scratch_dir();
my $run = "$dir/run";

ok(run_sh($run, 'start'), 'make run');
my $env = run_env($run);
my $url = $env->{NGINX_URL};
my $redis = $env->{REDIS_PORT};

# a body over nginx's own client_max_body_size (1m) is refused before the
# handler runs: the module answers in JSON there as well
my $big = HTTP::Tiny->new(timeout => 10)->post("$url/collect", {
    headers => { 'Content-Type' => 'application/json' },
    content => 'x' x 1_500_000 });
is($big->{status}, 413, 'a 1.5 MB body: 413');
like($big->{content}, qr/^\{"error":"body_too_large",/,
     '... with the JSON reason');

sub redis_info {
    my ($field) = @_;
    my $out = redis_cli($redis, 'info', 'memory') // '';
    return $out =~ /^$field:(\d+)/m ? $1 : -1;
}

my $wrk = fork();
die "fork: $!" unless defined $wrk;
if ($wrk == 0) {
    open(STDOUT, '>', "$dir/wrk.out") or die $!;
    $ENV{BENCH_VARY} = 1;
    exec('wrk', '-t2', '-c8', "-d${secs}s", '-s', "$ROOT/bench/wrk.lua",
         "$url/t.gif?app=load&module=feed&action=view&object=\@OBJ\@"
         . '&uid=@UID@') or POSIX::_exit(127);
}

# On 2 shared cores nginx may not outrun the consumer: it is held for the
# first half of the load, a consumer that fell far behind (a slow MariaDB).
my @held = ((split ' ', `cat $run/consumer/consumer.pid`),
            values %{ lane_pids(do { local (@ARGV, $/) =
                                     "$run/consumer/consumer.log"; <> }) });
kill 'STOP', @held;
my $release = time + $secs / 2;

# sampled every 250 ms until wrk exits
my ($max_len, $max_mem, $throttled) = (0, 0, 0);
until (waitpid($wrk, POSIX::WNOHANG()) == $wrk) {
    if ($release && time >= $release) {
        kill 'CONT', @held;
        $release = 0;
    }
    my $len = redis_int($redis, 'llen', 'track:events');
    my $mem = redis_info('used_memory');
    $max_len = $len if $len > $max_len;
    $max_mem = $mem if $mem > $max_mem;
    $throttled ||= metric("$url/metrics", 'track_throttled_workers') > 0;
    sleep 0.25;                     # a sampling period, not a wait
}
is($? >> 8, 0, 'wrk ran');
kill 'CONT', @held;
my $result = do { local (@ARGV, $/) = "$dir/wrk.out"; <> } // '';
my %r = $result =~ /(\w+)=(\d+)/g;
note($result =~ /^(BENCHRESULT .*)$/m ? $1 : $result);
my $accepted = metric("$url/metrics", 'track_events_accepted_total');
my $spooled = metric("$url/metrics", 'track_events_spooled_total');
note(sprintf('%d events accepted in %d s (%.0f/s), %d spooled; queue at '
             . 'most %d, Redis at most %.1f MB', $accepted, $secs,
             $accepted / $secs, $spooled, $max_len, $max_mem / 1048576));

cmp_ok($r{requests} // 0, '>', $ceiling * 2, 'wrk sent more than the ceiling '
       . 'can hold');
is(($r{non2xx} // -1) + ($r{errors} // -1), 0, 'every request answered 2xx');
ok($throttled, 'nginx throttled: the queue reached its ceiling');
cmp_ok($spooled, '>', 0, 'the excess went to the spool');
cmp_ok($max_len, '<', $ceiling * 2, "the queue stayed near its ceiling "
       . "($max_len, ceiling $ceiling)");
cmp_ok($max_mem, '<', $maxmemory, sprintf('Redis stayed below maxmemory '
       . '(%.1f MB of %.0f)', $max_mem / 1048576, $maxmemory / 1048576));

ok(wait_for(120, sub {
       metric("$url/metrics", 'track_spool_bytes') == 0
       && redis_int($redis, 'llen', 'track:events') == 0
       && processing_total($redis, 'run') == 0 }),
   'after the load everything drains');
my $dbh = $env->{dbh};
my ($rows, $eids) = (0, 0);
for my $t (@{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") }) {
    my ($n, $d) = $dbh->selectrow_array(
        "SELECT COUNT(*), COUNT(DISTINCT eid) FROM `$t`");
    $rows += $n;
    $eids += $d;
}
is($rows, $accepted, "every accepted event is in MariaDB ($rows rows)");
is($eids, $rows, '... once');
stats_consistent($dbh, 'overload');
ok(run_sh($run, 'stop'), 'make stop');
note(sprintf('%.1f s', time - $t0));

done_testing();
