/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the main loop: take a batch, commit it to MySQL, ack it. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "common/date.h"
#include "common/log.h"
#include "common/rc.h"

#include "batch.h"
#include "config.h"
#include "fault.h"
#include "lanes.h"
#include "queue.h"
#include "rollup.h"
#include "store.h"

#define TC_REPORT_EVERY   10        /* seconds between progress lines */
#define TC_LINGER_SLICE_MS 20        /* a lingering batch tops up this often */

/* What take_batch found. */
typedef enum {
    TC_TAKE_BATCH,                  /* a batch is in hand */
    TC_TAKE_NOTHING,                /* the queue stayed empty */
    TC_TAKE_ERROR                   /* Redis failed */
} tc_take_t;

typedef struct {
    tc_conf_t    conf;
    tc_queue_t   queue;
    tc_store_t   store;
    tc_rollup_t  rollup;
    uint64_t     last_id;           /* reserved by the last commit */
    tc_batch_t   batch;
    int          have;              /* a batch is in hand */
    int          committed;         /* ...and MySQL has it */
    unsigned     retries;           /* transient failures of this batch */

    long         redis_backoff;
    long         mysql_backoff;

    /* with redis_cluster: the turn on the shard owned (see turn_over) */
    int64_t      turn_end;          /* ms: look for a shard without owner */
    int64_t      free_seen;         /* ms one was seen first (0: none) */
    int          turn_over;         /* run() left to give the shard up */
    unsigned     turns;             /* turns taken by this lane */
    long         left;              /* the shard given up last, -1: none */

    /* since the last progress line */
    time_t       report_at;
    uint64_t     n_batches;
    uint64_t     n_stored;
    uint64_t     n_dup;
    uint64_t     n_dead;
} tc_ctx_t;

