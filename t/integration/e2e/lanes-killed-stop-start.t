# SPDX-License-Identifier: BSD-2-Clause
# The local pipeline as `make run` starts it (scripts/run.sh, in a scratch
# directory), under load: track-consumer's lanes SIGKILLed at random 20+
# times, `make stop` / `make run` in the middle with events still queued,
# Redis SIGKILLed once and started again by `make run`.  Every event
# answered 2xx ends in MariaDB exactly once, the statistics equal the raw
# rows, and the metrics count every lane restart.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use TrackTest;

$ENV{TZ} = 'UTC';       # the consumer's day tables: stats_consistent's zone
my $t0 = time;
my $dir = scratch_dir();
my $run = "$dir/run";
my $kills = 0;
my %sent;

ok(run_sh($run, 'start'), 'make run');
my $env = run_env($run);
my $url = $env->{NGINX_URL};
my $redis = $env->{REDIS_PORT};
my $log = "$run/consumer/consumer.log";
my $id = 'run';

sub log_text {
    open(my $fh, '<', $log) or return '';
    local $/;
    return <$fh>;
}

sub queued {
    return redis_int($redis, 'llen', 'track:events');
}

# lanes first seen (pid => time); a lane is killed only after 2.5 s of life,
# so the kills never look like a crash loop (lane_crash_limit)
my %seen;

sub kill_a_lane {
    my $pids = lane_pids(log_text());
    $seen{$_} //= time for values %$pids;
    my @old = grep { time - $seen{$_} >= 2.5 && pid_alive($_) } values %$pids;
    return 0 unless @old;
    kill 'KILL', $old[rand @old];
    $kills++;
    return 1;
}

# kills lanes at random moments while $h sends, at least $n times
sub load_with_kills {
    my ($n, $tag) = @_;
    my $h = start_sending($dir, "$url/t.gif?app=shop&module=m{p}"
                                . '&action=view&object=o{n%97}&uid=u{n%31}',
                          4, 4000, $tag);
    kill_lanes($n);
    return $h;
}

# $n lanes SIGKILLed, each at a random moment
sub kill_lanes {
    my ($n) = @_;
    my $start = $kills;
    while ($kills - $start < $n) {
        wait_for(10, \&kill_a_lane) or last;
        sleep(0.2 + rand 0.6);      # no condition: the moment is random
    }
}

sub finish {
    my ($h) = @_;
    my $s = finish_sending($h);
    @sent{keys %$s} = values %$s;
}

# --- load, lanes killed; make stop / make run with events still queued --------

note(sprintf('%.1f s: make run done', time - $t0));
my $h = load_with_kills(10, 'a');
is($kills, 10, 'ten lanes SIGKILLed under load');
finish($h);

# hold the consumer so that the queue is long when make stop comes
my @held = ((split ' ', `cat $run/consumer/consumer.pid`),
            values %{ lane_pids(log_text()) });
kill 'STOP', @held;
finish(start_sending($dir, "$url/t.gif?app=shop&module=held&action=view"
                           . '&object=o{n%7}&uid=u{n%5}', 4, 2000, 'h'));
ok(queued() >= 6000, 'the consumer held: the queue grows to 6000');
kill 'CONT', @held;
my $at_stop = queued();
ok(run_sh($run, 'stop'), "make stop with $at_stop events queued");
ok(!grep({ pid_alive($_) } @held), '... every consumer process has exited');
is(scalar(grep { !/\.log$/ } glob("$run/redis/appendonlydir/*")) > 0, 1,
   '... Redis left its append-only file');

ok(run_sh($run, 'start'), 'make run again');
$env = run_env($run);
%seen = ();
note(sprintf('%.1f s: make stop / make run done', time - $t0));

# --- more load: Redis SIGKILLed once, make run restarts it; more kills --------

$h = start_sending($dir, "$url/t.gif?app=shop&module=m{p}&action=click"
                         . '&object=o{n%89}&uid=u{n%23}', 4, 4000, 'b');
ok(wait_for(20, sub { queued() > 0 || processing_total($redis, $id) > 0 }),
   'under load again');
kill_redis("$run/redis");
ok(wait_for(20, sub { log_text() =~ /redis unavailable/ }),
   'Redis SIGKILLed: the consumer notices');
ok(run_sh($run, 'start'), 'make run starts Redis again');
kill_lanes(10);
finish($h);
ok($kills >= 20, "$kills lanes SIGKILLed in all");

ok(wait_for(60, sub {
       queued() == 0 && processing_total($redis, $id) == 0
       && metric("$url/metrics", 'track_spool_bytes') == 0
       && scalar(keys %{ db_eids($env->{dbh}) })
          >= @{ accepted(\%sent) } }),
   'everything drains');
cmp_ok(scalar @{ accepted(\%sent) }, '>=', 20000,
       'at least 20000 events answered 2xx');
exactly_once($env->{dbh}, \%sent, 'lanes killed, stop/start, Redis killed');
stats_consistent($env->{dbh}, 'lanes killed, stop/start, Redis killed');

my $metrics = http('GET', "$env->{STATS_URL}/metrics")->{content} // '';
my $restarts = 0;
$restarts += $1 while $metrics
    =~ /^track_consumer_lane_restarts_total\{consumer="run[^"]*"\} (\d+)$/mg;
is($restarts, $kills, "/stats/v1/metrics counts the $kills lane restarts");
unlike($metrics, qr/^track_consumer_lane_crash_loop\{[^}]*\} 1$/m,
       'no lane is in a crash loop');
ok(run_sh($run, 'stop'), 'make stop');
note(sprintf('%.1f s', time - $t0));

done_testing();
