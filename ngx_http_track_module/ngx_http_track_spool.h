/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The disk spool's format and its writing side (ngx_http_track_spool.c).
 */


#ifndef _NGX_HTTP_TRACK_SPOOL_H_INCLUDED_
#define _NGX_HTTP_TRACK_SPOOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"
#include "ngx_http_track_ctx.h"


/* a record: 4-byte length, 4-byte CRC32 (little-endian), the event */
#define NGX_HTTP_TRACK_SPOOL_HEADER     8
#define NGX_HTTP_TRACK_SPOOL_SUFFIX     ".trk"
/* track_max_event_size is at most 256k: a record fits in a replay chunk */
#define NGX_HTTP_TRACK_SPOOL_MAX_RECORD (256 * 1024)


ngx_int_t ngx_http_track_spool_init_module(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
ngx_int_t ngx_http_track_spool_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
void ngx_http_track_spool_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_track_spool_append(ngx_http_track_ctx_t *ctx);
void ngx_http_track_spool_close_segment(void);
ngx_uint_t ngx_http_track_spool_is_segment(u_char *name, size_t len);


#endif /* _NGX_HTTP_TRACK_SPOOL_H_INCLUDED_ */
