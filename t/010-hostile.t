# SPDX-License-Identifier: BSD-2-Clause
# Hostile and malformed requests from the open internet: each is stored
# (where it is valid) or answered 4xx with a JSON reason; none crashes,
# blocks a worker or logs client data.  What exactly reaches Redis is checked
# in t/integration/module/hostile-stored.t.

use Test::Nginx::Socket;

repeat_each(2);

# Every request has 4 tests: status, body, and two error-log patterns (the
# rejection's log line and no [error], or no [error] and no [alert]); the
# block with ignore_response has its two log patterns only (nginx logs
# nothing when it drops a client whose body times out: the check is that it
# closes the connection within --- timeout).  TEST 35 checks three headers
# more; TEST 36 one header and one log pattern; TEST 37 the status and body
# of its two requests only.  Requests per block:
our @Requests = (5, 10, 5, 3, 4, 3, 1, 2, 3, 4,     # TEST 1-10
                 3, 2, 1, 2, 10, 6, 1, 2, 1, 1,     # TEST 11-20
                 1, 1, 2, 1, 3, 4, 6, 3, 1, 1,      # TEST 21-30
                 2, 2, 0, 1, 1, 1, 0);              # TEST 31-37
plan tests => repeat_each() * (4 * eval { my $n = 0; $n += $_ for @Requests;
                                          $n } + 2 + 3 + 4);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:hostile;
};

# the one-line JSON reason of a rejection
sub reason {
    my ($code, $msg, $field) = @_;
    return qq{{"error":"$code","message":"$msg"}\n} unless defined $field;
    return qq{{"error":"$code","message":"$msg","field":"$field"}\n};
}

our $Q = 'app=shop&module=m&action=a';
our $Ev = '"app":"shop","module":"m","action":"a"';
our $BadPct = reason('bad_encoding', 'invalid percent-encoding in query string');
our $NotJson = reason('invalid_json', 'body is not valid JSON');
sub bad_utf8 {
    reason('bad_encoding',
           'value is not valid UTF-8 or has control characters', $_[0]);
}
sub too_long { reason('too_long', 'value too long', $_[0]) }
sub invalid { reason('invalid_value', $_[0], $_[1]) }
our $NotString = 'field must be a string';
our $NotId = 'field must be a string or an integer';
our $BadTs = 'ts must be an integer of milliseconds below 2^53';
our $Range = 'number out of range';
our $NotFlat = 'props must be a flat JSON object';
our $BadType = reason('unsupported_media_type',
                      'use text/plain or application/json');

# query strings: 64 arguments (the limit) and one more; empty ones do not count
our $Args64 = join '&', $Q, map { "x$_=1" } 1 .. 61;
our $Args65 = "$Args64&x62=1";
our $Props33 = join '&', $Q, map { "p.k$_=1" } 1 .. 33;
our $Props32 = join '&', $Q, map { "p.k$_=1" } 1 .. 32;
our $Empties = $Q . ('&' x 2000);

