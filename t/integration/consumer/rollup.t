# SPDX-License-Identifier: BSD-2-Clause
# Roll-up crash test: the statistics are counted after the rows commit, by
# one roll-up at a time (a thread of some lane).  SIGKILL it inside its
# transaction at each named point, then at random moments while lanes take
# it over from each other: every event once, statistics equal to the raw
# tables, nothing left pending.
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

# the pid of the process whose roll-up thread took the lock last
sub rollup_pid {
    my ($c) = @_;
    my @p = consumer_log($c) =~ /\[(\d+)\]: roll-up: this process counts/g;
    return $p[-1];
}

sub pending {
    my ($dbh) = @_;
    return $dbh->selectrow_array('SELECT COUNT(*) FROM stats_pending');
}

# --- killed at a point of its transaction ----------------------------------

# small roll-up transactions: many of them, so the second one has work
my @small = ('--rollup-events=300', '--batch-size=100', '--linger-ms=0');
my $seed = 0;
for my $point (qw(rollup_after_read rollup_before_commit rollup_after_commit)) {
    queue_cmd('FLUSHALL');
    (my $db = "tc_ru_$point") =~ s/rollup_//;
    my $d = start_db($s, $db);
    my $dbh = $d->{dbh};
    my $events = gen_events(n => 4000, seed => 300 + $seed++,
                            prefix => "p$seed", dup => 0.05);
    push_events($events);
    my $c = start_consumer($s, db => $d, id => 'ru', args => \@small,
                           env => { TRACK_CONSUMER_CRASH => "$point:2" });
    my $st = wait_consumer($c, 30);
    ok(defined $st && ($st & 127) == 9, "$point: SIGKILLed there");
    ok(consumer_log($c) =~ /TRACK_CONSUMER_CRASH: killing myself at $point/,
       "$point: ... by the roll-up");
    my $left = pending($dbh);
    note("$point: $left ranges pending after the kill");

    $c = start_consumer($s, db => $d, id => 'ru', args => \@small);
    ok(wait_for(60, sub { drained('ru') }), "$point: restarted and drained");
    stored_once($dbh, $events, "roll-up killed at $point");
    is(stop_consumer($c, 'TERM', 20), 0, "$point: exit 0 on SIGTERM");
}

# --- killed at random moments, lanes taking over ---------------------------

queue_cmd('FLUSHALL');
my $rdb = start_db($s, 'tc_ru_random');
my $dbh = $rdb->{dbh};
my $N = $ENV{TC_ROLLUP_EVENTS} || 30000;
my $events = gen_events(n => $N, seed => 99, prefix => 'rr', dup => 0.05);
# the kills come faster than a lane's 2 s of stable life: five in a row of
# one lane would look like a crash loop and leave it down, its processing
# list waiting for a SIGHUP (supervisor.t tests that on purpose)
my $c = start_consumer($s, db => $rdb, id => 'rr', lanes => 3,
                       args => [@small, '--lane-crash-limit=1000']);
ok(wait_for(30, sub { rollup_pid($c) }), 'a lane took the roll-up');

srand(1234);
my ($kills, %holders, $busy) = (0);
my $per = int($N / 10);
for my $i (0 .. 9) {
    my $hi = $i == 9 ? $N - 1 : ($i + 1) * $per - 1;
    push_events([@{$events}[$i * $per .. $hi]]);
    sleep(0.05 + rand(0.3));
    my $pid = rollup_pid($c) or next;
    $holders{$pid} = 1;
    $busy++ if pending($dbh) > 0;
    $kills++ if kill('KILL', $pid) == 1;
    # another lane (or the restarted one) takes the lock over
    wait_for(20, sub { my $p = rollup_pid($c); $p && $p != $pid });
}
ok($kills >= 8, "$kills roll-ups SIGKILLed at random moments");
note("$busy of them with ranges pending");
ok(keys %holders >= 2, 'the roll-up moved between lanes ('
   . scalar(keys %holders) . ' processes held it)');
ok(wait_for(120, sub { drained('rr') }), 'the lanes drain the queue');
ok(rollup_done($dbh, 30), 'the roll-up catches up while running');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0 on SIGTERM');
stored_once($dbh, $events, "after $kills roll-up SIGKILLs");
my $st = lane_state($dbh, 'rr', ['events']);
my ($sum) = $dbh->selectrow_array('SELECT SUM(events) FROM stats_daily');
is($sum, $st->[0], 'stats_daily sums to the events the lanes stored');

# --- a database from before the roll-up ------------------------------------

# day tables filled before the allocator existed (ids from 1): reserved ids
# start above the stored ones, nothing collides
queue_cmd('FLUSHALL');
my $odb = start_db($s, 'tc_ru_old');
my $old = $odb->{dbh};
my $first = gen_events(n => 1000, seed => 7, prefix => 'o1');
my $second = gen_events(n => 1000, seed => 8, prefix => 'o2');
push_events($first);
$c = start_consumer($s, db => $odb, id => 'old');
ok(wait_for(30, sub { drained('old') }), 'first part drained');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');
# the tables of the earlier layout: rows with ids from 1, no allocator
$old->do('DROP TABLE track_ids');
$old->do('DROP TABLE stats_pending');
push_events($second);
$c = start_consumer($s, db => $odb, id => 'old');
ok(wait_for(30, sub { drained('old') }), 'second part drained after the upgrade');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');
my ($collided) = consumer_log($c) =~ /^(.*rolled back.*)$/m;
ok(!$collided, 'no batch collided with the stored ids')
    or diag($collided);
stored_once($old, [@$first, @$second], 'upgraded in place');

# --- --drain with the roll-up far behind the rows -------------------------

# every counted range costs 50 ms (a trigger on its delete) and the roll-up
# waits for the stop: at the end of the queue ~250 ranges, over 12 s, are
# left; --drain still exits only with complete statistics, since they go
# on falling (a SIGTERM stop would wait 10 s at most)
queue_cmd('FLUSHALL');
my $ddb = start_db($s, 'tc_ru_drain');
my $drain_dbh = $ddb->{dbh};
$c = start_consumer($s, db => $ddb, id => 'dr', conf => { drain => 'yes' });
is(wait_consumer($c, 30), 0, '--drain of an empty queue: schema made, exit 0');
$drain_dbh->do('CREATE TRIGGER slow_rollup BEFORE DELETE ON stats_pending'
               . ' FOR EACH ROW SET @slept = SLEEP(0.05)');
my $backlog = gen_events(n => 25000, seed => 11, prefix => 'dr');
push_events($backlog);
$c = start_consumer($s, db => $ddb, id => 'dr', conf => { drain => 'yes' },
                    args => ['--batch-size=100', '--rollup-events=100',
                             '--rollup-ms=60000', '--linger-ms=0']);
is(wait_consumer($c, 120), 0, '--drain with a slow roll-up: exit 0');
is($drain_dbh->selectrow_array('SELECT COUNT(*) FROM stats_pending'), 0,
   '... once every range is counted');
ok(consumer_log($c) !~ /not counted in the statistics yet/,
   '... without giving up on the roll-up');
$drain_dbh->do('DROP TRIGGER slow_rollup');
stored_once($drain_dbh, $backlog, '--drain behind a slow roll-up');

no_sanitizer_reports();
done_testing();
