# SPDX-License-Identifier: BSD-2-Clause
# track-stats with a list of MariaDB hosts whose first is down: it connects
# to the next and answers; when the node it reads from is killed, its
# queries move to another node and it keeps answering.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

need_galera();
my $s = scratch_dir();
my $g = start_galera($s, nodes => 2);
my $dbh = galera_dbh($g, 0);
$dbh->do("INSERT INTO stats_actions (app, module, action)"
         . " VALUES ('shop', 'cart', 'add')");
$dbh->do("INSERT INTO stats_daily (day, action_id, object, events)"
         . " SELECT '2024-11-25', id, 'item-1', 7 FROM stats_actions");
# a causal read on node 1: it has applied the row before track-stats reads
is(galera_dbh($g, 1)->selectrow_array('SELECT COUNT(*) FROM stats_daily'), 1,
   'node 1 has the row');

my $down = free_port();        # nobody listens there
my $db = { socket => '', env => { MYSQL_READER_USER => $g->{reader_user},
                                  MYSQL_READER_PASSWORD => $g->{reader_password} } };
my $st = start_stats($s, db => $db,
                     args => ['--mysql-host', "127.0.0.1:$down,"
                              . galera_hosts($g, 1, 0),
                              '--mysql-socket', '', '--mysql-timeout', '3',
                              '--log-level', 'info']);
my $path = '/stats/v1/top?app=shop&module=cart&action=add'
           . '&from=2024-11-25&to=2024-11-25';
my $r = json_get($st, $path);
is($r->{status}, 200, 'it answers with the first host down');
like(slurp($st->{log}), qr/cannot connect to 127\.0\.0\.1:$down/,
     'it says the first host failed');
like(slurp($st->{log}), qr/now on 127\.0\.0\.1:$g->{nodes}[1]{port}, host 2 of 3/,
     '... and which host it took');
like($r->{content} // '', qr/item-1/, 'the answer holds the row');

# the node it reads from dies: the next query moves on
ok(galera_kill($g, 1), 'node 1 killed');
# another day: not from the answer cache
(my $other = $path) =~ s/2024-11-25/2024-11-24/g;
my $ok = wait_for(30, sub { json_get($st, $other)->{status} == 200 });
ok($ok, 'it answers again, from node 0');
like(slurp($st->{log}), qr/now on 127\.0\.0\.1:$g->{nodes}[0]{port}, host 3 of 3/,
     'it moved to the last host of the list');

is(stop_stats($st), 0, 'exit 0 on SIGTERM');
no_sanitizer_reports($s);
done_testing();
