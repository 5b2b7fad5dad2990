#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# ops/backup.sh against a throwaway MariaDB: closed day tables and their
# statistics rows are dumped, restored into a scratch schema and found equal
# to the source (checked here independently, row by row); today's table and
# other days' statistics rows stay out; a second run is idempotent; a
# damaged dump makes --verify fail loudly with exit status 1; --restore
# brings lost days back into the database and refuses to overwrite rows
# (of a day whose table is in the backup or not); a changed dump never
# reaches the database (loaded by a scratch-only account; triggers fail the
# check); a backup of other days with the same ends is not written over.
# Counters and memberships are restored under the database's own numbers
# of their actions, also from a backup of the first layout (counters keyed
# by the names).
use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../lib";
use POSIX qw(strftime);
use Test::More;
use TrackTest;

my $BACKUP = "$ROOT/ops/backup.sh";
my $tmp = scratch_dir();

# the whole test is bounded: a hang fails it instead of the harness
$SIG{ALRM} = sub { die "ops/backup.t: timed out after 180 s\n" };
alarm 180;

# its own server: the job's restore checks create and drop schemas
my $db = start_db($tmp, 'track', own => 1);
my $env = $db->{env};
my $dbh = $db->{dbh};

# --- data: two closed days, today, and an older day not backed up ---------

my $tz = 'Asia/Kolkata';
local $ENV{TZ} = $tz;
POSIX::tzset();
my $now = time;
my @day = map { strftime('%Y-%m-%d', localtime($now - $_ * 86400)) } 0 .. 3;
my ($today, $d1, $d2, $d3) = @day;   # $d3 stays out of the backup
(my $tmpl = do { local $/; open my $fh, '<', "$ROOT/sql/events_day.sql" or die; <$fh> });

# action_id(SCHEMA, APP, MODULE, ACTION): the action's number in SCHEMA's
# stats_actions, added there if missing (as the roll-up does)
sub action_id {
    my ($schema, @name) = @_;
    $dbh->do("INSERT IGNORE INTO `$schema`.stats_actions (app, module, action)"
             . ' VALUES (?, ?, ?)', undef, @name);
    return $dbh->selectrow_array("SELECT id FROM `$schema`.stats_actions"
                                 . ' WHERE (app, module, action) = (?, ?, ?)', undef, @name);
}

# count_row(TABLE, [APP, MODULE, ACTION], COLUMN => VALUE...): a row of
# track's TABLE under the action's number
sub count_row {
    my ($table, $name, %col) = @_;
    $col{action_id} = action_id('track', @$name);
    my @c = sort keys %col;
    $dbh->do("INSERT INTO `$table` (" . join(', ', @c) . ') VALUES ('
             . join(', ', ('?') x @c) . ')', undef, @col{@c});
}

my @click = qw(shop home click);
my @buy = qw(shop cart buy);
# the numbers the backup has (click's changes in the database before the
# restore; another database restored into has other actions under both)
$dbh->do("INSERT INTO stats_actions (id, app, module, action) VALUES (7, ?, ?, ?), (8, ?, ?, ?)",
         undef, @click, @buy);
my $n = 0;
for my $d ($today, $d1, $d2, $d3) {
    (my $table = "events_$d") =~ s/-//g;
    (my $sql = $tmpl) =~ s/\@TABLE\@/$table/g;
    $dbh->do($sql);
    for my $i (1 .. 40) {
        $n++;
        $dbh->do("INSERT INTO `$table` (eid, recv_ts, app, module, action, object,"
                 . " uid, ts, ip, ua, referer, props, fields)"
                 . " VALUES (?, ?, 'shop', ?, 'click', ?, ?, ?, '10.0.0.1', ?, NULL, ?, ?)",
                 undef, sprintf('%032x', $n), $now * 1000 + $n, "m\x{f6}d$i",
                 $i % 5 ? $i : undef, $i % 3 ? "u'$i" : undef, $i * 7,
                 "Mozilla \"$i\" \x{1F600}", '{"p":' . $i . '}',
                 $i % 2 ? '{"host":"x"}' : undef);
    }
    for my $h (0, 13, 23) {
        count_row('stats_hourly', \@click, day => $d, hour => $h, object => "o$h",
                  events => 100 + $h);
    }
    count_row('stats_hourly', \@buy, day => $d, hour => 13, object => 'o13', events => 4);
    count_row('stats_daily', \@click, day => $d, object => 'A', events => 5);
    count_row('stats_daily', \@click, day => $d, object => 'a ', events => 6);
    count_row('stats_daily', \@buy, day => $d, object => 'A', events => 4);
    $dbh->do("INSERT INTO stats_daily_users VALUES (?, 'shop', 'home', 'click', 2)", undef, $d);
    count_row('stats_user_seen', \@click, day => $d, uid => $_) for 'u1', 'ü2';
    $dbh->do("INSERT INTO stats_dead_letters VALUES (?, 'invalid_json', 3)", undef, $d);
}

