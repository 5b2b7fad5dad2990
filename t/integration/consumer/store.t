# SPDX-License-Identifier: BSD-2-Clause
# track-consumer against real Redis and MariaDB: values stored byte for byte
# in the right day tables, idempotent eids, statistics, dead letters,
# signals, retention, and a SIGKILL at each step of a batch.
use strict;
use warnings;
use FindBin;
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");

my $JSON = JSON::PP->new->utf8->canonical;

sub hexs { return uc unpack('H*', $_[0]) }

# the stored bytes of a column, by HEX() (no client-side decoding)
sub stored_hex {
    my ($dbh, $table, $col, $eid) = @_;
    my $r = db_rows($dbh, "SELECT HEX($col) FROM `$table` WHERE eid = ?", $eid);
    return @$r ? (defined $r->[0][0] ? $r->[0][0] : 'NULL') : 'no row';
}

queue_cmd('FLUSHALL');

# --- --help ------------------------------------------------------------------

my $help = `$CONSUMER_BIN --help`;
ok($? == 0 && $help =~ /--batch_size/ && $help =~ /--timezone/
   && $help =~ /--retention_days/ && $help =~ /SIGTERM/, '--help documents the settings');
my $bad = `$CONSUMER_BIN --batch-size=0 2>&1`;
ok(($? >> 8) == 2 && $bad =~ /batch_size/, 'an invalid flag exits 2 with the reason');

# --- byte-exact values, day tables across midnight -------------------------

my $db = start_db($s, 'tc_store');
my $dbh = $db->{dbh};
my $midnight = 1732559400000;                    # 2024-11-26 00:00 +05:30
my $long_ua = join("", map { chr(40 + $_ % 50) } 1 .. 65535);   # no " or \
my $emoji = "\xf0\x9f\x98\x80";                  # 4-byte UTF-8, as bytes
my $app128 = $emoji x 32;                        # 128 bytes
my @tricky = (
    # eid, recv_ts, raw JSON text of the event (bytes)
    [ 'q1', $midnight - 1,
      qq~{"eid":"q1","recv_ts":@{[$midnight - 1]},"app":"a'b\\"c","module":"back\\\\slash",~
      . qq~"action":"$emoji\xe4\xb8\xad","object":"x ","uid":"\\u00e9\\ud83d\\ude00",~
      . qq~"ts":9007199254740991,"ip":"2001:db8::1","ua":"tab\\tnl\\ncr\\r",~
      . qq~"referer":"'); DROP TABLE stats_daily; --",~
      . qq~"props":{"q":"it's \\"x\\"","e":"\\u00e9","n":1.50,"t":true,"z":null},~
      . qq~"fields":{"host":"h\\\\1"}}~ ],
    [ 'q2', $midnight,
      qq~{"eid":"q2","recv_ts":$midnight,"app":"$app128","module":"m","action":"a",~
      . qq~"object":"x","uid":42,"ua":"$long_ua"}~ ],
    [ 'Q2', $midnight + 1,
      qq~{"eid":"Q2","recv_ts":@{[$midnight + 1]},"app":"A","module":"m","action":"a","object":991}~ ],
);
push_events([map { $_->[2] } @tricky]);

my $c = start_consumer($s, db => $db, id => 'store');
ok(wait_for(30, sub { drained('store') }), 'queue drained');
ok(rollup_done($dbh), 'the roll-up counted the rows');

my ($d1, $d2) = ('events_20241125', 'events_20241126');
is(join(',', @{day_tables($dbh)}), "$d1,$d2",
      'one table per day of the configured zone (last ms before midnight, midnight)');
