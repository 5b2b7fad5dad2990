# SPDX-License-Identifier: BSD-2-Clause
# POST beacons: JSON or text/plain bodies, one event or a batch, bodies that
# nginx buffered to a temporary file.

use Test::Nginx::Socket;

repeat_each(2);

# status + body + one header + no_error_log
plan tests => repeat_each() * (4 * blocks());

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:beacon;
};

our $BigBody = '{"app":"shop","module":"m","action":"a","props":{'
    . join(',', map { qq{"k$_":"} . ('x' x 900) . '"' } 1 .. 8) . '}}';

run_tests();

__DATA__

=== TEST 1: one JSON event
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; add_header X-Events $track_events; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":"shop","module":"cart","action":"add","object":17,"uid":42,"ts":1732540000000}
--- error_code: 204
--- response_body
--- response_headers
X-Events: 1
--- no_error_log
[error]



=== TEST 2: a batch sent by navigator.sendBeacon (text/plain)
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; add_header X-Events $track_events; }
--- more_headers
Content-Type: text/plain;charset=UTF-8
--- request
POST /t
[{"app":"shop","module":"feed","action":"view","object":"1"},{"app":"shop","module":"feed","action":"view","object":"2","props":{"pos":2,"ad":false,"note":null}}]
--- error_code: 204
--- response_body
--- response_headers
X-Events: 2
--- no_error_log
[error]



=== TEST 3: a body without a content type (a Blob beacon); null is "none"
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; add_header X-Events $track_events; }
--- request
POST /t
{"app":"shop","module":"m","action":"a","uid":null,"object":null}
--- error_code: 204
--- response_body
--- response_headers
X-Events: 1
--- no_error_log
[error]



=== TEST 4: a body that nginx wrote to a temporary file
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        client_body_buffer_size 1k;
        add_header X-Events $track_events;
    }
--- more_headers
Content-Type: application/json
--- request eval
"POST /t\n$::BigBody"
--- error_code: 204
--- response_body
--- response_headers
X-Events: 1
--- no_error_log
[error]



=== TEST 5: a chunked body
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; add_header X-Events $track_events; }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\n" . "14\r\n" . '{"app":"shop","modul' . "\r\n" . "15\r\n" . 'e":"m","action":"a"}' . "\r\n0\r\n\r\n"
--- error_code: 204
--- response_body
--- response_headers
X-Events: 1
--- no_error_log
[error]



=== TEST 6: a chunked body over the limit
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_body_size 20; }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /t\n" . "14\r\n" . '{"app":"shop","modul' . "\r\n" . "15\r\n" . 'e":"m","action":"a"}' . "\r\n0\r\n\r\n"
--- error_code: 413
--- response_body
{"error":"body_too_large","message":"request body too large"}
--- response_headers
Content-Type: application/json
--- no_error_log
[error]
