# Shared by the track-consumer integration tests (t/integration/consumer-*.pl,
# run by consumer-run.sh): a small Redis client, consumer processes, a
# database per test, an event generator, and the exactly-once check (every
# event stored once in the right day table, statistics equal to what the raw
# tables say).  Everything is bytes: JSON texts are UTF-8 byte strings.
use strict;
use warnings;

use DBI;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime WNOHANG);
use Time::HiRes qw(sleep time);

our ($PASSED, $FAILED) = (0, 0);
our $JSON = JSON::PP->new->utf8->canonical;
our $BIN = $ENV{TC_BIN} or die "TC_BIN is not set (run consumer-run.sh)\n";
our $SCRATCH = $ENV{TC_SCRATCH};
our $TZ = 'Asia/Kolkata';       # +05:30 all year: verifiable by SQL
our $TZ_OFF = 19800;
our ($ROOT_PW, $WRITER_PW, $SOCK);

$| = 1;

# --- tally -----------------------------------------------------------------

sub ok {
    my ($cond, $name) = @_;
    if ($cond) {
        $PASSED++;
        print "ok - $name\n";
    } else {
        $FAILED++;
        print "not ok - $name\n";
    }
    return $cond;
}

sub is_eq {
    my ($got, $want, $name) = @_;
    $got = defined $got ? $got : 'undef';
    $want = defined $want ? $want : 'undef';
    ok($got eq $want, $name) or do {
        print "#   got:  " . substr($got, 0, 500) . "\n";
        print "#   want: " . substr($want, 0, 500) . "\n";
    };
}

sub done {
    print "$PASSED passed, $FAILED failed\n";
    if ($ENV{TC_COUNTS}) {
        open my $f, '>>', $ENV{TC_COUNTS} or die "$ENV{TC_COUNTS}: $!";
        print $f "$PASSED $FAILED\n";
        close $f;
    }
    exit($FAILED ? 1 : 0);
}

# wait_for SECONDS, NAME, CODE: polls CODE every 20 ms until it is true.
sub wait_for {
    my ($secs, $code) = @_;
    my $end = time + $secs;
    while (time < $end) {
        return 1 if $code->();
        sleep 0.02;
    }
    return $code->() ? 1 : 0;
}

# --- redis -----------------------------------------------------------------

my %redis;      # port -> socket

sub redis_port { return $ENV{TC_REDIS_PORT} }

sub redis_reply {
    my ($s) = @_;
    local $/ = "\r\n";
    my $line = <$s>;
    die "redis: connection closed\n" unless defined $line;
    chomp $line;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    die "redis error: $v\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length($buf));
            die "redis: short read\n" unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [map { redis_reply($s) } 1 .. $v];
    }
    die "redis: bad reply '$line'\n";
}

# r(CMD, ARGS...): one command on the test Redis (or on $port with rp()).
sub rp {
    my ($port, @args) = @_;
    my $s = $redis{$port} ||= IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "redis $port: $!\n";
    my $cmd = '*' . scalar(@args) . "\r\n";
    $cmd .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print $s $cmd;
    my $r = eval { redis_reply($s) };
    if ($@) {
        delete $redis{$port};
        die $@;
    }
    return $r;
}

sub r { return rp(redis_port(), @_) }

sub redis_forget { %redis = () }

# push_events(\@json, [key, port]): RPUSH in chunks, like the module.
sub push_events {
    my ($events, $key, $port) = @_;
    $key ||= 'track:events';
    $port ||= redis_port();
    for (my $i = 0; $i < @$events; $i += 500) {
        my $j = $i + 499 < $#$events ? $i + 499 : $#$events;
        rp($port, 'RPUSH', $key, @{$events}[$i .. $j]);
    }
}

# --- mysql -----------------------------------------------------------------

sub slurp {
    my ($file) = @_;
    open my $f, '<', $file or die "$file: $!";
    local $/;
    return <$f>;
}

sub mysql_init {
    my $dir = $ENV{TC_MARIADB_DIR} or die "TC_MARIADB_DIR is not set\n";
    ($ROOT_PW) = slurp("$dir/root.cnf") =~ /^password=(.*)$/m;
    ($WRITER_PW) = slurp("$dir/env") =~ /^MYSQL_PASSWORD=(.*)$/m;
    ($SOCK) = slurp("$dir/env") =~ /^MYSQL_SOCKET=(.*)$/m;
}

sub root_dbh {
    my ($db) = @_;
    mysql_init() unless $SOCK;
    my $dsn = "DBI:MariaDB:mariadb_socket=$SOCK" . ($db ? ";database=$db" : '');
    my $dbh = DBI->connect($dsn, 'root', $ROOT_PW,
                           { RaiseError => 1, PrintError => 0,
                             AutoCommit => 1 });
    $dbh->do("SET time_zone = '+00:00'");
    return $dbh;
}

