# SPDX-License-Identifier: BSD-2-Clause
# MariaDB and track-consumer for the integration tests: databases, consumer
# processes (stopped when the test exits), the queue in Redis, generated
# events, and the end-to-end checks (every accepted event once in its day
# table, statistics equal to the raw tables).  Event texts are UTF-8 bytes.
package TrackTest::Consumer;

use strict;
use warnings;

use DBI ();
use Exporter qw(import);
use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(strftime WNOHANG);
use Test::More ();

use TrackTest::Base;
use TrackTest::Services qw(start_redis redis_cmd redis_cli redis_int metric);
use TrackTest::Cluster qw(cluster_masters);

our @EXPORT = qw($CONSUMER_BIN %CONSUMER_TEST_SETTINGS
                 start_db db_connect stop_db restart_db db_rows day_tables
                 stats_to_first_layout
                 consumer_defaults start_consumer stop_consumer wait_consumer
                 consumer_alive consumer_log lane_pids processing_total
                 start_queue_redis queue_cmd push_events processing_lists
                 processing_len drained lane_state
                 shard_keys shard_owners shards_drained
                 zone_offset day_of gen_events encode_event
                 stored_once exactly_once stats_consistent rollup_done db_eids
                 accepted);

our $CONSUMER_BIN = $ENV{CONSUMER_BIN}
                    || "$ROOT/consumer/build/release/track-consumer";

our $queue_port;        # the Redis of start_queue_redis

# --- MariaDB -------------------------------------------------------------------

sub read_env_file {
    my ($file) = @_;
    my %env;
    for (split /\n/, slurp($file)) {
        $env{$1} = $2 if /^(\w+)=(.*)$/;
    }
    return \%env;
}

# a test's own mariadbd in $mdir, stopped at exit
my %private;

sub start_private_db {
    my ($mdir) = @_;
    # its own tmpdir: nobody else's clean-up of /tmp can pull a temporary
    # table from under a query
    make_path("$mdir/tmp");
    my $port = free_port();
    at_exit(sub { sh("stop_mariadb '$mdir'") });
    sh("start_mariadb '$mdir' $port --tmpdir='$mdir/tmp'")
        or die "mariadbd did not start; see $mdir/mariadbd.log\n";
}

# start_db($dir, $name, %opt): the database $name and a root DBI handle on
# it.  On the MariaDB of t/harness.sh (MARIADB_DIR) when there is one, else
# (and always with opt own => 1, for a test that stops the server) on a
# private mariadbd under $dir/mariadb (one for every start_db of the test
# with that $dir).  $name 'track' is the database start_mariadb made
# (schema applied, track_reader may read it); any other name is made afresh
# for track_writer, and dropped at exit when the test passed on the shared
# server.  opt tz: the handle's session time zone
# (default +00:00).  Returns { dir, port, socket, password (the writer's),
# database, env (MYSQL_* of the server's env file), root_password, tz, dbh }.
sub start_db {
    my ($dir, $name, %opt) = @_;
    my $mdir = $ENV{MARIADB_DIR};
    my $own = $opt{own} || !($mdir && -f "$mdir/root.cnf");
    if ($own) {
        $mdir = "$dir/mariadb";
        start_private_db($mdir) unless $private{$mdir}++;
    }
    my $env = read_env_file("$mdir/env");
    my $db = { dir => $mdir, port => $env->{MYSQL_PORT},
               socket => $env->{MYSQL_SOCKET},
               password => $env->{MYSQL_PASSWORD}, database => $name,
               env => $env, tz => $opt{tz} // '+00:00',
               root_password => read_env_file("$mdir/root.cnf")->{password} };
    if ($name ne 'track') {
        my $root = db_connect({ %$db, database => undef });
        $root->do("DROP DATABASE IF EXISTS `$name`");
        $root->do("CREATE DATABASE `$name` CHARACTER SET utf8mb4");
        $root->do("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX,"
                  . " ALTER ON `$name`.* TO 'track_writer'\@'localhost',"
                  . " 'track_writer'\@'127.0.0.1'");
        $root->do("GRANT SELECT ON `$name`.* TO 'track_reader'\@'localhost',"
                  . " 'track_reader'\@'127.0.0.1'");
        $root->disconnect;
    }
    $db->{dbh} = db_connect($db);
    unless ($own || $name eq 'track') {
        at_exit(sub {
            return unless Test::More->builder->is_passing;
            eval { db_connect($db)->do("DROP DATABASE IF EXISTS `$name`") };
        });
    }
    return $db;
}

