# MariaDB stopped (cleanly, then with SIGKILL) and Redis killed while events
# flow: the consumer retries with capped backoff, loses and doubles nothing,
# and catches up when they return.
use strict;
use warnings;
use FindBin;
use Time::HiRes qw(sleep time);
require "$FindBin::Bin/consumer-lib.pl";

my $root = $ENV{TC_ROOT};
my $mdir = $ENV{TC_MARIADB_DIR};
my $mport = $ENV{TC_MYSQL_PORT};

sub sh {
    my ($cmd) = @_;
    return system('bash', '-c', ". '$root/scripts/lib/services.sh'; $cmd") == 0;
}

sub stored {
    my ($dbh, $id) = @_;
    my $r = eval { rows($dbh, "SELECT events FROM consumer_state WHERE consumer_id = ?", $id) };
    return $r && @$r ? $r->[0][0] : 0;
}

sub retries_after {
    my ($c, $pos, $what) = @_;
    my $text = substr(log_text($c), $pos);
    # the lane's own lines: its roll-up thread backs off on its own
    return [$text =~ /^(?![^\n]*roll-up:)[^\n]*\Q$what\E[^\n]*retrying in (\d+) ms/mg];
}

r('FLUSHALL');
my $dbh = new_db('tc_outage');
my @all;

# --- MariaDB ---------------------------------------------------------------

my $c = start_consumer(db => 'tc_outage', id => 'out', args => ['--batch-size=200']);
for my $round (['TERM', 'stopped cleanly'], ['KILL', 'killed']) {
    my ($sig, $how) = @$round;
    my $ev = gen_events(n => 6000, seed => 100 + length($how), prefix => "m$sig", dup => 0.05);
    push @all, @$ev;
    push_events([@{$ev}[0 .. 1999]]);
    ok(wait_for(30, sub { drained('out') }), "mysql $how: first part stored");
    my $pos = length(log_text($c));
    $dbh->disconnect;
    if ($sig eq 'TERM') {
        ok(sh("stop_mariadb '$mdir'"), 'mariadbd stopped');
    } else {
        my $pid = slurp("$mdir/mariadbd.pid");
        chomp $pid;
        ok(kill('KILL', $pid) == 1, 'mariadbd killed with SIGKILL');
        wait_for(10, sub { !kill(0, $pid) });
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
    ok(alive($c), 'still running while mysql is down');
    ok(r('LLEN', 'track:events') + r('LLEN', 'track:processing:out') > 0,
       'events wait in Redis');
    ok(sh("start_mariadb '$mdir' $mport"), 'mariadbd started again');
    $dbh = root_dbh('tc_outage');
    ok(wait_for(60, sub { drained('out') }), 'caught up after mysql returned');
    verify($dbh, \@all, "mysql $how");
}
is_eq(stop($c, 'TERM', 20), 0, 'exit 0');

# --- Redis -------------------------------------------------------------------

my $rdir = "$ENV{TC_SCRATCH}/redis-aof";
my $rport = `bash -c '. "$root/scripts/lib/services.sh"; free_port'`;
chomp $rport;
my $start_redis = "start_redis '$rdir' $rport --appendonly yes --appendfsync always";
ok(sh($start_redis), 'a Redis with an append-only file');
$c = start_consumer(db => 'tc_outage', id => 'rout', redis_port => $rport,
                    args => ['--batch-size=200']);
my $ev = gen_events(n => 6000, seed => 300, prefix => 'r', dup => 0.05);
push @all, @$ev;
push_events([@{$ev}[0 .. 2999]], 'track:events', $rport);
ok(wait_for(30, sub { stored($dbh, 'rout') > 0 }), 'consuming');
my $pos = length(log_text($c));
my $pid = slurp("$rdir/redis.pid");
chomp $pid;
ok(kill('KILL', $pid) == 1, 'redis-server killed with SIGKILL mid-run');
wait_for(10, sub { !kill(0, $pid) });
unlink "$rdir/redis.pid";
main::redis_forget();
ok(wait_for(30, sub { @{retries_after($c, $pos, 'redis unavailable')} >= 3 }),
   'the consumer retries Redis, saying so');
ok(alive($c), 'still running while redis is down');
ok(sh($start_redis), 'redis-server started again (same append-only file)');
push_events([@{$ev}[3000 .. 5999]], 'track:events', $rport);
ok(wait_for(60, sub {
       rp($rport, 'LLEN', 'track:events') == 0
       && rp($rport, 'LLEN', 'track:processing:rout') == 0 }),
   'caught up after redis returned');
is_eq(stop($c, 'TERM', 20), 0, 'exit 0');
sh("stop_redis '$rdir'");
verify($dbh, \@all, 'redis killed');

done();
