# SPDX-License-Identifier: BSD-2-Clause
# track-consumer on a Redis Cluster (3 masters, 3 replicas), fed by nginx
# with track_redis_cluster: two consumers share the shard lists under
# leases; every event answered 2xx is stored once and the statistics equal
# the raw rows; the consumer owning the shards is SIGKILLed under load and
# the standby takes them over once their leases expire, nothing lost or
# stored twice.  (A master killed and a reshard: cluster_failover.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
my $key = 'it:ccl';
my $lease = 1500;

# --- configuration errors ----------------------------------------------------

for my $case (
    [['--redis-cluster=127.0.0.1:7000', '--redis-sentinel=127.0.0.1:26379'],
     qr/redis_cluster and redis_sentinel/, 'with redis_sentinel'],
    [['--redis-cluster=127.0.0.1:7000', '--shards=0,x'],
     qr/shards: .*expected "all" or shard numbers/, 'a bad shards list'],
    [['--redis-cluster=127.0.0.1:7000', '--cluster-shards=3',
      '--shards=1,3'], qr/shard 3 does not exist/, 'a shard out of range'],
    [['--shards=1'], qr/shards needs redis_cluster/, 'shards alone'])
{
    my ($args, $re, $what) = @$case;
    my $out = `$CONSUMER_BIN @$args 2>&1`;
    ok(($? >> 8) == 2 && $out =~ $re, "refused: $what") or diag($out);
}

# --- the cluster, MariaDB, nginx ---------------------------------------------

my @ports = start_redis_cluster("$s/cluster");
my $seeds = "127.0.0.1:$ports[0],127.0.0.1:$ports[1]";
my $db = start_db($s, 'tc_cluster');
my $dbh = $db->{dbh};

my $url = start_cluster_nginx("$s/nginx", $key, [@ports[0, 2]]);
my $pixel = "$url/t.gif?app=a&module=m&action=ccl&object={n%50}&uid={p}";
ok(wait_for(15, sub {
       metric("$url/metrics", 'track_redis_connected_workers') == 6 }),
   'nginx: both workers connect to the three masters');

my $metrics = "$url/metrics";
sub owners { shard_owners($ports[1], $key) }
sub drained_all { shards_drained($ports[1], $key, $metrics) }

my %conf = (lease_ms => $lease, cluster_shards => 3);
my $ca = start_consumer("$s/ca", db => $db, id => 'ca', cluster => $seeds,
                        key => $key, lanes => 3, conf => \%conf);
ok(wait_for(30, sub { my $o = owners(); keys %$o == 3
                      && !grep { $_ ne 'ca' } values %$o }),
   'consumer ca owns the three shards (lanes = 3)')
    or diag(explain(owners()));
my $cb = start_consumer("$s/cb", db => $db, id => 'cb', cluster => $seeds,
                        key => $key, lanes => 3, conf => \%conf);
ok(wait_for(10, sub { consumer_log($cb) =~ /lane 2 of consumer "cb"/ }),
   'consumer cb runs, a standby');

# --- (a) the load, stored once ------------------------------------------------

my %sent = %{ send_events($s, $pixel, 2, 400, 'a') };
is(scalar(grep { $_ != 200 } values %sent), 0, 'all requests answered 200');
ok(wait_for(60, \&drained_all), 'the consumers drain the shard lists');
exactly_once($dbh, \%sent, 'two consumers');
my %by = map { $_->[0] => $_->[1] } @{ db_rows($dbh,
    'SELECT consumer_id, events FROM consumer_state') };
is(scalar(grep { /^\Q$key\E:\{s\d\.\d+\}$/ && $by{$_} > 0 } keys %by), 3,
   'each shard has its batch marker, keyed by the shard')
    or diag(explain(\%by));
stats_consistent($dbh, 'two consumers');

# --- (b) the owner SIGKILLed under load: the standby takes over ---------------

