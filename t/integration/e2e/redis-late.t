# SPDX-License-Identifier: BSD-2-Clause
# End to end, Redis never started: nginx answers every event 2xx from its
# spool, track-consumer waits with capped backoff; once Redis starts, the
# spool is replayed and every accepted event reaches MariaDB exactly once,
# statistics equal to the raw table.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $t0 = time;
my $dir = scratch_dir();
my $key = 'it:late';
my $redis_port = free_port();               # nothing listens there yet

my $db = start_db($dir, 'it_e2e_late');
my $url = start_spooling_nginx("$dir/nginx", $redis_port, $key);
my $c = start_consumer("$dir/consumer", db => $db, id => 'late',
                       redis_port => $redis_port, key => $key);

my $sent = send_events($dir, "$url/t.gif?app=shop&module=m{p}&action=view"
                             . '&object=item{n%37}&uid=u{n%11}',
                       4, 750, 'late');
is(scalar(grep { $_ !~ /^2/ } values %$sent), 0,
   'Redis down: every request answered 2xx');
is(metric("$url/metrics", 'track_events_spooled_total'), 3000,
   'Redis down: all 3000 events in the spool');

# one lane's retries (each lane of the consumer backs off on its own)
my @delays;
ok(wait_for(20, sub {
       my $log = consumer_log($c);
       my ($pid) = $log =~ /track-consumer\[(\d+)\]: redis unavailable: retrying/;
       @delays = defined $pid ? $log
           =~ /track-consumer\[$pid\]: redis unavailable: retrying in (\d+) ms/g
           : ();
       @delays >= 7 }),
   'the consumer waits for Redis, saying so');
my $doubling = 1;
for my $i (1 .. $#delays) {
    $doubling = 0 if $delays[$i] != ($delays[$i - 1] * 2 > 800
                                     ? 800 : $delays[$i - 1] * 2);
}
ok($doubling && $delays[-1] == 800,
   "its delay doubles up to the cap: @delays");
is(scalar(keys %{ db_eids($db->{dbh}) }), 0, 'nothing stored yet');

start_redis("$dir/redis", $redis_port);
ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
   'Redis up: the spool is replayed');
ok(wait_for(30, sub { consumer_log($c) =~ /redis: connected to/ }),
   'the consumer connects');
my $ok = accepted($sent);
ok(wait_for(30, sub {
       scalar(keys %{ db_eids($db->{dbh}) }) >= @$ok
       && redis_cli($redis_port, 'llen', $key) =~ /^\(integer\) 0$/m
       && redis_cli($redis_port, 'llen', 'track:processing:late')
          =~ /^\(integer\) 0$/m }),
   'the consumer drains the queue');

exactly_once($db->{dbh}, $sent, 'Redis started late');
stats_consistent($db->{dbh}, 'Redis started late');
is(metric("$url/metrics", 'track_events_replayed_total'), 3000,
   'replayed: 3000');
is(stop_consumer($c), 0, 'the consumer exits 0 on SIGTERM');
note(sprintf('%.1f s', time - $t0));

done_testing();
