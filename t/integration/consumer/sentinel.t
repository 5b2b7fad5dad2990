# SPDX-License-Identifier: BSD-2-Clause
# The consumer through Redis Sentinel: discovery (a dead sentinel, one that
# knows no such master, one that names a replica), a master demoted under a
# batch in hand (READONLY), a graceful failover and a hard one (SIGKILL)
# with batches in flight, followed without a restart; and
# a Redis that went back in time under the consumer (as a failover to a
# replica that missed writes leaves it): a processing list numbered below
# the marker, a list that gained elements between COMMIT and the
# acknowledgement, an acknowledgement refused.  Every event exactly once.
use strict;
use warnings;
use FindBin;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");

my ($dbh, @all);        # a database, and every event pushed for it

# each part in a database of its own: stored_once() reads it all
sub fresh_db {
    my ($name) = @_;
    my $db = start_db($s, $name);
    $dbh = $db->{dbh};
    @all = ();
    return $db;
}
my $fake_pid;
at_exit(sub {
    return unless $fake_pid;
    kill 'KILL', $fake_pid;
    waitpid($fake_pid, 0);
});

sub log_has {
    my ($c, $re, $secs) = @_;
    return wait_for($secs || 20, sub { consumer_log($c) =~ $re });
}

# --- a fake sentinel: answers get-master-addr-by-name from a file ----------

my $answer = "$s/fake-sentinel.answer";

sub fake_answer {
    my ($text) = @_;
    open my $f, '>', "$answer.tmp" or die $!;
    print $f "$text\n";
    close $f;
    rename "$answer.tmp", $answer or die $!;
}

# read_request($socket): reads one command a client sends (an array of
# bulk strings, none holding a line break here); false at the end
sub read_request {
    my ($c) = @_;
    my $head = <$c>;
    return 0 unless defined $head && $head =~ /^\*(\d+)\r\n$/;
    for (1 .. 2 * $1) {
        defined(<$c>) or return 0;
    }
    return 1;
}

sub fake_sentinel {
    my ($port) = @_;
    my $srv = IO::Socket::INET->new(Listen => 16, ReuseAddr => 1,
                                    LocalAddr => "127.0.0.1:$port")
        or die "fake sentinel: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        while (my $c = $srv->accept) {
            while (read_request($c)) {
                my $a = slurp($answer);
                chomp $a;
                if ($a eq 'nil') {
                    print $c "*-1\r\n";
                } elsif ($a =~ /^(\S+) (\S+)$/) {
                    print $c "*2\r\n\$" . length($1) . "\r\n$1\r\n\$"
                             . length($2) . "\r\n$2\r\n";
                } else {
                    print $c "-ERR $a\r\n";
                }
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    return $pid;
}

sub stopped {
    my ($c) = @_;
    return wait_for(20, sub {
        open my $f, '<', "/proc/$c->{pid}/stat" or return 0;
        my $stat = <$f>;
        return $stat =~ /\) T /;
    });
}

my ($a, $b, $m, $r1, $r2, $sport, $fport, $dead) = map { free_port() } 1 .. 8;
my $sync = '--repl-diskless-sync-delay 0';
my $name = "tc$$";      # sentinels of other runs on this machine ignore it

# --- discovery, and a master demoted under the batch in hand ---------------

ok(start_replicated_redis("$s/disc", $a, [$b], $sync),
   'a master and its replica');
fake_answer('nil');
$fake_pid = fake_sentinel($fport);
my $c = start_consumer($s, db => fresh_db('tc_sentinel_disc'), id => 'disc',
                 args => ["--redis-sentinel=127.0.0.1:$dead, 127.0.0.1:$fport",
                          "--redis-master=$name", '--batch-size=300'],
                 env => { TRACK_CONSUMER_PAUSE => 'after_move:1' });
ok(log_has($c, qr/sentinel 127\.0\.0\.1:$dead: cannot connect/),
   'a dead sentinel is logged and skipped');
ok(log_has($c, qr/sentinel 127\.0\.0\.1:$fport knows no master named "$name"/),
   'a sentinel that knows no such master is logged');
fake_answer("127.0.0.1 $b");
ok(log_has($c, qr/:$b is a replica, not the master \(yet\): asking the/),
   'a replica named as master is refused after ROLE');
ok(consumer_log($c) !~ /redis: connected/, '... and not used');
fake_answer("127.0.0.1 $a");
ok(log_has($c, qr/redis: connected to 127\.0\.0\.1:$a \(master "$name"\)/),
   'connected to the master the sentinel names');
