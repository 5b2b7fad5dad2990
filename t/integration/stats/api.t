#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# track-stats against a private MariaDB whose day tables are filled here and
# whose statistics tables are derived from them by SQL (as track-consumer
# would): every endpoint compared with SQL over the raw day tables, every
# error path, cache headers, the bearer token, a database restart, a bounded
# request flood and a clean SIGTERM.  STATS_BIN picks the binary (e.g. the
# ASan+UBSan build).
use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(sleep time);
use TrackTest;

my $t0 = time;
my $tmp = scratch_dir();

# --- data ---------------------------------------------------------------

# its own server: the test stops and restarts it
my $db = start_db($tmp, 'track', own => 1);
my $dbh = $db->{dbh};

my $today = strftime('%Y-%m-%d', gmtime);
my @days = ('2024-03-09', '2024-03-10', '2024-03-12');

my $template = do {
    local $/;
    open my $fh, '<', "$ROOT/sql/events_day.sql" or die $!;
    <$fh>;
};

srand(42);
my @apps = ('shop', 'shop', 'shop', 'news', 'ünï');
my @modules = ('home-feed', 'home-feed', 'cart', 'søk');
my @actions = ('click', 'click', 'view', 'add');
my @odd_objects = ('a b', "x'y", 'ä', '"q"', 'A', 'a', 'a ', '%', '991');
my $eid = 0;

sub fill_day {
    my ($day, $n) = @_;
    my $table = table_of($day);
    (my $sql = $template) =~ s/\@TABLE\@/$table/g;
    $dbh->do($sql);
    my $start = day_to_epoch($day);
    my (@rows, @bind);
    for (1 .. $n) {
        my $r = rand;
        my $object = $r < 0.15 ? undef
                   : $r < 0.25 ? $odd_objects[int rand @odd_objects]
                   : int(1 + 30 * rand() ** 2);
        my $uid = rand() < 0.2 ? undef : int(1 + rand 50);
        my $ts = ($start + int rand 86400) * 1000 + int rand 1000;
        push @rows, '(?, ?, ?, ?, ?, ?, ?, ?)';
        push @bind, sprintf('%032x', ++$eid), $ts,
            $apps[int rand @apps], $modules[int rand @modules],
            $actions[int rand @actions], $object, $uid, '127.0.0.1';
    }
    $dbh->do("INSERT INTO `$table` (eid, recv_ts, app, module, action,"
             . " object, uid, ip) VALUES " . join(',', @rows), undef, @bind);

    # what track-consumer keeps, derived here from the raw rows
    $dbh->do("INSERT IGNORE INTO stats_actions (app, module, action)"
        . " SELECT DISTINCT app, module, action FROM `$table`");
    my $numbered = "FROM `$table` e JOIN stats_actions a"
        . " USING (app, module, action)";
    $dbh->do("INSERT INTO stats_hourly (day, hour, action_id, object,"
        . " events) SELECT DATE '$day',"
        . " HOUR(FROM_UNIXTIME(e.recv_ts DIV 1000)), a.id,"
        . " COALESCE(e.object, ''), COUNT(*) $numbered"
        . " GROUP BY 2, a.id, COALESCE(e.object, '')");
    $dbh->do("INSERT INTO stats_daily (day, action_id, object, events)"
        . " SELECT DATE '$day', a.id, COALESCE(e.object, ''), COUNT(*)"
        . " $numbered GROUP BY a.id, COALESCE(e.object, '')");
    $dbh->do("INSERT INTO stats_daily_users (day, app, module, action,"
        . " users) SELECT DATE '$day', app, module, action,"
        . " COUNT(DISTINCT uid) FROM `$table` WHERE uid <> ''"
        . " GROUP BY app, module, action");
}

my $yesterday = strftime('%Y-%m-%d', gmtime(time - 86400));
fill_day($_, 700) for @days;
fill_day($yesterday, 300);
fill_day($today, 200);

# --- the service --------------------------------------------------------

my $stats = start_stats("$tmp/stats", db => $db,
                     args => [ '--max-connections', '64', '--threads', '2',
                               '--mysql-pool', '2', '--settle', '0' ]);

