# SPDX-License-Identifier: BSD-2-Clause
# The scaled-out layout (README.md, "Scaling out") on eleven hosts built as
# network namespaces (TrackTest::Netns): two nginx edges with
# track_redis_cluster, a Redis Cluster of three masters with a replica
# each on another host, two track-consumers sharing the shard lists
# (redis_cluster, a lease each), a three-node Galera cluster both
# consumers and track-stats reach through mysql_host lists.  Under load
# through both edges (each push confirmed by WAIT on a replica): a Redis
# master SIGKILLed (its replica promoted; the old one back as its
# replica), one edge cut from one Redis host and joined again, one consumer host
# SIGKILLed (the other takes its shards over when the lease expires), the
# Galera node both consumers write through SIGKILLed (they move to the
# next) and started again (state transfer, TrackTest::Galera).  Afterwards
# every event answered 2xx is in the day tables once, on every Galera node,
# the statistics equal the raw rows, and track-stats answers as SQL does.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use TrackTest;
use TrackTest::Netns;

BEGIN {
    if (my $why = netns_unavailable()) {
        plan skip_all => "hosts as network namespaces: $why";
    }
}

my $t0 = time;
my $dir = scratch_dir();
my $net = netns_network(e1 => 11, e2 => 12, r1 => 21, r2 => 22, r3 => 23,
                        c1 => 31, c2 => 32, g1 => 41, g2 => 42, g3 => 43,
                        st => 51);
sub addr { $net->{ $_[0] }{addr} }
# every service has a host of its own, so the ports are the usual ones
my ($REDIS, $REPLICA, $MYSQL, $HTTP) = (6379, 6380, 3306, 8080);

# --- Redis Cluster: masters on r1..r3, each replica on the next host ----------

