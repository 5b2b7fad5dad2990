# SPDX-License-Identifier: BSD-2-Clause
# Crash test: tens of thousands of events while the consumer is killed with
# SIGKILL at random moments and restarted, many times, with 1 to 3 lanes (so
# a restart with fewer lanes finishes the batches the others left); then
# every event must be stored exactly once and the statistics must equal the
# raw tables.
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

my $N = $ENV{TC_CRASH_EVENTS} || 40000;
my $CHUNKS = 40;

queue_cmd('FLUSHALL');
my $db = start_db($s, 'tc_crash');
my $dbh = $db->{dbh};
my $events = gen_events(n => $N, seed => 42, prefix => 'x', dup => 0.05);
my $per = int($N / $CHUNKS);

srand(4242);
my ($kills, $killed_busy) = (0, 0);
for my $i (0 .. $CHUNKS - 1) {
    my $hi = $i == $CHUNKS - 1 ? $N - 1 : ($i + 1) * $per - 1;
    push_events([@{$events}[$i * $per .. $hi]]);
    my $batch = (50, 100, 200, 500)[int(rand(4))];
    my $c = start_consumer($s, db => $db, id => 'crash',
                           lanes => 1 + int(rand(3)),
                           args => ["--batch-size=$batch", '--linger-ms=0']);
    # a random moment of its work: after start-up, which on a loaded
    # machine or in the sanitizer build can take longer than the drain
    wait_for(30, sub { consumer_log($c) =~ /redis: connected/ });
    if ($i % 2) {
        sleep(0.005 + rand(0.1));   # lanes drain a chunk in about 0.1 s
    } else {
        # every other kill waits for a batch in hand, so that kills in the
        # middle of a batch happen however fast the lanes drain a chunk
        wait_for(5, sub { processing_len('crash') > 0 });
    }
    $killed_busy++ if processing_len('crash') > 0;
    kill 'KILL', $c->{pid};
    my $st = wait_consumer($c, 10);
    $kills++ if defined $st && ($st & 127) == 9;
}
ok($kills == $CHUNKS, "$kills SIGKILLs at random moments");
note("$killed_busy of them with a batch in the processing list");
ok($killed_busy >= $CHUNKS / 4, 'many kills hit a batch in hand');

my $c = start_consumer($s, db => $db, id => 'crash', lanes => 1);
# up before the queue is judged: a fast consumer may have drained it before
# the last SIGKILL, and a SIGTERM before start-up kills the process outright
ok(wait_for(30, sub { consumer_log($c) =~ /redis: connected/ })
   && wait_for(120, sub { drained('crash') }), 'the last restart drains the queue');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0 on SIGTERM');

my $replayed = 0;
for my $log (glob("$s/consumer-crash-*.log")) {
    my $text = slurp($log);
    $replayed++ while $text =~ /was committed before/g;
}
note("$replayed restarts found their batch committed and only "
     . "acknowledged it");

stored_once($dbh, $events, "after $kills SIGKILLs");
my $st = lane_state($dbh, 'crash', ['events', 'duplicates']);
my $rows = 0;
$rows += db_rows($dbh, "SELECT COUNT(*) FROM `$_`")->[0][0] for @{day_tables($dbh)};
is($st->[0], $rows, 'consumer_state.events (all lanes) equals the rows stored');
is($st->[0] + $st->[1], $N, 'stored + duplicates = events queued');
my $finished = 0;
for my $log (glob("$s/consumer-crash-*.log")) {
    my $text = slurp($log);
    $finished++ while $text =~ /is no longer configured/g;
}
ok($finished > 0, "restarts with fewer lanes finished the others' lists "
   . "($finished lanes)");

# the roll-up ran in the lanes that were killed: their ranges were counted
# by a later one (stored_once() above: every row counted once, nothing
# pending)
my %rollups;
for my $log (glob("$s/consumer-crash-*.log")) {
    my $text = slurp($log);
    $rollups{$1} = 1 while $text =~ /\[(\d+)\]: roll-up: this process counts/g;
}
ok(keys %rollups >= 10, 'roll-ups ran in ' . scalar(keys %rollups)
   . ' of the killed processes');

no_sanitizer_reports();
done_testing();
