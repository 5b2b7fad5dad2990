/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The events' enrichment and serialisation (ngx_http_track_enrich.c).
 */


#ifndef _NGX_HTTP_TRACK_ENRICH_H_INCLUDED_
#define _NGX_HTTP_TRACK_ENRICH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_track_event.h"
#include "ngx_http_track_ctx.h"


ngx_int_t ngx_http_track_enrich_events(ngx_http_request_t *r,
    ngx_http_track_ctx_t *ctx, ngx_http_track_event_t *events);
void ngx_http_track_enrich_exit(void);


#endif /* _NGX_HTTP_TRACK_ENRICH_H_INCLUDED_ */
