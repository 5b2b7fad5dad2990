#!/usr/bin/env perl
# The whole pipeline: events sent to nginx (pixel GETs and beacon POSTs, some
# resent with the same eid) go through ngx_http_track_module, Redis and
# track-consumer into MariaDB; then every endpoint of track-stats, asked
# through the same nginx (proxy_pass + proxy_cache under /stats/), is
# compared with SQL over the raw day table.  The zone is Asia/Kolkata
# (+05:30 all year) so that hours and days are not UTC's.
# Needs `make module` and `make -C consumer`; last line "N passed, N failed".
use strict;
use warnings;
use utf8;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use POSIX qw(strftime WNOHANG);
use Time::HiRes qw(sleep time);

require(abs_path(dirname(__FILE__)) . '/stats-lib.pl');
our ($ROOT, $JSON);

my $TZ = 'Asia/Kolkata';
my $OFFSET = 5.5 * 3600;

my $module_so = $ENV{TEST_NGINX_LOAD_MODULES}
    || "$ROOT/build/nginx/ngx_http_track_module.so";
my $consumer_bin = $ENV{TC_BIN}
    || "$ROOT/consumer/build/release/track-consumer";
for my $f ($module_so, $consumer_bin,
           $ENV{STATS_BIN} || "$ROOT/consumer/build/stats/track-stats")
{
    next if -e $f;
    print "not ok - $f is missing (make module consumer)\n",
          "1..1\n0 passed, 1 failed\n";
    exit 1;
}

my $t0 = time;
my $tmp = "$ROOT/t/tmp/stats-pipeline-$$";
remove_tree($tmp);
make_path("$tmp/nginx/logs", "$tmp/nginx/tmp");

my ($db, $stats, $consumer_pid, $nginx_up, $redis_up);

END {
    my $rc = $?;
    stop_stats($stats) if $stats;
    if ($consumer_pid) {
        kill 'TERM', $consumer_pid;
        waitpid($consumer_pid, 0);
    }
    system('nginx', '-p', "$tmp/nginx", '-c', "$tmp/nginx/nginx.conf",
           '-e', "$tmp/nginx/logs/error.log", '-s', 'quit') if $nginx_up;
    sh("stop_redis '$tmp/redis'") if $redis_up;
    sh("stop_mariadb '$tmp/db'") if $db;
    if ($nginx_up) {
        my $deadline = time + 5;
        sleep 0.05 while -e "$tmp/nginx/nginx.pid" && time < $deadline;
    }
    remove_tree($tmp) if $rc == 0 && !$ENV{KEEP_TMP};
    $? = $rc;
}

# --- services: redis, mariadb, consumer, track-stats, nginx ----------------

my $redis_port = free_port();
sh("start_redis '$tmp/redis' $redis_port") or die "redis did not start";
$redis_up = 1;

$db = start_db("$tmp/db", '+05:30');
my $dbh = $db->{dbh};

open my $cf, '>', "$tmp/consumer.conf" or die $!;
print $cf "redis_port = $redis_port\n",
          "mysql_socket = $db->{env}{MYSQL_SOCKET}\n",
          "mysql_user = $db->{env}{MYSQL_USER}\n",
          "mysql_password = $db->{env}{MYSQL_PASSWORD}\n",
          "timezone = $TZ\n",
          "id = stats-pipeline\n",
          "linger_ms = 20\n",
          "block_ms = 200\n";
close $cf;
chmod 0600, "$tmp/consumer.conf";

$consumer_pid = fork // die;
if ($consumer_pid == 0) {
    open STDOUT, '>>', "$tmp/consumer.log" or die;
    open STDERR, '>&', \*STDOUT or die;
    exec $consumer_bin, '--config', "$tmp/consumer.conf" or die;
}

$stats = start_stats(db => $db, log => "$tmp/stats.log",
                     pid_file => "$tmp/stats.pid", timezone => $TZ);

