# SPDX-License-Identifier: BSD-2-Clause
# Every rejection path: status, JSON reason, and an info-level log line
# that quotes no client data.

use Test::Nginx::Socket;

repeat_each(2);

# status + body + error_log + no_error_log
plan tests => repeat_each() * (4 * blocks());

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:reject;
};

run_tests();

__DATA__

=== TEST 1: missing required field
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?module=m&action=a
--- error_code: 400
--- response_body
{"error":"missing_field","message":"required field is missing","field":"app"}
--- error_log
track: rejected: missing_field: required field is missing, field app
--- no_error_log
[error]



=== TEST 2: empty required field
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=
--- error_code: 400
--- response_body
{"error":"missing_field","message":"required field is empty","field":"action"}
--- error_log
track: rejected: missing_field
--- no_error_log
[error]



=== TEST 3: field longer than track_max_field_length
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_field_length 8; }
--- request
GET /t?app=shop&module=123456789&action=a
--- error_code: 400
--- response_body
{"error":"too_long","message":"value too long","field":"module"}
--- error_log
track: rejected: too_long
--- no_error_log
[error]



=== TEST 4: invalid percent-encoding
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=%zzshop&module=m&action=a
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"invalid percent-encoding in query string"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 5: truncated percent-encoding at the end
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a%4
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"invalid percent-encoding in query string"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 6: control character
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m%01&action=a
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"value is not valid UTF-8 or has control characters","field":"module"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 7: NUL byte
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a%00b
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"value is not valid UTF-8 or has control characters","field":"action"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 8: overlong UTF-8
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=%C0%AF&action=a
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"value is not valid UTF-8 or has control characters","field":"module"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 9: UTF-16 surrogate encoded in UTF-8
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a&object=%ED%A0%80
--- error_code: 400
--- response_body
{"error":"bad_encoding","message":"value is not valid UTF-8 or has control characters","field":"object"}
--- error_log
track: rejected: bad_encoding
--- no_error_log
[error]



=== TEST 10: duplicated argument
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a&app=other
--- error_code: 400
--- response_body
{"error":"duplicate_field","message":"field given more than once","field":"app"}
--- error_log
track: rejected: duplicate_field
--- no_error_log
[error]



=== TEST 11: too many arguments
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_args 3; }
--- request
GET /t?app=shop&module=m&action=a&x=1
--- error_code: 400
--- response_body
{"error":"too_many_fields","message":"too many query arguments"}
--- error_log
track: rejected: too_many_fields
--- no_error_log
[error]



=== TEST 12: too many properties
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_props 1; }
--- request
GET /t?app=shop&module=m&action=a&p.a=1&p.b=2
--- error_code: 400
--- response_body
{"error":"too_many_fields","message":"too many properties","field":"props"}
--- error_log
track: rejected: too_many_fields
--- no_error_log
[error]



=== TEST 13: client time that is not a number
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a&ts=12ab
--- error_code: 400
--- response_body
{"error":"invalid_value","message":"ts must be an integer of milliseconds below 2^53","field":"ts"}
--- error_log
track: rejected: invalid_value
--- no_error_log
[error]



=== TEST 14: client time out of range
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a&ts=9007199254740992
--- error_code: 400
--- response_body
{"error":"invalid_value","message":"ts must be an integer of milliseconds below 2^53","field":"ts"}
--- error_log
track: rejected: invalid_value
--- no_error_log
[error]



=== TEST 15: body that is not JSON
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":"shop",
--- error_code: 400
--- response_body
{"error":"invalid_json","message":"body is not valid JSON"}
--- error_log
track: rejected: invalid_json
--- no_error_log
[error]



=== TEST 16: duplicated JSON key
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":"shop","module":"m","action":"a","app":"x"}
--- error_code: 400
--- response_body
{"error":"duplicate_field","message":"duplicate key in JSON object"}
--- error_log
track: rejected: duplicate_field
--- no_error_log
[error]



=== TEST 17: wrong JSON type for a field
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":["shop"],"module":"m","action":"a"}
--- error_code: 400
--- response_body
{"error":"invalid_value","message":"field must be a string","field":"app"}
--- error_log
track: rejected: invalid_value
--- no_error_log
[error]



=== TEST 18: nested properties
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":"shop","module":"m","action":"a","props":{"x":{"y":1}}}
--- error_code: 400
--- response_body
{"error":"invalid_value","message":"property values must be strings, numbers, booleans or null","field":"props"}
--- error_log
track: rejected: invalid_value
--- no_error_log
[error]



=== TEST 19: a batch with one bad event is rejected whole
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: text/plain
--- request
POST /t
[{"app":"shop","module":"m","action":"a"},{"app":"shop","module":"m"}]
--- error_code: 400
--- response_body
{"error":"missing_field","message":"required field is missing","field":"action"}
--- error_log
track: rejected: missing_field
--- no_error_log
[error]



=== TEST 20: empty batch
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
[]
--- error_code: 400
--- response_body
{"error":"invalid_json","message":"empty array of events"}
--- error_log
track: rejected: invalid_json
--- no_error_log
[error]



=== TEST 21: too many events in a batch
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_events 2; }
--- more_headers
Content-Type: application/json
--- request
POST /t
[{"app":"s","module":"m","action":"a"},{"app":"s","module":"m","action":"a"},{"app":"s","module":"m","action":"a"}]
--- error_code: 400
--- response_body
{"error":"too_many_events","message":"too many events in one request"}
--- error_log
track: rejected: too_many_events
--- no_error_log
[error]



=== TEST 22: body larger than track_max_body_size
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_body_size 16; }
--- more_headers
Content-Type: application/json
--- request
POST /t
{"app":"shop","module":"m","action":"a"}
--- error_code: 413
--- response_body
{"error":"body_too_large","message":"request body too large"}
--- error_log
track: rejected: body_too_large
--- no_error_log
[error]



=== TEST 23: wrong content type
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /t
app=shop&module=m&action=a
--- error_code: 415
--- response_body
{"error":"unsupported_media_type","message":"use text/plain or application/json"}
--- error_log
track: rejected: unsupported_media_type
--- no_error_log
[error]



=== TEST 24: a serialised event larger than track_max_event_size
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; track_max_event_size 100; }
--- request
GET /t?app=shop&module=m&action=a&p.long=0123456789012345678901234567890123456789
--- error_code: 413
--- response_body
{"error":"too_long","message":"event too large"}
--- error_log
track: rejected: too_long: event too large
--- no_error_log
[error]



=== TEST 25: methods other than GET, HEAD, POST and OPTIONS
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
--- request
DELETE /t?app=shop&module=m&action=a
--- error_code: 405
--- response_body
{"error":"method_not_allowed","message":"use GET, HEAD, POST or OPTIONS"}
--- error_log
track: rejected: method_not_allowed
--- no_error_log
[error]
