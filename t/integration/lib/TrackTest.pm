# Shared by the integration tests: throwaway redis, sentinel, nginx, MariaDB
# and track-consumer instances (through scripts/lib/services.sh), redis-cli
# calls, HTTP requests, and the end-to-end checks (every accepted event once
# in MariaDB, statistics equal to the raw tables).  Every process started
# here is stopped when the test exits, passed or not.
package TrackTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use DBI ();      # loaded first: its END (disconnect all) must run after ours
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX ();
use HTTP::Tiny;
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(sh free_port start_redis stop_redis redis_cli
                 start_nginx start_pixel_nginx workers_connected stop_nginx
                 reload_nginx http wait_for
                 scratch_dir send_events start_sending finish_sending
                 stored_eids metric $ROOT $MODULE_SO
                 kill_redis freeze_redis role_of start_sentinel sentinel_master
                 sentinel_settled
                 start_db start_consumer stop_consumer consumer_log
                 consumer_alive
                 db_eids exactly_once stats_consistent rollup_done
                 accepted);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $MODULE_SO = $ENV{TEST_NGINX_LOAD_MODULES}
                 || "$ROOT/build/nginx/ngx_http_track_module.so";
our $CONSUMER = $ENV{TC_BIN}
                || "$ROOT/consumer/build/release/track-consumer";

my @cleanups;

END {
    my $rc = $?;
    $_->() for reverse @cleanups;
    $? = $rc;
}

sub sh {
    my ($cmd) = @_;
    return system('bash', '-c',
                  ". '$ROOT/scripts/lib/services.sh'; set -e; $cmd") == 0;
}

# a port nobody listens on now, and not handed out before by this process
# (the kernel may offer the same free port twice before anything binds it)
my %ports_given;

sub free_port {
    for (1 .. 100) {
        my $p = `bash -c ". '$ROOT/scripts/lib/services.sh'; free_port"`;
        chomp $p;
        return $p if !$ports_given{$p}++;
    }
    die "free_port: no new port in 100 tries\n";
}

# a directory under t/tmp, removed at exit once everything started in it
# has stopped; kept (and named) when a test failed
sub scratch_dir {
    make_path("$ROOT/t/tmp");
    my $dir = tempdir('it-XXXXXX', DIR => "$ROOT/t/tmp");
    push @cleanups, sub {
        if (Test::More->builder->is_passing) {
            remove_tree($dir);
        } else {
            print STDERR "# logs kept in $dir\n";
        }
    };
    return $dir;
}

# polls $cond every 20 ms for up to $secs seconds; true when it held
sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return $cond->();
}

sub start_redis {
    my ($dir, $port, $args) = @_;
    $args //= '';
    sh("start_redis '$dir' $port $args")
        or die "redis did not start on $port\n";
    push @cleanups, sub { stop_redis($dir) };
}

sub stop_redis {
    my ($dir) = @_;
    sh("stop_redis '$dir'");
}

sub redis_cli {
    my ($port, @args) = @_;
    open(my $fh, '-|', 'redis-cli', '-p', $port, '--no-raw', @args)
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    return $out;
}

# start_nginx($dir, $http_block_text, %opt): nginx with the module, one
# server on a free port; returns the port.  opt: workers, main (extra main
# context directives), locations (server block text).
sub start_nginx {
    my ($dir, $http, %opt) = @_;
    my $port = free_port();
    my $workers = $opt{workers} // 2;
    my $main = $opt{main} // '';
    # as root, workers would run as nobody and could not enter the 0700
    # scratch directory (Test::Nginx does the same)
    $main .= "\nuser root;" if $> == 0;
    my $locations = $opt{locations} // '';
    make_path("$dir/logs", "$dir/tmp");
    open(my $fh, '>', "$dir/nginx.conf") or die $!;
    print $fh <<"EOF";
load_module $MODULE_SO;
worker_processes $workers;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
$main
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    $http
    server {
        listen 127.0.0.1:$port;
        location = /ok { return 200 "ok\\n"; }
        $locations
    }
}
EOF
    close $fh;

    system('nginx', '-p', $dir, '-c', "$dir/nginx.conf",
           '-e', "$dir/logs/error.log") == 0
        or die "nginx did not start; see $dir/logs/error.log\n";
    push @cleanups, sub { stop_nginx($dir) };
    wait_for(10, sub { http('GET', "http://127.0.0.1:$port/ok")->{status}
                       == 200 })
        or die "nginx on $port does not answer\n";
    return $port;
}

