# SPDX-License-Identifier: BSD-2-Clause
# What hostile requests leave in Redis, byte for byte: valid edge cases and
# injection lookalikes stored verbatim as JSON data, header values made clean
# and cut, rejected requests and batches storing nothing, rejected bodies
# never read as a further request, pipelined and temp-file bodies in order;
# and every stored element within what the consumer stores (strict UTF-8,
# no control characters, column widths).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Encode qw(encode);
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);
use TrackTest;

my $dir = scratch_dir();
my $redis_port = free_port();
start_redis("$dir/redis", $redis_port);

my $port = start_nginx("$dir/nginx", <<"EOF", workers => 1, locations => <<'EOF2');
    track_redis 127.0.0.1:$redis_port;
    track_redis_key it:hostile;
EOF
        location = /t { track; track_response empty; }
        location = /small { track; client_body_buffer_size 128; }
        location = /cors { track; track_cors_origin https://ok.example; }
        location = /h { track; track_response empty;
                        track_max_header_length 16;
                        set_real_ip_from 127.0.0.1;
                        real_ip_header X-Forwarded-For; }
EOF2

my $base = "http://127.0.0.1:$port";
my $json = JSON::PP->new->utf8;
my @all;     # every element stored during the test

# LRANGE over RESP, so the elements come back exactly as stored
sub take {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$redis_port")
        or die "redis: $!";
    my @cmd = ('LRANGE', 'it:hostile', '0', '-1');
    print $s '*' . @cmd . "\r\n", map { '$' . length($_) . "\r\n$_\r\n" } @cmd;
    my $head = <$s>;
    $head =~ /^\*(\d+)\r\n$/ or die "unexpected reply: $head";
    my @out;
    for (1 .. $1) {
        my $len = <$s>;
        $len =~ /^\$(\d+)\r\n$/ or die "unexpected bulk: $len";
        my $n = $1;
        read($s, my $data, $n + 2) == $n + 2 or die "short read";
        push @out, substr($data, 0, $n);
    }
    close $s;
    redis_cli($redis_port, 'del', 'it:hostile');
    push @all, @out;
    return @out;
}

# the generated id and receive time replaced, so the rest compares exactly
sub norm {
    my ($e) = @_;
    $e =~ s/^\{"eid":"[0-9a-f]{32}",/{"eid":"EID",/;
    $e =~ s/"recv_ts":\d+,/"recv_ts":TS,/;
    $e =~ s/,"ua":"HTTP-Tiny\/[^"]*"//;
    return $e;
}

# one request on its own connection, raw; returns everything read until the
# server closes or goes quiet for $quiet seconds
sub raw {
    my ($req, $quiet) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $s $req;
    my ($out, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read($quiet // 1)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $out .= $buf;
    }
    close $s;
    return $out;
}

sub statuses { return [$_[0] =~ m{^HTTP/1\.1 (\d{3}) }mg] }

# 1: edge UTF-8 and injection lookalikes in a pixel, stored as JSON data
my $res = http('GET', "$base/t?app=shop&module=%F4%8F%BF%BF%EF%BF%BF%C2%A0"
               . "&action=%E2%80%A8"
               . "&object=1%27%3B+DROP+TABLE+events%3B--"
               . "&uid=%22%7D%2C%22app%22%3A%22x"
               . "&p.h=%3C%2Fscript%3E&p.f=%25s%25n&p.b=%5C%27%5C"
               . "&p.l=a+%5Berror%5D+b");
is($res->{status}, 204, 'pixel with lookalike values accepted');
my @got = take();
is(scalar @got, 1, 'one event stored');
is(norm($got[0]),
   '{"eid":"EID","recv_ts":TS,"app":"shop",'
   . qq{"module":"\xf4\x8f\xbf\xbf\xef\xbf\xbf\xc2\xa0",}
   . qq{"action":"\xe2\x80\xa8",}
   . q["object":"1'; DROP TABLE events;--",]
   . q["uid":"\"},\"app\":\"x","ip":"127.0.0.1",]
   . q["props":{"h":"</script>","f":"%s%n","b":"\\\\'\\\\","l":"a [error] b"}}],
   'stored byte for byte: raw UTF-8, quotes and backslashes escaped once');

# 2: the same through a beacon, with JSON escapes the stored form resolves
$res = http('POST', "$base/t",
            '{"app":"shop","module":"\u00e9\ud83d\ude00\/","action":"a",'
            . '"object":-9223372036854775808,"uid":"\"},\"app\":\"x",'
            . '"eid":"e\\\\1","ts":9007199254740991,'
            . '"props":{"n":-0,"t":true,"z":null,"q":"it\'s"}}',
            { 'Content-Type' => 'application/json' });
is($res->{status}, 204, 'beacon with lookalike values accepted');
@got = take();
is(norm($got[0]),
   '{"eid":"e\\\\1","recv_ts":TS,"app":"shop",'
   . qq{"module":"\xc3\xa9\xf0\x9f\x98\x80/","action":"a",}
   . '"object":"-9223372036854775808","uid":"\"},\"app\":\"x",'
   . '"ts":9007199254740991,"ip":"127.0.0.1",'
   . q["props":{"n":0,"t":true,"z":null,"q":"it's"}}],
   'beacon stored byte for byte: escapes resolved, integers as text');
like($got[0], qr/^\{"eid":"e\\\\1","recv_ts":\d+,/, 'client eid kept');

# 3: rejected requests, batches and HEAD store nothing
my @rejected = (
    ['GET', '/t?app=%zz&module=m&action=a'],
    ['GET', '/t?app=shop&module=%C0%AF&action=a'],
    ['GET', '/t?app=shop&module=m&action=a%00'],
    ['GET', '/t?app=shop&module=m&action=a&ts=1&ts=2'],
    ['GET', '/t?app=shop&module=m&action=a&object=' . ('x' x 200)],
    ['POST', '/t', '[{"app":"s","module":"m","action":"a"},'
                   . '{"app":"s","module":"m","action":"a","ts":-1}]'],
    ['POST', '/t', '{"app":"s","module":"m","action":"a","props":{"x":[1]}}'],
    ['POST', '/t', '{"app":"s","module":"m","action":"a\u0000"}'],
    ['POST', '/t', '{"app":"s","module":"m","action":"a","n":1e400}'],
    ['POST', '/t', ('[' x 5000) . (']' x 5000)],
);
my $all_4xx = 1;
for my $r (@rejected) {
    my ($m, $path, $body) = @$r;
    my $st = http($m, "$base$path", $body,
                  { 'Content-Type' => 'application/json' })->{status};
    $all_4xx = 0, diag("$m $path: $st") unless $st =~ /^4\d\d$/;
}
ok($all_4xx, 'every hostile request answered 4xx');
is(http('HEAD', "$base/t?app=shop&module=m&action=a")->{status}, 204,
   'HEAD validates');
is(scalar(take()), 0, 'rejected requests, a half-bad batch and HEAD stored '
   . 'nothing');

# 4: header values are not validated but stored clean and cut on a
# character boundary (the module's rule, computed here independently)
# one well-formed UTF-8 character that is not a C0, DEL or C1 control
my $clean_char = qr/[\x20-\x7e]|\xc2[\xa0-\xbf]|[\xc3-\xdf][\x80-\xbf]
                   |\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}
                   |\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}
                   |[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}/x;

