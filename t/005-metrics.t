# SPDX-License-Identifier: BSD-2-Clause
# track_metrics: Prometheus text with the counters of all track locations.

use Test::Nginx::Socket;

repeat_each(2);

# two requests: status + body each, both no_error_log patterns per request
plan tests => repeat_each() * (8 * blocks());

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our $HttpConfig = qq{
    track_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    track_redis_key test:metrics;
};

run_tests();

__DATA__

=== TEST 1: a rejection is counted by reason
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
    location = /metrics { track_metrics; }
--- request eval
["GET /t?app=shop&module=m&action=a&ts=x", "GET /metrics"]
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/"invalid_value"/, qr/^track_requests_rejected_total\{reason="invalid_value"\} [1-9]/m]
--- no_error_log eval
["[error]", "[error]"]



=== TEST 2: accepted events are counted as pushed
--- http_config eval: $::HttpConfig
--- config
    location = /t { track; }
    location = /metrics { track_metrics; }
--- request eval
["GET /t?app=shop&module=m&action=a", "GET /metrics"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/GIF89a/, qr/^track_events_pushed_total [1-9].*^track_events_failed_total 0\n.*^track_redis_connected_workers 1\n/ms]
--- no_error_log eval
["[error]", "[error]"]
