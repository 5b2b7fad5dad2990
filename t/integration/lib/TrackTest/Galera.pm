# SPDX-License-Identifier: BSD-2-Clause
# A MariaDB Galera cluster for the integration tests (the store's
# high-availability option, consumer/track-consumer/README.md): N mariadbd
# nodes under the test's directory, each on its own free ports (client,
# group communication, IST, SST), stopped at exit.  The listen address of
# each node and a command prefix for it are parameters, so the multi-host
# test can run the nodes in network namespaces.
package TrackTest::Galera;

use strict;
use warnings;

use DBI ();
use Exporter qw(import);
use File::Path qw(make_path);
use Test::More ();

use TrackTest::Base;

our @EXPORT = qw($GALERA_PROVIDER need_galera start_galera galera_hosts
                 galera_dbh galera_status galera_state galera_synced
                 galera_kill galera_rejoin galera_stop_node);

our $GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

# need_galera(): skips the whole test, saying why, when this machine cannot
# run a cluster (call it before any test)
sub need_galera {
    my @why;
    push @why, "$GALERA_PROVIDER is missing (Debian galera-4)"
        unless -f $GALERA_PROVIDER;
    push @why, 'rsync is missing (the state transfer)'
        unless `bash -c 'command -v rsync'`;
    push @why, 'mariadbd is missing' unless `bash -c 'command -v mariadbd'`;
    Test::More::plan(skip_all => join('; ', @why)
                     . ': scripts/deps.sh installs them') if @why;
}

# the shell text that starts node $n's mariadbd with extra options
sub node_cmd {
    my ($g, $n, @opt) = @_;
    my $prefix = $g->{wrap} ? $g->{wrap}->($n->{index}) . ' ' : '';
    return "$prefix mariadbd --defaults-file='$n->{dir}/my.cnf' @opt";
}

sub write_cnf {
    my ($g, $n) = @_;
    my $d = $n->{dir};
    my $peers = join(',', map { "$_->{host}:$_->{galera_port}" }
                          @{ $g->{nodes} });
    # short failure detection: a killed node leaves the cluster within
    # seconds (the defaults wait 5 to 15 s)
    my $provider = join(';', "gmcast.listen_addr=tcp://$n->{host}:"
                             . $n->{galera_port},
                        "base_port=$n->{galera_port}",
                        "ist.recv_addr=$n->{host}:$n->{ist_port}",
                        'gcache.size=64M', 'evs.keepalive_period=PT0.5S',
                        'evs.inactive_check_period=PT0.5S',
                        'evs.suspect_timeout=PT2S',
                        'evs.inactive_timeout=PT3S',
                        'pc.wait_prim_timeout=PT10S');
    open(my $fh, '>', "$d/my.cnf") or die "$d/my.cnf: $!";
    print $fh <<CNF;
[mariadbd]
datadir=$d/data
tmpdir=$d/tmp
socket=$d/mysqld.sock
port=$n->{port}
bind-address=$n->{host}
user=root
pid-file=$d/mariadbd.pid
log-error=$d/mariadbd.log
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max_allowed_packet=64M
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$GALERA_PROVIDER
wsrep_cluster_name=$g->{name}
wsrep_cluster_address=gcomm://$peers
wsrep_node_name=node$n->{index}
wsrep_node_address=$n->{host}:$n->{galera_port}
wsrep_provider_options="$provider"
wsrep_sst_method=rsync
wsrep_sst_receive_address=$n->{host}:$n->{sst_port}
wsrep_slave_threads=1
CNF
    close $fh;
}

