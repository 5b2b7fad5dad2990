# SPDX-License-Identifier: BSD-2-Clause
# Hosts for the integration tests as network namespaces (t/integration/
# hosts/): each host a namespace with its own address on a private /24,
# joined by a veth pair to a bridge that lives in one more namespace, the
# test's own ("net").  Nothing is added to the machine's own namespace, so
# no address or route of a run is ever seen outside it, and the same
# addresses and ports serve every run.  Names carry the test's pid
# (trk<pid>-<host>): parallel runs do not clash, and the namespaces of a run
# that was SIGKILLed are removed by the next run.  At exit every process in
# the namespaces is SIGKILLed and the namespaces deleted, passed or not.
package TrackTest::Netns;

use strict;
use warnings;

use Exporter qw(import);
use POSIX ();

use TrackTest::Base;

our @EXPORT = qw(netns_unavailable netns_network in_host host_pids
                 kill_host link_between set_link);

my $SUBNET = '10.213.13';              # a private range, one /24 per run
my $PREFIX = 'trk';

# the raw setns(2) call: the test process itself moves between hosts
my $SYS_setns = eval { require 'syscall.ph'; &SYS_setns() } // 308;
my $CLONE_NEWNET = 0x40000000;

sub ip {
    my (@args) = @_;
    my $out = `ip @args 2>&1`;
    die "ip @args: $out" if $?;
    return $out;
}

sub enter_ns {
    my ($ns) = @_;
    open(my $fh, '<', "/run/netns/$ns") or die "/run/netns/$ns: $!\n";
    syscall($SYS_setns, fileno($fh), $CLONE_NEWNET) == 0
        or die "setns($ns): $!\n";
    close $fh;
}

# netns_unavailable(): why this machine cannot run the hosts tests (not
# root, no `ip netns`, galera-4 missing, no setns), or undef when it can
sub netns_unavailable {
    return 'needs root (ip netns)' if $> != 0;
    return 'ip (iproute2) is not installed' if system('ip -V >/dev/null 2>&1');
    my $probe = "${PREFIX}probe$$";
    my $out = `ip netns add $probe 2>&1`;
    return "ip netns add does not work here: $out" if $?;
    my $ok = eval {
        open(my $self, '<', '/proc/self/ns/net') or die "$!\n";
        open(my $fh, '<', "/run/netns/$probe") or die "$!\n";
        syscall($SYS_setns, fileno($fh), $CLONE_NEWNET) == 0
            or die "setns: $!\n";
        # and straight back: the probe only checks that the call works
        syscall($SYS_setns, fileno($self), $CLONE_NEWNET) == 0
            or die "setns back: $!\n";
        1;
    };
    my $why = $@;
    system("ip netns del $probe");
    return "cannot enter a network namespace: $why" unless $ok;
    return 'galera-4 is not installed (/usr/lib/galera/libgalera_smm.so)'
        unless -f '/usr/lib/galera/libgalera_smm.so';
    return undef;
}

# kills what is left in a namespace, then deletes it
sub remove_ns {
    my ($ns) = @_;
    my @pids = grep { $_ != $$ } split ' ', `ip netns pids $ns 2>/dev/null`;
    kill 'KILL', @pids if @pids;
    wait_for(10, sub { !grep { pid_alive($_) } @pids });
    system("ip netns del $ns 2>/dev/null");
}

# the namespaces of runs whose test process is gone
sub remove_leftovers {
    for my $ns (split /\n/, `ip netns list 2>/dev/null`) {
        $ns =~ s/ .*//;
        next unless $ns =~ /^$PREFIX(\d+)-/;
        remove_ns($ns) unless $1 == $$ || pid_alive($1);
    }
}