# JSON: nesting past jansson's depth limit; inside an ignored member; batches
our $Deep = ('[' x 3000) . (']' x 3000);
our $DeepIgnored = qq[{$Ev,"x":] . ('[' x 1000) . (']' x 1000) . '}';
our $Batch100 = '[' . join(',', ("{$Ev}") x 100) . ']';
our $Batch101 = '[' . join(',', ("{$Ev}") x 101) . ']';

our $Extremes = '[{' . $Ev . ',"ts":0,"object":-9223372036854775808},{'
    . $Ev . ',"ts":9007199254740991,"uid":9223372036854775807,'
    . '"props":{"f":-0.0,"e":1e308,"t":true,"z":null}}]';

# a body of exactly 64 bytes, and 65
our $Body64 = qq[{$Ev,"props":{"k":"] . ('x' x 7) . '"}}';
our $Body65 = qq[{$Ev,"props":{"k":"] . ('x' x 8) . '"}}';

# 10 kB in 100-byte chunks; a batch of 2.5 kB for a 128-byte body buffer
our $Chunked10k = join('', map { "64\r\n" . ('x' x 100) . "\r\n" } 1 .. 100)
                  . "0\r\n\r\n";
our $Batch2k = '[' . join(',', map { qq[{$Ev,"object":"$_"}] } 1 .. 50) . ']';

# the pixel (a 204 has no length, so a pipelined one would have to come last)
our $Gif = join '', map { chr } 0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00,
    0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21,
    0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b;

our $Flood = join "\n", map { "X-Flood-$_: " . ('v' x 50) } 1 .. 90;
our $LongUa = 'Mozilla/5.0 ' . ('u' x 4000);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: broken percent-encoding anywhere, even in an ignored argument
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
["GET /t?app=%&module=m&action=a",
 "GET /t?app=%G1&module=m&action=a",
 "GET /t?$::Q&_=%zz",
 "GET /t?%%61pp=shop&module=m&action=a",
 "GET /t?$::Q&p.x%=1"]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body eval
[($::BadPct) x 5]
--- error_log
track: rejected: bad_encoding: invalid percent-encoding in query string
--- no_error_log
[error]



=== TEST 2: overlong forms, surrogates, out of range, truncated, controls
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
[map { "GET /t?app=shop&action=a&module=x$_" }
 qw(%C0%80 %E0%80%AF %F0%80%80%AF %F4%90%80%80 %FF %C3 %ED%BF%BF %C2%85
    %7F %1B)]
--- error_code eval
[(400) x 10]
--- response_body eval
[(main::bad_utf8('module')) x 10]
--- error_log
track: rejected: bad_encoding: value is not valid UTF-8 or has control characters, field module
--- no_error_log
[error]



=== TEST 3: the edges of valid UTF-8 are accepted
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_response empty; }
--- request eval
[map { "GET /t?app=shop&action=a&module=x$_" }
 qw(%F4%8F%BF%BF %EF%BF%BF %C2%A0 %E2%80%A8 %ED%9F%BF)]
--- error_code eval
[(204) x 5]
--- response_body eval
[("") x 5]
--- no_error_log
[error]
track: rejected



=== TEST 4: NUL bytes in the query string
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
["GET /t?$::Q&p.a%00b=1",
 "GET /t?app%00=shop&module=m&action=a",
 "GET /t?$::Q&eid=%00"]
--- error_code eval
[400, 400, 400]
--- response_body eval
[main::bad_utf8('props'),
 main::reason('missing_field', 'required field is missing', 'app'),
 main::bad_utf8('eid')]
--- error_log
track: rejected:
--- no_error_log
[error]



=== TEST 5: NUL bytes and control characters in a JSON body
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
[qq[POST /t\n{"app":"shop","module":"m","action":"a\0"}],
 qq[POST /t\n{"app":"shop","module":"m","action":"a\\u0000"}],
 qq[POST /t\n{$::Ev,"props":{"a\\u0000b":1}}],
 qq[POST /t\n{"app":"shop","module":"m","action":"a\\u001b"}]]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[$::NotJson, $::NotJson, $::NotJson, main::bad_utf8('action')]
--- error_log
track: rejected:
--- no_error_log
[error]



=== TEST 6: values over their limits
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
["GET /t?$::Q&object=" . ('x' x 5000),
 "GET /t?$::Q&p.k=" . ('y' x 2000),
 "GET /t?$::Q&p." . ('n' x 65) . "=1"]
--- error_code eval
[400, 400, 400]
--- response_body eval
[main::too_long('object'), main::too_long('props'), main::too_long('props')]
--- error_log
track: rejected: too_long: value too long
--- no_error_log
[error]



=== TEST 7: a request line over nginx's buffers never reaches the module
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
"GET /t?$::Q&object=" . ('x' x 9000)
--- error_code: 414
--- response_body_like: 414 Request-URI Too Large
--- error_log
client sent too long URI
--- no_error_log
[error]



=== TEST 8: too many arguments or properties
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
["GET /t?$::Args65", "GET /t?$::Props33"]
--- error_code eval
[400, 400]
--- response_body eval
[main::reason('too_many_fields', 'too many query arguments'),
 main::reason('too_many_fields', 'too many properties', 'props')]
--- error_log
track: rejected: too_many_fields
--- no_error_log
[error]



=== TEST 9: as many arguments and properties as allowed; empty ones are free
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_response empty; }
--- request eval
["GET /t?$::Args64", "GET /t?$::Props32", "GET /t?$::Empties"]
--- error_code eval
[204, 204, 204]
--- response_body eval
["", "", ""]
--- no_error_log
[error]
track: rejected



=== TEST 10: a key given twice in the query, however it is spelled
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request eval
["GET /t?$::Q&ts=1&ts=2",
 "GET /t?$::Q&p.a=1&p.a=2",
 "GET /t?$::Q&%61pp=other",
 "GET /t?$::Q&eid=x&eid="]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[main::reason('duplicate_field', 'field given more than once', 'ts'),
 main::reason('duplicate_field', 'property given more than once', 'props'),
 main::reason('duplicate_field', 'field given more than once', 'app'),
 main::reason('duplicate_field', 'field given more than once', 'eid')]
--- error_log
track: rejected: duplicate_field
--- no_error_log
[error]



=== TEST 11: a key given twice in JSON, at any level, however it is spelled
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
[qq[POST /t\n{$::Ev,"props":{"a":1,"a":2}}],
 qq[POST /t\n{$::Ev,"\\u0061pp":"other"}],
 qq[POST /t\n[{$::Ev},{$::Ev,"uid":"1","uid":"2"}]]]
--- error_code eval
[400, 400, 400]
--- response_body eval
[(main::reason('duplicate_field', 'duplicate key in JSON object')) x 3]
--- error_log
track: rejected: duplicate_field
--- no_error_log
[error]



=== TEST 12: nesting deeper than the parser allows, nested properties
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /t\n$::Deep",
 qq[POST /t\n{$::Ev,"props":{"a":[[[[1]]]]}}]]
