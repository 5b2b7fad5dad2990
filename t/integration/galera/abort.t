# SPDX-License-Identifier: BSD-2-Clause
# Transactions Galera aborts under the consumer: another node commits a
# write to a row the transaction holds locked (a batch's consumer_state row,
# the roll-up's rollup_lock row) and node 0 aborts the local transaction for
# it (a brute-force abort).  Between statements, the next one answers 1213;
# inside one (a SLEEP the test hook puts in the round trip, which the abort
# ends), the error comes with a later statement of the round trip.  Either
# way nothing of the transaction may commit (the statements after an abort
# run in a new one: consumer/late-abort.t).  Each case: every event stored
# once, statistics equal to SQL over the raw rows.
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
my %db = (database => $g->{database}, password => $g->{password});
my $dbh = galera_dbh($g, 2);
my $other = galera_dbh($g, 1);
my @all;

sub bf_aborts { galera_status($g, 0, 'wsrep_local_bf_aborts') // 0 }

# case($name, $env, $stalled, $conflict, $handled): a consumer through node
# 0 with the fault hook $env drains 400 new events; once its log matches
# $stalled, $conflict (SQL) runs on node 1 and node 0 must abort the
# transaction; then the consumer goes on; its log must match $handled
sub case {
    my ($name, $env, $stalled, $conflict, $handled) = @_;
    my $ev = gen_events(n => 400, seed => 1310 + @all, prefix => "gx$name");
    push @all, @$ev;
    push_events($ev);
    my $c = start_consumer($s, db => \%db, id => 'gx',
                           args => ['--batch-size=100'],
                           conf => { mysql_host => galera_hosts($g, 0, 1, 2) },
                           env => $env);
    ok(wait_for(60, sub { consumer_log($c) =~ $stalled }),
       "$name: the transaction is held where the case needs it");
    my $before = bf_aborts();
    $other->do(ref $conflict ? $conflict->() : $conflict);
    ok(wait_for(20, sub { bf_aborts() > $before }),
       "$name: a commit through node 1 aborts it on node 0");
    kill 'CONT', $c->{pid};
    ok(wait_for(60, sub { consumer_log($c) =~ $handled }),
       "$name: it sees the abort");
    ok(wait_for(60, sub { drained('gx') }), "$name: the consumer drains");
    is(stop_consumer($c, 'TERM', 20), 0, "$name: exit 0 on SIGTERM");
    stored_once($dbh, \@all, $name);
    my ($counted) = @{ lane_state($dbh, 'gx',
                                  ['events + duplicates + dead']) };
    is($counted, scalar @all, "$name: the markers count every event once");
}

# idle before its COMMIT: the COMMIT answers 1213
case('idle', { TRACK_CONSUMER_PAUSE => 'before_commit:2' },
     qr/stopping myself at before_commit/,
     "UPDATE consumer_state SET updated_at = updated_at + INTERVAL 1 SECOND"
     . " WHERE consumer_id = 'gx'",
     qr/COMMIT: \(1213\)/);

# busy in the marker's round trip: the marker answers 1213
case('marker', { TRACK_CONSUMER_STALL => 'batch_marker:2' },
     qr/sleeping in the transaction at batch_marker/,
     "UPDATE consumer_state SET updated_at = updated_at + INTERVAL 1 SECOND"
     . " WHERE consumer_id = 'gx'",
     qr/writing the batch marker: \(1213\)/);

# busy in the roll-up's DELETE round trip: the DELETE answers 1213
case('rollup', { TRACK_CONSUMER_STALL => 'rollup_delete:1' },
     qr/sleeping in the transaction at rollup_delete/,
     "UPDATE rollup_lock SET passes = passes + 1 WHERE name = 'rollup'",
     qr/counting rows: \(1213\)/);

no_sanitizer_reports($s);
done_testing();
