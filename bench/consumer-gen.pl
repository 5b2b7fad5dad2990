#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# Events for bench/consumer-bench.sh, in the module's stored format (README,
# "Event format"), written three ways:
#   PREFIX.resp  RPUSH commands (1000 events each) for redis-cli --pipe
#   PREFIX.tsv   the day table's columns for LOAD DATA LOCAL INFILE
#   PREFIX.sql   the first SINGLE events, one autocommitted INSERT each
# Usage: consumer-gen.pl N PREFIX SINGLE PROFILE [resp]
# With "resp" only PREFIX.resp is written (bench/backlog.sh's millions).
# PROFILE typical: 3 apps x 4 modules x 3 actions; objects Zipf (s = 1.1)
#   over 2000 items, 10 % without; 20000 users, Zipf too (active users do
#   more); all within one hour.
# PROFILE wide: as many distinct counters as possible: objects log-uniform
#   over 10000 items, 100000 users drawn uniformly, so nearly every event
#   adds a new hourly, daily and user row.
# Generated values hold no quote, backslash, tab or newline, so the .tsv and
# .sql need no escaping.
use strict;
use warnings;

my ($n, $prefix, $single, $profile, $only) = @ARGV;
die "usage: $0 N PREFIX SINGLE typical|wide [resp]\n"
    unless $n && $prefix && defined $single && $profile;
my $rows = !defined $only || $only ne 'resp';
$profile =~ /^(typical|wide)$/ or die "$0: unknown profile $profile\n";
srand(20241125);

my @apps = qw(shop news video);
my @modules = qw(home-feed search cart detail);
my @actions = qw(view click add);
my $ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
my $now = int(time * 1000);
my $start = $now - 3_600_000;

# Zipf(s) over 1..k by inverse CDF
sub zipf_cdf {
    my ($k, $s) = @_;
    my @c;
    my $sum = 0;
    $sum += 1 / $_ ** $s, push @c, $sum for 1 .. $k;
    $_ /= $sum for @c;
    return \@c;
}
sub draw {
    my ($c) = @_;
    my $x = rand();
    my ($lo, $hi) = (0, $#$c);
    while ($lo < $hi) {
        my $mid = ($lo + $hi) >> 1;
        if ($c->[$mid] < $x) { $lo = $mid + 1 } else { $hi = $mid }
    }
    return $lo + 1;
}
my $objects = zipf_cdf(2000, 1.1);
my $users = zipf_cdf(20000, 0.8);

open my $resp, '>', "$prefix.resp" or die "$prefix.resp: $!";
my ($tsv, $sql);
if ($rows) {
    open $tsv, '>', "$prefix.tsv" or die "$prefix.tsv: $!";
    open $sql, '>', "$prefix.sql" or die "$prefix.sql: $!";
}
sub arg { return '$' . length($_[0]) . "\r\n$_[0]\r\n" }

my @chunk;
for my $i (1 .. $n) {
    my $recv = $start + int($i * 3_600_000 / $n);
    my $eid = sprintf '%012x%04x%06x%010x', $recv, 1, $$ & 0xffffff, $i;
    my $app = $apps[int(rand(@apps))];
    my $module = $modules[int(rand(@modules))];
    my $action = $actions[int(rand(@actions))];
    my ($object, $uid);
    if ($profile eq 'typical') {
        $object = rand() < 0.1 ? undef : 'item' . draw($objects);
        $uid = 'u' . draw($users);
    } else {
        $object = int(10000 ** rand());
        $uid = 1 + int(rand(100000));
    }
    my $ip = '10.' . ($i % 200) . '.' . (($i >> 8) % 250) . '.' . (1 + $i % 250);
    my $ts = $recv - int(rand(500));
    my $props = rand() < 0.5 ? '{"pos":"' . ($i % 20) . '"}' : undef;
    my $ref = 'https://' . $app . '.example/' . $module;

    my $json = qq({"eid":"$eid","recv_ts":$recv,"app":"$app","module":"$module","action":"$action")
        . (defined $object ? qq(,"object":"$object") : '')
        . qq(,"uid":"$uid","ts":$ts,"ip":"$ip","ua":"$ua","referer":"$ref")
        . (defined $props ? qq(,"props":$props) : '') . '}';
    push @chunk, $json;
    if (@chunk == 1000 || $i == $n) {
        print $resp '*' . (2 + @chunk) . "\r\n", arg('RPUSH'),
            arg('track:events'), map { arg($_) } @chunk;
        @chunk = ();
    }
    next unless $rows;

    my @row = ($eid, $recv, $app, $module, $action, $object, $uid, $ts, $ip,
               $ua, $ref, $props, undef);
    print $tsv join("\t", map { defined $_ ? $_ : '\N' } @row), "\n";

    if ($i <= $single) {
        print $sql 'INSERT INTO events_single (eid, recv_ts, app, module, '
            . 'action, object, uid, ts, ip, ua, referer, props, fields) VALUES ('
            . join(',', map { !defined $_ ? 'NULL' : /^\d+$/ ? $_ : "'$_'" } @row)
            . ");\n";
    }
}
close $_ for grep { defined } $resp, $tsv, $sql;
