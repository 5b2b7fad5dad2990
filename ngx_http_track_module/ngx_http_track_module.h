/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ngx_http_track_module's configuration (ngx_http_track_module.c), which
 * every part of the module reads.
 */


#ifndef _NGX_HTTP_TRACK_MODULE_H_INCLUDED_
#define _NGX_HTTP_TRACK_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_event.h"


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


typedef struct {
    ngx_flag_t                  enabled;       /* a "track" location exists */

    ngx_http_track_addr_t       redis;         /* no sentinels: the one */
    ngx_array_t                *sentinels;     /* ngx_http_track_addr_t */
    ngx_array_t                *cluster;       /* seeds: the same */
    ngx_uint_t                  cluster_shards; /* 0: one per master */
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


extern ngx_module_t  ngx_http_track_module;


#endif /* _NGX_HTTP_TRACK_MODULE_H_INCLUDED_ */
