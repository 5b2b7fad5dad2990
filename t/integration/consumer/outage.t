# SPDX-License-Identifier: BSD-2-Clause
# MariaDB stopped (cleanly, then with SIGKILL) and Redis killed while events
# flow: the consumer retries with capped backoff, loses and doubles nothing,
# and catches up when they return.
use strict;
use warnings;
use FindBin;
use Time::HiRes qw(sleep time);
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

consumer_defaults(%CONSUMER_TEST_SETTINGS);
my $s = scratch_dir();
start_queue_redis("$s/redis");

sub stored {
    my ($dbh, $id) = @_;
    my $r = eval { db_rows($dbh, "SELECT events FROM consumer_state WHERE consumer_id = ?", $id) };
    return $r && @$r ? $r->[0][0] : 0;
}

sub retries_after {
    my ($c, $pos, $what) = @_;
    my $text = substr(consumer_log($c), $pos);
    # the lane's own lines: its roll-up thread backs off on its own
    return [$text =~ /^(?![^\n]*roll-up:)[^\n]*\Q$what\E[^\n]*retrying in (\d+) ms/mg];
}

queue_cmd('FLUSHALL');
# its own server: the test stops and kills it
my $db = start_db($s, 'tc_outage', own => 1);
my $mdir = $db->{dir};
my $dbh = $db->{dbh};
my @all;

# --- MariaDB ---------------------------------------------------------------

my $c = start_consumer($s, db => $db, id => 'out', args => ['--batch-size=200']);
for my $round (['TERM', 'stopped cleanly'], ['KILL', 'killed']) {
    my ($sig, $how) = @$round;
    my $ev = gen_events(n => 6000, seed => 100 + length($how), prefix => "m$sig", dup => 0.05);
    push @all, @$ev;
    push_events([@{$ev}[0 .. 1999]]);
    ok(wait_for(30, sub { drained('out') }), "mysql $how: first part stored");
    my $pos = length(consumer_log($c));
    $dbh->disconnect;
    if ($sig eq 'TERM') {
        ok(stop_db($db), 'mariadbd stopped');
    } else {
        my $pid = slurp("$mdir/mariadbd.pid");
        chomp $pid;
        ok(kill('KILL', $pid) == 1, 'mariadbd killed with SIGKILL');
        wait_for(10, sub { !pid_alive($pid) });
        unlink "$mdir/mariadbd.pid";
    }
    push_events([@{$ev}[2000 .. 5999]]);
    ok(wait_for(30, sub { @{retries_after($c, $pos, 'mysql unavailable')} >= 4 }),
       'the consumer retries, saying so');
    my $delays = retries_after($c, $pos, 'mysql unavailable');
    my $capped = 1;
    for my $i (1 .. $#$delays) {
        $capped = 0 if $delays->[$i] < $delays->[$i - 1] || $delays->[$i] > 500;
    }
    ok($capped, "backoff doubles up to the cap: @$delays[0 .. ($#$delays < 5 ? $#$delays : 5)] ...");
    ok(consumer_alive($c), 'still running while mysql is down');
    ok(queue_cmd('LLEN', 'track:events') + queue_cmd('LLEN', 'track:processing:out') > 0,
       'events wait in Redis');
    ok(eval { restart_db($db) }, 'mariadbd started again');
    $dbh = $db->{dbh};
    ok(wait_for(60, sub { drained('out') }), 'caught up after mysql returned');
    stored_once($dbh, \@all, "mysql $how");
}
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');

# --- Redis -------------------------------------------------------------------

my $rdir = "$s/redis-aof";
my $rport = free_port();
my $aof = '--appendonly yes --appendfsync always';
ok(eval { start_redis($rdir, $rport, $aof) }, 'a Redis with an append-only file');
$c = start_consumer($s, db => $db, id => 'rout', redis_port => $rport,
                    args => ['--batch-size=200']);
my $ev = gen_events(n => 6000, seed => 300, prefix => 'r', dup => 0.05);
push @all, @$ev;
push_events([@{$ev}[0 .. 2999]], 'track:events', $rport);
ok(wait_for(30, sub { stored($dbh, 'rout') > 0 }), 'consuming');
my $pos = length(consumer_log($c));
ok(kill_redis($rdir), 'redis-server killed with SIGKILL mid-run');
redis_forget();
ok(wait_for(30, sub { @{retries_after($c, $pos, 'redis unavailable')} >= 3 }),
   'the consumer retries Redis, saying so');
ok(consumer_alive($c), 'still running while redis is down');
ok(eval { start_redis($rdir, $rport, $aof) },
   'redis-server started again (same append-only file)');
push_events([@{$ev}[3000 .. 5999]], 'track:events', $rport);
ok(wait_for(60, sub {
       redis_cmd($rport, 'LLEN', 'track:events') == 0
       && redis_cmd($rport, 'LLEN', 'track:processing:rout') == 0 }),
   'caught up after redis returned');
is(stop_consumer($c, 'TERM', 20), 0, 'exit 0');
stop_redis($rdir);
stored_once($dbh, \@all, 'redis killed');

no_sanitizer_reports();
done_testing();
