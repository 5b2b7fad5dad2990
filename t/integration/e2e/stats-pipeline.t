#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# The whole pipeline: events sent to nginx (pixel GETs and beacon POSTs, some
# resent with the same eid) go through ngx_http_track_module, Redis and
# track-consumer into MariaDB; then every endpoint of track-stats, asked
# through the same nginx (proxy_pass + proxy_cache under /stats/), is
# compared with SQL over the raw day table.  The zone is Asia/Kolkata
# (+05:30 all year) so that hours and days are not UTC's.
# Needs `make module` and `make -C consumer`.
use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(sleep time);
use TrackTest;

my $TZ = 'Asia/Kolkata';
my $OFFSET = 5.5 * 3600;
my $JSON = JSON::PP->new->utf8->canonical;

my $t0 = time;
my $tmp = scratch_dir();

# --- services: redis, mariadb, consumer, track-stats, nginx ----------------

my $redis_port = start_redis("$tmp/redis", free_port());

# its own server: the consumer's zone is the session time zone of $dbh
my $db = start_db($tmp, 'track', own => 1, tz => '+05:30');
my $dbh = $db->{dbh};

start_consumer("$tmp/consumer", db => $db, id => 'stats-pipeline',
               redis_port => $redis_port,
               conf => { timezone => $TZ, linger_ms => 20 });

my $stats = start_stats("$tmp/stats", db => $db, timezone => $TZ);

my $nginx_port = start_nginx("$tmp/nginx", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;

    upstream track_stats {
        server 127.0.0.1:$stats->{port};
        keepalive 8;
    }
    proxy_cache_path $tmp/nginx/cache keys_zone=track_stats:1m
                     max_size=64m inactive=10m;
EOF
        location = /t.gif   { track; }
        location = /collect { track; }

        location /stats/ {
            proxy_pass http://track_stats;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache track_stats;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }
EOF2
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
is_json($rejected, 0, "nginx accepted every request ($sent events, "
      . "$distinct distinct)");

# --- wait until the consumer has stored them all ---------------------------

my $day = strftime('%Y-%m-%d', gmtime(time + $OFFSET));
my $stored = 0;
wait_for(30, sub {
    my @t = @{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") };
    $stored = 0;
    $stored += $dbh->selectrow_array("SELECT COUNT(*) FROM `$_`") for @t;
    return $stored >= $distinct;
});
is_json($stored, $distinct, 'the consumer stored every distinct event once');

my @tables = @{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") };
my @days = sort map { /^events_(\d{4})(\d\d)(\d\d)$/ ? "$1-$2-$3" : () }
    @tables;
ok(@days >= 1, "day tables in $TZ: @days");

# the statistics are rolled up from committed rows (within rollup_ms)
ok(rollup_done($dbh), 'the roll-up counted every stored row');

# --- every endpoint through nginx ------------------------------------------

check_all_endpoints($nginx, $dbh, $days[0], $days[-1]);

my $r = json_get($nginx, '/stats/v1/series?' . qs(app => 'shop',
                                                    day => $day));
is_json($r->{headers}{'cache-control'}, 'no-store',
      'today through nginx: no-store');
is_json($r->{headers}{'x-cache-status'}, 'MISS', 'today is not cached');
$r = json_get($nginx, '/stats/v1/series?' . qs(app => 'shop',
                                                day => $day));
is_json($r->{headers}{'x-cache-status'}, 'MISS', 'today is still not cached');

my $closed = '/stats/v1/series?' . qs(app => 'shop', from => '2024-01-01',
                                      to => '2024-01-31');
$r = json_get($nginx, $closed);
is_json([$r->{status}, $r->{headers}{'x-cache-status'}], [200, 'MISS'],
      'closed days through nginx: first a miss');
$r = json_get($nginx, $closed);
is_json([$r->{status}, $r->{headers}{'x-cache-status'},
       $r->{json}{total}], [200, 'HIT', 0],
      'closed days through nginx: then a cache hit');

$r = json_get($nginx, '/stats/v1/nope');
is_json([$r->{status}, $r->{json}{error}], [404, 'not_found'],
      'errors pass through nginx as JSON');
$r = json_get($nginx, '/stats/v1/series?app=shop&day=2024-02-30');
is_json([$r->{status}, $r->{json}{error}], [400, 'invalid_date'],
      '400 through nginx');

# --- the consumers' metrics: what consumer_state holds ----------------------

$r = json_get($nginx, '/stats/v1/metrics');
is_json([$r->{status}, $r->{headers}{'content-type'},
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
is_json([map { $typed{$_} // 'none' } @names],
      [qw(counter counter counter counter gauge)], 'metric types');
my $state = $dbh->selectall_arrayref(
    'SELECT consumer_id, batches, events, duplicates, dead,'
    . ' UNIX_TIMESTAMP(updated_at) FROM consumer_state ORDER BY 1');
ok(@$state >= 1, 'consumer_state has the consumer\'s rows');
for my $row (@$state) {
    my ($id, @want) = @$row;
    is_json([map { ($metric{$_}{$id} // -1) + 0 } @names],
          [map { $_ + 0 } @want],
          "metrics of consumer $id are its consumer_state row");
}
my $events_total = 0;
$events_total += $_ for values %{ $metric{track_consumer_events_total} };
is_json($events_total, $stored, 'events_total adds up to the stored events');
my $dups = 0;
$dups += $_ for values %{ $metric{track_consumer_duplicates_total} };
is_json($dups, $sent - $distinct, 'duplicates_total counts the resent events');

is_json(stop_stats($stats), 0, 'track-stats: SIGTERM exits 0');
is(sanitizer_reports($stats->{dir}, $stats->{log}), 0,
   'no sanitizer reports');

note(sprintf('%.1f s', time - $t0));
done_testing();