# start_pixel_nginx($dir, $http): start_nginx with the pixel at /t.gif and
# the module's metrics at /metrics; returns the base URL
sub start_pixel_nginx {
    my ($dir, $http) = @_;
    my $port = start_nginx($dir, $http, locations => <<'EOF');
        location = /t.gif { track; }
        location = /metrics { track_metrics; }
EOF
    return "http://127.0.0.1:$port";
}

# workers_connected($url): true once both workers of the nginx at $url have
# their Redis connection (within 10 s)
sub workers_connected {
    my ($url) = @_;
    return wait_for(10, sub {
        metric("$url/metrics", 'track_redis_connected_workers') == 2 });
}

sub stop_nginx {
    my ($dir) = @_;
    return unless -f "$dir/nginx.pid";
    system('nginx', '-p', $dir, '-c', "$dir/nginx.conf", '-e',
           "$dir/logs/error.log", '-s', 'quit');
    wait_for(10, sub { !-f "$dir/nginx.pid" });
}

sub reload_nginx {
    my ($dir) = @_;
    system('nginx', '-p', $dir, '-c', "$dir/nginx.conf", '-e',
           "$dir/logs/error.log", '-s', 'reload') == 0
        or die "nginx reload failed\n";
}

# start_sending($dir, $url, $procs, $per_proc, $tag): $procs processes each
# send $per_proc pixel requests over keep-alive, every event with its own
# client eid "$tag-<proc>-<n>"; returns a handle for finish_sending.  In
# $url, {p} is the process number, {n} the request number and {n%K} n
# modulo K (varied objects and users).
sub start_sending {
    my ($dir, $url, $procs, $per_proc, $tag) = @_;
    my @pids;
    for my $p (1 .. $procs) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
            open(my $out, '>', "$dir/sent-$tag-$p") or die $!;
            for my $n (1 .. $per_proc) {
                my $eid = "$tag-$p-$n";
                (my $u = "$url&eid=$eid") =~ s/\{p\}/$p/g;
                $u =~ s/\{n\}/$n/g;
                $u =~ s/\{n%(\d+)\}/$n % $1/ge;
                my $res = $ua->get($u);
                print $out "$eid $res->{status}\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my $h = { dir => $dir, tag => $tag, pids => \@pids };
    # a test that dies before finish_sending leaves no sender behind
    push @cleanups, sub {
        return if $h->{done};
        kill 'KILL', @pids;
        waitpid($_, 0) for @pids;
    };
    return $h;
}

# -> { eid => status }
sub finish_sending {
    my ($h) = @_;
    waitpid($_, 0) for @{ $h->{pids} };
    $h->{done} = 1;
    my %status;
    for my $p (1 .. scalar @{ $h->{pids} }) {
        open(my $in, '<', "$h->{dir}/sent-$h->{tag}-$p") or die $!;
        while (<$in>) {
            my ($eid, $st) = split;
            $status{$eid} = $st;
        }
    }
    return \%status;
}

sub send_events {
    return finish_sending(start_sending(@_));
}

# -> { eid => times stored } for the events in a Redis list
sub stored_eids {
    my ($port, $key) = @_;
    my %n;
    open(my $fh, '-|', 'redis-cli', '-p', $port, '--raw', 'lrange', $key,
         0, -1) or die $!;
    while (<$fh>) {
        $n{$1}++ if /^\{"eid":"([^"]+)"/;
    }
    close $fh;
    return \%n;
}

# --- redis and sentinel ------------------------------------------------------

# redis_pid($dir): the pid of the redis-server started in $dir
sub redis_pid {
    my ($dir) = @_;
    open(my $fh, '<', "$dir/redis.pid") or die "$dir/redis.pid: $!";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    return $pid;
}

