# SPDX-License-Identifier: BSD-2-Clause
# track_queue_length follows the list between pushes: the workers poll its
# length when no push told it for a second, so a queue the consumers have
# drained reads 0 (alerts on a stalled consumer read this gauge: a stale
# length would page on every quiet night), and what another writer added
# shows up too.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $redis_port = free_port();
my $key = 'it:qlen';
start_redis("$dir/redis", $redis_port);
my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
EOF
ok(workers_connected($url), 'nginx connected');

my $sent = send_events($dir, "$url/t.gif?app=q&module=m&action=a&object={n}",
                       2, 10, 'qlen');
is(scalar(grep { $_ !~ /^2/ } values %$sent), 0, '20 events accepted');
is(redis_int($redis_port, 'llen', $key), 20, 'the list holds them');
ok(wait_for(10, sub { metric("$url/metrics", 'track_queue_length') == 20 }),
   'track_queue_length says 20');

redis_cmd($redis_port, 'del', $key);          # a consumer drained it
ok(wait_for(10, sub { metric("$url/metrics", 'track_queue_length') == 0 }),
   'drained by someone else, without a push since: 0');

redis_cmd($redis_port, 'rpush', $key, ('x') x 7);
ok(wait_for(10, sub { metric("$url/metrics", 'track_queue_length') == 7 }),
   'grown by someone else: 7');

done_testing();
