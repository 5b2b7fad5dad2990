/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "track" content handler (ngx_http_track_handler.c).
 */


#ifndef _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_
#define _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_track_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_ */
