/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: the HTTP side: routing, methods, bearer token, cache headers,
 * on top of libmicrohttpd. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/date.h"
#include "common/log.h"
#include "common/rc.h"

#include "http.h"
#include "metrics.h"
#include "params.h"
#include "query.h"


static struct MHD_Daemon            *daemon_handle;
static const tc_http_config_t       *conf;
static tc_pool_t                    *db_pool;

static pthread_rwlock_t              token_lock = PTHREAD_RWLOCK_INITIALIZER;
static char                         *token;

/* marks a request whose headers were seen; the answer comes on the next
 * call, after any body */
static int                           request_seen;


tc_rc_t
tc_http_set_token(const char *t)
{
    char  *copy = NULL, *old;

    if (t != NULL && t[0] != '\0') {
        copy = strdup(t);
        if (copy == NULL) {
            return TC_ERROR;
        }
    }

    pthread_rwlock_wrlock(&token_lock);
    old = token;
    token = copy;
    pthread_rwlock_unlock(&token_lock);

    free(old);
    return TC_OK;
}


/* Time depends on the length of what the client sent, never on where the
 * bytes of the secret differ. */
int
tc_token_equal(const char *given, size_t given_len, const char *secret,
    size_t secret_len)
{
    size_t         i;
    unsigned char  diff;

    if (secret_len == 0) {
        return 0;
    }

    diff = given_len != secret_len;
    for (i = 0; i < given_len; i++) {
        diff |= (unsigned char) (given[i] ^ secret[i % secret_len]);
    }

    return diff == 0;
}


int
tc_bearer_ok(const char *header, const char *secret)
{
    const char  *p, *end;

    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0) {
        return 0;
    }

    p = header + 7;
    while (*p == ' ') {
        p++;
    }

    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    return tc_token_equal(p, (size_t) (end - p), secret, strlen(secret));
}


/* FNV-1a, 64 bits: cheap, and enough to tell two bodies apart. */
void
tc_etag(const char *body, size_t len, char out[19])
{
    uint64_t  h = 0xcbf29ce484222325ULL;
    size_t    i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) body[i];
        h *= 0x100000001b3ULL;
    }

    snprintf(out, 19, "\"%016llx\"", (unsigned long long) h);
}


tc_rc_t
tc_etag_matches(const char *inm, const char *etag)
{
    const char  *p;
    size_t       n;

    if (inm == NULL) {
        return 0;
    }

    n = strlen(etag);

    for (p = inm; *p != '\0'; ) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }

        if (*p == '*') {
            return 1;
        }

        if (strncmp(p, "W/", 2) == 0) {
            p += 2;             /* weak comparison, RFC 9110 13.1.2 */
        }

        if (strncmp(p, etag, n) == 0
            && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
        {
            return 1;
        }

        while (*p != '\0' && *p != ',') {
            p++;
        }
    }

    return 0;
}


static void
add_common_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}


static enum MHD_Result
send_typed(struct MHD_Connection *conn, unsigned status, const char *type,
    char *body, size_t len, const char *cache_control, const char *etag)
{
    enum MHD_Result       ret;
    struct MHD_Response  *r;

    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }

    add_common_headers(r, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    if (etag != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    }

    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }

    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"track-stats\"");
    }

    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);

    tc_log_debug("-> %u, %zu bytes", status, len);

    return ret;
}


static enum MHD_Result
send_body(struct MHD_Connection *conn, unsigned status, char *body,
    size_t len, const char *cache_control, const char *etag)
{
    return send_typed(conn, status, "application/json; charset=utf-8", body,
                      len, cache_control, etag);
}


/* The JSON text of o plus a newline, in a malloc'ed buffer. */
static char *
dump(json_t *o, size_t *len)
{
    char  *s, *t;

    s = json_dumps(o, JSON_COMPACT);
    if (s == NULL) {
        return NULL;
    }

    *len = strlen(s);
    t = realloc(s, *len + 2);
    if (t == NULL) {
        free(s);
        return NULL;
    }

    t[(*len)++] = '\n';
    t[*len] = '\0';

    return t;
}


static enum MHD_Result
send_error(struct MHD_Connection *conn, const tc_error_t *err)
{
    char    *body;
    size_t   len;
    json_t  *o;

    o = json_pack("{ssss}", "error", err->code, "message", err->message);
    body = o != NULL ? dump(o, &len) : NULL;
    json_decref(o);

    if (body == NULL) {
        return MHD_NO;
    }

    return send_body(conn, (unsigned) err->status, body, len, "no-store",
                     NULL);
}


static enum MHD_Result
send_not_modified(struct MHD_Connection *conn, const char *cache_control,
    const char *etag)
{
    enum MHD_Result       ret;
    struct MHD_Response  *r;

    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }

    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);

    ret = MHD_queue_response(conn, MHD_HTTP_NOT_MODIFIED, r);
    MHD_destroy_response(r);

    return ret;
}


typedef struct {
    tc_arg_t       a[TC_MAX_ARGS + 1];
    int            n;
} tc_args_t;


static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
    tc_args_t    *args = cls;

    (void) kind;
    (void) key_size;

    if (args->n == TC_MAX_ARGS + 1) {
        return MHD_NO;          /* one too many is enough to refuse */
    }

    args->a[args->n].key = key;
    args->a[args->n].value = value;
    args->a[args->n].len = value != NULL ? value_size : 0;
    args->n++;

    return MHD_YES;
}


static int
is_closed(const tc_request_t *req)
{
    return req->endpoint != TC_EP_HEALTH && req->to < req->closed_before;
}


