/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: unit tests: sentinel addresses, replies, settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rc.h"
#include "common/test.h"

#include "config.h"
#include "sentinel.h"

void tc_unit_sentinel(void);



static void
test_addr_list(void)
{
    char        err[200], buf[300];
    size_t      n;
    tc_addr_t  *a;

    CHECK(tc_addr_list_parse("10.0.0.11:26380, 10.0.0.12\t[::1]:26381 "
                             "unix:/run/s.sock,,sentinel-3 ::1", 26379, &a,
                             &n, err, sizeof(err)) == TC_OK && n == 6,
          "a list: %s", err);
    if (n == 6) {
        CHECK(strcmp(a[0].host, "10.0.0.11") == 0 && a[0].port == 26380,
              "host:port");
        CHECK(strcmp(a[1].host, "10.0.0.12") == 0 && a[1].port == 26379,
              "default port");
        CHECK(strcmp(a[2].host, "::1") == 0 && a[2].port == 26381,
              "[ipv6]:port");
        CHECK(strcmp(a[3].host, "/run/s.sock") == 0 && a[3].port == 0,
              "unix:path");
        CHECK(strcmp(a[4].host, "sentinel-3") == 0 && a[4].port == 26379,
              "a name");
        CHECK(strcmp(a[5].host, "::1") == 0 && a[5].port == 26379,
              "a bare ipv6 address");
        CHECK(strcmp(tc_addr_text(a[2].host, a[2].port, buf, sizeof(buf)),
                     "[::1]:26381") == 0, "ipv6 text: %s", buf);
        CHECK(strcmp(tc_addr_text(a[3].host, a[3].port, buf, sizeof(buf)),
                     "unix:/run/s.sock") == 0, "unix text: %s", buf);
        CHECK(strcmp(tc_addr_text(a[0].host, a[0].port, buf, sizeof(buf)),
                     "10.0.0.11:26380") == 0, "text: %s", buf);
    }
    tc_addr_list_free(a, n);

    {
        static const char  *bad[] = {
            "", " , ", "h:0", "h:65536", "h:", ":1", "h:12x", "[::1",
            "[]:1", "[::1]x", "[::1]:", "unix:", "h:123456",
        };
        size_t  i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            err[0] = '\0';
            a = (tc_addr_t *) 1;
            CHECK(tc_addr_list_parse(bad[i], 26379, &a, &n, err, sizeof(err))
                  == TC_ERROR && a == NULL && n == 0 && err[0] != '\0',
                  "\"%s\" refused", bad[i]);
        }
    }
}


