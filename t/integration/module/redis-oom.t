# SPDX-License-Identifier: BSD-2-Clause
# Redis out of memory: maxmemory reached with maxmemory-policy noeviction,
# so Redis answers RPUSH with -OOM.  With a spool, every event still gets
# its 2xx and is durable: in Redis or in the spool, and once Redis has room
# again (maxmemory raised) the spool replays each exactly once.  Without a
# spool a refused event gets a 503, never a 2xx.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $t0 = time;
my $dir = scratch_dir();
my $key = 'it:oom';
my $redis_port = free_port();
my $pad = 'x' x 400;                # ~600-byte events: 2 MB is a few thousand

start_redis("$dir/redis", $redis_port,
            '--maxmemory 2mb --maxmemory-policy noeviction');

sub used_memory {
    my $out = redis_cli($redis_port, 'info', 'memory') // '';
    return $out =~ /^used_memory:(\d+)/m ? $1 : -1;
}

my $http = <<"EOF";
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
EOF
my $url = start_pixel_nginx("$dir/nginx", "$http    track_spool $dir/nginx/spool;\n");
my $bare = start_pixel_nginx("$dir/bare", $http);
ok(workers_connected($url) && workers_connected($bare), 'both connected');

# --- with a spool: every event answered 2xx, Redis full, the rest spooled ------

my $sent = send_events($dir, "$url/t.gif?app=oom&module=m{p}&action=a"
                             . "&object=o{n%13}&uid=u{n%7}&p.pad=$pad",
                       4, 1500, 'oom');
my @ok = @{ accepted($sent) };
is(scalar @ok, 6000, 'all 6000 events answered 2xx');
like(redis_cli($redis_port, 'rpush', $key, 'probe') // '', qr/OOM/,
     'Redis is out of memory: it refuses an RPUSH');
my $in_redis = stored_eids($redis_port, $key);
my $spooled = metric("$url/metrics", 'track_events_spooled_total');
cmp_ok(scalar(keys %$in_redis), '<', 6000, 'Redis holds only a part ('
       . scalar(keys %$in_redis) . ')');
is(scalar(keys %$in_redis) + $spooled, 6000,
   "the rest is in the spool ($spooled events)");
ok(metric("$url/metrics", 'track_spool_bytes') > 0, 'spool files on disk');
cmp_ok(metric("$url/metrics", 'track_redis_errors_total'), '>', 0,
       'the refusals are counted');
my $log = do { local (@ARGV, $/) = "$dir/nginx/logs/error.log"; <> };
like($log, qr/refused \d+ events: OOM command not allowed/,
     'and logged with Redis\'s reason');

# --- without a spool: a refused event is a 503 ----------------------------------

my $bare_sent = send_events($dir, "$bare/t.gif?app=oom&module=bare&action=a"
                                  . "&p.pad=$pad", 2, 50, 'bare');
is(scalar(grep { $_ == 503 } values %$bare_sent), 100,
   'without a spool: every refused event answered 503');
ok(!grep({ /^bare-/ } keys %{ stored_eids($redis_port, $key) }),
   '... and none of them is in Redis');

# --- room again: the spool replays, each event once -------------------------------

redis_cli($redis_port, 'config', 'set', 'maxmemory', '0');
ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
   'maxmemory raised: the spool is replayed');
my $now = stored_eids($redis_port, $key);
is_deeply([sort grep { /^oom-/ } keys %$now], [sort @ok],
          'every event answered 2xx is in Redis');
is(scalar(grep { $now->{$_} > 1 } keys %$now), 0, '... each once');
note(sprintf('%.1f s', time - $t0));

done_testing();
