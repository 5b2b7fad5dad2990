/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Delivery of a request's events (ngx_http_track_delivery.c).
 */


#ifndef _NGX_HTTP_TRACK_DELIVERY_H_INCLUDED_
#define _NGX_HTTP_TRACK_DELIVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_ctx.h"


ngx_int_t ngx_http_track_deliver(ngx_http_track_ctx_t *ctx, ngx_uint_t ack);
ngx_uint_t ngx_http_track_delivery_settle(ngx_http_track_ctx_t *ctx,
    ngx_uint_t status);


#endif /* _NGX_HTTP_TRACK_DELIVERY_H_INCLUDED_ */