# db_connect($db): a new root handle on $db's database, in its time zone
sub db_connect {
    my ($db) = @_;
    my $dsn = "DBI:MariaDB:mariadb_socket=$db->{socket}"
              . ($db->{database} ? ";database=$db->{database}" : '');
    my $dbh = DBI->connect($dsn, 'root', $db->{root_password},
                           { RaiseError => 1, PrintError => 0,
                             AutoCommit => 1 })
        or die "cannot connect to mariadbd\n";
    $dbh->do("SET time_zone = '$db->{tz}'");
    return $dbh;
}

# stop_db($db): stops the private mariadbd of $db (start_db own => 1)
sub stop_db {
    my ($db) = @_;
    $db->{dbh}->disconnect if $db->{dbh};
    delete $db->{dbh};
    return sh("stop_mariadb '$db->{dir}'");
}

# restart_db($db): starts it again on its port and reconnects $db->{dbh}
sub restart_db {
    my ($db) = @_;
    sh("start_mariadb '$db->{dir}' $db->{port} --tmpdir='$db->{dir}/tmp'")
        or die "mariadbd did not start again; see $db->{dir}/mariadbd.log\n";
    $db->{dbh} = db_connect($db);
    return $db->{dbh};
}

sub db_rows {
    my ($dbh, $sql, @bind) = @_;
    return $dbh->selectall_arrayref($sql, undef, @bind);
}

sub day_tables {
    my ($dbh) = @_;
    return $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'");
}

# stats_to_first_layout($dbh): puts the counters and the unique-user
# memberships back into the layout before stats_actions (the three strings
# app, module, action in every row), for the tests of the consumer's
# migration
sub stats_to_first_layout {
    my ($dbh) = @_;
    my $table = q~ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin~;
    my $names = q~app VARCHAR(128) NOT NULL, module VARCHAR(128) NOT NULL,
        action VARCHAR(128) NOT NULL~;
    $dbh->do(qq~CREATE TABLE seen_old (day DATE NOT NULL, $names,
        uid VARCHAR(128) NOT NULL,
        PRIMARY KEY (app, module, action, day, uid)) $table~);
    $dbh->do(qq~CREATE TABLE hourly_old (day DATE NOT NULL,
        hour TINYINT UNSIGNED NOT NULL, $names,
        object VARCHAR(128) NOT NULL DEFAULT '', events BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (app, module, action, object, day, hour),
        KEY by_action (app, module, action, day, hour)) $table~);
    $dbh->do(qq~CREATE TABLE daily_old (day DATE NOT NULL, $names,
        object VARCHAR(128) NOT NULL DEFAULT '', events BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (app, module, action, day, object),
        KEY by_object (app, module, action, object, day)) $table~);
    my $join = 'JOIN stats_actions ON id = action_id';
    $dbh->do("INSERT INTO seen_old SELECT day, app, module, action, uid"
             . " FROM stats_user_seen $join");
    $dbh->do("INSERT INTO hourly_old SELECT day, hour, app, module, action,"
             . " object, events FROM stats_hourly $join");
    $dbh->do("INSERT INTO daily_old SELECT day, app, module, action, object,"
             . " events FROM stats_daily $join");
    $dbh->do('DROP TABLE stats_user_seen, stats_hourly, stats_daily,'
             . ' stats_actions');
    $dbh->do('RENAME TABLE seen_old TO stats_user_seen,'
             . ' hourly_old TO stats_hourly, daily_old TO stats_daily');
}

# --- track-consumer ------------------------------------------------------------

# the settings start_consumer writes unless told otherwise (undef: the
# binary's default): time zone UTC, batches of 500, backoff 50 ms doubling
# up to 800 ms
my %defaults = (timezone => 'UTC', backoff_min_ms => 50,
                backoff_max_ms => 800, redis_timeout_ms => 2000,
                block_ms => 200, linger_ms => 50, batch_size => 500);

