# SPDX-License-Identifier: BSD-2-Clause
package Test::Nginx::Socket;

# Fallback runner for Test::Nginx::Socket suites: the block format of
# openresty/test-nginx rebuilt on Debian's Test::Base, used only when the
# real module is not installed (t/harness.sh adds -I t/lib in that case).
# What it supports and how it differs from upstream: the notes at the end.

use strict;
use warnings;
use v5.10.1;

use Test::Base -base;

use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use File::Temp ();
use List::Util qw(shuffle min);
use POSIX qw(SIGTERM EAGAIN);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use Test::LongString ();
use Test::Nginx::Util;

our @EXPORT = (@Test::Nginx::Util::EXPORT, qw(run_tests));

# Sections this runner knows; any other section bails out instead of being
# silently ignored.
my %Known = map { $_ => 1 } qw(
    ONLY SKIP LAST config http_config main_config post_main_config
    server_name error_log_file log_level
    request raw_request raw_request_middle_delay pipelined_requests
    more_headers timeout abort shutdown wait ignore_response
    error_code error_code_like response_body response_body_like
    response_body_unlike response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    error_log no_error_log grep_error_log grep_error_log_out
    tcp_listen tcp_reply tcp_reply_delay tcp_query tcp_query_len tcp_no_close
    no_check_leak
);

my $PrevConfig;
my $ConnectFailures = 0;
my $TcpServer;      # the fake backend of --- tcp_listen, while it runs

push @Test::Nginx::Util::CleanupHooks, sub { stop_tcp_server() };

sub no_ending { Test::More->builder->no_ending(1) }

sub run_tests () {
    srand($$ ^ int(time * 1000));
    $ENV{TEST_NGINX_SERVER_PORT} //= $Test::Nginx::Util::ServerPort;
    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $Test::Nginx::Util::NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @Test::Nginx::Util::BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
    Test::Nginx::Util::cleanup();
}

sub run_block {
    my $block = shift;
    my $name = $block->name;

    for my $s (@{ $block->_section_order || [] }) {
        bail_out("$name - section '--- $s' is not supported by the fallback "
                 . "runner in t/lib; extend it or install Test::Nginx")
            unless $Known{$s};
    }

    $Test::Nginx::Util::RandPorts = {};
    my $config = Test::Nginx::Util::expand_env(scalar $block->config, $name);
    local $Test::Nginx::Util::LogLevel = $Test::Nginx::Util::LogLevel;
    $Test::Nginx::Util::LogLevel = $block->log_level if $block->log_level;

    # Every block with a config gets a fresh nginx and server root; a block
    # without one reuses whatever nginx is running.
    if (defined $config) {
        $PrevConfig = $config;
        Test::Nginx::Util::stop_nginx($name);
        Test::Nginx::Util::setup_server_root();
        Test::Nginx::Util::write_config($block, $config);
        Test::Nginx::Util::start_nginx($block);
    } elsif (!defined $PrevConfig) {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.");
    }

    $Test::Nginx::Util::ErrLogPos = 0;
    for my $rep (0 .. $Test::Nginx::Util::RepeatEach - 1) {
        start_tcp_server($block) if defined $block->tcp_listen;
        run_requests($block, $rep);
        check_tcp_server($block) if $TcpServer;
    }

    if ($Test::Nginx::Util::UseValgrind) {
        Test::Nginx::Util::stop_nginx($name);
        my $prefix = $Test::Nginx::Util::ValgrindLog;
        for my $f (grep { -s } glob "$prefix.*.log") {
            warn "$name - valgrind reported problems: $f\n";
        }
    }
}

# --- requests ------------------------------------------------------------

