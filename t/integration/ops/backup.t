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
        $dbh->do("INSERT INTO stats_hourly VALUES (?, ?, 'shop', 'home', 'click', ?, ?)",
                 undef, $d, $h, "o$h", 100 + $h);
    }
    $dbh->do("INSERT INTO stats_daily VALUES (?, 'shop', 'home', 'click', 'A', 5),"
             . " (?, 'shop', 'home', 'click', 'a ', 6)", undef, $d, $d);
    $dbh->do("INSERT INTO stats_daily_users VALUES (?, 'shop', 'home', 'click', 2)", undef, $d);
    $dbh->do("INSERT IGNORE INTO stats_actions (id, app, module, action)"
             . " VALUES (7, 'shop', 'home', 'click')");
    $dbh->do("INSERT INTO stats_user_seen VALUES (7, ?, 'u1'), (7, ?, 'ü2')",
             undef, $d, $d);
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

my %saved;
for my $t (@tables) { $saved{$t} = rows_of('track', $t, '1') }
my @stats = qw(stats_hourly stats_daily stats_daily_users stats_dead_letters);
for my $t (@stats) {
    $saved{$t} = rows_of('track', $t, "day IN ($days_in)");
    $saved{"$t other"} = rows_of('track', $t, "day NOT IN ($days_in)");
}
sub seen_of {
    my ($where) = @_;
    return $dbh->selectall_arrayref(
        "SELECT a.app, a.module, a.action, s.day, s.uid FROM stats_user_seen s"
        . " JOIN stats_actions a ON a.id = s.action_id WHERE $where ORDER BY 1, 2, 3, 4, 5");
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
my $seen_days = seen_of("s.day IN ($days_in)");
my $seen_other = seen_of("s.day NOT IN ($days_in)");

# the disaster: both day tables gone, their statistics rows deleted or
# wrong, and the action renumbered since the backup
$dbh->do("DROP TABLE `$_`") for @tables;
$dbh->do("DELETE FROM $_ WHERE day = '$d1'") for @stats, 'stats_user_seen';
$dbh->do("UPDATE stats_hourly SET events = 1 WHERE day = '$d2'");
$dbh->do('UPDATE stats_actions SET id = 9 WHERE id = 7');
$dbh->do('UPDATE stats_user_seen SET action_id = 9 WHERE action_id = 7');
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
    is_deeply(rows_of('track', $t, "day IN ($days_in)"), $saved{$t},
              "$t: the two days' rows as they were backed up");
    is_deeply(rows_of('track', $t, "day NOT IN ($days_in)"), $saved{"$t other"},
              "$t: other days' rows untouched");
}
is_deeply(seen_of("s.day IN ($days_in)"), $seen_days,
          "memberships of the two days back, under the database's action number");
is_deeply(seen_of("s.day NOT IN ($days_in)"), $seen_other, 'other days\' memberships untouched');
is_deeply($dbh->selectcol_arrayref('SELECT DISTINCT action_id FROM stats_user_seen'), [9],
          'no membership refers to the backup\'s old number');
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
$dbh->do("INSERT INTO stats_daily VALUES ('$d3', 'shop', 'home', 'click', 'keep', 3)");

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
$dbh->do("INSERT INTO stats_daily VALUES ('$old[0]', 'shop', 'home', 'click', '', 1)");
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
my %stats3 = map { $_ => rows_of('track', $_, "day = '$d3'") } @stats;
my $seen3 = seen_of("s.day = '$d3'");
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
is_deeply(rows_of('track', $_, "day = '$d3'"), $stats3{$_}, "$_ of $d3 is back")
    for @stats;
is_deeply(seen_of("s.day = '$d3'"), $seen3, "memberships of $d3 are back");
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
