# SPDX-License-Identifier: BSD-2-Clause
# Two consumers upgrading a database of the first counters and memberships
# layout (three strings per row, before stats_actions) at the same moment, through
# different Galera nodes.  The schema's GET_LOCK is node-local, so both may
# run the migration at once: each step checks first and is idempotent, and
# a step that loses a race (certification, a table renamed or dropped under
# it) fails that start, which is retried.  Every membership and count must
# survive, once, and the old tables be gone on every node.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

need_galera();
consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");
my $g = start_galera($s, nodes => 2);
my %db = (database => $g->{database}, password => $g->{password});
my $dbh = galera_dbh($g, 0);

# the schema in place, with some events and their memberships
my $events = gen_events(n => 2000, seed => 1412, prefix => 'gm');
push_events([@$events[0 .. 999]]);
my $c = start_consumer($s, db => \%db, id => 'gm0',
                       conf => { mysql_host => galera_hosts($g, 0) });
ok(wait_for(120, sub { drained('gm0') }), 'a first consumer drained');
is(stop_consumer($c, 'TERM', 20), 0, 'and stopped');

# back to the first layout, with 100,000 more memberships and counters of
# each table of a past day, so that copying them takes the two starts a
# while
stats_to_first_layout($dbh);
$dbh->do(q~INSERT INTO stats_user_seen SELECT '2001-02-03', 'old', 'm',
           CONCAT('a', seq MOD 7), CONCAT('u', seq) FROM seq_1_to_100000~);
$dbh->do(q~INSERT INTO stats_hourly SELECT '2001-02-03', seq MOD 24, 'old',
           'm', CONCAT('a', seq MOD 7), CONCAT('o', seq), seq
           FROM seq_1_to_100000~);
$dbh->do(q~INSERT INTO stats_daily SELECT '2001-02-03', 'old', 'm',
           CONCAT('a', seq MOD 7), CONCAT('o', seq), seq
           FROM seq_1_to_100000~);
my $want = $dbh->selectcol_arrayref(q~SELECT
    CONCAT_WS(' ', day, app, module, action, uid) FROM stats_user_seen~);
ok(@$want > 100000, scalar(@$want) . ' memberships to migrate');
# every counter row of the old layout, as text (the past day's only: the
# second half of the events adds to the others)
my %counters_sql = (
    stats_hourly => 'day, hour, app, module, action, object, events',
    stats_daily  => 'day, app, module, action, object, events');
my %counters = map {
    $_ => $dbh->selectcol_arrayref("SELECT CONCAT_WS(' ', $counters_sql{$_})"
                                   . " FROM $_ WHERE day = '2001-02-03'")
} keys %counters_sql;
ok(@{ $counters{$_} } >= 100000, "$_: @{[ scalar @{ $counters{$_} } ]} rows"
   . ' of the past day to migrate') for sort keys %counters;

# two consumers start together, one through each node
push_events([@$events[1000 .. 1999]]);
my @c = map {
    start_consumer($s, db => \%db, id => "gm$_",
                   conf => { mysql_host => galera_hosts($g, $_, 1 - $_) })
} 0, 1;
ok(wait_for(180, sub { drained('gm0', 'gm1') }),
   'both started on the old layout and drained the queue');
is(stop_consumer($_, 'TERM', 20), 0, "$_->{id}: exit 0 on SIGTERM") for @c;

for my $node (0, 1) {
    my $h = galera_dbh($g, $node);
    is(join(',', @{ $h->selectcol_arrayref(
           q~SELECT table_name FROM information_schema.tables
             WHERE table_schema = DATABASE()
             AND table_name LIKE 'stats\_user\_seen%' ORDER BY 1~) }),
       'stats_user_seen', "node $node: the old memberships table is gone");
    is(join(',', @{ $h->selectcol_arrayref(
           q~SELECT table_name FROM information_schema.columns
             WHERE table_schema = DATABASE() AND column_name = 'app'
             AND table_name LIKE 'stats\_%' ORDER BY 1~) }),
       'stats_actions,stats_daily_users',
       "node $node: only stats_actions and stats_daily_users hold names");
}
my $got = $dbh->selectall_arrayref(
    q~SELECT CONCAT_WS(' ', s.day, a.app, a.module, a.action, s.uid), COUNT(*)
      FROM stats_user_seen s JOIN stats_actions a ON a.id = s.action_id
      GROUP BY 1~);
my %got = map { $_->[0] => $_->[1] } @$got;
is(scalar(grep { !$got{$_} } @$want), 0, 'every old membership is there');
is(scalar(grep { $_ > 1 } values %got), 0, '... once');
is($dbh->selectrow_array(
       q~SELECT COUNT(*) FROM stats_actions GROUP BY app, module, action
         HAVING COUNT(*) > 1 LIMIT 1~) // 0, 0,
   'every action numbered once');
for my $t (sort keys %counters_sql) {
    my %now = map { $_ => 1 } @{ $dbh->selectcol_arrayref(
        "SELECT CONCAT_WS(' ', $counters_sql{$t}) FROM $t"
        . " JOIN stats_actions ON id = action_id WHERE day = '2001-02-03'") };
    is(scalar(grep { !delete $now{$_} } @{ $counters{$t} }), 0,
       "$t: every old counter is there, with its count");
    is(scalar(keys %now), 0, "$t: and no other");
}
my $lost = grep { /applying the schema/ } map { split /\n/, consumer_log($_) } @c;
note("starts that lost a race of the migration and were retried: $lost");

# the made-up rows of 2001 have no raw rows behind them
$dbh->do("DELETE FROM $_ WHERE day = '2001-02-03'")
    for qw(stats_user_seen stats_hourly stats_daily);
stored_once($dbh, $events, 'events and users across the migration');
no_sanitizer_reports($s);
done_testing();
