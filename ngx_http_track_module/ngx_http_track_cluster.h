/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's connections to a Redis Cluster (ngx_http_track_cluster.c).
 */


#ifndef _NGX_HTTP_TRACK_CLUSTER_H_INCLUDED_
#define _NGX_HTTP_TRACK_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"


struct redisReply;

/* a command's final reply (after redirections), or NULL: no reply */
typedef void (*ngx_http_track_cluster_reply_pt)(struct redisReply *reply,
    void *data);

/* the slot map is known, or a command has left the flight */
typedef void (*ngx_http_track_cluster_event_pt)(void);


ngx_int_t ngx_http_track_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf, ngx_http_track_cluster_event_pt ready);
void ngx_http_track_cluster_exit_process(ngx_cycle_t *cycle);

ngx_int_t ngx_http_track_cluster_send(ngx_str_t *key, ngx_uint_t argc,
    const char **argv, size_t *argvlen,
    ngx_http_track_cluster_reply_pt handler,
    ngx_http_track_cluster_reply_pt waited, void *data);
ngx_str_t *ngx_http_track_cluster_shard(ngx_uint_t n);
ngx_uint_t ngx_http_track_cluster_nshards(void);

ngx_uint_t ngx_http_track_cluster_is_on(void);
ngx_uint_t ngx_http_track_cluster_is_ready(void);
ngx_uint_t ngx_http_track_cluster_is_whole(void);
ngx_uint_t ngx_http_track_cluster_is_exiting(void);


#endif /* _NGX_HTTP_TRACK_CLUSTER_H_INCLUDED_ */
