# SPDX-License-Identifier: BSD-2-Clause
# The disk spool: events accepted while Redis is away are replayed exactly
# once when it comes back; a full spool answers 503 and loses nothing it
# accepted; a torn last record is skipped and reported; a replay interrupted
# half-way resumes without duplicates; a ceiling on the queue diverts events
# to the spool until the queue drains.
use strict;
use warnings;

use Compress::Zlib qw(crc32);
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $key = 'it:spool';

sub nginx_with_spool {
    my ($name, $redis_port, $extra) = @_;
    my $port = start_nginx("$dir/$name", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_backoff 200ms;
    track_spool $dir/$name/spool $extra;
EOF
        location = /t.gif { track; }
        location = /metrics { track_metrics; }
EOF2
    return $port;
}

sub spool_files {
    my ($name) = @_;
    return grep { /\.trk$/ } glob("$dir/$name/spool/*");
}

sub log_of {
    my ($name) = @_;
    return do { local (@ARGV, $/) = "$dir/$name/logs/error.log"; <> };
}

# 1. Redis never started: accepted into the spool, replayed when it starts
{
    my $redis_port = free_port();
    my $port = nginx_with_spool('never', $redis_port, '');
    my $url = "http://127.0.0.1:$port";
    my $sent = send_events($dir, "$url/t.gif?app=a&module=m&action=never",
                           4, 100, 'never');
    my @ok = grep { $sent->{$_} == 200 } keys %$sent;
    is(scalar @ok, 400, 'all 400 events answered 2xx without Redis');
    ok(scalar(spool_files('never')) >= 1, 'they are in spool files');
    is(metric("$url/metrics", 'track_events_spooled_total'), 400,
       'counted as spooled');

    start_redis("$dir/never-redis", $redis_port);
    ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
       'spool drained once Redis is up');
    my $stored = stored_eids($redis_port, $key);
    is_deeply([sort keys %$stored], [sort @ok],
              'every accepted event is in Redis');
    is(scalar(grep { $_ > 1 } values %$stored), 0, 'none of them twice');
    is(scalar(spool_files('never')), 0, 'replayed files are removed');
    is(metric("$url/metrics", 'track_events_replayed_total'), 400,
       'counted as replayed');
    like(log_of('never'), qr/replayed and removed/, 'the log says so');
}

# 2. a full spool answers 503 and keeps what it accepted
{
    my $redis_port = free_port();
    my $port = nginx_with_spool('full', $redis_port, 'max_size=8k');
    my $url = "http://127.0.0.1:$port";
    my $sent = send_events($dir, "$url/t.gif?app=a&module=m&action=full",
                           1, 200, 'full');
    my @ok = grep { $sent->{$_} == 200 } keys %$sent;
    my @busy = grep { $sent->{$_} == 503 } keys %$sent;
    ok(@ok > 10 && @ok < 200, scalar(@ok) . ' accepted before it filled');
    is(scalar(@ok) + scalar(@busy), 200, 'the rest answered 503');
    like(log_of('full'), qr/\[error\].*spool ".*" is full \(max_size=8192\)/,
         'the log says the spool is full');

    start_redis("$dir/full-redis", $redis_port);
    ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
       'spool drained');
    my $stored = stored_eids($redis_port, $key);
    is_deeply([sort keys %$stored], [sort @ok],
              'exactly the accepted events are in Redis');
}

# 3. a torn last record (a writer killed while appending) and a replay
#    interrupted half-way (its progress key says how far it got)
{
    my $redis_port = free_port();
    start_redis("$dir/torn-redis", $redis_port);
    mkdir "$dir/torn";
    mkdir "$dir/torn/spool";

    my @events = map { qq({"eid":"torn-$_","recv_ts":1,"app":"a",)
                       . qq("module":"m","action":"torn"}) } 1 .. 10;
    my $record = sub {
        my ($json) = @_;
        return pack('V V', length $json, crc32($json)) . $json;
    };
    my $file = "$dir/torn/spool/000000000001-0000-000001.trk";
    open(my $fh, '>:raw', $file) or die $!;
    print $fh $record->($_) for @events;
    # the writer died after 20 bytes of the eleventh record
    print $fh substr($record->('{"eid":"torn-11","app":"a"}'), 0, 20);
    close $fh;

    # an earlier replayer pushed the first four and died before the rest
    my $four = length(join '', map { $record->($_) } @events[0 .. 3]);
    redis_cli($redis_port, 'rpush', $key, @events[0 .. 3]);
    redis_cli($redis_port, 'set', "$key:spool:000000000001-0000-000001.trk",
              $four);

    my $port = nginx_with_spool('torn', $redis_port, '');
    my $url = "http://127.0.0.1:$port";
    ok(wait_for(30, sub { !-e $file }), 'the file was replayed and removed');
    my $stored = stored_eids($redis_port, $key);
    is_deeply([sort keys %$stored], [sort map { "torn-$_" } 1 .. 10],
              'the ten whole records are in Redis, the torn one is not');
    is(scalar(grep { $_ > 1 } values %$stored), 0,
       'the interrupted replay resumed without duplicates');
    is(metric("$url/metrics", 'track_spool_torn_records_total'), 1,
       'the torn record is counted');
    like(log_of('torn'),
         qr/\[warn\].*ends in a torn record of 20 bytes at offset \d+/,
         'and reported in the log');
    is(redis_cli($redis_port, 'exists',
                 "$key:spool:000000000001-0000-000001.trk"),
       "(integer) 0\n", 'the progress key is gone with the file');
}

