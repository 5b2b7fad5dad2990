/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: unit tests: Redis Cluster settings, slot map, shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/rc.h"
#include "common/test.h"

#include "cluster.h"
#include "config.h"
#include "sentinel.h"

void tc_unit_cluster(void);


static void
test_shards_list(void)
{
    char    err[200];
    long   *l;
    size_t  n, i;

    CHECK(tc_conf_parse_shards("all", &l, &n, err, sizeof(err)) == TC_OK
          && l == NULL && n == 0, "all");

    CHECK(tc_conf_parse_shards("0,2 5", &l, &n, err, sizeof(err)) == TC_OK
          && n == 3 && l[0] == 0 && l[1] == 2 && l[2] == 5, "0,2 5: %s", err);
    free(l);

    {
        static const char  *bad[] = {
            "", " , ", "x", "1,1", "-1", "16384", "1,x", "2a", "1;2", "al",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            err[0] = '\0';
            CHECK(tc_conf_parse_shards(bad[i], &l, &n, err, sizeof(err))
                  == TC_ERROR && l == NULL && err[0] != '\0',
                  "refused: \"%s\"", bad[i]);
        }
    }
}


/* a fresh configuration with name = value pairs set, then checked */
static tc_rc_t
conf_with(tc_conf_t *c, char *err, size_t size, const char *const *set)
{
    tc_conf_defaults(c);

    for ( /* void */ ; *set != NULL; set += 2) {
        if (tc_conf_set(c, set[0], set[1], err, size) != 0) {
            return TC_ERROR;
        }
    }

    return tc_conf_check(c, err, size);
}


static void
test_settings(void)
{
    char        err[256];
    size_t      i;
    tc_conf_t   c;

    static const char *const  good[] = {
        "redis-cluster", "10.0.0.1:7000, 10.0.0.2", "shards", "1,0",
        "cluster_shards", "3", NULL
    };

    static const struct {
        const char *const  set[7];
        const char        *says;
    } bad[] = {
        { { "redis_cluster", "h:7000", "redis_sentinel", "h", NULL },
          "redis_cluster and redis_sentinel" },
        { { "redis_cluster", "h:7000", "redis_socket", "/s", NULL },
          "redis_cluster and redis_socket" },
        { { "shards", "1", NULL }, "shards needs redis_cluster" },
        { { "redis_cluster", "h:7000", "shards", "0,x", NULL }, "shards:" },
        { { "redis_cluster", "h:7000", "cluster_shards", "3",
            "shards", "2,3" }, "shard 3 does not exist" },
        { { "redis_cluster", "h:7000", "queue_key", "q{x}", NULL },
          "hash tag" },
        { { "redis_cluster", "unix:/s", NULL }, "unix socket" },
        { { "redis_cluster", "h:0", NULL }, "redis_cluster:" },
    };

    tc_conf_defaults(&c);
    CHECK(c.lease_ms == 5000 && c.cluster_shards == 0
          && strcmp(c.shards, "all") == 0 && c.redis_cluster[0] == '\0',
          "cluster defaults");
    CHECK(tc_conf_check(&c, err, sizeof(err)) == TC_OK && c.nseeds == 0
          && c.shard_list == NULL, "no cluster by default");
    tc_conf_free(&c);

    CHECK(conf_with(&c, err, sizeof(err), good) == TC_OK, "cluster: %s",
          err);
    CHECK(c.nseeds == 2 && c.seeds[1].port == 6379
          && strcmp(c.seeds[0].host, "10.0.0.1") == 0
          && c.nshard_list == 2 && c.shard_list[0] == 1,
          "seeds and shards parsed");
    CHECK(tc_conf_check(&c, err, sizeof(err)) == TC_OK && c.nseeds == 2,
          "checked again");
    tc_conf_free(&c);
    CHECK(c.seeds == NULL && c.shard_list == NULL, "freed");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(conf_with(&c, err, sizeof(err), bad[i].set) == TC_ERROR
              && strstr(err, bad[i].says) != NULL, "refused (%s): %s",
              bad[i].says, err);
        tc_conf_free(&c);
    }
}


/* a reply parsed by hiredis from its protocol text */
static redisReply *
reply_of(const char *resp)
{
    void         *r;
    redisReader  *rd;

    rd = redisReaderCreate();
    r = NULL;
    if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK
        || redisReaderGetReply(rd, &r) != REDIS_OK)
    {
        r = NULL;
    }
    redisReaderFree(rd);

    return r;
}


