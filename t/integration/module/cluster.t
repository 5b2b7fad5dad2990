# SPDX-License-Identifier: BSD-2-Clause
# track_redis_cluster against a local Redis Cluster (3 masters, 3
# replicas): every accepted event in exactly one shard list, the lists on
# different masters, a slot migrated under load (ASK, then MOVED), and a
# master SIGKILLed: its share spooled, replayed to its promoted replica.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:cl';

# --- the cluster -------------------------------------------------------------

my @ports = start_redis_cluster($dir);
ok(!grep({ !cluster_ok($_) } @ports)
   && keys %{ cluster_masters($ports[0]) } == 3,
   'the cluster is up on all six nodes, with three masters');

# -> { list key => master port } of the shard lists (of $prefix, default
# $key)
sub lists {
    my ($prefix) = @_;
    $prefix //= $key;
    my %at;
    for my $m (keys %{ cluster_masters($ports[0]) }) {
        for my $k (split /\n/, redis_cli($m, '--raw', 'keys', "$prefix:*")) {
            next if $k =~ /:spool:/;
            $at{$k} = $m;
        }
    }
    return \%at;
}

# every answered 2xx event once across the lists, none more than once
sub check_once {
    my ($what, $sent, $prefix) = @_;
    my %n;
    my $at = lists($prefix);
    for my $k (keys %$at) {
        my $in = stored_eids($at->{$k}, $k);
        $n{$_} += $in->{$_} for keys %$in;
    }
    my @ok = grep { $sent->{$_} == 200 } keys %$sent;
    my @lost = grep { !$n{$_} } @ok;
    my @twice = grep { $n{$_} > 1 } keys %n;
    is(scalar @lost, 0, "$what: all " . scalar(@ok) . ' accepted events are'
                        . ' in a shard list') or diag("lost: @lost[0 .. 9]");
    is(scalar @twice, 0, "$what: none twice")
        or diag("twice: @twice[0 .. 9]");
    return \%n;
}

# --- nginx -------------------------------------------------------------------

my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis_cluster 127.0.0.1:$ports[0] 127.0.0.1:$ports[1];
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $dir/nginx/spool;
EOF
my $metrics = "$url/metrics";
my $pixel = "$url/t.gif?app=a&module=m&action=cl&object={n%50}&uid={p}";

ok(wait_for(15, sub {
       metric($metrics, 'track_redis_connected_workers') == 6 }),
   'both workers connect to each of the three masters');

# 1. the shard lists: three, on three masters
my $sent = send_events($dir, $pixel, 2, 300, 'a');
is(scalar(grep { $_ != 200 } values %$sent), 0, 'all requests answered 200');
check_once('spread', $sent);
my %all = %$sent;
my $at = lists();
is(scalar keys %$at, 3, 'three shard lists')
    or diag(join ' ', %$at);
my %masters_used = map { $_ => 1 } values %$at;
is(scalar keys %masters_used, 3, 'each on a different master');
for my $k (sort keys %$at) {
    ok(redis_int($at->{$k}, 'llen', $k) > 0, "$k got its share");
}
is(metric($metrics, 'track_events_spooled_total'), 0, 'nothing spooled');

# 1b. more lists than masters: spread over all of them
{
    my $url8 = start_pixel_nginx("$dir/nginx8", <<"EOF");
    track_redis_cluster 127.0.0.1:$ports[2];
    track_redis_cluster_shards 8;
    track_redis_key $key-8;
EOF
    ok(wait_for(15, sub {
           metric("$url8/metrics", 'track_redis_connected_workers') == 6 }),
       '8 lists: connected to the masters');
    my $sent8 = send_events($dir, "$url8/t.gif?app=a&module=m&action=c8",
                            2, 200, 'e');
    is(scalar(grep { $_ != 200 } values %$sent8), 0,
       '8 lists: all requests answered 200');
    check_once('8 lists', $sent8, "$key-8");
    my $at8 = lists("$key-8");
    is(scalar keys %$at8, 8, 'eight shard lists');
    my %per;
    $per{$_}++ for values %$at8;
    is(scalar keys %per, 3, 'on all three masters')
        or diag(join ' ', %per);
    ok(!grep({ $_ < 2 } values %per), 'at least two on each');
}

# 2. a shard list's slot migrated under load: ASK while it moves, MOVED after
my ($moving) = sort keys %$at;
my $src = $at->{$moving};
my ($dst) = grep { $_ != $src } sort keys %masters_used;
my $ids = cluster_masters($ports[0]);
my $slot = redis_int($src, 'cluster', 'keyslot', $moving);

my $h = start_sending($dir, $pixel, 2, 1500, 'b');
wait_for(20, sub { redis_int($src, 'llen', $moving) > 400 });
redis_cli($dst, 'cluster', 'setslot', $slot, 'importing', $ids->{$src});
redis_cli($src, 'cluster', 'setslot', $slot, 'migrating', $ids->{$dst});
my $migrated = redis_cli($src, 'migrate', '127.0.0.1', $dst, $moving, 0,
                         5000);
redis_cli($_, 'cluster', 'setslot', $slot, 'node', $ids->{$dst})
    for ($dst, $src, grep { $_ != $src && $_ != $dst } keys %$ids);
$sent = finish_sending($h);
%all = (%all, %$sent);

like($migrated, qr/OK/, "$moving migrated from $src to $dst");
is(scalar(grep { $_ != 200 } values %$sent), 0,
   'migration: all requests answered 200');
is(lists()->{$moving}, $dst, "$moving is on $dst now");
check_once('migration', $sent);
is(metric($metrics, 'track_events_spooled_total'), 0,
   'migration: nothing spooled (the redirections were followed)');

# 3. a master killed: its share spooled, then replayed to its successor
my ($victim_key) = grep { $at->{$_} != $dst && $_ ne $moving } sort keys %$at;
my $victim = $at->{$victim_key};
my $i_victim = (grep { $ports[$_] == $victim } 0 .. 5)[0];
# what it acknowledged is on its replica before it dies
is(redis_int($victim, 'wait', 1, 5000), 1, 'the victim\'s replica caught up');
kill_redis("$dir/r$i_victim");
redis_forget();
my @alive = grep { $_ != $victim } @ports;

my $before = metric($metrics, 'track_events_pushed_total');
my $down = send_events($dir, $pixel, 2, 300, 'c');
is(scalar(grep { $_ != 200 } values %$down), 0,
   'master down: all requests answered 200');
my $spooled = metric($metrics, 'track_events_spooled_total');
ok($spooled > 0, "master down: its share went to the spool ($spooled)");
ok($spooled < 600, 'and only its share');
ok(metric($metrics, 'track_events_pushed_total') > $before,
   'the other shards kept their normal path');

ok(wait_for(30, sub {
       my $m = cluster_masters($alive[0]);
       keys %$m == 3 && !$m->{$victim} && cluster_ok($alive[0]) }),
   'the cluster promoted the replica');
ok(wait_for(30, sub {
       metric($metrics, 'track_events_replayed_total') >= $spooled
       && metric($metrics, 'track_spool_bytes') == 0 }),
   'the spool was replayed');
$at = lists();
ok(!grep({ $_ == $victim } values %$at), 'no list on the dead master');
check_once('failover', { %all, %$down });

my $log = slurp("$dir/nginx/logs/error.log");
unlike($log, qr/\[(alert|crit)\]|signal \d+/, 'no alert, crash or critical');

done_testing();
