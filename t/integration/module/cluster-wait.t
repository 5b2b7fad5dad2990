# SPDX-License-Identifier: BSD-2-Clause
# track_redis_wait_replicas and track_redis_max_queue with
# track_redis_cluster, against a local Redis Cluster (3 masters, 3
# replicas): every push is followed by WAIT on its master; a master whose
# replica is frozen gets its share spooled while the other lists keep
# their normal path, and the spool is replayed once the replica is back;
# the queue ceiling holds over the sum of the shard lists.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:cw';

my @ports = start_redis_cluster($dir);

# WAIT commands a node has run
sub waits {
    my ($port) = @_;
    my $out = redis_cli($port, 'info', 'commandstats') // '';
    return $out =~ /^cmdstat_wait:calls=(\d+)/m ? $1 : 0;
}

# the 'b'-tagged events in a list
sub tagged {
    my ($port, $list, $tag) = @_;
    return scalar grep { /^$tag-/ } keys %{ stored_eids($port, $list) };
}

# --- WAIT per master ---------------------------------------------------------

my $url = start_cluster_nginx("$dir/nginx", $key, [$ports[0]], <<"EOF");
    track_redis_wait_replicas 1;
    track_redis_wait_timeout 100ms;
EOF
my $metrics = "$url/metrics";
my $pixel = "$url/t.gif?app=a&module=m&action=cw&object={n%50}&uid={p}";

ok(wait_for(15, sub {
       metric($metrics, 'track_redis_connected_workers') == 6 }),
   'both workers connect to each of the three masters');

# 1. replicas up: every push confirmed by WAIT on its own master
my $sent = send_events($dir, $pixel, 2, 150, 'a');
my %all = %$sent;
is(scalar(grep { $_ != 200 } values %$sent), 0, 'all requests answered 200');
cluster_check_once($ports[0], 'replicated', $sent, $key);
is(metric($metrics, 'track_events_spooled_total'), 0, 'nothing spooled');
my $at = cluster_lists($ports[0], $key);
is(scalar keys %$at, 3, 'three shard lists');
my $pushes = metric($metrics, 'track_redis_pushes_total');
my $waited = 0;
for my $m (sort values %$at) {
    my $n = waits($m);
    ok($n > 0, "master $m ran WAIT ($n)");
    $waited += $n;
}
ok($waited >= $pushes, "a WAIT for every push ($waited for $pushes)");

# 2. one master's replica frozen: that master's share is spooled
my ($victim_key) = sort keys %$at;
my $victim = $at->{$victim_key};
my $replica = cluster_replica($ports[0], $victim);
ok(defined $replica, "master $victim has a replica");
my ($i_replica) = grep { $ports[$_] == $replica } 0 .. 5;
my $pid = freeze_redis("$dir/r$i_replica");

my $pushed0 = metric($metrics, 'track_events_pushed_total');
$sent = send_events($dir, $pixel, 2, 60, 'b');
%all = (%all, %$sent);
is(scalar(grep { $_ != 200 } values %$sent), 0,
   'replica frozen: all requests answered 200');
my $spooled = metric($metrics, 'track_events_spooled_total');
my $pushed = metric($metrics, 'track_events_pushed_total') - $pushed0;
ok($spooled > 0, "replica frozen: its master's share was spooled ($spooled)");
ok($pushed > 0, "the others were pushed ($pushed)");
is($pushed + $spooled, 120, 'each event either confirmed or spooled');
for my $k (grep { $_ ne $victim_key } sort keys %$at) {
    ok(tagged($at->{$k}, $k, 'b') > 0, "$k kept taking its share");
}
my $log = slurp("$dir/nginx/logs/error.log");
like($log, qr/\[warn\].*reached 0 of 1 replicas .* spooled as well/,
     'the log says why they were spooled');

# 3. the replica back: the spool is replayed, and new pushes are confirmed
kill 'CONT', $pid;
ok(wait_for(30, sub {
       metric($metrics, 'track_events_replayed_total') >= $spooled
       && metric($metrics, 'track_spool_bytes') == 0 }),
   'the spool was replayed once the replica was back');
