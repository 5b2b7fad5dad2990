# SPDX-License-Identifier: BSD-2-Clause
# The spool as the answer when Redis is away: 2xx with the events on disk,
# 503 when the spool is full.

use Test::Nginx::Socket;
use File::Temp qw(tempdir);

# once: a worker logs the spool file it opens, not every event it writes
repeat_each(1);

# status + body + error_log + no_error_log
plan tests => repeat_each() * (4 * blocks());

# outside the server root, which Test::Nginx wipes and checks
$ENV{TEST_NGINX_SPOOL_DIR} ||= tempdir('track-spool-XXXXXX', TMPDIR => 1,
                                       CLEANUP => 1);

run_tests();

__DATA__

=== TEST 1: Redis unreachable: the pixel is spooled and answered 200
--- http_config
    track_redis 127.0.0.1:1;
    track_spool $TEST_NGINX_SPOOL_DIR/t1;
--- config
    location = /t.gif { track; }
--- request
GET /t.gif?app=shop&module=m&action=a
--- response_body_like: ^GIF89a
--- error_log
track: spooling events to
--- no_error_log
[crit]



=== TEST 2: a beacon batch is spooled whole
--- http_config
    track_redis 127.0.0.1:1;
    track_spool $TEST_NGINX_SPOOL_DIR/t2 fsync=on;
--- config
    location = /t { track; }
--- more_headers
Content-Type: application/json
--- request
POST /t
[{"app":"s","module":"m","action":"a"},{"app":"s","module":"m","action":"b"}]
--- error_code: 204
--- response_body
--- error_log
track: spooling events to
--- no_error_log
[crit]



=== TEST 3: a full spool answers 503
--- http_config
    track_redis 127.0.0.1:1;
    track_spool $TEST_NGINX_SPOOL_DIR/t3 max_size=10;
--- config
    location = /t.gif { track; }
--- request
GET /t.gif?app=shop&module=m&action=a
--- error_code: 503
--- response_body
{"error":"unavailable","message":"the event store is unavailable; retry later"}
--- error_log
is full (max_size=10), answering 503
--- no_error_log
[crit]



=== TEST 4: track_ack immediate answers at once and spools
--- http_config
    track_redis 127.0.0.1:1;
    track_spool $TEST_NGINX_SPOOL_DIR/t4;
--- config
    location = /t { track; track_ack immediate; track_response empty; }
--- request
GET /t?app=shop&module=m&action=a
--- error_code: 204
--- response_body
--- error_log
track: spooling events to
--- no_error_log
[crit]
