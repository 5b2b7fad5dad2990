#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# The Debian packages on this machine: `make deb` builds them (lintian
# clean), dpkg -i installs them, nginx -t passes with the module's
# mod-config snippet and the example site, systemd-analyze verify accepts
# the units and rates their sandbox, and the installed daemons, started
# exactly as their units' ExecStart, User= and EnvironmentFile= say (no
# systemd needed), store events sent through an nginx running the installed
# module and answer them through the stats API; the backup unit leaves a
# verified backup, logrotate rotates the logs.
# Then an upgrade in place (a bumped version of the same packages) while
# events flow and everything runs, restarting as systemd would, loses
# nothing and keeps the edited conffiles; the purge leaves the machine as
# it was: no package, user, /etc/track, log or module snippet.
# Runs as root only (it installs system-wide); everything it installed is
# purged in the END block, also when a check failed or the test died.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use File::Path qw(remove_tree);
use POSIX qw(strftime);
use Test::More;
use TrackTest;

use lib $FindBin::Bin;
use DebHost;

my @PACKAGES = qw(libnginx-mod-http-track track-consumer);
my $USER = 'track';
my $SNIPPET = '/etc/nginx/modules-enabled/50-mod-http-track.conf';
# what the snippet loads: modules/ under Debian's nginx prefix
$TrackTest::MODULE_SO = '/usr/share/nginx/modules/ngx_http_track_module.so';

plan skip_all => 'installs packages system-wide: run as root' if $> != 0;
plan skip_all => 'dpkg-buildpackage is missing (scripts/deps.sh installs '
               . 'debhelper and dpkg-dev)'
    unless system('command -v dpkg-buildpackage >/dev/null') == 0;
for my $pkg (@PACKAGES) {
    plan skip_all => "$pkg is installed already: this test would purge it"
        if installed($pkg);
}

my $user_existed = defined getpwnam($USER);
my $backups_existed = -e '/var/backups/track';

# what the purge must have removed, whatever happened before
sub leftovers {
    my @left = grep { installed($_) } @PACKAGES;
    push @left, grep { -e $_ || -l $_ } '/etc/track', '/var/log/track',
        '/var/backups/track', '/usr/share/track', $SNIPPET, "$SNIPPET.removed",
        '/usr/share/nginx/modules-available/mod-http-track.conf',
        '/usr/lib/nginx/modules/ngx_http_track_module.so',
        '/etc/logrotate.d/track-consumer', '/usr/sbin/track-consumer',
        '/usr/sbin/track-stats',
        glob("$UNITS/track-*");
    push @left, "user $USER" if !$user_existed && defined getpwnam($USER);
    push @left, "group $USER"
        if !$user_existed && defined getgrnam($USER);
    return @left;
}

sub purge_all {
    stop_unit($_) for started_units();
    # the purge keeps a backup directory that holds backups: these are
    # the test's
    remove_tree(glob('/var/backups/track/*')) unless $backups_existed;
    my @pkgs = grep { installed($_) } @PACKAGES;
    my $ok = !@pkgs
        || run_logged('/dev/null', 'dpkg', '--purge', @pkgs);
    # the package keeps its system user (Debian practice); this machine
    # had none before the test
    if (!$user_existed && defined getpwnam($USER)) {
        system("deluser --system --quiet $USER >/dev/null 2>&1");
        system("delgroup --system --quiet $USER >/dev/null 2>&1")
            if defined getgrnam($USER);
    }
    return $ok;
}

END {
    my $rc = $?;
    if (!$> && (grep { installed($_) } @PACKAGES or started_units())) {
        purge_all();
        my @left = leftovers();
        print STDERR "# left on the machine after the purge: @left\n" if @left;
    }
    $? = $rc;
}

my $dir = scratch_dir();

# --- build ------------------------------------------------------------------

ok(run_logged("$dir/make-deb.log", 'make', '-C', $ROOT, 'deb'),
   'make deb builds the packages, lintian reports no error or warning')
    or diag(slurp("$dir/make-deb.log"));
my %deb = map {
    my ($f) = grep { !/dbgsym/ } glob("$ROOT/build/deb/${_}_*.deb");
    ($_ => $f)
} @PACKAGES;
if (grep { !$_ } values %deb) {
    fail('the .deb files are in build/deb/');
    done_testing();
    exit 1;
}

