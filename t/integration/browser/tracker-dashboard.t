#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# The browser parts in a real headless Chromium (chromedriver's WebDriver
# API): the demo shop reports through tracker/track.js to nginx + the
# module, Redis, track-consumer and MariaDB; clicks, SPA routes, a page left
# by a link and a tab closed with events still queued, and a batch refused
# with 503 while Redis is stopped, then retried.  Every event must be in
# MariaDB exactly once.  Then the dashboard, behind the same nginx with the
# stats API's bearer token: what it renders (Chart.js data, tables) must
# equal the stats API and the raw rows; live mode shows a new click within
# seconds; API errors are readable messages.  Screenshots go to
# t/tmp/artifacts/browser/ (BROWSER_ARTIFACTS), kept after the test.
# Needs `make`; about 30 s.
use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use JSON::PP ();
use POSIX qw(strftime WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use TrackTest;
use TrackTest::WebDriver;

my $t0 = time;
my $JSON = JSON::PP->new->utf8->canonical;
my $TOKEN = 'browser-test-token';

# --- services ----------------------------------------------------------------

for my $f ($MODULE_SO, $CONSUMER_BIN, $STATS_BIN) {
    -e $f or BAIL_OUT("$f is missing (make)");
}
for my $cmd (qw(chromium chromedriver)) {
    system("command -v $cmd >/dev/null") == 0
        or BAIL_OUT("$cmd is missing (scripts/deps.sh installs it)");
}

my $dir = scratch_dir();
my $artifacts = $ENV{BROWSER_ARTIFACTS} || "$ROOT/t/tmp/artifacts/browser";
make_path($artifacts);
my $redis_port = free_port();
start_redis("$dir/redis", $redis_port);

my $db = start_db($dir, 'it_browser');
my $dbh = $db->{dbh};
my $consumer = start_consumer("$dir/consumer", db => $db, id => 'browser',
                              redis_port => $redis_port);
ok(wait_for(20, sub { consumer_log($consumer) =~ /redis: connected/ }),
   'track-consumer is connected');
my $stats = start_stats("$dir/stats", db => $db,
                        args => ['--mysql-database', $db->{database}],
                        env => { TRACK_STATS_TOKEN => $TOKEN });

my $locations = `'$ROOT/dashboard/nginx-locations.sh' '$ROOT'`;
$? == 0 or die "dashboard/nginx-locations.sh failed\n";
my $port = start_nginx("$dir/nginx", <<"EOF", locations => <<"EOF");
    track_redis 127.0.0.1:$redis_port;
    track_redis_max_backoff 200ms;
    track_redis_timeout 1s;
EOF
        location = /collect { track; }
        location = /metrics { track_metrics; }
        location /stats/ { proxy_pass http://127.0.0.1:$stats->{port}; }
$locations
EOF
my $url = "http://127.0.0.1:$port";
ok(workers_connected($url), 'nginx workers are connected to Redis');

my $b = TrackTest::WebDriver->start(dir => "$dir/chromium", port => free_port());

# --- the tracker: the demo shop ----------------------------------------------

# every fetch the page makes, with its answer: what the tracker saw
my $SPY = <<'JS';
if (!window.__sent) {
    window.__sent = [];
    const f = window.fetch;
    window.fetch = function (u, init) {
        const rec = { url: String(u), body: init && init.body, status: null };
        window.__sent.push(rec);
        return f.apply(this, arguments).then(
            r => { rec.status = r.status; return r; },
            e => { rec.status = 0; throw e; });
    };
}
return true;
JS

sub settled {
    return $b->wait_js(30, 'return window.track && window.track.pending'
                           . ' && window.track.pending() === 0');
}

# rows of app shop, as "module action object uid" => count
sub stored_rows {
    my %n;
    my $tables = $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'");
    for my $t (@$tables) {
        for my $r (@{ $dbh->selectall_arrayref(
                "SELECT module, action, COALESCE(object, '-'),"
                . " COALESCE(uid, '-') FROM `$t` WHERE app = 'shop'") }) {
            $n{"@$r"}++;
        }
    }
    return \%n;
}

sub stored_count {
    my $n = 0;
    $n += $_ for values %{ stored_rows() };
    return $n;
}

# waits until MariaDB has $n events of app shop and Redis' queue is empty
sub stored_and_drained {
    my ($n) = @_;
    return wait_for(30, sub {
        stored_count() >= $n
        && redis_cli($redis_port, 'llen', 'track:events') =~ /^\(integer\) 0$/m
    });
}

my @expected = ('page view /demo/ -');

$b->get("$url/demo/");
is($b->js('return document.title'), 'Demo shop', 'the demo shop opens');
$b->js($SPY);
ok(settled(), 'its page view is confirmed');

$b->click('#signed-in');
$b->click('[data-track-object="991"][data-track-action="add-to-cart"]');
$b->click('[data-track-object="17"][data-track-action="add-to-cart"]');
$b->click('[data-track-object="17"][data-track-action="add-to-cart"]');
$b->click('[data-track-object="991"][data-track-action="like"]');
$b->click('[data-route="/demo/deals"]');
is($b->js('return location.pathname'), '/demo/deals', 'an SPA route');
$b->click('[data-route="/demo/"]');
push @expected, 'home-feed add-to-cart 991 42', ('home-feed add-to-cart 17 42') x 2,
    'home-feed like 991 42', 'page view /demo/deals 42', 'page view /demo/ 42';
ok(settled(), 'clicks and routes are confirmed');
ok(stored_and_drained(scalar @expected), 'the consumer stored them');

# --- a batch refused with 503 while Redis is down, then retried --------------

TrackTest::stop_redis("$dir/redis");
ok(wait_for(10, sub {
       metric("$url/metrics", 'track_redis_connected_workers') == 0 }),
   'Redis stopped: the workers lost it');
$b->click('[data-track-object="5"][data-track-action="add-to-cart"]');
$b->click('[data-track-object="5"][data-track-action="add-to-cart"]');
$b->js('track.flush(); return 1');
push @expected, ('home-feed add-to-cart 5 42') x 2;
my $refused = $b->wait_js(20, <<'JS');
const r = window.__sent.find(s => s.status === 503);
return r ? r.body : null;
JS
ok($refused, 'the tracker got a 503 for its batch');
my @refused_eids = map { $_->{eid} } @{ $JSON->decode($refused // '[]') };
is(scalar @refused_eids, 2, 'the refused batch holds the two clicks');
is($b->js('return track.pending()'), 2, 'the page keeps them');

start_redis("$dir/redis", $redis_port);
ok(settled(), 'Redis back: the retried batch is confirmed');
my $sends = $b->js('return window.__sent.filter(s => s.body === arguments[0])'
                   . '.map(s => s.status)', $refused);
ok(@$sends >= 2 && $sends->[0] == 503 && $sends->[-1] =~ /^2\d\d$/,
   "the same batch, same eids, sent again until accepted (@$sends)");
ok(stored_and_drained(scalar @expected), 'the consumer stored it');
my $in_db = 0;
for my $t (@{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") }) {
    $in_db += $dbh->selectrow_array(
        "SELECT COUNT(*) FROM `$t` WHERE eid IN (?, ?)", undef, @refused_eids);
}
is($in_db, 2, 'the events of the refused batch are in MariaDB once each');

# --- leaving pages with events queued ------------------------------------------

# a click, then at once a link: the event leaves as a beacon on pagehide, and
# the next page sends it again from localStorage (the consumer keeps one)
$b->click('[data-track-object="5"][data-track-action="like"]');
$b->click('a[href="checkout.html"]');
push @expected, 'home-feed like 5 42', 'page view /demo/checkout.html -';
ok($b->wait_js(10, 'return document.title === "Demo shop: checkout"'),
   'a link to the checkout page');
ok(settled(), 'the checkout page confirmed what the shop page left');

# a click, then the tab is closed: the beacon is the only way out
my $checkout = $b->window;
my $other = $b->new_window;
$b->switch_to($checkout);
$b->click('[data-track-action="pay"]');
$b->close_window;
$b->switch_to($other);
push @expected, 'checkout pay order -';
ok(stored_and_drained(scalar @expected), 'the consumer stored every event');
wait_for(2, sub { stored_count() > @expected });    # nothing more comes

my %want;
$want{$_}++ for @expected;
is_deeply(stored_rows(), \%want,
          'MariaDB holds every event of the pages exactly once')
    or diag(explain(stored_rows()));
my $dups = $dbh->selectrow_array('SELECT SUM(duplicates) FROM consumer_state');
my $pushed = metric("$url/metrics", 'track_events_pushed_total');
ok($dups >= 1, "events sent twice were stored once ($dups duplicates)");
is($pushed, @expected + $dups, "nginx pushed $pushed events: stored + duplicates");
stats_consistent($dbh, 'browser events');

# --- the dashboard -----------------------------------------------------------

my $day = strftime('%Y-%m-%d', gmtime);
my $sel = "app=shop&module=home-feed&action=add-to-cart&from=$day&to=$day";

# the stats API as the dashboard asks it
sub api {
    my ($path) = @_;
    my $r = http('GET', "$url/stats/v1/$path", undef,
                 { Authorization => "Bearer $TOKEN" });
    is($r->{status}, 200, "stats API $path");
    return $JSON->decode($r->{content});
}

my $RENDERED = <<'JS';
const chart = id => {
    const c = Chart.getChart(id);
    return c ? { labels: c.data.labels, data: c.data.datasets[0].data } : null;
};
const rows = id => [...document.querySelectorAll(`#${id} tbody tr`)]
    .map(tr => [...tr.cells].map(td => td.textContent));
const shown = id => !document.querySelector(`#${id} .chart, #${id} table`).hidden;
return {
    state: document.body.dataset.state,
    refreshes: Number(document.body.dataset.refreshes || 0),
    error: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent,
    total: document.getElementById('series-total').textContent,
    series: chart('series-chart'), top: chart('top-chart'), users: chart('users-chart'),
    topRows: rows('top-table'), breakdown: rows('breakdown-table'),
    breakdownTotal: document.getElementById('breakdown-total').textContent,
    shown: ['series', 'top', 'users', 'breakdown'].filter(shown),
    overflow: document.documentElement.scrollWidth > window.innerWidth,
};
JS

sub rendered_after {
    my ($n) = @_;
    $b->wait_js(20, "return Number(document.body.dataset.refreshes) >= $n");
    return $b->js($RENDERED);
}

$b->get("$url/dashboard/?$sel");
my $r = rendered_after(1);
is($r->{state}, 'error', 'no token: the dashboard shows an error');
like($r->{error}, qr/Not authorized: enter the stats API token/,
     '401 as a readable message');
is_deeply($r->{shown}, [], 'and no blank charts');

$b->type('input[name=token]', $TOKEN);
$b->click('h1');                        # leaving the field commits it
$r = rendered_after(2);
is($r->{state}, 'ok', 'with the token the dashboard loads') or diag($r->{error});
is_deeply($r->{shown}, [qw(series top users breakdown)], 'every panel is shown');

my $series = api("series?$sel");
my $top = api("top?$sel&limit=10");
my $users = api("users?$sel");
my $breakdown = api("breakdown?app=shop&day=$day");

is_deeply($r->{series}, { labels => [map { $_->{t} } @{ $series->{points} }],
                          data => [map { $_->{events} } @{ $series->{points} }] },
          'series chart: the API\'s points');
is($r->{total}, $series->{total}, 'series total: the API\'s');
is($r->{total}, 5, 'series total: the raw rows (5 adds to cart)');
is_deeply($r->{topRows}, [map { [$_->{object}, "$_->{events}"] } @{ $top->{objects} }],
          'top objects table: the API\'s');
is_deeply($r->{top}, { labels => [map { $_->{object} } @{ $top->{objects} }],
                       data => [map { $_->{events} } @{ $top->{objects} }] },
          'top objects chart: the API\'s');
my %raw_top = map { @$_ } @{ $dbh->selectall_arrayref(
    "SELECT object, COUNT(*) FROM events_" . ($day =~ s/-//gr)
    . " WHERE app = 'shop' AND module = 'home-feed' AND action = 'add-to-cart'"
    . " GROUP BY object") };
is_deeply({ map { @$_ } @{ $r->{topRows} } }, \%raw_top,
          'top objects table: the raw rows');
is_deeply($r->{users}, { labels => [map { $_->{t} } @{ $users->{points} }],
                         data => [map { $_->{users} } @{ $users->{points} }] },
          'users chart: the API\'s');
is_deeply($r->{users}{data}, [1], 'users: the raw rows (user 42)');
is_deeply($r->{breakdown}, [map { my $m = $_; map {
              [$m->{module}, $_->{action}, "$_->{events}", "$_->{objects}", "$_->{users}"]
          } @{ $m->{actions} } } @{ $breakdown->{modules} }],
          'breakdown table: the API\'s');
is($r->{breakdownTotal}, scalar @expected, 'breakdown total: the raw rows');
like($b->js('return location.search'), qr/app=shop&module=home-feed&action=add-to-cart/,
     'the URL carries the selection');
$b->resize(1280, 1150);
$b->screenshot("$artifacts/dashboard.png");

$b->get("$url/dashboard/?$sel&interval=hour");
$r = rendered_after(1);
my $hours = api("series?$sel&interval=hour");
is(scalar @{ $r->{series}{labels} }, 24, 'per hour: 24 points');
is_deeply($r->{series}, { labels => [map { $_->{t} } @{ $hours->{points} }],
                          data => [map { $_->{events} } @{ $hours->{points} }] },
          'per hour: the API\'s points');
$b->screenshot("$artifacts/dashboard-hour.png");

$b->resize(390, 844);
$r = $b->js($RENDERED);
ok(!$r->{overflow}, 'phone width: nothing wider than the screen');
$b->screenshot("$artifacts/dashboard-phone.png");
$b->resize(1280, 900);

# --- live mode: a click on the shop shows up within seconds -------------------

$b->get("$url/dashboard/?$sel&live=1&refresh=1");
rendered_after(1);
my $dashboard = $b->window;
my $shop = $b->new_window;
$b->switch_to($shop);
$b->get("$url/demo/");
$b->click('[data-track-object="991"][data-track-action="add-to-cart"]');
$b->js('track.flush(); return 1');
ok(settled(), 'a new click on the shop');
$b->switch_to($dashboard);
my $t_click = time;
ok($b->wait_js(20, <<'JS'), 'live: the dashboard shows it');
const row = [...document.querySelectorAll('#top-table tbody tr')]
    .find(tr => tr.cells[0].textContent === '991');
return row && row.cells[1].textContent === '2';
JS
note(sprintf('shown %.1f s after the click was confirmed', time - $t_click));

# --- errors of the API as messages -------------------------------------------

$b->get("$url/dashboard/?app=shop&from=$day&to=2020-01-01");
$r = rendered_after(1);
like($r->{error}, qr/refused the selection: .*\(invalid_range\)/, '400 as a readable message');
stop_stats($stats);
$b->get("$url/dashboard/?$sel");
$r = rendered_after(1);
like($r->{error}, qr/answered 502/, 'track-stats down: a readable message');
is_deeply($r->{shown}, [], 'and no blank charts');

# --- track.esm.js: the tracker as an ES module --------------------------------

my $esm = $b->js_async(<<'JS');
const done = arguments[arguments.length - 1];
window.trackConfig = { app: 'esm', endpoint: '/collect', batchSize: 1 };
import('/tracker/track.esm.js').then(m => done([typeof m.default,
    m.default === window.track ? 'same' : 'other', typeof m.createTracker,
    typeof m.default('m', 'a')]), e => done(String(e)));
JS
is_deeply($esm, [qw(function same function string)], 'track.esm.js exports the tracker');

is(stop_consumer($consumer), 0, 'track-consumer exits 0');
note(sprintf('%.1f s', time - $t0));
done_testing();
