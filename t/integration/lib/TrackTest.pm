# Shared by the integration tests: throwaway redis and nginx instances (through
# scripts/lib/services.sh), redis-cli calls and HTTP requests.
package TrackTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX ();
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(sh free_port start_redis stop_redis redis_cli
                 start_nginx stop_nginx reload_nginx http wait_for
                 scratch_dir send_events start_sending finish_sending
                 stored_eids metric $ROOT $MODULE_SO);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $MODULE_SO = $ENV{TEST_NGINX_LOAD_MODULES}
                 || "$ROOT/build/nginx/ngx_http_track_module.so";

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

sub free_port {
    my $p = `bash -c ". '$ROOT/scripts/lib/services.sh'; free_port"`;
    chomp $p;
    return $p;
}

sub scratch_dir {
    make_path("$ROOT/t/tmp");
    return tempdir('it-XXXXXX', DIR => "$ROOT/t/tmp", CLEANUP => 1);
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
# client eid "$tag-<proc>-<n>"; returns a handle for finish_sending.
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
                my $res = $ua->get("$url&eid=$eid");
                print $out "$eid $res->{status}\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return { dir => $dir, tag => $tag, pids => \@pids };
}

# -> { eid => status }
sub finish_sending {
    my ($h) = @_;
    waitpid($_, 0) for @{ $h->{pids} };
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

1;
