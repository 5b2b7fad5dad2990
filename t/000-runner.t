# SPDX-License-Identifier: BSD-2-Clause
# The test runner itself: every feature of the block format that the module
# suites rely on, with nginx core directives only.  Must give the same plan
# and the same results under t/lib and under upstream Test::Nginx
# (t/upstream.sh).

use Test::Nginx::Socket;

repeat_each(2);

# tests per block, in file order (SKIP blocks are not counted)
my @per_block = (3, 4, 6, 3, 6, 6, 2, 2, 4, 4, 4, 4, 2, 4, 2, 2, 4, 4, 2, 3);
my $total = 0;
$total += $_ for @per_block;
plan tests => repeat_each() * $total;

run_tests();

__DATA__

=== TEST 1: return with a body; error_log and no_error_log
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
GET /hello
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: 404 from the root location, the error is logged
--- config
--- request
GET /missing
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
open() "
/html/missing" failed



=== TEST 3: response headers: value, absent, case-insensitive name
--- config
    location = /h {
        add_header X-Foo bar;
        add_header X-Dup one;
        add_header X-Dup two;
        return 200 "ok\n";
    }
--- request
GET /h
--- response_headers
X-Foo: bar
x-dup: one, two
!X-Bar
Content-Type: text/plain
--- response_body
ok



=== TEST 4: response_headers_like
--- config
    location = /h {
        return 200 "ok\n";
    }
--- request
GET /h
--- response_headers_like
Server: nginx/1\.\d+\.\d+
--- response_body_unlike: ^ko



=== TEST 5: several requests on separate connections
--- config
    location = /a {
        return 200 "a\n";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\$", "Not Found"]
--- no_error_log
[crit]



=== TEST 6: pipelined requests on one connection
--- config
    location = /p {
        return 200 "p $request_uri\n";
    }
--- pipelined_requests eval
["GET /p?1", "GET /p?2"]
--- response_body eval
["p /p?1\n", "p /p?2\n"]
--- error_code eval
[200, 200]
--- no_error_log
[error]



=== TEST 7: more_headers reach nginx, Host can be replaced
--- config
    location = /echo {
        return 200 "$http_x_foo $host\n";
    }
--- request
GET /echo
--- more_headers
X-Foo: bar baz
# a comment line
Host: example.com
--- response_body
bar baz example.com



=== TEST 8: automatic Content-Length of a trimmed body
--- config
    location = /len {
        return 200 "$http_content_length $request_method\n";
    }
--- request
POST /len
  hello world

--- response_body
11 POST



=== TEST 9: response_body eval qr; debug lines in the log
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
GET /hello
--- response_body eval
qr/^hel+o$/m
--- error_log eval
['http request line: "GET /hello HTTP/1.1"', qr{http uri: "/hello"}]



=== TEST 10: raw_request is sent as is
--- config
    location = /hello {
        return 200 "$server_protocol $host\n";
    }
--- raw_request eval
"GET /hello HTTP/1.0\r\nHost: raw.example\r\n\r\n"
--- response_body
HTTP/1.0 raw.example
--- error_log eval
[qr/http request line: "GET \/hello HTTP\/1\.0"/, "http header: \"Host: raw.example\""]



=== TEST 11: $TEST_NGINX_ variables in config and expected body
--- config
    location = /port {
        return 200 "$TEST_NGINX_SERVER_PORT $server_port\n";
    }
--- request
GET /port
--- response_body
$TEST_NGINX_SERVER_PORT $ServerPort
--- no_error_log
[error]
[alert]



=== TEST 12: a keep-alive response needs --- abort
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
GET /hello
--- more_headers
Connection: keep-alive
--- timeout: 1
--- abort
--- response_headers
Connection: keep-alive
--- response_body
hello
--- no_error_log
[error]



=== TEST 13: ignore_response still checks the log
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
GET /hello
--- ignore_response
--- error_log
http finalize request
--- no_error_log
[error]



=== TEST 14: per-block log_level
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- log_level: warn
--- request
GET /hello
--- response_body
hello
--- no_error_log
[debug]
[info]



=== TEST 15: http_config and main_config
--- main_config
    worker_rlimit_nofile 1024;
--- http_config
    map $uri $mapped {
        default "mapped $uri";
    }
--- config
    location = /m {
        return 200 "$mapped\n";
    }
--- request
GET /m
--- response_body
mapped /m



=== TEST 16: a request split into packets
--- config
    location = /hello {
        return 200 "hello $request_body\n";
    }
--- request eval
[["POST /hel", "lo\nab", {value => "cd", delay_before => 0.05}]]
--- response_body_like: ^hello (abcd)?$



=== TEST 17: a chunked response is decoded
--- config
    location = /chunked {
        sub_filter_types *;
        sub_filter world nginx;
        return 200 "hello world\n";
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
Content-Length:
--- response_body
hello nginx



=== TEST 18: HTTP/1.0 and HEAD
--- config
    location = /hello {
        return 200 "hello\n";
    }
--- request
HEAD /hello HTTP/1.0
--- response_headers
Content-Length: 6
--- response_body eval
""
--- no_error_log
[error]



=== TEST 19: skipped block is not run
--- SKIP
--- config
    location = /x { nonexistent_directive; }
--- request
GET /x
--- response_body
never



=== TEST 20: redirect with $ServerPort in a header
--- config
    absolute_redirect on;
    port_in_redirect on;
    location = /r {
        return 302 /hello;
    }
--- request
GET /r
--- error_code: 302
--- response_headers
Location: http://localhost:$ServerPort/hello



=== TEST 21: error_page and a logged error with a grep
--- config
    location = /e {
        error_page 404 = /fallback;
    }
    location = /fallback {
        return 200 "fallback\n";
    }
--- request
GET /e
--- response_body
fallback
--- grep_error_log eval
qr/\[error\] .*? open\(\) "[^"]+" failed/
--- grep_error_log_out eval
qr/failed\n\z/