# the upgrade: the same packages with a bumped version, repacked
my $version = `dpkg-deb -f $deb{'track-consumer'} Version`;
chomp $version;
my $next = "$version+upgradetest1";
my %next_deb;
for my $pkg (@PACKAGES) {
    my $tree = "$dir/repack-$pkg";
    $next_deb{$pkg} = "$dir/${pkg}_$next.deb";
    system('dpkg-deb', '-R', $deb{$pkg}, $tree) == 0 or die "dpkg-deb -R\n";
    my $control = slurp("$tree/DEBIAN/control");
    $control =~ s/^Version: .*$/Version: $next/m or die "no Version\n";
    open(my $out, '>', "$tree/DEBIAN/control") or die $!;
    print $out $control;
    close $out;
    system("dpkg-deb -b $tree $next_deb{$pkg} >/dev/null") == 0
        or die "dpkg-deb -b\n";
}

# --- install ----------------------------------------------------------------

ok(run_logged("$dir/install.log", 'dpkg', '-i', @deb{@PACKAGES}),
   'dpkg -i installs both packages')
    or diag(slurp("$dir/install.log"));
ok(installed($_), "$_ is installed") for @PACKAGES;

is(readlink($SNIPPET),
   '/usr/share/nginx/modules-available/mod-http-track.conf',
   'the module is enabled through its mod-config snippet');
like(slurp($SNIPPET), qr{^load_module modules/ngx_http_track_module\.so;$}m,
     'the snippet loads the installed module');
ok(run_logged("$dir/nginx-t.log", 'nginx', '-t'),
   "nginx -t passes with Debian's nginx.conf, which includes the snippet")
    or diag(slurp("$dir/nginx-t.log"));

# the example site inside an http block, after the snippet (nginx's
# default prefix, so the snippet's modules/ path resolves as in Debian)
my ($example) = glob('/usr/share/doc/libnginx-mod-http-track/examples/'
                     . 'track-site.conf*');
open(my $conf, '>', "$dir/example.conf") or die $!;
print $conf "include $SNIPPET;\nerror_log $dir/example-error.log;\n",
            "pid $dir/example.pid;\nevents {}\n",
            "http { include $example; }\n";
close $conf;
ok(run_logged("$dir/example-t.log", 'nginx', '-t', '-c',
              "$dir/example.conf"),
   'nginx -t passes with the example site')
    or diag(slurp("$dir/example-t.log"));

my @units = map { "$UNITS/$_" } qw(track-consumer.service
    track-stats.service track-backup.service track-backup.timer);
ok(-f $_, "$_ is installed") for @units;
for my $unit (qw(track-consumer.service track-stats.service)) {
    is_deeply(unit_settings($unit)->{Restart}, ['on-failure'],
              "$unit restarts the daemon when it fails");
}
SKIP: {
    skip 'systemd-analyze is not installed', 4
        unless system('command -v systemd-analyze >/dev/null') == 0;
    ok(run_logged("$dir/verify.log", 'systemd-analyze', 'verify', @units)
       && slurp("$dir/verify.log") eq '',
       'systemd-analyze verify accepts the units, silently')
        or diag(slurp("$dir/verify.log"));
    # systemd's own rating of the sandbox: 0 (tight) to 10 (none)
    for my $unit (grep { /\.service$/ } @units) {
        ok(run_logged("$dir/security.log", 'systemd-analyze', 'security',
                      '--offline=yes', '--threshold=20', $unit),
           "$unit: systemd-analyze security rates its exposure 2.0 or less")
            or diag(slurp("$dir/security.log"));
    }
}

my ($uid, $gid) = (getpwnam($USER))[2, 3];
ok(defined $uid, "the system user $USER exists");
my @st = stat('/etc/track/consumer.conf');
ok(@st && ($st[2] & 07777) == 0640 && $st[5] == $gid,
   '/etc/track/consumer.conf is root:track 0640');
my $conffiles = `dpkg-query -W -f='\${Conffiles}' track-consumer`;
like($conffiles, qr{^ /etc/track/$_ }m, "/etc/track/$_ is a conffile")
    for qw(consumer.conf stats.conf backup.cnf backup-admin.cnf);
SKIP: {
    skip 'promtool is not installed (Debian prometheus)', 1
        unless system('command -v promtool >/dev/null') == 0;
    ok(run_logged("$dir/promtool.log", 'promtool', 'check', 'rules',
                  '/usr/share/track/ops/alerts.yml'),
       'promtool accepts the installed alert rules')
        or diag(slurp("$dir/promtool.log"));
}
ok(system('man -w track-consumer track-stats ngx_http_track_module '
          . '>/dev/null 2>&1') == 0, 'the three man pages are installed');

