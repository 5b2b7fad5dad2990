# SPDX-License-Identifier: BSD-2-Clause
# The exact JSON the module stores for pixel, beacon and batch requests,
# with enrichment (client IP behind realip, user agent, referer, track_field).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $redis_port = free_port();
start_redis("$dir/redis", $redis_port);

my $port = start_nginx("$dir/nginx", <<"EOF", locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;
    track_redis_key it:stored;
EOF
        location = /t.gif {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            track;
            track_field host $host;
            track_field scheme $scheme;
        }
        location = /collect {
            track;
        }
        location = /private.gif {
            track;
            track_anonymize_ip on;
            track_drop_fields ua referer uid;
            track_honor_dnt on;
            track_consent $cookie_consent;
        }
EOF2

my $base = "http://127.0.0.1:$port";
my $eid_re = qr/[0-9a-f]{32}/;

sub stored {
    my $out = `redis-cli -p $redis_port --raw lrange it:stored 0 -1`;
    sh("redis-cli -p $redis_port del it:stored >/dev/null");
    return [split /\n/, $out];
}

# replaces the two values the edge computes, after checking their form
sub normalise {
    my ($json, $before, $after) = @_;
    my $ok = 1;
    $json =~ s/^\{"eid":"($eid_re)"/{"eid":"EID"/ or $ok = 0;
    $json =~ s/"recv_ts":(\d+),/"recv_ts":TS,/ or $ok = 0;
    my $ts = $1 // 0;
    $ok = 0 unless $ts >= $before && $ts <= $after;
    return ($ok, $json);
}

sub now_ms { int(Time::HiRes::time() * 1000) }

# 1: the pixel, with everything the edge adds
my $before = now_ms();
my $res = http('GET', "$base/t.gif?app=shop&module=home-feed&action=click"
                      . "&object=991&uid=42&ts=1732540000000&p.pos=3"
                      . "&p.q=a%22b%5Cc+d&_=cachebuster",
               undef, { 'User-Agent' => 'Mozilla/5.0 (test) "quoted"',
                        'Referer' => 'https://shop.example/feed?x=1',
                        'X-Forwarded-For' => '203.0.113.7' });
my $after = now_ms();
is($res->{status}, 200, 'pixel answered');
my $rows = stored();
is(scalar @$rows, 1, 'one event stored for the pixel');
my ($ok, $json) = normalise($rows->[0], $before, $after);
ok($ok, 'generated eid and receive time have the documented form');
is($json, '{"eid":"EID","recv_ts":TS,"app":"shop","module":"home-feed",'
        . '"action":"click","object":"991","uid":"42","ts":1732540000000,'
        . '"ip":"203.0.113.7","ua":"Mozilla/5.0 (test) \"quoted\"",'
        . '"referer":"https://shop.example/feed?x=1",'
        . '"props":{"pos":"3","q":"a\"b\\\\c d"},'
        . '"fields":{"host":"127.0.0.1","scheme":"http"}}',
   'pixel event stored byte for byte');

# 2: a beacon with a client eid, numeric ids and typed properties
$before = now_ms();
$res = http('POST', "$base/collect",
            '{"eid":"c-1","app":"shop","module":"cart","action":"add",'
            . '"object":17,"uid":42,"props":{"n":2,"f":1.5,"b":true,'
            . '"z":null,"s":"\u00e9\ud83d\ude00"}}',
            { 'Content-Type' => 'application/json' });
$after = now_ms();
is($res->{status}, 204, 'beacon answered 204');
$rows = stored();
is(scalar @$rows, 1, 'one event stored for the beacon');
like($rows->[0], qr/^\{"eid":"c-1","recv_ts":\d+,/, 'client eid kept');
(my $beacon = $rows->[0]) =~ s/"recv_ts":\d+,/"recv_ts":TS,/;
is($beacon, '{"eid":"c-1","recv_ts":TS,"app":"shop","module":"cart",'
          . '"action":"add","object":"17","uid":"42","ip":"127.0.0.1",'
          . '"ua":"HTTP-Tiny/' . HTTP::Tiny->VERSION . '",'
          . '"props":{"n":2,"f":1.5,"b":true,"z":null,'
          . qq{"s":"\xc3\xa9\xf0\x9f\x98\x80"}
          . '}}',
   'beacon event stored byte for byte, UTF-8 unescaped');

# 3: a batch keeps its order, each event gets its own id
$res = http('POST', "$base/collect",
            '[' . join(',', map { sprintf('{"app":"a","module":"m",'
                                          . '"action":"v","object":"%d"}', $_)
                                } 1 .. 5) . ']',
            { 'Content-Type' => 'text/plain;charset=UTF-8' });
is($res->{status}, 204, 'batch answered 204');
$rows = stored();
is(scalar @$rows, 5, 'five events stored for the batch');
my $json_pp = JSON::PP->new;
my @events = map { $json_pp->decode($_) } @$rows;
is_deeply([map { $_->{object} } @events], [1 .. 5], 'batch order kept');
my %ids = map { $_->{eid} => 1 } @events;
is(scalar keys %ids, 5, 'every event of the batch has its own id');
ok(!(grep { $_->{eid} !~ /^$eid_re$/ } @events), 'ids are 32 hex digits');
is_deeply([sort { $a cmp $b } keys %ids], [map { $_->{eid} } @events],
          'ids are time-ordered within the batch');

# 4: an invalid header value is kept, made valid UTF-8 (raw request: HTTP
# clients refuse to send such a header)
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
    or die "connect: $!";
print $sock "GET /t.gif?app=a&module=m&action=v HTTP/1.0\r\n"
          . "User-Agent: bad\xff\xfeua\r\n\r\n";
my $status_line = <$sock>;
close $sock;
like($status_line, qr{^HTTP/1\.1 200 },
     'pixel with a non-UTF-8 user agent answered');
$rows = stored();
like($rows->[0], qr/"ua":"bad\xef\xbf\xbd\xef\xbf\xbdua"/,
     'invalid bytes became U+FFFD');

# 5. privacy: anonymised address, dropped fields, Do Not Track, consent
$res = http('GET', "$base/private.gif?app=a&module=m&action=p&uid=42",
            undef, { 'Cookie' => 'consent=1', 'Referer' => 'https://x/' });
is($res->{status}, 200, 'private pixel answered');
$rows = stored();
is(scalar @$rows, 1, 'stored with consent');
(my $private = $rows->[0]) =~ s/^\{"eid":"$eid_re","recv_ts":\d+,/{/;
is($private, '{"app":"a","module":"m","action":"p","ip":"127.0.0.0"}',
   'last octet zeroed, user agent, referer and uid dropped');

for my $case (['DNT' => '1'], ['Sec-GPC' => '1'], ['Cookie' => 'consent=0'],
              ['X-None' => 'no consent cookie'])
{
    my %h = @$case;
    $h{Cookie} //= 'consent=1' unless $case->[0] eq 'X-None';
    $res = http('GET', "$base/private.gif?app=a&module=m&action=p", undef,
                \%h);
    is($res->{status}, 200, "$case->[0]: answered like any pixel");
    is(scalar @{ stored() }, 0, "$case->[0]: nothing recorded");
}

done_testing();
