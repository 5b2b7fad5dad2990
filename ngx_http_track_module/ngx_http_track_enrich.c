/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the edge adds to an event and takes from it: the server's fields
 * (time, address, user agent, referer, track_field values), the privacy
 * rules (track_anonymize_ip, track_drop_fields), the event id, and the
 * serialisation into the JSON line that goes to Redis.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_enrich.h"


static ngx_int_t ngx_http_track_anonymize_ip(ngx_http_request_t *r,
    ngx_str_t *ip);
static size_t ngx_http_track_escape(u_char *dst, const u_char *src,
    size_t len);
static u_char *ngx_http_track_put_hex(u_char *p, uint64_t v, size_t width);


/* the serialisation buffer; grows to the largest track_max_event_size */
static u_char  *ngx_http_track_scratch;
static size_t   ngx_http_track_scratch_size;
static uint64_t ngx_http_track_seq;


/*
 * Serialises the request's validated events into ctx->events, with what
 * the configuration adds and drops.  NGX_DECLINED: an event is larger than
 * track_max_event_size; otherwise NGX_OK or an HTTP error status.
 */

ngx_int_t
ngx_http_track_enrich_events(ngx_http_request_t *r,
    ngx_http_track_ctx_t *ctx, ngx_http_track_event_t *events)
{
    u_char                      *p;
    size_t                       i, n, nfields, id_len;
    ngx_str_t                    value;
    ngx_time_t                  *tp;
    ngx_http_track_kv_t          fields[16];
    ngx_http_track_text_t       *eid;
    ngx_http_track_enrich_t      enrich;
    ngx_http_track_loc_conf_t   *tlcf;
    ngx_http_track_main_conf_t  *tmcf;
    ngx_http_track_field_conf_t *fc;
    char                         id[NGX_HTTP_TRACK_EID_LEN + 1];

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_track_module);
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_track_module);

    if (ngx_http_track_scratch_size < tlcf->max_event_size) {
        p = ngx_alloc(tlcf->max_event_size, r->connection->log);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_free(ngx_http_track_scratch);
        ngx_http_track_scratch = p;
        ngx_http_track_scratch_size = tlcf->max_event_size;
    }

    tp = ngx_timeofday();

    ngx_memzero(&enrich, sizeof(ngx_http_track_enrich_t));
    enrich.recv_ts = (int64_t) tp->sec * 1000 + tp->msec;
    enrich.max_header_len = tlcf->max_header_len;
    enrich.escape = ngx_http_track_escape;
    value = r->connection->addr_text;

    if (tlcf->anonymize_ip
        && ngx_http_track_anonymize_ip(r, &value) == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(tlcf->drop & NGX_HTTP_TRACK_DROP_IP)) {
        enrich.ip.data = value.data;
        enrich.ip.len = value.len;
    }

    if (r->headers_in.user_agent && !(tlcf->drop & NGX_HTTP_TRACK_DROP_UA)) {
        enrich.ua.data = r->headers_in.user_agent->value.data;
        enrich.ua.len = r->headers_in.user_agent->value.len;
    }

    if (r->headers_in.referer && !(tlcf->drop & NGX_HTTP_TRACK_DROP_REFERER)) {
        enrich.referer.data = r->headers_in.referer->value.data;
        enrich.referer.len = r->headers_in.referer->value.len;
    }

    nfields = 0;

    if (tlcf->fields) {
        fc = tlcf->fields->elts;

        for (i = 0; i < tlcf->fields->nelts && nfields < 16; i++) {
            if (ngx_http_complex_value(r, &fc[i].value, &value) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            fields[nfields].name = (const char *) fc[i].name.data;
            fields[nfields].data = value.data;
            fields[nfields].len = value.len;
            nfields++;
        }
    }

    enrich.fields = fields;
    enrich.nfields = nfields;

    ctx->events = ngx_palloc(r->pool, ctx->nevents * sizeof(ngx_str_t));
    if (ctx->events == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ctx->nevents; i++) {

        if (tlcf->drop & NGX_HTTP_TRACK_DROP_UID) {
            events[i].text[NGX_HTTP_TRACK_UID].data = NULL;
        }

        if (tlcf->drop & NGX_HTTP_TRACK_DROP_PROPS) {
            events[i].nprops = 0;
            events[i].props_json = NULL;
        }

        /*
         * time-ordered and unique across hosts, workers and requests:
         * ngx_sprintf()'s "%012xL%04xL%06xL%010xL", written directly
         */
        p = ngx_http_track_put_hex((u_char *) id, (uint64_t) enrich.recv_ts,
                                   12);
        p = ngx_http_track_put_hex(p, (uint64_t) tmcf->node_id, 4);
        p = ngx_http_track_put_hex(p, (uint64_t) (ngx_pid & 0xffffff), 6);
        p = ngx_http_track_put_hex(p, ngx_http_track_seq++ & 0xffffffffffULL,
                                   10);
        *p = '\0';
        id_len = p - (u_char *) id;
        enrich.eid = id;

        n = ngx_http_track_serialize(&events[i], &enrich,
                                     ngx_http_track_scratch,
                                     tlcf->max_event_size);
        if (n == 0) {
            return NGX_DECLINED;
        }

        p = ngx_pnalloc(r->pool, n);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, ngx_http_track_scratch, n);
        ctx->events[i].data = p;
        ctx->events[i].len = n;

        if (i == 0) {
            eid = &events[0].text[NGX_HTTP_TRACK_EID];

            if (eid->data == NULL) {
                eid->data = (u_char *) id;
                eid->len = id_len;
            }

            ctx->event_id.len = eid->len;
            ctx->event_id.data = ngx_pnalloc(r->pool, eid->len);
            if (ctx->event_id.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(ctx->event_id.data, eid->data, eid->len);
        }
    }

    return NGX_OK;
}