# --- the job --------------------------------------------------------------

my $out = "$tmp/backups";
# the consumer's variables from the env file, as with run/env
my %job_env = (%$env, TZ => 'UTC');
sub run_backup {
    my (@args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die;
        %ENV = (%ENV, %job_env);
        delete $ENV{MYSQL_HOST};   # a harness's own MariaDB must not leak in
        exec $BACKUP, @args or die "exec: $!";
    }
    my $text = do { local $/; <$fh> };
    close $fh;
    return ($? >> 8, $text);
}

my @common = ('--restore-defaults-file', "$db->{dir}/root.cnf", '--out', $out,
              '--timezone', $tz);
my ($rc, $log) = run_backup(@common, '--days', 2, '--keep-scratch');
is($rc, 0, 'backup of the two closed days passes') or diag($log);
my $ok = () = $log =~ /^OK   \S+:/mg;
is($ok, 2 + 2 + 5 + 1, 'one OK verdict per dump file and per table (and stats_actions)') or diag($log);
unlike($log, qr/^FAIL/m, 'no FAIL verdict');

(my $bdir = "$out/track-$d2-$d1") =~ s/-(\d{4})-(\d\d)-(\d\d)/-$1$2$3/g;
ok(-f "$bdir/MANIFEST", "manifest in $bdir") or diag(`ls -R $out`);
my $manifest = -f "$bdir/MANIFEST" ? do { local (@ARGV, $/) = "$bdir/MANIFEST"; <> } : '';
like($manifest, qr/^days $d2 $d1$/m, 'manifest names the days');

