/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: a batch of queue elements: decoding, dedupe, aggregation. */
#ifndef TC_BATCH_H
#define TC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/rc.h"

#include "event.h"

typedef struct {
    uint64_t       seq;         /* batch sequence number of this consumer */
    size_t         n;
    const char   **raw;         /* the elements, owned by the caller */
    size_t        *raw_len;
    tc_event_t    *ev;          /* n decoded events */

    uint32_t      *days;        /* distinct days of TC_EV_OK events */
    size_t         ndays;

    size_t        *order;       /* scratch: n indexes */

    /*
     * What jansson allocates while the batch decodes, and the fast path's
     * text blocks (allocated as jansson's), come from here, and go all at
     * once with the batch: no malloc() and free() per string and hash
     * table of every event.
     */
    struct tc_arena_s  *arena;

    /* scratch of the ranking of values and of the sorts */
    void          *keys;        /* n sort keys */
    uint32_t      *rank_tmp;
    size_t        *rank_reps;
    size_t        *rank_ids;
    size_t        *rank_table;
    size_t         rank_tsize;  /* a power of two, at least 2n */
} tc_batch_t;

/* a sort key: an event's ranks packed into 64 bits, and its index */
typedef struct {
    uint64_t       key;
    size_t         idx;
} tc_sortkey_t;

/* one aggregated statistics row: its key fields are those of ev */
typedef struct {
    const tc_event_t  *ev;
    uint64_t           n;
    uint32_t           action_id;   /* stats_actions.id of its action */
} tc_agg_t;

tc_rc_t tc_batch_init(tc_batch_t *b, size_t n);
void tc_batch_free(tc_batch_t *b);

/*
 * Decodes every element; marks a repeated (day, eid) TC_EV_DUP, keeping the
 * first; ranks the values of the statistics keys (see tc_event_t); collects
 * the days of the events to store.
 */
void tc_batch_decode(tc_batch_t *b, size_t max_bytes);

/*
 * Ranks the statistics keys of the TC_EV_OK events of a batch filled by
 * other means than tc_batch_decode (the roll-up's rows read back).
 */
void tc_batch_rank(tc_batch_t *b);

/* Recollects the days after statuses changed. */
void tc_batch_days(tc_batch_t *b);

size_t tc_batch_count(const tc_batch_t *b, tc_ev_status_t status);

/*
 * Statistics of the TC_EV_OK events, in primary-key order (the order rows
 * are locked in, so concurrent consumers do not deadlock on each other):
 * hourly by (app, module, action, object, day, hour), daily by (app, module,
 * action, object, day).  out needs b->n entries; returns the row count.
 */
size_t tc_batch_hourly(tc_batch_t *b, tc_agg_t *out);
size_t tc_batch_daily(tc_batch_t *b, tc_agg_t *out);

/* Daily rows from hourly rows (as tc_batch_hourly made them), in place. */
size_t tc_agg_daily(tc_agg_t *a, size_t n);

/*
 * Distinct (app, module, action, day, uid) of TC_EV_OK events with a
 * non-empty uid, in primary-key order; events of one (app, module, action,
 * day) group are adjacent.  out needs b->n entries.
 */
size_t tc_batch_users(tc_batch_t *b, const tc_event_t **out);

/* 0 when both events have the same (app, module, action, day) group */
int tc_event_group_cmp(const tc_event_t *a, const tc_event_t *b);

/* Compares strings as utf8mb4_nopad_bin does: bytes, then length. */
int tc_str_cmp(const tc_str_t *a, const tc_str_t *b);

#endif /* TC_BATCH_H */
