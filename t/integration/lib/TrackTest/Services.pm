# SPDX-License-Identifier: BSD-2-Clause
# Throwaway Redis, Sentinel and nginx instances for the integration tests
# (each stopped when the test exits), Redis commands, and the pixel traffic
# the module tests send.
package TrackTest::Services;

use strict;
use warnings;

use DBI ();
use Exporter qw(import);
use File::Path qw(make_path);
use HTTP::Tiny;
use POSIX ();
use Redis;

use TrackTest::Base;

our @EXPORT = qw($MODULE_SO start_redis stop_redis redis_cli redis_cmd redis_int
                 run_sh run_env
                 redis_forget kill_redis freeze_redis role_of start_replicated_redis
                 start_sentinel
                 sentinel_master sentinel_settled
                 start_nginx start_pixel_nginx start_spooling_nginx
                 workers_connected stop_nginx reload_nginx metric
                 send_events start_sending finish_sending stored_eids);

our $MODULE_SO = $ENV{TEST_NGINX_LOAD_MODULES}
                 || "$ROOT/build/nginx/ngx_http_track_module.so";

# --- redis and sentinel ------------------------------------------------------

# start_redis($dir, $port, $args): a redis-server on $port with extra
# command-line $args, stopped at exit; returns $port
sub start_redis {
    my ($dir, $port, $args) = @_;
    $args //= '';
    sh("start_redis '$dir' $port $args")
        or die "redis did not start on $port\n";
    at_exit(sub { stop_redis($dir) });
    return $port;
}
# start_replicated_redis($dir, $master, \@replicas, $args): a master on
# port $master and a replica of it on each port of @replicas (under
# $dir/master, $dir/replica1, ...), with extra $args each; true once the
# master counts every replica as connected (30 s at most)
sub start_replicated_redis {
    my ($dir, $master, $replicas, $args) = @_;
    $args //= '';
    start_redis("$dir/master", $master, $args);
    my $i = 0;
    start_redis("$dir/replica" . ++$i, $_,
                "$args --replicaof 127.0.0.1 $master") for @$replicas;
    my $want = scalar @$replicas;
    return wait_for(30, sub {
        (redis_cmd($master, 'INFO', 'replication')->{connected_slaves} // 0)
            == $want });
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
# redis_cmd($port, $command, @args): the reply of one command as Perl data
# (an integer or status as a string, nil as undef, an array as an array
# reference, INFO as a hash), over a connection kept per port; dies on an
# error reply or a lost connection (the next call connects again)
my %redis;

sub redis_cmd {
    my ($port, $cmd, @args) = @_;
    my $m = lc $cmd;
    my $reply = eval {
        my $r = $redis{$port} //= Redis->new(server => "127.0.0.1:$port",
                                             reconnect => 0,
                                             cnx_timeout => 5);
        $m eq 'keys' ? [$r->keys(@args)] : scalar $r->$m(@args);
    };
    if ($@) {
        delete $redis{$port};
        die $@;
    }
    return $reply;
}

# redis_forget(): drop the kept connections (after a server was killed)
sub redis_forget {
    %redis = ();
}

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
    wait_for(10, sub { !pid_alive($pid) }) or die "redis $pid survived KILL\n";
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
    at_exit(sub { kill 'CONT', $pid });
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
    at_exit(sub { sh("stop_pidfile '$dir/sentinel.pid'") });
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

# --- nginx -------------------------------------------------------------------

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
    at_exit(sub { stop_nginx($dir) });
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

# start_spooling_nginx($dir, $redis_port, $key): start_pixel_nginx for one
# Redis with a spool in $dir/spool and short timeouts: an outage of Redis
# is taken by the spool within a second, and over soon after it ends
sub start_spooling_nginx {
    my ($dir, $redis_port, $key) = @_;
    return start_pixel_nginx($dir, <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
    track_spool $dir/spool;
EOF
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

# the value of a counter on a track_metrics location, -1 when absent
sub metric {
    my ($url, $name) = @_;
    my $body = http('GET', $url)->{content} // '';
    return $body =~ /^$name (\d+)$/m ? $1 : -1;
}

# --- pixel traffic -----------------------------------------------------------

# start_sending($dir, $url, $procs, $per_proc, $tag): $procs processes each
# send $per_proc pixel requests over keep-alive, every event with its own
# client eid "$tag-<proc>-<n>"; returns a handle for finish_sending.  In
# $url, {p} is the process number, {n} the request number and {n%K} n
# modulo K (varied objects and users).  $per_proc 0: until finish_sending.
sub start_sending {
    my ($dir, $url, $procs, $per_proc, $tag) = @_;
    my @pids;
    my $stop = "$dir/stop-$tag";
    for my $p (1 .. $procs) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
            open(my $out, '>', "$dir/sent-$tag-$p") or die $!;
            for (my $n = 1; $per_proc ? $n <= $per_proc : !-e $stop; $n++) {
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
    my $h = { dir => $dir, tag => $tag, pids => \@pids, stop => $stop };
    # a test that dies before finish_sending leaves no sender behind
    at_exit(sub {
        return if $h->{done};
        kill 'KILL', @pids;
        waitpid($_, 0) for @pids;
    });
    return $h;
}

# -> { eid => status }
sub finish_sending {
    my ($h) = @_;
    open(my $stop, '>', $h->{stop}) or die "$h->{stop}: $!";
    close $stop;
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


# redis_int($port, @command): an integer reply (LLEN, DBSIZE...), -1 when
# Redis does not answer with one
sub redis_int {
    my ($port, @cmd) = @_;
    my $out = redis_cli($port, @cmd) // '';
    return $out =~ /^\(integer\) (-?\d+)$/m ? $1 : -1;
}

# --- scripts/run.sh, the pipeline of `make run` (issue 16) ---------------

# run_sh($run_dir, 'start' | 'stop'): scripts/run.sh (what `make run` and
# `make stop` call) with its directory $run_dir instead of run/, output in
# $run_dir.log; true when it succeeded.  The first start registers a stop
# at exit.
my %run_dirs;

sub run_sh {
    my ($run, $what) = @_;
    if (!$run_dirs{$run}++) {
        at_exit(sub { run_sh($run, 'stop') });
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

1;