sub rcli {
    my ($host, $port, @args) = @_;
    # a node that is down says so on stderr at every poll
    open(my $err, '>&', \*STDERR) or die $!;
    open(STDERR, '>', '/dev/null') or die $!;
    open(my $fh, '-|', 'redis-cli', '-h', addr($host), '-p', $port, '--raw',
         @args) or die "redis-cli: $!";
    open(STDERR, '>&', $err) or die $!;
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

my %rdir;
# a cluster node of host $r on $port (started again: it rejoins from its
# nodes.conf)
sub start_node {
    my ($r, $port) = @_;
    my $d = $rdir{"$r:$port"} = "$dir/$r-$port";
    my $a = addr($r);
    in_host($net, $r, sub {
        start_redis($d, $port, "--bind '$a 127.0.0.1' --protected-mode no"
                    . " --cluster-enabled yes --cluster-announce-ip $a"
                    . " --cluster-config-file $d/nodes.conf"
                    . ' --cluster-node-timeout 2000');
    });
}
for my $r (qw(r1 r2 r3)) {
    start_node($r, $_) for $REDIS, $REPLICA;
}
sh('redis-cli --cluster create '
   . join(' ', map { addr($_) . ":$REDIS" } qw(r1 r2 r3))
   . " --cluster-yes >$dir/create.log 2>&1")
    or BAIL_OUT("redis-cli --cluster create failed; see $dir/create.log");
my %replica_of = (r1 => 'r2', r2 => 'r3', r3 => 'r1');
for my $m (sort keys %replica_of) {
    chomp(my $id = rcli($m, $REDIS, 'cluster', 'myid'));
    my $r = $replica_of{$m};
    sh('redis-cli --cluster add-node ' . addr($r) . ":$REPLICA "
       . addr($m) . ":$REDIS --cluster-slave --cluster-master-id $id"
       . " >>$dir/create.log 2>&1")
        or BAIL_OUT("adding the replica of $m failed; see $dir/create.log");
}
my @nodes = map { my $r = $_; map { [$r, $_] } $REDIS, $REPLICA }
            qw(r1 r2 r3);
ok(wait_for(60, sub {
       !grep { rcli(@$_, 'cluster', 'info') !~ /cluster_state:ok/ } @nodes
       and !grep { rcli($_, $REPLICA, 'info', 'replication')
                   !~ /master_link_status:up/ } qw(r1 r2 r3) }),
   'Redis Cluster: three masters, each replicated on another host');

# -> elements in every list on every reachable master (shard lists,
# processing lists, spool replays)
sub queued {
    my $n = 0;
    for (@nodes) {
        next unless rcli(@$_, 'role') =~ /^master/;
        $n += rcli(@$_, 'eval', q{
            local n = 0
            for _, k in ipairs(redis.call('keys', '*')) do
                if redis.call('type', k).ok == 'list' then
                    n = n + redis.call('llen', k)
                end
            end
            return n}, 0) || 0;
    }
    return $n;
}

# --- Galera: three nodes, one per host (TrackTest::Galera) ----------------------

chmod 0711, $dir;       # the joiners' rsync daemon runs as nobody
my @gnodes = qw(g1 g2 g3);
my $galera = start_galera("$dir/galera", nodes => 3,
                          hosts => [map { addr($_) } @gnodes],
                          wrap => sub {
                              "ip netns exec $net->{ $gnodes[$_[0]] }{ns}" });
ok(!grep({ !galera_synced($galera, $_) } 0 .. 2),
   'Galera: three nodes synced');
# the checks read g3, which stays up
sub node_dbh {
    my $h = galera_dbh($galera, $_[0]);
    $h->do("SET time_zone = '+00:00'");
    return $h;
}
my $dbh = node_dbh(2);

# --- edges, consumers, track-stats ---------------------------------------------

my $seeds = join ' ', map { addr($_) . ":$REDIS" } qw(r1 r2 r3);
my %edge;
for my $e (qw(e1 e2)) {
    my $a = addr($e);
    in_host($net, $e, sub {
        start_nginx("$dir/$e", <<"EOF", workers => 1, locations => <<"EOF2");
    track_redis_cluster $seeds;
    track_redis_cluster_shards 3;
    track_redis_wait_replicas 1;
    track_redis_wait_timeout 500ms;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $dir/$e/spool;
EOF
        listen $a:$HTTP;
        location = /t.gif { track; }
        location = /metrics { track_metrics; }
EOF2
    });
    $edge{$e} = "http://$a:$HTTP";
}
ok(wait_for(20, sub {
       !grep { metric("$edge{$_}/metrics", 'track_redis_connected_workers')
               != 3 } keys %edge }),
   'both edges connect to the three masters');

# -> { shard => owner token ("id host pid time") } of the leases held
sub owners {
    my %o;
    for (@nodes) {
        next unless rcli(@$_, 'role') =~ /^master/;
        for my $k (split /\n/, rcli(@$_, '--scan', '--pattern', '*:owner')) {
            my ($i) = $k =~ /\{s(\d+)\./ or next;
            $o{$i} = rcli(@$_, 'get', $k);
        }
    }
    return \%o;
}
sub owned_by {
    my ($c, @shards) = @_;
    my $o = owners();
    return !grep { ($o->{$_} // '') !~ /^\Q$c\E\b/ } @shards;
}

# c1 owns shards 0 and 1; c2 shard 2, its other lanes stand by for any;
# both write to g1 while it is up (one writer node: Galera certifies two
# roll-ups on two nodes only at commit)
my $cluster = join ',', map { addr($_) . ":$REDIS" } qw(r1 r2 r3);
my $writer = { password => $galera->{password}, database => 'track' };
my %consumer;
for my $c (['c1', '0,1', 2], ['c2', 'all', 3]) {
    my ($name, $shards, $lanes) = @$c;
    $consumer{$name} = in_host($net, $name, sub {
        start_consumer("$dir/$name", db => $writer, id => $name,
                       conf => { redis_cluster => $cluster,
                                 cluster_shards => 3, shards => $shards,
                                 lanes => $lanes, lease_ms => 2000,
                                 mysql_host => galera_hosts($galera) });
    });
    ok(wait_for(30, sub { owned_by('c1', 0, 1) }), 'c1 owns shards 0 and 1')
        if $name eq 'c1';
}
ok(wait_for(30, sub { owned_by('c2', 2) }), 'c2 owns shard 2');

my $stats = in_host($net, 'st', sub {
    start_stats("$dir/st", db => { env => { MYSQL_READER_USER =>
                                                $galera->{reader_user},
                                            MYSQL_READER_PASSWORD =>
                                                $galera->{reader_password} },
                                   socket => '' },
                args => ['--mysql-host', galera_hosts($galera, 2, 0, 1),
                         '--mysql-socket', '']);
});

# --- load through both edges, and the faults -----------------------------------

my %load = map {
    $_ => start_sending($dir, "$edge{$_}/t.gif?app=a&module=$_&action=v"
                              . '&object={n%40}&uid={p}', 2, 0, $_)
} qw(e1 e2);

sub rows {
    my $n = 0;
    $n += $dbh->selectrow_array("SELECT COUNT(*) FROM `$_`")
        for @{ day_tables($dbh) };
    return $n;
}
ok(wait_for(30, sub { rows() > 500 }), 'events reach MariaDB');
for my $c (sort keys %consumer) {
    ok(consumer_alive($consumer{$c}), "consumer $c runs")
        or BAIL_OUT("$c exited; see $consumer{$c}{log}");
}

# 1. the master on r1 SIGKILLed: its replica on r2 takes over
kill_redis($rdir{"r1:$REDIS"});
ok(wait_for(30, sub { rcli('r2', $REPLICA, 'role') =~ /^master/ }),
   'master on r1 killed: its replica on r2 is promoted');
my $before = rows();
ok(wait_for(30, sub { rows() > $before + 500 }),
   'and events keep reaching MariaDB');
# acknowledged pushes were replicated (WAIT), so none died with it; back,
# it replicates its successor, whose pushes WAIT confirms again
start_node('r1', $REDIS);
ok(wait_for(60, sub { rcli('r1', $REDIS, 'info', 'replication')
                      =~ /master_link_status:up/ }),
   'the old master on r1 restarted: now a replica of its successor');

# 2. e1 cut from r2 (now two masters), then joined again
my $link = link_between($net, 'e1', 'r2');
my $spooled = metric("$edge{e1}/metrics", 'track_events_spooled_total');
set_link($net, 'e1', $link, 'down');
ok(wait_for(30, sub {
       metric("$edge{e1}/metrics", 'track_events_spooled_total') > $spooled
   }), 'e1 cut from r2: it spools that share');
set_link($net, 'e1', $link, 'up');
ok(wait_for(60, sub {
       metric("$edge{e1}/metrics", 'track_spool_bytes') == 0 }),
   'e1 joined again: its spool is replayed');

# 3. the host of consumer c1 dies; c2 takes its shards over
ok(kill_host($net, 'c1') > 0, 'consumer host c1 SIGKILLed');
consumer_alive($consumer{c1});           # reaped
ok(wait_for(30, sub { owned_by('c2', 0, 1, 2) }),
   'c2 takes shards 0 and 1 over once their leases expire');

# 4. Galera node g1, where both consumers write, SIGKILLed, then back
ok(galera_kill($galera, 0), 'Galera node g1 SIGKILLed');
ok(wait_for(30, sub {
       (galera_status($galera, 2, 'wsrep_cluster_size') // 0) == 2 }),
   'the others go on as two');
$before = rows();
ok(wait_for(60, sub { rows() > $before + 500 }),
   'events keep reaching MariaDB without c1 and g1 (the consumers moved on)');
my $how = galera_rejoin($galera, 0);
ok($how, "g1 back, synced again by $how");

my %sent;
for my $e (sort keys %load) {
    my $s = finish_sending($load{$e});
    my $ok = @{ accepted($s) };
    ok($ok > 0, "$e accepted $ok of " . scalar(keys %$s) . ' events');
    %sent = (%sent, %$s);
}

# --- afterwards ------------------------------------------------------------------

ok(wait_for(120, sub {
       !grep { metric("$edge{$_}/metrics", 'track_spool_bytes') != 0 }
            keys %edge and queued() == 0 }),
   'the spools replayed and every list drained (c2 took c1\'s shards)')
    or diag('still queued: ' . queued());
exactly_once($dbh, \%sent, 'across hosts');
stats_consistent($dbh, 'across hosts');
my $want = rows();
for my $g (0, 1) {           # against g3, where $dbh reads
    my $h = node_dbh($g);
    my $n = 0;
    $n += $h->selectrow_array("SELECT COUNT(*) FROM `$_`")
        for @{ day_tables($h) };
    is($n, $want, "Galera node $gnodes[$g] holds the same $want rows");
}
my $day = (map { /^events_(\d{4})(\d\d)(\d\d)$/ ? "$1-$2-$3" : () }
           @{ day_tables($dbh) })[0];
in_host($net, 'st', sub { check_all_endpoints($stats, $dbh, $day, $day) });
ok(consumer_alive($consumer{c2}), 'consumer c2 still runs');
no_sanitizer_reports();
diag(sprintf('%d events in %.0f s', scalar(keys %sent), time - $t0));
done_testing();