# kill_redis($dir): SIGKILL the redis-server started in $dir, wait until it
# is gone; returns its pid.
sub kill_redis {
    my ($dir) = @_;
    my $pid = redis_pid($dir);
    kill 'KILL', $pid;
    wait_for(10, sub { !kill(0, $pid) }) or die "redis $pid survived KILL\n";
    unlink "$dir/redis.pid";
    return $pid;
}

# freeze_redis($dir): SIGSTOP the redis-server started in $dir (it keeps
# its connections but answers nothing); returns its pid for the SIGCONT.
# Whatever happens, it is continued before the cleanup stops it.
sub freeze_redis {
    my ($dir) = @_;
    my $pid = redis_pid($dir);
    kill 'STOP', $pid;
    push @cleanups, sub { kill 'CONT', $pid };
    return $pid;
}

# role_of($port): "master", "slave", or '' when it does not answer
sub role_of {
    my ($port) = @_;
    my $out = redis_cli($port, 'role') // '';
    return $out =~ /^1\) "(\w+)"/ ? $1 : '';
}

# start_sentinel($dir, $port, $name, $master_port, %opt): one redis-sentinel
# monitoring the master on $master_port as $name, quorum 1; opt down_after
# (ms, default 2000: less, and a starved sentinel on a loaded machine
# declares healthy masters down), failover_timeout (ms, default 5000).
# Stopped at exit.
sub start_sentinel {
    my ($dir, $port, $name, $master_port, %opt) = @_;
    make_path($dir);
    my $down = $opt{down_after} // 2000;
    my $timeout = $opt{failover_timeout} // 5000;
    open(my $fh, '>', "$dir/sentinel.conf") or die $!;
    print $fh <<"EOF";
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor $name 127.0.0.1 $master_port 1
sentinel down-after-milliseconds $name $down
sentinel failover-timeout $name $timeout
EOF
    close $fh;
    system('redis-sentinel', "$dir/sentinel.conf") == 0
        or die "redis-sentinel did not start on $port\n";
    push @cleanups, sub { sh("stop_pidfile '$dir/sentinel.pid'") };
    wait_for(10, sub { sentinel_master($port, $name) })
        or die "sentinel on $port does not answer\n";
}

# sentinel_master($port, $name): the port of the master the sentinel names
# (every test server is on 127.0.0.1), undef when it does not answer
sub sentinel_master {
    my ($port, $name) = @_;
    my $out = redis_cli($port, 'sentinel', 'get-master-addr-by-name', $name)
              // '';
    return $out =~ /^2\) "(\d+)"/m ? $1 : undef;
}

