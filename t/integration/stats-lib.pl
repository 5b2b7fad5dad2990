# Shared by the track-stats integration tests (t/integration/stats-*.t):
# throwaway services through scripts/lib/services.sh, an HTTP client, the
# expected answer of every endpoint computed from the raw day tables, and a
# pass/fail tally that ends with "N passed, N failed".
use strict;
use warnings;
use utf8;

use Cwd qw(abs_path);
use DBI;
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(strftime WNOHANG);
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our ($PASSED, $FAILED) = (0, 0);
our $JSON = JSON::PP->new->utf8->canonical;

binmode STDOUT, ':utf8';
binmode STDERR, ':utf8';
$| = 1;

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
    my $g = defined $got ? (ref $got ? $JSON->encode($got) : $got) : 'undef';
    my $w = defined $want ? (ref $want ? $JSON->encode($want) : $want)
                          : 'undef';
    ok($g eq $w, $name) or do {
        print "#   got:  " . substr($g, 0, 2000) . "\n";
        print "#   want: " . substr($w, 0, 2000) . "\n";
    };
}

sub summary {
    # a TAP plan for prove, then the tally the harnesses read
    print "1.." . ($PASSED + $FAILED) . "\n";
    print "$PASSED passed, $FAILED failed\n";
    return $FAILED == 0 && $PASSED > 0 ? 0 : 1;
}

# --- services -----------------------------------------------------------

sub sh {
    my ($cmd) = @_;
    return system('bash', '-c',
                  ". '$ROOT/scripts/lib/services.sh'; set -e; $cmd") == 0;
}

sub free_port {
    my $p = `bash -c ". '$ROOT/scripts/lib/services.sh'; free_port"`;
    chomp $p;
    return $p;
}

sub read_env_file {
    my ($file) = @_;
    my %env;
    open my $fh, '<', $file or die "$file: $!";
    while (<$fh>) {
        chomp;
        $env{$1} = $2 if /^(\w+)=(.*)$/;
    }
    return \%env;
}

# start_db(DIR[, UTC_OFFSET]): a private mariadbd with the schema; returns a
# hash with the reader's credentials and a root DBI handle whose session time
# zone is UTC_OFFSET (default +00:00), the offset of the consumer's zone.
sub start_db {
    my ($dir, $offset) = @_;
    $offset //= '+00:00';
    my $port = free_port();
    # its own tmpdir: nobody else's clean-up of /tmp can pull a temporary
    # table from under a query
    make_path("$dir/tmp");
    sh("start_mariadb '$dir' $port --tmpdir='$dir/tmp'")
        or die "start_mariadb failed";
    my $env = read_env_file("$dir/env");
    my $cnf = read_env_file("$dir/root.cnf");
    my $dbh = DBI->connect(
        "DBI:MariaDB:database=track;mariadb_socket=$env->{MYSQL_SOCKET}",
        'root', $cnf->{password},
        { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
    $dbh->do("SET time_zone = '$offset'");
    return { dir => $dir, port => $port, env => $env, dbh => $dbh,
             root_password => $cnf->{password} };
}

# start_stats(%opt): runs track-stats on a free port with the reader's
# credentials; stderr and stdout go to LOG.  Returns { pid, url, log }.
sub start_stats {
    my (%o) = @_;
    my $bin = $ENV{STATS_BIN} || "$ROOT/consumer/build/release/track-stats";
    my $port = free_port();
    my $db = $o{db};
    my @args = ("--listen", "127.0.0.1:$port",
                "--mysql-host", "localhost",
                "--mysql-socket", $db->{env}{MYSQL_SOCKET},
                "--mysql-user", $db->{env}{MYSQL_READER_USER},
                "--timezone", $o{timezone} || "UTC",
                "--pid-file", $o{pid_file},
                @{ $o{args} || [] });
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $o{log} or die;
        open STDERR, '>&', \*STDOUT or die;
        $ENV{TRACK_STATS_MYSQL_PASSWORD} = $db->{env}{MYSQL_READER_PASSWORD};
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} || {} };
        exec $bin, @args or die "exec $bin: $!";
    }
    my $s = { pid => $pid, url => "http://127.0.0.1:$port", log => $o{log},
              port => $port };
    my $deadline = time + 10;
    while (time < $deadline) {
        my $r = http_get($s, '/stats/v1/health');
        return $s if $r->{status} == 200 || $r->{status} == 503;
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    die "track-stats did not start; see $o{log}";
}

