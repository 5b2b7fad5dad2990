#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# Synthetic events in the module's stored format (README, "Event format"),
# shaped like tracking traffic: 2 apps, 5 modules, 4 actions, objects
# Zipf-like over 10k items (20 % without object), uids over 100k users, a
# browser User-Agent and Referer, one property.  recv_ts falls in the last
# hour (all on today's UTC day when run after 01:00 UTC, else yesterday's
# hour too).  The same events are written three ways:
#
#   gen-events.pl N PREFIX [SINGLE [TABLE]]
#     PREFIX.resp   RPUSH commands (1000 events each) for redis-cli --pipe
#                   onto the key in $QUEUE_KEY (default track:events)
#     PREFIX.tsv    the day table's columns, tab separated, \N for NULL,
#                   for LOAD DATA LOCAL INFILE
#     PREFIX.sql    the first SINGLE events (default 0) as one INSERT each
#                   into TABLE, autocommit: the naive way
use strict;
use warnings;

my ($n, $prefix, $single, $table) = @ARGV;
die "usage: $0 N PREFIX [SINGLE [TABLE]]\n" unless $n && $prefix;
$single //= 0;
$table //= 'events_single';
my $key = $ENV{QUEUE_KEY} // 'track:events';

srand(42);
my @apps = qw(shop news);
my @modules = qw(home-feed search cart detail recommend);
my @actions = qw(view click add share);
my $ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
my $referer = 'https://shop.example/home';
my $now = int(time * 1000);

open my $resp, '>', "$prefix.resp" or die "$prefix.resp: $!";
open my $tsv, '>', "$prefix.tsv" or die "$prefix.tsv: $!";
open my $sql, '>', "$prefix.sql" or die "$prefix.sql: $!";

sub resp_arg { my $s = shift; return '$' . length($s) . "\r\n$s\r\n" }
sub sq { my $s = shift; $s =~ s/\\/\\\\/g; $s =~ s/'/\\'/g; return "'$s'" }

my @chunk;
for my $i (1 .. $n) {
    my $recv = $now - 3_600_000 + int($i * 3_600_000 / $n);
    my $eid = sprintf '%012x%04x%06x%010x', $recv, 7, $$ & 0xffffff, $i;
    my $app = $apps[$i % 2];
    my $module = $modules[int($i / 2) % 5];
    my $action = $actions[int($i / 10) % 4];
    my $object = rand() < 0.2 ? undef : int(10000 ** rand());
    my $uid = 1 + int(rand(100000));
    my $ip = '10.' . ($i % 200) . '.' . (($i >> 8) % 250) . '.' . (1 + $i % 250);
    my $pos = $i % 20;

    my $json = qq({"eid":"$eid","recv_ts":$recv,"app":"$app","module":"$module","action":"$action")
        . (defined $object ? qq(,"object":"$object") : '')
        . qq(,"uid":"$uid","ip":"$ip","ua":"$ua","referer":"$referer","props":{"pos":"$pos"}});
    push @chunk, $json;
    if (@chunk == 1000 || $i == $n) {
        print $resp '*' . (2 + @chunk) . "\r\n", resp_arg('RPUSH'), resp_arg($key),
            map { resp_arg($_) } @chunk;
        @chunk = ();
    }

    print $tsv join("\t", $eid, $recv, $app, $module, $action,
        $object // '\N', $uid, '\N', $ip, $ua, $referer, qq({"pos":"$pos"}), '\N'), "\n";

    if ($i <= $single) {
        print $sql "INSERT INTO `$table` (eid, recv_ts, app, module, action, object, uid, ip, ua, referer, props) VALUES ("
            . join(',', sq($eid), $recv, sq($app), sq($module), sq($action),
                   defined $object ? sq($object) : 'NULL', sq($uid), sq($ip), sq($ua),
                   sq($referer), sq(qq({"pos":"$pos"}))) . ");\n";
    }
}
close $_ for $resp, $tsv, $sql;
