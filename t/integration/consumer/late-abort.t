# SPDX-License-Identifier: BSD-2-Clause
# A transaction rolled back under the consumer without an error: what a
# Galera abort reported late looks like to the client (galera/abort.t has
# real aborts).  The statements after it run in a new transaction, so a
# marker could commit without its batch's rows (the batch lost), a DELETE
# of pending ranges without their counters (rows never counted), or a
# COMMIT succeed with nothing to commit.  The test hook puts a ROLLBACK in
# front of a round trip; each time the consumer must notice and redo: every
# event once, statistics equal to SQL over the raw rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");

my %noticed = (
    batch_marker  => qr/aborted before its marker/,
    batch_commit  => qr/COMMIT succeeded, but its marker is not there/,
    rollup_delete => qr/or the pass was aborted/,
    rollup_commit => qr/COMMIT succeeded, but \d+ of its \d+ pending ranges/,
);
my $seed = 0;
for my $point (sort keys %noticed) {
    queue_cmd('FLUSHALL');
    my $d = start_db($s, "tc_la_$point");
    my $events = gen_events(n => 1000, seed => 400 + $seed++,
                            prefix => "la$seed", dup => 0.05);
    push_events($events);
    my $c = start_consumer($s, db => $d, id => 'la',
                           args => ['--batch-size=100', '--linger-ms=0',
                                    '--rollup-events=300'],
                           env => { TRACK_CONSUMER_ROLLBACK => "$point:"
                                    . ($point =~ /^rollup/ ? 1 : 2) });
    ok(wait_for(30, sub { consumer_log($c)
                          =~ /rolling the transaction back .* at $point/ }),
       "$point: rolled back there");
    ok(wait_for(30, sub { consumer_log($c) =~ $noticed{$point} }),
       "$point: the consumer notices");
    ok(wait_for(60, sub { drained('la') }), "$point: and drains");
    stored_once($d->{dbh}, $events, "rolled back at $point");
    my ($counted) = @{ lane_state($d->{dbh}, 'la',
                                  ['events + duplicates + dead']) };
    is($counted, scalar @$events, "$point: the markers count every event once");
    is(stop_consumer($c, 'TERM', 20), 0, "$point: exit 0 on SIGTERM");
}

no_sanitizer_reports($s);
done_testing();
