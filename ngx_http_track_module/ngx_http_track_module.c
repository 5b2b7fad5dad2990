/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ngx_http_track_module: directives, configuration and variables, and the
 * worker's start and end.  Request handling lives in
 * ngx_http_track_handler.c, the way to Redis or the spool in
 * ngx_http_track_delivery.c, counters in ngx_http_track_metrics.c.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_ctx.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_handler.h"
#include "ngx_http_track_filter.h"
#include "ngx_http_track_enrich.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_cluster.h"
#include "ngx_http_track_command.h"
#include "ngx_http_track_throttle.h"
#include "ngx_http_track_batch.h"
#include "ngx_http_track_spool.h"
#include "ngx_http_track_replay.h"


static ngx_int_t ngx_http_track_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_track_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_track_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_track_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_track_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_track_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_track_conf_set_track(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_conf_set_metrics(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_parse_addr(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_track_addr_t *addr, in_port_t default_port);
static char *ngx_http_track_conf_set_redis(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_conf_set_addrs(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_check_cluster(ngx_conf_t *cf,
    ngx_http_track_main_conf_t *tmcf);
static char *ngx_http_track_conf_set_field(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_conf_set_cors_origin(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_track_conf_set_spool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_track_event_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_track_events_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_track_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_track_init_process(ngx_cycle_t *cycle);
static void ngx_http_track_exit_process(ngx_cycle_t *cycle);


static ngx_conf_bitmask_t  ngx_http_track_drop_mask[] = {
    { ngx_string("ip"), NGX_HTTP_TRACK_DROP_IP },
    { ngx_string("ua"), NGX_HTTP_TRACK_DROP_UA },
    { ngx_string("referer"), NGX_HTTP_TRACK_DROP_REFERER },
    { ngx_string("uid"), NGX_HTTP_TRACK_DROP_UID },
    { ngx_string("props"), NGX_HTTP_TRACK_DROP_PROPS },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_track_ack_modes[] = {
    { ngx_string("durable"), NGX_HTTP_TRACK_ACK_DURABLE },
    { ngx_string("immediate"), NGX_HTTP_TRACK_ACK_IMMEDIATE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_track_response_types[] = {
    { ngx_string("gif"), NGX_HTTP_TRACK_RESPONSE_GIF },
    { ngx_string("empty"), NGX_HTTP_TRACK_RESPONSE_EMPTY },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_track_commands[] = {

    { ngx_string("track"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_track_conf_set_track,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_track_conf_set_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_response"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, response),
      &ngx_http_track_response_types },

    { ngx_string("track_ack"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, ack),
      &ngx_http_track_ack_modes },

    { ngx_string("track_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("track_max_event_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, max_event_size),
      NULL },

    { ngx_string("track_max_header_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, max_header_len),
      NULL },

    { ngx_string("track_max_field_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, limits.max_field_len),
      NULL },

    { ngx_string("track_max_props"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, limits.max_props),
      NULL },

    { ngx_string("track_max_prop_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, limits.max_prop_value_len),
      NULL },

    { ngx_string("track_max_events"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, limits.max_events),
      NULL },

    { ngx_string("track_max_args"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, limits.max_params),
      NULL },

    { ngx_string("track_field"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_track_conf_set_field,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_anonymize_ip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, anonymize_ip),
      NULL },

    { ngx_string("track_honor_dnt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, honor_dnt),
      NULL },

    { ngx_string("track_consent"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, consent),
      NULL },

    { ngx_string("track_drop_fields"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_track_loc_conf_t, drop),
      &ngx_http_track_drop_mask },

    { ngx_string("track_cors_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_track_conf_set_cors_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_track_conf_set_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_redis_sentinel"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_track_conf_set_addrs,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, sentinels),
      NULL },

    { ngx_string("track_redis_cluster"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_track_conf_set_addrs,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, cluster),
      NULL },

    { ngx_string("track_redis_cluster_shards"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, cluster_shards),
      NULL },

    { ngx_string("track_redis_master"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, master_name),
      NULL },

    { ngx_string("track_redis_wait_replicas"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, wait_replicas),
      NULL },

    { ngx_string("track_redis_wait_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, wait_timeout),
      NULL },

    { ngx_string("track_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, redis_password),
      NULL },

    { ngx_string("track_redis_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, redis_db),
      NULL },

    { ngx_string("track_redis_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, redis_key),
      NULL },

    { ngx_string("track_redis_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, connect_timeout),
      NULL },

    { ngx_string("track_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, timeout),
      NULL },

    { ngx_string("track_redis_max_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, max_backoff),
      NULL },

    { ngx_string("track_redis_batch_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, batch_size),
      NULL },

    { ngx_string("track_redis_max_inflight"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, max_inflight),
      NULL },

    { ngx_string("track_redis_max_pending"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, max_pending),
      NULL },

    { ngx_string("track_redis_max_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, max_queue),
      NULL },

    { ngx_string("track_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_track_conf_set_spool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("track_node_id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_track_main_conf_t, node_id),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_track_module_ctx = {
    ngx_http_track_add_variables,          /* preconfiguration */
    ngx_http_track_postconfiguration,      /* postconfiguration */

    ngx_http_track_create_main_conf,       /* create main configuration */
    ngx_http_track_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_track_create_loc_conf,        /* create location configuration */
    ngx_http_track_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_track_module = {
    NGX_MODULE_V1,
    &ngx_http_track_module_ctx,            /* module context */
    ngx_http_track_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_track_init_module,            /* init module */
    ngx_http_track_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_track_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_track_vars[] = {

    { ngx_string("track_event_id"), NULL, ngx_http_track_event_id_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("track_events"), NULL, ngx_http_track_events_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_track_zone_name = ngx_string("ngx_http_track");


static ngx_int_t
ngx_http_track_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_track_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_track_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_track_module);

    /* counters outlive reloads: the zone keeps its data when reused */
    tmcf->shm_zone = ngx_shared_memory_add(cf, &ngx_http_track_zone_name,
                                           8 * ngx_pagesize,
                                           &ngx_http_track_module);
    if (tmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    tmcf->shm_zone->init = ngx_http_track_metrics_init_zone;

    return ngx_http_track_filter_init(cf);
}


static void *
ngx_http_track_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_track_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_track_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tmcf->enabled = 0;
     *     tmcf->redis = { NULL, 0 };
     *     tmcf->sentinels = NULL;
     *     tmcf->cluster = NULL;
     *     tmcf->master_name = { 0, NULL };
     *     tmcf->redis_password = { 0, NULL };
     *     tmcf->redis_key = { 0, NULL };
     *     tmcf->spool_path = { 0, NULL };
     *     tmcf->spool_max_size = 0;
     *     tmcf->spool_segment_size = 0;
     *     tmcf->spool_fsync = 0;
     *     tmcf->shm_zone = NULL;
     */

    tmcf->redis_db = NGX_CONF_UNSET;
    tmcf->connect_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->timeout = NGX_CONF_UNSET_MSEC;
    tmcf->max_backoff = NGX_CONF_UNSET_MSEC;
    tmcf->batch_size = NGX_CONF_UNSET_UINT;
    tmcf->max_inflight = NGX_CONF_UNSET_UINT;
    tmcf->max_pending = NGX_CONF_UNSET_UINT;
    tmcf->max_queue = NGX_CONF_UNSET_UINT;
    tmcf->wait_replicas = NGX_CONF_UNSET_UINT;
    tmcf->cluster_shards = NGX_CONF_UNSET_UINT;
    tmcf->wait_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->node_id = NGX_CONF_UNSET_UINT;

    return tmcf;
}


static char *
ngx_http_track_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_track_main_conf_t  *tmcf = conf;

    if (tmcf->cluster
        && ngx_http_track_check_cluster(cf, tmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (tmcf->redis.host == NULL) {
        tmcf->redis.host = (u_char *) "127.0.0.1";
        tmcf->redis.port = 6379;
    }

    if (tmcf->master_name.len == 0) {
        ngx_str_set(&tmcf->master_name, "mymaster");
    }

    if (tmcf->redis_key.len == 0) {
        ngx_str_set(&tmcf->redis_key, "track:events");
    }

    ngx_conf_init_value(tmcf->redis_db, 0);
    ngx_conf_init_msec_value(tmcf->connect_timeout, 1000);
    ngx_conf_init_msec_value(tmcf->timeout, 2000);
    ngx_conf_init_msec_value(tmcf->max_backoff, 5000);
    ngx_conf_init_uint_value(tmcf->batch_size, 256);
    ngx_conf_init_uint_value(tmcf->max_inflight, 16);
    ngx_conf_init_uint_value(tmcf->max_pending, 16384);
    ngx_conf_init_uint_value(tmcf->max_queue, 0);
    ngx_conf_init_uint_value(tmcf->wait_replicas, 0);
    ngx_conf_init_uint_value(tmcf->cluster_shards, 0);
    ngx_conf_init_msec_value(tmcf->wait_timeout, 500);

    if (tmcf->wait_replicas && tmcf->wait_timeout >= tmcf->timeout) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_redis_wait_timeout\" must be shorter "
                           "than \"track_redis_timeout\"");
        return NGX_CONF_ERROR;
    }

    if (tmcf->node_id == NGX_CONF_UNSET_UINT) {
        /* distinct hosts give distinct event ids without configuration */
        tmcf->node_id = ngx_crc32_short(cf->cycle->hostname.data,
                                        cf->cycle->hostname.len);
    }

    tmcf->node_id &= 0xffff;

    if (tmcf->batch_size == 0 || tmcf->max_inflight == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_redis_batch_size\" and "
                           "\"track_redis_max_inflight\" must be positive");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_track_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_track_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_track_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tlcf->track = 0;
     *     tlcf->metrics = 0;
     *     tlcf->limits.max_eid_len = 0;
     *     tlcf->limits.max_prop_name_len = 0;
     *     tlcf->drop = 0;
     */

    tlcf->response = NGX_CONF_UNSET_UINT;
    tlcf->ack = NGX_CONF_UNSET_UINT;
    tlcf->max_body_size = NGX_CONF_UNSET_SIZE;
    tlcf->max_event_size = NGX_CONF_UNSET_SIZE;
    tlcf->max_header_len = NGX_CONF_UNSET_SIZE;
    tlcf->limits.max_field_len = NGX_CONF_UNSET_SIZE;
    tlcf->limits.max_props = NGX_CONF_UNSET_SIZE;
    tlcf->limits.max_prop_value_len = NGX_CONF_UNSET_SIZE;
    tlcf->limits.max_events = NGX_CONF_UNSET_SIZE;
    tlcf->limits.max_params = NGX_CONF_UNSET_SIZE;
    tlcf->fields = NGX_CONF_UNSET_PTR;
    tlcf->cors_origins = NGX_CONF_UNSET_PTR;
    tlcf->anonymize_ip = NGX_CONF_UNSET;
    tlcf->honor_dnt = NGX_CONF_UNSET;
    tlcf->consent = NGX_CONF_UNSET_PTR;

    return tlcf;
}


static char *
ngx_http_track_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_track_loc_conf_t *prev = parent;
    ngx_http_track_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->response, prev->response,
                              NGX_HTTP_TRACK_RESPONSE_GIF);
    ngx_conf_merge_uint_value(conf->ack, prev->ack,
                              NGX_HTTP_TRACK_ACK_DURABLE);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              64 * 1024);
    ngx_conf_merge_size_value(conf->max_event_size, prev->max_event_size,
                              8 * 1024);
    ngx_conf_merge_size_value(conf->max_header_len, prev->max_header_len,
                              512);
    ngx_conf_merge_size_value(conf->limits.max_field_len,
                              prev->limits.max_field_len, 128);
    ngx_conf_merge_size_value(conf->limits.max_props,
                              prev->limits.max_props, 32);
    ngx_conf_merge_size_value(conf->limits.max_prop_value_len,
                              prev->limits.max_prop_value_len, 1024);
    ngx_conf_merge_size_value(conf->limits.max_events,
                              prev->limits.max_events, 100);
    ngx_conf_merge_size_value(conf->limits.max_params,
                              prev->limits.max_params, 64);
    ngx_conf_merge_ptr_value(conf->fields, prev->fields, NULL);
    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);
    ngx_conf_merge_value(conf->anonymize_ip, prev->anonymize_ip, 0);
    ngx_conf_merge_value(conf->honor_dnt, prev->honor_dnt, 0);
    ngx_conf_merge_ptr_value(conf->consent, prev->consent, NULL);
    ngx_conf_merge_bitmask_value(conf->drop, prev->drop, 0);

    /* the consumer's columns hold these; not configurable on purpose */
    conf->limits.max_eid_len = 64;
    conf->limits.max_prop_name_len = 64;

    if (conf->limits.max_field_len > 128) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_max_field_length\" may not exceed 128, "
                           "the width of the stored columns");
        return NGX_CONF_ERROR;
    }

    /* ua and referer are TEXT columns */
    if (conf->max_header_len > 65535) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_max_header_length\" may not exceed "
                           "65535, the size of the stored columns");
        return NGX_CONF_ERROR;
    }

    /* a spool record must fit the replay's read buffer */
    if (conf->max_event_size > 256 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_max_event_size\" may not exceed 256k");
        return NGX_CONF_ERROR;
    }

    if (conf->limits.max_events == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"track_max_events\" must be positive");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_track_conf_set_track(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_track_loc_conf_t  *tlcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_track_main_conf_t  *tmcf;

    if (tlcf->track) {
        return "is duplicate";
    }

    tlcf->track = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_track_handler;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_track_module);
    tmcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_track_conf_set_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_track_loc_conf_t  *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->metrics) {
        return "is duplicate";
    }

    tlcf->metrics = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_track_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * "host:port" or "unix:/path" as a numeric address or a path.  Names are
 * resolved here, once: a worker must never call the blocking resolver.
 */

static char *
ngx_http_track_parse_addr(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_track_addr_t *addr, in_port_t default_port)
{
    u_char     *p;
    size_t      len;
    ngx_url_t   u;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = *value;
    u.default_port = default_port;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                               u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no address for \"%V\"",
                           &u.url);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    addr->host = p;

#if (NGX_HAVE_UNIX_DOMAIN)
    if (u.addrs[0].sockaddr->sa_family == AF_UNIX) {
        ngx_cpystrn(p,
            (u_char *) ((struct sockaddr_un *) u.addrs[0].sockaddr)->sun_path,
            NGX_SOCKADDR_STRLEN);
        addr->port = 0;

        return NGX_CONF_OK;
    }
#endif

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';
    addr->port = ngx_inet_get_port(u.addrs[0].sockaddr);

    return NGX_CONF_OK;
}


static char *
ngx_http_track_conf_set_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_track_main_conf_t  *tmcf = conf;

    ngx_str_t  *value;

    if (tmcf->redis.host) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_track_parse_addr(cf, &value[1], &tmcf->redis, 6379);
}


/* track_redis_sentinel, track_redis_cluster: a list of addresses */

static char *
ngx_http_track_conf_set_addrs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t              *value;
    in_port_t               port;
    ngx_uint_t              i;
    ngx_array_t           **addrs;
    ngx_http_track_addr_t  *addr;

    addrs = (ngx_array_t **) (p + cmd->offset);

    if (*addrs) {
        return "is duplicate";
    }

    *addrs = ngx_array_create(cf->pool, cf->args->nelts - 1,
                              sizeof(ngx_http_track_addr_t));
    if (*addrs == NULL) {
        return NGX_CONF_ERROR;
    }

    port = (cmd->offset == offsetof(ngx_http_track_main_conf_t, sentinels))
           ? 26379 : 6379;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        addr = ngx_array_push(*addrs);
        if (addr == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_track_parse_addr(cf, &value[i], addr, port)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (addr->port == 0
            && cmd->offset == offsetof(ngx_http_track_main_conf_t, cluster))
        {
            return "takes host:port addresses, not unix sockets";
        }
    }

    return NGX_CONF_OK;
}


/*
 * track_redis_cluster excludes what a cluster has no use for: a single
 * address, Sentinel, a database other than 0 (a cluster has only that one).
 */

static char *
ngx_http_track_check_cluster(ngx_conf_t *cf, ngx_http_track_main_conf_t *tmcf)
{
    const char  *other;

    other = NULL;

    if (tmcf->redis.host) {
        other = "track_redis";

    } else if (tmcf->sentinels) {
        other = "track_redis_sentinel";

    } else if (tmcf->redis_db != NGX_CONF_UNSET && tmcf->redis_db != 0) {
        other = "track_redis_db";
    }

    if (other) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" cannot be used with "
                           "\"track_redis_cluster\"", other);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_track_conf_set_field(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_track_loc_conf_t  *tlcf = conf;

    u_char                             c;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_track_field_conf_t       *field;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (tlcf->fields == NGX_CONF_UNSET_PTR || tlcf->fields == NULL) {
        tlcf->fields = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_track_field_conf_t));
        if (tlcf->fields == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* a name is a JSON key and a column in queries: a plain word, once */
    for (i = 0; i < value[1].len; i++) {
        c = value[1].data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
        {
            break;
        }
    }

    if (value[1].len == 0 || value[1].len > 64 || i < value[1].len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid field name \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    field = tlcf->fields->elts;

    for (i = 0; i < tlcf->fields->nelts; i++) {
        if (field[i].name.len == value[1].len
            && ngx_strncmp(field[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate field name \"%V\" in \"%V\" "
                               "directive", &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    field = ngx_array_push(tlcf->fields);
    if (field == NULL) {
        return NGX_CONF_ERROR;
    }

    /* jansson keys are C strings */
    field->name.data = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (field->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    field->name.len = value[1].len;
    ngx_cpystrn(field->name.data, value[1].data, value[1].len + 1);

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &field->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* track_spool path [max_size=size] [segment=size] [fsync=on|off] */

static char *
ngx_http_track_conf_set_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_track_main_conf_t  *tmcf = conf;

    off_t        size;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (tmcf->spool_path.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tmcf->spool_path = value[1];
    tmcf->spool_max_size = 1024 * 1024 * 1024;
    tmcf->spool_segment_size = 64 * 1024 * 1024;
    tmcf->spool_fsync = 0;

    if (ngx_conf_full_name(cf->cycle, &tmcf->spool_path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the path is used as a C string */
    s.len = tmcf->spool_path.len;
    s.data = ngx_pnalloc(cf->pool, s.len + 1);
    if (s.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(s.data, tmcf->spool_path.data, s.len + 1);
    tmcf->spool_path = s;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0
            || ngx_strncmp(value[i].data, "segment=", 8) == 0)
        {
            s.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_offset(&s);
            if (size <= 0) {
                goto invalid;
            }

            if (value[i].data[0] == 'm') {
                tmcf->spool_max_size = size;
            } else {
                tmcf->spool_segment_size = size;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=on") == 0) {
            tmcf->spool_fsync = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fsync=off") == 0) {
            tmcf->spool_fsync = 0;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_track_conf_set_cors_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_track_loc_conf_t  *tlcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i;

    if (tlcf->cors_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    tlcf->cors_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_str_t));
    if (tlcf->cors_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        origin = ngx_array_push(tlcf->cors_origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_track_event_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_track_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_track_module);

    if (ctx == NULL || ctx->event_id.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->event_id.len;
    v->data = ctx->event_id.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_events_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    ngx_http_track_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_track_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", ctx->nevents) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_init_module(ngx_cycle_t *cycle)
{
    ngx_http_track_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_track_module);

    if (tmcf == NULL || !tmcf->enabled) {
        return NGX_OK;
    }

    return ngx_http_track_spool_init_module(cycle, tmcf);
}


static ngx_int_t
ngx_http_track_init_process(ngx_cycle_t *cycle)
{
    ngx_http_track_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_track_module);

    if (tmcf == NULL || !tmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_track_batch_init_process(cycle, tmcf) != NGX_OK
        || ngx_http_track_throttle_init_process(cycle, tmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the connection tells the batcher when to push and when to give up */
    if (tmcf->cluster) {
        if (ngx_http_track_cluster_init_process(cycle, tmcf,
                                                ngx_http_track_batch_wake)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ngx_http_track_redis_init_process(cycle, tmcf,
                                                 ngx_http_track_batch_wake,
                                                 ngx_http_track_batch_fail)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_track_spool_init_process(cycle, tmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_track_replay_init_process(cycle, tmcf);
}


static void
ngx_http_track_exit_process(ngx_cycle_t *cycle)
{
    /* the spool first: closing its segment hands it to the next replayer */
    ngx_http_track_spool_exit_process(cycle);
    ngx_http_track_replay_exit_process(cycle);
    ngx_http_track_batch_exit_process(cycle);
    ngx_http_track_throttle_exit_process(cycle);
    ngx_http_track_redis_exit_process(cycle);
    ngx_http_track_cluster_exit_process(cycle);
    ngx_http_track_command_exit_process(cycle);
    ngx_http_track_enrich_exit();
}
