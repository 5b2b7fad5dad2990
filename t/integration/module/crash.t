# SPDX-License-Identifier: BSD-2-Clause
# Failures under load lose no accepted event: nginx reloaded, Redis killed
# and restarted, a worker killed while it appends to the spool.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:crash';

sub nginx_for {
    my ($name, $redis_port) = @_;
    return start_nginx("$dir/$name", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $dir/$name/spool;
EOF
        location = /t.gif { track; }
        location = /metrics { track_metrics; }
EOF2
}

sub worker_pids {
    my ($name) = @_;
    my $master = do { local (@ARGV) = "$dir/$name/nginx.pid"; <> };
    chomp $master;
    my @pids = `ps -o pid= --ppid $master`;
    s/\s+//g for @pids;
    return grep { length } @pids;
}

# every event answered 2xx is in Redis; returns the stored counts
sub check_accepted {
    my ($what, $sent, $redis_port) = @_;
    my @ok = grep { $sent->{$_} == 200 } keys %$sent;
    my $stored = stored_eids($redis_port, $key);
    my @lost = grep { !$stored->{$_} } @ok;
    is(scalar @lost, 0, "$what: all " . scalar(@ok) . ' accepted events are '
                        . 'in Redis') or diag("lost: @lost[0 .. 9]");
    return $stored;
}

# 1. reloads under load: old workers finish their pushes
{
    my $redis_port = free_port();
    start_redis("$dir/reload-redis", $redis_port);
    my $port = nginx_for('reload', $redis_port);
    my $h = start_sending($dir, "http://127.0.0.1:$port/t.gif?app=a&module=m"
                                . '&action=reload', 4, 1500, 'reload');
    for my $n (1 .. 3) {
        wait_for(30, sub { `redis-cli -p $redis_port llen $key` >= 1000 * $n });
        reload_nginx("$dir/reload");
    }
    my $sent = finish_sending($h);
    # an old worker closes idle keep-alive connections: a request racing
    # that close fails on the client's side (599) and was never accepted;
    # any answer from nginx itself must be a 2xx
    my @answered = grep { $_ != 599 } values %$sent;
    is(scalar(grep { $_ != 200 } @answered), 0,
       'reload: every answered request got 2xx');
    ok(@answered >= 0.99 * keys %$sent,
       'reload: ' . scalar(@answered) . ' of ' . scalar(keys %$sent)
       . ' requests answered');
    my $stored = check_accepted('reload', $sent, $redis_port);
    is(scalar(grep { $_ > 1 } values %$stored), 0, 'reload: no duplicates');
}

# 2. Redis killed (SIGKILL, AOF fsync always) under load, then restarted
{
    my $redis_port = free_port();
    my $args = '--appendonly yes --appendfsync always';
    start_redis("$dir/kill-redis", $redis_port, $args);
    my $port = nginx_for('kill', $redis_port);
    my $url = "http://127.0.0.1:$port";
    my $h = start_sending($dir, "$url/t.gif?app=a&module=m&action=kill",
                          4, 1500, 'kill');
    wait_for(30, sub { `redis-cli -p $redis_port llen $key` >= 1000 });
    kill_redis("$dir/kill-redis");
    ok(wait_for(30, sub {
           metric("$url/metrics", 'track_events_spooled_total') > 200 }),
       'redis killed: events go to the spool');
    start_redis("$dir/kill-redis", $redis_port, $args);
    my $sent = finish_sending($h);
    is(scalar(grep { $_ != 200 } values %$sent), 0,
       'redis killed: every request answered 2xx');
    ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
       'redis killed: the spool drained after the restart');
    check_accepted('redis killed', $sent, $redis_port);
}

# 3. a worker killed while it appends to the spool
{
    my $redis_port = free_port();
    my $port = nginx_for('worker', $redis_port);
    my $url = "http://127.0.0.1:$port";
    my $h = start_sending($dir, "$url/t.gif?app=a&module=m&action=worker",
                          4, 1500, 'worker');
    wait_for(30, sub {
        metric("$url/metrics", 'track_events_spooled_total') > 1000 });
    my @workers = worker_pids('worker');
    kill 'KILL', $workers[0];
    my $sent = finish_sending($h);
    my $ok = grep { $_ == 200 } values %$sent;
    ok($ok > 5000, "worker killed: $ok requests answered 2xx");
    start_redis("$dir/worker-redis", $redis_port);
    ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
       'worker killed: the spool drained, its dead segment too');
    my $stored = check_accepted('worker killed', $sent, $redis_port);
    is(scalar(grep { $_ > 1 } values %$stored), 0,
       'worker killed: no duplicates');

    my $raw = `redis-cli -p $redis_port --raw lrange $key 0 -1`;
    my $json = JSON::PP->new;
    my $bad = grep { !eval { $json->decode($_) } } split /\n/, $raw;
    is($bad, 0, 'worker killed: nothing but whole events was replayed');
}

done_testing();
