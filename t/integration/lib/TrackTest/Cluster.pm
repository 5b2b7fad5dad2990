# SPDX-License-Identifier: BSD-2-Clause
# A throwaway Redis Cluster for the tests (module/cluster*.t, consumer/cluster*.t): three
# masters with a replica each, what its nodes say about each other, the
# shard lists the module pushed to, and the exactly-once check over them.
package TrackTest::Cluster;

use strict;
use warnings;

use Exporter qw(import);
use Test::More;

use TrackTest::Base;
use TrackTest::Services;

our @EXPORT = qw(start_redis_cluster start_cluster_nginx cluster_ok cluster_masters cluster_replica
                 cluster_lists cluster_check_once);

# start_redis_cluster($dir): six redis-servers on free loopback ports in
# $dir/r0 .. r5 made a cluster of three masters and three replicas
# (redis-cli --cluster create: slots split evenly, the masters first),
# cluster-node-timeout 2000 ms; returns their ports once every node says
# the cluster is ok and the replicas are in sync (dies otherwise); stopped
# at exit
sub start_redis_cluster {
    my ($dir) = @_;
    my @ports = map { free_port() } 1 .. 6;
    for my $i (0 .. 5) {
        # the bus port on its own free port: port + 10000 may be out of range
        start_redis("$dir/r$i", $ports[$i],
                    '--cluster-enabled yes --cluster-port ' . free_port()
                    . " --cluster-config-file $dir/r$i/nodes.conf"
                    . ' --cluster-node-timeout 2000');
    }
    sh('redis-cli --cluster create '
       . join(' ', map { "127.0.0.1:$_" } @ports)
       . " --cluster-replicas 1 --cluster-yes >$dir/create.log 2>&1")
        or die "redis-cli --cluster create failed; see $dir/create.log\n";
    wait_for(30, sub { !grep { !cluster_ok($_) } @ports })
        or die "the cluster did not come up on all six nodes\n";
    wait_for(30, sub { keys %{ cluster_masters($ports[0]) } == 3 })
        or die "the cluster has not three masters\n";
    # WAIT counts a replica only once its master has had the replica's
    # first ACK after the sync; a diskless sync says "online" (and the
    # replica master_link_status:up) a moment before that: so every
    # master's own WAIT must see its replica
    wait_for(30, sub {
        3 == grep { redis_int($_, 'wait', 1, 500) == 1 }
             keys %{ cluster_masters($ports[0]) } })
        or die "the replicas did not sync with their masters\n";
    return @ports;
}

# start_cluster_nginx($dir, $key, \@seeds, $extra): nginx with the module
# pushing to the shard lists of $key on the cluster whose nodes listen on
# the ports @seeds (the seed nodes), spooling under $dir/spool, short
# backoff and timeout; $extra: more directives.  Returns its URL.
sub start_cluster_nginx {
    my ($dir, $key, $seeds, $extra) = @_;
    my $nodes = join(' ', map { "127.0.0.1:$_" } @$seeds);
    return start_pixel_nginx($dir, <<"EOF" . ($extra // ''));
    track_redis_cluster $nodes;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $dir/spool;
EOF
}

sub cluster_ok {
    my ($port) = @_;
    return (redis_cli($port, 'cluster', 'info') // '')
           =~ /cluster_state:ok/;
}

# -> [ [port, node id, flags, master id], ... ] as $port sees the cluster
sub nodes {
    my ($port) = @_;
    my @n;
    for (split /\n/, redis_cli($port, '--raw', 'cluster', 'nodes') // '') {
        my ($id, $addr, $flags, $master) = split / /;
        push @n, [$1, $id, $flags, $master] if $addr =~ /:(\d+)\@/;
    }
    return \@n;
}

# -> { port => node id } of the masters that are up, as $port sees them
sub cluster_masters {
    my ($port) = @_;
    return { map { $_->[0] => $_->[1] }
             grep { $_->[2] !~ /fail/ && $_->[2] =~ /master/ }
             @{ nodes($port) } };
}

# the port of the replica of the master on $master, as $port sees it
sub cluster_replica {
    my ($port, $master) = @_;
    my $id = cluster_masters($port)->{$master} // return undef;
    my ($r) = grep { $_->[2] =~ /slave/ && $_->[3] eq $id }
              @{ nodes($port) };
    return $r ? $r->[0] : undef;
}

# -> { list key => master port } of the shard lists of $prefix
sub cluster_lists {
    my ($port, $prefix) = @_;
    my %at;
    for my $m (keys %{ cluster_masters($port) }) {
        for my $k (split /\n/, redis_cli($m, '--raw', 'keys', "$prefix:*")) {
            next if $k =~ /:spool:/;
            $at{$k} = $m;
        }
    }
    return \%at;
}

# every event answered 200 in $sent is in one of the shard lists of $prefix;
# none is there twice, or at most $twice of them (pushes whose WAIT fell
# short were spooled as well); -> { eid => times stored }
sub cluster_check_once {
    my ($port, $what, $sent, $prefix, $twice) = @_;
    my %n;
    my $at = cluster_lists($port, $prefix);
    for my $k (keys %$at) {
        my $in = stored_eids($at->{$k}, $k);
        $n{$_} += $in->{$_} for keys %$in;
    }
    my @ok = grep { $sent->{$_} == 200 } keys %$sent;
    my @lost = grep { !$n{$_} } @ok;
    my @more = grep { $n{$_} > 1 } keys %n;
    is(scalar @lost, 0, "$what: all " . scalar(@ok) . ' accepted events are'
                        . ' in a shard list') or diag("lost: @lost[0 .. 9]");
    if ($twice) {
        ok(@more <= $twice, "$what: at most $twice twice (" . @more . ')');
    } else {
        is(scalar @more, 0, "$what: none twice")
            or diag("twice: @more[0 .. 9]");
    }
    return \%n;
}

1;
