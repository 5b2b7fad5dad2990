/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "track" content handler: method and CORS rules, request body
 * collection, privacy consent, hand-off to enrichment and delivery, and
 * the replies.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_ctx.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_enrich.h"
#include "ngx_http_track_delivery.h"
#include "ngx_http_track_handler.h"


static ngx_int_t ngx_http_track_preflight(ngx_http_request_t *r,
    ngx_http_track_loc_conf_t *tlcf, ngx_str_t *origin);
static ngx_int_t ngx_http_track_check_origin(ngx_http_request_t *r,
    ngx_http_track_loc_conf_t *tlcf, ngx_str_t *origin);
static ngx_int_t ngx_http_track_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
static ngx_int_t ngx_http_track_origin_failed(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_track_add_cors(ngx_http_request_t *r,
    ngx_uint_t credentials);
static ngx_int_t ngx_http_track_post(ngx_http_request_t *r,
    ngx_http_track_loc_conf_t *tlcf);
static void ngx_http_track_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_track_read_body(ngx_http_request_t *r,
    size_t max, ngx_str_t *body);
static ngx_int_t ngx_http_track_accept(ngx_http_request_t *r,
    ngx_http_track_event_t *events, size_t nevents);
static ngx_int_t ngx_http_track_recordable(ngx_http_request_t *r);
static ngx_int_t ngx_http_track_reject(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_track_error_t *err);
static ngx_int_t ngx_http_track_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message,
    const char *field);
static ngx_int_t ngx_http_track_send_ok(ngx_http_request_t *r);
static ngx_int_t ngx_http_track_answer(ngx_http_request_t *r,
    ngx_uint_t status);
static void ngx_http_track_delivered(ngx_http_track_ctx_t *ctx,
    ngx_uint_t status);


/* a 1x1 transparent GIF */
static u_char  ngx_http_track_gif[] = {
    'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00,
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
    0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
};


static ngx_str_t  ngx_http_track_gif_type = ngx_string("image/gif");
static ngx_str_t  ngx_http_track_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_track_no_store = ngx_string("no-store");
static ngx_str_t  ngx_http_track_allow =
    ngx_string("GET, HEAD, POST, OPTIONS");


ngx_int_t
ngx_http_track_handler(ngx_http_request_t *r)
{
    u_char                     *buf;
    ngx_int_t                   rc;
    ngx_str_t                   origin;
    ngx_http_track_text_t      *props;
    ngx_http_track_error_t      err;
    ngx_http_track_event_t      event;
    ngx_http_track_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REQUESTS, 1);

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_http_track_preflight(r, tlcf, &origin);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        if (ngx_http_track_add_header(r, "Allow", &ngx_http_track_allow)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        err.reason = NGX_HTTP_TRACK_REJECT_METHOD;
        err.message = "use GET, HEAD, POST or OPTIONS";
        err.field = NULL;

        return ngx_http_track_reject(r, NGX_HTTP_NOT_ALLOWED, &err);
    }

    rc = ngx_http_track_check_origin(r, tlcf, &origin);
    if (rc != NGX_OK) {
        return ngx_http_track_origin_failed(r, rc);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_track_post(r, tlcf);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the decoded values, and the properties' names and values */
    buf = ngx_pnalloc(r->pool, r->args.len + 1);
    props = ngx_palloc(r->pool, 2 * tlcf->limits.max_props
                                * sizeof(ngx_http_track_text_t));
    if (buf == NULL || props == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_track_parse_args(r->args.data, r->args.len, &tlcf->limits,
                                  &event, buf, props, &err)
        != 0)
    {
        return ngx_http_track_reject(r, NGX_HTTP_BAD_REQUEST, &err);
    }

    if (r->method == NGX_HTTP_HEAD) {
        /* HEAD is safe by definition: it validates but records nothing */
        return ngx_http_track_send_ok(r);
    }

    rc = ngx_http_track_accept(r, &event, 1);

    if (rc == NGX_DONE) {
        r->main->count++;
    }

    return rc;
}


