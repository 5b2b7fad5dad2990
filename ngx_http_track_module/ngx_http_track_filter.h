/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nginx's own 413 in a "track" location, answered in the module's JSON
 * (ngx_http_track_filter.c).
 */


#ifndef _NGX_HTTP_TRACK_FILTER_H_INCLUDED_
#define _NGX_HTTP_TRACK_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* puts the header and body filters on top of nginx's chains */
ngx_int_t ngx_http_track_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_TRACK_FILTER_H_INCLUDED_ */
