# SPDX-License-Identifier: BSD-2-Clause
# Bounded loopback load: N concurrent requests give exactly N events in Redis,
# each a valid event, coalesced into far fewer RPUSH commands.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Test::More;
use TrackTest;

my $requests = $ENV{TRACK_LOAD_REQUESTS} || 20000;
my $concurrency = 64;

my $dir = scratch_dir();
my $redis_port = free_port();
start_redis("$dir/redis", $redis_port);

my $port = start_nginx("$dir/nginx", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;
    track_redis_key it:load;
EOF
        location = /t.gif { track; }
        location = /now.gif { track; track_ack immediate; }
EOF2

# ab sends exactly -n requests over -c keep-alive connections
my $url = "http://127.0.0.1:$port/t.gif?app=load&module=m&action=hit&uid=7";
my $ab = `ab -q -k -n $requests -c $concurrency '$url' 2>&1`;
is($?, 0, 'ab ran') or diag($ab);
my ($complete) = $ab =~ /^Complete requests:\s+(\d+)/m;
my ($failed) = $ab =~ /^Failed requests:\s+(\d+)/m;
my ($non2xx) = $ab =~ /^Non-2xx responses:\s+(\d+)/m;
is($complete, $requests, "$requests requests completed");
is($failed, 0, 'no failed requests');
ok(!$non2xx, 'every answer was 2xx');

my $len = redis_cli($redis_port, 'llen', 'it:load');
is($len, "(integer) $requests\n", "exactly $requests events in Redis");

# every stored element is an event with the right fields
my $raw = `redis-cli -p $redis_port --raw lrange it:load 0 -1`;
my $json = JSON::PP->new;
my ($bad, %ids) = (0);
for my $line (split /\n/, $raw) {
    my $e = eval { $json->decode($line) };
    if (!$e || $e->{app} ne 'load' || $e->{action} ne 'hit'
        || $e->{uid} ne '7' || $e->{eid} !~ /^[0-9a-f]{32}$/)
    {
        $bad++;
        next;
    }
    $ids{$e->{eid}}++;
}
is($bad, 0, 'every event decodes with the right fields');
is(scalar keys %ids, $requests, 'every event id is unique');

my $stats = redis_cli($redis_port, 'info', 'commandstats');
my ($calls) = $stats =~ /cmdstat_rpush:calls=(\d+)/;
ok($calls && $calls < $requests / 4,
   "events coalesced: $requests events in " . ($calls // 0) . ' RPUSHes');

# track_ack immediate: answered before Redis has them, all there soon after
redis_cli($redis_port, 'del', 'it:load');
$url = "http://127.0.0.1:$port/now.gif?app=load&module=m&action=now";
$ab = `ab -q -k -n $requests -c $concurrency '$url' 2>&1`;
($complete) = $ab =~ /^Complete requests:\s+(\d+)/m;
($non2xx) = $ab =~ /^Non-2xx responses:\s+(\d+)/m;
is($complete, $requests, "immediate: $requests requests completed");
ok(!$non2xx, 'immediate: every answer was 2xx');
ok(wait_for(10, sub {
       redis_cli($redis_port, 'llen', 'it:load') eq "(integer) $requests\n"
   }), "immediate: exactly $requests events reach Redis");

done_testing();