# sentinel_settled($port, $name, $master_port): no failover in progress, and
# the sentinel names the master on $master_port (its failover finished:
# killing the master now starts a new one)
sub sentinel_settled {
    my ($port, $name, $master_port) = @_;
    open(my $fh, '-|', 'redis-cli', '-p', $port, '--raw', 'sentinel',
         'master', $name) or die "redis-cli: $!";
    chomp(my @kv = <$fh>);
    close $fh;
    my %m = @kv % 2 ? () : @kv;
    return ($m{flags} // '') eq 'master' && ($m{port} // 0) == $master_port;
}

# --- MariaDB and track-consumer ----------------------------------------------

# start_db($dir, $name): a fresh database $name that track_writer may write,
# and a root DBI handle on it (session time zone UTC).  On the MariaDB of
# t/harness.sh (MARIADB_DIR) when there is one (the database is dropped at
# exit when the test passed), else on a private mariadbd under $dir.
# Returns { socket, password (the writer's), database, dbh }.
sub start_db {
    my ($dir, $name) = @_;
    my $mdir = $ENV{MARIADB_DIR};
    my $own = !($mdir && -f "$mdir/root.cnf");
    if ($own) {
        $mdir = "$dir/mariadb";
        make_path("$mdir/tmp");
        my $port = free_port();
        push @cleanups, sub { sh("stop_mariadb '$mdir'") };
        sh("start_mariadb '$mdir' $port --tmpdir='$mdir/tmp'")
            or die "mariadbd did not start; see $mdir/mariadbd.log\n";
    }
    my %env;
    for my $file ("$mdir/env", "$mdir/root.cnf") {
        open(my $fh, '<', $file) or die "$file: $!";
        while (<$fh>) {
            $env{$1} = $2 if /^(\w+)=(.*)$/;
        }
        close $fh;
    }
    my $dsn = "DBI:MariaDB:mariadb_socket=$env{MYSQL_SOCKET}";
    my $root = DBI->connect($dsn, 'root', $env{password},
                            { RaiseError => 1, PrintError => 0 })
        or die "cannot connect to mariadbd\n";
    $root->do("DROP DATABASE IF EXISTS `$name`");
    $root->do("CREATE DATABASE `$name` CHARACTER SET utf8mb4");
    $root->do("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, "
              . "ALTER ON `$name`.* TO 'track_writer'\@'localhost', "
              . "'track_writer'\@'127.0.0.1'");
    $root->disconnect;
    my $dbh = DBI->connect("$dsn;database=$name", 'root', $env{password},
                           { RaiseError => 1, PrintError => 0 });
    $dbh->do("SET time_zone = '+00:00'");
    unless ($own) {
        push @cleanups, sub {
            return unless Test::More->builder->is_passing;
            eval { $dbh->do("DROP DATABASE IF EXISTS `$name`") };
        };
    }
    return { socket => $env{MYSQL_SOCKET}, password => $env{MYSQL_PASSWORD},
             database => $name, dbh => $dbh };
}

# start_consumer($dir, db => $db, id => $id, redis_port => $port | sentinel
# => 'host:port ...', master => $name, key => $queue, args => [...],
# env => {...}): track-consumer with its settings in $dir/consumer.conf and
# its log in $dir/consumer.log (time zone UTC, batches of 500, backoff 50 ms
# doubling up to 800 ms); returns { pid, log }.  Stopped at exit.
sub start_consumer {
    my ($dir, %o) = @_;
    make_path($dir);
    my $db = $o{db};
    open(my $fh, '>', "$dir/consumer.conf") or die $!;
    print $fh "id = $o{id}\n" if $o{id};
    print $fh "redis_port = $o{redis_port}\n" if $o{redis_port};
    print $fh "redis_sentinel = $o{sentinel}\n" if $o{sentinel};
    print $fh "redis_master = $o{master}\n" if $o{master};
    print $fh "queue_key = $o{key}\n" if $o{key};
    print $fh <<"EOF";
mysql_socket = $db->{socket}
mysql_password = $db->{password}
mysql_database = $db->{database}
timezone = UTC
log_file = $dir/consumer.log
backoff_min_ms = 50
backoff_max_ms = 800
redis_timeout_ms = 2000
block_ms = 200
linger_ms = 50
batch_size = 500
EOF
    close $fh;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} || {} };
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$dir/consumer.out");
        open(STDERR, '>&', \*STDOUT);
        exec($CONSUMER, '--config', "$dir/consumer.conf",
             @{ $o{args} || [] }) or POSIX::_exit(127);
    }
    my $c = { pid => $pid, log => "$dir/consumer.log" };
    push @cleanups, sub { stop_consumer($c) };
    return $c;
}

# stop_consumer($c): SIGTERM (it finishes the batch in hand) and waits; KILL
# after 10 s.  The exit status, undef when it had to be killed.
sub stop_consumer {
    my ($c) = @_;
    return $c->{status} if exists $c->{status};
    kill 'TERM', $c->{pid};
    kill 'CONT', $c->{pid};
    my $status;
    wait_for(10, sub {
        my $r = waitpid($c->{pid}, POSIX::WNOHANG());
        $status = $? if $r == $c->{pid};
        return $r != 0;
    }) or do {
        kill 'KILL', $c->{pid};
        waitpid($c->{pid}, 0);
    };
    $c->{status} = $status;
    return $status;
}

# consumer_alive($c): it has not exited (an exit is reaped and remembered)
sub consumer_alive {
    my ($c) = @_;
    return 0 if exists $c->{status};
    my $r = waitpid($c->{pid}, POSIX::WNOHANG());
    if ($r == $c->{pid}) {
        $c->{status} = $?;
        return 0;
    }
    return $r == 0;
}

sub consumer_log {
    my ($c) = @_;
    open(my $fh, '<', $c->{log}) or return '';
    local $/;
    return <$fh>;
}