# stop_stats(S): SIGTERM, returns the exit status (undef if it hung).
sub stop_stats {
    my ($s) = @_;
    return undef unless $s->{pid};
    kill 'TERM', $s->{pid};
    my $deadline = time + 10;
    while (time < $deadline) {
        if (waitpid($s->{pid}, WNOHANG) == $s->{pid}) {
            delete $s->{pid};
            return $?;
        }
        sleep 0.02;
    }
    kill 'KILL', $s->{pid};
    waitpid($s->{pid}, 0);
    delete $s->{pid};
    return undef;
}

# Sanitizer reports in a log of an ASan/UBSan build.
sub sanitizer_reports {
    my ($log) = @_;
    open my $fh, '<', $log or return 0;
    my $n = grep { /ERROR: (Address|Leak)Sanitizer|runtime error:/ } <$fh>;
    return $n;
}

# --- HTTP ---------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 20, keep_alive => 1);

sub http_req {
    my ($s, $method, $path, $headers) = @_;
    my $r = $http->request($method, $s->{url} . $path,
                           { headers => $headers || {} });
    $r->{content} //= '';
    $r->{status} += 0;
    if ($r->{content} ne '' && ($r->{headers}{'content-type'} || '')
        =~ m{^application/json})
    {
        $r->{json} = eval { $JSON->decode($r->{content}) };
    }
    return $r;
}

sub http_get { http_req($_[0], 'GET', $_[1], $_[2]) }

sub qs {
    my (@kv) = @_;
    my @p;
    while (@kv) {
        my ($k, $v) = splice @kv, 0, 2;
        next unless defined $v;
        my $e = $v;
        utf8::encode($e) if utf8::is_utf8($e);
        $e =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
        push @p, "$k=$e";
    }
    return join '&', @p;
}

# --- days ---------------------------------------------------------------

sub day_to_epoch {
    my ($d) = @_;
    my ($y, $m, $dd) = split /-/, $d;
    return timegm(0, 0, 0, $dd, $m - 1, $y);
}

sub epoch_to_day { strftime('%Y-%m-%d', gmtime $_[0]) }

sub day_range {
    my ($from, $to) = @_;
    my @d;
    for (my $t = day_to_epoch($from); $t <= day_to_epoch($to); $t += 86400) {
        push @d, epoch_to_day($t);
    }
    return @d;
}

