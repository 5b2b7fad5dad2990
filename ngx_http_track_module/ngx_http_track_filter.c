/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nginx's own refusal of a body in a "track" location, in the module's
 * terms: a body over client_max_body_size is refused by nginx before the
 * handler runs (on its Content-Length, or while a chunked body is read),
 * with an HTML page.  The header and body filters turn that answer into
 * the module's 413 body_too_large: JSON reason, Cache-Control, CORS, and
 * counted and logged like the module's own rejections.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_handler.h"
#include "ngx_http_track_filter.h"


static ngx_http_output_header_filter_pt  ngx_http_track_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_track_next_body_filter;

static ngx_str_t  ngx_http_track_json = ngx_string("application/json");

/* the answer's body, the same for every request: built with the config */
static ngx_str_t  ngx_http_track_refused_json;


/* nginx's special response for 413 (r->err_status) in a track location */

static ngx_int_t
ngx_http_track_refused_body(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (r->err_status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE || r != r->main) {
        return 0;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    return clcf->handler == ngx_http_track_handler;
}


static ngx_int_t
ngx_http_track_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t              handled;
    ngx_http_track_error_t  err;

    if (!ngx_http_track_refused_body(r)) {
        return ngx_http_track_next_header_filter(r);
    }

    err.reason = NGX_HTTP_TRACK_REJECT_BODY_TOO_LARGE;
    err.message = "request body over client_max_body_size";
    err.field = NULL;

    /*
     * refused on its Content-Length, the request never reached the handler
     * (which starts reading the body, and counts it and answers CORS first)
     */
    handled = (r->request_body != NULL);

    if (!handled) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REQUESTS, 1);
    }

    ngx_http_track_count_reject(r, &err);

    if (ngx_http_track_error_headers(r, !handled) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.content_type_len = ngx_http_track_json.len;
    r->headers_out.content_type = ngx_http_track_json;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ngx_http_track_refused_json.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_track_next_header_filter(r);
}


static ngx_int_t
ngx_http_track_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl, out;

    if (in == NULL || !ngx_http_track_refused_body(r)) {
        return ngx_http_track_next_body_filter(r, in);
    }

    /* the HTML page is consumed; its last buffer brings the JSON instead */
    last = 0;

    for (cl = in; cl; cl = cl->next) {
        last |= cl->buf->last_buf | cl->buf->last_in_chain;
        cl->buf->pos = cl->buf->last;
    }

    if (!last) {
        return ngx_http_track_next_body_filter(r, NULL);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->memory = 1;
    b->pos = ngx_http_track_refused_json.data;
    b->last = b->pos + ngx_http_track_refused_json.len;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_track_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_track_filter_init(ngx_conf_t *cf)
{
    const char  *code;

    code = ngx_http_track_reject_names[NGX_HTTP_TRACK_REJECT_BODY_TOO_LARGE];

    if (ngx_http_track_error_body(cf->pool, code, "request body too large",
                                  NULL, &ngx_http_track_refused_json)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_track_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_track_header_filter;

    ngx_http_track_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_track_body_filter;

    return NGX_OK;
}
