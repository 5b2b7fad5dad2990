# SPDX-License-Identifier: BSD-2-Clause
# Redis stopped and restarted under load: 503 while it is down, no 2xx event
# lost, every worker back to 2xx afterwards; and a Redis that accepts but
# never answers: 503 after track_redis_timeout.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use Test::More;
use TrackTest;

my $requests = 100000;

my $dir = scratch_dir();
my $redis_port = free_port();
my @redis_args = "--appendonly yes --appendfsync always";
start_redis("$dir/redis", $redis_port, "@redis_args");

my $base = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_key it:restart;
    track_redis_max_backoff 200ms;
EOF

sub stored {
    my ($n) = redis_cli($redis_port, 'llen', 'it:restart') =~ /(\d+)/;
    return $n // -1;
}

# load in the background while Redis goes away and comes back
my $ab_out = "$dir/ab.out";
my $pid = fork();
if ($pid == 0) {
    exec("ab -q -k -n $requests -c 16 '$base/t.gif?app=a&module=m&action=x'"
         . " >$ab_out 2>&1");
}

ok(wait_for(30, sub { stored() > 1000 }), 'events flow before the outage');

stop_redis("$dir/redis");
ok(wait_for(30, sub {
       metric("$base/metrics", 'track_events_failed_total') > 100 }),
   'requests get 503 while Redis is down');
is(http('GET', "$base/ok")->{status}, 200,
   'other locations answer while Redis is down');

start_redis("$dir/redis", $redis_port, "@redis_args");

waitpid($pid, 0);
my $ab = do { local (@ARGV, $/) = $ab_out; <> };
my ($complete) = $ab =~ /^Complete requests:\s+(\d+)/m;
my ($non2xx) = $ab =~ /^Non-2xx responses:\s+(\d+)/m;
$non2xx //= 0;
is($complete, $requests, 'every request was answered');
ok($non2xx > 0, "$non2xx requests got 503 during the outage");

# an event Redis stored just before it stopped may have lost its reply: the
# client saw 503, so there may be more stored events than 2xx, never fewer
my $ok2xx = $complete - $non2xx;
my $n = stored();
ok($n >= $ok2xx && $n <= $complete,
   "no acknowledged event lost: $ok2xx answered 2xx, $n stored");

# every worker reconnects: a run of requests all succeed
ok(wait_for(10, sub {
       http('GET', "$base/t.gif?app=a&module=m&action=after")->{status} == 200
   }), 'accepting again after Redis came back');
my @statuses = map {
    http('GET', "$base/t.gif?app=a&module=m&action=after")->{status}
} 1 .. 100;
is(scalar(grep { $_ != 200 } @statuses), 0,
   'no worker stuck: 100 requests after recovery all 2xx');

# a server that accepts connections but never answers
my $blackhole = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1',
                                      LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
my $bh_port = $blackhole->sockport;
my $port2 = start_nginx("$dir/nginx2", <<"EOF", workers => 1,
    track_redis 127.0.0.1:$bh_port;
    track_redis_timeout 300ms;
EOF
    locations => 'location = /t.gif { track; }');

my $res = http('GET', "http://127.0.0.1:$port2/t.gif?app=a&module=m&action=x");
is($res->{status}, 503, 'no reply from Redis: 503');
like($res->{content}, qr/"error":"unavailable"/, 'with a JSON reason');
my $log = do { local (@ARGV, $/) = "$dir/nginx2/logs/error.log"; <> };
like($log, qr/track: redis at 127\.0\.0\.1:$bh_port: no reply in time/,
     'the log says Redis did not answer in time');
is(http('GET', "http://127.0.0.1:$port2/ok")->{status}, 200,
   'the worker still serves other locations');

done_testing();
