/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis side: batches move atomically to a processing list. */
#ifndef TC_QUEUE_H
#define TC_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/rc.h"

#include "cluster.h"
#include "config.h"

typedef struct {
    const tc_conf_t  *conf;
    redisContext     *c;
    char             *queue_key;    /* queue_key, or the shard's list */
    char             *dead_key;     /* dead_key, or dead_key:{shard's tag} */
    char             *proc_key;     /* processing_prefix + id */
    char             *seq_key;      /* proc_key + ":seq" */

    /* with redis_cluster: the shard bound, its lease */
    tc_cluster_t      cluster;
    long              shard;        /* -1: none */
    char             *lease_key;    /* the shard's list + ":owner" */
    char              token[128];   /* this process's lease value */
    unsigned          lost:1;       /* the lease is someone else's now */
    unsigned          inherited:1;  /* the list came with the lease: its
                                       first batch is taken as it is */

    /* with sentinels */
    size_t            answered;     /* the sentinel that answered last */
    char              master[300];  /* the master they named last, as text */
    int64_t           next_check;   /* of the master, ms (monotonic clock) */

    char              addr[300];    /* connected to, for log lines */
    size_t            ack_len;      /* the list's length seen by the ack */

    /* the processing list as read by the fills since the last release */
    redisReply      **replies;      /* LRANGE replies: the batch's text */
    size_t            nreplies;
    size_t            replies_cap;
    uint64_t          seq;          /* batch number of the processing list */
    size_t            n;
    size_t            items_cap;
    redisReply      **items;        /* the list's elements, in replies */
} tc_queue_t;

tc_rc_t tc_queue_init(tc_queue_t *q, const tc_conf_t *conf);

/*
 * With redis_cluster: binds q to shard list i of the cluster's map (the
 * keys named in README "Redis Cluster shards"), closing the connection
 * when the shard lives on another master.  TC_ERROR: out of memory.
 */
tc_rc_t tc_queue_bind(tc_queue_t *q, size_t i);

/*
 * Takes the bound shard's lease if it is free or ours (SET NX PX), on
 * its master.  TC_OK: ours (q->inherited set when its processing list
 * holds a batch); TC_RETRY: another consumer's; TC_ERROR: Redis (logged).
 */
tc_rc_t tc_queue_take_lease(tc_queue_t *q);

/* Renews the lease.  TC_OK, or TC_ERROR with q->lost set when it is not
   ours any more (else a connection error: logged). */
tc_rc_t tc_queue_renew_lease(tc_queue_t *q);

/* Gives the lease up if it is still ours, so a standby need not wait. */
void tc_queue_drop_lease(tc_queue_t *q);
void tc_queue_free(tc_queue_t *q);

/*
 * Connects to redis_host/port/socket, or, with redis_sentinel, asks the
 * sentinels in turn for the master of redis_master, connects to it and
 * checks with ROLE that it is the master, or, with redis_cluster, learns
 * the slot map again and connects to the master of the bound shard's
 * slot.  TC_ERROR is logged.
 */
tc_rc_t tc_queue_connect(tc_queue_t *q);
void tc_queue_close(tc_queue_t *q);

/*
 * With sentinels, at most every redis_sentinel_check_ms: asks them whether
 * the connected master is still the one they name.  TC_ERROR when not (the
 * connection is closed: the next connect follows), else TC_OK.
 */
tc_rc_t tc_queue_check_master(tc_queue_t *q);

/*
 * One atomic step (a Lua script): tops the processing list up to max
 * elements from the queue (max 0: moves nothing) and returns what the list
 * holds in q->items / q->n, and its batch number in q->seq.  What an
 * earlier fill (since the last release) read is not read again, only the
 * elements after it, when the list still has that number, length and last
 * element held; otherwise the list is read whole.  A batch number
 * below min_seq on an empty list is raised to min_seq first, so elements
 * moved later can never carry a number MySQL has committed.  A list
 * numbered below min_seq - 1 (Redis went back in time: see queue.c) is
 * renumbered min_seq too, and stored again.  q->seq is then min_seq - 1
 * (the batch MySQL committed last, acknowledged without storing) or at
 * least min_seq.  With a lease (cluster), the script first checks that
 * the lease is still ours and renews it (else TC_ERROR and q->lost), and
 * an inherited list is not topped up.
 */
tc_rc_t tc_queue_fill(tc_queue_t *q, uint64_t min_seq, long max);

typedef enum {
    TC_WAIT_MOVED,                  /* one element joined the list */
    TC_WAIT_TIMEOUT,
    TC_WAIT_ERROR                   /* connection: logged */
} tc_wait_t;

/*
 * Blocks up to ms for one element and moves it into the processing list
 * (BLMOVE).
 */
tc_wait_t tc_queue_wait(tc_queue_t *q, long ms);

/* What tc_queue_ack did; the first three are the ack script's own codes. */
typedef enum {
    TC_ACK_DELETED = 1,             /* the list is gone: done */
    TC_ACK_BEFORE = 0,              /* done before */
    TC_ACK_KEPT = 2,                /* the list did not hold count elements:
                                       kept and numbered seq + 1, to be
                                       stored again (its length in
                                       q->ack_len) */
    TC_ACK_ERROR = -1,              /* connection */
    TC_ACK_REFUSED = -2             /* the list holds another batch number */
} tc_ack_t;

/*
 * Atomically: appends the dead letters to the dead-letter list, deletes the
 * processing list (which must hold count elements, the committed batch),
 * and numbers it seq + 1.
 */
tc_ack_t tc_queue_ack(tc_queue_t *q, uint64_t seq, size_t count,
    char **dead, size_t *dead_len, size_t ndead);

/* Appends dead letters now (those MySQL refused, before COMMIT). */
tc_rc_t tc_queue_push_dead(tc_queue_t *q, char **dead, size_t *dead_len,
    size_t ndead);

/* LLEN of the queue, -1 on error. */
long long tc_queue_length(tc_queue_t *q);

/* Frees what the fills read: the next fill reads the list whole. */
void tc_queue_release(tc_queue_t *q);

#endif /* TC_QUEUE_H */
