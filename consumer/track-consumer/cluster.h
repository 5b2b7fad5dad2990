/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis Cluster: the slot map and the shard lists' names. */
#ifndef TC_CLUSTER_H
#define TC_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "common/rc.h"

#include "config.h"

#define TC_CLUSTER_SLOTS  16384

typedef struct {
    long   start;                   /* slots start to end, inclusive */
    long   end;
    char   host[256];               /* their master */
    long   port;
} tc_slot_range_t;

typedef struct {
    const tc_conf_t   *conf;
    tc_slot_range_t   *ranges;      /* the last map learned */
    size_t             nranges;
    size_t             asked;       /* the seed asked first next time */

    /* fixed when the map is first learned, as the module does */
    char             **shards;      /* "<queue_key>:{sI.K}" */
    long              *slots;       /* shard I's slot */
    size_t             nshards;
} tc_cluster_t;

void tc_cluster_init(tc_cluster_t *cl, const tc_conf_t *conf);
void tc_cluster_free(tc_cluster_t *cl);

/*
 * Asks the seeds in turn, then the masters of the last map, for CLUSTER
 * SLOTS; the first time, also names the shard lists.  TC_ERROR is logged.
 */
tc_rc_t tc_cluster_learn(tc_cluster_t *cl);

/* The range holding slot in the last map, or NULL. */
const tc_slot_range_t *tc_cluster_lookup(const tc_cluster_t *cl, long slot);

/*
 * A CLUSTER SLOTS reply as ranges (malloc'ed), each with its master (the
 * first node listed; without an endpoint, the host asked).  TC_ERROR with
 * the reason in *why.
 */
tc_rc_t tc_cluster_parse_slots(const redisReply *r, const char *asked,
    tc_slot_range_t **out, size_t *n, const char **why);

/* Distinct masters in ranges (the default number of shards). */
size_t tc_cluster_masters(const tc_slot_range_t *ranges, size_t n);

/*
 * Shard i of n: the hash tag "sI.K" is good when its slot is in the i-th
 * n-th of the slots (the module's rule, ngx_http_track_cluster.c).
 */
int tc_cluster_tag_fits(long slot, size_t i, size_t n);

/* An open, authenticated connection to host:port, or NULL (logged). */
redisContext *tc_cluster_open(const tc_conf_t *conf, const char *host,
    long port, long ms);

#endif /* TC_CLUSTER_H */