# galera_dbh($g, $i): a new root handle on node $i's database (its socket).
# Its reads wait until the node has applied every write set committed in
# the cluster before them (wsrep_sync_wait): a node applies other nodes'
# commits a little later, and a check must not take late for lost.
sub galera_dbh {
    my ($g, $i, $db) = @_;
    my $dbh = status_dbh($g, $i, $db // $g->{database});
    $dbh->do('SET SESSION wsrep_sync_wait = 1');
    return $dbh;
}

# a new root handle on node $i whose reads do not wait (status variables)
sub status_dbh {
    my ($g, $i, $db) = @_;
    my $n = $g->{nodes}[$i];
    return DBI->connect("DBI:MariaDB:mariadb_socket=$n->{dir}/mysqld.sock"
                        . ($db ? ";database=$db" : ''), 'root', '',
                        { RaiseError => 1, PrintError => 0, AutoCommit => 1,
                          mariadb_connect_timeout => 2 });
}

# galera_status($g, $i, $name): the wsrep status variable of node $i, undef
# when the node does not answer
sub galera_status {
    my ($g, $i, $name) = @_;
    my $v = eval {
        my $dbh = status_dbh($g, $i, '');
        my $r = $dbh->selectrow_arrayref("SHOW STATUS LIKE ?", undef, $name);
        $dbh->disconnect;
        $r && $r->[1];
    };
    return $v;
}

# galera_state($g, $i): node $i's state, cluster status and cluster size
# in one line, for a diagnostic ("-" for what it does not answer)
sub galera_state {
    my ($g, $i) = @_;
    return join(' ', map { galera_status($g, $i, $_) // '-' }
                     qw(wsrep_local_state_comment wsrep_cluster_status
                        wsrep_cluster_size));
}

# galera_synced($g, $i, $size): node $i is Synced in a primary component of
# $size nodes (default: all)
sub galera_synced {
    my ($g, $i, $size) = @_;
    $size //= scalar @{ $g->{nodes} };
    return (galera_status($g, $i, 'wsrep_local_state_comment') // '')
           eq 'Synced'
        && (galera_status($g, $i, 'wsrep_cluster_status') // '') eq 'Primary'
        && (galera_status($g, $i, 'wsrep_cluster_size') // 0) == $size;
}

sub node_pid {
    my ($n) = @_;
    my $pid = eval { slurp("$n->{dir}/mariadbd.pid") } // '';
    chomp $pid;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# starts node $i (options @opt) and waits until it is Synced in a cluster
# of $size nodes
sub start_node {
    my ($g, $i, $size, @opt) = @_;
    my $n = $g->{nodes}[$i];
    my $cmd = node_cmd($g, $n, @opt);
    unlink "$n->{dir}/mariadbd.pid";
    system('bash', '-c', "(setsid $cmd </dev/null >>'$n->{dir}/mariadbd.log'"
                         . " 2>&1 &)") == 0 or die "cannot run mariadbd\n";
    # until Synced, or the process it started is gone (a failed transfer)
    my $gone = 0;
    wait_for(120, sub {
        my $pid = node_pid($n);
        $gone = 1 if $pid && !pid_alive($pid);
        return $gone || galera_synced($g, $i, $size);
    }) && !$gone
        or die "Galera node $i did not become Synced; see "
               . "$n->{dir}/mariadbd.log\n";
}

# starts joiner $i of a new cluster, up to three times: on a loaded
# machine a joiner now and then misses the install message of the primary
# view and gives up ("failed to reach primary view"), or finds a port taken
# meanwhile; each new try on fresh ports (the others reach it by its own
# connect, their gcomm lists need only one live member)
sub join_node {
    my ($g, $i, $size) = @_;
    my $n = $g->{nodes}[$i];
    for my $try (1 .. 3) {
        return if eval { start_node($g, $i, $size); 1 };
        Test::More::diag("Galera node $i, try $try: $@");
        galera_stop_node($g, $i);
        $n->{$_} = free_port() for qw(port galera_port ist_port sst_port);
        write_cnf($g, $n);
    }
    die "Galera node $i did not join in three tries; see "
        . "$n->{dir}/mariadbd.log\n";
}

# start_galera($dir, nodes => 3, hosts => [addr, ...], wrap => sub { my
# ($i) = @_; return 'ip netns exec ns'.$i }, database => 'track'): a
# cluster of `nodes` MariaDB Galera nodes in $dir/galera-<i>/, node i
# listening on hosts->[i] (default 127.0.0.1 for all) on free ports; wrap,
# when given, prefixes node i's mariadbd command line.  Node 0 bootstraps
# the cluster; the others join it by a state transfer (rsync).  The
# database gets sql/schema.sql and the users track_writer and track_reader
# (from any host, passwords in the result).  Returns { name, database,
# user, password, reader_user, reader_password, nodes => [ { index, dir,
# host, port, galera_port, ist_port, sst_port, socket } ] }; every node is
# stopped at exit.  Call need_galera() first.
sub start_galera {
    my ($dir, %o) = @_;
    my $count = $o{nodes} // 3;
    my $g = { name => 'track-' . $$ . '-' . int(rand(1e6)),
              database => $o{database} // 'track', wrap => $o{wrap},
              user => 'track_writer', reader_user => 'track_reader',
              password => sprintf('w%08x', int(rand(2**31))),
              reader_password => sprintf('r%08x', int(rand(2**31))),
              nodes => [] };
    for my $i (0 .. $count - 1) {
        my $d = "$dir/galera-$i";
        make_path("$d/tmp");
        push @{ $g->{nodes} }, {
            index => $i, dir => $d, socket => "$d/mysqld.sock",
            host => $o{hosts} ? $o{hosts}[$i] : '127.0.0.1',
            port => free_port(), galera_port => free_port(),
            ist_port => free_port(), sst_port => free_port() };
    }
    for my $n (@{ $g->{nodes} }) {
        write_cnf($g, $n);
        # the joiner's rsync daemon, started by mariadbd as root, writes as
        # "nobody" (a production node runs as mysql and owns its datadir)
        make_path("$n->{dir}/data", { mode => 0777 });
        chmod 0777, "$n->{dir}/data";
        at_exit(sub { galera_stop_node($g, $n->{index}) });
    }

    my $first = $g->{nodes}[0];
    sh("mariadb-install-db --no-defaults --datadir='$first->{dir}/data'"
       . " --user=root --auth-root-authentication-method=normal"
       . " --skip-test-db"
       . " >'$first->{dir}/install.log' 2>&1")
        or die "mariadb-install-db failed; see $first->{dir}/install.log\n";
    start_node($g, 0, 1, '--wsrep-new-cluster');

    my $root = galera_dbh($g, 0, '');
    my $db = $g->{database};
    $root->do("CREATE DATABASE IF NOT EXISTS `$db` CHARACTER SET utf8mb4");
    for my $u ([$g->{user}, $g->{password}, 'SELECT, INSERT, UPDATE, DELETE,'
                . ' CREATE, DROP, INDEX, ALTER'],
               [$g->{reader_user}, $g->{reader_password}, 'SELECT']) {
        my ($user, $pw, $grants) = @$u;
        $root->do("CREATE USER IF NOT EXISTS '$user'\@'%' IDENTIFIED BY"
                  . " '$pw'");
        $root->do("GRANT $grants ON `$db`.* TO '$user'\@'%'");
    }
    $root->disconnect;
    sh("mariadb --no-defaults --socket='$first->{socket}' --user=root '$db'"
       . " <'$ROOT/sql/schema.sql'") or die "sql/schema.sql failed\n";

    # one joiner at a time: each takes a full state transfer from a donor
    for my $i (1 .. $count - 1) {
        join_node($g, $i, $i + 1);
    }
    return $g;
}

# galera_hosts($g, @order): "host:port,..." of the nodes, in @order (node
# indexes; default all in order): a mysql_host list
sub galera_hosts {
    my ($g, @order) = @_;
    @order = (0 .. $#{ $g->{nodes} }) unless @order;
    return join(',', map { "$g->{nodes}[$_]{host}:$g->{nodes}[$_]{port}" }
                     @order);
}

# galera_kill($g, $i): SIGKILLs node $i (a crash: no clean leave) and
# waits until it is gone
sub galera_kill {
    my ($g, $i) = @_;
    my $n = $g->{nodes}[$i];
    my $pid = node_pid($n) or return 0;
    kill 'KILL', $pid;
    return wait_for(20, sub { !pid_alive($pid) });
}

# galera_rejoin($g, $i): starts node $i again after a crash: its last
# committed position recovered from InnoDB (mariadbd --wsrep-recover, as
# galera_recovery does), so it catches up by an incremental state transfer
# (IST) from a donor's cache; waits until it is Synced in the full cluster.
# Returns how it caught up: 'IST', 'SST' or '' (from its log).
sub galera_rejoin {
    my ($g, $i) = @_;
    my $n = $g->{nodes}[$i];
    my $log = "$n->{dir}/recover.log";
    unlink $log;
    system('bash', '-c', node_cmd($g, $n, '--wsrep-recover',
                                  "--log-error='$log'")
                         . " </dev/null >/dev/null 2>&1");
    my ($pos) = (eval { slurp($log) } // '')
                =~ /WSREP: Recovered position:\s*(\S+:-?\d+)/;
    my $before = -s "$n->{dir}/mariadbd.log" // 0;
    start_node($g, $i, scalar @{ $g->{nodes} },
               $pos ? ("--wsrep_start_position=$pos") : ());
    my $text = substr(slurp("$n->{dir}/mariadbd.log"), $before);
    return $text =~ /IST received/i ? 'IST'
         : $text =~ /SST (?:received|succeeded)|State transfer .*complete/i
           ? 'SST' : '';
}

# galera_stop_node($g, $i): a clean shutdown of node $i (TERM, KILL after
# 30 s)
sub galera_stop_node {
    my ($g, $i) = @_;
    my $n = $g->{nodes}[$i];
    return sh("stop_pidfile '$n->{dir}/mariadbd.pid' 30");
}

1;
