/* track-consumer: Redis side: batches move atomically to a processing list. */
#ifndef TC_QUEUE_H
#define TC_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"

typedef struct {
    const tc_conf_t  *conf;
    redisContext     *c;
    char             *proc_key;     /* processing_prefix + id */
    char             *seq_key;      /* proc_key + ":seq" */

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

int tc_queue_init(tc_queue_t *q, const tc_conf_t *conf);
void tc_queue_free(tc_queue_t *q);

/*
 * Connects to redis_host/port/socket, or, with redis_sentinel, asks the
 * sentinels in turn for the master of redis_master, connects to it and
 * checks with ROLE that it is the master.  0 or -1 (logged).
 */
int tc_queue_connect(tc_queue_t *q);
void tc_queue_close(tc_queue_t *q);

/*
 * With sentinels, at most every redis_sentinel_check_ms: asks them whether
 * the connected master is still the one they name.  -1 when it is not (the
 * connection is closed: the next connect follows), else 0.
 */
int tc_queue_check_master(tc_queue_t *q);

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
 * least min_seq.  0 or -1.
 */
int tc_queue_fill(tc_queue_t *q, uint64_t min_seq, long max);

/*
 * Blocks up to ms for one element and moves it into the processing list
 * (BLMOVE).  1 moved, 0 timed out, -1 error.
 */
int tc_queue_wait(tc_queue_t *q, long ms);

/*
 * Atomically: appends the dead letters to the dead-letter list, deletes the
 * processing list (which must hold count elements, the committed batch),
 * and numbers it seq + 1.  1 done, 0 done before, 2 the list did not hold
 * count elements: kept and numbered seq + 1, to be stored again (its
 * length in q->ack_len), -1 error (connection), -2 refused: the list holds
 * another batch number.
 */
int tc_queue_ack(tc_queue_t *q, uint64_t seq, size_t count, char **dead,
    size_t *dead_len, size_t ndead);

/* Appends dead letters now (those MySQL refused, before COMMIT). */
int tc_queue_push_dead(tc_queue_t *q, char **dead, size_t *dead_len,
    size_t ndead);

/* LLEN of the queue, -1 on error. */
long long tc_queue_length(tc_queue_t *q);

/* Frees what the fills read: the next fill reads the list whole. */
void tc_queue_release(tc_queue_t *q);

#endif /* TC_QUEUE_H */