my $ev = gen_events(n => 1000, seed => 41, prefix => 'disc', dup => 0.05);
push @all, @$ev;
push_events($ev, 'track:events', $a);
ok(stopped($c), 'demoted: a batch moved, not committed yet');
ok(redis_cmd($a, 'WAIT', 1, 10000) == 1, 'demoted: the move is on the replica');
redis_cmd($b, 'REPLICAOF', 'NO', 'ONE');
redis_cmd($a, 'REPLICAOF', '127.0.0.1', $b);
fake_answer("127.0.0.1 $b");
kill 'CONT', $c->{pid};
ok(log_has($c, qr/a batch at 127\.0\.0\.1:$a: READONLY [^\n]*asking the sent/),
   'demoted: READONLY sends the consumer to the sentinels');
ok(log_has($c, qr/names [\d.]+:$b as master "$name" \(it was [\d.]+:$a:/),
   'demoted: it follows the promoted replica');
ok(wait_for(30, sub {
       redis_cmd($b, 'LLEN', 'track:events') == 0
       && redis_cmd($b, 'LLEN', 'track:processing:disc') == 0 }),
   'demoted: every event consumed');
ok(consumer_log($c) !~ /kept as batch|numbers the processing list otherwise/,
   'demoted: the batch acknowledged on the new master');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');
stored_once($dbh, \@all, 'demoted');
kill 'KILL', $fake_pid;
waitpid($fake_pid, 0);
$fake_pid = undef;

# --- failovers with batches in flight --------------------------------------

ok(start_replicated_redis("$s/failover", $m, [$r1, $r2], $sync),
   'a master and two replicas');
start_sentinel("$s/sentinel", $sport, $name, $m, down_after => 2000);

sub master_now { return sentinel_master($sport, $name) }

# events on every replica before the failover: whichever is promoted has
# them, so the expected set is exact
sub push_everywhere {
    my ($events, $master, $label) = @_;
    push @all, @$events;
    push_events($events, 'track:events', $master);
    ok(redis_cmd($master, 'WAIT', 2, 10000) == 2, "$label: pushed to both replicas");
}

sub follows {
    my ($c, $from, $label) = @_;
    my $to;
    ok(wait_for(30, sub {
           $to = master_now();
           defined $to && $to != $from && role_of($to) eq 'master' }),
       "$label: the sentinel promoted a replica");
    ok(log_has($c,
               qr/names [\d.]+:$to as master "$name" \(it was [\d.]+:$from:/,
               30),
       "$label: the consumer follows the new master");
    ok(wait_for(60, sub {
           redis_forget();
           my $n = eval { redis_cmd($to, 'LLEN', 'track:events')
                          + redis_cmd($to, 'LLEN', 'track:processing:fo') };
           defined $n && $n == 0 }),
       "$label: and drains it");
    return $to;
}

$c = start_consumer($s, db => fresh_db('tc_sentinel_fo'), id => 'fo',
              args => ["--redis-sentinel=127.0.0.1:$dead 127.0.0.1:$sport",
                       "--redis-master=$name", '--batch-size=300']);
ok(log_has($c, qr/redis: connected to 127\.0\.0\.1:$m \(master "$name"\)/),
   'the consumer finds the master through the live sentinel');

# graceful: the replica is promoted first; the old master, demoted later,
# has its clients killed by the sentinel
kill 'STOP', $c->{pid};
push_everywhere(gen_events(n => 4000, seed => 42, prefix => 'fa'), $m,
                'graceful');
kill 'CONT', $c->{pid};
ok(wait_for(10, sub { redis_cmd($m, 'LLEN', 'track:events') < 4000 }),
   'graceful: consuming');
ok(redis_cmd($sport, 'SENTINEL', 'FAILOVER', $name) eq 'OK',
   'graceful: SENTINEL FAILOVER');
my $new = follows($c, $m, 'graceful');
# the sentinel demotes the old master when it next looks (10 s): now
redis_cmd($m, 'REPLICAOF', '127.0.0.1', $new) if role_of($m) eq 'master';
ok(wait_for(30, sub {
       (redis_cmd($new, 'INFO', 'replication')->{connected_slaves} // 0) == 2
       && sentinel_settled($sport, $name, $new) }),
   'graceful: the other two replicate the new master, the failover is over');

# hard: the master is killed with SIGKILL mid-batch
kill 'STOP', $c->{pid};
push_everywhere(gen_events(n => 4000, seed => 43, prefix => 'fb'), $new,
                'killed');
kill 'CONT', $c->{pid};
ok(wait_for(10, sub { redis_cmd($new, 'LLEN', 'track:events') < 4000 }),
   'killed: consuming');
my %dir = ($m => "$s/failover/master", $r1 => "$s/failover/replica1",
           $r2 => "$s/failover/replica2");
kill_redis($dir{$new});
redis_forget();
follows($c, $new, 'killed');

ok(consumer_alive($c), 'the same consumer process throughout');
stored_once($dbh, \@all, 'failovers');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');

# --- a Redis that went back in time ----------------------------------------

queue_cmd('FLUSHALL');

sub marker {
    my ($id) = @_;
    my $r = db_rows($dbh, 'SELECT last_seq FROM consumer_state WHERE '
                       . 'consumer_id = ?', $id);
    return @$r ? $r->[0][0] : 0;
}

# a list numbered below the marker: Redis lost the acknowledgements of the
# last batches, and the list holds stored events and unstored ones
my $db = fresh_db('tc_sentinel_back');
$c = start_consumer($s, db => $db, id => 'back', args => ['--batch-size=200']);
$ev = gen_events(n => 1000, seed => 44, prefix => 'ba');
push @all, @$ev;
push_events($ev);
ok(wait_for(30, sub { drained('back') }),
   'below the marker: first events stored');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');
my $last = marker('back');
ok($last >= 3, "below the marker: the marker is $last");
my $late = gen_events(n => 50, seed => 45, prefix => 'bb');
push @all, @$late;
queue_cmd('SET', 'track:processing:back:seq', $last - 2);
queue_cmd('RPUSH', 'track:processing:back', @{$ev}[100 .. 199], @$late);
$c = start_consumer($s, db => $db, id => 'back', args => ['--batch-size=200']);
ok(wait_for(30, sub { drained('back') }),
   'below the marker: the list is consumed');
ok(consumer_log($c) !~ /was committed before/,
   '... not taken for a committed batch');
stored_once($dbh, \@all, 'below the marker');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');

# the list of the batch in hand gained elements between COMMIT and the
# acknowledgement
$db = fresh_db('tc_sentinel_gain');
$c = start_consumer($s, db => $db, id => 'gain', args => ['--batch-size=500'],
              env => { TRACK_CONSUMER_PAUSE => 'before_ack:1' });
$ev = gen_events(n => 300, seed => 46, prefix => 'ga');
push @all, @$ev;
push_events($ev);
ok(stopped($c), 'gained: stopped between COMMIT and the acknowledgement');
$late = gen_events(n => 20, seed => 47, prefix => 'gb');
push @all, @$late;
queue_cmd('RPUSH', 'track:processing:gain', @$late);
kill 'CONT', $c->{pid};
ok(log_has($c, qr/\(300 events\) but [^\n]* holds 320 [^\n]*kept as batch/),
   'gained: the list is kept, not deleted');
ok(wait_for(30, sub { drained('gain') }), 'gained: and stored again');
stored_once($dbh, \@all, 'gained');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');

# the acknowledgement finds the list numbered below the batch in hand
$db = fresh_db('tc_sentinel_refused');
$c = start_consumer($s, db => $db, id => 'refused',
              args => ['--batch-size=500'],
              env => { TRACK_CONSUMER_PAUSE => 'before_ack:2' });
$ev = gen_events(n => 300, seed => 48, prefix => 'ra');
push @all, @$ev;
push_events($ev);
ok(wait_for(30, sub { drained('refused') }), 'refused: a first batch');
$ev = gen_events(n => 300, seed => 49, prefix => 'rb');
push @all, @$ev;
push_events($ev);
ok(stopped($c), 'refused: stopped before acknowledging the second');
$last = marker('refused');
$late = gen_events(n => 10, seed => 50, prefix => 'rc');
push @all, @$late;
queue_cmd('SET', 'track:processing:refused:seq', $last - 1);
queue_cmd('RPUSH', 'track:processing:refused', @$late);
kill 'CONT', $c->{pid};
ok(log_has($c, qr/batch $last is committed but Redis numbers the processing/),
   'refused: said so');
ok(wait_for(30, sub { drained('refused') }),
   'refused: the list is stored again');
stored_once($dbh, \@all, 'refused');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');

no_sanitizer_reports();
done_testing();