# the spooled events were pushed too (their WAIT fell short): twice at most
cluster_check_once($ports[0], 'after the freeze', \%all, $key, $spooled);

$sent = send_events($dir, $pixel, 2, 30, 'c');
%all = (%all, %$sent);
is(scalar(grep { $_ != 200 } values %$sent), 0,
   'replica back: all requests answered 200');
is(metric($metrics, 'track_events_spooled_total'), $spooled,
   'and none spooled');

# --- the queue's ceiling over the shard lists --------------------------------

{
    my $qkey = 'it:cq';
    my $port = start_nginx("$dir/ceiling", <<"EOF", workers => 1,
    track_redis_cluster 127.0.0.1:$ports[0];
    track_redis_key $qkey;
    track_redis_cluster_shards 3;
    track_redis_max_queue 60;
    track_spool $dir/ceiling/spool;
EOF
        locations => 'location = /t.gif { track; }
                      location = /metrics { track_metrics; }');
    my $qurl = "http://127.0.0.1:$port";
    ok(wait_for(15, sub {
           metric("$qurl/metrics", 'track_redis_connected_workers') == 3 }),
       'ceiling: connected to the three masters');

    my $qsent = send_events($dir, "$qurl/t.gif?app=a&module=m&action=cq",
                            1, 150, 'q');
    is(scalar(grep { $_ == 200 } values %$qsent), 150, 'all 150 accepted');
    my $lists = cluster_lists($ports[0], $qkey);
    is(scalar keys %$lists, 3, 'three shard lists');
    my $total = 0;
    $total += redis_int($lists->{$_}, 'llen', $_) for keys %$lists;
    # each list alone stays far below 60: only their sum reaches it
    ok($total >= 60 && $total < 90,
       "the lists together stopped near the ceiling ($total)");
    is(metric("$qurl/metrics", 'track_queue_length'), $total,
       'track_queue_length is their sum');
    ok(metric("$qurl/metrics", 'track_events_spooled_total') > 0,
       'the rest went to the spool');
    is(metric("$qurl/metrics", 'track_throttled_workers'), 1,
       'the worker says it is throttled');
    my $why = '\[warn\].*"' . $qkey . '" \(its shard lists\) holds \d+ '
              . 'events, at its ceiling of 60';
    like(slurp("$dir/ceiling/logs/error.log"), qr/$why/,
         'and the log says why');

    # consumers take the lists away: the spool follows into Redis
    my %taken;
    for my $k (keys %$lists) {
        my $in = stored_eids($lists->{$k}, $k);
        $taken{$_} += $in->{$_} for keys %$in;
        redis_cli($lists->{$k}, 'del', $k);
    }
    ok(wait_for(30, sub {
           metric("$qurl/metrics", 'track_spool_bytes') == 0 }),
       'the spool drained after the lists did');
    my $rest = cluster_check_once($ports[0], 'ceiling: replayed',
                                  { map { $_ => 200 }
                                    grep { !$taken{$_} } keys %$qsent },
                                  $qkey);
    ok(!(grep { exists $taken{$_} } keys %$rest), 'none of them twice');

    # the replay's pushes tell the lengths too: one list took the whole
    # spool file, and the sum is what the worker knows
    my $replayed = 0;
    $replayed += redis_int($lists->{$_}, 'llen', $_) for keys %$lists;
    is(metric("$qurl/metrics", 'track_queue_length'), $replayed,
       "track_queue_length counts the replayed events ($replayed)");
    is(metric("$qurl/metrics", 'track_throttled_workers'),
       $replayed >= 60 ? 1 : 0, 'throttled exactly when they reach 60');
    redis_cli($lists->{$_}, 'del', $_) for keys %$lists;
    ok(wait_for(10, sub {
           metric("$qurl/metrics", 'track_throttled_workers') == 0 }),
       'the lists taken again: the worker is no longer throttled');
}

$log = slurp("$dir/nginx/logs/error.log")
       . slurp("$dir/ceiling/logs/error.log");
unlike($log, qr/\[(alert|crit)\]|signal \d+/, 'no alert, crash or critical');

done_testing();
