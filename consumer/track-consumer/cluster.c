/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis Cluster: the slot map and the shard lists' names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rc.h"

#include "cluster.h"
#include "sentinel.h"

#define TC_CLUSTER_ASK_MS   1000    /* most a node may take to answer */
#define TC_KEYSLOT_BATCH    64      /* CLUSTER KEYSLOTs per round trip */


void
tc_cluster_init(tc_cluster_t *cl, const tc_conf_t *conf)
{
    memset(cl, 0, sizeof(*cl));
    cl->conf = conf;
}


void
tc_cluster_free(tc_cluster_t *cl)
{
    size_t  i;

    for (i = 0; i < cl->nshards; i++) {
        free(cl->shards[i]);
    }
    free(cl->shards);
    free(cl->slots);
    free(cl->ranges);
    cl->shards = NULL;
    cl->slots = NULL;
    cl->ranges = NULL;
    cl->nshards = 0;
    cl->nranges = 0;
}


redisContext *
tc_cluster_open(const tc_conf_t *conf, const char *host, long port, long ms)
{
    char           addr[300];
    redisReply    *r;
    redisContext  *c;

    tc_addr_text(host, port, addr, sizeof(addr));

    c = tc_redis_open(host, port, ms);
    if (c == NULL || c->err) {
        tc_log_warn("redis cluster: cannot connect to %s: %s", addr,
                    tc_redis_context_error(c));
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }

    if (conf->redis_password[0]) {
        r = redisCommand(c, "AUTH %s", conf->redis_password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            tc_log_error("redis cluster: AUTH at %s: %s", addr,
                         r ? r->str : tc_redis_context_error(c));
            if (r != NULL) {
                freeReplyObject(r);
            }
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }

    return c;
}


tc_rc_t
tc_cluster_parse_slots(const redisReply *r, const char *asked,
    tc_slot_range_t **out, size_t *n, const char **why)
{
    size_t            i, len;
    const char       *host;
    tc_slot_range_t  *ranges;
    const redisReply *e, *node;

    *out = NULL;
    *n = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        *why = r && r->type == REDIS_REPLY_ERROR ? r->str : "not an array";
        return TC_ERROR;
    }

    if (r->elements == 0) {
        *why = "no slot is served";
        return TC_ERROR;
    }

    ranges = calloc(r->elements, sizeof(tc_slot_range_t));
    if (ranges == NULL) {
        *why = "out of memory";
        return TC_ERROR;
    }

    for (i = 0; i < r->elements; i++) {
        e = r->element[i];
        node = e->type == REDIS_REPLY_ARRAY && e->elements >= 3
               ? e->element[2] : NULL;

        if (node == NULL || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || node->type != REDIS_REPLY_ARRAY || node->elements < 2
            || (node->element[0]->type != REDIS_REPLY_STRING
                && node->element[0]->type != REDIS_REPLY_NIL)
            || node->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[0]->integer < 0
            || e->element[1]->integer >= TC_CLUSTER_SLOTS
            || e->element[0]->integer > e->element[1]->integer
            || node->element[0]->len >= sizeof(ranges[i].host))
        {
            free(ranges);
            *why = "a range is not [start, end, [host, port, ...], ...]";
            return TC_ERROR;
        }

        /*
         * No endpoint (nil, or "" from a node that has not learned its own
         * address yet): the node asked, as Redis documents for clients.
         */
        host = node->element[0]->str;
        len = node->element[0]->len;
        if (node->element[0]->type == REDIS_REPLY_NIL || len == 0) {
            host = asked;
            len = strlen(asked);
            if (len >= sizeof(ranges[i].host)) {
                free(ranges);
                *why = "the address asked is too long";
                return TC_ERROR;
            }
        }

        ranges[i].start = (long) e->element[0]->integer;
        ranges[i].end = (long) e->element[1]->integer;
        ranges[i].port = (long) node->element[1]->integer;
        memcpy(ranges[i].host, host, len);
    }

    *out = ranges;
    *n = r->elements;

    return TC_OK;
}


size_t
tc_cluster_masters(const tc_slot_range_t *ranges, size_t n)
{
    size_t  i, j, masters;

    masters = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (ranges[j].port == ranges[i].port
                && strcmp(ranges[j].host, ranges[i].host) == 0)
            {
                break;
            }
        }
        masters += (j == i);
    }

    return masters;
}


const tc_slot_range_t *
tc_cluster_lookup(const tc_cluster_t *cl, long slot)
{
    size_t  i;

    for (i = 0; i < cl->nranges; i++) {
        if (slot >= cl->ranges[i].start && slot <= cl->ranges[i].end) {
            return &cl->ranges[i];
        }
    }

    return NULL;
}


int
tc_cluster_tag_fits(long slot, size_t i, size_t n)
{
    return (size_t) slot >= i * TC_CLUSTER_SLOTS / n
           && (size_t) slot < (i + 1) * TC_CLUSTER_SLOTS / n;
}


/*
 * Names the shard lists as the module does.  The server computes the
 * slots (CLUSTER KEYSLOT, pipelined): the module's CRC16 is nginx code the
 * consumer cannot link, and a second copy could drift from it.
 */