# 4. the queue's ceiling diverts new events to the spool until it drains
{
    my $redis_port = free_port();
    start_redis("$dir/ceiling-redis", $redis_port);
    my $port = start_nginx("$dir/ceiling", <<"EOF", workers => 1,
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_queue 50;
    track_spool $dir/ceiling/spool;
EOF
        locations => 'location = /t.gif { track; }
                      location = /metrics { track_metrics; }');
    my $url = "http://127.0.0.1:$port";
    my $sent = send_events($dir, "$url/t.gif?app=a&module=m&action=ceil",
                           1, 120, 'ceil');
    is(scalar(grep { $_ == 200 } values %$sent), 120, 'all 120 accepted');
    my $len = redis_cli($redis_port, 'llen', $key);
    my ($n) = $len =~ /(\d+)/;
    ok($n >= 50 && $n < 120, "the queue stopped near its ceiling ($n)");
    ok(metric("$url/metrics", 'track_events_spooled_total') > 0,
       'the rest went to the spool');
    is(metric("$url/metrics", 'track_throttled_workers'), 1,
       'the worker says it is throttled');
    like(log_of('ceiling'), qr/\[warn\].*at its ceiling of 50/,
         'and the log says why');

    # a consumer takes the queue away: the spool follows into Redis
    my $taken = stored_eids($redis_port, $key);
    redis_cli($redis_port, 'del', $key);
    ok(wait_for(30, sub { metric("$url/metrics", 'track_spool_bytes') == 0 }),
       'the spool drained after the queue did');
    my $rest = stored_eids($redis_port, $key);
    my %all = (%$taken, %$rest);
    is(scalar keys %all, 120, 'every event reached Redis');
    ok(!(grep { exists $taken->{$_} } keys %$rest), 'none of them twice');
}

# 5. a replay stops at the queue's ceiling too: its pushes tell the throttle
#    the list's length, not only the next poll a second later
{
    my $redis_port = free_port();
    start_redis("$dir/replay-ceiling-redis", $redis_port);
    mkdir "$dir/replay-ceiling";
    mkdir "$dir/replay-ceiling/spool";

    # four replay chunks (1 MB each) of 600-byte records
    my $pad = 'p' x 520;
    my $file = "$dir/replay-ceiling/spool/000000000001-0000-000001.trk";
    open(my $fh, '>:raw', $file) or die $!;
    for my $i (1 .. 6000) {
        my $json = qq({"eid":"rc-$i","recv_ts":1,"app":"a","module":"m",)
                   . qq("action":"rc","props":"$pad"});
        print $fh pack('V V', length $json, crc32($json)), $json;
    }
    close $fh;

    my $port = start_nginx("$dir/replay-ceiling", <<"EOF", workers => 1,
    track_redis 127.0.0.1:$redis_port;
    track_redis_key $key;
    track_redis_max_queue 500;
    track_spool $dir/replay-ceiling/spool;
EOF
        locations => 'location = /t.gif { track; }
                      location = /metrics { track_metrics; }');
    my $url = "http://127.0.0.1:$port";

    ok(wait_for(30, sub {
        metric("$url/metrics", 'track_events_replayed_total') > 0
        && metric("$url/metrics", 'track_throttled_workers') == 1 }),
       'the replay pushed and the worker throttled');
    my $len = redis_int($redis_port, 'llen', $key);
    ok($len >= 500 && $len < 6000,
       "the replay stopped past the ceiling, not at the spool's end ($len)");
    ok(-e $file, 'the rest of the file waits in the spool');

    # a consumer drains the list, chunk after chunk: every event once
    my %all;
    my $twice = 0;
    ok(wait_for(60, sub {
        my $got = stored_eids($redis_port, $key);
        my $n = 0;
        $n += $_ for values %$got;
        redis_cli($redis_port, 'ltrim', $key, $n, -1);
        $twice += grep { $all{$_}++ || $got->{$_} > 1 } keys %$got;
        return !-e $file && redis_int($redis_port, 'llen', $key) == 0;
    }), 'the spool drained as the list did');
    is(scalar keys %all, 6000, 'all 6000 spooled events reached Redis');
    is($twice, 0, 'none of them twice');
}

done_testing();
