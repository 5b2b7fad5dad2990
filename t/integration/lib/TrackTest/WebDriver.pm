# SPDX-License-Identifier: BSD-2-Clause
# A headless Chromium for the browser tests, driven through chromedriver's
# W3C WebDriver HTTP/JSON API (HTTP::Tiny + JSON::PP: nothing beyond Perl
# core and Debian's chromium + chromium-driver).  chromedriver runs in its
# own process group, which is ended with the test, passed or not.
package TrackTest::WebDriver;

use strict;
use warnings;

use File::Path qw(make_path);
use HTTP::Tiny;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);

my $ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my @drivers;

END {
    my $rc = $?;
    $_->quit for @drivers;
    $? = $rc;
}

# WebDriver->start(dir => $dir, port => $free_port, width => 1280,
# height => 900): chromedriver on $port, one headless Chromium session
# whose profile and logs are under $dir
sub start {
    my ($class, %o) = @_;
    my $dir = $o{dir};
    make_path("$dir/profile");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$dir/chromedriver.out");
        open(STDERR, '>&', \*STDOUT);
        $ENV{TZ} //= 'UTC';
        exec('chromedriver', "--port=$o{port}", "--log-path=$dir/chromedriver.log")
            or POSIX::_exit(127);
    }
    my $self = bless { pid => $pid, url => "http://127.0.0.1:$o{port}",
                       http => HTTP::Tiny->new(timeout => 60) }, $class;
    push @drivers, $self;
    my $deadline = time + 20;
    until (eval { $self->call('GET', '/status')->{ready} }) {
        die "chromedriver did not start; see $dir/chromedriver.out\n"
            if time > $deadline;
        sleep 0.05;
    }
    my ($w, $h) = ($o{width} // 1280, $o{height} // 900);
    my $s = $self->call('POST', '/session', { capabilities => { alwaysMatch => {
        browserName => 'chrome',
        'goog:chromeOptions' => {
            binary => $o{binary} // '/usr/bin/chromium',
            # --no-sandbox: the tests run as root, where the sandbox refuses
            args => ['--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', "--window-size=$w,$h",
                     '--no-first-run', '--lang=en-US',
                     "--user-data-dir=$dir/profile"],
        },
    } } });
    $self->{session} = "/session/$s->{sessionId}";
    return $self;
}

# call($method, $path, $body): one WebDriver command; its value, or a die
# with WebDriver's error
sub call {
    my ($self, $method, $path, $body) = @_;
    my $r = $self->{http}->request($method, $self->{url} . $path, {
        headers => { 'Content-Type' => 'application/json' },
        defined $body ? (content => $JSON->encode($body)) : () });
    my $v = eval { $JSON->decode($r->{content}) } // {};
    if (!$r->{success}) {
        my $e = ref $v->{value} eq 'HASH' ? $v->{value} : {};
        die "webdriver $method $path: $r->{status} "
            . ($e->{error} // '') . ': ' . substr($e->{message} // $r->{content} // '', 0, 300)
            . "\n";
    }
    return $v->{value};
}

sub cmd {
    my ($self, $method, $path, $body) = @_;
    return $self->call($method, $self->{session} . $path, $body);
}

sub get { $_[0]->cmd('POST', '/url', { url => $_[1] }) }

# js($script, @args): runs $script (a function body) in the page, returns
# its value
sub js {
    my ($self, $script, @args) = @_;
    return $self->cmd('POST', '/execute/sync', { script => $script, args => [@args] });
}

# js_async($script, @args): as js, the page calls arguments[-1] with the
# value
sub js_async {
    my ($self, $script, @args) = @_;
    return $self->cmd('POST', '/execute/async', { script => $script, args => [@args] });
}

sub find {
    my ($self, $css) = @_;
    return $self->cmd('POST', '/element', { using => 'css selector',
                                            value => $css })->{$ELEMENT};
}

sub click {
    my ($self, $css) = @_;
    my $id = $self->find($css);
    $self->cmd('POST', "/element/$id/click", {});
}

sub type {
    my ($self, $css, $text) = @_;
    my $id = $self->find($css);
    $self->cmd('POST', "/element/$id/clear", {});
    $self->cmd('POST', "/element/$id/value", { text => $text });
}

# wait_js($secs, $script): polls $script until it returns true; its value
sub wait_js {
    my ($self, $secs, $script) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $v = $self->js($script);
        return $v if $v;
        return $v if time > $deadline;
        sleep 0.05;
    }
}

sub windows { @{ $_[0]->cmd('GET', '/window/handles') } }
sub window { $_[0]->cmd('GET', '/window') }

sub new_window {
    my ($self) = @_;
    return $self->cmd('POST', '/window/new', { type => 'tab' })->{handle};
}

sub switch_to { $_[0]->cmd('POST', '/window', { handle => $_[1] }) }

# close_window: closes the current tab (the page sees pagehide)
sub close_window { $_[0]->cmd('DELETE', '/window') }

sub resize {
    my ($self, $w, $h) = @_;
    $self->cmd('POST', '/window/rect', { width => $w, height => $h });
}

sub screenshot {
    my ($self, $file) = @_;
    open(my $fh, '>:raw', $file) or die "$file: $!";
    print $fh decode_base64($self->cmd('GET', '/screenshot'));
    close $fh;
}

sub quit {
    my ($self) = @_;
    return unless $self->{pid};
    eval { $self->call('DELETE', $self->{session}) if $self->{session} };
    # chromedriver and any Chromium it left: its own process group
    kill 'TERM', -$self->{pid};
    my $deadline = time + 5;
    sleep 0.05 while waitpid($self->{pid}, POSIX::WNOHANG()) == 0 && time < $deadline;
    kill 'KILL', -$self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

1;