static sigset_t  tc_signals;
static int       tc_stop;


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
handle_signal(int signo)
{
    if (signo == SIGHUP) {
        tc_log_reopen();
        return;
    }

    if (!tc_stop) {
        tc_log_info("got %s: finishing the batch in hand, then exiting",
                    signo == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    tc_stop = 1;
}


/*
 * The signals stay blocked; they are taken here, synchronously, so nothing
 * runs in signal context and no wakeup can be lost.  Waits up to ms (0:
 * only looks) and returns early when a signal arrives.
 */
static void
wait_signals(long ms)
{
    int              signo;
    int64_t          end, left;
    struct timespec  ts;

    end = now_ms() + ms;

    for ( ;; ) {
        left = end - now_ms();
        if (left < 0) {
            left = 0;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000;

        signo = sigtimedwait(&tc_signals, NULL, &ts);
        if (signo > 0) {
            handle_signal(signo);
            if (tc_stop) {
                return;
            }
            continue;           /* SIGHUP: keep waiting */
        }

        if (errno == EINTR) {
            continue;
        }

        return;                 /* EAGAIN: time is up */
    }
}


/* Capped exponential backoff: waits, then doubles *backoff. */
static void
backoff(tc_ctx_t *ctx, long *backoff, const char *what)
{
    tc_log_warn("%s: retrying in %ld ms", what, *backoff);
    wait_signals(*backoff);

    *backoff *= 2;
    if (*backoff > ctx->conf.backoff_max_ms) {
        *backoff = ctx->conf.backoff_max_ms;
    }
}


static void
batch_drop(tc_ctx_t *ctx)
{
    tc_batch_free(&ctx->batch);
    tc_queue_release(&ctx->queue);
    ctx->have = 0;
    ctx->committed = 0;
    ctx->retries = 0;
}


/* Dead letters of the events whose status is status (malloc'ed texts). */
static size_t
dead_letters(tc_ctx_t *ctx, tc_ev_status_t status, char ***out,
    size_t **out_len)
{
    size_t       i, n;
    char       **dead;
    size_t      *len;
    tc_batch_t  *b;

    b = &ctx->batch;
    dead = calloc(b->n + 1, sizeof(char *));
    len = calloc(b->n + 1, sizeof(size_t));
    if (dead == NULL || len == NULL) {
        free(dead);
        free(len);
        *out = NULL;
        *out_len = NULL;
        return (size_t) -1;
    }

    n = 0;
    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status != status) {
            continue;
        }
        dead[n] = tc_event_dead_letter(&b->ev[i], b->raw[i], b->raw_len[i],
                                       ctx->conf.id, &len[n]);
        if (dead[n] == NULL) {
            while (n-- > 0) {
                free(dead[n]);
            }
            free(dead);
            free(len);
            *out = NULL;
            *out_len = NULL;
            return (size_t) -1;
        }
        n++;
    }

    *out = dead;
    *out_len = len;

    return n;
}


static void
dead_free(char **dead, size_t *len, size_t n)
{
    size_t  i;

    for (i = 0; dead != NULL && i < n; i++) {
        free(dead[i]);
    }
    free(dead);
    free(len);
}


/* store's hook: rows MySQL refused are dead letters before COMMIT */
static tc_rc_t
push_rejected(tc_batch_t *b, void *data)
{
    tc_rc_t    rc;
    char     **dead;
    size_t     n, *len;
    tc_ctx_t  *ctx;

    (void) b;
    ctx = data;

    n = dead_letters(ctx, TC_EV_REJECTED, &dead, &len);
    if (n == (size_t) -1) {
        return TC_ERROR;
    }

    rc = tc_queue_push_dead(&ctx->queue, dead, len, n);
    dead_free(dead, len, n);

    return rc;
}


/*
 * Takes what the processing list holds, topping it up from the queue; when
 * the queue is empty, blocks; a batch that is not full lingers for more.
 */
static tc_take_t
take_batch(tc_ctx_t *ctx)
{
    tc_wait_t    r;
    long         max;
    size_t       i, had;
    int64_t      deadline, left;
    tc_queue_t  *q;
    tc_batch_t  *b;

    q = &ctx->queue;
    max = ctx->conf.batch_size;

    tc_queue_release(q);        /* a failed take may have read a part */
    if (tc_queue_fill(q, ctx->store.last_seq + 1, tc_stop ? 0 : max)
        != TC_OK)
    {
        return TC_TAKE_ERROR;
    }

    if (q->n == 0) {
        if (tc_stop || ctx->conf.drain) {
            return TC_TAKE_NOTHING;
        }

        r = tc_queue_wait(q, ctx->conf.block_ms);
        if (r == TC_WAIT_ERROR) {
            return TC_TAKE_ERROR;
        }

        if (r == TC_WAIT_TIMEOUT) {
            return TC_TAKE_NOTHING;
        }

        if (tc_queue_fill(q, ctx->store.last_seq + 1, max) != TC_OK) {
            return TC_TAKE_ERROR;
        }
    }

    deadline = now_ms() + ctx->conf.linger_ms;

    /*
     * Linger only for a batch MySQL does not have: a list numbered at or
     * below last_seq was committed before a crash and must be acknowledged
     * as it is, or what joins it would be deleted unstored.  Likewise a
     * list inherited with a shard's lease (the last owner may commit it).
     */
    while (q->n > 0 && q->n < (size_t) max && !tc_stop
           && ctx->conf.linger_ms > 0 && q->seq > ctx->store.last_seq
           && !q->inherited)
    {
        left = deadline - now_ms();
        if (left < 10) {
            break;
        }

        /*
         * Top up in slices, not per element: each fill is a script run in
         * Redis, and at a moderate rate (a few events per fill) the fills
         * cost Redis more CPU than the pushes did.  A batch is complete
         * at most one slice later.
         */
        had = q->n;
        wait_signals(left < TC_LINGER_SLICE_MS ? left : TC_LINGER_SLICE_MS);
        if (tc_stop) {
            break;
        }

        if (tc_queue_fill(q, ctx->store.last_seq + 1, max) != TC_OK) {
            return TC_TAKE_ERROR;
        }

        if (q->n > had) {
            continue;
        }

        /* nothing came during the slice: one element or the timeout */
        left = deadline - now_ms();
        if (left < 10) {
            break;
        }

        r = tc_queue_wait(q, left < ctx->conf.block_ms ? left
                                                       : ctx->conf.block_ms);
        if (r == TC_WAIT_ERROR) {
            return TC_TAKE_ERROR;
        }

        if (tc_queue_fill(q, ctx->store.last_seq + 1, max) != TC_OK) {
            return TC_TAKE_ERROR;
        }
    }

    if (q->n == 0) {
        return TC_TAKE_NOTHING;
    }

    b = &ctx->batch;
    if (tc_batch_init(b, q->n) != TC_OK) {
        tc_log_error("out of memory for a batch of %zu", q->n);
        return TC_TAKE_ERROR;
    }

    b->seq = q->seq;
    for (i = 0; i < q->n; i++) {
        b->raw[i] = q->items[i]->str;
        b->raw_len[i] = q->items[i]->len;
    }

    tc_batch_decode(b, (size_t) ctx->conf.max_event_bytes);

    ctx->have = 1;
    ctx->committed = 0;
    ctx->retries = 0;

    tc_log_debug("batch %" PRIu64 ": %zu events taken", b->seq, b->n);

    return TC_TAKE_BATCH;
}


static void
report(tc_ctx_t *ctx, int force)
{
    time_t     now;
    long long  len;

    now = time(NULL);
    if (!force && now < ctx->report_at) {
        return;
    }

    if (ctx->n_batches > 0) {
        len = tc_queue_length(&ctx->queue);
        tc_log_info("stored %" PRIu64 " events in %" PRIu64 " batches "
                    "(%" PRIu64 " duplicates skipped, %" PRIu64 " dead "
                    "letters); last batch %" PRIu64 "; queue length %lld",
                    ctx->n_stored, ctx->n_batches, ctx->n_dup, ctx->n_dead,
                    ctx->store.last_seq, len);
    }

    ctx->n_batches = ctx->n_stored = ctx->n_dup = ctx->n_dead = 0;
    ctx->report_at = now + TC_REPORT_EVERY;
}


/* MySQL has the batch: the processing list can go, dead letters with it. */
static tc_rc_t
ack_batch(tc_ctx_t *ctx)
{
    char      **dead;
    size_t      n, *len;
    tc_ack_t    r;
    tc_batch_t *b;

    b = &ctx->batch;

    n = dead_letters(ctx, TC_EV_DEAD, &dead, &len);
    if (n == (size_t) -1) {
        tc_log_error("out of memory building dead letters");
        return TC_ERROR;
    }

    tc_fault_point("before_ack");

    r = tc_queue_ack(&ctx->queue, b->seq, b->n, dead, len, n);
    dead_free(dead, len, n);

    if (r == TC_ACK_REFUSED) {
        /*
         * Not ours to delete: Redis went back in time (a failover to a
         * replica that missed writes), or another process has this id.
         * MySQL has the batch; a list numbered below the marker is stored
         * again by the next fill, its duplicates skipped.
         */
        tc_log_error("batch %" PRIu64 " is committed but Redis numbers the "
                     "processing list otherwise (writes lost in a failover "
                     "or restart, or another process with id \"%s\"?); "
                     "leaving the list to be stored again", b->seq,
                     ctx->conf.id);
        batch_drop(ctx);
        return TC_OK;
    }

    if (r == TC_ACK_KEPT) {
        tc_log_warn("batch %" PRIu64 " is committed (%zu events) but the "
                    "processing list in Redis holds %zu (writes lost or "
                    "replayed in a failover or restart?): kept as batch %"
                    PRIu64 ", stored again, duplicates skipped", b->seq,
                    b->n, ctx->queue.ack_len, b->seq + 1);
    }

    if (r == TC_ACK_ERROR) {
        return TC_ERROR;
    }

    if (r == TC_ACK_BEFORE) {
        tc_log_info("batch %" PRIu64 " was acknowledged already", b->seq);
    }

    if (n > 0) {
        tc_log_warn("batch %" PRIu64 ": %zu events moved to \"%s\" "
                    "(undecodable or missing fields)", b->seq, n,
                    ctx->queue.dead_key);
    }

    batch_drop(ctx);

    return TC_OK;
}


static void
apply_batch(tc_ctx_t *ctx)
{
    long        ms;
    tc_rc_t     rc;
    tc_batch_t *b;

    b = &ctx->batch;

    tc_fault_point("after_move");

    rc = tc_store_apply(&ctx->store, b);

    switch (rc) {

    case TC_OK:
        ctx->committed = 1;
        ctx->last_id = ctx->store.id_base + b->n;
        ctx->mysql_backoff = ctx->conf.backoff_min_ms;
        ctx->n_batches++;
        ctx->n_stored += ctx->store.stats.stored;
        ctx->n_dup += ctx->store.stats.duplicates;
        ctx->n_dead += ctx->store.stats.dead;
        tc_log_debug("batch %" PRIu64 " committed: %zu stored, %zu "
                     "duplicates, %zu dead, %zu new users", b->seq,
                     ctx->store.stats.stored, ctx->store.stats.duplicates,
                     ctx->store.stats.dead, ctx->store.stats.new_users);
        tc_fault_point("after_commit");
        return;

    case TC_ALREADY:
        ctx->committed = 1;
        tc_log_info("batch %" PRIu64 " (%zu events) was committed before "
                    "(crash or lost reply); acknowledging it", b->seq, b->n);
        return;

    case TC_RETRY:
        /* a deadlock or a race with another consumer: again, soon */
        ctx->retries++;
        ms = ctx->conf.backoff_min_ms << (ctx->retries < 6 ? ctx->retries : 6);
        ms = ms / 2 + rand() % (ms / 2 + 1);
        if (ms > ctx->conf.backoff_max_ms) {
            ms = ctx->conf.backoff_max_ms;
        }
        tc_log_info("batch %" PRIu64 " rolled back (attempt %u); retrying "
                    "in %ld ms", b->seq, ctx->retries, ms);
        wait_signals(ms);
        return;

    case TC_DOWN:
    case TC_ERROR:                  /* not the store's: treated as down */
        tc_store_close(&ctx->store);
        backoff(ctx, &ctx->mysql_backoff, "mysql unavailable, batch kept in "
                "the processing list");
        return;
    }
}


/* The number of shards this consumer may own (shards), and the k-th. */
static size_t
shards_allowed(tc_ctx_t *ctx)
{
    return ctx->conf.nshard_list ? ctx->conf.nshard_list
                                 : ctx->queue.cluster.nshards;
}


static size_t
shard_allowed(tc_ctx_t *ctx, size_t k)
{
    return ctx->conf.nshard_list ? (size_t) ctx->conf.shard_list[k] : k;
}


/*
 * With fewer lanes than shards some shard has no owner, and its events
 * would wait for ever: a lane holding a shard gives it up, between
 * batches, once it has had a turn (lease_ms) and another shard it may own
 * has no owner, seen twice two fifths of lease_ms apart (a standby, trying
 * every fifth, would have taken it meanwhile: a lane restarting or a lease
 * just lost does not make the others rotate).  With a lane for every shard
 * none is free for long, and nothing moves.
 */
static int
turn_over(tc_ctx_t *ctx)
{
    size_t       k, i;
    int64_t      now;
    tc_queue_t  *q;

    q = &ctx->queue;
    now = now_ms();
    i = 0;
    if (q->lease_key == NULL || q->c == NULL || now < ctx->turn_end) {
        return 0;
    }

    for (k = 0; k < shards_allowed(ctx); k++) {
        i = shard_allowed(ctx, k);
        if (i != (size_t) q->shard && i < q->cluster.nshards
            && tc_queue_shard_free(q, i))
        {
            break;
        }
    }

    if (k == shards_allowed(ctx)) {
        tc_log_debug("redis cluster: every other shard has an owner: "
                     "keeping shard %ld", q->shard);
        ctx->free_seen = 0;
        ctx->turn_end = now + ctx->conf.lease_ms;
        return 0;
    }

    if (ctx->free_seen == 0) {
        ctx->free_seen = now;
        ctx->turn_end = now + 2 * ctx->conf.lease_ms / 5;
        return 0;
    }

    if (ctx->turns++ == 0) {
        tc_log_warn("redis cluster: fewer lanes than shards, the lanes take "
                    "turns: a shard waits while others are worked (give the "
                    "consumers together a lane per shard)");
    }
    tc_log_info("redis cluster: shard %zu has no owner: giving shard %ld "
                "\"%s\" up for its turn", i, q->shard, q->queue_key);
    ctx->turn_over = 1;

    return 1;
}


static tc_exit_t
run(tc_ctx_t *ctx)
{
    tc_take_t  taken;

    for ( ;; ) {
        wait_signals(0);
        report(ctx, 0);

        if (ctx->queue.lost) {
            return TC_EXIT_OK;          /* run_shards() takes it from here */
        }

        if (tc_stop && !ctx->have) {
            return TC_EXIT_OK;
        }

        if (!ctx->have && turn_over(ctx)) {
            return TC_EXIT_OK;          /* run_shards() gives the shard up */
        }

        if (ctx->store.m == NULL) {
            if (tc_store_connect(&ctx->store) != TC_OK) {
                if (tc_stop) {
                    tc_log_info("exiting without MySQL; the batch in hand "
                                "stays in the processing list");
                    return TC_EXIT_OK;
                }
                backoff(ctx, &ctx->mysql_backoff, "mysql unavailable");
                continue;
            }
            ctx->mysql_backoff = ctx->conf.backoff_min_ms;
            tc_rollup_go(&ctx->rollup);
        }

        if (ctx->queue.c == NULL) {
            if (tc_queue_connect(&ctx->queue) != TC_OK) {
                if (tc_stop) {
                    tc_log_info("exiting without Redis; the processing list "
                                "is finished at the next start");
                    return TC_EXIT_OK;
                }
                backoff(ctx, &ctx->redis_backoff, "redis unavailable");
                continue;
            }
            /*
             * A cluster node answers while its cluster is down
             * (CLUSTERDOWN, TRYAGAIN): there the backoff ends with the
             * first command that works.
             */
            if (ctx->conf.nseeds == 0) {
                ctx->redis_backoff = ctx->conf.backoff_min_ms;
            }
        }

        if (!ctx->have) {
            if (tc_queue_check_master(&ctx->queue) != TC_OK) {
                continue;       /* a failover: connect to the new master */
            }

            taken = take_batch(ctx);
            if (taken == TC_TAKE_ERROR) {
                tc_queue_close(&ctx->queue);
                if (ctx->have) {
                    batch_drop(ctx);
                }
                if (!ctx->queue.lost) {
                    backoff(ctx, &ctx->redis_backoff, "redis unavailable");
                }
                continue;
            }
            ctx->redis_backoff = ctx->conf.backoff_min_ms;
            if (taken == TC_TAKE_NOTHING) {
                if (ctx->conf.drain) {
                    tc_log_info("queue drained, exiting (--drain)");
                    return TC_EXIT_OK;
                }
                continue;
            }
        }

        if (!ctx->committed) {
            if (tc_stop && ctx->store.m == NULL) {
                return TC_EXIT_OK;
            }
            /* a shard's batch is committed only under a live lease */
            if (ctx->queue.lease_key != NULL
                && tc_queue_renew_lease(&ctx->queue) != TC_OK)
            {
                batch_drop(ctx);
                tc_queue_close(&ctx->queue);
                if (!ctx->queue.lost) {
                    backoff(ctx, &ctx->redis_backoff, "redis unavailable, "
                            "batch left in the processing list");
                }
                continue;
            }
            apply_batch(ctx);
            if (!ctx->committed) {
                if (tc_stop && ctx->store.m == NULL) {
                    tc_log_info("exiting without MySQL; batch %" PRIu64
                                " stays in the processing list",
                                ctx->batch.seq);
                    return TC_EXIT_OK;
                }
                continue;
            }
        }

        if (ack_batch(ctx) != TC_OK) {
            tc_queue_close(&ctx->queue);
            if (ctx->queue.lost) {
                batch_drop(ctx);        /* the new owner acknowledges it */
                continue;
            }
            if (tc_stop) {
                tc_log_info("exiting without Redis; batch %" PRIu64 " is "
                            "committed and is acknowledged at the next start",
                            ctx->batch.seq);
                return TC_EXIT_OK;
            }
            backoff(ctx, &ctx->redis_backoff, "redis unavailable, batch "
                    "committed but not acknowledged");
            continue;
        }
    }
}


/*
 * With redis_cluster: a standby until a lease is free among the shards
 * this consumer may own, then that shard's consumer (its list, processing
 * list and batch marker), until SIGTERM (the lease is given up), until the
 * lease is lost (standby again) or until another shard's turn (turn_over:
 * the lease is given up as on SIGTERM, and that shard taken).
 */
static tc_exit_t
run_shards(tc_ctx_t *ctx)
{
    int          warned;
    long         pause;
    size_t       i, k, n, start;
    tc_rc_t      rc;
    tc_exit_t    done;
    tc_conf_t   *conf;
    tc_queue_t  *q;

    conf = &ctx->conf;
    q = &ctx->queue;
    pause = conf->lease_ms / 5;
    warned = 0;
    ctx->left = -1;

    for ( ;; ) {
        wait_signals(0);
        if (tc_stop) {
            return TC_EXIT_OK;
        }

        if (tc_cluster_learn(&q->cluster) != TC_OK) {
            backoff(ctx, &ctx->redis_backoff, "redis cluster unavailable");
            continue;
        }
        ctx->redis_backoff = conf->backoff_min_ms;

        n = shards_allowed(ctx);

        /* lane 0 (its id has no '/') says it for the process */
        if (!warned && strchr(conf->id, '/') == NULL
            && conf->lanes < (long) n)
        {
            /* other consumers' lanes may own the rest: a warning comes
             * with the first turn taken (turn_over) */
            tc_log_info("redis cluster: %ld lane(s) for %zu shards: unless "
                        "other consumers own the rest, the lanes take "
                        "turns", conf->lanes, n);
        }
        warned = 1;

        /*
         * From a random one: lanes and hosts do not all try the same; after
         * a turn, from the next one: the shard left is tried last.
         */
        start = (size_t) rand() % n;
        for (k = 0; ctx->left >= 0 && k < n; k++) {
            if (shard_allowed(ctx, k) == (size_t) ctx->left) {
                start = k + 1;
            }
        }
        rc = TC_RETRY;

        for (k = 0; k < n && rc != TC_OK; k++) {
            i = shard_allowed(ctx, (start + k) % n);
            if (i >= q->cluster.nshards) {
                tc_log_error("shards: there is no shard %zu: the module "
                             "pushes to %zu (check cluster_shards)", i,
                             q->cluster.nshards);
                continue;
            }
            if (tc_queue_bind(q, i) != TC_OK) {
                tc_log_error("out of memory");
                return TC_EXIT_FAILURE;
            }
            rc = tc_queue_take_lease(q);
        }

        if (rc != TC_OK) {
            tc_queue_close(q);
            wait_signals(pause);
            continue;
        }

        /* the batch marker and the MariaDB lock are the shard's */
        free(conf->id);
        conf->id = strdup(q->queue_key);
        if (conf->id == NULL) {
            tc_log_error("out of memory");
            return TC_EXIT_FAILURE;
        }
        tc_store_close(&ctx->store);
        ctx->redis_backoff = conf->backoff_min_ms;
        ctx->turn_end = now_ms() + conf->lease_ms;
        ctx->free_seen = 0;
        ctx->left = -1;

        done = run(ctx);

        if (ctx->turn_over) {
            /* between batches, nothing in hand: as on SIGTERM */
            ctx->turn_over = 0;
            ctx->left = q->shard;
            tc_queue_drop_lease(q);
            tc_lanes_count_turn(conf);
            tc_queue_close(q);
            tc_store_close(&ctx->store);
            continue;
        }

        if (!q->lost) {
            tc_queue_drop_lease(q);
            return done;
        }

        if (ctx->have) {
            batch_drop(ctx);
        }
        tc_queue_close(q);
        tc_store_close(&ctx->store);
    }
}


int
main(int argc, char **argv)
{
    tc_exit_t      rc;
    char           err[512];
    tc_ctx_t      *ctx;
    tc_conf_rc_t   parsed;

    static tc_ctx_t  context;

    ctx = &context;

    tc_log_set_ident("track-consumer");

    parsed = tc_conf_load(&ctx->conf, argc, argv, err, sizeof(err));
    if (parsed != TC_CONF_RUN) {
        if (parsed == TC_CONF_EXIT) {
            return TC_EXIT_OK;
        }
        fprintf(stderr, "track-consumer: %s\n", err);
        return TC_EXIT_USAGE;
    }

    tc_log_level = (int) ctx->conf.log_level;

    if (tc_log_open(ctx->conf.log_file) != TC_OK) {
        fprintf(stderr, "track-consumer: cannot open log file \"%s\": %s\n",
                ctx->conf.log_file, strerror(errno));
        tc_conf_free(&ctx->conf);
        return TC_EXIT_USAGE;
    }

    if (tc_tz_set(ctx->conf.timezone) != TC_OK) {
        tc_log_error("unknown time zone \"%s\"", ctx->conf.timezone);
        tc_conf_free(&ctx->conf);
        return TC_EXIT_USAGE;
    }

    sigemptyset(&tc_signals);
    sigaddset(&tc_signals, SIGTERM);
    sigaddset(&tc_signals, SIGINT);
    sigaddset(&tc_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &tc_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* with several lanes, this process supervises and each lane goes on */
    tc_lanes_start(&ctx->conf, argc, argv);

    srand((unsigned) (time(NULL) ^ getpid()));

    /*
     * A batch's and a roll-up's buffers (MBs each) are freed and allocated
     * again every few ms: kept in the heap instead of unmapped and mapped
     * again, they cost no page faults (a fifth of the CPU otherwise).
     * Bound: the largest batch and roll-up, as before.
     */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);

    if (mysql_library_init(0, NULL, NULL) != 0) {
        tc_log_error("mysql_library_init() failed");
        return TC_EXIT_FAILURE;
    }

    if (tc_queue_init(&ctx->queue, &ctx->conf) != TC_OK) {
        tc_log_error("out of memory");
        return TC_EXIT_FAILURE;
    }

    tc_store_init(&ctx->store, &ctx->conf);
    ctx->store.before_commit = push_rejected;
    ctx->store.before_commit_data = ctx;
    ctx->redis_backoff = ctx->conf.backoff_min_ms;
    ctx->mysql_backoff = ctx->conf.backoff_min_ms;
    ctx->report_at = time(NULL) + TC_REPORT_EVERY;

    tc_log_info("starting: id \"%s\", queue \"%s\", batch %ld, linger %ld ms, "
                "time zone %s, retention %ld days", ctx->conf.id,
                ctx->conf.queue_key, ctx->conf.batch_size,
                ctx->conf.linger_ms,
                ctx->conf.timezone[0] ? ctx->conf.timezone : "(system)",
                ctx->conf.retention_days);

    if (ctx->conf.nseeds > 0) {
        tc_log_info("redis cluster: seeds %s; shards %s, lease %ld ms",
                    ctx->conf.redis_cluster, ctx->conf.shards,
                    ctx->conf.lease_ms);
    }

    if (ctx->conf.nsentinels > 0) {
        tc_log_info("redis: master \"%s\" through %zu sentinel(s): %s",
                    ctx->conf.redis_master, ctx->conf.nsentinels,
                    ctx->conf.redis_sentinel);
    }

    /* statistics: counted from committed rows, in a thread (rollup.c) */
    if (tc_rollup_start(&ctx->rollup, &ctx->conf) != TC_OK) {
        return 1;
    }

    rc = ctx->conf.nseeds > 0 ? run_shards(ctx) : run(ctx);

    report(ctx, 1);

    /* with --drain or SIGTERM: statistics complete up to the last batch */
    tc_rollup_stop(&ctx->rollup, ctx->last_id);

    if (ctx->have) {
        batch_drop(ctx);
    }

    tc_queue_free(&ctx->queue);
    tc_store_free(&ctx->store);
    mysql_library_end();

    tc_log_info("exited");
    tc_log_close();
    tc_conf_free(&ctx->conf);

    return rc;
}