# the consumer family's settings (t/integration/consumer/): a zone of
# +05:30 all year, so that days and hours are not UTC's and SQL can check
# them; one lane (a test following one processing list sees it whole; the
# lane tests ask for more); a fast backoff capped at 500 ms; the binary's
# batches
our %CONSUMER_TEST_SETTINGS = (
    timezone => 'Asia/Kolkata', lanes => 1, log_level => 'info',
    backoff_min_ms => 20, backoff_max_ms => 500, redis_timeout_ms => undef,
    linger_ms => undef, batch_size => undef);

# consumer_defaults(%settings): change the defaults for the rest of the test
# (the time zone also for day_of, gen_events and the checks)
sub consumer_defaults {
    my (%s) = @_;
    @defaults{keys %s} = values %s;
    zone_offset();              # a zone the checks know
}

my $serial = 0;

# start_consumer($dir, db => $db, id => $id, redis_port => $port | sentinel
# => 'host:port ...', master => $name | cluster => 'host:port ...' (seeds of
# a Redis Cluster), key => $queue, lanes => N, level =>
# $log_level, conf => {setting => value}, args => [...], env => {...}):
# track-consumer with its settings in $dir/consumer-<id>-<n>.conf and its
# log in $dir/consumer-<id>-<n>.log (stdout and stderr in .out); the Redis
# of start_queue_redis unless told.  Returns { pid, log, conf, id, dir };
# stopped at exit.
sub start_consumer {
    my ($dir, %o) = @_;
    -x $CONSUMER_BIN
        or die "$CONSUMER_BIN is missing: make -C consumer (or CONSUMER_BIN)\n";
    make_path($dir);
    my $db = $o{db};
    my $id = $o{id} // 'consumer';
    (my $stem = "$dir/consumer-$id-" . ++$serial) =~ s{[^\w./-]}{_}g;
    my %conf = (%defaults, %{ $o{conf} || {} });
    $conf{lanes} = $o{lanes} if $o{lanes};
    $conf{log_level} = $o{level} if $o{level};
    my @head = (id => $o{id}, redis_port => $o{redis_port},
                redis_sentinel => $o{sentinel}, redis_master => $o{master},
                redis_cluster => $o{cluster},
                queue_key => $o{key}, mysql_socket => $db->{socket},
                mysql_password => $db->{password},
                mysql_database => $db->{database}, log_file => "$stem.log");
    push @head, redis_port => $queue_port
        unless $o{redis_port} || $o{sentinel} || $o{cluster};
    open(my $fh, '>', "$stem.conf") or die "$stem.conf: $!";
    while (my ($k, $v) = splice @head, 0, 2) {
        print $fh "$k = $v\n" if defined $v;
    }
    for my $k (sort keys %conf) {
        print $fh "$k = $conf{$k}\n" if defined $conf{$k};
    }
    close $fh;
    my %env = (sanitizer_env($dir), %{ $o{env} || {} });
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $ENV{$_} = $env{$_} for keys %env;
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$stem.out");
        open(STDERR, '>&', \*STDOUT);
        exec($CONSUMER_BIN, '--config', "$stem.conf", @{ $o{args} || [] })
            or POSIX::_exit(127);
    }
    my $c = { pid => $pid, log => "$stem.log", conf => "$stem.conf",
              id => $id, dir => $dir };
    at_exit(sub { stop_consumer($c) });
    return $c;
}

# wait_consumer($c, $secs): waits up to $secs (default 10) for it to exit,
# SIGKILLs it after that.  The exit status, undef when it had to be killed.
sub wait_consumer {
    my ($c, $secs) = @_;
    return $c->{status} if exists $c->{status};
    my $status;
    wait_for($secs // 10, sub {
        my $r = waitpid($c->{pid}, WNOHANG);
        $status = $? if $r == $c->{pid};
        return $r != 0;
    }) or do {
        kill 'KILL', $c->{pid};
        waitpid($c->{pid}, 0);
    };
    $c->{status} = $status;
    return $status;
}