static tc_rc_t
name_shards(tc_cluster_t *cl, redisContext *c)
{
    char         key[128];
    long         k, j;
    size_t       i, n;
    redisReply  *r;

    n = cl->conf->cluster_shards > 0 ? (size_t) cl->conf->cluster_shards
                                     : tc_cluster_masters(cl->ranges,
                                                          cl->nranges);
    if (n == 0) {
        n = 1;
    }

    cl->shards = calloc(n, sizeof(char *));
    cl->slots = calloc(n, sizeof(long));
    if (cl->shards == NULL || cl->slots == NULL) {
        goto fail;
    }
    cl->nshards = n;

    for (i = 0; i < n; i++) {
        for (k = 0; cl->shards[i] == NULL; k += TC_KEYSLOT_BATCH) {
            for (j = 0; j < TC_KEYSLOT_BATCH; j++) {
                snprintf(key, sizeof(key), "%s:{s%zu.%ld}",
                         cl->conf->queue_key, i, k + j);
                redisAppendCommand(c, "CLUSTER KEYSLOT %s", key);
            }

            for (j = 0; j < TC_KEYSLOT_BATCH; j++) {
                if (redisGetReply(c, (void **) &r) != REDIS_OK) {
                    tc_log_error("redis cluster: CLUSTER KEYSLOT: %s",
                                 tc_redis_context_error(c));
                    goto fail;
                }
                if (r->type != REDIS_REPLY_INTEGER) {
                    tc_log_error("redis cluster: CLUSTER KEYSLOT: %s",
                                 r->type == REDIS_REPLY_ERROR ? r->str
                                 : "not an integer");
                    freeReplyObject(r);
                    goto fail;
                }
                if (cl->shards[i] == NULL
                    && tc_cluster_tag_fits((long) r->integer, i, n))
                {
                    snprintf(key, sizeof(key), "%s:{s%zu.%ld}",
                             cl->conf->queue_key, i, k + j);
                    cl->shards[i] = strdup(key);
                    cl->slots[i] = (long) r->integer;
                }
                freeReplyObject(r);
            }

            if (cl->shards[i] == NULL && k > 64 * TC_CLUSTER_SLOTS) {
                tc_log_error("redis cluster: no hash tag found for shard "
                             "%zu", i);
                goto fail;
            }
        }
    }

    tc_log_info("redis cluster: %zu shard lists, \"%s\" to \"%s\"", n,
                cl->shards[0], cl->shards[n - 1]);

    return TC_OK;

fail:

    for (i = 0; cl->shards != NULL && i < n; i++) {
        free(cl->shards[i]);
    }
    free(cl->shards);
    free(cl->slots);
    cl->shards = NULL;
    cl->slots = NULL;
    cl->nshards = 0;

    return TC_ERROR;
}


static tc_rc_t
ask(tc_cluster_t *cl, const char *host, long port)
{
    char              addr[300];
    size_t            n;
    tc_rc_t           rc;
    redisReply       *r;
    const char       *why;
    redisContext     *c;
    tc_slot_range_t  *ranges;

    tc_addr_text(host, port, addr, sizeof(addr));

    c = tc_cluster_open(cl->conf, host, port, TC_CLUSTER_ASK_MS);
    if (c == NULL) {
        return TC_ERROR;
    }

    r = redisCommand(c, "CLUSTER SLOTS");
    if (tc_cluster_parse_slots(r, host, &ranges, &n, &why) != TC_OK) {
        tc_log_warn("redis cluster: CLUSTER SLOTS at %s: %s", addr,
                    r ? why : tc_redis_context_error(c));
        rc = TC_ERROR;

    } else {
        free(cl->ranges);
        cl->ranges = ranges;
        cl->nranges = n;
        tc_log_debug("redis cluster: %s gave a map of %zu ranges", addr, n);
        rc = cl->shards == NULL ? name_shards(cl, c) : TC_OK;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(c);

    return rc;
}


tc_rc_t
tc_cluster_learn(tc_cluster_t *cl)
{
    char              host[256];
    long              port;
    size_t            i, k, nseeds, nknown;
    const tc_conf_t  *conf;

    conf = cl->conf;
    nseeds = conf->nseeds;
    nknown = cl->nranges;

    /* the seeds, from the one that answered last, then the known masters */
    for (i = 0; i < nseeds + nknown; i++) {
        if (i < nseeds) {
            k = (cl->asked + i) % nseeds;
            snprintf(host, sizeof(host), "%s", conf->seeds[k].host);
            port = conf->seeds[k].port;
        } else {
            k = i - nseeds;
            if (k >= cl->nranges) {
                break;
            }
            snprintf(host, sizeof(host), "%s", cl->ranges[k].host);
            port = cl->ranges[k].port;
        }

        if (ask(cl, host, port) == TC_OK) {
            if (i < nseeds) {
                cl->asked = k;
            }
            return TC_OK;
        }
    }

    tc_log_error("redis cluster: no node gave a slot map (seeds: %s)",
                 conf->redis_cluster);

    return TC_ERROR;
}
