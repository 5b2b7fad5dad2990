# SPDX-License-Identifier: BSD-2-Clause
package Test::Nginx::Util;

# Server side of the fallback Test::Nginx runner: settings, nginx.conf, the
# server root, starting and stopping nginx (optionally under valgrind),
# $TEST_NGINX_* expansion and error.log slices.  Used only when the real
# Test::Nginx (openresty/test-nginx) is not installed; see the notes at the
# end of Socket.pm.

use strict;
use warnings;
use v5.10.1;

use Exporter 'import';
use Carp qw(croak);
use File::Basename qw(basename);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();

our @EXPORT = qw(
    repeat_each no_shuffle log_level timeout workers worker_connections
    master_on master_off no_root_location config_preamble env_to_nginx
    check_accum_error_log no_long_string add_block_preprocessor
    server_root html_dir server_port bail_out
);

our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                         || 1984;
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $Daemon            = $UseValgrind ? 'off' : 'on';
our $Workers           = 1;
our $WorkerConnections = 64;
our $NoRootLocation    = 0;
our $ConfigPreamble    = '';
our $NoLongString;
our @EnvToNginx;
our @BlockPreprocessors;

our $ServRoot   = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";

# Unlike upstream (valgrind output on stderr), each nginx run under valgrind
# writes its report to a file here, outside the server root, so that the
# harness can fail on it.
our $ValgrindLogDir = $ENV{TEST_NGINX_VALGRIND_LOG_DIR}
                      || File::Spec->rel2abs('t/tmp/valgrind');

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

for my $mode (qw(CHECK_LEAK BENCHMARK USE_HUP USE_STAP USE_RR RANDOMIZE
                 USE_HTTP2 USE_HTTP3 NO_NGINX_MANAGER)) {
    die "TEST_NGINX_$mode is not supported by the fallback runner in t/lib\n"
        if $ENV{"TEST_NGINX_$mode"};
}

our $ErrLogPos = 0;     # where the next error.log slice starts
our $ChildPid;          # nginx when we forked it ourselves (valgrind)
our $ValgrindLog;       # log file prefix of the current valgrind run
our $RandPorts = {};    # $TEST_NGINX_RAND_PORT_N of the current block
our @CleanupHooks;      # run by cleanup(), e.g. to stop the fake TCP server