# "Key: value" lines of --- more_headers; '#' lines are skipped.
sub more_headers {
    my $text = shift // '';
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v //= '';
        $chunked = 1 if lc($k) eq 'transfer-encoding' && $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# Turns a request written as "METHOD [URI [VERSION]]\nbody" (possibly split
# into packets) into the bytes to send: the request line, Host, Connection,
# more_headers, Content-Length, the body.  Returns the list of packets.
sub build_request {
    my ($name, $packets, $more, $conn) = @_;
    my ($hdrs, $chunked) = more_headers($more);
    my $raw = join '', map { $_ // '' } @$packets;

    my ($first, $content) = $raw =~ /\A([^\n]*\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") if $first eq '';
    my ($lead, $meth, $sp1, $url, $sp2, $ver, $sp3, $eol) =
        $first =~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");

    my $body = $content;
    my $len = '';
    if (!$chunked && $content ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($body) . "\r\n";
    }
    my $head = '';
    $head .= "Host: $Test::Nginx::Util::ServerName\r\n"
        if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    $head .= "$hdrs$len\r\n";

    # [original length, replacement] in order; packet boundaries map through.
    my @seg = ([length $lead, ''], [length $meth, "$meth "],
               [length $sp1, '']);
    push @seg, defined $url ? ([length $url, "$url "], [length $sp2, ''])
                            : ([0, "/ "]);
    push @seg, defined $ver ? ([length $ver, "$ver\r\n"],
                               [length($sp3) + length($eol), ''])
                            : ([0, "HTTP/1.1\r\n"], [length $eol, '']);
    push @seg, [0, $head], [length $content, $body];
    my $out = join '', map { $_->[1] } @seg;
    return [$out] if @$packets < 2;

    my (@cuts, $orig);
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $orig += length($p // '');
        my ($os, $ns, $cut) = (0, 0);
        for my $s (@seg) {
            my ($ol, $new) = @$s;
            if ($ol == 0 ? $os > $orig : $os >= $orig) { $cut = $ns; last }
            if ($orig < $os + $ol) {
                $cut = $ns + min($orig - $os, length $new);
                last;
            }
            ($os, $ns) = ($os + $ol, $ns + length $new);
        }
        push @cuts, $cut // length $out;
    }
    my ($prev, @res) = (0);
    for my $c (@cuts, length $out) {
        push @res, substr($out, $prev, $c - $prev);
        $prev = $c;
    }
    return \@res;
}

# Returns a list of requests, each a list of {value, delay_before} packets.
sub requests_of {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } ref $raw ? @$raw : ($raw) ]];
    }

    my $more = $block->more_headers;
    my $more_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i]
            // bail_out("--- more_headers lacks data for the request $i");
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $r = Test::Nginx::Util::expand_env($reqs->[$i], $name);
            $all .= build_request($name, [$r], $more_for->($i),
                                  $i == $#$reqs ? 'close' : 'keep-alive')->[0];
        }
        return [[{ value => $all }]];
    }

    my $req = $block->request;
    if (!ref $req) {
        1 while defined $req && $req =~ s/^\s*#[^\n]+\s+|^\s+//gs;
        return [[{ value => build_request($name, [$req], $more_for->(0),
                                          'close')->[0] }]];
    }
    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests") unless ref $req eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$req) {
        my $one = $req->[$i];
        if (!ref $one) {
            push @list, [{ value => build_request($name, [$one],
                                        $more_for->($i), 'close')->[0] }];
            next;
        }
        bail_out("$name - Invalid syntax. $one should be a string or an "
                 . "array of packets.") unless ref $one eq 'ARRAY';
        my @pk = map { ref $_ eq 'HASH' ? { %$_ } : { value => $_ } } @$one;
        my $out = build_request($name, [map { $_->{value} } @pk],
                                $more_for->($i), 'close');
        $pk[$_]{value} = $out->[$_] for 0 .. $#pk;
        push @list, \@pk;
    }
    return \@list;
}

