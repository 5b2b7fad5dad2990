# SPDX-License-Identifier: BSD-2-Clause
# With track_redis_wait_replicas, a replayed spool file is deleted only once
# the replicas have its events.  The replica is frozen, so WAIT times out and
# every event is spooled as well as pushed; the spool is replayed to the
# master, which is killed before the replica saw any of it; the replica is
# promoted and must still receive every accepted event from the spool (a
# file deleted on the master's word alone would be lost with it).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:sentinel-spool';
my ($master, $replica, $sentinel) = map { free_port() } 1 .. 3;
my $events = 40;

ok(start_replicated_redis($dir, $master, [$replica]),
   'the replica follows the master');
start_sentinel("$dir/sentinel", $sentinel, 'mymaster', $master);

my $url = start_pixel_nginx("$dir/nginx", <<"EOF");
    track_redis_sentinel 127.0.0.1:$sentinel;
    track_redis_master mymaster;
    track_redis_key $key;
    track_redis_wait_replicas 1;
    track_redis_wait_timeout 100ms;
    track_redis_timeout 1s;
    track_redis_max_backoff 200ms;
    track_spool $dir/nginx/spool;
EOF

ok(workers_connected($url),
   'both workers found the master through the sentinel');

# continued at cleanup too, whatever happens below
my $replica_pid = freeze_redis("$dir/replica1");

my $sent = send_events($dir, "$url/t.gif?app=a&module=m&action=frozen",
                       1, $events, 'fz');
is(scalar(grep { $_ != 200 } values %$sent), 0,
   'every request answered 2xx while the replica is frozen');

my $log = do { local (@ARGV, $/) = "$dir/nginx/logs/error.log"; <> };
like($log, qr/reached 0 of 1 replicas .* spooled as well/,
     'the log says the replica did not confirm the pushes');

ok(wait_for(30, sub {
       my $l = do { local (@ARGV, $/) = "$dir/nginx/logs/error.log"; <> };
       $l =~ /replicas did not confirm the replay of/ }),
   'a file replayed to the master is kept while the replica is frozen');

kill_redis("$dir/master");
kill 'CONT', $replica_pid;

ok(wait_for(60, sub { role_of($replica) eq 'master' }),
   'the replica was promoted');

# WAIT needs a replica again: the old master comes back as one
start_redis("$dir/master", $master, "--replicaof 127.0.0.1 $replica");

ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
   'the spool is replayed to the new master');

my $stored = stored_eids($replica, $key);
my @lost = grep { !$stored->{$_} } sort keys %$sent;
is(scalar @lost, 0, 'every accepted event is on the new master')
    or diag("lost: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");

done_testing();