sub clean {
    my ($bytes, $max) = @_;
    my $out = '';
    while (length $bytes) {
        my $ch;
        if ($bytes =~ /^($clean_char)/) {
            $ch = $1;
            substr($bytes, 0, length $ch) = '';
        } else {
            $ch = "\xef\xbf\xbd";
            substr($bytes, 0, 1) = '';
        }
        last if length($out) + length($ch) > $max;
        $out .= $ch;
    }
    return $out;
}

my $ua = "bot\x01\x7f\xc2\x85\xc0\xaf\xed\xa0\x80\xff" . ('u' x 600);
my $referer = "https://r.example/\xe2\x82\xac" . ('r' x 600);
my $out = raw("GET /t?app=shop&module=m&action=a HTTP/1.1\r\nHost: x\r\n"
              . "User-Agent: $ua\r\nReferer: $referer\r\n"
              . "Connection: close\r\n\r\n");
is_deeply(statuses($out), [204], 'request with hostile headers accepted');
@got = take();
my $ev = $json->decode($got[0]);
is(encode('UTF-8', $ev->{ua}), clean($ua, 512),
   'User-Agent: invalid bytes and controls are U+FFFD, cut at 512 bytes');
is(encode('UTF-8', $ev->{referer}), clean($referer, 512),
   'Referer cut at 512 bytes');

$out = raw("GET /h?app=shop&module=m&action=a HTTP/1.1\r\nHost: x\r\n"
           . "User-Agent: abcdefghijklmn\xe2\x82\xac\r\n"
           . "Referer: \xff\xff\xff\xff\xff\xff\r\n"
           . "X-Forwarded-For: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\r\n"
           . "Connection: close\r\n\r\n");
