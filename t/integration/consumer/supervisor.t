# SPDX-License-Identifier: BSD-2-Clause
# track-consumer's supervisor under load: a lane that dies is restarted
# while the other goes on; SIGHUP reads the settings again and replaces the
# lanes; a lane that keeps dying at start is left down (crash loop), logged
# and counted in consumer_lanes; the supervisor SIGKILLed or SIGTERMed stops
# every lane with no batch half-done (the processing lists are empty).
# Every event answered 2xx is in MariaDB once, the statistics equal the raw
# rows.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $t0 = time;
my $dir = scratch_dir();
my $redis_port = free_port();
my $id = 'sup';

my $db = start_db($dir, 'it_supervisor');
start_redis("$dir/redis", $redis_port);
my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_max_backoff 200ms;
EOF

my %sent;
my $round = 0;

sub load {
    my ($n) = @_;
    $round++;
    return start_sending($dir, "$url/t.gif?app=sup&module=m{p}&action=a"
                               . '&object=o{n%17}&uid=u{n%11}',
                         2, $n, "s$round");
}

sub finish {
    my ($h) = @_;
    my $s = finish_sending($h);
    @sent{keys %$s} = values %$s;
}

sub lanes_of {
    my ($c) = @_;
    return lane_pids(consumer_log($c));
}

sub stopped_clean {
    my ($pids) = @_;
    return !grep { pid_alive($_) } values %$pids;
}

sub stored {
    return scalar keys %{ db_eids($db->{dbh}) };
}

my $c = start_consumer("$dir/consumer", db => $db, id => $id,
                       redis_port => $redis_port);
ok(wait_for(20, sub { keys %{ lanes_of($c) } == 2 }), 'two lanes started');

# --- each lane killed under load: restarted, the other goes on ----------------

my $h = load(6000);
for my $k (0, 1) {
    my $before = lanes_of($c);
    my $n = stored();
    ok(wait_for(20, sub { stored() > $n + 100 }),
       "lane $k: events are being stored");
    kill 'KILL', $before->{$k};
    ok(wait_for(10, sub { (lanes_of($c)->{$k} // 0) != $before->{$k} }),
       "lane $k SIGKILLed: restarted with a new pid");
    my $other = 1 - $k;
    is(lanes_of($c)->{$other}, $before->{$other},
       "lane $k SIGKILLed: lane $other kept running");
    ok(pid_alive($before->{$other}), "... and is alive");
    like(consumer_log($c), qr/lane $k \(pid $before->{$k}\) killed by signal 9 after \d+ ms; restarting it in \d+ ms/,
         "lane $k SIGKILLed: the supervisor says so");
}
ok(consumer_alive($c), 'the supervisor survived both');

# --- SIGHUP: the settings read again, the lanes replaced ----------------------

open(my $conf, '>>', $c->{conf}) or die "$c->{conf}: $!";
print $conf "lanes = 3\n";
close $conf;
my $before = lanes_of($c);
kill 'HUP', $c->{pid};
ok(wait_for(20, sub {
       my $now = lanes_of($c);
       keys %$now == 3 && !grep { $now->{$_} == $before->{$_} } 0, 1 }),
   'SIGHUP: three lanes now, the old two replaced');
like(consumer_log($c), qr/configuration reloaded \(lanes = 3\)/,
     'SIGHUP: logged');
ok(stopped_clean($before), '... and the old lanes are gone');
finish($h);

# --- the supervisor killed: every lane finishes its batch and stops -----------

$h = load(1500);
ok(wait_for(20, sub { processing_total($redis_port, $id) > 0 }),
   'batches in hand');
my $lanes = lanes_of($c);
kill 'KILL', $c->{pid};
ok(wait_for(15, sub { stopped_clean($lanes) }),
   'supervisor SIGKILLed: its lanes stop');
is(processing_total($redis_port, $id), 0,
   '... each after its batch (the processing lists are empty)');

$c = start_consumer("$dir/consumer2", db => $db, id => $id,
                    redis_port => $redis_port);
ok(wait_for(20, sub { keys %{ lanes_of($c) } == 2 }), 'started again');
# the first load may be sent and drained by now (a slow start under ASan):
# a batch in hand needs events still arriving
finish($h);
$h = load(1500);
ok(wait_for(20, sub { processing_total($redis_port, $id) > 0 }),
   'batches in hand again');
$lanes = lanes_of($c);
is(stop_consumer($c), 0, 'supervisor SIGTERMed: exit 0');
ok(stopped_clean($lanes), '... its lanes gone');
is(processing_total($redis_port, $id), 0, '... with no batch half-done');
finish($h);

# --- a crash loop: the lanes die at their first batch, every time ---------------

$h = load(200);
finish($h);
$c = start_consumer("$dir/consumer3", db => $db, id => $id,
                    redis_port => $redis_port,
                    args => ['--lane-crash-limit=3', '--batch-size=100'],
                    env => { TRACK_CONSUMER_CRASH => 'after_move:1' });
ok(wait_for(30, sub { !consumer_alive($c) }),
   'every lane crash-looping: the supervisor exits');
is($c->{status} >> 8, 1, '... with status 1');
my $log = consumer_log($c);
like($log, qr/lane $_ \(pid \d+\) killed by signal 9 after \d+ ms: a crash loop \(3 short lives in a row/,
     "lane $_: the crash loop is logged") for 0, 1;
my $rows = $db->{dbh}->selectall_hashref(
    'SELECT consumer_id, restarts, crash_loop FROM consumer_lanes',
    'consumer_id');
is_deeply([map { [$rows->{$_}{restarts} >= 2 ? 1 : 0,
                  $rows->{$_}{crash_loop}] } $id, "$id/1"],
          [[1, 1], [1, 1]],
          'consumer_lanes counts the restarts and marks the crash loop');

$c = start_consumer("$dir/consumer4", db => $db, id => $id,
                    redis_port => $redis_port);
ok(wait_for(30, sub {
       redis_int($redis_port, 'llen', 'track:events') == 0
       && processing_total($redis_port, $id) == 0
       && stored() >= @{ accepted(\%sent) } }),
   'a healthy start drains everything');
is_deeply($db->{dbh}->selectcol_arrayref(
              'SELECT SUM(crash_loop) FROM consumer_lanes'), [0],
          '... and clears the crash-loop marks');
is(stop_consumer($c), 0, 'exit 0');

exactly_once($db->{dbh}, \%sent, 'supervisor');
stats_consistent($db->{dbh}, 'supervisor');
note(sprintf('%.1f s', time - $t0));

done_testing();
