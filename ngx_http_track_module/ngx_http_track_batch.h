/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The batcher of pushes to Redis (ngx_http_track_batch.c).
 */


#ifndef _NGX_HTTP_TRACK_BATCH_H_INCLUDED_
#define _NGX_HTTP_TRACK_BATCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"
#include "ngx_http_track_ctx.h"


ngx_int_t ngx_http_track_batch_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
void ngx_http_track_batch_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_track_batch_submit(ngx_http_track_ctx_t *ctx);
void ngx_http_track_batch_detach(ngx_http_track_ctx_t *ctx);
void ngx_http_track_batch_wake(void);
void ngx_http_track_batch_fail(void);


#endif /* _NGX_HTTP_TRACK_BATCH_H_INCLUDED_ */
