# SPDX-License-Identifier: BSD-2-Clause
# Redis unreachable: events fail fast with 503 and a clear log line, and the
# worker keeps serving other locations.

use Test::Nginx::Socket;

repeat_each(2);

# the reconnect timer logs with backoff, not once per request: a repetition
# (slow under valgrind) may see no new line, so every check reads it all
check_accum_error_log();

plan tests => repeat_each() * (4 * blocks());

run_tests();

__DATA__

=== TEST 1: 503 with a JSON reason when nothing listens
--- http_config
    track_redis 127.0.0.1:1;
--- config
    location = /t { track; }
--- request
GET /t?app=shop&module=m&action=a
--- error_code: 503
--- response_body
{"error":"unavailable","message":"the event store is unavailable; retry later"}
--- error_log
track: redis at 127.0.0.1:1: could not connect
events get 503 until it is back



=== TEST 2: other locations keep answering
--- http_config
    track_redis 127.0.0.1:1;
--- config
    location = /t { track; }
    location = /ok { return 200 "ok\n"; }
--- request
GET /ok
--- response_body
ok
--- error_log
could not connect
--- no_error_log
[alert]