# --- end-to-end checks -------------------------------------------------------

# the eids answered 2xx
sub accepted {
    my ($sent) = @_;
    return [grep { $sent->{$_} =~ /^2\d\d$/ } keys %$sent];
}

# -> { eid => rows } over every day table
sub db_eids {
    my ($dbh) = @_;
    my %n;
    my $tables = $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'");
    for my $t (@$tables) {
        $n{$_}++ for @{ $dbh->selectcol_arrayref("SELECT eid FROM `$t`") };
    }
    return \%n;
}

# exactly_once($dbh, \%sent, $label): every event answered 2xx is in a day
# table, none twice, and nothing is there that was not sent (an event whose
# request failed may be there once: a 503 or a client timeout promises
# nothing either way)
sub exactly_once {
    my ($dbh, $sent, $label) = @_;
    my $got = db_eids($dbh);
    my $ok = accepted($sent);
    my @missing = grep { !$got->{$_} } @$ok;
    my @twice = grep { $got->{$_} > 1 } keys %$got;
    my @foreign = grep { !exists $sent->{$_} } keys %$got;
    my $some = sub { my @l = @_; "@l[0 .. ($#l < 9 ? $#l : 9)]" };
    Test::More::is(scalar @missing, 0, "$label: all " . scalar(@$ok)
                   . ' accepted events are in MariaDB')
        or Test::More::diag('missing: ' . $some->(@missing));
    Test::More::is(scalar @twice, 0, "$label: none of them twice")
        or Test::More::diag('twice: ' . $some->(@twice));
    Test::More::is(scalar @foreign, 0,
                   "$label: nothing that was not sent")
        or Test::More::diag('not sent: ' . $some->(@foreign));
    return !@missing && !@twice && !@foreign;
}

# rollup_done($dbh, $secs): waits until the consumers' roll-up has counted
# every committed row into the statistics (stats_pending is empty); true
# when it did within $secs (30).
sub rollup_done {
    my ($dbh, $secs) = @_;
    return wait_for($secs // 30, sub {
        !$dbh->selectrow_array('SELECT COUNT(*) FROM stats_pending') });
}

