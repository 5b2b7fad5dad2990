# SPDX-License-Identifier: BSD-2-Clause
# Configurations the module refuses at `nginx -t`, with the directive named
# in the message, and one it takes.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use TrackTest;

my $dir = scratch_dir();

# nginx_t($http, $location) -> (exit status, output of nginx -t)
sub nginx_t {
    my ($http, $location) = @_;
    open(my $fh, '>', "$dir/nginx.conf") or die $!;
    print $fh <<"EOF";
load_module $MODULE_SO;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { }
http {
    access_log off;
    $http
    server {
        listen 127.0.0.1:1;
        location = /t.gif { track; $location }
    }
}
EOF
    close $fh;
    my $out = `nginx -t -p $dir -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = nginx_t('', 'track_field host $host; track_field ref $uri;');
is($rc, 0, 'distinct field names are accepted') or diag($out);

($rc, $out) = nginx_t('', 'track_field host $host; track_field host $uri;');
isnt($rc, 0, 'a field name given twice is refused');
like($out, qr/duplicate field name "host" in "track_field"/,
     'and the message names it');

for my $name ('a"b', 'a\\\\b', "caf\xc3\xa9", '"a b"') {
    ($rc, $out) = nginx_t('', "track_field '$name' \$host;");
    isnt($rc, 0, "field name $name is refused");
    like($out, qr/invalid field name .* in "track_field"/,
         "and the message says why ($name)");
}

($rc, $out) = nginx_t('track_redis_wait_replicas 1; '
                      . 'track_redis_timeout 1s; '
                      . 'track_redis_wait_timeout 1s;', '');
isnt($rc, 0, 'a WAIT timeout as long as the reply timeout is refused');
like($out, qr/"track_redis_wait_timeout" must be shorter/,
     'and the message says so');

# track_redis_cluster: seeds only, and nothing it cannot be combined with
($rc, $out) = nginx_t('track_redis_cluster 127.0.0.1:7000 127.0.0.1:7001; '
                      . 'track_redis_cluster_shards 8;', '');
is($rc, 0, 'a cluster with seed nodes and 8 shard lists is accepted')
    or diag($out);

($rc, $out) = nginx_t('track_redis_cluster 127.0.0.1:7000; '
                      . 'track_redis_wait_replicas 1; '
                      . 'track_redis_max_queue 1000;', '');
is($rc, 0, 'a cluster with WAIT and a queue ceiling is accepted')
    or diag($out);

for my $other ('track_redis 127.0.0.1:6379;',
               'track_redis_sentinel 127.0.0.1:26379;',
               'track_redis_db 2;')
{
    my ($name) = $other =~ /^(\S+)/;
    ($rc, $out) = nginx_t("$other track_redis_cluster 127.0.0.1:7000;", '');
    isnt($rc, 0, "$name with track_redis_cluster is refused");
    like($out, qr/\[emerg\] "$name" cannot be used with "track_redis_cluster"/,
         "and the message names $name");
}

($rc, $out) = nginx_t('track_redis_cluster unix:/tmp/redis.sock;', '');
isnt($rc, 0, 'a unix socket as a cluster seed is refused');
like($out, qr/takes host:port addresses/, 'and the message says why');

done_testing();
