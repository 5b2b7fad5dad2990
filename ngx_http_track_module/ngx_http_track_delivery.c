/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Delivery of a request's events: to Redis, to the spool when Redis cannot
 * take them, and what track_ack promises the client.  The handler answers
 * the client; this file decides with which status.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_batch.h"
#include "ngx_http_track_spool.h"
#include "ngx_http_track_delivery.h"


static void ngx_http_track_delivery_detach(ngx_http_track_ctx_t *ctx);
static void ngx_http_track_delivery_detached(ngx_http_track_ctx_t *ctx,
    ngx_uint_t status);
static void ngx_http_track_delivery_lost(ngx_http_track_ctx_t *ctx);
static void ngx_http_track_delivery_cleanup(void *data);


/*
 * Hands the events on as track_ack says.  NGX_DONE: ctx->done gets the
 * outcome once Redis answers; otherwise the status to answer now with
 * (NGX_HTTP_OK, NGX_HTTP_SERVICE_UNAVAILABLE or an internal error).
 */

ngx_int_t
ngx_http_track_deliver(ngx_http_track_ctx_t *ctx, ngx_uint_t ack)
{
    ngx_pool_cleanup_t  *cln;

    if (ack == NGX_HTTP_TRACK_ACK_IMMEDIATE) {
        ngx_http_track_delivery_detach(ctx);
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_ACCEPTED,
                                ctx->nevents);
        return NGX_HTTP_OK;
    }

    cln = ngx_pool_cleanup_add(ctx->request->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_track_delivery_cleanup;
    cln->data = ctx;

    if (ngx_http_track_batch_submit(ctx) == NGX_OK) {
        return NGX_DONE;
    }

    /* Redis cannot take it now: the spool can, or the client must retry */
    return ngx_http_track_delivery_settle(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
}


/*
 * The status to answer with once Redis took the events (NGX_HTTP_OK) or
 * could not: then they go to the spool, and only if that fails too does the
 * client get 503.
 */

ngx_uint_t
ngx_http_track_delivery_settle(ngx_http_track_ctx_t *ctx, ngx_uint_t status)
{
    if (status != NGX_HTTP_OK
        && ngx_http_track_spool_append(ctx) == NGX_OK)
    {
        status = NGX_HTTP_OK;
    }

    if (status == NGX_HTTP_OK) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_ACCEPTED,
                                ctx->nevents);
        return NGX_HTTP_OK;
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_FAILED, ctx->nevents);

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/*
 * track_ack immediate: the client is answered now, so the events move to
 * worker memory, go to Redis, and to the spool if Redis cannot take them.
 * They are lost only if the spool cannot take them either.
 */

static void
ngx_http_track_delivery_detach(ngx_http_track_ctx_t *ctx)
{
    u_char                *p;
    size_t                 size;
    ngx_uint_t             i;
    ngx_http_track_ctx_t  *copy;

    size = sizeof(ngx_http_track_ctx_t) + ctx->nevents * sizeof(ngx_str_t);

    for (i = 0; i < ctx->nevents; i++) {
        size += ctx->events[i].len;
    }

    copy = ngx_alloc(size, ctx->request->connection->log);
    if (copy == NULL) {
        ngx_http_track_delivery_lost(ctx);
        return;
    }

    ngx_memzero(copy, sizeof(ngx_http_track_ctx_t));
    copy->done = ngx_http_track_delivery_detached;
    copy->nevents = ctx->nevents;
    copy->events = (ngx_str_t *) (copy + 1);
    p = (u_char *) (copy->events + copy->nevents);

    for (i = 0; i < ctx->nevents; i++) {
        copy->events[i].data = p;
        copy->events[i].len = ctx->events[i].len;
        p = ngx_cpymem(p, ctx->events[i].data, ctx->events[i].len);
    }

    if (ngx_http_track_batch_submit(copy) != NGX_OK) {
        ngx_http_track_delivery_detached(copy, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


/* a detached copy is settled: the spool takes what Redis did not */

static void
ngx_http_track_delivery_detached(ngx_http_track_ctx_t *ctx,
    ngx_uint_t status)
{
    if (status != NGX_HTTP_OK && ngx_http_track_spool_append(ctx) != NGX_OK) {
        ngx_http_track_delivery_lost(ctx);
    }

    ngx_free(ctx);
}


static void
ngx_http_track_delivery_lost(ngx_http_track_ctx_t *ctx)
{
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_FAILED, ctx->nevents);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "track: %ui events answered at once (track_ack "
                  "immediate) are lost: neither Redis nor a spool took them",
                  ctx->nevents);
}


/* the request goes away while its events wait for Redis */

static void
ngx_http_track_delivery_cleanup(void *data)
{
    ngx_http_track_ctx_t  *ctx = data;

    if (ctx->queued) {
        ngx_http_track_batch_detach(ctx);
    }
}
