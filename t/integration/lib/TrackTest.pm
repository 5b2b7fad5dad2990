# SPDX-License-Identifier: BSD-2-Clause
# The one helper library of the integration tests (t/integration/*/*.t), on
# Test::More: `use TrackTest;` exports every function of its parts.
#   TrackTest::Base      the checkout's root, clean-up at exit, scratch
#                        directories, wait_for, sh, free_port, http,
#                        sanitizer reports
#   TrackTest::Services  Redis, Sentinel and nginx instances, Redis commands,
#                        pixel traffic
#   TrackTest::Consumer  MariaDB, track-consumer (CONSUMER_BIN), the queue,
#                        generated events, exactly-once and statistics checks
#   TrackTest::Stats     track-stats (STATS_BIN), JSON requests, the expected
#                        answer of every endpoint
#   TrackTest::Galera    a MariaDB Galera cluster: start, kill a node, rejoin
# Every process started through it is stopped when the test exits, passed or
# not; see t/README.md.
package TrackTest;

use strict;
use warnings;

use Exporter qw(import);

use TrackTest::Base;
use TrackTest::Services;
use TrackTest::Consumer;
use TrackTest::Stats;
use TrackTest::Cluster;
use TrackTest::Galera;

our @EXPORT = do {
    no strict 'refs';
    map { @{"TrackTest::${_}::EXPORT"} }
        qw(Base Services Consumer Stats Cluster Galera);
};

1;
