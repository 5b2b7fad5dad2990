/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The hiredis adapter for nginx's event loop: the socket of a
 * redisAsyncContext as an nginx connection.
 */


#ifndef _NGX_HTTP_TRACK_ADAPTER_H_INCLUDED_
#define _NGX_HTTP_TRACK_ADAPTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>


ngx_int_t ngx_http_track_adapter_attach(redisAsyncContext *ac,
    ngx_log_t *log);


#endif /* _NGX_HTTP_TRACK_ADAPTER_H_INCLUDED_ */