# stop_consumer($c, $signal, $secs): $signal (default TERM: it finishes the
# batch in hand; a stopped process is continued), then wait_consumer
sub stop_consumer {
    my ($c, $sig, $secs) = @_;
    return $c->{status} if exists $c->{status};
    kill $sig // 'TERM', $c->{pid};
    kill 'CONT', $c->{pid};
    return wait_consumer($c, $secs);
}

# consumer_alive($c): it has not exited (an exit is reaped and remembered)
sub consumer_alive {
    my ($c) = @_;
    return 0 if exists $c->{status};
    my $r = waitpid($c->{pid}, WNOHANG);
    if ($r == $c->{pid}) {
        $c->{status} = $?;
        return 0;
    }
    return $r == 0;
}

sub consumer_log {
    my ($c) = @_;
    return -f $c->{log} ? slurp($c->{log}) : '';
}

# --- the queue -------------------------------------------------------------------

# start_queue_redis($dir): a Redis for the queue, the default of
# start_consumer, queue_cmd, push_events and the processing-list helpers;
# returns its port
sub start_queue_redis {
    my ($dir) = @_;
    $queue_port = start_redis($dir, free_port());
    return $queue_port;
}

# queue_cmd($command, @args): redis_cmd on the queue's Redis
sub queue_cmd {
    return redis_cmd($queue_port, @_);
}

# push_events(\@json, $key, $port): RPUSH in chunks, like the module
sub push_events {
    my ($events, $key, $port) = @_;
    $key ||= 'track:events';
    $port ||= $queue_port;
    for (my $i = 0; $i < @$events; $i += 500) {
        my $j = $i + 499 < $#$events ? $i + 499 : $#$events;
        redis_cmd($port, 'RPUSH', $key, @{$events}[$i .. $j]);
    }
}

# processing_lists($id): the processing lists of every lane of $id ($id,
# $id/1, $id/2...) that exist
sub processing_lists {
    my ($id) = @_;
    return [grep { !/:seq$/ } "track:processing:$id",
            @{ queue_cmd('KEYS', "track:processing:$id/*") || [] }];
}

# processing_len($id): elements in the processing lists of $id's lanes
sub processing_len {
    my ($id) = @_;
    my $n = 0;
    $n += queue_cmd('LLEN', $_) for @{ processing_lists($id) };
    return $n;
}

# drained(@ids): the queue and the processing lists of every lane empty
sub drained {
    my (@ids) = @_;
    return 0 if queue_cmd('LLEN', 'track:events') != 0;
    for my $id (@ids) {
        return 0 if processing_len($id) != 0;
    }
    return 1;
}

# lane_state($dbh, $id, \@columns): consumer_state summed over $id's lanes
sub lane_state {
    my ($dbh, $id, $cols) = @_;
    (my $like = $id) =~ s/_/\\_/g;
    return db_rows($dbh, "SELECT " . join(', ', map { "SUM($_)" } @$cols)
                   . " FROM consumer_state WHERE consumer_id = ?"
                   . " OR consumer_id LIKE ?", $id, "$like/%")->[0];
}

# --- Redis Cluster shards (issue 13) -----------------------------------------

# shard_keys($port, $key): { key => master port } of every key naming $key
# (the shard lists of queue $key, their processing lists, seq keys and
# leases) on the masters of the cluster the node on $port is in
sub shard_keys {
    my ($port, $key) = @_;
    my %k;
    for my $m (keys %{ cluster_masters($port) }) {
        $k{$_} = $m for grep { length }
            split /\n/, redis_cli($m, '--raw', 'keys', "*$key*") // '';
    }
    return \%k;
}

# shard_owners($port, $key): { shard list => consumer id } from the leases
# (a lane's id without its "/k")
sub shard_owners {
    my ($port, $key) = @_;
    my $k = shard_keys($port, $key);
    my %o;
    for (grep { /:owner$/ } keys %$k) {
        my $v = redis_cli($k->{$_}, '--raw', 'get', $_) // '';
        (my $list = $_) =~ s/:owner$//;
        $o{$list} = $1 if $v =~ /^(\S+?)(?:\/\d+)? /;
    }
    return \%o;
}

