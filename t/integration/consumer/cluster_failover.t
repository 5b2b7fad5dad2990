# SPDX-License-Identifier: BSD-2-Clause
# track-consumer on a Redis Cluster (3 masters, 3 replicas) fed by nginx
# with track_redis_cluster, while the cluster changes under two consumers:
# a master SIGKILLed (the cluster promotes its replica; the consumers learn
# the slot map again and take the leases back), then a shard's slot moved
# to another master with `redis-cli --cluster reshard` under load (TRYAGAIN,
# ASK, MOVED).  Every event answered 2xx stored once, statistics equal to
# the raw rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
my $key = 'it:cfo';

my @ports = start_redis_cluster("$s/cluster");
my $seeds = join ',', map { "127.0.0.1:$_" } @ports[0 .. 2];
my $db = start_db($s, 'tc_cluster_failover');
my $dbh = $db->{dbh};

my $url = start_cluster_nginx("$s/nginx", $key, [@ports[0, 1]],
                              "    track_redis_cluster_shards 3;\n");
my $metrics = "$url/metrics";
my $pixel = "$url/t.gif?app=a&module=m&action=cfo&object={n%50}&uid={p}";
ok(wait_for(15, sub { metric($metrics, 'track_redis_connected_workers') == 6 }),
   'nginx: both workers connect to the three masters');

my %conf = (lease_ms => 1500, cluster_shards => 3, redis_timeout_ms => 1000);
my @c = map { start_consumer("$s/c$_", db => $db, id => "c$_",
                             cluster => $seeds, key => $key, lanes => 2,
                             conf => \%conf) } 1, 2;

my $seed = $ports[1];
sub owners { shard_owners($seed, $key) }
sub drained_all { shards_drained($seed, $key, $metrics) }
sub stored { db_rows($dbh, 'SELECT COALESCE(SUM(events), 0) FROM '
                           . 'consumer_state')->[0][0] }

ok(wait_for(30, sub { keys %{ owners() } == 3 }),
   'the two consumers own the three shards between them')
    or diag(explain(owners()));

# { shard list => master port }
sub lists {
    my $k = shard_keys($seed, $key);
    return { map { $_ => $k->{$_} } grep { /^\Q$key\E:\{s\d\.\d+\}:owner$/ }
             keys %$k };
}

# --- (c) a master SIGKILLed while the consumers run ---------------------------

my %sent = %{ send_events($s, $pixel, 2, 600, 'a') };
is(scalar(grep { $_ != 200 } values %sent), 0, 'all requests answered 200');
my ($victim_lease) = sort keys %{ lists() };
my $victim = lists()->{$victim_lease};
my $i_victim = (grep { $ports[$_] == $victim } 0 .. 5)[0];
# what nginx was told is stored is on the replica before the master dies
is(redis_int($victim, 'wait', 1, 5000), 1, 'the victim\'s replica caught up');
my $before = stored();
kill_redis("$s/cluster/r$i_victim");
redis_forget();
my @alive = grep { $_ != $victim } @ports;
$seed = $alive[0];
my $h = start_sending($s, $pixel, 2, 1000, 'b');
ok(wait_for(30, sub { my $m = cluster_masters($alive[0]);
                      keys %$m == 3 && !$m->{$victim} && cluster_ok($alive[0]) }),
   'the cluster promoted the replica');
%sent = (%sent, %{ finish_sending($h) });
is(scalar(grep { $_ != 200 } values %sent), 0,
   'master down: all requests answered 200 (the spool took its share)');
ok(wait_for(60, \&drained_all), 'the consumers drain every shard again')
    or diag(explain(owners()));
ok(keys %{ owners() } == 3, 'the three shards have owners again');
ok(!grep({ $_ == $victim } values %{ lists() }), 'none on the dead master');
# the lists can look empty a moment before the last batch is committed
# (a spool replayed into a shard just taken over): wait for the rows, then
# check them
my $want = @{ accepted(\%sent) };
wait_for(30, sub { keys %{ db_eids($dbh) } >= $want });
exactly_once($dbh, \%sent, 'master killed');

# --- (d) a shard's slot resharded under load ----------------------------------

my $map = lists();
my $ids = cluster_masters($seed);
# the shard whose slot comes first in its master's range: fewest slots move
my (%first, @cand);
for my $l (sort keys %$map) {
    (my $list = $l) =~ s/:owner$//;
    my $slot = redis_int($seed, 'cluster', 'keyslot', $list);
    my ($lo) = map { $_->[0] } grep { $slot >= $_->[0] && $slot <= $_->[1] }
        @{ redis_cmd($seed, 'CLUSTER', 'SLOTS') };
    push @cand, [$list, $map->{$l}, $slot - $lo + 1];
}
my ($moving, $src, $nslots) = @{ (sort { $a->[2] <=> $b->[2] } @cand)[0] };
my ($dst) = grep { $_ != $src } sort keys %$ids;

# redis-cli moves a source's slots in ascending order: first those below
# the shard's (no load), then, under load, the shard's slot alone
my $reshard = sub {
    my ($n) = @_;
    my $out = `redis-cli --cluster reshard 127.0.0.1:$seed --cluster-from $ids->{$src} --cluster-to $ids->{$dst} --cluster-slots $n --cluster-yes 2>&1`;
    return $? == 0 ? 1 : (diag($out), 0);
};
ok($nslots == 1 || $reshard->($nslots - 1),
   'the slots below the shard\'s moved ahead (' . ($nslots - 1) . ')');
is(lists()->{"$moving:owner"}, $src, "$moving is still on $src");

$h = start_sending($s, $pixel, 2, 1500, 'c');
my $stored_before = stored();
ok(wait_for(30, sub { stored() > $stored_before + 200 }),
   'the consumers store the new load');
ok($reshard->(1), "redis-cli --cluster reshard moves ${moving}'s slot under"
                  . " load from $src to $dst");
my $pushed_at_move = metric($metrics, 'track_events_pushed_total');
%sent = (%sent, %{ finish_sending($h) });
is(scalar(grep { $_ != 200 } values %sent), 0,
   'reshard: all requests answered 200');
my $pushed = metric($metrics, 'track_events_pushed_total');
ok($pushed > $pushed_at_move, 'the load went on after the slot moved '
   . "($pushed_at_move, then $pushed events pushed)");
is(lists()->{"$moving:owner"}, $dst, "$moving is on $dst now");
ok(wait_for(60, \&drained_all), 'the consumers drain every shard')
    or diag(explain(owners()));
exactly_once($dbh, \%sent, 'resharded');
stats_consistent($dbh, 'after the failover and the reshard');

done_testing();
