/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counters shared by all workers, and the track_metrics handler that shows
 * them in the Prometheus text format.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"


typedef struct {
    ngx_str_t    name;
    ngx_str_t    type;
    ngx_str_t    help;
} ngx_http_track_metric_t;


/* indexed by ngx_http_track_stat_e */
static ngx_http_track_metric_t  ngx_http_track_metrics[] = {
    { ngx_string("track_requests_total"), ngx_string("counter"),
      ngx_string("Requests handled by track locations.") },
    { ngx_string("track_events_accepted_total"), ngx_string("counter"),
      ngx_string("Events acknowledged to clients.") },
    { ngx_string("track_events_pushed_total"), ngx_string("counter"),
      ngx_string("Events acknowledged by Redis.") },
    { ngx_string("track_events_failed_total"), ngx_string("counter"),
      ngx_string("Valid events answered with 503 (not stored).") },
    { ngx_string("track_events_inflight"), ngx_string("gauge"),
      ngx_string("Events waiting for Redis.") },
    { ngx_string("track_redis_pushes_total"), ngx_string("counter"),
      ngx_string("RPUSH commands sent.") },
    { ngx_string("track_redis_errors_total"), ngx_string("counter"),
      ngx_string("Redis connection failures, timeouts and error replies.") },
    { ngx_string("track_redis_connects_total"), ngx_string("counter"),
      ngx_string("Redis connections established.") },
    { ngx_string("track_redis_connected_workers"), ngx_string("gauge"),
      ngx_string("Workers with a ready Redis connection.") },
    { ngx_string("track_queue_length"), ngx_string("gauge"),
      ngx_string("Length of the Redis list after the latest push.") },
    { ngx_string("track_throttled_workers"), ngx_string("gauge"),
      ngx_string("Workers spooling because the queue is at its ceiling.") },
    { ngx_string("track_events_spooled_total"), ngx_string("counter"),
      ngx_string("Events written to the disk spool.") },
    { ngx_string("track_events_replayed_total"), ngx_string("counter"),
      ngx_string("Spooled events replayed into Redis.") },
    { ngx_string("track_spool_bytes"), ngx_string("gauge"),
      ngx_string("Bytes in the spool waiting for replay.") },
    { ngx_string("track_spool_torn_records_total"), ngx_string("counter"),
      ngx_string("Torn last records found (and skipped) in spool files.") },
    { ngx_string("track_spool_errors_total"), ngx_string("counter"),
      ngx_string("Spool full, write failures and damaged spool files.") },
    { ngx_string("track_events_not_recorded_total"), ngx_string("counter"),
      ngx_string("Valid events not recorded: Do Not Track or no consent.") }
};


static ngx_http_track_shm_t  *ngx_http_track_shm;


ngx_int_t
ngx_http_track_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: keep counting where the old cycle stopped */
        shm_zone->data = data;
        ngx_http_track_shm = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_track_shm = shpool->data;
        return NGX_OK;
    }

    ngx_http_track_shm = ngx_slab_calloc(shpool, sizeof(ngx_http_track_shm_t));
    if (ngx_http_track_shm == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_track_shm;
    shm_zone->data = ngx_http_track_shm;

    return NGX_OK;
}


void
ngx_http_track_stat_add(ngx_http_track_stat_e stat, ngx_atomic_int_t n)
{
    if (ngx_http_track_shm) {
        (void) ngx_atomic_fetch_add(&ngx_http_track_shm->stat[stat], n);
    }
}


void
ngx_http_track_stat_set(ngx_http_track_stat_e stat, ngx_atomic_uint_t v)
{
    if (ngx_http_track_shm) {
        ngx_http_track_shm->stat[stat] = v;
    }
}


ngx_atomic_uint_t
ngx_http_track_stat_get(ngx_http_track_stat_e stat)
{
    return ngx_http_track_shm ? ngx_http_track_shm->stat[stat] : 0;
}


void
ngx_http_track_stat_reject(ngx_http_track_reject_e reason)
{
    if (ngx_http_track_shm) {
        (void) ngx_atomic_fetch_add(&ngx_http_track_shm->rejected[reason], 1);
    }
}


ngx_int_t
ngx_http_track_metrics_handler(ngx_http_request_t *r)
{
    size_t                    len;
    ngx_buf_t                *b;
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_chain_t               out;
    ngx_http_track_metric_t  *m;

    static ngx_str_t  rejected = ngx_string("track_requests_rejected_total");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_track_shm == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    len = 0;

    for (i = 0; i < NGX_HTTP_TRACK_STAT_LAST; i++) {
        m = &ngx_http_track_metrics[i];
        len += sizeof("# HELP  \n# TYPE  \n \n") - 1 + 2 * m->name.len
               + m->help.len + m->type.len + m->name.len + NGX_ATOMIC_T_LEN;
    }

    len += sizeof("# HELP  Requests rejected, by reason.\n"
                  "# TYPE  counter\n") - 1 + 2 * rejected.len;

    for (i = 0; i < NGX_HTTP_TRACK_REJECT_LAST; i++) {
        len += rejected.len + sizeof("{reason=\"\"} \n") - 1
               + ngx_strlen(ngx_http_track_reject_names[i]) + NGX_ATOMIC_T_LEN;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < NGX_HTTP_TRACK_STAT_LAST; i++) {
        m = &ngx_http_track_metrics[i];
        b->last = ngx_sprintf(b->last, "# HELP %V %V\n# TYPE %V %V\n%V %uA\n",
                              &m->name, &m->help, &m->name, &m->type,
                              &m->name, ngx_http_track_shm->stat[i]);
    }

    b->last = ngx_sprintf(b->last, "# HELP %V Requests rejected, by reason.\n"
                          "# TYPE %V counter\n", &rejected, &rejected);

    for (i = 0; i < NGX_HTTP_TRACK_REJECT_LAST; i++) {
        b->last = ngx_sprintf(b->last, "%V{reason=\"%s\"} %uA\n", &rejected,
                              ngx_http_track_reject_names[i],
                              ngx_http_track_shm->rejected[i]);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
