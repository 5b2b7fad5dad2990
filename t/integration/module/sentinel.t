# SPDX-License-Identifier: BSD-2-Clause
# Redis Sentinel failover under load: the replica is promoted, the old master
# killed; the module follows the new master without a restart and no
# accepted event is lost (WAIT makes an acknowledged event a replicated one).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:sentinel';
my ($master, $replica1, $replica2, $sentinel) = map { free_port() } 1 .. 4;

ok(start_replicated_redis($dir, $master, [$replica1, $replica2]),
   'both replicas follow the master');
start_sentinel("$dir/sentinel", $sentinel, 'mymaster', $master);

my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis_sentinel 127.0.0.1:$sentinel;
    track_redis_master mymaster;
    track_redis_key $key;
    track_redis_wait_replicas 1;
    track_redis_timeout 1s;
    track_redis_max_backoff 200ms;
    track_spool $dir/nginx/spool;
EOF

ok(workers_connected($url),
   'both workers found the master through the sentinel');

my $h = start_sending($dir, "$url/t.gif?app=a&module=m&action=failover",
                      4, 1500, 'fo');
wait_for(30, sub { `redis-cli -p $master llen $key` >= 1000 });

my $pid = do { local (@ARGV) = "$dir/master/redis.pid"; <> };
kill 'KILL', $pid;

my $new;
ok(wait_for(60, sub {
       ($new) = grep { role_of($_) eq 'master' } $replica1, $replica2;
       defined $new }),
   'a replica was promoted');

my $sent = finish_sending($h);
is(scalar(grep { $_ != 200 } values %$sent), 0,
   'every request answered 2xx through the failover');

ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
   'whatever was spooled during the failover is replayed');

my $stored = stored_eids($new, $key);
my @lost = grep { !$stored->{$_} } keys %$sent;
is(scalar @lost, 0, 'every accepted event is on the new master')
    or diag("lost: @lost[0 .. 9]");

my $log = do { local (@ARGV, $/) = "$dir/nginx/logs/error.log"; <> };
like($log, qr/sentinels name 127\.0\.0\.1:$new as master "mymaster"/,
     'the log names the new master');

my ($before) = redis_cli($new, 'llen', $key) =~ /(\d+)/;
my $after = http('GET', "$url/t.gif?app=a&module=m&action=after");
is($after->{status}, 200, 'accepting after the failover');
# directly, or through the spool when WAIT timed out while the other
# replica was still attaching to the new master
ok(wait_for(30, sub {
       my ($now) = redis_cli($new, 'llen', $key) =~ /(\d+)/;
       $now >= $before + 1 }),
   'and pushing to the new master');

done_testing();