sub table_of { my $d = shift; $d =~ s/-//g; "events_$d" }

# --- expected answers from the raw day tables ---------------------------

# The raw events of the day tables from..to as one derived table with the
# columns day, hour (of recv_ts in the session time zone, which is the
# consumer's), app, module, action, object ('' for none), uid (NULL for none).
sub raw_union {
    my ($dbh, $from, $to) = @_;
    my %have = map { $_ => 1 }
        @{ $dbh->selectcol_arrayref("SHOW TABLES LIKE 'events\\_%'") };
    my @parts;
    for my $d (day_range($from, $to)) {
        my $t = table_of($d);
        next unless $have{$t};
        push @parts, "SELECT DATE '$d' AS day,"
            . " HOUR(FROM_UNIXTIME(recv_ts DIV 1000)) AS hour,"
            . " app, module, action, COALESCE(object, '') AS object,"
            . " NULLIF(uid, '') AS uid FROM `$t`";
    }
    push @parts, "SELECT DATE '1970-01-01' AS day, 0 AS hour, '' AS app,"
        . " '' AS module, '' AS action, '' AS object, NULL AS uid"
        . " FROM DUAL WHERE 0" unless @parts;
    return '(' . join(' UNION ALL ', @parts) . ')';
}

sub filter_sql {
    my ($f) = @_;
    my (@w, @b);
    for my $k (qw(app module action object)) {
        next unless defined $f->{$k};
        push @w, "$k = ?";
        push @b, $f->{$k};
    }
    return (join(' AND ', @w), @b);
}

sub expected_series {
    my ($dbh, $f, $from, $to, $hourly) = @_;
    my ($fd, $fh) = $from =~ /^(\d{4}-\d\d-\d\d)(?:T(\d\d))?$/;
    my ($td, $th) = $to =~ /^(\d{4}-\d\d-\d\d)(?:T(\d\d))?$/;
    $fh //= 0;
    $th //= 23;
    my ($w, @b) = filter_sql($f);
    my $raw = raw_union($dbh, $fd, $td);
    my %n;
    if ($hourly) {
        my $rows = $dbh->selectall_arrayref(
            "SELECT day, hour, COUNT(*) FROM $raw AS r WHERE $w"
            . " GROUP BY day, hour", undef, @b);
        $n{ sprintf('%sT%02d', $_->[0], $_->[1]) } = $_->[2] for @$rows;
    } else {
        my $rows = $dbh->selectall_arrayref(
            "SELECT day, COUNT(*) FROM $raw AS r WHERE $w GROUP BY day",
            undef, @b);
        $n{ $_->[0] } = $_->[1] for @$rows;
    }
    my (@points, $total);
    $total = 0;
    for my $d (day_range($fd, $td)) {
        if ($hourly) {
            for my $h (0 .. 23) {
                next if $d eq $fd && $h < $fh;
                next if $d eq $td && $h > $th;
                my $t = sprintf('%sT%02d', $d, $h);
                push @points, { t => $t, events => 0 + ($n{$t} || 0) };
                $total += $n{$t} || 0;
            }
        } else {
            push @points, { t => $d, events => 0 + ($n{$d} || 0) };
            $total += $n{$d} || 0;
        }
    }
    my %o = (map({ defined $f->{$_} ? ($_ => $f->{$_}) : () }
                 qw(app module action object)),
             interval => $hourly ? 'hour' : 'day',
             from => $hourly ? sprintf('%sT%02d', $fd, $fh) : $fd,
             to => $hourly ? sprintf('%sT%02d', $td, $th) : $td,
             total => $total, points => \@points);
    return \%o;
}

sub expected_top {
    my ($dbh, $f, $from, $to, $limit) = @_;
    my ($w, @b) = filter_sql($f);
    my $raw = raw_union($dbh, $from, $to);
    my $rows = $dbh->selectall_arrayref(
        "SELECT object, COUNT(*) AS n FROM $raw AS r WHERE $w AND object <> ''"
        . " GROUP BY object ORDER BY n DESC, object DESC LIMIT $limit",
        undef, @b);
    return { %$f, from => $from, to => $to, limit => 0 + $limit,
             objects => [ map { { object => $_->[0], events => 0 + $_->[1] } }
                          @$rows ] };
}

sub expected_users {
    my ($dbh, $f, $from, $to) = @_;
    my ($w, @b) = filter_sql($f);
    my $raw = raw_union($dbh, $from, $to);
    my %n = map { $_->[0] => $_->[1] } @{ $dbh->selectall_arrayref(
        "SELECT day, COUNT(DISTINCT uid) FROM $raw AS r WHERE $w"
        . " AND uid IS NOT NULL GROUP BY day", undef, @b) };
    return { %$f, from => $from, to => $to,
             points => [ map { { t => $_, users => 0 + ($n{$_} || 0) } }
                         day_range($from, $to) ] };
}

sub expected_breakdown {
    my ($dbh, $app, $day) = @_;
    my $raw = raw_union($dbh, $day, $day);
    my $rows = $dbh->selectall_arrayref(
        "SELECT module, action, COUNT(*), COUNT(DISTINCT NULLIF(object, '')),"
        . " COUNT(DISTINCT uid) FROM $raw AS r WHERE app = ?"
        . " GROUP BY module, action ORDER BY module, action", undef, $app);
    my (@modules, $total);
    $total = 0;
    for my $r (@$rows) {
        if (!@modules || $modules[-1]{module} ne $r->[0]) {
            push @modules, { module => $r->[0], events => 0, actions => [] };
        }
        push @{ $modules[-1]{actions} }, { action => $r->[1],
            events => 0 + $r->[2], objects => 0 + $r->[3],
            users => 0 + $r->[4] };
        $modules[-1]{events} += $r->[2];
        $total += $r->[2];
    }
    return { app => $app, day => $day, events => $total,
             modules => \@modules };
}

# Every (app, module, action) and the most frequent object of it in the
# raw tables of from..to.
sub combos {
    my ($dbh, $from, $to) = @_;
    my $raw = raw_union($dbh, $from, $to);
    return $dbh->selectall_arrayref(
        "SELECT app, module, action, COUNT(*) AS n,"
        . " (SELECT object FROM $raw AS r2 WHERE r2.app = r.app"
        . " AND r2.module = r.module AND r2.action = r.action"
        . " AND r2.object <> '' GROUP BY object"
        . " ORDER BY COUNT(*) DESC, object LIMIT 1) AS top"
        . " FROM $raw AS r GROUP BY app, module, action"
        . " ORDER BY app, module, action", { Slice => {} });
}

# Queries every endpoint for the data in from..to and compares each answer
# with the raw tables.  Returns nothing; records passes and failures.
sub check_all_endpoints {
    my ($s, $dbh, $from, $to) = @_;
    my @days = day_range($from, $to);
    my $combos = combos($dbh, $from, $to);
    my %apps = map { $_->{app} => 1 } @$combos;
    my %app_module;
    $app_module{"$_->{app}\0$_->{module}"} = $_ for @$combos;

    ok(@$combos > 0, "there are events to compare with ($from .. $to)");

    my @filters;
    push @filters, { app => $_ } for sort keys %apps;
    push @filters, { app => $_->{app}, module => $_->{module} }
        for values %app_module;
    for my $c (@$combos) {
        push @filters, { app => $c->{app}, module => $c->{module},
                         action => $c->{action} };
        push @filters, { app => $c->{app}, module => $c->{module},
                         action => $c->{action}, object => $c->{top} }
            if defined $c->{top};
        push @filters, { app => $c->{app}, module => $c->{module},
                         action => $c->{action}, object => '' };
    }
    push @filters, { app => $combos->[0]{app},
                     action => $combos->[0]{action} };
    push @filters, { app => 'no-such-app' };

    my $dfrom = epoch_to_day(day_to_epoch($from) - 86400);
    my $dto = epoch_to_day(day_to_epoch($to) + 86400);

    for my $f (@filters) {
        my $name = join ',', map { "$_=$f->{$_}" }
            grep { defined $f->{$_} } qw(app module action object);

        my $r = http_get($s, '/stats/v1/series?' . qs(%$f, from => $dfrom,
                                                        to => $dto));
        is_eq($r->{json}, expected_series($dbh, $f, $dfrom, $dto, 0),
              "series by day [$name]");

        my ($hf, $ht) = ("${from}T20", epoch_to_day(day_to_epoch($from)
                                                    + 86400) . "T03");
        $r = http_get($s, '/stats/v1/series?' . qs(%$f, from => $hf,
                                                    to => $ht,
                                                    interval => 'hour'));
        is_eq($r->{json}, expected_series($dbh, $f, $hf, $ht, 1),
              "series by hour across midnight [$name]");
    }

    for my $d (@days) {
        my $r = http_get($s, '/stats/v1/series?' . qs(app => $combos->[0]{app},
                                                    day => $d,
                                                    interval => 'hour'));
        is_eq($r->{json}, expected_series($dbh, { app => $combos->[0]{app} },
                                          "${d}T00", "${d}T23", 1),
              "series of one day by hour ($d)");
    }

    for my $c (@$combos) {
        my $f = { app => $c->{app}, module => $c->{module},
                  action => $c->{action} };
        my $name = "$c->{app}/$c->{module}/$c->{action}";
        for my $d (@days) {
            my $r = http_get($s, '/stats/v1/top?' . qs(%$f, day => $d,
                                                        limit => 5));
            is_eq($r->{json}, expected_top($dbh, $f, $d, $d, 5),
                  "top 5 on $d [$name]");
        }
        my $r = http_get($s, '/stats/v1/top?' . qs(%$f, from => $from,
                                                    to => $to));
        is_eq($r->{json}, expected_top($dbh, $f, $from, $to, 10),
              "top 10 over $from..$to [$name]");
        $r = http_get($s, '/stats/v1/top?' . qs(%$f, from => $from,
                                                 to => $to, limit => 1000));
        is_eq($r->{json}, expected_top($dbh, $f, $from, $to, 1000),
              "top 1000 over $from..$to [$name]");

        $r = http_get($s, '/stats/v1/users?' . qs(%$f, from => $dfrom,
                                                   to => $dto));
        is_eq($r->{json}, expected_users($dbh, $f, $dfrom, $dto),
              "users per day [$name]");
    }

    for my $app ((sort keys %apps), 'no-such-app') {
        for my $d (@days) {
            my $r = http_get($s, '/stats/v1/breakdown?' . qs(app => $app,
                                                              day => $d));
            is_eq($r->{json}, expected_breakdown($dbh, $app, $d),
                  "breakdown of $app on $d");
        }
    }
}

1;