static void
test_slot_map(void)
{
    size_t             n, i;
    tc_cluster_t       cl;
    redisReply        *r;
    const char        *why;
    tc_slot_range_t   *ranges;

    /* three ranges, two masters (with a replica each, and node ids) */
    r = reply_of("*3\r\n"
                 "*4\r\n:0\r\n:5460\r\n"
                 "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                 "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
                 "*3\r\n:5461\r\n:10922\r\n"
                 "*2\r\n$8\r\n10.0.0.2\r\n:7001\r\n"
                 "*3\r\n:10923\r\n:16383\r\n"
                 "*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n");
    CHECK(r != NULL && tc_cluster_parse_slots(r, "10.9.9.9", &ranges, &n, &why) == TC_OK
          && n == 3, "a map");
    if (r != NULL && n == 3) {
        CHECK(ranges[0].start == 0 && ranges[0].end == 5460
              && ranges[0].port == 7000
              && strcmp(ranges[1].host, "10.0.0.2") == 0
              && ranges[2].start == 10923, "ranges");
        CHECK(tc_cluster_masters(ranges, n) == 2, "two masters");

        tc_cluster_init(&cl, NULL);
        cl.ranges = ranges;
        cl.nranges = n;
        CHECK(tc_cluster_lookup(&cl, 5461) == &ranges[1]
              && tc_cluster_lookup(&cl, 16383) == &ranges[2]
              && tc_cluster_lookup(&cl, 16384) == NULL, "lookup");
        tc_cluster_free(&cl);
    }
    freeReplyObject(r);

    /* no endpoint (nil or ""): the address asked */
    r = reply_of("*2\r\n"
                 "*3\r\n:0\r\n:8191\r\n*2\r\n$0\r\n\r\n:7000\r\n"
                 "*3\r\n:8192\r\n:16383\r\n*2\r\n$-1\r\n:7001\r\n");
    CHECK(r != NULL
          && tc_cluster_parse_slots(r, "10.9.9.9", &ranges, &n, &why) == TC_OK
          && n == 2 && strcmp(ranges[0].host, "10.9.9.9") == 0
          && strcmp(ranges[1].host, "10.9.9.9") == 0
          && ranges[1].port == 7001, "no endpoint: the node asked");
    if (r != NULL && n == 2) {
        free(ranges);
    }
    freeReplyObject(r);

    {
        static const char  *bad[] = {
            "-CLUSTERDOWN Hash slot not served\r\n",
            "*0\r\n",
            ":1\r\n",
            "*1\r\n*2\r\n:0\r\n:5\r\n",
            "*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n",
            "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",
            "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n:1\r\n:1\r\n",
            "*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n$1\r\nh\r\n",
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            r = reply_of(bad[i]);
            why = NULL;
            CHECK(r != NULL
                  && tc_cluster_parse_slots(r, "10.9.9.9", &ranges, &n, &why) == TC_ERROR
                  && ranges == NULL && why != NULL, "bad map %zu", i);
            freeReplyObject(r);
        }
    }
}


static void
test_shard_tags(void)
{
    /* the module's rule: shard i of n in the i-th n-th of the slots */
    CHECK(tc_cluster_tag_fits(0, 0, 3) && tc_cluster_tag_fits(5460, 0, 3)
          && !tc_cluster_tag_fits(5461, 0, 3), "first third");
    /* 32768 / 3 rounds down: slot 10922 is the last third's */
    CHECK(tc_cluster_tag_fits(5461, 1, 3) && tc_cluster_tag_fits(10921, 1, 3)
          && !tc_cluster_tag_fits(10922, 1, 3), "second third");
    CHECK(tc_cluster_tag_fits(10922, 2, 3) && tc_cluster_tag_fits(16383, 2, 3)
          && !tc_cluster_tag_fits(10921, 2, 3), "last third");
    CHECK(tc_cluster_tag_fits(16383, 0, 1) && tc_cluster_tag_fits(7, 7, 16384)
          && !tc_cluster_tag_fits(8, 7, 16384), "one, and one per slot");
}


static void
test_redirections(void)
{
    static const char  *follow[] = {
        "MOVED 3999 127.0.0.1:6381", "ASK 3999 127.0.0.1:6381",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
    };
    static const char  *other[] = { "MOVEDX", "ASKING", "ERR unknown" };
    size_t  i;

    for (i = 0; i < sizeof(follow) / sizeof(follow[0]); i++) {
        CHECK(tc_redis_failover_error(follow[i], strlen(follow[i])) != NULL,
              "followed: %s", follow[i]);
    }
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        CHECK(tc_redis_failover_error(other[i], strlen(other[i])) == NULL,
              "not followed: %s", other[i]);
    }
}


void
tc_unit_cluster(void)
{
    test_shards_list();
    test_settings();
    test_slot_map();
    test_shard_tags();
    test_redirections();
}
