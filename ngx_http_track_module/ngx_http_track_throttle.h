/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Backpressure on the Redis list's length (ngx_http_track_throttle.c).
 */


#ifndef _NGX_HTTP_TRACK_THROTTLE_H_INCLUDED_
#define _NGX_HTTP_TRACK_THROTTLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"


ngx_int_t ngx_http_track_throttle_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
void ngx_http_track_throttle_exit_process(ngx_cycle_t *cycle);
void ngx_http_track_throttle_queue_length(ngx_uint_t list, long long len);
ngx_uint_t ngx_http_track_throttle_is_on(void);
ngx_uint_t ngx_http_track_throttle_writable(void);


#endif /* _NGX_HTTP_TRACK_THROTTLE_H_INCLUDED_ */