@got = take();
like($got[0], qr/"ua":"abcdefghijklmn","referer":"(\xef\xbf\xbd){5}"/,
     'a character that does not fit the limit is left out whole');
like($got[0], qr/"ip":"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"/,
     'the client address is not cut at track_max_header_length');

# 5: a rejected request's body is never read as the next request
my $smuggled = "GET /t?app=smuggled&module=m&action=a HTTP/1.1\r\n"
               . "Host: x\r\n\r\n";
my $len = length $smuggled;
for my $case (
    ['415', "POST /t HTTP/1.1\r\nHost: x\r\nContent-Type: text/html\r\n"
            . "Content-Length: $len\r\n\r\n$smuggled"],
    ['413', "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
            . $smuggled],
    ['403', "POST /cors HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example"
            . "\r\nContent-Length: $len\r\n\r\n$smuggled"],
    ['405', "PUT /t HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\n\r\n"
            . $smuggled],
    ['400', "GET /t?app=shop HTTP/1.1\r\nHost: x\r\nContent-Length: $len"
            . "\r\n\r\n$smuggled"],
) {
    my ($want, $req) = @$case;
    is_deeply(statuses(raw($req, 0.5)), [$want],
              "$want on keep-alive: one answer, the body is not a request");
}
is(scalar(grep { /smuggled/ } take()), 0, 'no smuggled event stored');

# 6: pipelined requests are answered and stored in order
$out = raw(join('', map {
               "GET /t?app=shop&module=m&action=a&object=$_ HTTP/1.1\r\n"
               . "Host: x\r\n" . ($_ == 3 ? "Connection: close\r\n" : '')
               . "\r\n" } 1 .. 3));
is_deeply(statuses($out), [204, 204, 204], 'three pipelined answers');
is_deeply([map { $json->decode($_)->{object} } take()], [1, 2, 3],
          'stored in order');

# 7: a batch nginx wrote to a temporary file, and one slow client
my $batch = '[' . join(',', map { qq[{"app":"a","module":"m","action":"v",]
                                  . qq["object":"$_","props":{"pad":"]
                                  . ('p' x 40) . '"}}' } 1 .. 50) . ']';
is(http('POST', "$base/small", $batch,
        { 'Content-Type' => 'text/plain' })->{status}, 204,
   'a 4 kB batch buffered to a temporary file accepted');
is_deeply([map { $json->decode($_)->{object} } take()], [1 .. 50],
          'all 50 events stored in order');

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
my $body = '{"app":"slow","module":"m","action":"a"}';
$s->autoflush(1);
print $s "POST /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n"
         . substr($body, 0, 10);
Time::HiRes::sleep(0.1);
my $t0 = time;
my $fast = http('GET', "$base/t?app=fast&module=m&action=a")->{status};
my $elapsed = time - $t0;
for my $c (split //, substr($body, 10)) {
    print $s $c;
    Time::HiRes::sleep(0.01);
}
my $slow = do { local $/; <$s> };
close $s;
is($fast, 204, 'a request while a slow client trickles in its body');
ok($elapsed < 1, sprintf('answered without waiting for it (%.3f s)',
                         $elapsed));
like($slow // '', qr{^HTTP/1\.1 204 }, 'the slow client is answered too');
is_deeply([sort map { $json->decode($_)->{app} } take()], ['fast', 'slow'],
          'both stored');

# every element stored above is one the consumer can store
my $bad = 0;
for my $e (@all) {
    my $o = $e =~ /^(?:$clean_char)*$/ ? eval { $json->decode($e) } : undef;
    my @why;
    push @why, 'not clean UTF-8 JSON' unless ref $o eq 'HASH';
    if (ref $o eq 'HASH') {
        for my $k (qw(app module action)) {
            push @why, "$k missing" unless defined $o->{$k} && length $o->{$k};
        }
        for my $k (qw(app module action object uid)) {
            push @why, "$k over 128 bytes"
                if length(encode('UTF-8', $o->{$k} // '')) > 128;
        }
        push @why, 'eid over 64 bytes'
            if length(encode('UTF-8', $o->{eid} // '')) > 64;
        my @strings = grep { defined && !ref } (values %$o,
            map { ref eq 'HASH' ? values %$_ : () } values %$o);
        push @why, 'control character'
            if grep { /[\x00-\x1f\x7f-\x9f]/ } @strings;
    }
    $bad++, diag("not storable (@why): $e") if @why;
}
ok(@all > 50, scalar(@all) . ' elements stored in all');
is($bad, 0, 'every stored element is clean UTF-8 JSON within the columns');

done_testing();