# new_db(NAME): a fresh database the consumer's user may write.
sub new_db {
    my ($name) = @_;
    my $dbh = root_dbh();
    $dbh->do("DROP DATABASE IF EXISTS `$name`");
    $dbh->do("CREATE DATABASE `$name` CHARACTER SET utf8mb4");
    $dbh->do("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, "
             . "ALTER ON `$name`.* TO 'track_writer'\@'localhost', "
             . "'track_writer'\@'127.0.0.1'");
    $dbh->disconnect;
    return root_dbh($name);
}

sub rows {
    my ($dbh, $sql, @bind) = @_;
    return $dbh->selectall_arrayref($sql, undef, @bind);
}

sub day_tables {
    my ($dbh) = @_;
    return [map { $_->[0] } @{rows($dbh, "SHOW TABLES LIKE 'events\\_%'")}];
}

# --- consumer processes ----------------------------------------------------

my $serial = 0;

# start_consumer(db => NAME, id => ID, lanes => N, args => [...],
# env => {...}): returns { pid, log }.  One lane unless lanes is given: the
# tests that follow one processing list step by step see it whole; the
# lane tests (crash, concurrent, lanes) run several.
sub start_consumer {
    my (%o) = @_;
    mysql_init() unless $SOCK;
    my $id = $o{id} || 'c1';
    my $log = $o{log} || "$SCRATCH/consumer-$id-" . (++$serial) . '.log';
    my $conf = "$SCRATCH/consumer-$id.conf";
    open my $f, '>', $conf or die "$conf: $!";
    print $f "# written by consumer-lib.pl\n",
             "id = $id\n",
             "redis_port = ", ($o{redis_port} || redis_port()), "\n",
             "mysql_socket = $SOCK\n",
             "mysql_password = $WRITER_PW\n",
             "mysql_database = $o{db}\n",
             "timezone = $TZ\n",
             "log_file = $log\n",
             "log_level = ", ($o{level} || 'info'), "\n",
             "backoff_min_ms = 20\n",
             "backoff_max_ms = 500\n",
             "block_ms = 200\n",
             "lanes = ", ($o{lanes} || 1), "\n";
    close $f;
    my @cmd = ($BIN, '--config', $conf, @{$o{args} || []});
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        %ENV = (%ENV, %{$o{env} || {}});
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$log.out";
        open STDERR, '>>', "$log.out";
        exec @cmd or die "exec $BIN: $!";
    }
    return { pid => $pid, log => $log, id => $id };
}

# stop(C, SIGNAL, SECONDS): signals and reaps; returns the wait status or
# undef when it did not exit in time (then it is killed).
sub stop {
    my ($c, $sig, $secs) = @_;
    kill $sig, $c->{pid};
    return reap($c, $secs || 20);
}

sub reap {
    my ($c, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        my $r = waitpid($c->{pid}, WNOHANG);
        return $? if $r == $c->{pid};
        sleep 0.01;
    }
    kill 'KILL', $c->{pid};
    waitpid($c->{pid}, 0);
    return undef;
}

sub alive { return waitpid($_[0]{pid}, WNOHANG) == 0 }

sub log_text {
    my ($c) = @_;
    return -f $c->{log} ? slurp($c->{log}) : '';
}

# processing_lists(ID): the processing lists of every lane of ID (ID,
# ID/1, ID/2...) that exist.
sub processing_lists {
    my ($id) = @_;
    return [grep { !/:seq$/ } "track:processing:$id",
            @{r('KEYS', "track:processing:$id/*") || []}];
}

# processing_len(ID): elements in the processing lists of ID's lanes.
sub processing_len {
    my ($id) = @_;
    my $n = 0;
    $n += r('LLEN', $_) for @{processing_lists($id)};
    return $n;
}

# drained(IDS...): queue and processing lists (of every lane) empty.
sub drained {
    my (@ids) = @_;
    return 0 if r('LLEN', 'track:events') != 0;
    for my $id (@ids) {
        return 0 if processing_len($id) != 0;
    }
    return 1;
}

# lane_state(DBH, ID, COLUMNS): consumer_state summed over ID's lanes.
sub lane_state {
    my ($dbh, $id, $cols) = @_;
    (my $like = $id) =~ s/_/\\_/g;
    return rows($dbh, "SELECT " . join(', ', map { "SUM($_)" } @$cols)
                . " FROM consumer_state WHERE consumer_id = ?"
                . " OR consumer_id LIKE ?", $id, "$like/%")->[0];
}

# --- events ----------------------------------------------------------------

