# SPDX-License-Identifier: BSD-2-Clause
# CORS: preflight for configured origins, the headers on real requests, and
# refusal of other origins.

use Test::Nginx::Socket;

repeat_each(2);

# status + body + three header names + no_error_log
plan tests => repeat_each() * (6 * blocks());

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:cors;
};

run_tests();

__DATA__

=== TEST 1: preflight from an allowed origin
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin https://shop.example https://m.shop.example;
    }
--- more_headers
Origin: https://m.shop.example
Access-Control-Request-Method: POST
Access-Control-Request-Headers: content-type
--- request
OPTIONS /t
--- error_code: 204
--- response_body
--- response_headers
Access-Control-Allow-Origin: https://m.shop.example
Access-Control-Allow-Methods: GET, POST, OPTIONS
Access-Control-Allow-Headers: Content-Type
--- no_error_log
[error]



=== TEST 2: preflight from another origin is refused
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin https://shop.example;
    }
--- more_headers
Origin: https://evil.example
Access-Control-Request-Method: POST
--- request
OPTIONS /t
--- error_code: 403
--- response_body
{"error":"origin_not_allowed","message":"origin not allowed"}
--- response_headers
Access-Control-Allow-Origin:
Content-Type: application/json
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 3: a beacon from a listed origin gets the CORS headers
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin https://shop.example;
    }
--- more_headers
Origin: https://shop.example
Content-Type: text/plain
--- request
POST /t
{"app":"shop","module":"m","action":"a"}
--- error_code: 204
--- response_body
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Allow-Credentials: true
Vary: Origin
--- no_error_log
[error]



=== TEST 4: any origin with "*", but never with credentials
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin *;
    }
--- more_headers
Origin: https://anything.example
Content-Type: text/plain
--- request
POST /t
{"app":"shop","module":"m","action":"a"}
--- error_code: 204
--- response_body
--- response_headers
Access-Control-Allow-Origin: https://anything.example
Access-Control-Allow-Credentials:
Vary: Origin
--- no_error_log
[error]



=== TEST 5: a pixel from another origin is refused when origins are listed
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
        track_cors_origin https://shop.example;
    }
--- more_headers
Origin: https://evil.example
--- request
GET /t?app=shop&module=m&action=a
--- error_code: 403
--- response_body
{"error":"origin_not_allowed","message":"origin not allowed"}
--- response_headers
Access-Control-Allow-Origin:
Vary:
Cache-Control: no-store
--- no_error_log
[error]



=== TEST 6: without track_cors_origin, OPTIONS lists the methods only
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        track;
    }
--- more_headers
Origin: https://shop.example
--- request
OPTIONS /t
--- error_code: 204
--- response_body
--- response_headers
Allow: GET, HEAD, POST, OPTIONS
Access-Control-Allow-Origin:
Access-Control-Allow-Methods:
--- no_error_log
[error]
