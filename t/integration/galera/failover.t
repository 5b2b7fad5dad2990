# SPDX-License-Identifier: BSD-2-Clause
# A consumer on a three-node Galera cluster, all three in mysql_host: the
# node it writes to is killed (SIGKILL) while it stores a load.  It moves
# to the next node and goes on; every event is stored exactly once and
# the statistics equal the raw rows, on a surviving node and, once the
# killed node has rejoined by IST, on that node too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

need_galera();
consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");
my $g = start_galera($s);
my $dbh1 = galera_dbh($g, 1);

sub stored {
    my ($dbh) = @_;
    my $r = eval { db_rows($dbh, 'SELECT events FROM consumer_state'
                                 . ' WHERE consumer_id = ?', 'gf') };
    return $r && @$r ? $r->[0][0] : 0;
}

my $events = gen_events(n => 16000, seed => 1301, prefix => 'gf',
                        dup => 0.05);
push_events($events);
my $c = start_consumer($s, db => { database => $g->{database},
                                   password => $g->{password} },
                       id => 'gf', args => ['--batch-size=200'],
                       conf => { mysql_host => galera_hosts($g),
                                 mysql_timeout => 10, rollup_ms => 200 });
ok(wait_for(60, sub { consumer_log($c) =~ /connected to \Q127.0.0.1:$g->{nodes}[0]{port}\E/ }),
   'the consumer writes to the first host of the list, node 0');

# mid-load: some batches committed, most still to come
ok(wait_for(60, sub { stored($dbh1) >= 3000 }), 'part of the load stored');
my $pos = length(consumer_log($c));
ok(galera_kill($g, 0), 'node 0 killed with SIGKILL');
my $at = stored($dbh1);
note("killed with $at events stored");
ok($at < 15000, 'the load was still being stored');

ok(wait_for(90, sub { drained('gf') }), 'the rest stored through the others')
    or diag(join('; ', map { "node $_: " . galera_state($g, $_) } 1, 2));
ok(consumer_alive($c), 'the consumer is still running');
my $after = substr(consumer_log($c), $pos);
like($after, qr/mysql: now on 127\.0\.0\.1:(?:$g->{nodes}[1]{port}|$g->{nodes}[2]{port}), host [23] of 3/,
     'it says which host it moved to');
stored_once($dbh1, $events, 'node 1 after the failover');
# a node that cannot apply a write set leaves the cluster as inconsistent
ok(galera_synced($g, 2, 2), 'node 2 applied every write set: still in the'
                            . ' cluster');

# the killed node comes back and catches up from a donor's cache
is(galera_rejoin($g, 0), 'IST', 'node 0 rejoined by IST');
my $dbh0 = galera_dbh($g, 0);
stored_once($dbh0, $events, 'node 0 after rejoining');
is_deeply(db_rows($dbh0, 'SELECT consumer_id, last_seq, events FROM'
                         . ' consumer_state ORDER BY 1'),
          db_rows($dbh1, 'SELECT consumer_id, last_seq, events FROM'
                         . ' consumer_state ORDER BY 1'),
          'the same batch marker on node 0 as on node 1');

ok(galera_synced($g, $_), "node $_ Synced in the cluster of three") for 0 .. 2;
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0 on SIGTERM');
no_sanitizer_reports($s);
done_testing();