# shards_drained($port, $key, $metrics_url): the shard lists of $key and
# their processing lists empty, and the nginx at $metrics_url has nothing
# spooled
sub shards_drained {
    my ($port, $key, $metrics) = @_;
    my $k = shard_keys($port, $key);
    for (grep { !/:(owner|seq)$/ && !/:spool:/ } keys %$k) {
        return 0 if redis_int($k->{$_}, 'llen', $_) != 0;
    }
    return metric($metrics, 'track_spool_bytes') == 0;
}

# --- events ------------------------------------------------------------------------

# zones without daylight saving time, so that SQL can check days and hours
my %zone_offset = ('UTC' => 0, 'Asia/Kolkata' => 19800);

# zone_offset(): seconds east of UTC of the consumers' default time zone
sub zone_offset {
    my $off = $zone_offset{ $defaults{timezone} };
    die "no fixed offset known for the zone $defaults{timezone}\n"
        unless defined $off;
    return $off;
}

# day_of($recv_ts): the day table's date (YYYYMMDD) of an event
sub day_of {
    my ($recv_ts) = @_;
    return strftime('%Y%m%d', gmtime(int($recv_ts / 1000) + zone_offset()));
}

# gen_events(n => N, seed => S, start => MS, span => MS, dup => RATE,
#            near => K, prefix => P): JSON texts in queue order; a share of
#            them repeat an earlier event exactly (a client retry with the
#            same eid), one of the last K when near is given.
sub gen_events {
    my (%o) = @_;
    srand($o{seed} || 1);
    my $start = $o{start} || 1732559400000 - 12 * 3600 * 1000; # Kolkata noon
    my $span = $o{span} || 36 * 3600 * 1000;                   # 2 midnights
    my @apps = ('shop', 'news', "caf\x{e9}");
    my @modules = ('home-feed', 'cart', 'search', 'detail');
    my @actions = ('click', 'view', 'add');
    my (@out, @sent);
    my $prefix = $o{prefix} || 'g';
    for my $i (1 .. $o{n}) {
        if (@sent && rand() < ($o{dup} || 0)) {
            # a resend of any earlier event, or of a recent one (near => K)
            my $k = $o{near} && $o{near} < @sent ? $o{near} : @sent;
            push @out, $sent[@sent - 1 - int(rand($k))];
            next;
        }
        my %e = (
            eid     => sprintf('%s%08d', $prefix, $i),
            recv_ts => $start + int(rand($span)),
            app     => $apps[int(rand(@apps))],
            module  => $modules[int(rand(@modules))],
            action  => $actions[int(rand(@actions))],
        );
        my $o = int(rand(60));
        $e{object} = "item-$o" if $o < 50;
        $e{object} = '' if $o == 50;
        my $u = int(rand(240));
        $e{uid} = "user$u" if $u < 200;
        $e{uid} = '' if $u == 200;
        $e{uid} = "User$u" if $u >= 230;          # distinct from userN
        $e{ts} = $e{recv_ts} - 5 if rand() < 0.5;
        $e{ip} = '127.0.0.1';
        $e{props} = { pos => int(rand(10)), q => "it's \"x\"" }
            if rand() < 0.3;
        push @out, encode_event(\%e);
        push @sent, $out[-1];
    }
    return \@out;
}

my @ORDER = qw(eid recv_ts app module action object uid ts ip ua referer
               props fields);
my $JSON = JSON::PP->new->utf8->canonical;

# encode_event(\%e): compact JSON with the documented key order
sub encode_event {
    my ($e) = @_;
    return '{' . join(',', map { $JSON->encode("$_") . ':'
                                 . $JSON->encode($e->{$_}) }
                           grep { exists $e->{$_} } @ORDER) . '}';
}

# valid_event($text): the decoded event when the consumer must store it
# (the documented required fields and limits), else undef
sub valid_event {
    my ($text) = @_;
    my $e = eval { $JSON->decode($text) };
    return undef unless ref $e eq 'HASH';
    my $blen = sub { my $v = shift; utf8::encode($v); length $v };
    return undef unless defined $e->{eid} && !ref $e->{eid}
        && $blen->($e->{eid}) >= 1 && $blen->($e->{eid}) <= 64;
    return undef unless $text =~ /"recv_ts":\d+[,}]/;
    for my $f (qw(app module action)) {
        return undef unless defined $e->{$f} && !ref $e->{$f}
            && $blen->($e->{$f}) >= 1 && $blen->($e->{$f}) <= 128;
    }
    return $e;
}

