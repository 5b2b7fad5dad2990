/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-request context: the serialised events on their way from the
 * handler through delivery to Redis or the spool, and the callback that
 * hands the outcome back to whoever owns the context.
 */


#ifndef _NGX_HTTP_TRACK_CTX_H_INCLUDED_
#define _NGX_HTTP_TRACK_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_track_ctx_s   ngx_http_track_ctx_t;
typedef struct ngx_http_track_push_s  ngx_http_track_push_t;

/* the events are settled: NGX_HTTP_OK once Redis has them, else 503 */
typedef void (*ngx_http_track_done_pt)(ngx_http_track_ctx_t *ctx,
    ngx_uint_t status);


struct ngx_http_track_ctx_s {
    ngx_http_request_t         *request;     /* NULL: answered already */
    ngx_http_track_done_pt      done;        /* set by the context's owner */
    ngx_queue_t                 link;        /* in a push's waiters */
    ngx_http_track_push_t      *push;        /* NULL while not queued */

    ngx_str_t                  *events;      /* serialised events */
    ngx_uint_t                  nevents;
    ngx_str_t                   event_id;    /* of the first event */

    unsigned                    queued:1;
};


#endif /* _NGX_HTTP_TRACK_CTX_H_INCLUDED_ */