static void
test_replies(void)
{
    char         host[64];
    long         port;
    const char  *why, *role;
    redisReply   r, e0, e1, *el[3];

    memset(&r, 0, sizeof(r));
    memset(&e0, 0, sizeof(e0));
    memset(&e1, 0, sizeof(e1));
    el[0] = &e0;
    el[1] = &e1;
    el[2] = NULL;

    /* SENTINEL get-master-addr-by-name */
    r.type = REDIS_REPLY_ARRAY;
    r.elements = 2;
    r.element = el;
    e0.type = REDIS_REPLY_STRING;
    e0.str = "127.0.0.1";
    e0.len = 9;
    e1.type = REDIS_REPLY_STRING;
    e1.str = "6380";
    e1.len = 4;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_MASTER
          && strcmp(host, "127.0.0.1") == 0 && port == 6380,
          "master address");

    e1.str = "0";
    e1.len = 1;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY
          && why != NULL, "port 0 refused");

    e1.str = "6380";
    e1.len = 4;
    e0.len = 0;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY,
          "empty host refused");
    e0.len = 9;

    CHECK(tc_sentinel_master(&r, host, 5, &port, &why)
          == TC_SENTINEL_BAD_REPLY,
          "host longer than the buffer refused");

    r.elements = 1;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY,
          "one element refused");
    r.elements = 2;

    e1.type = REDIS_REPLY_INTEGER;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY,
          "integer port refused");
    e1.type = REDIS_REPLY_STRING;

    r.type = REDIS_REPLY_NIL;
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_NO_MASTER,
          "nil: no such master");

    r.type = REDIS_REPLY_ERROR;
    r.str = "ERR unknown command";
    r.len = strlen(r.str);
    CHECK(tc_sentinel_master(&r, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY
          && why == r.str, "an error reply (not a sentinel)");

    CHECK(tc_sentinel_master(NULL, host, sizeof(host), &port, &why)
          == TC_SENTINEL_BAD_REPLY,
          "no reply");

    /* ROLE */
    r.type = REDIS_REPLY_ARRAY;
    r.elements = 3;
    e0.str = "master";
    e0.len = 6;
    CHECK(tc_role_is_master(&r, &role) == 1 && strcmp(role, "master") == 0,
          "master");
    e0.str = "slave";
    e0.len = 5;
    CHECK(tc_role_is_master(&r, &role) == 0 && strcmp(role, "replica") == 0,
          "replica");
    e0.str = "sentinel";
    e0.len = 8;
    CHECK(tc_role_is_master(&r, &role) == 0 && strcmp(role, "sentinel") == 0,
          "sentinel");
    e0.str = "masterx";
    e0.len = 7;
    CHECK(tc_role_is_master(&r, &role) == 0, "masterx is not master");
    r.elements = 0;
    CHECK(tc_role_is_master(&r, &role) == 0, "empty array");
    CHECK(tc_role_is_master(NULL, &role) == 0, "no reply");

    /* errors that send the consumer back to the sentinels */
    CHECK(tc_redis_failover_error("READONLY You can't write against a read "
                                  "only replica. script: 1a2b", 62) != NULL,
          "READONLY from a script");
    CHECK(tc_redis_failover_error("UNBLOCKED force unblock from blocking "
                                  "operation", 47) != NULL, "UNBLOCKED");
    CHECK(tc_redis_failover_error("LOADING Redis is loading", 24) != NULL,
          "LOADING");
    CHECK(tc_redis_failover_error("MASTERDOWN Link with MASTER is down", 35)
          != NULL, "MASTERDOWN");
    CHECK(tc_redis_failover_error("READONLYX", 9) == NULL, "READONLYX");
    CHECK(tc_redis_failover_error("ERR the processing list holds batch 3",
                                  37) == NULL, "another error");
    CHECK(tc_redis_failover_error("READ", 4) == NULL, "a short error");
}


static void
test_settings(void)
{
    char        err[256];
    tc_conf_t   c;

    tc_conf_defaults(&c);
    CHECK(strcmp(c.redis_master, "mymaster") == 0
          && c.redis_sentinel[0] == '\0', "sentinel defaults");
    CHECK(tc_conf_check(&c, err, sizeof(err)) == TC_OK && c.nsentinels == 0
          && c.sentinels == NULL, "no sentinels by default");
    tc_conf_free(&c);

    tc_conf_defaults(&c);
    CHECK(tc_conf_set(&c, "redis-sentinel", "127.0.0.1:26380 127.0.0.2",
                      err, sizeof(err)) == 0
          && tc_conf_set(&c, "redis_master", "tc", err, sizeof(err)) == 0
          && tc_conf_check(&c, err, sizeof(err)) == TC_OK,
          "sentinels: %s", err);
    CHECK(c.nsentinels == 2 && c.sentinels[0].port == 26380
          && strcmp(c.sentinels[1].host, "127.0.0.2") == 0
          && c.sentinels[1].port == 26379 && strcmp(c.redis_master, "tc") == 0,
          "sentinels parsed");
    /* checked twice (as a reload would): no leak, same result */
    CHECK(tc_conf_check(&c, err, sizeof(err)) == TC_OK && c.nsentinels == 2,
          "checked again");
    tc_conf_free(&c);
    CHECK(c.sentinels == NULL && c.nsentinels == 0, "freed");

    tc_conf_defaults(&c);
    CHECK(tc_conf_set(&c, "redis_sentinel", "h:1:2:x]", err, sizeof(err))
          == 0 && tc_conf_check(&c, err, sizeof(err)) == TC_ERROR
          && strstr(err, "redis_sentinel") != NULL, "bad sentinel: %s", err);
    tc_conf_free(&c);

    tc_conf_defaults(&c);
    CHECK(tc_conf_set(&c, "redis_sentinel", "h", err, sizeof(err)) == 0
          && tc_conf_set(&c, "redis_master", "", err, sizeof(err)) == 0
          && tc_conf_check(&c, err, sizeof(err)) == TC_ERROR
          && strstr(err, "redis_master") != NULL, "empty master: %s", err);
    tc_conf_free(&c);
}


void
tc_unit_sentinel(void)
{
    test_addr_list();
    test_replies();
    test_settings();
}
