/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The batcher: the events of many requests coalesced into pipelined RPUSH
 * commands (each followed by a WAIT with track_redis_wait_replicas), and
 * each request told through its ctx->done once Redis has answered.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_cluster.h"
#include "ngx_http_track_command.h"
#include "ngx_http_track_throttle.h"
#include "ngx_http_track_batch.h"

#include <hiredis/hiredis.h>


/* an RPUSH in flight and the requests waiting on its reply */
struct ngx_http_track_push_s {
    ngx_http_track_redis_cmd_t    cmd;
    ngx_queue_t                   waiters;   /* ngx_http_track_ctx_t */
    ngx_uint_t                    nevents;
    ngx_uint_t                    list;      /* the cluster's shard list */
    unsigned                      waiting:1;   /* for WAIT's reply */
    unsigned                      pushed:1;    /* RPUSH succeeded */
};


typedef struct {
    ngx_http_track_main_conf_t   *conf;
    ngx_log_t                    *log;

    ngx_queue_t                   pending;   /* ngx_http_track_ctx_t */
    ngx_uint_t                    npending;  /* events */

    ngx_event_t                   flush;     /* posted: coalesce a loop */
    ngx_uint_t                    shard;     /* the cluster's list next */
} ngx_http_track_batch_t;


static void ngx_http_track_batch_flush_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_track_batch_send(ngx_http_track_batch_t *batch);
static ngx_int_t ngx_http_track_batch_to_cluster(ngx_http_track_batch_t *batch,
    ngx_http_track_push_t *push, ngx_uint_t argc, const char **argv,
    size_t *argvlen);
static ngx_uint_t ngx_http_track_batch_can_send(ngx_http_track_batch_t *batch);
static ngx_uint_t ngx_http_track_batch_status(ngx_http_track_push_t *push,
    redisReply *rr);
static ngx_str_t *ngx_http_track_batch_where(ngx_http_track_push_t *push);
static void ngx_http_track_batch_clustered(redisReply *reply, void *data);
static void ngx_http_track_batch_cluster_replicated(redisReply *reply,
    void *data);
static ngx_uint_t ngx_http_track_batch_held(ngx_http_track_push_t *push,
    ngx_uint_t status);
static ngx_uint_t ngx_http_track_batch_replicas(ngx_http_track_push_t *push,
    redisReply *rr);
static void ngx_http_track_batch_settled(ngx_http_track_push_t *push,
    ngx_uint_t status, ngx_uint_t exiting);
static void ngx_http_track_batch_pushed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_track_batch_replicated(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_batch_answer(ngx_http_track_push_t *push,
    ngx_uint_t status);
static void ngx_http_track_batch_finish(ngx_queue_t *waiters,
    ngx_uint_t status);


/* this worker's batcher */
static ngx_http_track_batch_t  *ngx_http_track_batcher;


ngx_int_t
ngx_http_track_batch_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    ngx_http_track_batch_t  *batch;

    batch = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_batch_t));
    if (batch == NULL) {
        return NGX_ERROR;
    }

    batch->conf = tmcf;
    batch->log = cycle->log;

    ngx_queue_init(&batch->pending);

    batch->flush.handler = ngx_http_track_batch_flush_handler;
    batch->flush.data = batch;
    batch->flush.log = cycle->log;

    ngx_http_track_batcher = batch;

    return NGX_OK;
}


void
ngx_http_track_batch_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    if (batch && batch->flush.posted) {
        ngx_delete_posted_event(&batch->flush);
    }
}


/*
 * Queues the request's events for the next push.  NGX_DECLINED: Redis
 * cannot take them now (down, throttled, or too much waiting already).
 */