# independent comparison: source rows of the chosen days = scratch rows
my $days_in = "'$d1','$d2'";
sub rows_of {
    my ($schema, $table, $where) = @_;
    my $cols = join ',', map { "IFNULL(HEX(`$_`),'N')" } @{ $dbh->selectcol_arrayref(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='track'"
        . " AND TABLE_NAME=? ORDER BY ORDINAL_POSITION", undef, $table) };
    return $dbh->selectcol_arrayref(
        "SELECT CONCAT_WS('|', $cols) AS r FROM `$schema`.`$table` WHERE $where ORDER BY r");
}
my @tables = map { (my $t = "events_$_") =~ s/-//g; $t } $d1, $d2;
for my $t (@tables) {
    my $src = rows_of('track', $t, '1');
    is(scalar @$src, 40, "$t has its rows in the source");
    is_deeply(rows_of('track_restore_check', $t, '1'), $src, "$t restored equal");
}
for my $t (qw(stats_hourly stats_daily stats_daily_users stats_user_seen stats_dead_letters)) {
    is_deeply(rows_of('track_restore_check', $t, '1'),
              rows_of('track', $t, "day IN ($days_in)"),
              "$t: exactly the rows of the two days restored");
}
is_deeply(rows_of('track_restore_check', 'stats_actions', '1'),
          rows_of('track', 'stats_actions', '1'),
          'stats_actions: every action number restored');
(my $today_t = "events_$today") =~ s/-//g;
(my $old_t = "events_$d3") =~ s/-//g;
my $scratch_tables = $dbh->selectcol_arrayref(
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='track_restore_check'");
ok(!grep({ $_ eq $today_t || $_ eq $old_t } @$scratch_tables),
   "today's (open) table and the older day are not in the backup");

# --- idempotent: same directory, same dump bytes, scratch dropped --------

my $sha1 = `cd '$bdir' && sha256sum events.sql stats.sql`;
($rc, $log) = run_backup(@common, '--days', 2);
is($rc, 0, 'second run passes') or diag($log);
is(`cd '$bdir' && sha256sum events.sql stats.sql`, $sha1, 'second run writes the same dump bytes');
my @dirs = glob("$out/*");
is(scalar @dirs, 1, 'one backup directory for the same days');
is_deeply($dbh->selectcol_arrayref("SHOW DATABASES LIKE 'track_restore_check'"), [],
          'scratch schema dropped after a passing run');

# --- verify of the intact backup passes -----------------------------------

($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf", '--verify', $bdir);
is($rc, 0, '--verify of the intact backup passes') or diag($log);

# --- restore: the lost days come back, the others stay as they are --------

# the columns of track's TABLE besides the action's number
sub other_cols {
    my ($table) = @_;
    return @{ $dbh->selectcol_arrayref(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='track'"
        . " AND TABLE_NAME=? AND COLUMN_NAME <> 'action_id' ORDER BY ORDINAL_POSITION",
        undef, $table) };
}
# named_of(SCHEMA, TABLE, WHERE[, FIRST]): rows of TABLE keyed by an action
# number, with the action's names in its place, in a fixed order; with
# FIRST, TABLE is of the first layout and has the names itself
sub named_of {
    my ($schema, $table, $where, $first) = @_;
    my @cols = other_cols($table);
    my $cols = join ', ', map { "IFNULL(HEX(t.`$_`),'N')" } 'app', 'module', 'action', @cols;
    my $from = $first ? "`$schema`.`$table` t"
                      : "(SELECT a.app, a.module, a.action, s.* FROM `$schema`.`$table` s"
                        . " JOIN `$schema`.stats_actions a ON a.id = s.action_id) t";
    return $dbh->selectcol_arrayref(
        "SELECT CONCAT_WS('|', $cols) AS r FROM $from WHERE $where ORDER BY r");
}
# stats_of(TABLE, WHERE): track's rows of a statistics table; those keyed
# by an action number through the names (the numbers may change)
my %by_number = map { $_ => 1 } qw(stats_hourly stats_daily stats_user_seen);
sub stats_of {
    my ($table, $where) = @_;
    return $by_number{$table} ? named_of('track', $table, $where)
                              : rows_of('track', $table, $where);
}
sub seen_of { return stats_of('stats_user_seen', $_[0]) }

my %saved;
for my $t (@tables) { $saved{$t} = rows_of('track', $t, '1') }
my @stats = qw(stats_hourly stats_daily stats_daily_users stats_dead_letters);
for my $t (@stats) {
    $saved{$t} = stats_of($t, "day IN ($days_in)");
    $saved{"$t other"} = stats_of($t, "day NOT IN ($days_in)");
}

# reseal(DIR, FILE...): the MANIFEST's sha256 lines of FILEs made to match
# their changed contents, as someone rewriting a backup would
sub reseal {
    my ($dir, @files) = @_;
    my %sum = map { $_ => (split ' ', `sha256sum $dir/$_`)[0] } @files;
    local @ARGV = ("$dir/MANIFEST");
    local $^I = '';
    while (<>) {
        $_ = "sha256 $sum{$1}  $1\n" if /^sha256 \S+ +(\S+)$/ && $sum{$1};
        print;
    }
}

# tamper(DIR, FILE, TEXT): TEXT appended to a dump file, MANIFEST resealed
sub tamper {
    my ($dir, $file, $text) = @_;
    open(my $fh, '>>', "$dir/$file") or die $!;
    print $fh $text;
    close $fh;
    reseal($dir, $file);
}
my $seen_days = seen_of("day IN ($days_in)");
my $seen_other = seen_of("day NOT IN ($days_in)");

# the disaster: both day tables gone, their statistics rows deleted or
# wrong, and the action renumbered since the backup
$dbh->do("DROP TABLE `$_`") for @tables;
$dbh->do("DELETE FROM $_ WHERE day = '$d1'") for @stats, 'stats_user_seen';
$dbh->do("UPDATE stats_hourly SET events = 1 WHERE day = '$d2'");
$dbh->do('UPDATE stats_actions SET id = 9 WHERE id = 7');
$dbh->do("UPDATE $_ SET action_id = 9 WHERE action_id = 7") for keys %by_number;
# a consumer's day table of d2 created again, still empty
(my $empty = $tmpl) =~ s/\@TABLE\@/$tables[1]/g;
$dbh->do($empty);
$dbh->do("UPDATE track_ids SET next_id = 1 WHERE name = 'events'");

($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $bdir);
is($rc, 0, '--restore of the intact backup passes') or diag($log);
like($log, qr/restored into track$/m, 'it says where the days went') or diag($log);
unlike($log, qr/^FAIL/m, 'no FAIL verdict');
for my $t (@tables) {
    is_deeply(rows_of('track', $t, '1'), $saved{$t}, "$t is back, row for row");
}
for my $t (@stats) {
    is_deeply(stats_of($t, "day IN ($days_in)"), $saved{$t},
              "$t: the two days' rows as they were backed up");
    is_deeply(stats_of($t, "day NOT IN ($days_in)"), $saved{"$t other"},
              "$t: other days' rows untouched");
}
is_deeply(seen_of("day IN ($days_in)"), $seen_days,
          "memberships of the two days back, under the database's action number");
is_deeply(seen_of("day NOT IN ($days_in)"), $seen_other, 'other days\' memberships untouched');
is_deeply($dbh->selectcol_arrayref('SELECT DISTINCT action_id FROM stats_user_seen'), [9],
          'no membership refers to the backup\'s old number');
for my $t (qw(stats_hourly stats_daily)) {
    is_deeply($dbh->selectcol_arrayref("SELECT DISTINCT action_id FROM $t ORDER BY 1"),
              [8, 9],
              "$t: no counter refers to the backup's old number");
}
like($log, qr/^OK   stats_hourly: restored into track: 8 rows, by their action's names$/m,
     'the counters compared through the names') or diag($log);
my $max_id = $dbh->selectrow_array("SELECT MAX(id) FROM `$tables[0]`");
cmp_ok($dbh->selectrow_array("SELECT next_id FROM track_ids WHERE name = 'events'"), '>',
       $max_id, 'the id allocator is above the restored rows');

# a second restore would overwrite rows: refused, nothing changed
$dbh->do("INSERT INTO stats_dead_letters VALUES ('$d1', 'late', 1)");
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $bdir);
is($rc, 2, 'a restore over a day table with rows: exit 2') or diag($log);
like($log, qr/track\.events_\d{8} exists with 40 rows.*nothing restored/,
     '... naming the table') or diag($log);
is($dbh->selectrow_array("SELECT events FROM stats_dead_letters WHERE day = '$d1'"
                         . " AND reason = 'late'"), 1, '... and changing no statistics');

# --- the action numbers of another database ----------------------------

# new_db(NAME): an empty database NAME with the statistics tables
sub new_db {
    my ($name) = @_;
    $dbh->do("DROP DATABASE IF EXISTS `$name`");
    $dbh->do("CREATE DATABASE `$name` CHARACTER SET utf8mb4");
    system("mariadb --defaults-file='$db->{dir}/root.cnf' '$name' <'$ROOT/sql/schema.sql'") == 0
        or die "schema.sql into $name failed\n";
}

# a database whose stats_actions numbered other actions first: the
# backup's numbers of click (7) and buy (8) are two other actions' there
new_db('track2');
$dbh->do("INSERT INTO track2.stats_actions (id, app, module, action) VALUES (1, ?, ?, ?),"
         . " (7, 'shop', 'home', 'view'), (8, 'shop', 'cart', 'view')", undef, @buy);
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--database', 'track2', '--restore', $bdir);
is($rc, 0, '--restore into a database with other action numbers passes') or diag($log);
unlike($log, qr/^FAIL/m, 'no FAIL verdict') or diag($log);
my $click2 = action_id('track2', @click);
ok($click2 != 7, "click has another number there than in the backup ($click2)");
for my $t (qw(stats_hourly stats_daily stats_user_seen)) {
    is_deeply(named_of('track2', $t, '1'),
              $t eq 'stats_user_seen' ? $seen_days : $saved{$t},
              "$t: the two days' rows under the names they had");
}
for my $t (qw(stats_hourly stats_daily stats_user_seen)) {
    is($dbh->selectrow_array("SELECT COUNT(*) FROM track2.$t WHERE action_id IN (7, 8)"), 0,
       "$t: no row under the backup's numbers (other actions there)");
}
$dbh->do('DROP DATABASE track2');

# --- a backup of the first layout -------------------------------------------

# counters keyed by the names, as sql/schema.sql made them before
# stats_actions numbered them (a backup written then holds these tables)
new_db('track_v1');
$dbh->do('DROP TABLE track_v1.stats_hourly, track_v1.stats_daily');
$dbh->do(<<'SQL');
CREATE TABLE track_v1.stats_hourly (
    day     DATE             NOT NULL,
    hour    TINYINT UNSIGNED NOT NULL,
    app     VARCHAR(128)     NOT NULL,
    module  VARCHAR(128)     NOT NULL,
    action  VARCHAR(128)     NOT NULL,
    object  VARCHAR(128)     NOT NULL DEFAULT '',
    events  BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (app, module, action, object, day, hour),
    KEY by_action (app, module, action, day, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
SQL
$dbh->do(<<'SQL');
CREATE TABLE track_v1.stats_daily (
    day     DATE             NOT NULL,
    app     VARCHAR(128)     NOT NULL,
    module  VARCHAR(128)     NOT NULL,
    action  VARCHAR(128)     NOT NULL,
    object  VARCHAR(128)     NOT NULL DEFAULT '',
    events  BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (app, module, action, day, object),
    KEY by_object (app, module, action, object, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
SQL
# blog/post/read is in no stats_actions; click is 1 there, 9 in track
my ($dv, $dv_other) = map { strftime('%Y-%m-%d', localtime($now - $_ * 86400)) } 8, 9;
$dbh->do("INSERT INTO track_v1.stats_actions (id, app, module, action) VALUES (1, ?, ?, ?)",
         undef, @click);
for my $d ($dv, $dv_other) {
    my $k = $d eq $dv ? 1 : 10;
    $dbh->do('INSERT INTO track_v1.stats_hourly VALUES (?, 5, ?, ?, ?, ?, ?),'
             . " (?, 6, 'blog', 'post', 'read', '', ?), (?, 5, ?, ?, ?, 'o5', ?)", undef,
             $d, @click, 'o5', 50 * $k, $d, 7 * $k, $d, @buy, 2 * $k);
    $dbh->do('INSERT INTO track_v1.stats_daily VALUES (?, ?, ?, ?, ?, ?),'
             . " (?, 'blog', 'post', 'read', 'x ', ?), (?, ?, ?, ?, 'A', ?)", undef,
             $d, @click, 'A', 50 * $k, $d, 7 * $k, $d, @buy, 2 * $k);
    $dbh->do("INSERT INTO track_v1.stats_user_seen VALUES (1, ?, 'u1')", undef, $d);
    $dbh->do("INSERT INTO track_v1.stats_daily_users VALUES (?, ?, ?, ?, 1)", undef, $d, @click);
}
($rc, $log) = run_backup('--defaults-file', "$db->{dir}/root.cnf", @common,
                         '--database', 'track_v1', '--day', $dv);
is($rc, 0, 'a backup of the first layout passes') or diag($log);
(my $vdir = "$out/track_v1-$dv-$dv") =~ s/-(\d{4})-(\d\d)-(\d\d)/-$1$2$3/g;
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $vdir);
is($rc, 0, '--restore of a backup of the first layout passes') or diag($log);
unlike($log, qr/^FAIL/m, 'no FAIL verdict') or diag($log);
like($log, qr/^OK   stats_daily: restored into track: 3 rows, by their action's names$/m,
     '... its counters compared through their names') or diag($log);
for my $t (qw(stats_hourly stats_daily stats_user_seen)) {
    is_deeply(named_of('track', $t, "day = '$dv'"),
              named_of('track_v1', $t, "day = '$dv'", $t ne 'stats_user_seen'),
              "$t: the backed-up day's rows, under the database's numbers of their names");
}
is_deeply(rows_of('track', 'stats_daily_users', "day = '$dv'"),
          rows_of('track_v1', 'stats_daily_users', "day = '$dv'"),
          'stats_daily_users: the day\'s row');
is($dbh->selectrow_array('SELECT COUNT(*) FROM stats_actions'
                         . " WHERE (app, module, action) = ('blog', 'post', 'read')"),
   1, 'an action named only in its counters added to stats_actions');
is($dbh->selectrow_array("SELECT COUNT(*) FROM stats_hourly WHERE day = '$dv_other'"), 0,
   'another day of that database not restored');

# a restore into counters still keyed by the names: refused, nothing changed
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--database', 'track_v1', '--restore', $vdir);
is($rc, 2, 'a restore into a database of the first layout: exit 2') or diag($log);
like($log, qr/older layout.*nothing restored/, '... saying why') or diag($log);
is($dbh->selectrow_array('SELECT COUNT(*) FROM track_v1.stats_hourly'), 6,
   '... and its counters as they were');
$dbh->do('DROP DATABASE track_v1');

# --- a damaged dump fails loudly ------------------------------------------

my $victim = sprintf('%032x', 41);   # an eid in the older of the two days
{
    local @ARGV = ("$bdir/events.sql");
    local $^I = '';
    my $hits = 0;
    while (<>) {
        $hits += s/'m\x{c3}\x{b6}d1'/'mXd1'/;   # module of the first row of a day
        print;
    }
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf", '--verify', $bdir);
is($rc, 1, 'damaged dump: --verify exits 1') or diag($log);
like($log, qr/^FAIL events\.sql: sha256 .* differs/m, 'the changed dump file is named');
like($log, qr/^FAIL events_\d{8}: restored copy's checksum/m,
     'the damaged table gets a FAIL checksum verdict') or diag($log);
like($log, qr/BACKUP CHECK FAILED/, 'a loud final verdict');
ok(scalar @{ $dbh->selectcol_arrayref("SHOW DATABASES LIKE 'track_restore_check'") },
   'scratch schema kept after a failure for inspection');

# a row missing from the dump: count mismatch
{
    local @ARGV = ("$bdir/stats.sql");
    local $^I = '';
    while (<>) {
        print unless /^\('\Q$d2\E','invalid_json',3\),$/;
    }
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf", '--verify', $bdir,
                         '--drop-scratch');
is($rc, 1, 'a row missing from the dump: exit 1') or diag($log);
like($log, qr/^FAIL stats_dead_letters: restored copy has 1 rows, the source had 2/m,
     'the row count mismatch is named') or diag($log);

# --- what a restore must not run or overwrite -------------------------------

my @old = map { strftime('%Y-%m-%d', localtime($now - $_ * 86400)) } 5, 6;
(my $old_table = "events_$old[0]") =~ s/-//g;
count_row('stats_daily', \@click, day => $d3, object => 'keep', events => 3);

# a backup of a day without events, which has some by the time of the
# restore: its statistics must not be replaced by the backup's none
($rc, $log) = run_backup(@common, '--day', $old[0]);
is($rc, 0, 'a backup of a day without events passes') or diag($log);
like($log, qr/note: no table $old_table/, '... noting it');
(my $odir = "$out/track-$old[0]-$old[0]") =~ s/-(\d{4})-(\d\d)-(\d\d)/-$1$2$3/g;
(my $late = $tmpl) =~ s/\@TABLE\@/$old_table/g;
$dbh->do($late);
$dbh->do("INSERT INTO `$old_table` (eid, recv_ts, app, module, action)"
         . " VALUES ('late-1', 1, 'shop', 'home', 'click')");
count_row('stats_daily', \@click, day => $old[0], object => '', events => 1);
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $odir);
is($rc, 2, 'a restore of a day the database has rows of, without its table in'
   . ' the backup: exit 2') or diag($log);
like($log, qr/track\.$old_table exists with 1 rows.*nothing restored/,
     '... naming the table') or diag($log);
is($dbh->selectrow_array("SELECT events FROM stats_daily WHERE day = '$old[0]'"),
   1, "... and that day's statistics kept");
is_deeply($dbh->selectcol_arrayref("SHOW DATABASES LIKE 'track_restore_check'"), [],
          '... and no scratch copy left behind');

# the same ends, other days: not written over that backup
($rc, $log) = run_backup(@common, '--day', $old[0], '--day', $old[0]);
is($rc, 0, 'the same day again rewrites its backup') or diag($log);
mkdir "$tmp/other";
($rc, $log) = run_backup(@common[0 .. 1], '--out', "$tmp/other", '--timezone',
                         $tz, '--day', $old[1], '--day', $d2);
is($rc, 0, 'a backup of two days apart') or diag($log);
(my $adir = "$tmp/other/track-$old[1]-$d2") =~ s/-(\d{4})-(\d\d)-(\d\d)/-$1$2$3/g;
($rc, $log) = run_backup(@common[0 .. 1], '--out', "$tmp/other", '--timezone',
                         $tz, '--day', $old[1], '--day', $old[0], '--day', $d2);
is($rc, 2, 'other days with the same first and last: exit 2') or diag($log);
like($log, qr/holds a backup of other days/, '... saying why');
like(do { local (@ARGV, $/) = "$adir/MANIFEST"; <> }, qr/^days $old[1] $d2$/m,
     '... and the backup there is unchanged');

# one day of a two-day backup (the daily job writes two): the other day
# has its rows in the database and is left alone
($rc, $log) = run_backup(@common, '--day', $d3, '--day', $d2);
is($rc, 0, 'a backup of two days') or diag($log);
(my $tdir = "$out/track-$d3-$d2") =~ s/-(\d{4})-(\d\d)-(\d\d)/-$1$2$3/g;
(my $t3 = "events_$d3") =~ s/-//g;
my $rows3 = rows_of('track', $t3, '1');
my %stats3 = map { $_ => stats_of($_, "day = '$d3'") } @stats;
my $seen3 = seen_of("day = '$d3'");
my $d2_daily = rows_of('track', 'stats_daily', "day = '$d2'");
$dbh->do("DROP TABLE `$t3`");
$dbh->do("DELETE FROM $_ WHERE day = '$d3'") for @stats, 'stats_user_seen';
$dbh->do("UPDATE stats_daily SET events = events + 1 WHERE day = '$d2'");
$d2_daily = rows_of('track', 'stats_daily', "day = '$d2'");
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $tdir, '--day', $d3);
is($rc, 0, '--restore --day: one day of the backup') or diag($log);
like($log, qr/its days $d3 restored into track$/m, '... saying which') or diag($log);
is_deeply(rows_of('track', $t3, '1'), $rows3, "$t3 is back");
is_deeply(stats_of($_, "day = '$d3'"), $stats3{$_}, "$_ of $d3 is back")
    for @stats;
is_deeply(seen_of("day = '$d3'"), $seen3, "memberships of $d3 are back");
is_deeply(rows_of('track', 'stats_daily', "day = '$d2'"), $d2_daily,
          "$d2, in the backup too, is left as it is");
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $tdir, '--day', $old[1]);
is($rc, 2, '--day of a day not in the backup: exit 2') or diag($log);
like($log, qr/is not a day of the backup/, '... saying so');

# a changed dump file is SQL that must not reach the database: loaded only
# by an account of the run's own, with rights on the scratch schema alone
{
    open(my $fh, '>>', "$odir/stats.sql") or die $!;
    print $fh "DELETE FROM track.stats_daily WHERE day = '$d3';\n";
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $odir, '--drop-scratch');
is($rc, 1, 'a changed dump: --restore exits 1') or diag($log);
like($log, qr/^FAIL stats\.sql: sha256/m, '... naming it');
is($dbh->selectrow_array("SELECT events FROM stats_daily WHERE day = '$d3'"
                         . " AND object = 'keep'"), 3,
   '... and its statement did not reach the database');
is($dbh->selectrow_array("SELECT COUNT(*) FROM mysql.user WHERE User LIKE"
                         . " 'track\\_restore\\_%'"), 0,
   "the run's own account is gone");

# ... even with its manifest rewritten to match; a trigger would move into
# the database with its table
tamper($adir, 'events.sql', "CREATE TRIGGER evil BEFORE INSERT ON `$tables[1]`"
                            . " FOR EACH ROW SET NEW.app = 'x';\n");
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--restore', $adir, '--drop-scratch');
is($rc, 1, 'a dump that makes a trigger: exit 1') or diag($log);
like($log, qr/^FAIL events\.sql: restore into track_restore_check failed:.*TRIGGER/m,
     '... refused to the account that loads it') or diag($log);
is($dbh->selectrow_array("SELECT COUNT(*) FROM information_schema.TRIGGERS"
                         . " WHERE TRIGGER_SCHEMA = 'track'"), 0,
   '... and no trigger reached the database');

# the mysql client's own commands in a dump run nothing: \! would start a
# shell as whoever restores (root); the dump's own first line, which turns
# the client's sandbox on, is removed as a changed file could
{
    local @ARGV = ("$adir/stats.sql", "$adir/events.sql");
    local $^I = '';
    while (<>) { print unless /enable the sandbox mode|CREATE TRIGGER evil/ }
}
{
    open(my $fh, '>>', "$adir/stats.sql") or die $!;
    print $fh "\\! touch $tmp/shell-ran\n";
    close $fh;
    reseal($adir, 'events.sql', 'stats.sql');
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--verify', $adir, '--drop-scratch');
is($rc, 1, 'a dump with a shell command: exit 1') or diag($log);
like($log, qr/^FAIL stats\.sql: restore into track_restore_check failed:.*sandbox/m,
     '... the load refused it') or diag($log);
ok(!-e "$tmp/shell-ran", '... and no shell ran');

# a function, and a view calling it, would run SQL of the dump's as whoever
# reads the scratch copy (root): the account that loads it may make neither
{
    local @ARGV = ("$adir/stats.sql");
    local $^I = '';
    while (<>) { print unless /shell-ran/ }
}
tamper($adir, 'stats.sql', "CREATE FUNCTION evil() RETURNS INT"
                           . " RETURN (SELECT COUNT(*) FROM track.stats_daily);\n"
                           . "CREATE VIEW evil_v AS SELECT evil() AS n;\n");
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--verify', $adir, '--drop-scratch');
is($rc, 1, 'a dump that makes a function and a view: exit 1') or diag($log);
like($log, qr/^FAIL stats\.sql: restore into track_restore_check failed:.*denied/m,
     '... refused to the account that loads it') or diag($log);
is($dbh->selectrow_array("SELECT COUNT(*) FROM information_schema.ROUTINES"
                         . " WHERE ROUTINE_NAME = 'evil'")
   + $dbh->selectrow_array("SELECT COUNT(*) FROM information_schema.VIEWS"
                           . " WHERE TABLE_NAME = 'evil_v'"),
   0, '... and neither exists anywhere');

# a manifest with a table's line deleted does not verify
{
    local @ARGV = ("$odir/MANIFEST");
    local $^I = '';
    while (<>) { print unless /^table stats_daily / }
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--verify', $odir, '--drop-scratch');
is($rc, 1, 'a manifest without a table line: exit 1') or diag($log);
like($log, qr/^FAIL stats_daily: the manifest has no line for it/m,
     '... naming the table');

# the manifest's words go into SQL: a days line that is not days is refused
{
    local @ARGV = ("$odir/MANIFEST");
    local $^I = '';
    while (<>) {
        s/^days (\S+)$/days $1 x'));INSERT INTO track.stats_actions(app,module,action)VALUES('inj','m','a');SELECT(('/;
        print;
    }
}
($rc, $log) = run_backup('--restore-defaults-file', "$db->{dir}/root.cnf",
                         '--verify', $odir, '--drop-scratch');
is($rc, 2, 'a manifest whose days line holds SQL: exit 2') or diag($log);
like($log, qr/MANIFEST: bad day/, '... saying so');
is($dbh->selectrow_array("SELECT COUNT(*) FROM stats_actions WHERE app = 'inj'"),
   0, '... and nothing of it ran');

($rc, $log) = run_backup('--restore');
is($rc, 2, 'an option without its value: exit 2');
like($log, qr/--restore wants a value/, '... saying which');

# a time zone date(1) would take for UTC without a word
($rc, $log) = run_backup(@common[0 .. 3], '--timezone', 'Asia/Shangai',
                         '--days', 1);
is($rc, 2, 'an unknown time zone: exit 2');
like($log, qr/unknown time zone: Asia\/Shangai/, '... saying which');

alarm 0;
done_testing();