static enum MHD_Result
handle(struct MHD_Connection *conn, int endpoint)
{
    int                 authed, closed, private;
    char               *body, etag[19], cc[64];
    size_t              len;
    json_t             *o;
    const char         *auth;
    tc_args_t           args;
    tc_conn_t          *c;
    tc_error_t          err;
    tc_request_t        req;

    /* the bearer token, when one is configured; health stays open */
    pthread_rwlock_rdlock(&token_lock);
    private = token != NULL;
    authed = token == NULL || endpoint == TC_EP_HEALTH;
    if (!authed) {
        auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_AUTHORIZATION);
        authed = tc_bearer_ok(auth, token);
    }
    pthread_rwlock_unlock(&token_lock);

    if (!authed) {
        tc_set_error(&err, 401, "unauthorized",
                     "a valid bearer token is required");
        return send_error(conn, &err);
    }

    args.n = 0;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_arg,
                                &args);

    if (tc_parse_request(endpoint, args.a, args.n, &conf->limits, &req, &err)
        != TC_OK)
    {
        return send_error(conn, &err);
    }

    /* yesterday is closed --settle seconds after midnight */
    req.closed_before = tc_days_local(time(NULL) - (time_t) conf->settle);

    c = tc_pool_acquire(db_pool, conf->acquire_timeout_ms);
    if (c == NULL) {
        tc_log_warn("no free database connection within %u ms",
                    conf->acquire_timeout_ms);
        tc_set_error(&err, 503, "unavailable", "the service is overloaded");
        return send_error(conn, &err);
    }

    if (endpoint == TC_EP_METRICS) {
        body = tc_metrics_run(db_pool, c, &len, &err);
        tc_pool_release(db_pool, c);

        if (body == NULL) {
            return send_error(conn, &err);
        }

        /* Prometheus' text exposition format */
        return send_typed(conn, MHD_HTTP_OK,
                          "text/plain; version=0.0.4; charset=utf-8", body,
                          len, "no-store", NULL);
    }

    o = tc_query_run(db_pool, c, &req, &err);
    tc_pool_release(db_pool, c);

    if (o == NULL) {
        return send_error(conn, &err);
    }

    body = dump(o, &len);
    json_decref(o);
    if (body == NULL) {
        return MHD_NO;
    }

    closed = is_closed(&req);

    if (!closed) {
        if (conf->open_max_age == 0) {
            return send_body(conn, MHD_HTTP_OK, body, len, "no-store", NULL);
        }
        snprintf(cc, sizeof(cc), "%s, max-age=%u",
                 private ? "private" : "public", conf->open_max_age);
        return send_body(conn, MHD_HTTP_OK, body, len, cc, NULL);
    }

    /* a shared cache must not hand a token-protected answer to anyone */
    snprintf(cc, sizeof(cc), "%s, max-age=%u",
             private ? "private" : "public", conf->closed_max_age);
    tc_etag(body, len, etag);

    if (tc_etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_IF_NONE_MATCH),
                        etag))
    {
        free(body);
        return send_not_modified(conn, cc, etag);
    }

    return send_body(conn, MHD_HTTP_OK, body, len, cc, etag);
}


static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
    int              endpoint;
    tc_error_t       err;

    (void) cls;
    (void) version;
    (void) upload_data;

    if (*req_cls == NULL) {
        *req_cls = &request_seen;
        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        *upload_data_size = 0;  /* a body is never used: drop it */
        return MHD_YES;
    }

    tc_log_debug("%s %s", method, url);

    endpoint = tc_endpoint_by_path(conf->prefix, url);
    if (endpoint == TC_EP_NONE) {
        tc_set_error(&err, 404, "not_found", "no such endpoint");
        return send_error(conn, &err);
    }

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
        && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    {
        tc_set_error(&err, 405, "method_not_allowed",
                     "only GET and HEAD are allowed");
        return send_error(conn, &err);
    }

    return handle(conn, endpoint);
}


/* libmicrohttpd's messages, at most MHD_LOG_BURST per second: a flood at
 * the connection limit would otherwise log one line per refused client. */
#define MHD_LOG_BURST  10

static pthread_mutex_t  mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t           mhd_log_second;
static unsigned         mhd_log_count, mhd_log_dropped;


static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char      buf[512];
    size_t    n;
    time_t    now;
    unsigned  dropped = 0;

    (void) cls;

    now = time(NULL);

    pthread_mutex_lock(&mhd_log_lock);
    if (now != mhd_log_second) {
        mhd_log_second = now;
        mhd_log_count = 0;
    }
    if (mhd_log_count++ >= MHD_LOG_BURST) {
        mhd_log_dropped++;
        pthread_mutex_unlock(&mhd_log_lock);
        return;
    }
    dropped = mhd_log_dropped;
    mhd_log_dropped = 0;
    pthread_mutex_unlock(&mhd_log_lock);

    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    }

    if (dropped) {
        tc_log_warn("libmicrohttpd: %s (and %u more messages)", buf, dropped);
    } else {
        tc_log_warn("libmicrohttpd: %s", buf);
    }
}


/* libmicrohttpd's decoding of the URL and its arguments, replaced */
static size_t
unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void) cls;
    (void) c;

    return tc_unescape(s);
}


int
tc_http_start(const tc_http_config_t *cfg, tc_pool_t *pool)
{
    conf = cfg;
    db_pool = pool;

    daemon_handle = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
        0, NULL, NULL,
        access_handler, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, cfg->addr,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_END);

    return daemon_handle != NULL ? TC_OK : TC_ERROR;
}


void
tc_http_stop(void)
{
    if (daemon_handle != NULL) {
        MHD_stop_daemon(daemon_handle);
        daemon_handle = NULL;
    }
}