# --- checks ------------------------------------------------------------------------

# stored_once($dbh, \@json, $label): every event of the queue texts that the
# consumer must store is once in the day table of its day (in the default
# zone), nothing else is there; then stats_consistent
sub stored_once {
    my ($dbh, $events, $label) = @_;
    my %want;
    for my $text (@$events) {
        my $e = valid_event($text) or next;
        $want{ day_of($e->{recv_ts}) }{ $e->{eid} } = 1;
    }
    my $nwant = 0;
    $nwant += keys %{ $want{$_} } for keys %want;

    my (%got, $ngot, $bad_day);
    ($ngot, $bad_day) = (0, 0);
    for my $t (@{ day_tables($dbh) }) {
        my ($day) = $t =~ /^events_(\d{8})$/ or next;
        for my $row (@{ db_rows($dbh, "SELECT eid, recv_ts FROM `$t`") }) {
            $got{$day}{ $row->[0] }++;
            $ngot++;
            $bad_day++ if day_of($row->[1]) ne $day;
        }
    }
    my ($missing, $extra, $twice) = (0, 0, 0);
    for my $day (keys %want) {
        $missing += grep { !$got{$day}{$_} } keys %{ $want{$day} };
    }
    for my $day (keys %got) {
        $extra += grep { !$want{$day}{$_} } keys %{ $got{$day} };
        $twice += grep { $got{$day}{$_} > 1 } keys %{ $got{$day} };
    }
    Test::More::is("$ngot rows, $missing missing, $extra unexpected, $twice "
                   . "twice, $bad_day in a wrong day table",
                   "$nwant rows, 0 missing, 0 unexpected, 0 twice, 0 in a "
                   . "wrong day table",
                   "$label: every event exactly once in its day table");
    stats_consistent($dbh, $label);
}

# the eids answered 2xx
sub accepted {
    my ($sent) = @_;
    return [grep { $sent->{$_} =~ /^2\d\d$/ } keys %$sent];
}

# -> { eid => rows } over every day table
sub db_eids {
    my ($dbh) = @_;
    my %n;
    for my $t (@{ day_tables($dbh) }) {
        $n{$_}++ for @{ $dbh->selectcol_arrayref("SELECT eid FROM `$t`") };
    }
    return \%n;
}

# exactly_once($dbh, \%sent, $label): every event answered 2xx is in a day
# table, none twice, and nothing is there that was not sent (an event whose
# request failed may be there once: a 503 or a client timeout promises
# nothing either way)
sub exactly_once {
    my ($dbh, $sent, $label) = @_;
    my $got = db_eids($dbh);
    my $ok = accepted($sent);
    my @missing = grep { !$got->{$_} } @$ok;
    my @twice = grep { $got->{$_} > 1 } keys %$got;
    my @foreign = grep { !exists $sent->{$_} } keys %$got;
    my $some = sub { my @l = @_; "@l[0 .. ($#l < 9 ? $#l : 9)]" };
    Test::More::is(scalar @missing, 0, "$label: all " . scalar(@$ok)
                   . ' accepted events are in MariaDB')
        or Test::More::diag('missing: ' . $some->(@missing));
    Test::More::is(scalar @twice, 0, "$label: none of them twice")
        or Test::More::diag('twice: ' . $some->(@twice));
    Test::More::is(scalar @foreign, 0,
                   "$label: nothing that was not sent")
        or Test::More::diag('not sent: ' . $some->(@foreign));
    return !@missing && !@twice && !@foreign;
}

# rollup_done($dbh, $secs): waits until the consumers' roll-up has counted
# every committed row into the statistics (stats_pending is empty); true
# when it did within $secs (30).
sub rollup_done {
    my ($dbh, $secs) = @_;
    return wait_for($secs // 30, sub {
        !$dbh->selectrow_array('SELECT COUNT(*) FROM stats_pending') });
}