# --- configure and start, as an operator would ------------------------------

my $redis_port = free_port();
start_redis("$dir/redis", $redis_port);
# a private MariaDB (not the harness's): the units' database is "track"
my $db = do { local $ENV{MARIADB_DIR}; start_db($dir, 'track') };
my $dbh = $db->{dbh};
my ($mysql_port) = $dbh->selectrow_array('SELECT @@port');
my %password = map { $_ => join '', map { ('a' .. 'z')[rand 26] } 1 .. 20 }
               qw(reader admin);
for my $host ('localhost', '127.0.0.1') {
    $dbh->do("CREATE USER 'track_reader2'\@'$host' "
             . "IDENTIFIED BY '$password{reader}'");
    $dbh->do("GRANT SELECT ON track.* TO 'track_reader2'\@'$host'");
    $dbh->do("CREATE USER 'track_backup_admin'\@'$host' "
             . "IDENTIFIED BY '$password{admin}'");
    $dbh->do("GRANT ALL ON track_restore_check.* "
             . "TO 'track_backup_admin'\@'$host'");
}

# the daemons run as track: MariaDB over TCP (the test's socket is in a
# directory only root may enter)
edit_conffile('/etc/track/consumer.conf', ' = ',
    redis_port => $redis_port, mysql_host => '127.0.0.1',
    mysql_port => $mysql_port, mysql_password => $db->{password},
    timezone => 'UTC', id => 'deb-test');
my $stats_port = free_port();
edit_conffile('/etc/track/stats.conf', '=',
    TRACK_STATS_LISTEN => "127.0.0.1:$stats_port",
    TRACK_STATS_MYSQL_HOST => '127.0.0.1',
    TRACK_STATS_MYSQL_PORT => $mysql_port,
    TRACK_STATS_MYSQL_USER => 'track_reader2',
    TRACK_STATS_MYSQL_PASSWORD => $password{reader},
    TRACK_STATS_TIMEZONE => 'UTC');
edit_conffile('/etc/track/backup.cnf', ' = ', user => 'track_reader2',
    password => $password{reader}, port => $mysql_port);
edit_conffile('/etc/track/backup-admin.cnf', ' = ',
    password => $password{admin}, port => $mysql_port);

my $stats_health = "http://127.0.0.1:$stats_port/stats/v1/health";
sub start_daemons {
    my ($label) = @_;
    start_unit('track-consumer.service', $dir);
    start_unit('track-stats.service', $dir);
    ok(wait_for(20, sub { http('GET', $stats_health)->{status} == 200 }),
       "$label: track-stats answers /health as user track")
        or diag(slurp("$dir/track-stats.service.out"),
                slurp('/var/log/track/stats.log'));
    ok(wait_for(20, sub {
           slurp('/var/log/track/consumer.log') =~ /connected/
               && unit_alive('track-consumer.service') }),
       "$label: track-consumer runs and logs to /var/log/track")
        or diag(slurp("$dir/track-consumer.service.out"),
                slurp('/var/log/track/consumer.log'));
}
start_daemons('installed');
my $pid = unit_pid('track-consumer.service');
is((stat("/proc/$pid"))[4], $uid, 'track-consumer runs as user track');

# nginx with the installed module, the stats API behind it as in the
# example site
my $nginx_port = start_nginx("$dir/nginx", <<"EOF", locations => <<'EOF');
    track_redis 127.0.0.1:$redis_port;
    upstream track_stats { server 127.0.0.1:$stats_port; }