--- error_code eval
[400, 400]
--- response_body eval
[$::NotJson,
 main::invalid('property values must be strings, numbers, booleans or null',
               'props')]
--- error_log
track: rejected:
--- no_error_log
[error]



=== TEST 13: deep nesting in a member the module ignores is accepted
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
"POST /t\n$::DeepIgnored"
--- error_code: 204
--- response_body
--- no_error_log
[error]
track: rejected



=== TEST 14: a batch of track_max_events is accepted, one more is not
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /t\n$::Batch100", "POST /t\n$::Batch101"]
--- error_code eval
[204, 400]
--- response_body eval
["", main::reason('too_many_events', 'too many events in one request')]
--- no_error_log
[error]
[alert]



=== TEST 15: JSON values of the wrong type
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: text/plain
--- request eval
[map { "POST /t\n$_" }
 qq[{"app":1,"module":"m","action":"a"}],
 qq[{$::Ev,"object":true}],
 qq[{$::Ev,"object":1.5}],
 qq[{$::Ev,"eid":5}],
 qq[{$::Ev,"ts":"1732540000000"}],
 qq[{$::Ev,"props":[]}],
 qq[{$::Ev,"props":"x"}],
 qq[[{$::Ev},"x"]],
 qq["x"],
 qq[5]]
--- error_code eval
[(400) x 10]
--- response_body eval
[main::invalid($::NotString, 'app'), main::invalid($::NotId, 'object'),
 main::invalid($::NotId, 'object'),
 main::invalid($::NotString, 'eid'), main::invalid($::BadTs, 'ts'),
 main::invalid($::NotFlat, 'props'), main::invalid($::NotFlat, 'props'),
 main::reason('invalid_json', 'an event must be a JSON object'),
 $::NotJson, $::NotJson]
--- error_log
track: rejected:
--- no_error_log
[error]



=== TEST 16: numbers out of range
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_field_length 8; }
--- more_headers
Content-Type: application/json
--- request eval
[map { "POST /t\n$_" }
 qq[{$::Ev,"ts":-1}],
 qq[{$::Ev,"ts":9007199254740992}],
 qq[{$::Ev,"ts":1e3}],
 qq[{$::Ev,"ts":99999999999999999999}],
 qq[{$::Ev,"props":{"n":1e400}}],
 qq[{$::Ev,"object":123456789}]]
--- error_code eval
[(400) x 6]
--- response_body eval
[main::invalid($::BadTs, 'ts'), main::invalid($::BadTs, 'ts'),
 main::invalid($::BadTs, 'ts'), main::invalid($::Range),
 main::invalid($::Range), main::too_long('object')]
