/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's Redis connection (ngx_http_track_redis.c).
 */


#ifndef _NGX_HTTP_TRACK_REDIS_H_INCLUDED_
#define _NGX_HTTP_TRACK_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>

#include "ngx_http_track_module.h"


/* a command in flight, under the reply deadline until it is settled */
typedef struct {
    ngx_queue_t                 link;
    ngx_msec_t                  deadline;
} ngx_http_track_redis_cmd_t;

/* WAIT track_redis_wait_replicas track_redis_wait_timeout, as arguments */
typedef struct {
    const char                 *argv[3];
    size_t                      argvlen[3];
    u_char                      replicas[NGX_INT_T_LEN];
    u_char                      timeout[NGX_INT_T_LEN];
} ngx_http_track_redis_wait_t;

/* what the connection tells its user: ready (or a slot free), or lost */
typedef void (*ngx_http_track_redis_event_pt)(void);


ngx_int_t ngx_http_track_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf, ngx_http_track_redis_event_pt ready,
    ngx_http_track_redis_event_pt lost);
void ngx_http_track_redis_exit_process(ngx_cycle_t *cycle);

ngx_int_t ngx_http_track_redis_send(ngx_http_track_redis_cmd_t *cmd,
    redisCallbackFn *fn, void *privdata, ngx_uint_t argc, const char **argv,
    size_t *argvlen);
void ngx_http_track_redis_wait_args(ngx_http_track_main_conf_t *conf,
    ngx_http_track_redis_wait_t *wait);
void ngx_http_track_redis_settle(ngx_http_track_redis_cmd_t *cmd);
void ngx_http_track_redis_next(void);
void ngx_http_track_redis_close(const char *why);
void ngx_http_track_redis_close_later(const char *why);

ngx_uint_t ngx_http_track_redis_is_ready(void);
ngx_uint_t ngx_http_track_redis_is_down(void);
ngx_uint_t ngx_http_track_redis_is_exiting(void);
ngx_uint_t ngx_http_track_redis_inflight(void);
ngx_str_t *ngx_http_track_redis_address(void);


#endif /* _NGX_HTTP_TRACK_REDIS_H_INCLUDED_ */
