# SPDX-License-Identifier: BSD-2-Clause
# Helpers of t/integration/deb/packages.t: what a Debian host does with the
# packages, without systemd: dpkg runs that wait for dpkg's lock, units'
# daemons started and stopped as systemd would start them from their unit
# files, conffiles edited as an operator would.
package DebHost;

use strict;
use warnings;

use Exporter qw(import);
use POSIX ();
use TrackTest qw(wait_for);

our @EXPORT = qw(installed run_logged slurp unit_settings start_unit
                 stop_unit unit_alive wait_unit unit_pid started_units
                 edit_conffile $UNITS);

our $UNITS = '/lib/systemd/system';
my %daemons;    # unit name -> pid of the daemon started as the unit says

# dpkg has files or conffiles of $pkg (its status word, the last of
# "want ok status", is anything but not-installed)
sub installed {
    my ($pkg) = @_;
    my $st = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`;
    my $word = (split ' ', $st)[2];
    return defined $word && $word ne 'not-installed';
}

# runs $cmd (a list), its output in $log; dpkg's lock may be held by an
# apt run elsewhere on the machine: wait for it rather than fail
sub run_logged {
    my ($log, @cmd) = @_;
    my $rc;
    wait_for(120, sub {
        $rc = system("@cmd </dev/null >$log 2>&1");
        return 1 if $rc == 0;
        open(my $in, '<', $log) or return 1;
        return !grep { /dpkg frontend lock|dpkg status database is locked/ }
                     <$in>;
    });
    return $rc == 0;
}

sub slurp {
    my ($file) = @_;
    open(my $in, '<', $file) or return '';
    local $/;
    return <$in>;
}

# the [Service] settings of an installed unit: name -> [values]
sub unit_settings {
    my ($unit) = @_;
    my (%set, $section);
    for (split /\n/, slurp("$UNITS/$unit")) {
        $section = $1 if /^\[(\w+)\]/;
        push @{ $set{$1} }, $2
            if ($section // '') eq 'Service' && /^(\w+)=(.*)$/;
    }
    return \%set;
}

# starts the daemon of $unit as systemd would: its LogsDirectory= made and
# owned by User=, the environment from EnvironmentFile=, ExecStart= run as
# User=/Group= (the command line has no quoting or variables to expand)
sub start_unit {
    my ($unit, $dir) = @_;
    my $s = unit_settings($unit);
    my ($exec) = @{ $s->{ExecStart} || [] } or die "$unit: no ExecStart\n";
    my $uid = getpwnam($s->{User}[0]) // die "$unit: no user\n";
    my $gid = getgrnam($s->{Group}[0]) // die "$unit: no group\n";
    for my $logs (@{ $s->{LogsDirectory} || [] }) {
        mkdir "/var/log/$logs";
        chown $uid, $gid, "/var/log/$logs";
    }
    my %env;
    for my $file (@{ $s->{EnvironmentFile} || [] }) {
        (my $path = $file) =~ s/^-//;
        for (split /\n/, slurp($path)) {
            $env{$1} = $2 if /^\s*([A-Za-z_]\w*)=(.*?)\s*$/;
        }
    }
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        %ENV = (PATH => '/usr/sbin:/usr/bin:/sbin:/bin', LANG => 'C.UTF-8',
                %env);
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$dir/$unit.out");
        open(STDERR, '>&', \*STDOUT);
        $) = "$gid $gid";
        $( = $gid;
        POSIX::setuid($uid) or POSIX::_exit(126);
        chdir '/';
        exec(split ' ', $exec) or POSIX::_exit(127);
    }
    $daemons{$unit} = $pid;
    return $pid;
}

# SIGTERM to the main process (KillMode=mixed / control-group: the main
# process passes it on); its exit status, undef when it had to be killed
sub stop_unit {
    my ($unit) = @_;
    my $pid = delete $daemons{$unit} or return;
    kill 'TERM', $pid;
    my $status;
    wait_for(30, sub {
        my $r = waitpid($pid, POSIX::WNOHANG());
        $status = $? if $r == $pid;
        return $r != 0;
    }) or do {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    };
    return $status;
}

sub unit_alive {
    my ($unit) = @_;
    my $pid = $daemons{$unit} or return 0;
    return waitpid($pid, POSIX::WNOHANG()) == 0;
}

# waits up to $secs for a oneshot unit's process to end; its exit status
sub wait_unit {
    my ($unit, $secs) = @_;
    my $pid = $daemons{$unit} or return;
    my $status;
    wait_for($secs, sub {
        $status = $? if waitpid($pid, POSIX::WNOHANG()) == $pid;
        return defined $status;
    });
    delete $daemons{$unit} if defined $status;
    return $status;
}

sub unit_pid { return $daemons{ $_[0] } }

sub started_units { return sort keys %daemons }

# sets "key = value" (consumer.conf) or KEY=value (stats.conf) lines of a
# conffile, as an operator editing it would; keys not there are appended
sub edit_conffile {
    my ($file, $sep, %set) = @_;
    my $text = slurp($file);
    for my $key (sort keys %set) {
        my $line = "$key$sep$set{$key}";
        $text .= "$line\n"
            unless $text =~ s/^#?\s*\Q$key\E\s*=.*$/$line/m;
    }
    open(my $out, '>', $file) or die "$file: $!";
    print $out $text;
    close $out or die "$file: $!";
}


1;
