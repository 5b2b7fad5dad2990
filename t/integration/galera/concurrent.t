# SPDX-License-Identifier: BSD-2-Clause
# Two consumers writing through different Galera nodes at once, from one
# queue with resent events: their batches and their roll-ups conflict on
# shared rows (the id allocator, eids, statistics, the roll-up's turn);
# Galera's certification aborts one side (a deadlock error), which retries.
# Every event once, statistics equal to the raw rows, on the third node.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

need_galera();
consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");
my $g = start_galera($s);

my $events = gen_events(n => 16000, seed => 1302, prefix => 'gc',
                        dup => 0.08, near => 400);
push_events($events);
my %db = (database => $g->{database}, password => $g->{password});
# roll-ups every 50 ms, small batches: they overlap often
my @args = ('--batch-size=100', '--rollup-ms=50');
my $a = start_consumer($s, db => \%db, id => 'ga', args => \@args,
                       conf => { mysql_host => galera_hosts($g, 0, 1, 2) });
my $b = start_consumer($s, db => \%db, id => 'gb', args => \@args,
                       conf => { mysql_host => galera_hosts($g, 1, 2, 0) });

ok(wait_for(120, sub { drained('ga', 'gb') }), 'both drained the queue');
for my $c ($a, $b) {
    my $node = $c->{id} eq 'ga' ? 0 : 1;
    like(consumer_log($c), qr/connected to \Q127.0.0.1:$g->{nodes}[$node]{port}\E/,
         "$c->{id} writes through node $node");
}

my $dbh = galera_dbh($g, 2);
my %want = map { $_->{eid} => 1 } grep { $_ }
           map { TrackTest::Consumer::valid_event($_) }
           @$events;
my $got = db_eids($dbh);
is(scalar(grep { !$got->{$_} } keys %want), 0, 'every event is stored');
is(scalar(grep { $got->{$_} > 1 } keys %$got), 0, '... none twice');
is(scalar(grep { !$want{$_} } keys %$got), 0, '... nothing else');
stats_consistent($dbh, 'two consumers on two nodes');
ok(galera_synced($g, $_), "node $_ Synced in the cluster of three") for 0 .. 2;

# certification conflicts: rolled back and retried, by lanes and roll-ups
my ($lane, $rollup) = (0, 0);
for my $c ($a, $b) {
    for (split /\n/, consumer_log($c)) {
        next unless /\(1213\)/;
        if (/roll-up|stats_|rollup_lock|counting/) { $rollup++ } else { $lane++ }
    }
}
note("deadlock errors (certification conflicts): $lane in batches, $rollup"
     . ' in roll-ups');
ok($lane + $rollup > 0, 'conflicts happened and were retried');
my ($sa, $sb) = map { db_rows($dbh, 'SELECT events FROM consumer_state'
                                    . ' WHERE consumer_id = ?', $_)->[0][0] }
                qw(ga gb);
note("stored by ga: $sa, by gb: $sb");
ok($sa > 0 && $sb > 0, 'both consumers stored events');

is(stop_consumer($_, 'TERM', 20), 0, "$_->{id}: exit 0 on SIGTERM")
    for $a, $b;
no_sanitizer_reports($s);
done_testing();
