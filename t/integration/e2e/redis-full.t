# SPDX-License-Identifier: BSD-2-Clause
# A Redis full to maxmemory (noeviction) does not wedge the pipeline: the
# module spools what Redis refuses, and a consumer that starts then (a new
# id: its first move also numbers its processing list) drains the queue and
# acknowledges its batches although Redis refuses writes that need memory;
# the room it frees lets the spool replay.  Every event answered 2xx ends
# in MariaDB exactly once, maxmemory never raised.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $t0 = time;
my $dir = scratch_dir();
my $key = 'it:full';
my $redis_port = free_port();

my $db = start_db($dir, 'it_e2e_full');
start_redis("$dir/redis", $redis_port,
            '--maxmemory 3mb --maxmemory-policy noeviction');
my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_spool $dir/nginx/spool;
EOF
ok(workers_connected($url), 'nginx connected');

my $pad = 'y' x 300;
my $sent = send_events($dir, "$url/t.gif?app=full&module=m{p}&action=a"
                             . "&object=o{n%19}&uid=u{n%9}&p.pad=$pad",
                       4, 2500, 'full');
is(scalar @{ accepted($sent) }, 10000, 'all 10000 events answered 2xx');
like(redis_cli($redis_port, 'set', 'it:probe', 'x') // '', qr/OOM/,
     'Redis is full: it refuses writes that need memory');
cmp_ok(metric("$url/metrics", 'track_events_spooled_total'), '>', 0,
       'nginx spooled what Redis refused');

my $c = start_consumer("$dir/consumer", db => $db, id => 'full',
                       redis_port => $redis_port, key => $key);
ok(wait_for(60, sub {
       metric("$url/metrics", 'track_spool_bytes') == 0
       && redis_int($redis_port, 'llen', $key) == 0
       && processing_total($redis_port, 'full') == 0 }),
   'the consumer drains Redis, the spool replays into the room it frees');
unlike(consumer_log($c), qr/OOM/, 'the consumer was never refused');
exactly_once($db->{dbh}, $sent, 'Redis full');
stats_consistent($db->{dbh}, 'Redis full');
is(stop_consumer($c), 0, 'the consumer exits 0');
note(sprintf('%.1f s', time - $t0));

done_testing();