# stats_consistent($dbh, $label): once the roll-up has caught up (nothing
# pending), every statistics table equals SQL over the raw day tables
# (start_consumer's consumers run in UTC)
sub stats_consistent {
    my ($dbh, $label) = @_;
    my (@hourly, @daily, @users);
    Test::More::ok(rollup_done($dbh),
                   "$label: the roll-up counted every committed row")
        or Test::More::diag('still pending: ' . $dbh->selectrow_array(
            'SELECT COUNT(*) FROM stats_pending') . ' ranges');
    my $rows = sub {
        my ($sql) = @_;
        return [map { join("\t", map { $_ // 'NULL' } @$_) }
                @{ $dbh->selectall_arrayref($sql) }];
    };
    my $tables = $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'");
    for my $t (@$tables) {
        my ($y, $m, $d) = $t =~ /^events_(\d{4})(\d{2})(\d{2})$/ or next;
        my $day = "'$y-$m-$d'";
        push @hourly, @{ $rows->(
            "SELECT $day, FLOOR(MOD(recv_ts DIV 1000, 86400) / 3600) h, app,"
            . " module, action, COALESCE(object, '') o, COUNT(*) FROM `$t`"
            . " GROUP BY h, app, module, action, o") };
        push @daily, @{ $rows->(
            "SELECT $day, app, module, action, COALESCE(object, '') o,"
            . " COUNT(*) FROM `$t` GROUP BY app, module, action, o") };
        push @users, @{ $rows->(
            "SELECT $day, app, module, action, COUNT(DISTINCT uid) FROM `$t`"
            . " WHERE uid IS NOT NULL AND uid <> ''"
            . " GROUP BY app, module, action") };
    }
    my @cmp = (
        [ 'stats_hourly', \@hourly, 'SELECT day, hour, app, module, action,'
          . ' object, events FROM stats_hourly' ],
        [ 'stats_daily', \@daily, 'SELECT day, app, module, action, object,'
          . ' events FROM stats_daily' ],
        [ 'stats_daily_users', \@users, 'SELECT day, app, module, action,'
          . ' users FROM stats_daily_users' ],
    );
    for my $c (@cmp) {
        my ($table, $raw, $sql) = @$c;
        my @a = sort @{ $rows->($sql) };
        my @b = sort @$raw;
        my %a = map { $_ => 1 } @a;
        my %b = map { $_ => 1 } @b;
        my @only_stats = grep { !$b{$_} } @a;
        my @only_raw = grep { !$a{$_} } @b;
        Test::More::ok(@a == @b && !@only_stats && !@only_raw,
                       "$label: $table equals the raw tables ("
                       . scalar(@a) . ' rows)')
            or Test::More::diag("only in $table: "
                                . join(' | ', splice(@only_stats, 0, 5))
                                . "\nonly in the raw tables: "
                                . join(' | ', splice(@only_raw, 0, 5)));
    }
}

# the value of a counter on a track_metrics location, -1 when absent
sub metric {
    my ($url, $name) = @_;
    my $body = http('GET', $url)->{content} // '';
    return $body =~ /^$name (\d+)$/m ? $1 : -1;
}

# http($method, $url, $body, \%headers) -> HTTP::Tiny response
sub http {
    my ($method, $url, $body, $headers) = @_;
    my %opt = (headers => $headers || {});
    $opt{content} = $body if defined $body;
    return HTTP::Tiny->new(keep_alive => 0, timeout => 10)
                     ->request($method, $url, \%opt);
}

# --- supervised lanes, durable local Redis (issue 16) ---------------------------

# lane_pids($log_text): { lane => pid } of the latest start of each lane a
# track-consumer supervisor logged
sub lane_pids {
    my ($text) = @_;
    my %p = ($text // '') =~ /lanes: lane (\d+) of consumer "[^"]*" is pid (\d+)/g;
    return \%p;
}

# redis_int($port, @command): an integer reply (LLEN, DBSIZE...), -1 when
# Redis does not answer with one
sub redis_int {
    my ($port, @cmd) = @_;
    my $out = redis_cli($port, @cmd) // '';
    return $out =~ /^\(integer\) (-?\d+)$/m ? $1 : -1;
}

# processing_total($port, $id): elements in the processing lists of the
# lanes of consumer $id (id, id/1, ... id/15)
sub processing_total {
    my ($port, $id) = @_;
    my $n = 0;
    for my $k (0 .. 15) {
        my $l = redis_int($port, 'llen', 'track:processing:'
                                         . ($k ? "$id/$k" : $id));
        $n += $l if $l > 0;
    }
    return $n;
}

# run_sh($run_dir, 'start' | 'stop'): scripts/run.sh (what `make run` and
# `make stop` call) with its directory $run_dir instead of run/, output in
# $run_dir.log; true when it succeeded.  The first start registers a stop
# at exit.
my %run_dirs;

sub run_sh {
    my ($run, $what) = @_;
    if (!$run_dirs{$run}++) {
        push @cleanups, sub { run_sh($run, 'stop') };
    }
    local $ENV{TRACK_RUN_DIR} = $run;
    return system("'$ROOT/scripts/run.sh' $what >>'$run.log' 2>&1") == 0;
}

# run_env($run_dir): the settings run.sh wrote to $run_dir/env, and dbh (the
# MariaDB root on database track, session time zone UTC)
sub run_env {
    my ($run) = @_;
    my %env;
    for my $file ("$run/env", "$run/mariadb/root.cnf") {
        open(my $fh, '<', $file) or die "$file: $!";
        while (<$fh>) {
            $env{$1} = $2 if /^(\w+)=(.*)$/;
        }
        close $fh;
    }
    $env{dbh} = DBI->connect("DBI:MariaDB:mariadb_socket=$env{MYSQL_SOCKET};"
                             . "database=$env{MYSQL_DATABASE}", 'root',
                             $env{password},
                             { RaiseError => 1, PrintError => 0 });
    $env{dbh}->do("SET time_zone = '+00:00'");
    return \%env;
}

push @EXPORT, qw(lane_pids redis_int processing_total run_sh run_env);

1;