EOF
        location = /t.gif { track; }
        location = /metrics { track_metrics; }
        location /stats/ { proxy_pass http://track_stats; }
EOF
my $url = "http://127.0.0.1:$nginx_port";
ok(wait_for(10, sub { http('GET', "$url/stats/v1/health")->{status} == 200 }),
   'nginx with the installed module proxies the stats API');
ok(workers_connected($url), 'the installed module connects to Redis');

# --- events end to end ------------------------------------------------------

my $pixel = "$url/t.gif?app=deb&module=m{p}&action=view&object=o{n%7}"
            . '&uid=u{n%11}';
my %sent = %{ send_events($dir, $pixel, 2, 300, 'first') };

# every accepted event in MariaDB (polled), then counted once everywhere
sub all_stored {
    my $ok = accepted(\%sent);
    return wait_for(60, sub {
        my $got = db_eids($dbh);
        return !grep { !$got->{$_} } @$ok;
    });
}

sub check_pipeline {
    my ($label) = @_;
    ok(all_stored(), "$label: the accepted events reach MariaDB");
    exactly_once($dbh, \%sent, $label);
    stats_consistent($dbh, $label);
    my $day = strftime('%Y-%m-%d', gmtime);
    my $res = http('GET', "$url/stats/v1/series?app=deb&day=$day");
    my ($total) = ($res->{content} // '') =~ /"total":(\d+)/;
    is($total, scalar @{ accepted(\%sent) },
       "$label: the stats API through nginx counts every event")
        or diag($res->{status}, ' ', $res->{content});
}
is(scalar @{ accepted(\%sent) }, 600, 'nginx accepted all 600 events');
check_pipeline('installed');

# the backup job as its timer would start it: dumps the closed days into
# /var/backups/track and proves the dump restores
start_unit('track-backup.service', $dir);
is(wait_unit('track-backup.service', 60), 0,
   'track-backup.service runs its backup and check')
    or diag(slurp("$dir/track-backup.service.out"));
ok(glob('/var/backups/track/track-*/MANIFEST'),
   'the backup is in /var/backups/track')
    or diag(`ls -lR /var/backups/track`);

# --- upgrade in place while events flow -------------------------------------

my $flow = start_sending($dir, $pixel, 2, 2000, 'upgrade');
ok(run_logged("$dir/upgrade.log", 'dpkg', '-i', @next_deb{@PACKAGES}),
   "dpkg -i upgrades to $next with the daemons and nginx running")
    or diag(slurp("$dir/upgrade.log"));
is(`dpkg-query -W -f='\${Version}' $_`, $next, "$_ is now $next")
    for @PACKAGES;
# what systemd does after the upgrade (restart-after-upgrade) and the
# nginx-reload trigger: restart the daemons, reload nginx, while a second
# flow of events runs
my $flow2 = start_sending($dir, $pixel, 2, 1000, 'restart');
is(stop_unit('track-consumer.service'), 0,
   'track-consumer finishes its batch and exits 0 on SIGTERM');
is(stop_unit('track-stats.service'), 0, 'track-stats exits 0 on SIGTERM');
start_daemons('upgraded');
reload_nginx("$dir/nginx");
%sent = (%sent, %{ finish_sending($flow) }, %{ finish_sending($flow2) });
# a keep-alive connection that the reload closed as a request went out is
# the client's 599 (sent or not, as for any client: exactly_once allows it);
# nginx itself refused nothing
my @refused = grep { $sent{$_} !~ /^(?:2\d\d|599)$/ } keys %sent;
is(scalar @refused, 0, 'nginx refused no event during the upgrade ('
   . scalar(@{ accepted(\%sent) }) . ' of ' . scalar(keys %sent)
   . ' accepted)')
    or diag(join ' ', map { "$_=$sent{$_}" }
                      grep { defined } @refused[0 .. 9]);
check_pipeline('upgraded');
like(slurp('/etc/track/consumer.conf'), qr/^redis_port = $redis_port$/m,
     'the edited consumer.conf survived the upgrade');
like(slurp('/etc/track/stats.conf'),
     qr/^TRACK_STATS_LISTEN=127\.0\.0\.1:$stats_port$/m,
     'the edited stats.conf survived the upgrade');
@st = stat('/etc/track/stats.conf');
ok(@st && ($st[2] & 07777) == 0640 && $st[5] == $gid,
   '/etc/track/stats.conf is still root:track 0640');

SKIP: {
    skip 'logrotate is not installed', 1
        unless system('command -v logrotate >/dev/null') == 0;
    ok(run_logged("$dir/logrotate.log", 'logrotate', '--force', '--state',
                  "$dir/logrotate.state", '/etc/logrotate.d/track-consumer')
       && -f '/var/log/track/consumer.log.1'
       && -f '/var/log/track/stats.log.1',
       'logrotate rotates both logs with the installed configuration')
        or diag(slurp("$dir/logrotate.log"), `ls -l /var/log/track`);
}

# --- purge ------------------------------------------------------------------

stop_nginx("$dir/nginx");
ok(purge_all(), 'dpkg --purge removes both packages');
my @left = leftovers();
is("@left", '', 'nothing of the packages is left on the machine');
ok(run_logged("$dir/nginx-t-after.log", 'nginx', '-t'),
   'nginx -t still passes after the purge')
    or diag(slurp("$dir/nginx-t-after.log"));

done_testing();
