# SPDX-License-Identifier: BSD-2-Clause
# track-consumer with several lanes: the lanes share the queue, signals
# reach every lane, the supervisor's death takes the lanes with it, and
# batches left in the lists of lanes no longer configured are finished at
# the next start, once each.  (A lane's death and its restart:
# t/integration/consumer/supervisor.t.)
use strict;
use warnings;
use FindBin;
use Time::HiRes qw(sleep time);
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");

sub gone {
    my ($pids) = @_;
    return !grep { pid_alive($_) } values %$pids;
}

queue_cmd('FLUSHALL');
my $db = start_db($s, 'tc_lanes');
my $dbh = $db->{dbh};
my @all;

my $bad = `$CONSUMER_BIN --lanes=0 2>&1`;
ok(($? >> 8) == 2 && $bad =~ /lanes/, '--lanes=0 is refused');

# --- three lanes share the queue ---------------------------------------------

my $ev = gen_events(n => 6000, seed => 31, prefix => 'l', dup => 0.05);
push @all, @$ev;
push_events($ev);
my $c = start_consumer($s, db => $db, id => 'ln', lanes => 3,
                       args => ['--batch-size=200']);
ok(wait_for(60, sub { drained('ln') }), 'three lanes drain the queue');
my $pids = lane_pids($c);
is(join(',', sort keys %$pids), '0,1,2', 'the supervisor names three lanes');
my %by = map { $_->[0] => $_->[1] } @{db_rows($dbh,
    "SELECT consumer_id, events FROM consumer_state")};
ok(($by{ln} || 0) > 0 && ($by{'ln/1'} || 0) > 0 && ($by{'ln/2'} || 0) > 0,
   'each lane stored a share (' . join(', ', map { "$_: $by{$_}" } sort keys %by)
   . ')');
stored_once($dbh, \@all, 'three lanes');

# --- signals reach every lane -----------------------------------------------

rename $c->{log}, "$c->{log}.old";
kill 'HUP', $c->{pid};
ok(wait_for(10, sub { my @n = consumer_log($c) =~ /log file reopened/g; @n >= 4 }),
   'SIGHUP: the supervisor and the three lanes reopen the log');

$ev = gen_events(n => 90, seed => 32, prefix => 'lt');
push @all, @$ev;
my $st = stop_consumer($c, 'TERM', 10);
ok(defined $st && $st == 0 && gone($pids), 'SIGTERM while idle: exit 0, lanes gone');

$c = start_consumer($s, db => $db, id => 'ln', lanes => 3,
                    args => ['--batch-size=1000', '--linger-ms=5000']);
ok(wait_for(10, sub { consumer_log($c) =~ /redis: connected/ }), 'restarted');
push_events($ev);
ok(wait_for(10, sub { processing_len('ln') == 90 }),
   'the events linger in the lanes\' processing lists');
$pids = lane_pids($c);
$st = stop_consumer($c, 'TERM', 10);
ok(defined $st && $st == 0 && gone($pids),
   'SIGTERM with batches in hand: exit 0, lanes gone');
ok(drained('ln'), '... after every lane finished its batch');
stored_once($dbh, \@all, 'after SIGTERM');

# --- the supervisor dies: its lanes die with it --------------------------------

$c = start_consumer($s, db => $db, id => 'ln', lanes => 3,
                    args => ['--batch-size=100']);
ok(wait_for(10, sub { keys %{lane_pids($c)} == 3 }), 'three lanes up again');
$pids = lane_pids($c);
sleep 0.1;
kill 'KILL', $c->{pid};
wait_consumer($c, 10);
ok(wait_for(15, sub { gone($pids) }), 'supervisor SIGKILLed: every lane stops');

$c = start_consumer($s, db => $db, id => 'ln', lanes => 2);
ok(wait_for(60, sub { drained('ln') }), 'a restart with fewer lanes drains');
stop_consumer($c, 'TERM', 10);
stored_once($dbh, \@all, 'after lanes and the supervisor were killed');

# --- batches of lanes no longer configured -----------------------------------

# lane 4 of "old_id" left a batch it never stored; lane 5 one it committed
# but did not acknowledge (made by a one-lane consumer "tmp_x" killed after
# its first COMMIT, renamed)
my $left = gen_events(n => 150, seed => 34, prefix => 'lo');
queue_cmd('RPUSH', 'track:processing:old_id/4', @$left);
queue_cmd('SET', 'track:processing:old_id/4:seq', 1);
$dbh->do("INSERT INTO consumer_state (consumer_id, last_seq) VALUES ('old_id/4', 0)");
push @all, @$left;

my $acked = gen_events(n => 120, seed => 35, prefix => 'la');
push_events($acked);
$c = start_consumer($s, db => $db, id => 'tmp_x', args => ['--batch-size=500'],
                    env => { TRACK_CONSUMER_CRASH => 'after_commit:1' });
$st = wait_consumer($c, 30);
ok(defined $st && ($st & 127) == 9 && queue_cmd('LLEN', 'track:processing:tmp_x') == 120,
   'a committed, unacknowledged batch');
queue_cmd('RENAME', 'track:processing:tmp_x', 'track:processing:old_id/5');
queue_cmd('RENAME', 'track:processing:tmp_x:seq', 'track:processing:old_id/5:seq');
$dbh->do("UPDATE consumer_state SET consumer_id = 'old_id/5' WHERE consumer_id = 'tmp_x'");
push @all, @$acked;

# a look-alike id that LIKE 'old_id/%' would match if '_' were not escaped
my $decoy = gen_events(n => 1, seed => 36, prefix => 'ld');
queue_cmd('RPUSH', 'track:processing:oldXid/7', @$decoy);
$dbh->do("INSERT INTO consumer_state (consumer_id, last_seq) VALUES ('oldXid/7', 0)");

$c = start_consumer($s, db => $db, id => 'old_id', lanes => 1);
ok(wait_for(30, sub { queue_cmd('LLEN', 'track:processing:old_id/4') == 0
                      && queue_cmd('LLEN', 'track:processing:old_id/5') == 0 }),
   'a one-lane consumer finishes the lists of lanes 4 and 5');
ok(consumer_log($c) =~ /lane 4 is no longer configured/
   && consumer_log($c) =~ /lane 5 is no longer configured/, '... saying so');
ok(consumer_log($c) =~ /batch \d+ \(120 events\) was committed before/,
   '... acknowledging the committed batch without storing it again');
is(queue_cmd('LLEN', 'track:processing:oldXid/7'), 1, 'another id\'s lanes are not touched');
$st = stop_consumer($c, 'TERM', 10);
is($st, 0, 'exit 0 on SIGTERM');
stored_once($dbh, \@all, 'old lanes finished');

# nothing is left to finish: a restart starts no finisher with work to do
$c = start_consumer($s, db => $db, id => 'old_id', lanes => 1);
ok(wait_for(10, sub { consumer_log($c) =~ /redis: connected/ }), 'restarted');
stop_consumer($c, 'TERM', 10);
stored_once($dbh, \@all, 'restart after finishing');

no_sanitizer_reports();
done_testing();