my $nginx_port = free_port();
open my $nf, '>', "$tmp/nginx/nginx.conf" or die $!;
# as root, workers would run as nobody, who may not enter the checkout
my $user = $> == 0 ? 'user root;' : '';
print $nf <<"EOF";
load_module $module_so;
$user
worker_processes 2;
error_log $tmp/nginx/logs/error.log info;
pid $tmp/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;

    track_redis 127.0.0.1:$redis_port;

    upstream track_stats {
        server 127.0.0.1:$stats->{port};
        keepalive 8;
    }
    proxy_cache_path $tmp/nginx/cache keys_zone=track_stats:1m
                     max_size=64m inactive=10m;

    server {
        listen 127.0.0.1:$nginx_port;

        location = /t.gif   { track; }
        location = /collect { track; }

        location /stats/ {
            proxy_pass http://track_stats;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache track_stats;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
EOF
close $nf;
system('nginx', '-p', "$tmp/nginx", '-c', "$tmp/nginx/nginx.conf",
       '-e', "$tmp/nginx/logs/error.log") == 0 or die "nginx did not start";
$nginx_up = 1;
my $nginx = { url => "http://127.0.0.1:$nginx_port" };

# --- events through nginx ---------------------------------------------------

srand(7);
my @apps = ('shop', 'shop', 'news', 'ünï');
my @modules = ('home-feed', 'home-feed', 'cart', 'søk');
my @actions = ('click', 'click', 'view', 'add');
my ($sent, $distinct, $rejected) = (0, 0, 0);

sub random_event {
    my %e = (app => $apps[rand @apps], module => $modules[rand @modules],
             action => $actions[rand @actions]);
    my $r = rand;
    $e{object} = $r < 0.15 ? undef
               : $r < 0.22 ? 'ä b'
               : int(1 + 20 * rand() ** 2);
    $e{uid} = int(1 + rand 40) if rand() < 0.8;
    delete $e{object} unless defined $e{object};
    return \%e;
}

my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
for my $i (1 .. 300) {
    my $e = random_event();
    my $r = $http->get("$nginx->{url}/t.gif?" . qs(%$e));
    $r->{success} ? ($sent++, $distinct++) : $rejected++;
}

my @with_eid;
for my $i (1 .. 150) {
    my @batch = map { random_event() } 1 .. 10;
    for my $e (@batch) {
        if (rand() < 0.3) {
            $e->{eid} = sprintf('stats-pipeline-%d-%d', $$, scalar @with_eid);
            push @with_eid, $e;
        }
    }
    # resend a few events already sent: stored and counted once
    my @resend = map { $with_eid[rand @with_eid] } 1 .. (@with_eid ? 2 : 0);
    my %seen;
    @resend = grep { !$seen{$_->{eid}}++ } @resend;
    my %in_batch = map { ($_->{eid} // '') => 1 } @batch;
    @resend = grep { !$in_batch{$_->{eid}} } @resend;
    my $r = $http->post("$nginx->{url}/collect", {
        headers => { 'Content-Type' => 'application/json' },
        content => $JSON->encode([@batch, @resend]) });
    if ($r->{success}) {
        $sent += @batch + @resend;
        $distinct += @batch;
    } else {
        $rejected++;
    }
}
is_eq($rejected, 0, "nginx accepted every request ($sent events, "
      . "$distinct distinct)");

# --- wait until the consumer has stored them all ---------------------------

my $day = strftime('%Y-%m-%d', gmtime(time + $OFFSET));
my $stored = 0;
my $deadline = time + 30;
while (time < $deadline) {
    my @t = @{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") };
    $stored = 0;
    $stored += $dbh->selectrow_array("SELECT COUNT(*) FROM `$_`") for @t;
    last if $stored >= $distinct;
    sleep 0.1;
}
is_eq($stored, $distinct, 'the consumer stored every distinct event once');

my @tables = @{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") };
my @days = sort map { /^events_(\d{4})(\d\d)(\d\d)$/ ? "$1-$2-$3" : () }
    @tables;
ok(@days >= 1, "day tables in $TZ: @days");

# the statistics are committed with the rows, but give the last batch a
# moment in case the count above raced its commit
sleep 0.2;

# --- every endpoint through nginx ------------------------------------------

check_all_endpoints($nginx, $dbh, $days[0], $days[-1]);

my $r = http_get($nginx, '/stats/v1/series?' . qs(app => 'shop',
                                                    day => $day));
is_eq($r->{headers}{'cache-control'}, 'no-store',
      'today through nginx: no-store');
is_eq($r->{headers}{'x-cache-status'}, 'MISS', 'today is not cached');
$r = http_get($nginx, '/stats/v1/series?' . qs(app => 'shop',
                                                day => $day));
is_eq($r->{headers}{'x-cache-status'}, 'MISS', 'today is still not cached');

my $closed = '/stats/v1/series?' . qs(app => 'shop', from => '2024-01-01',
                                      to => '2024-01-31');
$r = http_get($nginx, $closed);
is_eq([$r->{status}, $r->{headers}{'x-cache-status'}], [200, 'MISS'],
      'closed days through nginx: first a miss');
$r = http_get($nginx, $closed);
is_eq([$r->{status}, $r->{headers}{'x-cache-status'},
       $r->{json}{total}], [200, 'HIT', 0],
      'closed days through nginx: then a cache hit');

$r = http_get($nginx, '/stats/v1/nope');
is_eq([$r->{status}, $r->{json}{error}], [404, 'not_found'],
      'errors pass through nginx as JSON');
$r = http_get($nginx, '/stats/v1/series?app=shop&day=2024-02-30');
is_eq([$r->{status}, $r->{json}{error}], [400, 'invalid_date'],
      '400 through nginx');

# --- the consumers' metrics: what consumer_state holds ----------------------

$r = http_get($nginx, '/stats/v1/metrics');
is_eq([$r->{status}, $r->{headers}{'content-type'},
       $r->{headers}{'cache-control'}],
      [200, 'text/plain; version=0.0.4; charset=utf-8', 'no-store'],
      'metrics through nginx, Prometheus text, not cached');
my (%metric, %typed);
for (split /\n/, $r->{content}) {
    $typed{$1} = $2 if /^# TYPE (\S+) (counter|gauge)$/;
    $metric{$1}{$2} = $3 if /^(track_consumer_\w+)\{consumer="([^"]+)"\} (\d+)$/;
}
my @names = qw(track_consumer_batches_total track_consumer_events_total
               track_consumer_duplicates_total
               track_consumer_dead_letters_total
               track_consumer_last_commit_seconds);
is_eq([map { $typed{$_} // 'none' } @names],
      [qw(counter counter counter counter gauge)], 'metric types');
my $state = $dbh->selectall_arrayref(
    'SELECT consumer_id, batches, events, duplicates, dead,'
    . ' UNIX_TIMESTAMP(updated_at) FROM consumer_state ORDER BY 1');
ok(@$state >= 1, 'consumer_state has the consumer\'s rows');
for my $row (@$state) {
    my ($id, @want) = @$row;
    is_eq([map { ($metric{$_}{$id} // -1) + 0 } @names],
          [map { $_ + 0 } @want],
          "metrics of consumer $id are its consumer_state row");
}
my $events_total = 0;
$events_total += $_ for values %{ $metric{track_consumer_events_total} };
is_eq($events_total, $stored, 'events_total adds up to the stored events');
my $dups = 0;
$dups += $_ for values %{ $metric{track_consumer_duplicates_total} };
is_eq($dups, $sent - $distinct, 'duplicates_total counts the resent events');

is_eq(stop_stats($stats), 0, 'track-stats: SIGTERM exits 0');
ok(!sanitizer_reports("$tmp/stats.log"), 'no sanitizer reports');
undef $stats;

printf "# %.1f s\n", time - $t0;
exit summary();