ngx_int_t
ngx_http_track_batch_submit(ngx_http_track_ctx_t *ctx)
{
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    if (batch == NULL || ngx_http_track_throttle_is_on()
        || (batch->conf->cluster ? !ngx_http_track_cluster_is_ready()
                                 : ngx_http_track_redis_is_down()))
    {
        return NGX_DECLINED;
    }

    if (batch->npending + ctx->nevents > batch->conf->max_pending) {
        ngx_log_error(NGX_LOG_WARN, batch->log, 0,
                      "track: %ui events already wait for redis at %V",
                      batch->npending, ngx_http_track_batch_where(NULL));
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&batch->pending, &ctx->link);
    batch->npending += ctx->nevents;
    ctx->queued = 1;

    /* everything queued during this event loop iteration goes together */
    if (ngx_http_track_batch_can_send(batch) && !batch->flush.posted) {
        ngx_post_event(&batch->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


/* the request went away before its events were answered */

void
ngx_http_track_batch_detach(ngx_http_track_ctx_t *ctx)
{
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    ngx_queue_remove(&ctx->link);
    ctx->queued = 0;

    if (ctx->push == NULL && batch) {
        batch->npending -= ctx->nevents;
    }
}


/* the connection is ready, or a command left the flight list */

void
ngx_http_track_batch_wake(void)
{
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    if (!ngx_queue_empty(&batch->pending) && !batch->flush.posted) {
        ngx_post_event(&batch->flush, &ngx_posted_events);
    }
}


/* the connection is lost: what waits for it is answered 503 */

void
ngx_http_track_batch_fail(void)
{
    ngx_queue_t              waiters;
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    if (ngx_queue_empty(&batch->pending)) {
        return;
    }

    /* move them out first: answering may queue new requests */
    waiters = batch->pending;
    waiters.next->prev = &waiters;
    waiters.prev->next = &waiters;

    ngx_queue_init(&batch->pending);
    batch->npending = 0;

    ngx_http_track_batch_finish(&waiters, NGX_HTTP_SERVICE_UNAVAILABLE);
}


static void
ngx_http_track_batch_flush_handler(ngx_event_t *ev)
{
    ngx_http_track_batch_t  *batch = ev->data;

    while (!ngx_queue_empty(&batch->pending)
           && ngx_http_track_batch_can_send(batch))
    {
        if (ngx_http_track_batch_send(batch) != NGX_OK) {
            return;
        }
    }
}


/* connected, and a free slot in the pipeline */

static ngx_uint_t
ngx_http_track_batch_can_send(ngx_http_track_batch_t *batch)
{
    if (batch->conf->cluster) {
        /* each master's pipeline is checked when a push picks its list */
        return ngx_http_track_cluster_is_ready();
    }

    return ngx_http_track_redis_is_ready()
           && ngx_http_track_redis_inflight() < batch->conf->max_inflight;
}


/* takes whole requests from pending until batch_size events are in */

static ngx_int_t
ngx_http_track_batch_send(ngx_http_track_batch_t *batch)
{
    size_t                       *argvlen;
    ngx_uint_t                    n, i;
    ngx_queue_t                  *q;
    const char                  **argv;
    ngx_http_track_ctx_t         *ctx;
    ngx_http_track_push_t        *push;
    ngx_http_track_redis_wait_t   wait;

    push = ngx_alloc(sizeof(ngx_http_track_push_t), batch->log);
    if (push == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_init(&push->waiters);
    push->nevents = 0;
    push->list = 0;
    push->waiting = 0;
    push->pushed = 0;

    while (!ngx_queue_empty(&batch->pending)) {
        q = ngx_queue_head(&batch->pending);
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        if (push->nevents
            && push->nevents + ctx->nevents > batch->conf->batch_size)
        {
            break;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&push->waiters, q);
        ctx->push = push;
        push->nevents += ctx->nevents;
        batch->npending -= ctx->nevents;
    }

    argv = ngx_http_track_command_argv(push->nevents + 2, &argvlen);
    if (argv == NULL) {
        ngx_http_track_batch_finish(&push->waiters,
                                    NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_free(push);
        return NGX_ERROR;
    }

    argv[0] = "RPUSH";
    argvlen[0] = sizeof("RPUSH") - 1;
    argv[1] = (const char *) batch->conf->redis_key.data;
    argvlen[1] = batch->conf->redis_key.len;

    n = 2;

    for (q = ngx_queue_head(&push->waiters);
         q != ngx_queue_sentinel(&push->waiters);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        for (i = 0; i < ctx->nevents; i++) {
            argv[n] = (const char *) ctx->events[i].data;
            argvlen[n] = ctx->events[i].len;
            n++;
        }
    }

    push->waiting = (batch->conf->wait_replicas > 0);

    if (batch->conf->cluster) {
        return ngx_http_track_batch_to_cluster(batch, push, n, argv, argvlen);
    }

    if (ngx_http_track_redis_send(&push->cmd, ngx_http_track_batch_pushed,
                                  push, n, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_track_batch_finish(&push->waiters,
                                    NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_free(push);
        ngx_http_track_redis_close("could not queue a command");
        return NGX_ERROR;
    }

    /*
     * WAIT holds this connection until the replicas have everything sent
     * before it, so an acknowledged event survives a failover.
     */
    if (push->waiting) {
        ngx_http_track_redis_wait_args(batch->conf, &wait);

        if (ngx_http_track_redis_send(NULL, ngx_http_track_batch_replicated,
                                      push, 3, wait.argv, wait.argvlen)
            != NGX_OK)
        {
            /* the push is settled by the RPUSH reply alone then */
            push->waiting = 0;
            ngx_http_track_redis_close_later("could not queue a command");
        }
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_PUSHES, 1);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
                            push->nevents);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, batch->log, 0,
                   "track: pushing %ui events, %ui commands in flight",
                   push->nevents, ngx_http_track_redis_inflight());

    return NGX_OK;
}


/*
 * Sends a push to the next shard list whose master has a free pipeline
 * slot, so a slow master's share shifts to the others; with none free the
 * requests go back to the head of the queue until a reply frees one.  A
 * list whose master is down fails its push at once: the spool takes its
 * share, the other lists go on.  With track_redis_wait_replicas a WAIT
 * follows each push to its master, as on a single connection.
 */

static ngx_int_t
ngx_http_track_batch_to_cluster(ngx_http_track_batch_t *batch,
    ngx_http_track_push_t *push, ngx_uint_t argc, const char **argv,
    size_t *argvlen)
{
    ngx_int_t              rc;
    ngx_str_t             *key;
    ngx_uint_t             tries;
    ngx_queue_t           *q;
    ngx_http_track_ctx_t  *ctx;

    rc = NGX_AGAIN;

    for (tries = ngx_http_track_cluster_nshards(); tries; tries--) {
        push->list = batch->shard++ % ngx_http_track_cluster_nshards();
        key = ngx_http_track_cluster_shard(push->list);

        argv[1] = (const char *) key->data;
        argvlen[1] = key->len;

        rc = ngx_http_track_cluster_send(key, argc, argv, argvlen,
                                    ngx_http_track_batch_clustered,
                                    ngx_http_track_batch_cluster_replicated,
                                    push);
        if (rc != NGX_AGAIN) {
            break;
        }
    }

    if (rc == NGX_AGAIN) {
        while (!ngx_queue_empty(&push->waiters)) {
            q = ngx_queue_last(&push->waiters);
            ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

            ngx_queue_remove(q);
            ngx_queue_insert_head(&batch->pending, q);
            ctx->push = NULL;
            batch->npending += ctx->nevents;
        }

        ngx_free(push);
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        ngx_http_track_batch_finish(&push->waiters,
                                    NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_free(push);
        return rc == NGX_DECLINED ? NGX_OK : NGX_ERROR;
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_PUSHES, 1);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
                            push->nevents);

    return NGX_OK;
}


static void
ngx_http_track_batch_clustered(redisReply *reply, void *data)
{
    ngx_uint_t              status;
    ngx_http_track_push_t  *push = data;

    status = ngx_http_track_batch_status(push, reply);

    if (!ngx_http_track_batch_held(push, status)) {
        ngx_http_track_batch_settled(push, status,
                                     ngx_http_track_cluster_is_exiting());
    }
}


static void
ngx_http_track_batch_cluster_replicated(redisReply *reply, void *data)
{
    ngx_http_track_push_t  *push = data;

    ngx_http_track_batch_settled(push,
                                 ngx_http_track_batch_replicas(push, reply),
                                 ngx_http_track_cluster_is_exiting());
}


/* an RPUSH reply: the list's length, or an error (logged here) */

static ngx_uint_t
ngx_http_track_batch_status(ngx_http_track_push_t *push, redisReply *rr)
{
    if (rr != NULL && rr->type == REDIS_REPLY_INTEGER) {
        ngx_http_track_throttle_queue_length(push->list, rr->integer);
        return NGX_HTTP_OK;
    }

    if (rr != NULL) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);
        ngx_log_error(NGX_LOG_ERR, ngx_http_track_batcher->log, 0,
                      "track: redis at %V refused %ui events: %*s",
                      ngx_http_track_batch_where(push), push->nevents,
                      (size_t) rr->len,
                      rr->type == REDIS_REPLY_ERROR ? rr->str : "");
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* where the pushes go, or a push went (its shard list), for logs */

static ngx_str_t *
ngx_http_track_batch_where(ngx_http_track_push_t *push)
{
    static ngx_str_t  cluster = ngx_string("the cluster");

    if (!ngx_http_track_cluster_is_on()) {
        return ngx_http_track_redis_address();
    }

    return push ? ngx_http_track_cluster_shard(push->list) : &cluster;
}


static void
ngx_http_track_batch_pushed(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply             *rr = reply;
    ngx_uint_t              status;
    ngx_http_track_push_t  *push = privdata;

    status = ngx_http_track_batch_status(push, rr);

    /* a failover made it a replica: find the new master */
    if (rr != NULL && rr->type == REDIS_REPLY_ERROR
        && ngx_strncmp(rr->str, "READONLY", 8) == 0)
    {
        ngx_http_track_redis_close_later("it became a read-only replica");
    }

    if (!ngx_http_track_batch_held(push, status)) {
        ngx_http_track_batch_answer(push, status);
    }
}


/* after the RPUSH reply: 1 if WAIT's reply comes next and settles it */

static ngx_uint_t
ngx_http_track_batch_held(ngx_http_track_push_t *push, ngx_uint_t status)
{
    if (!push->waiting) {
        return 0;
    }

    push->waiting = 0;
    push->pushed = (status == NGX_HTTP_OK);

    return 1;
}


static void
ngx_http_track_batch_replicated(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_track_push_t  *push = privdata;

    ngx_http_track_batch_answer(push,
                                ngx_http_track_batch_replicas(push, reply));
}


/*
 * WAIT's reply: the push counts only once enough replicas have it; what
 * fell short goes to the spool like any push Redis did not take.
 */

static ngx_uint_t
ngx_http_track_batch_replicas(ngx_http_track_push_t *push, redisReply *rr)
{
    ngx_uint_t               status;
    ngx_http_track_batch_t  *batch = ngx_http_track_batcher;

    status = NGX_HTTP_SERVICE_UNAVAILABLE;

    if (push->pushed && rr != NULL && rr->type == REDIS_REPLY_INTEGER) {

        if ((ngx_uint_t) rr->integer >= batch->conf->wait_replicas) {
            status = NGX_HTTP_OK;

        } else {
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);
            ngx_log_error(NGX_LOG_WARN, batch->log, 0,
                          "track: %ui events reached %L of %ui replicas "
                          "of %V in time; they are spooled as well",
                          push->nevents, (int64_t) rr->integer,
                          batch->conf->wait_replicas,
                          ngx_http_track_batch_where(push));
        }
    }

    return status;
}


static void
ngx_http_track_batch_answer(ngx_http_track_push_t *push, ngx_uint_t status)
{
    ngx_http_track_redis_settle(&push->cmd);
    ngx_http_track_batch_settled(push, status,
                                 ngx_http_track_redis_is_exiting());
    ngx_http_track_redis_next();
}


/* the push's requests get their outcome, unless the worker exits */

static void
ngx_http_track_batch_settled(ngx_http_track_push_t *push, ngx_uint_t status,
    ngx_uint_t exiting)
{
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
                            -(ngx_atomic_int_t) push->nevents);

    if (status == NGX_HTTP_OK) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_PUSHED,
                                push->nevents);
    }

    if (!exiting) {
        ngx_http_track_batch_finish(&push->waiters, status);
    }

    ngx_free(push);
}


static void
ngx_http_track_batch_finish(ngx_queue_t *waiters, ngx_uint_t status)
{
    ngx_queue_t           *q;
    ngx_http_track_ctx_t  *ctx;

    while (!ngx_queue_empty(waiters)) {
        q = ngx_queue_head(waiters);
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        ngx_queue_remove(q);
        ctx->queued = 0;
        ctx->push = NULL;

        ctx->done(ctx, status);
    }
}
