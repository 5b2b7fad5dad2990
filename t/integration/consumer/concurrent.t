# SPDX-License-Identifier: BSD-2-Clause
# Two consumers of two lanes each on one queue at once, with resent eids
# that reach all of them, one of them SIGKILLed and restarted now and then:
# every event once, statistics equal to the raw tables.
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

my $N = 30000;

queue_cmd('FLUSHALL');
my $db = start_db($s, 'tc_two');
my $dbh = $db->{dbh};
# resends a batch or two apart: the copies reach both consumers at once
my $events = gen_events(n => $N, seed => 77, prefix => 'y', dup => 0.15,
                        near => 400);

my @args = ('--batch-size=200', '--linger-ms=20');
my %o = (db => $db, args => \@args, level => 'debug', lanes => 2);
my $c1 = start_consumer($s, %o, id => 'one');
my $c2 = start_consumer($s, %o, id => 'two');
my $kills = 0;
for (my $i = 0; $i < $N; $i += 1000) {
    my $hi = $i + 999 < $N - 1 ? $i + 999 : $N - 1;
    push_events([@{$events}[$i .. $hi]]);
    if ($i % 5000 == 0) {
        kill 'KILL', $c2->{pid};
        wait_consumer($c2, 10);
        $kills++;
        $c2 = start_consumer($s, %o, id => 'two');
    }
    sleep 0.02;
}
ok(wait_for(120, sub { drained('one', 'two') }), 'both drained the queue');
is(stop_consumer($c1, 'TERM', 20), 0, 'consumer one: exit 0');
is(stop_consumer($c2, 'TERM', 20), 0, 'consumer two: exit 0');

my %by = map { $_->[0] => $_->[1] } @{db_rows($dbh,
    "SELECT consumer_id, events FROM consumer_state")};
ok(($by{one} || 0) > 0 && ($by{'one/1'} || 0) > 0 && ($by{two} || 0) > 0
   && ($by{'two/1'} || 0) > 0,
   "every lane stored events (" . join(', ', map { "$_: $by{$_}" } sort keys %by)
   . "; two killed $kills times)");

my ($collided, $rolled) = (0, 0);
for my $log (glob("$s/consumer-*.log")) {
    my $text = slurp($log);
    $collided++ while $text =~ /eids already stored/g;
    $rolled++ while $text =~ /rolled back/g;
}
ok($collided > 0, "resent eids met stored ones inside transactions ($collided times)");

# one roll-up at a time over both consumers' lanes: it moved when its lane
# was killed, and no two processes counted at once (stored_once() below
# finds every row counted once)
my %holders;
for my $log (glob("$s/consumer-*.log")) {
    my $text = slurp($log);
    $holders{$1} = 1 while $text =~ /\[(\d+)\]: roll-up: this process counts/g;
}
ok(keys %holders >= 2, 'the roll-up moved between processes ('
   . scalar(keys %holders) . ' held it)');
note("$rolled batches rolled back and retried (a race or a deadlock)");

stored_once($dbh, $events, 'two consumers');
my $sum = db_rows($dbh, "SELECT SUM(events), SUM(duplicates) FROM consumer_state")->[0];
is($sum->[0] + $sum->[1], $N, 'stored + duplicates over both = events queued');

no_sanitizer_reports();
done_testing();
