# SPDX-License-Identifier: BSD-2-Clause
# A Redis that stops reading (SIGSTOP) while megabytes of events are being
# pushed: the socket buffers fill, a push goes out in pieces as Redis drains
# them, and every event is acknowledged and stored once Redis resumes.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:stall';
my $redis = free_port();
my ($senders, $requests, $batch) = (24, 1, 100);

start_redis("$dir/redis", $redis);

my $port = start_nginx("$dir/nginx", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis;
    track_redis_key $key;
    track_redis_timeout 60s;
    # every sender's push in flight however the workers share them (the
    # gauge below counts sent pushes; with 16 a worker that took most
    # connections kept the rest waiting for a slot, and the wait failed)
    track_redis_max_inflight $senders;
    client_max_body_size 2m;
    client_body_buffer_size 2m;
EOF
        location = /collect {
            track;
            track_max_body_size 2m;
            track_max_prop_length 1000;
        }
        location = /metrics { track_metrics; }
EOF2
my $url = "http://127.0.0.1:$port";

ok(workers_connected($url),
   'both workers are connected');

my $pid = freeze_redis("$dir/redis");

# 4 kB an event, 400 kB a request, 9.6 MB in flight at once: more than
# the socket buffers hold
my $filler = join(',', map { sprintf('"f%d":"%s"', $_, 'x' x 1000) } 1 .. 4);
my @pids;
for my $s (1 .. $senders) {
    my $child = fork() // die "fork: $!";
    if ($child == 0) {
        my $ok = 0;
        for my $r (1 .. $requests) {
            my $body = '[' . join(',', map {
                qq({"app":"a","module":"m","action":"stall",)
                . qq("eid":"st-$s-$r-$_","props":{$filler}})
            } 1 .. $batch) . ']';
            my $res = HTTP::Tiny->new(timeout => 120)->request(
                'POST', "$url/collect",
                { content => $body,
                  headers => { 'Content-Type' => 'text/plain' } });
            $ok++ if $res->{status} == 204 || $res->{status} == 200;
        }
        POSIX::_exit($ok == $requests ? 0 : 1);
    }
    push @pids, $child;
}

ok(wait_for(60, sub {
       metric("$url/metrics", 'track_events_inflight')
           >= $senders * $batch }),
   'a push of every sender is waiting on the stopped Redis');

kill 'CONT', $pid;

my $failed = 0;
for (@pids) {
    waitpid($_, 0);
    $failed++ if $? != 0;
}
is($failed, 0, 'every request was acknowledged once Redis resumed');

my $stored = stored_eids($redis, $key);
my $want = $senders * $requests * $batch;
is(scalar(keys %$stored), $want, "all $want events are in Redis");
is(scalar(grep { $_ != 1 } values %$stored), 0, 'each of them once');

done_testing();