# stats_consistent($dbh, $label): once the roll-up has caught up (nothing
# pending), every statistics table equals SQL over the raw day tables,
# hours and days in the consumers' default zone, and the user memberships
# agree with the user counts (five checks)
sub stats_consistent {
    my ($dbh, $label) = @_;
    my $off = zone_offset();
    Test::More::ok(rollup_done($dbh),
                   "$label: the roll-up counted every committed row")
        or Test::More::diag('still pending: ' . $dbh->selectrow_array(
            'SELECT COUNT(*) FROM stats_pending') . ' ranges');
    my $rows = sub {
        my ($sql) = @_;
        return [map { join("\t", map { $_ // 'NULL' } @$_) }
                @{ $dbh->selectall_arrayref($sql) }];
    };
    my (@hourly, @daily, @users);
    for my $t (@{ day_tables($dbh) }) {
        my ($y, $m, $d) = $t =~ /^events_(\d{4})(\d{2})(\d{2})$/ or next;
        my $day = "'$y-$m-$d'";
        push @hourly, @{ $rows->(
            "SELECT $day, FLOOR(MOD(recv_ts DIV 1000 + $off, 86400) / 3600) h,"
            . " app, module, action, COALESCE(object, '') o, COUNT(*)"
            . " FROM `$t` GROUP BY h, app, module, action, o") };
        push @daily, @{ $rows->(
            "SELECT $day, app, module, action, COALESCE(object, '') o,"
            . " COUNT(*) FROM `$t` GROUP BY app, module, action, o") };
        push @users, @{ $rows->(
            "SELECT $day, app, module, action, COUNT(DISTINCT uid) FROM `$t`"
            . " WHERE uid IS NOT NULL AND uid <> ''"
            . " GROUP BY app, module, action") };
    }
    my $daily_users = $rows->('SELECT day, app, module, action, users'
                              . ' FROM stats_daily_users');
    my @cmp = (
        [ 'stats_hourly equals the raw tables', \@hourly,
          $rows->('SELECT day, hour, app, module, action, object, events'
                  . ' FROM stats_hourly JOIN stats_actions ON id = action_id')
        ],
        [ 'stats_daily equals the raw tables', \@daily,
          $rows->('SELECT day, app, module, action, object, events'
                  . ' FROM stats_daily JOIN stats_actions ON id = action_id')
        ],
        [ 'stats_daily_users equals COUNT(DISTINCT uid)', \@users,
          $daily_users ],
        [ 'stats_user_seen agrees with stats_daily_users', $daily_users,
          $rows->('SELECT day, app, module, action, COUNT(*)'
                  . ' FROM stats_user_seen JOIN stats_actions'
                  . ' ON id = action_id GROUP BY day, app, module,'
                  . ' action') ],
    );
    for my $c (@cmp) {
        my ($what, $want, $got) = @$c;
        my %w = map { $_ => 1 } @$want;
        my %g = map { $_ => 1 } @$got;
        my @only_stats = grep { !$w{$_} } sort @$got;
        my @only_raw = grep { !$g{$_} } sort @$want;
        Test::More::ok(@$got == @$want && !@only_stats && !@only_raw,
                       "$label: $what (" . scalar(@$got) . ' rows)')
            or Test::More::diag("only in the statistics: "
                                . join(' | ', splice(@only_stats, 0, 5))
                                . "\nonly in the raw tables: "
                                . join(' | ', splice(@only_raw, 0, 5)));
    }
}


# --- supervised lanes (issue 16) ----------------------------------------

# lane_pids($c or $log_text): { lane => pid } of the latest start of each lane a
# track-consumer supervisor logged
sub lane_pids {
    my ($text) = @_;
    $text = consumer_log($text) if ref $text;
    my %p = ($text // '') =~ /lanes: lane (\d+) of consumer "[^"]*" is pid (\d+)/g;
    return \%p;
}

# processing_total($port, $id): elements in the processing lists of the
# lanes of consumer $id (id, id/1, ... id/15)
sub processing_total {
    my ($port, $id) = @_;
    my $n = 0;
    for my $k (0 .. 15) {
        my $l = TrackTest::Services::redis_int($port, 'llen', 'track:processing:'
                                         . ($k ? "$id/$k" : $id));
        $n += $l if $l > 0;
    }
    return $n;
}

1;
