/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis helpers: connections, Sentinel replies, failover
 * errors (addresses: common/addr.h). */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "common/addr.h"
#include "common/rc.h"

#include "sentinel.h"


void
tc_redis_set_timeout(redisContext *c, long ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    redisSetTimeout(c, tv);
}


/* A blocking connection with a connect and command timeout of ms. */
redisContext *
tc_redis_open(const char *host, long port, long ms)
{
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (port == 0) {
        c = redisConnectUnixWithTimeout(host, tv);
    } else {
        c = redisConnectWithTimeout(host, (int) port, tv);
    }

    if (c != NULL && !c->err) {
        tc_redis_set_timeout(c, ms);
    }

    return c;
}


const char *
tc_redis_context_error(redisContext *c)
{
    if (c == NULL) {
        return "out of memory";
    }

    if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily") != NULL) {
        return "no reply in time";
    }

    return c->errstr[0] ? c->errstr : "connection lost";
}



tc_sentinel_reply_t
tc_sentinel_master(const redisReply *r, char *host, size_t size, long *port,
    const char **why)
{
    *why = NULL;

    if (r == NULL) {
        *why = "no reply";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return TC_SENTINEL_NO_MASTER;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        *why = r->str;
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING)
    {
        *why = "the reply is not [host, port]";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->element[0]->len == 0 || r->element[0]->len >= size
        || memchr(r->element[0]->str, '\0', r->element[0]->len) != NULL)
    {
        *why = "the host is empty or too long";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (tc_addr_port_parse(r->element[1]->str, r->element[1]->len, port) != TC_OK) {
        *why = "the port is invalid";
        return TC_SENTINEL_BAD_REPLY;
    }

    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';

    return TC_SENTINEL_MASTER;
}


int
tc_role_is_master(const redisReply *r, const char **role)
{
    const redisReply  *e;

    *role = "?";

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        return 0;
    }

    e = r->element[0];
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) {
        return 0;
    }

    if (e->len == 6 && memcmp(e->str, "master", 6) == 0) {
        *role = "master";
        return 1;
    }

    if (e->len == 5 && memcmp(e->str, "slave", 5) == 0) {
        *role = "replica";

    } else if (e->len == 8 && memcmp(e->str, "sentinel", 8) == 0) {
        *role = "sentinel";
    }

    return 0;
}


const char *
tc_redis_failover_error(const char *err, size_t len)
{
    static const struct {
        const char  *prefix;
        const char  *why;
    } known[] = {
        { "READONLY", "it is a read-only replica now (failover)" },
        { "UNBLOCKED", "it was demoted to a replica (failover)" },
        { "MASTERDOWN", "it is a replica that lost its master" },
        { "LOADING", "it is still loading its data" },
        { "MOVED", "the slot is served by another master now (resharding "
                   "or failover)" },
        { "ASK", "the slot is being migrated: waiting for it to finish" },
        { "TRYAGAIN", "keys of the slot are being migrated: waiting" },
        { "CLUSTERDOWN", "the cluster is down (a master failed and no "
                         "replica was promoted yet)" },
    };

    size_t  i, n;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        n = strlen(known[i].prefix);
        if (len >= n && memcmp(err, known[i].prefix, n) == 0
            && (len == n || err[n] == ' '))
        {
            return known[i].why;
        }
    }

    return NULL;
}