is(stored_hex($dbh, $d1, 'app', 'q1'), hexs(q~a'b"c~), 'quotes stored as is');
is(stored_hex($dbh, $d1, 'module', 'q1'), hexs('back\\slash'), 'backslash stored as is');
is(stored_hex($dbh, $d1, 'action', 'q1'), hexs("$emoji\xe4\xb8\xad"),
      '4-byte and 3-byte UTF-8 stored as is');
is(stored_hex($dbh, $d1, 'object', 'q1'), hexs('x '), 'trailing space kept');
is(stored_hex($dbh, $d1, 'uid', 'q1'), hexs("\xc3\xa9$emoji"),
      '\u escapes and a surrogate pair stored as UTF-8');
is(stored_hex($dbh, $d1, 'ts', 'q1'), uc sprintf('%X', 9007199254740991),
      'ts up to 2^53-1');
is(stored_hex($dbh, $d1, 'ua', 'q1'), hexs("tab\tnl\ncr\r"), 'control characters');
is(stored_hex($dbh, $d1, 'referer', 'q1'),
      hexs(q~'); DROP TABLE stats_daily; --~), 'SQL in a value is only text');
is(stored_hex($dbh, $d1, 'props', 'q1'),
      hexs(qq~{"q":"it's \\"x\\"","e":"\xc3\xa9","n":1.5,"t":true,"z":null}~),
      'props stored as compact JSON by jansson (escapes decoded, 1.50 as 1.5)');
is(stored_hex($dbh, $d1, 'fields', 'q1'), hexs(q~{"host":"h\\\\1"}~), 'fields as text');
is(stored_hex($dbh, $d2, 'app', 'q2'), hexs($app128), '128-byte app of emoji');
is(stored_hex($dbh, $d2, 'uid', 'q2'), hexs('42'), 'numeric uid as text');
is(stored_hex($dbh, $d2, 'ua', 'q2'), hexs($long_ua), '65535-byte user agent');
is(stored_hex($dbh, $d2, 'ip', 'q2'), 'NULL', 'absent ip is NULL');
is(stored_hex($dbh, $d2, 'object', 'Q2'), hexs('991'), 'numeric object as text');
is(scalar @{db_rows($dbh, "SELECT 1 FROM $d2")}, 2, "eids differing in case are distinct");
my $tables = db_rows($dbh, "SELECT COUNT(*) FROM information_schema.tables "
                  . "WHERE table_schema = 'tc_store' AND table_name = 'stats_daily'");
is($tables->[0][0], 1, 'stats_daily survived the SQL-looking referer');
is(join('|', map { join(',', @$_) } @{db_rows($dbh,
      "SELECT day, hour, object, events FROM stats_hourly ORDER BY day, hour, object")}),
      '2024-11-25,23,x ,1|2024-11-26,0,991,1|2024-11-26,0,x,1',
      'hourly statistics in the configured zone');
stored_once($dbh, [map { $_->[2] } @tricky], 'tricky values');

# --- idempotency: a resent eid is stored and counted once per day ----------

my @first = @{gen_events(n => 300, seed => 7, prefix => 'i')};
push_events(\@first);
ok(wait_for(30, sub { drained('store') }), 'first copy drained');
my @resend = (@first[0 .. 99]);
# the same eids received on another day are a new event for that day
my @nextday = map {
    my $e = $JSON->decode($_);
    $e->{recv_ts} += 86400000 * 3;
    encode_event($e);
} @first[0 .. 9];
push_events([@resend, @resend[0 .. 9], @nextday]);
ok(wait_for(30, sub { drained('store') }), 'resent copies drained');
stored_once($dbh, [(map { $_->[2] } @tricky), @first, @resend, @nextday],
       'resent eids');
my $st = db_rows($dbh, "SELECT events, duplicates FROM consumer_state WHERE consumer_id = 'store'");
is("@{$st->[0]}", (3 + 300 + 10) . " 110", 'consumer_state counts stored and duplicates');

# --- dead letters ------------------------------------------------------------

queue_cmd('DEL', 'track:dead');
my @dead_in = (
    ['not json at all', 'invalid_json'],
    ['{"eid":"d1","recv_ts":1,"app":"a","module":"m"}', 'missing_field'],
    ['{"eid":"d2","recv_ts":"soon","app":"a","module":"m","action":"x"}', 'bad_type'],
    ['[1,2,3]', 'not_object'],
    ["{\"eid\":\"d3\xff\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\",\"action\":\"x\"}", 'invalid_json'],
    ['{"eid":"' . ('e' x 65) . '","recv_ts":1,"app":"a","module":"m","action":"x"}', 'bad_length'],
);
my @good = @{gen_events(n => 20, seed => 8, prefix => 'dg')};
my @mix;
for my $i (0 .. $#good) {
    push @mix, $good[$i];
    push @mix, $dead_in[$i]->[0] if $i < @dead_in;
}
push_events(\@mix);
ok(wait_for(30, sub { drained('store') }), 'mixed batch drained: dead letters do not block');
my $letters = queue_cmd('LRANGE', 'track:dead', 0, -1);
is(scalar @$letters, scalar @dead_in, 'every bad element is in track:dead once');
my $exact = 0;
for my $i (0 .. $#dead_in) {
    my $l = eval { $JSON->decode($letters->[$i]) } || {};
    my $raw = defined $l->{raw} ? do { utf8::encode(my $x = $l->{raw}); $x }
            : defined $l->{raw_hex} ? pack('H*', $l->{raw_hex}) : '';
    $exact++ if $raw eq $dead_in[$i][0] && $l->{code} eq $dead_in[$i][1]
                && length($l->{reason} || '') > 5 && $l->{consumer} eq 'store';
}
is($exact, scalar @dead_in, 'dead letters carry the exact element, its code and reason');
my %codes;
$codes{$_->[1]}++ for @dead_in;
is(join(',', map { "$_->[0]=$_->[1]" } @{db_rows($dbh,
      "SELECT reason, SUM(events) FROM stats_dead_letters GROUP BY reason ORDER BY reason")}),
      join(',', map { "$_=$codes{$_}" } sort keys %codes), 'dead letters counted by reason');
stored_once($dbh, [(map { $_->[2] } @tricky), @first, @resend, @nextday, @good],
       'around dead letters');

# --- signals -------------------------------------------------------------------

rename $c->{log}, "$c->{log}.old";
kill 'HUP', $c->{pid};
ok(wait_for(10, sub { -f $c->{log} && consumer_log($c) =~ /log file reopened/ }),
   'SIGHUP reopens the log file');
ok(consumer_alive($c), 'still running after SIGHUP');
my $t0 = time;
my $status = stop_consumer($c, 'TERM', 10);
ok(defined $status && $status == 0, 'SIGTERM while idle: exit 0');
ok(time - $t0 < 3, sprintf('... within %.2f s (blocking pop timeout 0.2 s)', time - $t0));

# SIGTERM with a batch in hand: the batch is finished
my @late = @{gen_events(n => 50, seed => 9, prefix => 'late')};
$c = start_consumer($s, db => $db, id => 'store', args => ['--linger-ms=3000', '--batch-size=1000']);
ok(wait_for(10, sub { consumer_log($c) =~ /redis: connected/ }), 'restarted');
push_events(\@late);
ok(wait_for(10, sub { queue_cmd('LLEN', 'track:processing:store') == 50 }), 'a batch lingers in the processing list');
$status = stop_consumer($c, 'TERM', 10);
ok(defined $status && $status == 0, 'SIGTERM with a batch in hand: exit 0');
ok(drained('store'), '... after finishing the batch');
stored_once($dbh, [(map { $_->[2] } @tricky), @first, @resend, @nextday, @good, @late],
       'after SIGTERM');

# --- a SIGKILL at each step of a batch -------------------------------------------

my @all = ((map { $_->[2] } @tricky), @first, @resend, @nextday, @good, @late);
for my $point (qw(after_move before_commit after_commit)) {
    my $ev = gen_events(n => 300, seed => 10, prefix => "k$point", dup => 0.1);
    push @all, @$ev;
    push_events($ev);
    $c = start_consumer($s, db => $db, id => 'store', args => ['--batch-size=100'],
                        env => { TRACK_CONSUMER_CRASH => "$point:2" });
    my $st2 = wait_consumer($c, 30);
    ok(defined $st2 && ($st2 & 127) == 9, "killed by SIGKILL $point of batch 2");
    ok(queue_cmd('LLEN', 'track:processing:store') > 0, '... leaving its processing list');
    # a larger batch after the restart: a committed batch must not grow
    $c = start_consumer($s, db => $db, id => 'store', args => ['--batch-size=500']);
    ok(wait_for(30, sub { drained('store') }), '... restarted with larger batches and drained');
    if ($point eq 'after_commit') {
        ok(consumer_log($c) =~ /was committed before/, '... recognising the committed batch');
    }
    stop_consumer($c, 'TERM', 10);
    stored_once($dbh, \@all, "SIGKILL $point");
}

# --- retention -------------------------------------------------------------------

my $keep = strftime('%Y%m%d', gmtime(time + zone_offset() - 5 * 86400));
my $tmpl = slurp("$ROOT/sql/events_day.sql");
for my $d ('20000101', $keep) {
    (my $sql = $tmpl) =~ s/\@TABLE\@/events_$d/g;
    $sql =~ s/;\s*$//;
    $dbh->do($sql);
}
$dbh->do("INSERT INTO stats_actions (app, module, action) VALUES ('a','m','x')");
$dbh->do("INSERT INTO stats_user_seen SELECT id, '2000-01-01', 'u' FROM stats_actions"
         . " WHERE (app, module, action) = ('a','m','x')");
$dbh->do("INSERT INTO stats_daily_users VALUES ('2000-01-01','a','m','x',1)");
$c = start_consumer($s, db => $db, id => 'store', args => ['--retention-days=30']);
ok(wait_for(10, sub { consumer_log($c) =~ /retention: dropped events_20000101/ }),
   'retention drops a day table older than 30 days');
my %t = map { $_ => 1 } @{day_tables($dbh)};
ok(!$t{events_20000101} && $t{"events_$keep"}, 'and keeps a table of 5 days ago');
ok(wait_for(10, sub { db_rows($dbh, "SELECT COUNT(*) FROM stats_user_seen "
                            . "WHERE day = '2000-01-01'")->[0][0] == 0 }),
   'user memberships of dropped days are deleted');
stop_consumer($c, 'TERM', 10);

# a consumer with retention off keeps everything
$dbh->do("CREATE TABLE events_20000102 LIKE events_$keep");
$c = start_consumer($s, db => $db, id => 'store');
ok(wait_for(10, sub { consumer_log($c) =~ /redis: connected/ }), 'started without retention');
stop_consumer($c, 'TERM', 10);
ok(grep({ $_ eq 'events_20000102' } @{day_tables($dbh)}), 'retention is off by default');

# --- schema migration: stats_daily of the first layout -----------------------

# the oldest layout (primary key by object, then day; top_objects on
# events), keyed by the three strings like the counters before stats_actions
my $migdb = start_db($s, 'tc_migrate');
my $old = $migdb->{dbh};
my @kept = @{gen_events(n => 200, seed => 11, prefix => 'm')};
my $mig = start_consumer($s, db => $migdb, id => 'mig');
push_events([@kept[0 .. 99]]);
ok(wait_for(30, sub { drained('mig') }), 'first half drained');
stop_consumer($mig, 'TERM', 10);
stats_to_first_layout($old);
$old->do('ALTER TABLE stats_daily DROP PRIMARY KEY,'
         . ' ADD PRIMARY KEY (app, module, action, object, day),'
         . ' DROP INDEX by_object,'
         . ' ADD INDEX top_objects (app, module, action, day, events)');
ok(db_rows($old, 'SELECT COUNT(*) FROM stats_daily')->[0][0] > 0,
   'counts to migrate');
$mig = start_consumer($s, db => $migdb, id => 'mig');
push_events([@kept[100 .. 199]]);
ok(wait_for(30, sub { drained('mig') }), 'second half drained after the migration');
is(stop_consumer($mig, 'TERM', 10), 0, 'exit 0');
is(join('|', map { "$_->[0]:$_->[1]" } @{db_rows($old,
      "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index)"
      . " FROM information_schema.statistics WHERE table_schema = 'tc_migrate'"
      . " AND table_name = 'stats_daily' GROUP BY index_name"
      . " ORDER BY index_name")}),
      'by_object:action_id,object,day|PRIMARY:action_id,day,object',
      'stats_daily migrated to the action number, top_objects dropped');
is(join(',', map { $_->[0] } @{db_rows($old,
      "SELECT table_name FROM information_schema.tables"
      . " WHERE table_schema = 'tc_migrate' AND table_name LIKE '%\\_v1'")}),
   '', 'no old table left');
stored_once($old, \@kept, 'counts kept across the migration');

# --- schema migration: memberships keyed by three strings ---------------------

my $seendb = start_db($s, 'tc_migrate_seen');
my $sdb = $seendb->{dbh};
my @seen = @{gen_events(n => 200, seed => 13, prefix => 's')};
my $sc = start_consumer($s, db => $seendb, id => 'seen');
push_events([@seen[0 .. 99]]);
ok(wait_for(30, sub { drained('seen') }), 'first half drained');
stop_consumer($sc, 'TERM', 10);
# back to the layout before stats_actions, with the memberships counted
stats_to_first_layout($sdb);
ok(db_rows($sdb, 'SELECT COUNT(*) FROM stats_user_seen')->[0][0] > 0,
   'memberships to migrate');
$sc = start_consumer($s, db => $seendb, id => 'seen');
push_events([@seen[100 .. 199]]);
ok(wait_for(30, sub { drained('seen') }), 'second half drained after the migration');
is(stop_consumer($sc, 'TERM', 10), 0, 'exit 0');
is(join(',', map { $_->[0] } @{db_rows($sdb,
      "SELECT table_name FROM information_schema.tables"
      . " WHERE table_schema = 'tc_migrate_seen'"
      . " AND table_name LIKE 'stats\\_user\\_seen%' ORDER BY 1")}),
   'stats_user_seen', 'the old memberships table is gone');
is(db_rows($sdb, "SELECT COUNT(*) FROM information_schema.columns"
           . " WHERE table_schema = 'tc_migrate_seen'"
           . " AND table_name = 'stats_user_seen' AND column_name = 'app'")->[0][0],
   0, 'memberships are keyed by action_id');
stored_once($sdb, \@seen, 'users counted once across the migration');

# --- a lingering batch is read in steps; a list changed under it is reread ---

queue_cmd('FLUSHALL');
my $lingdb = start_db($s, 'tc_linger');
my $lingerdb = $lingdb->{dbh};
my @grow = @{gen_events(n => 40, seed => 12, prefix => 'g')};
my $lc = start_consumer($s, db => $lingdb, id => 'grow',
                        args => ['--batch-size=1000', '--linger-ms=8000']);
push_events([@grow[0 .. 9]]);
ok(wait_for(10, sub { processing_len('grow') == 10 }), 'ten events linger');
push_events([@grow[10 .. 19]]);
ok(wait_for(10, sub { processing_len('grow') == 20 }), 'ten more join them');
# not something that happens: the list is this consumer's alone; but if it
# changes, what is stored and acknowledged must be the list as it is
queue_cmd('LPUSH', 'track:processing:grow', $grow[20]);
push_events([@grow[21 .. 39]]);
ok(wait_for(30, sub { drained('grow') }), 'drained after the change');
ok(consumer_log($lc) =~ /processing list "track:processing:grow" changed between two reads/,
   'the change is logged');
is(stop_consumer($lc, 'TERM', 10), 0, 'exit 0');
stored_once($lingerdb, \@grow, 'a list grown in steps, changed once');

# --- one process per consumer id ----------------------------------------------------

my $one = start_consumer($s, db => $db, id => 'same');
ok(wait_for(10, sub { consumer_log($one) =~ /redis: connected/ }), 'first "same" runs');
my $two = start_consumer($s, db => $db, id => 'same');
ok(wait_for(20, sub { consumer_log($two) =~ /consumer id "same" is in use/ }),
   'a second process with the same id waits for the lock, saying why');
stop_consumer($one, 'TERM', 10);
ok(wait_for(20, sub { consumer_log($two) =~ /redis: connected/ }), '... and takes over when the first exits');
is(stop_consumer($two, 'TERM', 10), 0, 'exit 0');

no_sanitizer_reports();
done_testing();
