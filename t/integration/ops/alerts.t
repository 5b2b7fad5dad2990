#!/usr/bin/env perl
# SPDX-License-Identifier: BSD-2-Clause
# ops/alerts.yml: valid Prometheus 2 rules (promtool check rules), every rule
# with a summary and an action, and the main rules fire on the series they
# are about and stay quiet on a healthy one (promtool test rules).  Skipped
# when promtool (Debian package prometheus) is not installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $rules = "$ROOT/ops/alerts.yml";

plan skip_all => 'promtool not installed (apt-get install prometheus)'
    unless grep { -x "$_/promtool" } split /:/, $ENV{PATH};

$SIG{ALRM} = sub { die "ops/alerts.t: timed out\n" };
alarm 50;

my $out = `promtool check rules '$rules' 2>&1`;
is($?, 0, 'promtool check rules passes') or diag($out);

# every alert has a summary and an action
open my $fh, '<', $rules or die "$rules: $!";
my $text = do { local $/; <$fh> };
my @alerts = $text =~ /^\s*- alert: (\S+)/mg;
cmp_ok(scalar @alerts, '>=', 10, 'rules for the module metrics and the queue');
for my $block (split /^\s*- alert: /m, $text) {
    next unless $block =~ /^(\w+)/;
    my $name = $1;
    like($block, qr/^\s*summary: /m, "$name has a summary");
    like($block, qr/^\s*action: /m, "$name says what to do");
}

my $tmp = scratch_dir();

# the unit test compares labels and annotations exactly: it runs on a copy
# without the annotations (checked above)
my ($skip, @copy) = (0);
for my $line (split /^/, $text) {
    my ($indent) = $line =~ /^( *)/;
    if ($line =~ /^( *)annotations:\s*$/) { $skip = length $1; next }
    next if $skip && ($line =~ /^\s*$/ || length($indent) > $skip);
    $skip = 0;
    push @copy, $line;
}
open my $c, '>', "$tmp/rules.yml" or die $!;
print $c @copy;
close $c;

open my $t, '>', "$tmp/test.yml" or die $!;
print $t <<"EOF";
rule_files:
  - $tmp/rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'track_redis_connected_workers{instance="bad"}'
        values: '4 0 0 0 0'
      - series: 'track_redis_connected_workers{instance="good"}'
        values: '4 4 4 4 4'
      - series: 'track_events_failed_total{instance="bad"}'
        values: '0 10 20 30 40 50 60 70 80 90 100'
      - series: 'track_events_failed_total{instance="good"}'
        values: '5+0x10'
      - series: 'track_throttled_workers{instance="bad"}'
        values: '0 2 2 2 2 2 2 2 2 2 2'
      - series: 'track_spool_torn_records_total{instance="bad"}'
        values: '0 0 1 1 1'
      - series: 'track_requests_total{instance="bad"}'
        values: '0+600x20'
      - series: 'track_requests_rejected_total{instance="bad",reason="bad_json"}'
        values: '0+120x20'
      - series: 'track_requests_total{instance="good"}'
        values: '0+600x20'
      - series: 'track_requests_rejected_total{instance="good",reason="bad_json"}'
        values: '0+1x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: TrackRedisDisconnected
        exp_alerts:
          - exp_labels: {severity: critical, instance: bad}
      - eval_time: 5m
        alertname: TrackEventsFailing
        exp_alerts:
          - exp_labels: {severity: critical, instance: bad}
      - eval_time: 8m
        alertname: TrackWorkersThrottled
        exp_alerts:
          - exp_labels: {severity: warning, instance: bad}
      - eval_time: 4m
        alertname: TrackSpoolTornRecords
        exp_alerts:
          - exp_labels: {severity: warning, instance: bad}
      - eval_time: 18m
        alertname: TrackRejectionSpike
        exp_alerts:
          - exp_labels: {severity: warning, instance: bad}
      - eval_time: 4m
        alertname: TrackSpoolErrors
        exp_alerts: []
  # events wait, the last commit was at time 0: stalled after 5 + 5 minutes
  - interval: 1m
    input_series:
      - series: 'track_queue_length{instance="a"}'
        values: '500+0x20'
      - series: 'track_consumer_last_commit_seconds{consumer="c1"}'
        values: '0+0x20'
      - series: 'track_consumer_dead_letters_total{consumer="c1"}'
        values: '0 0 0 3 3 3'
    alert_rule_test:
      - eval_time: 8m
        alertname: TrackConsumerStalled
        exp_alerts: []
      - eval_time: 12m
        alertname: TrackConsumerStalled
        exp_alerts:
          - exp_labels: {severity: critical}
      - eval_time: 2m
        alertname: TrackDeadLetters
        exp_alerts: []
      - eval_time: 5m
        alertname: TrackDeadLetters
        exp_alerts:
          - exp_labels: {severity: warning, consumer: c1}
  # statistics 60 s behind for minutes fire; a lag of under a second not
  - interval: 1m
    input_series:
      - series: 'track_rollup_lag_seconds{instance="s"}'
        values: '0.3 60 60 60 60 60'
    alert_rule_test:
      - eval_time: 2m
        alertname: TrackStatisticsBehind
        exp_alerts: []
      - eval_time: 4m
        alertname: TrackStatisticsBehind
        exp_alerts:
          - exp_labels: {severity: warning, instance: s}
  - interval: 1m
    input_series:
      - series: 'track_rollup_lag_seconds{instance="s"}'
        values: '0.3 0.8 0.2 0.9 0.4 0.5'
    alert_rule_test:
      - eval_time: 5m
        alertname: TrackStatisticsBehind
        exp_alerts: []
  # an idle pipeline (the queue drained, no commit for long) is not stalled;
  # track-stats that cannot be scraped is
  - interval: 1m
    input_series:
      - series: 'track_queue_length{instance="a"}'
        values: '0+0x20'
      - series: 'track_consumer_last_commit_seconds{consumer="c1"}'
        values: '0+0x20'
      - series: 'up{job="track-stats",instance="s"}'
        values: '1 1 0 0 0 0 0 0 0 0'
      - series: 'up{job="track-stats",instance="t"}'
        values: '1+0x10'
    alert_rule_test:
      - eval_time: 15m
        alertname: TrackConsumerStalled
        exp_alerts: []
      - eval_time: 4m
        alertname: TrackStatsDown
        exp_alerts: []
      - eval_time: 8m
        alertname: TrackStatsDown
        exp_alerts:
          - exp_labels: {severity: warning, job: track-stats, instance: s}
  # a consumer that commits every minute is not stalled
  - interval: 1m
    input_series:
      - series: 'track_queue_length{instance="a"}'
        values: '500+0x20'
      - series: 'track_consumer_last_commit_seconds{consumer="c1"}'
        values: '0+60x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: TrackConsumerStalled
        exp_alerts: []
EOF
close $t;
$out = `promtool test rules '$tmp/test.yml' 2>&1`;
is($?, 0, 'the rules fire on the bad instance only (promtool test rules)') or diag($out);

alarm 0;
done_testing();