my $r = json_get($stats, '/stats/v1/health');
is_json($r->{status}, 200, 'health answers 200');
is_json($r->{json}, { status => 'ok' }, 'health body');

# the consumers' progress, from consumer_state; a label value is escaped
$r = json_get($stats, '/stats/v1/metrics');
is_json([$r->{status}, $r->{content} =~ /^track_consumer_\w+\{/m ? 1 : 0],
      [200, 0], 'metrics without consumers: no samples');
ok($r->{content} =~ /^# TYPE track_consumer_events_total counter$/m,
   'metrics without consumers: the families are declared');
$dbh->do('INSERT INTO consumer_state (consumer_id, last_seq, batches,'
         . ' events, duplicates, dead) VALUES (?, 7, 7, 700, 3, 1),'
         . ' (?, 1, 1, 10, 0, 0)', undef, 'host-1', 'we"ird\\id');
$r = json_get($stats, '/stats/v1/metrics');
is_json($r->{headers}{'content-type'},
      'text/plain; version=0.0.4; charset=utf-8', 'metrics content type');
is_json([grep { /^track_consumer_(events|dead_letters)_total/ }
       split /\n/, $r->{content}],
      ['track_consumer_events_total{consumer="host-1"} 700',
       'track_consumer_events_total{consumer="we\\"ird\\\\id"} 10',
       'track_consumer_dead_letters_total{consumer="host-1"} 1',
       'track_consumer_dead_letters_total{consumer="we\\"ird\\\\id"} 0'],
      'metrics: one sample per consumer, label values escaped');
# the roll-up's backlog: ranges, events and the age of the oldest range
is_deeply([grep { /^track_rollup_/ } split /\n/, $r->{content}],
          ['track_rollup_pending_ranges 0', 'track_rollup_pending_events 0',
           'track_rollup_lag_seconds 0.000'],
          'metrics: nothing pending, no lag');
$dbh->do('INSERT INTO stats_pending (first_id, last_id, day, events,'
         . ' committed_at) VALUES (1, 500, CURDATE(), 480,'
         . ' NOW(3) - INTERVAL 5 SECOND), (501, 600, CURDATE(), 100, NOW(3))');
$r = json_get($stats, '/stats/v1/metrics');
my %pending = $r->{content} =~ /^(track_rollup_\w+) ([\d.]+)$/mg;
ok($pending{track_rollup_pending_ranges} == 2
   && $pending{track_rollup_pending_events} == 580
   && $pending{track_rollup_lag_seconds} >= 5
   && $pending{track_rollup_lag_seconds} < 60,
   'metrics: the pending ranges, their events, the oldest one\'s age')
    or diag("got: @{[%pending]}");
$dbh->do('DELETE FROM stats_pending');
$r = json_get($stats, '/stats/v1/metrics?x=1');
is_json([$r->{status}, $r->{json}{error}], [400, 'unknown_parameter'],
      'metrics take no parameters');
$dbh->do('DELETE FROM consumer_state');

# twice: the second time closed days of series come from the day cache
check_all_endpoints($stats, $dbh, $days[0], $days[-1]);
check_all_endpoints($stats, $dbh, $days[0], $days[-1]);
check_all_endpoints($stats, $dbh, $today, $today);
# closed (cached) and open days in one range
check_all_endpoints($stats, $dbh, $yesterday, $today);
check_all_endpoints($stats, $dbh, $yesterday, $today);

# --- responses: headers, HEAD, conditional requests ----------------------

my $closed = '/stats/v1/series?' . qs(app => 'shop', from => $days[0],
                                      to => $days[-1]);
$r = json_get($stats, $closed);
is_json($r->{headers}{'content-type'}, 'application/json; charset=utf-8',
      'JSON content type');
is_json($r->{headers}{'cache-control'}, 'public, max-age=86400',
      'closed days: public, cacheable for a day');
my $etag = $r->{headers}{etag} // '';
ok($etag =~ /^"[0-9a-f]{16}"$/, "closed days: ETag $etag");
ok($r->{content} =~ /\n\z/ && $r->{content} !~ /\n./, 'one line of JSON');

my $r2 = json_get($stats, $closed, { 'If-None-Match' => $etag });
is_json($r2->{status}, 304, 'If-None-Match with the ETag: 304');
is_json($r2->{content}, '', '304 has no body');
is_json($r2->{headers}{etag}, $etag, '304 repeats the ETag');
$r2 = json_get($stats, $closed, { 'If-None-Match' => "\"0\", W/$etag" });
is_json($r2->{status}, 304, 'weak ETag in a list: 304');
$r2 = json_get($stats, $closed, { 'If-None-Match' => '"0123456789abcdef"' });
is_json($r2->{status}, 200, 'another ETag: 200');

my $three_ago = strftime('%Y-%m-%d', gmtime(time - 3 * 86400));
my $in_a_week = strftime('%Y-%m-%d', gmtime(time + 7 * 86400));

my $h = json_request($stats, 'HEAD', $closed);
is_json($h->{status}, 200, 'HEAD: 200');
is_json($h->{content}, '', 'HEAD: no body');
is_json($h->{headers}{etag}, $etag, 'HEAD: same ETag');

for my $u ('/stats/v1/series?' . qs(app => 'shop', day => $today),
           '/stats/v1/series?' . qs(app => 'shop', from => $three_ago,
                                    to => $today),
           '/stats/v1/top?' . qs(app => 'shop', module => 'cart',
                                 action => 'add', day => $today),
           '/stats/v1/series?' . qs(app => 'shop', from => $today,
                                    to => $in_a_week))
{
    $r = json_get($stats, $u);
    is_json($r->{status} . ' ' . ($r->{headers}{'cache-control'} // '') . ' '
          . ($r->{headers}{etag} // 'no-etag'), '200 no-store no-etag',
          "range reaching today is not cacheable: $u");
}

# --- every error path -----------------------------------------------------

sub expect_error {
    my ($method, $path, $status, $code, $name) = @_;
    my $r = json_request($stats, $method, $path);
    if ($status == 200) {
        return is_json($r->{status}, 200, $name);
    }
    is_json([0 + $r->{status}, $r->{json} && $r->{json}{error},
           ($r->{json} && defined $r->{json}{message}
            && length $r->{json}{message} > 0) ? 1 : 0,
           $r->{headers}{'cache-control'}],
          [$status, $code, 1, 'no-store'], "$name: $status $code");
    return $r;
}

my $long = 'x' x 129;
my $max = 'x' x 128;
my $q = qs(app => 'shop', module => 'cart', action => 'add');
my @errors = (
    [GET => '/stats/v1/nope', 404, 'not_found', 'unknown endpoint'],
    [GET => '/stats/v1', 404, 'not_found', 'the prefix alone'],
    [GET => '/stats/v1/', 404, 'not_found', 'the prefix with a slash'],
    [GET => '/stats/v1/series/', 404, 'not_found', 'trailing slash'],
    [GET => '/stats/v2/series', 404, 'not_found', 'other version'],
    [GET => '/', 404, 'not_found', 'root'],
    [POST => "/stats/v1/series?app=shop&day=$days[0]", 405,
     'method_not_allowed', 'POST'],
    [PUT => '/stats/v1/top', 405, 'method_not_allowed', 'PUT'],
    [DELETE => '/stats/v1/users', 405, 'method_not_allowed', 'DELETE'],
    [OPTIONS => '/stats/v1/breakdown', 405, 'method_not_allowed',
     'OPTIONS'],
    [GET => "/stats/v1/series?day=$days[0]", 400, 'missing_parameter',
     'series without app'],
    [GET => '/stats/v1/series?app=shop', 400, 'missing_parameter',
     'series without dates'],
    [GET => "/stats/v1/series?app=shop&from=$days[0]", 400,
     'missing_parameter', 'series without to'],
    [GET => "/stats/v1/top?app=shop&module=cart&day=$days[0]", 400,
     'missing_parameter', 'top without action'],
    [GET => "/stats/v1/users?app=shop&action=add&day=$days[0]", 400,
     'missing_parameter', 'users without module'],
    [GET => '/stats/v1/breakdown?app=shop', 400, 'missing_parameter',
     'breakdown without day'],
    [GET => '/stats/v1/series?app=shop&day=2024-02-30', 400, 'invalid_date',
     'February 30'],
    [GET => '/stats/v1/series?app=shop&day=2023-02-29', 400, 'invalid_date',
     'no leap day in 2023'],
    [GET => '/stats/v1/series?app=shop&day=24-03-09', 400, 'invalid_date',
     'two-digit year'],
    [GET => '/stats/v1/series?app=shop&day=today', 400, 'invalid_date',
     'a word'],
    [GET => '/stats/v1/series?app=shop&from=2024-03-09T24&to=2024-03-10'
     . '&interval=hour', 400, 'invalid_date', 'hour 24'],
    [GET => '/stats/v1/series?app=shop&from=2024-03-09T05&to=2024-03-10',
     400, 'invalid_date', 'an hour with interval=day'],
    [GET => "/stats/v1/top?$q&from=2024-03-09T05&to=2024-03-10", 400,
     'invalid_date', 'an hour in top'],
    [GET => '/stats/v1/breakdown?app=shop&day=2024-03-09T05', 400,
     'invalid_date', 'an hour in breakdown'],
    [GET => '/stats/v1/series?app=shop&from=2024-03-10&to=2024-03-09', 400,
     'invalid_range', 'inverted days'],
    [GET => '/stats/v1/series?app=shop&from=2024-03-10T05&to=2024-03-10T04'
     . '&interval=hour', 400, 'invalid_range', 'inverted hours'],
    [GET => "/stats/v1/series?app=shop&day=$days[0]&from=$days[0]"
     . "&to=$days[0]", 400, 'invalid_range', 'day and from/to'],
    [GET => '/stats/v1/series?app=shop&from=2023-01-01&to=2024-01-01', 200,
     undef, '366 days are allowed'],
    [GET => '/stats/v1/series?app=shop&from=2023-01-01&to=2024-01-02', 400,
     'range_too_long', '367 days'],
    [GET => '/stats/v1/series?app=shop&from=2024-01-01&to=2024-02-01'
     . '&interval=hour', 400, 'range_too_long', '32 days of hours'],
    [GET => "/stats/v1/top?$q&from=2023-01-01&to=2024-01-02", 400,
     'range_too_long', 'top over 367 days'],
    [GET => "/stats/v1/series?app=shop&day=$days[0]&foo=1", 400,
     'unknown_parameter', 'unknown parameter'],
    [GET => "/stats/v1/series?app=shop&day=$days[0]&limit=3", 400,
     'unknown_parameter', 'a parameter of another endpoint'],
    [GET => "/stats/v1/health?verbose=1", 400, 'unknown_parameter',
     'health with a parameter'],
    [GET => "/stats/v1/series?app=shop&app=news&day=$days[0]", 400,
     'duplicate_parameter', 'app twice'],
    [GET => "/stats/v1/series?app=$long&day=$days[0]", 400,
     'value_too_long', '129 characters'],
    [GET => "/stats/v1/series?app=shop&module=" . ('%C3%A4' x 129)
     . "&day=$days[0]", 400, 'value_too_long', '129 two-byte characters'],
    [GET => "/stats/v1/top?$q&day=$days[0]&limit=" . ('9' x 200), 400,
     'value_too_long', 'a 200-digit limit'],
    [GET => "/stats/v1/top?$q&day=$days[0]&limit=99999999", 400,
     'invalid_value', 'limit 99999999'],
    [GET => "/stats/v1/series?app=&day=$days[0]", 400, 'invalid_value',
     'empty app'],
    [GET => "/stats/v1/series?app=%FF&day=$days[0]", 400, 'invalid_value',
     'invalid UTF-8'],
    [GET => "/stats/v1/series?app=sh%zz&day=$days[0]", 400, 'invalid_value',
     'bad percent-encoding'],
    [GET => "/stats/v1/series?app=sh%4&day=$days[0]", 400, 'invalid_value',
     'percent-encoding cut short'],
    [GET => "/stats/v1/series?app=a%00b&day=$days[0]", 400, 'invalid_value',
     'NUL byte'],
    [GET => "/stats/v1/series?app=a%0Ab&day=$days[0]", 400, 'invalid_value',
     'newline'],
    [GET => "/stats/v1/series?app=shop&day=$days[0]&interval=week", 400,
     'invalid_value', 'interval=week'],
    [GET => "/stats/v1/top?$q&day=$days[0]&limit=0", 400, 'invalid_value',
     'limit 0'],
    [GET => "/stats/v1/top?$q&day=$days[0]&limit=1001", 400,
     'invalid_value', 'limit 1001'],
    [GET => "/stats/v1/top?$q&day=$days[0]&limit=1e3", 400,
     'invalid_value', 'limit 1e3'],
    [GET => '/stats/v1/series?' . join('&', map { "p$_=1" } 1 .. 20), 400,
     'too_many_parameters', '20 parameters'],
);
expect_error(@$_) for @errors;

$r = json_request($stats, 'POST', '/stats/v1/series');
is_json($r->{headers}{allow}, 'GET, HEAD', '405 says Allow: GET, HEAD');

$r = json_get($stats, "/stats/v1/series?app=$max&day=$days[0]");
is_json($r->{status}, 200, '128 characters are allowed');
$r = json_get($stats, "/stats/v1/series?app=%27%3B%20DROP%20TABLE%20stats_"
              . "daily%3B--&day=$days[0]");
is_json([$r->{status}, $r->{json}{total}], [200, 0],
      'SQL in a value is only a value');
ok($dbh->selectrow_array('SELECT COUNT(*) FROM stats_daily') > 0,
   'stats_daily is still there');

# a request line far beyond libmicrohttpd's buffer is refused, not crashed on
$r = json_get($stats, '/stats/v1/series?app=' . ('x' x 70000));
ok($r->{status} >= 400 && $r->{status} < 500,
   "a 70 kB request line is refused ($r->{status})");

# --- bearer token, configured in one place --------------------------------

my $token_file = "$tmp/token";
sub write_token {
    open my $fh, '>', $token_file or die $!;
    print $fh "$_[0]\n";
    close $fh;
    chmod 0600, $token_file;
}
write_token('s3cret-token');

my $tstats = start_stats("$tmp/stats-token", db => $db,
                      args => [ '--token-file', $token_file, '--settle', '0',
                                '--cache-max-age', '60' ]);

my $tq = '/stats/v1/series?' . qs(app => 'shop', from => $three_ago,
                                  to => $yesterday);
$r = json_get($tstats, $tq);
is_json([$r->{status}, $r->{json}{error}], [401, 'unauthorized'],
      'no token: 401');
is_json($r->{headers}{'www-authenticate'}, 'Bearer realm="track-stats"',
      '401 carries WWW-Authenticate');
$r = json_get($tstats, $tq, { Authorization => 'Bearer wrong' });
is_json($r->{status}, 401, 'wrong token: 401');
$r = json_get($tstats, $tq, { Authorization => 'Bearer s3cret-token-x' });
is_json($r->{status}, 401, 'longer token: 401');
$r = json_get($tstats, $tq, { Authorization => 'Basic s3cret-token' });
is_json($r->{status}, 401, 'other scheme: 401');
$r = json_get($tstats, $tq, { Authorization => 'Bearer s3cret-token' });
is_json($r->{status}, 200, 'right token: 200');
is_json($r->{headers}{'cache-control'}, 'private, max-age=60',
      'with a token, closed days are private (no shared cache), '
      . 'yesterday closed with --settle 0');
$r = json_get($tstats, '/stats/v1/health');
is_json($r->{status}, 200, 'health needs no token');
$r = json_get($tstats, '/stats/v1/metrics');
is_json($r->{status}, 401, 'metrics need the token');
$r = json_get($tstats, '/stats/v1/metrics',
              { Authorization => 'Bearer s3cret-token' });
is_json($r->{status}, 200, 'metrics with the token: 200');
$r = json_get($tstats, '/stats/v1/nope');
is_json($r->{status}, 404, 'unknown path: 404 before the token check');

write_token('rotated-token');
kill 'HUP', $tstats->{pid};
my $deadline = time + 5;
do {
    sleep 0.05;
    $r = json_get($tstats, $tq, { Authorization => 'Bearer rotated-token' });
} until $r->{status} == 200 || time > $deadline;
is_json($r->{status}, 200, 'SIGHUP rereads the token file');
$r = json_get($tstats, $tq, { Authorization => 'Bearer s3cret-token' });
is_json($r->{status}, 401, 'the old token no longer works');

unlink $token_file;
kill 'HUP', $tstats->{pid};
sleep 0.2;
$r = json_get($tstats, $tq, { Authorization => 'Bearer rotated-token' });
is_json($r->{status}, 200, 'a failed reread keeps the token');
is_json(stop_stats($tstats), 0, 'token instance: SIGTERM exits 0');
is(sanitizer_reports($tstats->{dir}, $tstats->{log}), 0,
   'token instance: no sanitizer reports');

# --- the database goes away and comes back --------------------------------

stop_db($db) or die "mariadbd did not stop\n";
my $top_closed = '/stats/v1/top?' . qs(app => 'shop', module => 'cart',
                                       action => 'add', day => $days[0]);
$r = json_get($stats, $top_closed);
is_json([$r->{status}, $r->{json}{error}], [503, 'unavailable'],
      'database down: 503 unavailable');
$r = json_get($stats, $closed);
is_json([$r->{status}, $r->{headers}{etag}], [200, $etag],
      'database down: series of closed days still answered from the cache');
$r = json_get($stats, '/stats/v1/health');
is_json($r->{status}, 503, 'database down: health 503');
$dbh = restart_db($db);
$r = json_get($stats, $top_closed);
is_json($r->{status}, 200, 'database back: connections reopened');
$r = json_get($stats, '/stats/v1/health');
is_json($r->{status}, 200, 'database back: health 200');

# --- a bounded flood on loopback -----------------------------------------

SKIP: {
    my $wrk = `sh -c 'command -v wrk'`;
    chomp $wrk;
    last SKIP unless $wrk;
    my $url = $stats->{url} . '/stats/v1/top?'
        . qs(app => 'shop', module => 'home-feed', action => 'click',
             from => $days[0], to => $days[-1]);
    my $out = `wrk -t2 -c200 -d3s --timeout 2s '$url' 2>&1`;
    my ($n) = $out =~ /(\d+) requests in/;
    ok(($n // 0) > 100, "flood of 200 connections for 3 s: "
       . ($n // 0) . ' requests');
    print map { "#   $_\n" } grep { /Requests\/sec|Socket errors|Non-2xx/ }
        split /\n/, $out;

    # 300 idle connections, well over --max-connections 64, then dropped
    my @socks = grep { defined } map {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$stats->{port}",
                              Timeout => 1)
    } 1 .. 300;
    ok(@socks > 0, scalar(@socks) . ' idle connections opened');
    close $_ for @socks;
    sleep 0.3;
}

$deadline = time + 5;
do {
    $r = json_get($stats, $closed);
} until $r->{status} == 200 || (sleep(0.1), time > $deadline);
is_json([$r->{status}, $r->{headers}{etag}], [200, $etag],
      'after the flood: still answering, same answer');

# --- SIGHUP forgets the cached days (a restore changed them) --------------

$dbh->do("UPDATE stats_daily SET events = events + 1000 WHERE day = ?"
         . " AND action_id IN (SELECT id FROM stats_actions WHERE app = 'shop')"
         . " LIMIT 1", undef, $days[0]);
$r = json_get($stats, $closed);
is_json($r->{headers}{etag}, $etag,
      'a closed day changed in the database: the cached answer still');
kill 'HUP', $stats->{pid};
ok(wait_for(5, sub {
       my $e = json_get($stats, $closed)->{headers}{etag};
       defined $e && $e ne $etag }),
   'SIGHUP: the changed day is read again');

# --- SIGTERM ---------------------------------------------------------------

is_json(stop_stats($stats), 0, 'SIGTERM: exit status 0');
ok(!-e $stats->{pid_file}, 'SIGTERM: pid file removed');
is(sanitizer_reports($stats->{dir}, $stats->{log}), 0,
   'no sanitizer reports');

note(sprintf('%.1f s', time - $t0));
done_testing();