static ngx_int_t
ngx_http_track_find_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            *value = h[i].value;
            return NGX_OK;
        }
    }
}


/*
 * NGX_OK when the request may proceed (no Origin, no CORS configuration, or
 * an allowed origin, in which case the CORS headers are added), NGX_DECLINED
 * for an origin not allowed, NGX_ERROR.
 */

static ngx_int_t
ngx_http_track_check_origin(ngx_http_request_t *r,
    ngx_http_track_loc_conf_t *tlcf, ngx_str_t *origin)
{
    ngx_str_t   *allowed;
    ngx_uint_t   i, any;

    static ngx_str_t  origin_header = ngx_string("Origin");

    if (tlcf->cors_origins == NULL
        || ngx_http_track_find_header(r, &origin_header, origin) != NGX_OK)
    {
        return NGX_OK;
    }

    allowed = tlcf->cors_origins->elts;

    for (i = 0; i < tlcf->cors_origins->nelts; i++) {
        any = (allowed[i].len == 1 && allowed[i].data[0] == '*');

        if (any
            || (allowed[i].len == origin->len
                && ngx_strncasecmp(allowed[i].data, origin->data,
                                   origin->len) == 0))
        {
            if (ngx_http_track_add_header(r, "Access-Control-Allow-Origin",
                                          origin)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            /* credentials only for origins named one by one */
            return ngx_http_track_add_cors(r, !any);
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_track_origin_failed(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_track_error_t  err;

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err.reason = NGX_HTTP_TRACK_REJECT_ORIGIN;
    err.message = "origin not allowed";
    err.field = NULL;

    return ngx_http_track_reject(r, NGX_HTTP_FORBIDDEN, &err);
}


static ngx_int_t
ngx_http_track_add_cors(ngx_http_request_t *r, ngx_uint_t credentials)
{
    static ngx_str_t  yes = ngx_string("true");
    static ngx_str_t  vary = ngx_string("Origin");

    if ((credentials
         && ngx_http_track_add_header(r, "Access-Control-Allow-Credentials",
                                      &yes)
            != NGX_OK)
        || ngx_http_track_add_header(r, "Vary", &vary) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_preflight(ngx_http_request_t *r,
    ngx_http_track_loc_conf_t *tlcf, ngx_str_t *origin)
{
    ngx_int_t  rc;

    static ngx_str_t  methods = ngx_string("GET, POST, OPTIONS");
    static ngx_str_t  headers = ngx_string("Content-Type");
    static ngx_str_t  max_age = ngx_string("86400");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    origin->len = 0;

    rc = ngx_http_track_check_origin(r, tlcf, origin);
    if (rc != NGX_OK) {
        return ngx_http_track_origin_failed(r, rc);
    }

    if (ngx_http_track_add_header(r, "Allow", &ngx_http_track_allow)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (origin->len
        && (ngx_http_track_add_header(r, "Access-Control-Allow-Methods",
                                      &methods) != NGX_OK
            || ngx_http_track_add_header(r, "Access-Control-Allow-Headers",
                                         &headers) != NGX_OK
            || ngx_http_track_add_header(r, "Access-Control-Max-Age",
                                         &max_age) != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_track_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_post(ngx_http_request_t *r, ngx_http_track_loc_conf_t *tlcf)
{
    ngx_int_t                rc;
    ngx_str_t                type;
    ngx_http_track_error_t   err;

    if (r->headers_in.content_type) {
        type = r->headers_in.content_type->value;

        /* navigator.sendBeacon() sends strings as text/plain */
        if (!((type.len >= sizeof("text/plain") - 1
               && ngx_strncasecmp(type.data, (u_char *) "text/plain",
                                  sizeof("text/plain") - 1) == 0
               && (type.len == sizeof("text/plain") - 1
                   || type.data[sizeof("text/plain") - 1] == ';'))
              || (type.len >= sizeof("application/json") - 1
                  && ngx_strncasecmp(type.data, (u_char *) "application/json",
                                     sizeof("application/json") - 1) == 0
                  && (type.len == sizeof("application/json") - 1
                      || type.data[sizeof("application/json") - 1] == ';'))))
        {
            err.reason = NGX_HTTP_TRACK_REJECT_UNSUPPORTED_TYPE;
            err.message = "use text/plain or application/json";
            err.field = NULL;

            return ngx_http_track_reject(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         &err);
        }
    }

    if (r->headers_in.content_length_n > (off_t) tlcf->max_body_size) {
        err.reason = NGX_HTTP_TRACK_REJECT_BODY_TOO_LARGE;
        err.message = "request body too large";
        err.field = NULL;

        return ngx_http_track_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     &err);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_track_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_track_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   body;
    ngx_http_track_error_t      err;
    ngx_http_track_events_t     events;
    ngx_http_track_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    rc = ngx_http_track_read_body(r, tlcf->max_body_size, &body);

    if (rc == NGX_DECLINED) {
        err.reason = NGX_HTTP_TRACK_REJECT_BODY_TOO_LARGE;
        err.message = "request body too large";
        err.field = NULL;

        ngx_http_finalize_request(r,
            ngx_http_track_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, &err));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_track_parse_json(body.data, body.len, &tlcf->limits,
                                  &events, &err)
        != 0)
    {
        ngx_http_finalize_request(r,
            ngx_http_track_reject(r, NGX_HTTP_BAD_REQUEST, &err));
        return;
    }

    rc = ngx_http_track_accept(r, events.events, events.nevents);
    ngx_http_track_events_free(&events);

    /* NGX_DONE: the count taken by reading the body now waits for Redis */
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * The body in one piece: NGX_DECLINED when it exceeds max (a chunked body
 * has no length to check up front), or when nginx kept it in a temp file.
 */

static ngx_int_t
ngx_http_track_read_body(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > max) {
        return NGX_DECLINED;
    }

    b = r->request_body->bufs->buf;

    if (r->request_body->bufs->next == NULL && !b->in_file) {
        body->data = b->pos;
        body->len = b->last - b->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        /* a body over client_body_buffer_size: nginx wrote it to disk */
        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);
        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "track: could not read the request body "
                          "from its temporary file");
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * Enriches and serialises the validated events, then hands them to Redis.
 * NGX_DONE: the reply follows when Redis answers; anything else is the
 * status of a reply already sent or to send.
 */

static ngx_int_t
ngx_http_track_accept(ngx_http_request_t *r, ngx_http_track_event_t *events,
    size_t nevents)
{
    ngx_int_t                   rc;
    ngx_http_track_ctx_t       *ctx;
    ngx_http_track_error_t      err;
    ngx_http_track_loc_conf_t  *tlcf;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_track_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->done = ngx_http_track_delivered;
    ngx_http_set_ctx(r, ctx, ngx_http_track_module);

    rc = ngx_http_track_recordable(r);

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            /* the client said no: a normal answer, nothing kept */
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_NOT_RECORDED,
                                    nevents);
            return ngx_http_track_send_ok(r);
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->nevents = nevents;

    rc = ngx_http_track_enrich_events(r, ctx, events);

    if (rc == NGX_DECLINED) {
        err.reason = NGX_HTTP_TRACK_REJECT_TOO_LONG;
        err.message = "event too large";
        err.field = NULL;

        return ngx_http_track_reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     &err);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    rc = ngx_http_track_deliver(ctx, tlcf->ack);

    if (rc == NGX_DONE || rc == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return rc;
    }

    return ngx_http_track_answer(r, rc);
}


/*
 * NGX_DECLINED when the events must not be recorded: Do Not Track or
 * Global Privacy Control with track_honor_dnt, or a track_consent value that
 * is empty or "0".
 */

static ngx_int_t
ngx_http_track_recordable(ngx_http_request_t *r)
{
    ngx_str_t                   value;
    ngx_http_track_loc_conf_t  *tlcf;

    static ngx_str_t  dnt = ngx_string("DNT");
    static ngx_str_t  gpc = ngx_string("Sec-GPC");

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    if (tlcf->honor_dnt
        && ((ngx_http_track_find_header(r, &dnt, &value) == NGX_OK
             && value.len == 1 && value.data[0] == '1')
            || (ngx_http_track_find_header(r, &gpc, &value) == NGX_OK
                && value.len == 1 && value.data[0] == '1')))
    {
        return NGX_DECLINED;
    }

    if (tlcf->consent) {
        if (ngx_http_complex_value(r, tlcf->consent, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len == 0 || (value.len == 1 && value.data[0] == '0')) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_track_reject(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_track_error_t *err)
{
    ngx_http_track_count_reject(r, err);

    return ngx_http_track_send_error(r, status,
                                     ngx_http_track_reject_names[err->reason],
                                     err->message, err->field);
}


void
ngx_http_track_count_reject(ngx_http_request_t *r,
    ngx_http_track_error_t *err)
{
    ngx_http_track_stat_reject(err->reason);

    /* the message and field are fixed texts: no client data in the log */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "track: rejected: %s: %s%s%s",
                  ngx_http_track_reject_names[err->reason], err->message,
                  err->field ? ", field " : "",
                  err->field ? err->field : "");
}


ngx_int_t
ngx_http_track_error_body(ngx_pool_t *pool, const char *code,
    const char *message, const char *field, ngx_str_t *out)
{
    char    *s;
    json_t  *body;

    body = json_pack("{s:s, s:s}", "error", code, "message", message);
    if (body == NULL) {
        return NGX_ERROR;
    }

    if (field) {
        json_object_set_new(body, "field", json_string(field));
    }

    s = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (s == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(s) + 1;
    out->data = ngx_pnalloc(pool, out->len);

    if (out->data == NULL) {
        free(s);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s, out->len - 1);
    out->data[out->len - 1] = '\n';
    free(s);

    return NGX_OK;
}


ngx_int_t
ngx_http_track_error_headers(ngx_http_request_t *r, ngx_uint_t cors)
{
    ngx_str_t                   origin;
    ngx_http_track_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    if (cors && ngx_http_track_check_origin(r, tlcf, &origin) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_track_add_header(r, "Cache-Control",
                                     &ngx_http_track_no_store);
}


static ngx_int_t
ngx_http_track_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field)
{
    ngx_http_complex_value_t  cv;

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    if (ngx_http_track_error_body(r->pool, code, message, field, &cv.value)
        != NGX_OK
        || ngx_http_track_add_header(r, "Cache-Control",
                                     &ngx_http_track_no_store)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_send_response(r, status, &ngx_http_track_json_type, &cv);
}


static ngx_int_t
ngx_http_track_send_ok(ngx_http_request_t *r)
{
    ngx_http_complex_value_t    cv;
    ngx_http_track_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);

    if (ngx_http_track_add_header(r, "Cache-Control",
                                  &ngx_http_track_no_store)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_POST
        || tlcf->response == NGX_HTTP_TRACK_RESPONSE_EMPTY)
    {
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.len = sizeof(ngx_http_track_gif);
    cv.value.data = ngx_http_track_gif;

    return ngx_http_send_response(r, NGX_HTTP_OK, &ngx_http_track_gif_type,
                                  &cv);
}


/* the answer to events delivered (NGX_HTTP_OK) or not (503) */

static ngx_int_t
ngx_http_track_answer(ngx_http_request_t *r, ngx_uint_t status)
{
    if (status == NGX_HTTP_OK) {
        return ngx_http_track_send_ok(r);
    }

    return ngx_http_track_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "unavailable",
                                     "the event store is unavailable; "
                                     "retry later", NULL);
}


/* the request's ngx_http_track_done_pt: Redis has settled its events */

static void
ngx_http_track_delivered(ngx_http_track_ctx_t *ctx, ngx_uint_t status)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    rc = ngx_http_track_answer(r, ngx_http_track_delivery_settle(ctx, status));

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