/* the client address with its last octet (IPv4) or last 80 bits zeroed */

static ngx_int_t
ngx_http_track_anonymize_ip(ngx_http_request_t *r, ngx_str_t *ip)
{
    u_char                *p;
    ngx_sockaddr_t         sa;
    struct sockaddr_in    *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6   *sin6;
#endif

    if (r->connection->socklen > (socklen_t) sizeof(ngx_sockaddr_t)) {
        return NGX_DECLINED;
    }

    ngx_memcpy(&sa, r->connection->sockaddr, r->connection->socklen);

    switch (sa.sockaddr.sa_family) {

    case AF_INET:
        sin = &sa.sockaddr_in;
        p = (u_char *) &sin->sin_addr.s_addr;
        p[3] = 0;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = &sa.sockaddr_in6;
        ngx_memzero(&sin6->sin6_addr.s6_addr[6], 10);
        break;
#endif

    default:
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, NGX_SOCKADDR_STRLEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ip->len = ngx_sock_ntop(&sa.sockaddr, r->connection->socklen, p,
                            NGX_SOCKADDR_STRLEN, 0);
    ip->data = p;

    return NGX_OK;
}


/*
 * v in lowercase hex, zero-padded to width digits; the callers' values fit
 * (a millisecond time in 48 bits until the year 10889, the rest masked)
 */

static u_char *
ngx_http_track_put_hex(u_char *p, uint64_t v, size_t width)
{
    size_t  i;

    static const u_char  hex[] = "0123456789abcdef";

    for (i = width; i-- > 0; v >>= 4) {
        p[i] = hex[v & 0xf];
    }

    return p + width;
}


/*
 * The serialiser's escaping is nginx's own; ngx_escape_json() changes only
 * '"', '\\' and bytes below 0x20, so values without them (nearly all) are
 * copied as they are, their absence checked eight bytes at a time.
 */

static size_t
ngx_http_track_escape(u_char *dst, const u_char *src, size_t len)
{
    size_t    i;
    uint64_t  w, q, b;

    for (i = 0; i + 8 <= len; i += 8) {
        ngx_memcpy(&w, src + i, 8);

        /* a zero byte in q or b, or a byte below 0x20 in w */
        q = w ^ 0x2222222222222222ULL;
        b = w ^ 0x5c5c5c5c5c5c5c5cULL;

        if ((((q - 0x0101010101010101ULL) & ~q)
             | ((b - 0x0101010101010101ULL) & ~b)
             | ((w - 0x2020202020202020ULL) & ~w))
            & 0x8080808080808080ULL)
        {
            goto escape;
        }
    }

    for ( /* void */ ; i < len; i++) {
        if (src[i] == '"' || src[i] == '\\' || src[i] < 0x20) {
            goto escape;
        }
    }

    if (dst != NULL) {
        ngx_memcpy(dst, src, len);
    }

    return len;

escape:

    if (dst == NULL) {
        return len + ngx_escape_json(NULL, (u_char *) src, len);
    }

    return (u_char *) ngx_escape_json(dst, (u_char *) src, len) - dst;
}


/* at exit: the module is unloaded next, and its memory must not leak */

void
ngx_http_track_enrich_exit(void)
{
    ngx_free(ngx_http_track_scratch);
    ngx_http_track_scratch = NULL;
    ngx_http_track_scratch_size = 0;
}
