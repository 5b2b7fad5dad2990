#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# Statistics freshness (not a test): how long after nginx accepts an event
# the stats API counts it.  Every INTERVAL ms one probe pixel with an object
# of its own is sent; its accept time is when the 2xx arrives.  Then the
# stats API's series of that object is polled until it counts the event:
# the lag is the time between the two, so it holds the Redis queue's wait,
# the consumer's batch, the roll-up's period and the API's query.
#
#   bench/freshness.pl PIXEL_URL STATS_URL SECONDS [INTERVAL_MS]
#
# PIXEL_URL: the module's GET location (http://127.0.0.1:8080/t.gif);
# STATS_URL: track-stats' base (http://127.0.0.1:8081/stats/v1), in the
# consumer's time zone (UTC).  Prints one line:
#   FRESHNESS probes=N seen=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
use strict;
use warnings;
use HTTP::Tiny;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my ($pixel, $stats, $secs, $interval) = @ARGV;
die "usage: $0 PIXEL_URL STATS_URL SECONDS [INTERVAL_MS]\n" unless $secs;
$interval = ($interval || 200) / 1000;

my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
my $run = sprintf('%x', int(time * 1000) & 0xffffffff);
my (%accepted, @lags);        # object -> accept time; lags in seconds
my ($sent, $refused) = (0, 0);
my $end = time + $secs;
my $next = time;

while (time < $end || %accepted) {
    my $now = time;
    if ($now < $end && $now >= $next) {
        my $obj = "$run-" . $sent++;
        my $r = $http->get("$pixel?app=fresh&module=probe&action=p"
                           . "&object=$obj");
        if ($r->{status} =~ /^2/) {
            $accepted{$obj} = time;
        } else {
            $refused++;
        }
        $next += $interval;
    }

    # the day of the probe: a probe around midnight may be counted on either
    for my $obj (keys %accepted) {
        my $t = $accepted{$obj};
        my $day = strftime('%Y-%m-%d', gmtime $t);
        my $r = $http->get("$stats/series?app=fresh&module=probe&action=p"
                           . "&object=$obj&day=$day");
        if ($r->{status} == 200 && $r->{content} =~ /"total":([1-9])/) {
            push @lags, time - $t;
            delete $accepted{$obj};
        } elsif (time - $t > 60) {
            delete $accepted{$obj};       # never seen: counted as lost
        }
    }
    sleep(0.02);
}

my @s = sort { $a <=> $b } @lags;
my $q = sub {
    return 'NA' unless @s;
    my $i = int($_[0] * @s + 0.999) - 1;
    $i = 0 if $i < 0;
    return sprintf('%.0f', $s[$i] * 1000);
};
printf "FRESHNESS probes=%d refused=%d seen=%d p50_ms=%s p90_ms=%s"
       . " p99_ms=%s max_ms=%s\n", $sent, $refused, scalar @s, $q->(0.5),
       $q->(0.9), $q->(0.99), @s ? sprintf('%.0f', $s[-1] * 1000) : 'NA';
