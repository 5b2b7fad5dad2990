/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "track" content handler (ngx_http_track_handler.c), and the error
 * answers it shares with the filter of nginx's own refusals.
 */


#ifndef _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_
#define _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_event.h"


ngx_int_t ngx_http_track_handler(ngx_http_request_t *r);

/* a rejection counted in the metrics and logged at info level */
void ngx_http_track_count_reject(ngx_http_request_t *r,
    ngx_http_track_error_t *err);

/* the one-line JSON reason of an error answer, newline included */
ngx_int_t ngx_http_track_error_body(ngx_pool_t *pool, const char *code,
    const char *message, const char *field, ngx_str_t *out);

/* the headers every error answer carries: Cache-Control, and CORS if cors */
ngx_int_t ngx_http_track_error_headers(ngx_http_request_t *r,
    ngx_uint_t cors);


#endif /* _NGX_HTTP_TRACK_HANDLER_H_INCLUDED_ */