my $h = start_sending($s, $pixel, 2, 1500, 'b');
my $base = db_rows($dbh, 'SELECT SUM(events) FROM consumer_state')->[0][0];
ok(wait_for(30, sub {
       db_rows($dbh, 'SELECT SUM(events) FROM consumer_state')->[0][0]
       > $base + 300 }), 'ca stores the new load');
my $pids = lane_pids($ca);
kill 'KILL', values %$pids, $ca->{pid};
ok(wait_for(10, sub { !grep { pid_alive($_) } values %$pids }),
   'consumer ca SIGKILLed (its lanes and supervisor)');
ok(wait_for(20, sub { my $o = owners(); keys %$o == 3
                      && !grep { $_ ne 'cb' } values %$o }),
   'cb took the three shards over once their leases expired')
    or diag(explain(owners()));
%sent = (%sent, %{ finish_sending($h) });
ok(wait_for(60, \&drained_all), 'cb drains the shard lists');
exactly_once($dbh, \%sent, 'after the takeover');
stats_consistent($dbh, 'after the takeover');
like(consumer_log($cb), qr/owns shard \d+ "\Q$key\E:\{s\d\.\d+\}" now/,
     'cb logged the takeover');

# --- (b2) an owner stalled with a batch in hand, its lease taken over -------
# The new owner takes the batch as it is (st2's batches are larger: a list
# topped up here would lose what joined it); the old one wakes and commits
# it first, its acknowledgement is refused (the lease is not its own) and it
# leaves; the new owner's commit of the same batch is a no-op, and its
# acknowledgement deletes the list.

my $sdb = start_db($s, 'tc_cluster_stall');
my $skey = 'it:cst';
my $list = "$skey:{s0.0}";          # one shard: K = 0 fits the whole range
my ($at) = grep { (redis_cli($_, 'llen', $list) // '') !~ /MOVED/ }
           keys %{ cluster_masters($ports[1]) };
my %sconf = (%conf, cluster_shards => 1, batch_size => 100, linger_ms => 0);
my $st1 = start_consumer("$s/st1", db => $sdb, id => 'st1', cluster => $seeds,
                         key => $skey, conf => \%sconf,
                         env => { TRACK_CONSUMER_PAUSE => 'after_move:2' });
ok(wait_for(20, sub { consumer_log($st1) =~ /owns shard 0 "\Q$list\E"/ }),
   'st1 owns the one shard');
my $ev = gen_events(n => 1000, seed => 71, prefix => 'st');
push_events($ev, $list, $at);
ok(wait_for(20, sub { consumer_log($st1) =~ /stopping myself at after_move/ }),
   'st1 stops itself with its second batch in hand');
my $st2 = start_consumer("$s/st2", db => $sdb, id => 'st2', cluster => $seeds,
                         key => $skey, conf => { %sconf, batch_size => 300 },
                         env => { TRACK_CONSUMER_PAUSE => 'after_move:1' });
ok(wait_for(20, sub { consumer_log($st2) =~ /owns shard 0 .*last owner's batch/ }),
   'st2 takes the shard over, with the batch st1 holds');
ok(wait_for(20, sub { consumer_log($st2) =~ /stopping myself at after_move/ }),
   'st2 stops itself with that batch in hand');
kill 'CONT', $st1->{pid};
ok(wait_for(20, sub { consumer_log($st1) =~ /is not ours any more .*: leaving the shard/ }),
   'st1 wakes, commits, and leaves the shard (its lease is st2\'s)');
kill 'CONT', $st2->{pid};
ok(wait_for(20, sub { consumer_log($st2) =~ /was committed before/ }),
   'st2\'s commit of the same batch is a no-op');
ok(wait_for(30, sub { redis_int($at, 'llen', $list) == 0
                      && redis_int($at, 'llen', "track:processing:$list") == 0 }),
   'st2 drains the shard');
ok(consumer_alive($st1), 'st1 goes on, a standby');
stored_once($sdb->{dbh}, $ev, 'stalled owner');

done_testing();