sub day_of {
    my ($recv_ts) = @_;
    return strftime('%Y%m%d', gmtime(int($recv_ts / 1000) + $TZ_OFF));
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

# encode_event(\%e): compact JSON with the README's key order.
sub encode_event {
    my ($e) = @_;
    my $j = JSON::PP->new->utf8->canonical;
    return '{' . join(',', map { $j->encode("$_") . ':' . $j->encode($e->{$_}) }
                           grep { exists $e->{$_} } @ORDER) . '}';
}

# --- the exactly-once check ------------------------------------------------

# valid_event(TEXT): the decoded event when the consumer must store it (the
# README's required fields and limits), else undef.
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

# verify(DBH, \@json, LABEL): every decodable event once, in its day table;
# statistics equal to the raw tables.
sub verify {
    my ($dbh, $events, $label) = @_;
    my (%want, %first);
    for my $text (@$events) {
        my $e = valid_event($text) or next;
        my $day = day_of($e->{recv_ts});
        $want{$day}{$e->{eid}} = 1;
    }
    my $nwant = 0;
    $nwant += keys %{$want{$_}} for keys %want;

    my %got;
    my $ngot = 0;
    my $bad_day = 0;
    for my $t (@{day_tables($dbh)}) {
        my ($day) = $t =~ /^events_(\d{8})$/ or next;
        for my $row (@{rows($dbh, "SELECT eid, recv_ts FROM `$t`")}) {
            $got{$day}{$row->[0]}++;
            $ngot++;
            $bad_day++ if day_of($row->[1]) ne $day;
        }
    }

    my ($missing, $extra, $twice) = (0, 0, 0);
    for my $day (keys %want) {
        for my $eid (keys %{$want{$day}}) {
            $missing++ unless $got{$day}{$eid};
        }
    }
    for my $day (keys %got) {
        for my $eid (keys %{$got{$day}}) {
            $extra++ unless $want{$day}{$eid};
            $twice++ if $got{$day}{$eid} > 1;
        }
    }
    is_eq("$ngot rows, $missing missing, $extra unexpected, $twice twice, "
          . "$bad_day in a wrong day table",
          "$nwant rows, 0 missing, 0 unexpected, 0 twice, 0 in a wrong day "
          . "table", "$label: every event exactly once in its day table");

    stats_match($dbh, $label);
}

# rollup_done(DBH, SECONDS): waits until the roll-up has counted every
# committed row (stats_pending is empty); true when it did in time.
sub rollup_done {
    my ($dbh, $secs) = @_;
    return wait_for($secs // 30, sub {
        !$dbh->selectrow_array("SELECT COUNT(*) FROM stats_pending") });
}

# stats_match(DBH, LABEL): once the roll-up has caught up, the statistics
# tables against the raw tables.
sub stats_match {
    my ($dbh, $label) = @_;
    my (@hourly, @daily, @users);
    ok(rollup_done($dbh), "$label: the roll-up counted every committed row")
        or print "#   still pending: " . $dbh->selectrow_array(
            "SELECT COUNT(*) FROM stats_pending") . " ranges\n";
    for my $t (@{day_tables($dbh)}) {
        my ($d) = $t =~ /^events_(\d{4})(\d{2})(\d{2})$/ or next;
        my $day = "$1-$2-$3";
        push @hourly, map { join("\t", $day, @$_) } @{rows($dbh,
            "SELECT FLOOR(MOD(recv_ts DIV 1000 + $TZ_OFF, 86400) / 3600) h,"
            . " app, module, action, COALESCE(object, '') o, COUNT(*)"
            . " FROM `$t` GROUP BY h, app, module, action, o")};
        push @daily, map { join("\t", $day, @$_) } @{rows($dbh,
            "SELECT app, module, action, COALESCE(object, '') o, COUNT(*)"
            . " FROM `$t` GROUP BY app, module, action, o")};
        push @users, map { join("\t", $day, @$_) } @{rows($dbh,
            "SELECT app, module, action, COUNT(DISTINCT uid) FROM `$t`"
            . " WHERE uid IS NOT NULL AND uid <> ''"
            . " GROUP BY app, module, action")};
    }
    my @sh = map { join("\t", @$_) } @{rows($dbh,
        "SELECT day, hour, app, module, action, object, events"
        . " FROM stats_hourly")};
    my @sd = map { join("\t", @$_) } @{rows($dbh,
        "SELECT day, app, module, action, object, events FROM stats_daily")};
    my @su = map { join("\t", @$_) } @{rows($dbh,
        "SELECT day, app, module, action, users FROM stats_daily_users")};
    my @seen = map { join("\t", @$_) } @{rows($dbh,
        "SELECT day, app, module, action, COUNT(*) FROM stats_user_seen"
        . " GROUP BY day, app, module, action")};

    my $cmp = sub {
        my ($a, $b, $what) = @_;
        my @a = sort @$a;
        my @b = sort @$b;
        my $same = "@a" eq "@b";
        ok($same, "$label: $what (" . scalar(@a) . " rows)") or do {
            my %b = map { $_ => 1 } @b;
            my %a = map { $_ => 1 } @a;
            print "#   only in statistics: $_\n"
                for (grep { !$b{$_} } @a)[0 .. 4];
            print "#   only in raw tables: $_\n"
                for (grep { !$a{$_} } @b)[0 .. 4];
        };
    };
    $cmp->(\@sh, \@hourly, 'stats_hourly equals the raw tables');
    $cmp->(\@sd, \@daily, 'stats_daily equals the raw tables');
    $cmp->(\@su, \@users, 'stats_daily_users equals COUNT(DISTINCT uid)');
    $cmp->(\@seen, \@su, 'stats_user_seen agrees with stats_daily_users');
}

1;
