# SPDX-License-Identifier: BSD-2-Clause
# track-consumer on a Redis Cluster with fewer lanes than shards: the lanes
# take turns, so every shard is worked.  One consumer with a lane per shard
# never gives a shard up (track_consumer_shard_turns_total stays 0); then
# one with a single lane for the three shards, under load through nginx
# with track_redis_cluster, drains all three, stores every 2xx event once,
# and the statistics equal the raw rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use List::Util qw(sum0);
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
my $key = 'it:ctn';
my %conf = (lease_ms => 1500, cluster_shards => 3);

my @ports = start_redis_cluster("$s/cluster");
my $seeds = "127.0.0.1:$ports[0],127.0.0.1:$ports[1]";
my $db = start_db($s, 'tc_turns');
my $dbh = $db->{dbh};
my $stats = start_stats("$s/stats", db => $db,
                        args => ['--settle', '0',
                                 '--mysql-database', $db->{database}]);

my $url = start_pixel_nginx("$s/nginx", <<"EOF2");
    track_redis_cluster 127.0.0.1:$ports[0] 127.0.0.1:$ports[2];
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $s/nginx/spool;
EOF2
my $pixel = "$url/t.gif?app=a&module=m&action=ctn&object={n%50}&uid={p}";
ok(wait_for(15, sub {
       metric("$url/metrics", 'track_redis_connected_workers') == 6 }),
   'nginx: both workers connect to the three masters');
sub drained_all { shards_drained($ports[1], $key, "$url/metrics") }

# the shard turns track-stats reports: { shard's consumer id => count }
sub turns {
    my $body = json_get($stats, '/stats/v1/metrics')->{content} // '';
    return { $body =~ /^track_consumer_shard_turns_total
                       \{consumer="([^"]+)"\}\ (\d+)$/mgx };
}

# --- (a) a lane per shard: no turns --------------------------------------

my $full = start_consumer("$s/full", db => $db, id => 'full',
                          cluster => $seeds, key => $key, lanes => 3,
                          level => 'debug', conf => \%conf);
ok(wait_for(30, sub { my $o = shard_owners($ports[1], $key); keys %$o == 3 }),
   'consumer full owns the three shards (lanes = 3)');
my $h = start_sending($s, $pixel, 2, 1000, 'a');
# each lane looked for a shard without owner twice, and found none
ok(wait_for(60, sub {
       my @n = consumer_log($full) =~ /every other shard has an owner/g;
       @n >= 6 }), 'the lanes look for shards without owner');
my %sent = %{ finish_sending($h) };
ok(wait_for(60, \&drained_all), 'consumer full drains the shard lists');
exactly_once($dbh, \%sent, 'a lane per shard');
my $t = turns();
is_deeply([scalar(keys %$t), sum0(values %$t)], [3, 0],
          'no shard changed hands: three shards, no turns')
    or diag(explain($t), json_get($stats, '/stats/v1/metrics')->{content});
unlike(consumer_log($full), qr/for its turn|lanes take turns/,
       'no turn and no warning logged');
is(stop_consumer($full), 0, 'consumer full stops');

# --- (b) one lane, three shards: turns -------------------------------------

my $one = start_consumer("$s/one", db => $db, id => 'one', cluster => $seeds,
                         key => $key, lanes => 1, conf => \%conf);
ok(wait_for(10, sub { consumer_log($one)
                      =~ /1 lane\(s\) for 3 shards: unless other consumers/ }),
   'a single lane for three shards is noted at start');
$h = start_sending($s, $pixel, 2, 1500, 'b');
ok(wait_for(60, sub { sum0(values %{ turns() }) >= 2 }),
   'the lane gives shards up for the others\' turns (the metric counts)')
    or diag(explain(turns()));
%sent = (%sent, %{ finish_sending($h) });
is(scalar(grep { $_ != 200 } values %sent), 0, 'all requests answered 200');
ok(wait_for(90, \&drained_all), 'one lane drains all three shard lists');
exactly_once($dbh, \%sent, 'one lane taking turns');
stats_consistent($dbh, 'one lane taking turns');
like(consumer_log($one),
     qr/giving shard \d+ "\Q$key\E:\{s\d\.\d+\}" up for its turn/,
     'the turns are logged');
is(scalar(() = consumer_log($one) =~ /\[warn\].*the lanes take turns/g), 1,
   'the first turn is warned about, once');
is(stop_consumer($one), 0, 'consumer one stops');

done_testing();