# netns_network(name => octet, ...): one host per name, at $SUBNET.octet,
# eth0 on the bridge br0 of the namespace "net" (at $SUBNET.1), where the
# test process then runs: it reaches every host by address.  Returns
# { name => { ns, addr } } plus net => { ns, addr }.
sub netns_network {
    my (%octets) = @_;
    remove_leftovers();
    my $net = { net => { ns => "$PREFIX$$-net", addr => "$SUBNET.1" } };
    my $pid = $$;
    at_exit(sub {
        return unless $$ == $pid;
        local @SIG{qw(INT TERM HUP)} = ('IGNORE') x 3;   # let it finish
        remove_ns($_->{ns}) for grep { $_->{ns} ne $net->{net}{ns} }
                                values %$net;
        remove_ns($net->{net}{ns});
    });
    my $sw = $net->{net}{ns};
    ip("netns add $sw");
    ip("-n $sw link set lo up");
    ip("-n $sw link add br0 type bridge");
    ip("-n $sw addr add $SUBNET.1/24 dev br0");
    ip("-n $sw link set br0 up");
    for my $name (sort keys %octets) {
        my $h = $net->{$name} = { ns => "$PREFIX$$-$name",
                                  addr => "$SUBNET.$octets{$name}" };
        ip("netns add $h->{ns}");
        ip("-n $h->{ns} link set lo up");
        ip("link add eth0 netns $h->{ns} type veth peer name p-$name"
           . " netns $sw");
        ip("-n $sw link set p-$name master br0 up");
        ip("-n $h->{ns} addr add $h->{addr}/24 dev eth0");
        ip("-n $h->{ns} link set eth0 up");
    }
    enter_ns($sw);
    return $net;
}

# in_host($net, $host, $code): runs $code with the test process in that
# host's namespace (what it starts stays there), then comes back to "net";
# returns what $code returned
sub in_host {
    my ($net, $host, $code) = @_;
    enter_ns($net->{$host}{ns});
    my @r = eval { $code->() };
    my $err = $@;
    enter_ns($net->{net}{ns});
    die $err if $err;
    return wantarray ? @r : $r[0];
}

# host_pids($net, $host): the processes running in the host
sub host_pids {
    my ($net, $host) = @_;
    return grep { $_ != $$ } split ' ', ip("netns pids $net->{$host}{ns}");
}

# kill_host($net, $host): the host dies: SIGKILL to all its processes, and
# waits until they are gone (reaped, when the test started them); returns
# how many there were
sub kill_host {
    my ($net, $host) = @_;
    my @pids = host_pids($net, $host);
    kill 'KILL', @pids;
    wait_for(10, sub {
        waitpid($_, POSIX::WNOHANG()) for @pids;
        !grep { pid_alive($_) } @pids })
        or die "$host: processes survived SIGKILL\n";
    return scalar @pids;
}

# link_between($net, $a, $b): a direct veth link between two hosts, which
# then carries all their traffic to each other (a /32 route each way
# through it), so that set_link can cut these two hosts apart and no
# others.  While it is down, $a's packets to $b find an unreachable route
# instead of the bridge.  Returns the name of $a's end.
sub link_between {
    my ($net, $a, $b) = @_;
    my ($ha, $hb) = ($net->{$a}, $net->{$b});
    my $dev = "to-$b";
    ip("link add $dev netns $ha->{ns} type veth peer name to-$a"
       . " netns $hb->{ns}");
    ip("-n $ha->{ns} addr add $ha->{addr}/32 peer $hb->{addr}/32 dev $dev");
    ip("-n $hb->{ns} addr add $hb->{addr}/32 peer $ha->{addr}/32 dev to-$a");
    ip("-n $ha->{ns} route add unreachable $hb->{addr}/32 metric 1000");
    ip("-n $ha->{ns} link set $dev up");
    ip("-n $hb->{ns} link set to-$a up");
    return $dev;
}

# set_link($net, $host, $dev, 'up' | 'down')
sub set_link {
    my ($net, $host, $dev, $state) = @_;
    ip("-n $net->{$host}{ns} link set $dev $state");
}

1;
