# SPDX-License-Identifier: BSD-2-Clause
# End to end, Redis killed under load: nginx (with a spool) takes pixel
# requests while track-consumer moves the queue into MariaDB; Redis
# (appendonly yes, appendfsync always) is SIGKILLed mid-stream and started
# again on the same append-only file.  Every event answered 2xx ends in
# MariaDB exactly once, and the statistics equal SQL over the raw table.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $t0 = time;
my $dir = scratch_dir();
my $key = 'it:kill';
my $redis_port = free_port();
my $aof = '--appendonly yes --appendfsync always';

sub llen {
    my ($k) = @_;
    my $out = redis_cli($redis_port, 'llen', $k) // '';
    return $out =~ /^\(integer\) (\d+)$/m ? $1 : -1;
}

my $db = start_db($dir, 'it_e2e_kill');
start_redis("$dir/redis", $redis_port, $aof);
my $url = start_spooling_nginx("$dir/nginx", $redis_port, $key);
my $c = start_consumer("$dir/consumer", db => $db, id => 'kill',
                       redis_port => $redis_port, key => $key);

my $h = start_sending($dir, "$url/t.gif?app=shop&module=m{p}&action=click"
                            . '&object=item{n%41}&uid=u{n%13}',
                      4, 1500, 'kill');
ok(wait_for(30, sub { scalar(keys %{ db_eids($db->{dbh}) }) >= 1000 }),
   'under load, the consumer stores events');
my $spooled = metric("$url/metrics", 'track_events_spooled_total');
my $at_kill = metric("$url/metrics", 'track_requests_total');
kill_redis("$dir/redis");
ok(wait_for(30, sub {
       metric("$url/metrics", 'track_events_spooled_total')
       > $spooled + 200 }),
   'Redis killed: nginx spools');
ok(wait_for(20, sub {
       consumer_log($c) =~ /redis unavailable[^\n]*: retrying in \d+ ms/ }),
   'Redis killed: the consumer retries, saying so');
start_redis("$dir/redis", $redis_port, $aof);
my $sent = finish_sending($h);
my $after = metric("$url/metrics", 'track_requests_total') - $at_kill;
ok($after >= 500, "load went on: $after requests after the kill");
is(scalar(grep { $_ !~ /^2/ } values %$sent), 0,
   'every request answered 2xx');
ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
   'Redis restarted: the spool is replayed');

my $ok = accepted($sent);
ok(wait_for(30, sub {
       scalar(keys %{ db_eids($db->{dbh}) }) >= @$ok
       && llen($key) == 0 && llen('track:processing:kill') == 0 }),
   'the consumer drains the queue');

exactly_once($db->{dbh}, $sent, 'Redis killed');
stats_consistent($db->{dbh}, 'Redis killed');
ok(consumer_alive($c), 'the same consumer process throughout');
is(stop_consumer($c), 0, 'the consumer exits 0 on SIGTERM');
note(sprintf('%.1f s', time - $t0));

done_testing();
