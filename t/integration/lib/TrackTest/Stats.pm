# SPDX-License-Identifier: BSD-2-Clause
# track-stats for the integration tests: the service on a free port (stopped
# when the test exits), JSON requests, and the expected answer of every
# endpoint computed by SQL from the raw day tables.
package TrackTest::Stats;

use strict;
use warnings;
use utf8;

use Exporter qw(import);
use File::Path qw(make_path);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(strftime WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

use TrackTest::Base;

our @EXPORT = qw($STATS_BIN start_stats stop_stats json_request json_get
                 is_json qs day_to_epoch epoch_to_day day_range table_of
                 check_all_endpoints);

our $STATS_BIN = $ENV{STATS_BIN}
                 || "$ROOT/consumer/build/release/track-stats";

my $JSON = JSON::PP->new->utf8->canonical;

# the names of the checks carry the apps' and modules' characters
binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

# is_json($got, $want, $name): equal as canonical JSON (a number is not a
# string); plain scalars compare as they are
sub is_json {
    my ($got, $want, $name) = @_;
    my $g = defined $got ? (ref $got ? $JSON->encode($got) : $got) : 'undef';
    my $w = defined $want ? (ref $want ? $JSON->encode($want) : $want)
                          : 'undef';
    return Test::More::ok($g eq $w, $name) || do {
        Test::More::diag("got:  " . substr($g, 0, 2000) . "\n"
                         . "want: " . substr($w, 0, 2000));
        0;
    };
}

# --- the service ---------------------------------------------------------

# start_stats($dir, db => $db, timezone => $tz, args => [...], env => {...}):
# track-stats on a free port with the reader's credentials of $db (see
# start_db), its pid file $dir/stats.pid, stdout and stderr in
# $dir/stats.log.  Returns { pid, url, port, log, pid_file, dir } once it
# answers; stopped at exit.
sub start_stats {
    my ($dir, %o) = @_;
    -x $STATS_BIN
        or die "$STATS_BIN is missing: make -C consumer (or STATS_BIN)\n";
    make_path($dir);
    my $port = free_port();
    my $db = $o{db};
    my $s = { url => "http://127.0.0.1:$port", port => $port, dir => $dir,
              log => "$dir/stats.log", pid_file => "$dir/stats.pid" };
    my @args = ("--listen", "127.0.0.1:$port",
                "--mysql-host", "localhost",
                "--mysql-socket", $db->{socket},
                "--mysql-user", $db->{env}{MYSQL_READER_USER},
                "--timezone", $o{timezone} || "UTC",
                "--pid-file", $s->{pid_file},
                @{ $o{args} || [] });
    my %env = (sanitizer_env($dir),
               TRACK_STATS_MYSQL_PASSWORD => $db->{env}{MYSQL_READER_PASSWORD},
               %{ $o{env} || {} });
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $s->{log} or die;
        open STDERR, '>&', \*STDOUT or die;
        $ENV{$_} = $env{$_} for keys %env;
        exec $STATS_BIN, @args or POSIX::_exit(127);
    }
    $s->{pid} = $pid;
    at_exit(sub { stop_stats($s) });
    wait_for(10, sub {
        my $r = json_get($s, '/stats/v1/health');
        return 1 if $r->{status} == 200 || $r->{status} == 503;
        die "track-stats exited; see $s->{log}\n"
            if waitpid($pid, WNOHANG) == $pid;
        return 0;
    }) or die "track-stats did not start; see $s->{log}\n";
    return $s;
}

# stop_stats($s): SIGTERM, returns the exit status (undef if it hung and
# had to be killed, or was stopped before)
sub stop_stats {
    my ($s) = @_;
    return undef unless $s->{pid};
    kill 'TERM', $s->{pid};
    my $status;
    wait_for(10, sub {
        return 0 unless waitpid($s->{pid}, WNOHANG) == $s->{pid};
        $status = $?;
        return 1;
    }) or do {
        kill 'KILL', $s->{pid};
        waitpid($s->{pid}, 0);
    };
    delete $s->{pid};
    return $status;
}

# --- HTTP -----------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 20, keep_alive => 1);

# json_request($s, $method, $path, \%headers): a request to $s->{url}; the
# response with the JSON body decoded into {json} when it is JSON
sub json_request {
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

sub json_get { json_request($_[0], 'GET', $_[1], $_[2]) }

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
# with the raw tables, one check per request.
sub check_all_endpoints {
    my ($s, $dbh, $from, $to) = @_;
    my @days = day_range($from, $to);
    my $combos = combos($dbh, $from, $to);
    my %apps = map { $_->{app} => 1 } @$combos;
    my %app_module;
    $app_module{"$_->{app}\0$_->{module}"} = $_ for @$combos;

    Test::More::ok(@$combos > 0,
                   "there are events to compare with ($from .. $to)");

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

        my $r = json_get($s, '/stats/v1/series?' . qs(%$f, from => $dfrom,
                                                        to => $dto));
        is_json($r->{json}, expected_series($dbh, $f, $dfrom, $dto, 0),
              "series by day [$name]");

        my ($hf, $ht) = ("${from}T20", epoch_to_day(day_to_epoch($from)
                                                    + 86400) . "T03");
        $r = json_get($s, '/stats/v1/series?' . qs(%$f, from => $hf,
                                                    to => $ht,
                                                    interval => 'hour'));
        is_json($r->{json}, expected_series($dbh, $f, $hf, $ht, 1),
              "series by hour across midnight [$name]");
    }

    for my $d (@days) {
        my $r = json_get($s, '/stats/v1/series?' . qs(app => $combos->[0]{app},
                                                    day => $d,
                                                    interval => 'hour'));
        is_json($r->{json}, expected_series($dbh, { app => $combos->[0]{app} },
                                          "${d}T00", "${d}T23", 1),
              "series of one day by hour ($d)");
    }

    for my $c (@$combos) {
        my $f = { app => $c->{app}, module => $c->{module},
                  action => $c->{action} };
        my $name = "$c->{app}/$c->{module}/$c->{action}";
        for my $d (@days) {
            my $r = json_get($s, '/stats/v1/top?' . qs(%$f, day => $d,
                                                        limit => 5));
            is_json($r->{json}, expected_top($dbh, $f, $d, $d, 5),
                  "top 5 on $d [$name]");
        }
        my $r = json_get($s, '/stats/v1/top?' . qs(%$f, from => $from,
                                                    to => $to));
        is_json($r->{json}, expected_top($dbh, $f, $from, $to, 10),
              "top 10 over $from..$to [$name]");
        $r = json_get($s, '/stats/v1/top?' . qs(%$f, from => $from,
                                                 to => $to, limit => 1000));
        is_json($r->{json}, expected_top($dbh, $f, $from, $to, 1000),
              "top 1000 over $from..$to [$name]");

        $r = json_get($s, '/stats/v1/users?' . qs(%$f, from => $dfrom,
                                                   to => $dto));
        is_json($r->{json}, expected_users($dbh, $f, $dfrom, $dto),
              "users per day [$name]");
    }

    for my $app ((sort keys %apps), 'no-such-app') {
        for my $d (@days) {
            my $r = json_get($s, '/stats/v1/breakdown?' . qs(app => $app,
                                                              day => $d));
            is_json($r->{json}, expected_breakdown($dbh, $app, $d),
                  "breakdown of $app on $d");
        }
    }
}

1;
