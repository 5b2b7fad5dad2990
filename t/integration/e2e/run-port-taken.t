# SPDX-License-Identifier: BSD-2-Clause
# `make run` keeps the ports of run/env so that earlier URLs stay valid.
# When another program has taken one of them meanwhile, it says so and
# what to do, and starts nothing (no half-started pipeline).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use Test::More;
use TrackTest;

my $dir = scratch_dir();
my $run = "$dir/run";
mkdir $run or die "$run: $!";

my $other = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
my $port = $other->sockport;
open(my $fh, '>', "$run/env") or die "$run/env: $!";
print $fh "NGINX_PORT=$port\n";
close $fh;

ok(!run_sh($run, 'start'), 'make run fails');
my $log = slurp("$run.log");
like($log, qr/port $port \(NGINX_PORT in run\/env.*delete run\/env/s,
     'it names the port and what to do');
is_deeply([glob("$run/*/*.pid")], [], 'nothing was started');

close $other;
done_testing();