--- error_log
track: rejected:
--- no_error_log
[error]



=== TEST 17: the extremes of the ranges are accepted
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
"POST /t\n$::Extremes"
--- error_code: 204
--- response_body
--- no_error_log
[error]
track: rejected



=== TEST 18: a body of track_max_body_size bytes is accepted, one more is not
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_body_size 64; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /t\n$::Body64", "POST /t\n$::Body65"]
--- error_code eval
[204, 413]
--- response_body eval
["", main::reason('body_too_large', 'request body too large')]
--- no_error_log
[error]
[alert]



=== TEST 19: a chunked body over the limit, spilled to a temporary file
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_max_body_size 4k;
        client_body_buffer_size 1k;
    }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\n$::Chunked10k"
--- error_code: 413
--- response_body eval
main::reason('body_too_large', 'request body too large')
--- error_log
track: rejected: body_too_large
--- no_error_log
[error]



=== TEST 20: chunk extensions and trailers
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\n" . "5;ext=1\r\n" . '{"app' . "\r\n"
. "23\r\n" . '":"shop","module":"m","action":"a"}' . "\r\n"
. "0\r\nX-Trailer: 1\r\n\r\n"
--- error_code: 204
--- response_body
--- no_error_log
[error]
track: rejected



=== TEST 21: an empty chunked body is not JSON
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\n0\r\n\r\n"
--- error_code: 400
--- response_body eval
$::NotJson
--- error_log
track: rejected: invalid_json
--- no_error_log
[error]



=== TEST 22: broken chunked encoding is refused by nginx before the module
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\nzz\r\n{}\r\n0\r\n\r\n"
--- error_code: 400
--- response_body_like: 400 Bad Request
--- error_log
client sent invalid chunked body
--- no_error_log
track: rejected



=== TEST 23: a batch and an invalid body that nginx wrote to temporary files
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; client_body_buffer_size 128; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /t\n$::Batch2k", "POST /t\n" . substr($::Batch2k, 0, -1)]
--- error_code eval
[204, 400]
--- response_body eval
["", $::NotJson]
--- no_error_log
[error]
[alert]



=== TEST 24: a slow client sending its body in pieces
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
[["POST /t\n{\"app\":\"shop\",",
  {value => '"module":"m",', delay_before => 0.2},
  {value => '"action":"a"}', delay_before => 0.2}]]
--- error_code eval
[204]
--- response_body eval
[""]
--- no_error_log
[error]
track: rejected



=== TEST 25: HTTP/1.0: the pixel, a beacon, and a POST without a length
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_response empty; }
--- more_headers
Content-Type: application/json
--- request eval
["GET /t?$::Q HTTP/1.0",
 qq[POST /t HTTP/1.0\n{$::Ev}],
 "POST /t HTTP/1.0"]
--- error_code eval
[204, 204, 400]
--- response_body eval
["", "", $::NotJson]
--- no_error_log
[error]
[alert]



=== TEST 26: pipelined requests are answered in order
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers eval
["", "", "", "Content-Type: application/json"]
--- pipelined_requests eval
["GET /t?$::Q&object=1",
 "GET /t?module=m&action=a",
 "GET /t?$::Q&object=3",
 qq[POST /t\n{$::Ev,"object":"4"}]]
--- error_code eval
[200, 400, 200, 204]
--- response_body eval
[$::Gif, main::reason('missing_field', 'required field is missing', 'app'),
 $::Gif, ""]
--- no_error_log
[error]
[alert]



=== TEST 27: content types other than JSON or text/plain
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers eval
[map { "Content-Type: $_" }
 'application/jsonp', 'text/plain2', 'multipart/form-data; boundary=x',
 'application/x-www-form-urlencoded', 'text/html', 'application/json-seq']
--- request eval
[("POST /t\n{$::Ev}") x 6]
--- error_code eval
[(415) x 6]
--- response_body eval
[($::BadType) x 6]
--- error_log
track: rejected: unsupported_media_type
--- no_error_log
[error]



=== TEST 28: content types in other spellings
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers eval
["Content-Type: APPLICATION/JSON", "Content-Type: Text/Plain;charset=UTF-8",
 "Content-Type: application/json; charset=utf-8"]
