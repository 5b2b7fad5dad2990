
/*
 * Shared declarations of ngx_http_track_module: configuration, per-request
 * context and the interfaces between its files.
 */


#ifndef _NGX_HTTP_TRACK_MODULE_H_INCLUDED_
#define _NGX_HTTP_TRACK_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_event.h"
#include "ngx_http_track_ctx.h"


#define NGX_HTTP_TRACK_RESPONSE_GIF    0
#define NGX_HTTP_TRACK_RESPONSE_EMPTY  1

#define NGX_HTTP_TRACK_ACK_DURABLE     0
#define NGX_HTTP_TRACK_ACK_IMMEDIATE   1

/* fields track_drop_fields can remove at the edge */
#define NGX_HTTP_TRACK_DROP_IP         0x02
#define NGX_HTTP_TRACK_DROP_UA         0x04
#define NGX_HTTP_TRACK_DROP_REFERER    0x08
#define NGX_HTTP_TRACK_DROP_UID        0x10
#define NGX_HTTP_TRACK_DROP_PROPS      0x20


typedef struct {
    ngx_str_t                   name;
    ngx_http_complex_value_t    value;
} ngx_http_track_field_conf_t;


typedef struct {
    u_char                     *host;          /* numeric address or path */
    in_port_t                   port;          /* 0 for a unix socket */
} ngx_http_track_addr_t;


typedef struct ngx_http_track_redis_s  ngx_http_track_redis_t;

struct redisReply;

/* gets a command's reply, or NULL when the connection went away */
typedef void (*ngx_http_track_reply_pt)(struct redisReply *reply, void *data);


typedef struct {
    ngx_flag_t                  enabled;       /* a "track" location exists */

    ngx_http_track_addr_t       redis;         /* no sentinels: the one */
    ngx_array_t                *sentinels;     /* ngx_http_track_addr_t */
    ngx_str_t                   master_name;
    ngx_str_t                   redis_password;
    ngx_int_t                   redis_db;
    ngx_str_t                   redis_key;

    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    ngx_msec_t                  max_backoff;
    ngx_uint_t                  batch_size;
    ngx_uint_t                  max_inflight;
    ngx_uint_t                  max_pending;
    ngx_uint_t                  max_queue;
    ngx_uint_t                  wait_replicas;
    ngx_msec_t                  wait_timeout;

    ngx_str_t                   spool_path;    /* empty: no spool */
    off_t                       spool_max_size;
    off_t                       spool_segment_size;
    ngx_flag_t                  spool_fsync;

    ngx_uint_t                  node_id;

    ngx_shm_zone_t             *shm_zone;
} ngx_http_track_main_conf_t;


typedef struct {
    ngx_flag_t                  track;
    ngx_flag_t                  metrics;
    ngx_uint_t                  response;
    ngx_uint_t                  ack;
    size_t                      max_body_size;
    size_t                      max_event_size;
    size_t                      max_header_len;
    ngx_http_track_limits_t     limits;
    ngx_array_t                *fields;        /* ngx_http_track_field_conf_t */
    ngx_array_t                *cors_origins;  /* ngx_str_t; "*" for any */

    /* privacy */
    ngx_flag_t                  anonymize_ip;
    ngx_flag_t                  honor_dnt;
    ngx_http_complex_value_t   *consent;
    ngx_uint_t                  drop;          /* NGX_HTTP_TRACK_DROP_* */
} ngx_http_track_loc_conf_t;


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


extern ngx_module_t  ngx_http_track_module;


ngx_int_t ngx_http_track_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_track_metrics_handler(ngx_http_request_t *r);

ngx_int_t ngx_http_track_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
void ngx_http_track_stat_add(ngx_http_track_stat_e stat, ngx_atomic_int_t n);
void ngx_http_track_stat_set(ngx_http_track_stat_e stat, ngx_atomic_uint_t v);
ngx_atomic_uint_t ngx_http_track_stat_get(ngx_http_track_stat_e stat);
void ngx_http_track_stat_reject(ngx_http_track_reject_e reason);

ngx_int_t ngx_http_track_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
void ngx_http_track_redis_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_track_redis_submit(ngx_http_track_ctx_t *ctx);
void ngx_http_track_redis_detach(ngx_http_track_ctx_t *ctx);
ngx_uint_t ngx_http_track_redis_writable(void);
const char **ngx_http_track_redis_argv(ngx_uint_t n, size_t **argvlen);
ngx_int_t ngx_http_track_redis_command(ngx_uint_t argc, const char **argv,
    size_t *argvlen, ngx_http_track_reply_pt handler, void *data);
ngx_int_t ngx_http_track_redis_wait(ngx_http_track_reply_pt handler,
    void *data);

void ngx_http_track_handler_exit(void);


#endif /* _NGX_HTTP_TRACK_MODULE_H_INCLUDED_ */
