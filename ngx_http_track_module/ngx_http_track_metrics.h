/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counters shared by all workers and the track_metrics handler
 * (ngx_http_track_metrics.c).
 */


#ifndef _NGX_HTTP_TRACK_METRICS_H_INCLUDED_
#define _NGX_HTTP_TRACK_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_event.h"


/* counters kept in shared memory, summed over all workers */
typedef enum {
    NGX_HTTP_TRACK_STAT_REQUESTS = 0,
    NGX_HTTP_TRACK_STAT_EVENTS_ACCEPTED,
    NGX_HTTP_TRACK_STAT_EVENTS_PUSHED,
    NGX_HTTP_TRACK_STAT_EVENTS_FAILED,
    NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
    NGX_HTTP_TRACK_STAT_PUSHES,
    NGX_HTTP_TRACK_STAT_REDIS_ERRORS,
    NGX_HTTP_TRACK_STAT_REDIS_CONNECTS,
    NGX_HTTP_TRACK_STAT_REDIS_UP,
    NGX_HTTP_TRACK_STAT_QUEUE_LENGTH,
    NGX_HTTP_TRACK_STAT_THROTTLED,
    NGX_HTTP_TRACK_STAT_EVENTS_SPOOLED,
    NGX_HTTP_TRACK_STAT_EVENTS_REPLAYED,
    NGX_HTTP_TRACK_STAT_SPOOL_BYTES,
    NGX_HTTP_TRACK_STAT_SPOOL_TORN,
    NGX_HTTP_TRACK_STAT_SPOOL_ERRORS,
    NGX_HTTP_TRACK_STAT_EVENTS_NOT_RECORDED,
    NGX_HTTP_TRACK_STAT_LAST
} ngx_http_track_stat_e;


typedef struct {
    ngx_atomic_t                stat[NGX_HTTP_TRACK_STAT_LAST];
    ngx_atomic_t                rejected[NGX_HTTP_TRACK_REJECT_LAST];
} ngx_http_track_shm_t;


ngx_int_t ngx_http_track_metrics_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_track_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
void ngx_http_track_stat_add(ngx_http_track_stat_e stat, ngx_atomic_int_t n);
void ngx_http_track_stat_set(ngx_http_track_stat_e stat, ngx_atomic_uint_t v);
ngx_atomic_uint_t ngx_http_track_stat_get(ngx_http_track_stat_e stat);
void ngx_http_track_stat_reject(ngx_http_track_reject_e reason);


#endif /* _NGX_HTTP_TRACK_METRICS_H_INCLUDED_ */