--- request eval
[("POST /t\n{$::Ev}") x 3]
--- error_code eval
[204, 204, 204]
--- response_body eval
["", "", ""]
--- no_error_log
[error]
track: rejected



=== TEST 29: a flood of headers and a long User-Agent
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_response empty; }
--- more_headers eval
"$::Flood\nUser-Agent: $::LongUa\nReferer: https://r.example/$::LongUa"
--- request eval
"GET /t?$::Q"
--- error_code: 204
--- response_body
--- no_error_log
[error]
track: rejected



=== TEST 30: a header over nginx's buffers never reaches the module
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers eval
"X-Big: " . ('b' x 9000)
--- request eval
"GET /t?$::Q"
--- error_code: 400
--- response_body_like: Request Header Or Cookie Too Large
--- error_log
client sent too long header line
--- no_error_log
[error]



=== TEST 31: values that look like SQL, JSON, HTML or format strings are data
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_response empty; }
--- more_headers
Content-Type: application/json
--- request eval
["GET /t?$::Q&object=1%27%3B+DROP+TABLE+events%3B--&uid=%22%7D%2C%22app%22%3A%22x"
 . "&p.h=%3Cscript%3E&p.f=%25s%25n%25x&p.b=%5C%27%5C",
 qq[POST /t\n{$::Ev,"object":"1');DROP TABLE events;--",]
 . qq["uid":"\\"},\\"app\\":\\"x","props":{"f":"%s%n","b":"\\\\'"}}]]
--- error_code eval
[204, 204]
--- response_body eval
["", ""]
--- no_error_log
[error]
track: rejected



=== TEST 32: rejection log lines quote no client data
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request eval
["GET /t?$::Q&object=%5B%66orged%5D%01",
 qq[POST /t\n{$::Ev,"object":"\\n[crit] forged-line\\u0001"}]]
--- error_code eval
[400, 400]
--- response_body eval
[main::bad_utf8('object'), main::bad_utf8('object')]
--- error_log eval
qr/track: rejected: bad_encoding: value is not valid UTF-8 or has control characters, field object, client: /
--- no_error_log
forged



=== TEST 33: a client that stalls in the middle of its body is dropped
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; client_body_timeout 200ms; }
--- more_headers
Content-Type: application/json
Content-Length: 100
--- request eval
qq[POST /t\n{$::Ev]
--- timeout: 2
--- ignore_response
--- no_error_log
[error]
track: rejected



=== TEST 34: a body over client_max_body_size: nginx refuses it on its Content-Length before the handler runs; the answer is the module's
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; client_max_body_size 32; }
--- more_headers
Content-Type: application/json
--- request eval
"POST /t\n$::Body64"
--- error_code: 413
--- response_body eval
main::reason('body_too_large', 'request body too large')
--- error_log
track: rejected: body_too_large: request body over client_max_body_size
--- no_error_log
[alert]



=== TEST 35: a chunked body over client_max_body_size: refused by nginx while the handler reads it, answered in JSON with the module's headers
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin https://shop.example;
        client_max_body_size 1k;
    }
--- more_headers
Content-Type: application/json
Origin: https://shop.example
Transfer-Encoding: chunked
--- request eval
"POST /t\n$::Chunked10k"
--- error_code: 413
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: https://shop.example
--- response_body eval
main::reason('body_too_large', 'request body too large')
--- error_log
track: rejected: body_too_large: request body over client_max_body_size
--- no_error_log
[alert]



=== TEST 36: nginx's 413 outside a track location is left as it is
--- http_config eval: $::HttpConfig
--- config
    location = /t { client_max_body_size 32; return 200 "ok\n"; }
--- request eval
"POST /t\n$::Body64"
--- error_code: 413
--- response_headers
Content-Type: text/html
--- response_body_like eval
qr{<title>413 Request Entity Too Large</title>}
--- no_error_log
track: rejected



=== TEST 37: nginx's refusal is counted as a request and a rejection
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; client_max_body_size 32; }
    location = /m { track_metrics; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /t\n$::Body64", "GET /m"]
--- error_code eval
[413, 200]
--- response_body_like eval
[qr/body_too_large/,
 qr/^track_requests_rejected_total\{reason="body_too_large"\} [1-9]/m]