sub connect_server {
    my ($block, $timeout) = @_;
    my $name = $block->name;
    my $port = $Test::Nginx::Util::ServerPort;
    my $total = $ConnectFailures ? 20 : 50;
    for my $try (1 .. $total) {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port, Proto => 'tcp',
                                         Timeout => $timeout);
        return $sock if $sock;
        my $err = $!;
        my $child = $Test::Nginx::Util::ChildPid;
        if (defined $child && !Test::Nginx::Util::is_running($child)) {
            warn "WARNING: Child process $child is already gone.\n";
            no_ending();
            Test::More::fail("$name - Can't connect to 127.0.0.1:$port: "
                             . "$err (aborted)\n");
            return undef;
        }
        my $s = $Test::Nginx::Util::Sleep;
        my $wait = min(1, ($s + $s * $try) * $try / 2);
        warn "$name - Can't connect to 127.0.0.1:$port: $err\n"
            if $wait >= 0.6;
        sleep $wait;
    }
    my $msg = "$name - Can't connect to 127.0.0.1:$port: $! (aborted)\n";
    bail_out($msg) if ++$ConnectFailures >= 3;
    no_ending();
    Test::More::fail($msg);
    return undef;
}

# Sends the packets on one connection and reads until the server closes it.
# An idle period of $timeout adds a failed test unless --- abort is set.
sub send_request {
    my ($block, $packets, $timeout) = @_;
    my $sock = connect_server($block, $timeout) or return '';
    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($sock);
    my $middle = $block->raw_request_middle_delay;
    my $resp = '';

    my $timed_out = sub {
        close $sock;
        if (defined $block->abort) {
            sleep 0.005;
        } else {
            no_ending();
            Test::More::fail("ERROR: client socket timed out - "
                             . $block->name . "\n");
        }
        return $resp;
    };

    WRITE: for my $i (0 .. $#$packets) {
        my $p = $packets->[$i];
        my $delay = $i ? $p->{delay_before} // $middle : undef;
        sleep $delay if $delay;
        my ($data, $off) = ($p->{value} // '', 0);
        while ($off < length $data) {
            return $timed_out->() unless $sel->can_write($timeout);
            my $n = syswrite $sock, $data, length($data) - $off, $off;
            if (!defined $n) {
                next if $! == EAGAIN;
                warn "write failed: $!\n";
                last WRITE;
            }
            $off += $n;
        }
    }
    if (defined(my $how = $block->shutdown)) {
        shutdown $sock, ($how =~ /^\s*$/ ? 1 : $how);
    }

    while (1) {
        return $timed_out->() unless $sel->can_read($timeout);
        my $n = sysread $sock, my $buf, 4096;
        if (!defined $n) {
            next if $! == EAGAIN;
            warn "WARNING: " . $block->name
                 . " - HTTP response read failure: $!\n";
            last;
        }
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return $resp;
}

# --- responses and checks ----------------------------------------------

sub dechunk {
    my ($raw, $with_trailers) = @_;
    my $body = '';
    pos($raw) = 0;
    while (1) {
        if ($raw =~ /\G0[ \t]*\r\n/gc) {
            if ($with_trailers) {
                1 while $raw =~ /\G[^\r\n]+\r\n/gc;
            }
            return (undef, 'invalid chunked data received (expected CRLF).')
                unless $raw =~ /\G\r\n/gc;
            my $left = $raw =~ /\G(.+)/gcs ? $1 : undef;
            return ($body, undef, $left);
        }
        if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
            my $size = hex $1;
            return (undef, 'invalid chunked data received (not enough '
                           . 'octets for the data section)')
                if length($raw) - pos($raw) < $size;
            $body .= substr $raw, pos($raw), $size;
            pos($raw) += $size;
            return (undef, 'invalid chunked data received (expected CRLF).')
                unless $raw =~ /\G\r\n/gc;
            next;
        }
        return (undef, $raw =~ /\G(.+)/gcs ? "invalid chunked body received: $1"
                                           : "no last chunk found - $raw");
    }
}

# Returns (HTTP::Response, raw header text, bytes after this response).
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $left;
    if (defined $te && $te eq 'chunked') {
        my ($body, $err);
        ($body, $err, $left) = dechunk($res->content // '',
                                       scalar $res->header('Trailer'));
        if (defined $err) {
            no_ending();
            Test::More::fail("$name - $err");
            return;
        }
        $res->content($body);
    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content // '';
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

# The value of a check section for request $idx: an array element when the
# block sends several requests (then a scalar bails out, as upstream does).
sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub port_vars {
    my $s = shift;
    my $port = $Test::Nginx::Util::ServerPort;
    $s =~ s/\$ServerPort(?:ForClient)?\b/$port/g if defined $s;
    return $s;
}

# Expected headers as upstream reads them: one "Name: value" or "!Name" per
# line, collected in a hash (a repeated name keeps its last line).
sub header_specs {
    my %h;
    for my $line (split /\n/, shift // '') {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            $h{$k // ''} = $v;
        }
    }
    return \%h;
}

sub check_response {
    my ($block, $res, $raw_headers, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $want = indexed($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($code, qr/$want/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
            ? indexed($name, $block->error_code, $idx, $need_array) : 200;
        Test::Base::is($code, $want, "$name - status code ok");
    }

    for my $kind (qw(like unlike)) {
        my $section = "raw_response_headers_$kind";
        my $spec = $block->$section;
        next unless defined $spec;
        my $want = indexed($name, $spec, $idx, $need_array);
        no strict 'refs';
        &{"Test::More::$kind"}($raw_headers, qr/$want/s,
                               "$name - raw resp headers $kind");
    }

    if (defined $block->response_headers) {
        my $h = header_specs(indexed($name, $block->response_headers, $idx,
                                     $need_array));
        while (my ($k, $v) = each %$h) {
            if (!defined $v) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$k\E\s*:/ms,
                    "$name - header $k not present in the raw headers");
                next;
            }
            my $got = $res ? $res->header($k) : undef;
            Test::Base::is($got // '', port_vars($v), "$name - header $k ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $h = header_specs(indexed($name, $block->response_headers_like,
                                     $idx, $need_array));
        while (my ($k, $v) = each %$h) {
            my $got = $res ? $res->header($k) : undef;
            Test::More::like($got // '', qr/^$v$/,
                             "$name - header $k like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $block->response_body) {
        my $want = indexed($name, $block->response_body, $idx, $need_array);
        my $desc = "$name - response_body - response is expected "
                 . "(repeated req $rep, req $idx)";
        if (ref $want) {
            Test::More::like($content, $want, "$name - response_body - like "
                             . "(repeated req $rep, req $idx)");
        } else {
            $want = Test::Nginx::Util::expand_env(port_vars($want), $name)
                if defined $want;
            $Test::Nginx::Util::NoLongString
                ? Test::Base::is($content, $want, $desc)
                : Test::LongString::is_string($content, $want, $desc);
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $section = "response_body_$type";
        my $pat = port_vars(indexed($name, $block->$section, $idx,
                                    $need_array));
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        no strict 'refs';
        &{"Test::More::$type"}($content, qr/$pat/s,
            "$name - response_body_$type - response is expected ($summary)");
    }
}

sub log_patterns {
    my $pats = shift;
    return [split /\n+/, do { chomp(my $p = $pats); $p }] unless ref $pats;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub fmt { my $s = shift; chomp $s; $s =~ s/"/\\"/g; $s =~ s/\r/\\r/g;
          $s =~ s/\n/\\n/g; $s }

sub match_line {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# The error-log checks, run once per request on the lines logged since the
# previous check.
sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = Test::Nginx::Util::error_log_data();
    my %warn = map { $_ => 1 } qw(alert crit emerg);

    if (defined(my $g = $block->grep_error_log)) {
        $g = $g->[$rep] if ref $g eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- "
                 . "grep_error_log is defined") unless defined $want;
        $want = Test::Nginx::Util::expand_env($want, $name) unless ref $want;
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        my $got = '';
        for my $line (@$lines) {
            next unless ref $g ? $line =~ /$g/ : $line =~ /\Q$g\E/;
            $got .= "$&\n" if $& !~ /\n/;
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        ref $want eq 'Regexp' ? Test::More::like($got, $want, $desc)
                              : Test::LongString::is_string($got, $want, $desc);
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    for my $kind (qw(error_log no_error_log)) {
        my $spec = $block->$kind;
        next unless defined $spec;
        my $pats = log_patterns($spec);
        for my $lvl (keys %warn) {
            delete $warn{$lvl} if grep { "$_" =~ /\[\Q$lvl\E/ } @$pats;
        }
        if ($kind eq 'error_log') {
            for my $pat (grep { defined } @$pats) {
                if (grep { match_line($_, $pat) } @$lines) {
                    Test::More::pass("$name - pattern \"$pat\" matches a line "
                                     . "in error.log (req $rep)");
                } else {
                    Test::More::fail("$name - pattern \"$pat\" should match a "
                                     . "line in error.log (req $rep)");
                }
            }
            next;
        }
        my %found;
        for my $i (0 .. $#$lines) {
            for my $pat (grep { defined } @$pats) {
                next unless match_line($lines->[$i], $pat);
                no_ending() if $found{$pat}++;
                my @more = @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
                Test::More::fail("$name - pattern \"" . fmt($pat) . "\" should"
                    . " not match any line in error.log but matches line \""
                    . fmt($lines->[$i]) . "\" (req $rep)\n" . join '', @more);
            }
        }
        for my $pat (grep { defined && !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt($pat) . "\" does not "
                             . "match a line in error.log (req $rep)");
        }
    }

    for my $line (@$lines) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && $warn{$1}) {
            warn "WARNING: $name - " . fmt($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            no_ending();
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $reqs = requests_of($block);
    my $timeout = Test::Nginx::Util::parse_time($block->timeout)
                  // $Test::Nginx::Util::Timeout;
    my $pipelined = $block->pipelined_requests;
    my $n = $pipelined ? scalar @$pipelined : 0;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $idx = 0;

    for my $r (0 .. $#$reqs) {
        my $packets = $reqs->[$r];
        my $head = (join '', map { $_->{value} } @$packets) =~ /^\s*HEAD\s+/;
        my $raw = send_request($block, $packets, $timeout);
        while (1) {
            my ($res, $raw_headers, $left);
            ($res, $raw_headers, $left) = parse_response($name, $raw, $head)
                unless defined $block->ignore_response;
            if ($n) {
                $raw = $left // '';
                $n--;
            } elsif (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}',
                                                                 ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }
            check_response($block, $res, $raw_headers, $idx, $rep,
                           $need_array) unless defined $block->ignore_response;
            if ($n || $r < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $rep);
            }
            $idx++;
            last unless $n;
        }
    }
    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
}

# --- the fake backend of --- tcp_listen ------------------------------------

sub start_tcp_server {
    my $block = shift;
    my $name = $block->name;
    my $target = Test::Nginx::Util::expand_env($block->tcp_listen, $name);
    my $reply = $block->tcp_reply;
    bail_out("$name - no --- tcp_reply specified but --- tcp_listen is "
             . "specified") unless defined $reply;
    my $want = $block->tcp_query_len;
    $want //= length $block->tcp_query if defined $block->tcp_query;

    my ($sock, $err);
    for (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(LocalHost => '127.0.0.1',
                                          LocalPort => $target, Listen => 5,
                                          ReuseAddr => 1);
        } elsif ($target =~ /\S+\.sock$/) {
            unlink $target;
            $sock = IO::Socket::UNIX->new(Local => $target, Listen => 5,
                                          Type => SOCK_STREAM);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }
        last if $sock;
        $err = $!;
        last unless $err =~ /in use/i;
        sleep 0.2;
    }
    bail_out("$name - failed to create the tcp listening socket: $err")
        unless $sock;

    my (undef, $qfile) = File::Temp::tempfile(UNLINK => 1);
    my $pid = fork // bail_out("$name - fork() failed: $!");
    if ($pid == 0) {
        $SIG{TERM} = 'DEFAULT';
        my $client;
        $client = $sock->accept until $client;
        my $buf = '';
        while (!defined $want || length $buf < $want) {
            my $n = sysread $client, my $b, 4096;
            last unless $n;
            $buf .= $b;
            if (open my $out, '>', "$qfile.tmp") {
                print $out $buf;
                close $out;
                rename "$qfile.tmp", $qfile;
            }
            last unless defined $want;
        }
        my $delay = Test::Nginx::Util::parse_time($block->tcp_reply_delay);
        sleep $delay if $delay;
        $reply = $reply->($buf) if ref $reply eq 'CODE';
        syswrite $client, $_ for ref $reply eq 'ARRAY' ? @$reply : ($reply);
        sleep 1 while defined $block->tcp_no_close;
        close $client;
        POSIX::_exit(0);
    }
    $TcpServer = { pid => $pid, sock => $sock, qfile => $qfile,
                   path => $target =~ /\.sock$/ ? $target : undef };
}

sub stop_tcp_server {
    return unless $TcpServer;
    my $pid = $TcpServer->{pid};
    kill SIGTERM, $pid;
    waitpid $pid, 0;
    close $TcpServer->{sock};
    unlink $TcpServer->{path} if defined $TcpServer->{path};
    my $t = $TcpServer;
    undef $TcpServer;
    return $t;
}

sub check_tcp_server {
    my $block = shift;
    my $name = $block->name;
    my $t = stop_tcp_server();
    my $buf = '';
    if (open my $in, '<', $t->{qfile}) {
        local $/;
        $buf = <$in> // '';
    }
    unlink $t->{qfile};
    if (defined $block->tcp_query) {
        my $want = $block->tcp_query;
        ref $want eq 'Regexp'
            ? Test::More::like($buf, $want, "$name - tcp_query ok")
            : Test::LongString::is_string($buf, $want, "$name - tcp_query ok");
    }
    if (defined $block->tcp_query_len) {
        Test::More::is(length $buf, $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}

1;

__END__

=head1 NAME

Test::Nginx::Socket - fallback for openresty's Test::Nginx::Socket

=head1 SUPPORTED

Functions: plan, blocks, run_tests, repeat_each, no_shuffle, log_level,
timeout, workers, worker_connections, master_on, master_off,
no_root_location, config_preamble, env_to_nginx, check_accum_error_log,
no_long_string, add_block_preprocessor, server_root, html_dir, server_port,
bail_out (and the rest of Test::Base/Test::More).

Sections: see %Known at the top; any other section bails out.  ONLY, SKIP
and LAST come from Test::Base.

Environment: TEST_NGINX_BINARY, _LOAD_MODULES, _SERVER_PORT (or _PORT),
_SERVROOT, _TIMEOUT, _LOG_LEVEL, _NO_SHUFFLE, _NO_CLEAN, _SLEEP,
_CHECK_ACCUM_ERR_LOG, _MASTER_PROCESS, _WORKER_USER, _USE_VALGRIND and
_VALGRIND_LOG_DIR.  Unsupported modes (CHECK_LEAK, USE_HUP, RANDOMIZE, ...)
refuse to run.

=head1 DIFFERENCES FROM UPSTREAM

=over

=item * Valgrind reports go to TEST_NGINX_VALGRIND_LOG_DIR (default
t/tmp/valgrind), one file per nginx run named after the suite and block,
not to stderr; ./valgrind.suppress and t/valgrind.suppress are both used.
The runner waits for the listening socket instead of retrying connections,
and waits up to 30 s for nginx to exit (re-sending SIGQUIT) so that the
leak report is complete; upstream SIGKILLs after about 0.3 s.

=item * A failed nginx start bails out at once unless the port is still in
use (upstream retries any failure for 30 s before bailing out).

=item * A zombie nginx (reparented to a pid 1 that does not reap) counts
as stopped; upstream waits for it until its timeout.

=item * A request split into packets whose boundaries fall inside the
whitespace around the request line is rebuilt correctly (upstream garbles
it).  The request is written completely before the response is read.

=item * The fake TCP server stops reading at EOF; chunked responses accept
any trailer.

=back

=cut
