# SPDX-License-Identifier: BSD-2-Clause
# GET pixel requests: the reply (GIF or 204), its headers, enrichment
# variables, and what is accepted.

use Test::Nginx::Socket;

repeat_each(2);

# per block: status + body check + one per header name + log checks
plan tests => repeat_each() * (5 + 4 + 4 + 4 + 4 + 5);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:pixel;
};

no_shuffle();
run_tests();

__DATA__

=== TEST 1: pixel answers a 1x1 GIF that no cache keeps
--- http_config eval: $::HttpConfig
--- config
    location = /t.gif {
        track;
    }
--- request
GET /t.gif?app=shop&module=home-feed&action=click&object=991&uid=42
--- response_headers
Content-Type: image/gif
Content-Length: 43
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 2: track_response empty answers 204 without a body
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_response empty;
    }
--- request
GET /t?app=shop&module=home-feed&action=view
--- error_code: 204
--- response_body
--- response_headers
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 3: $track_event_id holds the client's eid
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_response empty;
        add_header X-Event-Id $track_event_id;
        add_header X-Events $track_events;
    }
--- request
GET /t?app=shop&module=m&action=a&eid=client-id-1
--- error_code: 204
--- response_headers
X-Event-Id: client-id-1
X-Events: 1
--- no_error_log
[error]



=== TEST 4: a generated event id is 32 hex digits
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_response empty;
        add_header X-Event-Id $track_event_id;
    }
--- request
GET /t?app=shop&module=m&action=a
--- error_code: 204
--- response_headers_like
X-Event-Id: [0-9a-f]{32}
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 5: properties, UTF-8, '+' for spaces and unknown arguments
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_response empty;
        add_header X-Event-Id $track_event_id;
    }
--- request
GET /t?app=shop&module=%E9%A6%96%E9%A1%B5&action=a+b&p.pos=3&p.emoji=%F0%9F%98%80&_=12345&eid=e5
--- error_code: 204
--- response_headers
X-Event-Id: e5
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 6: HEAD validates and answers the pixel's headers
--- http_config eval: $::HttpConfig
--- config
    location = /t.gif {
        track;
    }
--- request
HEAD /t.gif?app=shop&module=m&action=a
--- response_headers
Content-Type: image/gif
Cache-Control: no-store
--- response_body
--- no_error_log
[error]