sub repeat_each { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle () { $NoShuffle = 1 }
sub log_level { $LogLevel = shift if @_; $LogLevel }
sub timeout { $Timeout = shift if @_; $Timeout }
sub workers { $Workers = shift if @_; $Workers }
sub worker_connections { $WorkerConnections = shift if @_; $WorkerConnections }
sub master_on () { $MasterProcess = 'on' }
sub master_off () { $MasterProcess = 'off' }
sub no_root_location () { $NoRootLocation = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub no_long_string () { $NoLongString = 1 }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub server_root () { $ServRoot }
sub html_dir () { $HtmlDir }
sub server_port { $ServerPort = shift if @_; $ServerPort }

sub env_to_nginx {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# "50ms" -> 0.05, "2s" and "2" -> 2
sub parse_time {
    my $t = shift;
    return $t unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

# Replaces $TEST_NGINX_NAME (no braces) by its value from %ENV and bails out
# when it is unset.  $TEST_NGINX_RAND_PORT_N becomes a free port, the same
# one for the whole block.
sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $RandPorts->{$var} //= rand_port()
                // bail_out("$name - Cannot find an available port for $var.\n");
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub rand_port {
    my %used = ($ServerPort => 1,
                map { $_ => 1 } grep { defined } values %$RandPorts);
    for (1 .. 1000) {
        my $port = 1988 + int rand(65536 - 1988);
        next if $used{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                      LocalPort => $port, Listen => 1,
                                      ReuseAddr => 1)
            or next;
        close $s;
        return $port;
    }
    return undef;
}

# Empties the server root as upstream does: only conf, logs, html and the
# *_temp/*_cache directories may be in it; anything else bails out.
sub setup_server_root {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $LogDir, $HtmlDir, "$ServRoot/cache",
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!\n");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

my $NginxV;

sub write_config {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $http_config = expand_env($block->http_config // '', $name);
    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { length } split /\s+/,
                   $LoadModules;
        $main_config = join ' ', @mods, $main_config if @mods;
    }
    $main_config = expand_env($main_config, $name);
    my $post_main_config = expand_env($block->post_main_config // '', $name);
    my $err_log = expand_env($block->error_log_file || $ErrLogFile, $name);
    (my $server_name = $block->server_name // $ServerName) =~ s/(['\\])/\\$1/g;

    $NginxV //= `$NginxBinary -V 2>&1` // '';
    my @temp;
    push @temp, "client_body_temp_path $ServRoot/client_body_temp;"
        unless $http_config =~ /\bclient_body_temp_path\b/;
    push @temp, "proxy_temp_path $ServRoot/proxy_temp;"
        unless $http_config =~ /\bproxy_temp_path\b/;
    for my $m (qw(fastcgi scgi uwsgi)) {
        push @temp, "${m}_temp_path $ServRoot/${m}_temp;"
            unless $NginxV =~ /--without-http_${m}_module/;
    }

    my $env = join '', map { "env $_;\n" } qw(
        MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
        LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
        DYLD_FORCE_FLAT_NAMESPACE);
    $env .= join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             :                       '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon $Daemon;
master_process $MasterProcess;
error_log $err_log $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile; @temp

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

$ConfigPreamble
$config

$root_location    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

sub read_pidfile {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

# Alive and not a zombie (the daemonized nginx is reparented to pid 1, which
# does not always reap it).
sub is_running {
    my $pid = shift;
    if (defined $ChildPid && $pid == $ChildPid) {
        return 0 if waitpid($pid, WNOHANG) != 0;
    }
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $stat = <$st> // '';
        return 0 if $stat =~ /^\d+ \(.*\) [ZX] /s;
    }
    return 1;
}

sub is_listening {
    my $hex = sprintf ':%04X ', shift;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        return 1 if grep { /^\s*\d+: [0-9A-F]+$hex[0-9A-F:]+ 0A / } <$in>;
    }
    return 0;
}

# SIGQUIT to nginx, wait for it to exit (under valgrind long enough for the
# leak report), then SIGKILL.
sub stop_nginx {
    my $name = shift // '';
    my $pid = read_pidfile() // $ChildPid;
    if (defined $pid && is_running($pid)) {
        # nginx checks the quit flag only after an event: a signal that
        # lands before its epoll_wait() (likely under valgrind) needs another.
        my $deadline = time + ($UseValgrind ? 30 : $Timeout);
        my $next = 0;
        while (is_running($pid) && time < $deadline) {
            if (time >= $next) {
                kill SIGQUIT, $pid;
                $next = time + 0.25;
            }
            sleep 0.01;
        }
        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit\n";
            kill SIGKILL, (getpgrp($pid) == $pid ? -$pid : $pid);
            sleep 0.05;
        }
    }
    waitpid($ChildPid, 0) if defined $ChildPid;
    undef $ChildPid;
    unlink $PidFile;
}

sub valgrind_command {
    my $block = shift;
    my @vg = ('valgrind', '-q', '--num-callers=100');
    if ($UseValgrind =~ /^\d+$/) {
        push @vg, qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                     --show-possibly-lost=no --gen-suppressions=all);
        push @vg, map { "--suppressions=$_" } grep { -f }
                  qw(valgrind.suppress t/valgrind.suppress);
    } else {
        push @vg, split ' ', $UseValgrind;
    }
    make_path($ValgrindLogDir);
    (my $tag = basename($0)) =~ s/\.t$//;
    my ($num) = $block->name =~ /TEST (\d+)/;
    $tag .= '-' . ($num // $block->seq_num);
    $ValgrindLog = "$ValgrindLogDir/$tag";
    unlink glob "$ValgrindLog.*.log";
    push @vg, "--log-file=$ValgrindLog.%p.log";
    return @vg;
}

sub start_nginx {
    my $block = shift;
    my $name = $block->name;
    my @cmd = ($NginxBinary, '-e', $ErrLogFile, '-p', "$ServRoot/",
               '-c', $ConfFile);

    if ($UseValgrind) {
        my @full = (valgrind_command($block), @cmd);
        my $pid = fork // bail_out("$name - fork() failed: $!");
        if ($pid == 0) {
            setpgrp;
            open STDOUT, '>', '/dev/null';
            exec @full or POSIX::_exit(127);
        }
        $ChildPid = $pid;
        # valgrind needs a second or two: wait for the listening socket
        # (polling it by connecting would leave lines in error.log).
        my $deadline = time + 30;
        sleep 0.05 until is_listening($ServerPort) || !is_running($pid)
                         || time > $deadline;
        return;
    }

    # Retried while the port is still held by the previous nginx; any other
    # failure bails out at once (upstream retries everything for 30 s).
    my $waited = 0;
    for (my $i = 1; ; $i++) {
        my $rc = system('sh', '-c', 'exec "$@" >/dev/null', 'sh', @cmd);
        last if $rc == 0;
        my $log = -f $ErrLogFile ? `tail -n 5 $ErrLogFile` : '';
        if ($log =~ /Address already in use/ && $waited < 30) {
            my $delay = $i * 0.1 > 1 ? 1 : $i * 0.1;
            sleep $delay;
            $waited += $delay;
            next;
        }
        bail_out("$name - Cannot start nginx using command \"@cmd\" "
                 . "(status code $rc).\n$log");
    }
    sleep $Sleep;
}

# The error.log lines written since the previous call (the whole file with
# check_accum_error_log).
sub error_log_data {
    sleep $Sleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub cleanup {
    $_->() for @CleanupHooks;
    stop_nginx('cleanup') if defined $ChildPid;
}

# Ctrl-C and kill still stop nginx: exit() runs the END block below.
$SIG{INT}  ||= sub { exit 130 };
$SIG{TERM} ||= sub { exit 143 };

END {
    local $?;
    cleanup();
    stop_nginx('END') if $UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN};
}

1;
