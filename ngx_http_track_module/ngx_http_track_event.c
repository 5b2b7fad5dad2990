/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Validation and serialisation of tracking events (see the header for why
 * this file has no nginx dependency).
 */


#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "ngx_http_track_event.h"


#define NGX_HTTP_TRACK_PROP_PREFIX      "p."
#define NGX_HTTP_TRACK_PROP_PREFIX_LEN  2


const char *ngx_http_track_reject_names[] = {
    "missing_field",
    "invalid_value",
    "too_long",
    "bad_encoding",
    "duplicate_field",
    "too_many_fields",
    "invalid_json",
    "too_many_events",
    "body_too_large",
    "unsupported_media_type",
    "method_not_allowed",
    "origin_not_allowed",
    NULL
};


/* the client fields of an event, in stored order, with their kind */
typedef enum {
    NGX_HTTP_TRACK_FIELD_REQUIRED,
    NGX_HTTP_TRACK_FIELD_OPTIONAL,
    NGX_HTTP_TRACK_FIELD_ID,
    NGX_HTTP_TRACK_FIELD_TS
} ngx_http_track_field_kind_e;


typedef struct {
    const char                  *name;
    size_t                       len;     /* strlen(name), not per request */
    ngx_http_track_field_kind_e  kind;
    ngx_http_track_text_e        text;    /* the event's slot (not ts) */
} ngx_http_track_field_t;


#define ngx_http_track_field(name)  name, sizeof(name) - 1


static const ngx_http_track_field_t  ngx_http_track_fields[] = {
    { ngx_http_track_field("app"),    NGX_HTTP_TRACK_FIELD_REQUIRED,
      NGX_HTTP_TRACK_APP },
    { ngx_http_track_field("module"), NGX_HTTP_TRACK_FIELD_REQUIRED,
      NGX_HTTP_TRACK_MODULE },
    { ngx_http_track_field("action"), NGX_HTTP_TRACK_FIELD_REQUIRED,
      NGX_HTTP_TRACK_ACTION },
    { ngx_http_track_field("object"), NGX_HTTP_TRACK_FIELD_OPTIONAL,
      NGX_HTTP_TRACK_OBJECT },
    { ngx_http_track_field("uid"),    NGX_HTTP_TRACK_FIELD_OPTIONAL,
      NGX_HTTP_TRACK_UID },
    { ngx_http_track_field("ts"),     NGX_HTTP_TRACK_FIELD_TS,
      NGX_HTTP_TRACK_NTEXT },
    { ngx_http_track_field("eid"),    NGX_HTTP_TRACK_FIELD_ID,
      NGX_HTTP_TRACK_EID },
    { NULL, 0, 0, 0 }
};


static void ngx_http_track_fail(ngx_http_track_error_t *err,
    ngx_http_track_reject_e reason, const char *message, const char *field);
static const ngx_http_track_field_t *ngx_http_track_find_field(
    const u_char *name, size_t len);
static int ngx_http_track_check_text(const u_char *s, size_t len, size_t max,
    const char *field, ngx_http_track_error_t *err);
static int ngx_http_track_unescape(const u_char *src, size_t len, u_char *dst,
    size_t *dst_len);
static int ngx_http_track_parse_ts(const u_char *s, size_t len,
    int64_t *ts);
static int ngx_http_track_check_event(ngx_http_track_event_t *ev,
    ngx_http_track_error_t *err);


static void
ngx_http_track_fail(ngx_http_track_error_t *err,
    ngx_http_track_reject_e reason, const char *message, const char *field)
{
    err->reason = reason;
    err->message = message;
    err->field = field;
}


static const ngx_http_track_field_t *
ngx_http_track_find_field(const u_char *name, size_t len)
{
    const ngx_http_track_field_t  *f;

    for (f = ngx_http_track_fields; f->name; f++) {
        if (f->len == len && memcmp(f->name, name, len) == 0) {
            return f;
        }
    }

    return NULL;
}


/*
 * Decodes one UTF-8 sequence; returns its length, or 0 when it is invalid
 * (truncated, overlong, surrogate, above U+10FFFF) or a control character
 * (C0, DEL, C1), which no stored value may contain.
 */

static size_t
ngx_http_track_utf8_char(const u_char *s, size_t len)
{
    uint32_t  cp, min;
    size_t    n, i;

    if (s[0] < 0x80) {
        return (s[0] < 0x20 || s[0] == 0x7f) ? 0 : 1;
    }

    if ((s[0] & 0xe0) == 0xc0) {
        n = 2; cp = s[0] & 0x1f; min = 0x80;

    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3; cp = s[0] & 0x0f; min = 0x800;

    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4; cp = s[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)
        || (cp >= 0x80 && cp <= 0x9f))
    {
        return 0;
    }

    return n;
}


size_t
ngx_http_track_utf8_valid_prefix(const u_char *s, size_t len)
{
    size_t    i, n;
    uint64_t  w;

    for (i = 0; i < len; i += n) {
        /*
         * printable ASCII, nearly all of it, eight bytes at a time: no byte
         * below 0x20 (the borrow test) and none at 0x7f or above
         */
        if (len - i >= 8) {
            memcpy(&w, s + i, 8);

            if (((((w - 0x2020202020202020ULL) & ~w)
                  | (w + 0x0101010101010101ULL) | w)
                 & 0x8080808080808080ULL) == 0)
            {
                n = 8;
                continue;
            }
        }

        /* the same test, one byte, without the call */
        if (s[i] >= 0x20 && s[i] < 0x7f) {
            n = 1;
            continue;
        }

        n = ngx_http_track_utf8_char(s + i, len - i);
        if (n == 0) {
            break;
        }
    }

    return i;
}


static int
ngx_http_track_check_text(const u_char *s, size_t len, size_t max,
    const char *field, ngx_http_track_error_t *err)
{
    if (len > max) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_LONG,
                            "value too long", field);
        return -1;
    }

    if (ngx_http_track_utf8_valid_prefix(s, len) != len) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_BAD_ENCODING,
                            "value is not valid UTF-8 or has control "
                            "characters", field);
        return -1;
    }

    return 0;
}


static int
ngx_http_track_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* form-urlencoded decoding: '+' is a space, '%' needs two hex digits */

static int
ngx_http_track_unescape(const u_char *src, size_t len, u_char *dst,
    size_t *dst_len)
{
    size_t  i, n;
    int     hi, lo;

    for (i = 0, n = 0; i < len; i++) {

        if (src[i] == '+') {
            dst[n++] = ' ';

        } else if (src[i] == '%') {
            if (i + 2 >= len) {
                return -1;
            }

            hi = ngx_http_track_hex(src[i + 1]);
            lo = ngx_http_track_hex(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return -1;
            }

            dst[n++] = (u_char) (hi << 4 | lo);
            i += 2;

        } else {
            dst[n++] = src[i];
        }
    }

    *dst_len = n;

    return 0;
}


static int
ngx_http_track_parse_ts(const u_char *s, size_t len, int64_t *ts)
{
    int64_t     v;
    size_t      i;

    if (len == 0 || len > 16) {
        return -1;
    }

    for (i = 0, v = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    if (v > NGX_HTTP_TRACK_MAX_TS) {
        return -1;
    }

    *ts = v;

    return 0;
}


int
ngx_http_track_parse_args(const u_char *args, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_event_t *ev,
    u_char *buf, ngx_http_track_text_t *props, ngx_http_track_error_t *err)
{
    u_char                        *key, *val;
    size_t                         klen, vlen, nparams, i;
    int64_t                        ts;
    const u_char                  *p, *end, *amp, *eq;
    ngx_http_track_text_t         *t;
    const ngx_http_track_field_t  *f;

    memset(ev, 0, sizeof(ngx_http_track_event_t));
    ev->ts = -1;
    ev->props = props;

    nparams = 0;

    /* decoded keys and values follow each other in buf: never longer */
    key = buf;

    for (p = args, end = args + len; p < end; p = amp + 1) {

        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        if (amp == p) {
            continue;
        }

        if (++nparams > limits->max_params) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
                                "too many query arguments", NULL);
            return -1;
        }

        eq = memchr(p, '=', amp - p);
        if (eq == NULL) {
            eq = amp;
        }

        if (ngx_http_track_unescape(p, eq - p, key, &klen) != 0) {
            goto bad_encoding;
        }

        val = key + klen;
        vlen = 0;
        if (eq < amp
            && ngx_http_track_unescape(eq + 1, amp - eq - 1, val, &vlen) != 0)
        {
            goto bad_encoding;
        }

        f = ngx_http_track_find_field(key, klen);

        if (f != NULL) {
            if (f->kind == NGX_HTTP_TRACK_FIELD_TS
                ? ev->ts >= 0 : ev->text[f->text].data != NULL)
            {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                    "field given more than once", f->name);
                return -1;
            }

            if (f->kind == NGX_HTTP_TRACK_FIELD_TS) {
                if (ngx_http_track_parse_ts(val, vlen, &ts) != 0) {
                    ngx_http_track_fail(err,
                                        NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                        "ts must be an integer of "
                                        "milliseconds below 2^53", "ts");
                    return -1;
                }

                ev->ts = ts;
                continue;
            }

            if (ngx_http_track_check_text(val, vlen,
                                          f->kind == NGX_HTTP_TRACK_FIELD_ID
                                          ? limits->max_eid_len
                                          : limits->max_field_len,
                                          f->name, err)
                != 0)
            {
                return -1;
            }

            /* present, even when empty: a second one is a duplicate */
            ev->text[f->text].data = val;
            ev->text[f->text].len = vlen;
            key = val + vlen;
            continue;
        }

        if (klen <= NGX_HTTP_TRACK_PROP_PREFIX_LEN
            || memcmp(key, NGX_HTTP_TRACK_PROP_PREFIX,
                      NGX_HTTP_TRACK_PROP_PREFIX_LEN) != 0)
        {
            /* unknown arguments (cache busters and the like) are ignored */
            continue;
        }

        if (ngx_http_track_check_text(key + NGX_HTTP_TRACK_PROP_PREFIX_LEN,
                                      klen - NGX_HTTP_TRACK_PROP_PREFIX_LEN,
                                      limits->max_prop_name_len,
                                      "props", err)
            != 0
            || ngx_http_track_check_text(val, vlen,
                                         limits->max_prop_value_len,
                                         "props", err)
               != 0)
        {
            return -1;
        }

        klen -= NGX_HTTP_TRACK_PROP_PREFIX_LEN;
        key += NGX_HTTP_TRACK_PROP_PREFIX_LEN;

        for (i = 0; i < ev->nprops; i++) {
            t = &props[2 * i];

            if (t->len == klen && memcmp(t->data, key, klen) == 0) {
                ngx_http_track_fail(err,
                                    NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                    "property given more than once", "props");
                return -1;
            }
        }

        if (ev->nprops >= limits->max_props) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
                                "too many properties", "props");
            return -1;
        }

        t = &props[2 * ev->nprops++];
        t[0].data = key;
        t[0].len = klen;
        t[1].data = val;
        t[1].len = vlen;

        key = val + vlen;
    }

    return ngx_http_track_check_event(ev, err);

bad_encoding:

    ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_BAD_ENCODING,
                        "invalid percent-encoding in query string", NULL);
    return -1;
}


/* required fields present and not empty; empty optional ones dropped */

static int
ngx_http_track_check_event(ngx_http_track_event_t *ev,
    ngx_http_track_error_t *err)
{
    ngx_http_track_text_t         *t;
    const ngx_http_track_field_t  *f;

    for (f = ngx_http_track_fields; f->name; f++) {
        if (f->kind == NGX_HTTP_TRACK_FIELD_TS) {
            continue;
        }

        t = &ev->text[f->text];

        if (t->data != NULL && t->len == 0) {
            if (f->kind == NGX_HTTP_TRACK_FIELD_REQUIRED) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_MISSING_FIELD,
                                    "required field is empty", f->name);
                return -1;
            }

            t->data = NULL;
            continue;
        }

        if (t->data == NULL && f->kind == NGX_HTTP_TRACK_FIELD_REQUIRED) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_MISSING_FIELD,
                                "required field is missing", f->name);
            return -1;
        }
    }

    return 0;
}


static int
ngx_http_track_json_event(json_t *in, ngx_http_track_event_t *ev,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err)
{
    char                          *num;
    size_t                         len;
    json_t                        *v, *props, *pv;
    const char                    *key;
    ngx_http_track_text_t         *t;
    const ngx_http_track_field_t  *f;

    if (!json_is_object(in)) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                            "an event must be a JSON object", NULL);
        return -1;
    }

    memset(ev, 0, sizeof(ngx_http_track_event_t));
    ev->ts = -1;

    for (f = ngx_http_track_fields; f->name; f++) {
        v = json_object_get(in, f->name);

        /* scripts send null for "none", e.g. the uid of a logged-out user */
        if (v == NULL || json_is_null(v)) {
            continue;
        }

        if (f->kind == NGX_HTTP_TRACK_FIELD_TS) {
            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) > NGX_HTTP_TRACK_MAX_TS)
            {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                    "ts must be an integer of milliseconds "
                                    "below 2^53", "ts");
                return -1;
            }

            ev->ts = json_integer_value(v);
            continue;
        }

        t = &ev->text[f->text];

        if (json_is_integer(v) && f->kind == NGX_HTTP_TRACK_FIELD_OPTIONAL) {
            /*
             * numeric ids are common in JS clients; stored as their text,
             * which must respect the limit like any other value (up to 20
             * bytes, over a track_max_field_length below that)
             */
            num = ev->num[f->text == NGX_HTTP_TRACK_UID];
            len = snprintf(num, sizeof(ev->num[0]), "%lld",
                           (long long) json_integer_value(v));

            if (len > limits->max_field_len) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_LONG,
                                    "value too long", f->name);
                return -1;
            }

            t->data = (u_char *) num;
            t->len = len;
            continue;
        }

        if (!json_is_string(v)) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                f->kind == NGX_HTTP_TRACK_FIELD_OPTIONAL
                                ? "field must be a string or an integer"
                                : "field must be a string",
                                f->name);
            return -1;
        }

        t->data = (u_char *) json_string_value(v);
        t->len = json_string_length(v);

        if (ngx_http_track_check_text(t->data, t->len,
                                      f->kind == NGX_HTTP_TRACK_FIELD_ID
                                      ? limits->max_eid_len
                                      : limits->max_field_len,
                                      f->name, err)
            != 0)
        {
            return -1;
        }
    }

    props = json_object_get(in, "props");

    if (props != NULL && !json_is_null(props)) {

        if (!json_is_object(props)) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                "props must be a flat JSON object", "props");
            return -1;
        }

        if (json_object_size(props) > limits->max_props) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
                                "too many properties", "props");
            return -1;
        }

        json_object_foreach(props, key, pv) {

            if (ngx_http_track_check_text((u_char *) key, strlen(key),
                                          limits->max_prop_name_len,
                                          "props", err)
                != 0)
            {
                return -1;
            }

            if (json_is_string(pv)) {
                if (ngx_http_track_check_text((u_char *) json_string_value(pv),
                                              json_string_length(pv),
                                              limits->max_prop_value_len,
                                              "props", err)
                    != 0)
                {
                    return -1;
                }

            } else if (json_is_object(pv) || json_is_array(pv)) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                    "property values must be strings, "
                                    "numbers, booleans or null", "props");
                return -1;
            }
        }

        if (json_object_size(props)) {
            ev->props_json = props;
        }
    }

    return ngx_http_track_check_event(ev, err);
}


int
ngx_http_track_parse_json(const u_char *body, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_events_t *out,
    ngx_http_track_error_t *err)
{
    size_t        i, n;
    json_t       *root;
    json_error_t  jerr;

    out->events = NULL;
    out->nevents = 0;

    root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, &jerr);
    out->root = root;

    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_duplicate_key) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                "duplicate key in JSON object", NULL);
            return -1;
        }

        /* well-formed JSON, but a number no field can hold (1e400, 2^64) */
        if (json_error_code(&jerr) == json_error_numeric_overflow) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                "number out of range", NULL);
            return -1;
        }

        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                            "body is not valid JSON", NULL);
        return -1;
    }

    n = json_is_array(root) ? json_array_size(root) : 1;

    if (n == 0) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                            "empty array of events", NULL);
        goto failed;
    }

    if (n > limits->max_events) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_EVENTS,
                            "too many events in one request", NULL);
        goto failed;
    }

    out->events = malloc(n * sizeof(ngx_http_track_event_t));
    if (out->events == NULL) {
        ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_EVENTS,
                            "out of memory", NULL);
        goto failed;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_track_json_event(json_is_array(root)
                                      ? json_array_get(root, i) : root,
                                      &out->events[i], limits, err)
            != 0)
        {
            goto failed;
        }
    }

    out->nevents = n;

    return 0;

failed:

    ngx_http_track_events_free(out);

    return -1;
}


void
ngx_http_track_events_free(ngx_http_track_events_t *events)
{
    free(events->events);
    json_decref(events->root);

    events->events = NULL;
    events->nevents = 0;
    events->root = NULL;
}


/* the stored form is written through this: it stops at the buffer's end */

typedef struct {
    u_char                         *p;
    u_char                         *end;
    const ngx_http_track_enrich_t  *enrich;
    int                             full;
} ngx_http_track_writer_t;


static void
ngx_http_track_put(ngx_http_track_writer_t *w, const void *data, size_t len)
{
    if (w->full || (size_t) (w->end - w->p) < len) {
        w->full = 1;
        return;
    }

    memcpy(w->p, data, len);
    w->p += len;
}


/* bytes that are valid, control-free UTF-8, escaped for a JSON string */

static void
ngx_http_track_put_escaped(ngx_http_track_writer_t *w, const u_char *s,
    size_t len)
{
    size_t  n;

    /* a byte escapes to six at most ("\u001f"): count near the end only */
    n = (size_t) (w->end - w->p) / 6 >= len
        ? len : w->enrich->escape(NULL, s, len);

    if (w->full || (size_t) (w->end - w->p) < n) {
        w->full = 1;
        return;
    }

    w->p += w->enrich->escape(w->p, s, len);
}


static void
ngx_http_track_put_string(ngx_http_track_writer_t *w, const u_char *s,
    size_t len)
{
    ngx_http_track_put(w, "\"", 1);
    ngx_http_track_put_escaped(w, s, len);
    ngx_http_track_put(w, "\"", 1);
}


/*
 * sep "name": where sep is ',' or the '{' opening a nested object.  Names
 * are ours or track_field's (letters, digits, '_', '-', '.'): nothing to
 * escape, so they are copied as they are.
 */

static void
ngx_http_track_put_key(ngx_http_track_writer_t *w, const char *sep,
    const char *name, size_t len)
{
    u_char  *p;

    if (w->full || (size_t) (w->end - w->p) < len + 4) {
        w->full = 1;
        return;
    }

    p = w->p;
    *p++ = (u_char) *sep;
    *p++ = '"';
    memcpy(p, name, len);
    p += len;
    *p++ = '"';
    *p++ = ':';
    w->p = p;
}


/*
 * Header values are not the client's fields: they are kept, but bytes that
 * are not valid control-free UTF-8 become U+FFFD and the value is cut at max
 * bytes on a character boundary.
 */

static void
ngx_http_track_put_sanitised(ngx_http_track_writer_t *w, const char *sep,
    const char *name, const u_char *data, size_t len, size_t max)
{
    size_t  i, n, run, kept;

    static const u_char  replacement[] = "\xef\xbf\xbd";

    if (data == NULL || len == 0) {
        return;
    }

    ngx_http_track_put_key(w, sep, name, strlen(name));
    ngx_http_track_put(w, "\"", 1);

    /* runs of valid characters go out escaped, each bad byte replaced */
    kept = 0;
    i = 0;

    for ( ;; ) {
        run = i;

        /* the longest valid run that fits */
        n = len - i < max - kept ? len - i : max - kept;
        i += ngx_http_track_utf8_valid_prefix(data + i, n);

        ngx_http_track_put_escaped(w, data + run, i - run);
        kept += i - run;

        if (i == len || ngx_http_track_utf8_char(data + i, len - i) != 0
            || kept + sizeof(replacement) - 1 > max)
        {
            /* the end, or the next character is over the limit */
            break;
        }

        ngx_http_track_put(w, replacement, sizeof(replacement) - 1);
        kept += sizeof(replacement) - 1;
        i++;
    }

    ngx_http_track_put(w, "\"", 1);
}


/* what "%lld" prints, without printf's cost on every request */

static void
ngx_http_track_put_int(ngx_http_track_writer_t *w, int64_t n)
{
    u_char    num[24], *p;
    uint64_t  u;

    p = num + sizeof(num);
    u = n < 0 ? 0 - (uint64_t) n : (uint64_t) n;

    do {
        *--p = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (n < 0) {
        *--p = '-';
    }

    ngx_http_track_put(w, p, num + sizeof(num) - p);
}


size_t
ngx_http_track_serialize(const ngx_http_track_event_t *ev,
    const ngx_http_track_enrich_t *enrich, u_char *buf, size_t size)
{
    size_t                         i, n, max;
    const ngx_http_track_text_t   *t;
    const ngx_http_track_field_t  *f;
    ngx_http_track_writer_t        w;

    w.p = buf;
    w.end = buf + size;
    w.enrich = enrich;
    w.full = 0;

    t = &ev->text[NGX_HTTP_TRACK_EID];

    ngx_http_track_put(&w, "{\"eid\":", sizeof("{\"eid\":") - 1);

    if (t->data) {
        ngx_http_track_put_string(&w, t->data, t->len);

    } else {
        ngx_http_track_put_string(&w, (const u_char *) enrich->eid,
                                  strlen(enrich->eid));
    }

    ngx_http_track_put_key(&w, ",", "recv_ts", sizeof("recv_ts") - 1);
    ngx_http_track_put_int(&w, enrich->recv_ts);

    for (f = ngx_http_track_fields; f->name; f++) {
        if (f->kind == NGX_HTTP_TRACK_FIELD_ID) {
            continue;
        }

        if (f->kind == NGX_HTTP_TRACK_FIELD_TS) {
            if (ev->ts >= 0) {
                ngx_http_track_put_key(&w, ",", "ts", sizeof("ts") - 1);
                ngx_http_track_put_int(&w, ev->ts);
            }

            continue;
        }

        t = &ev->text[f->text];

        if (t->data) {
            ngx_http_track_put_key(&w, ",", f->name, f->len);
            ngx_http_track_put_string(&w, t->data, t->len);
        }
    }

    /*
     * the address is not a header: track_max_header_length does not apply
     * (a small one would cut IPv6 addresses), the column's width does
     */
    ngx_http_track_put_sanitised(&w, ",", "ip", enrich->ip.data, enrich->ip.len,
                                 NGX_HTTP_TRACK_IP_MAX);

    /* a track_max_header_length over the width of their columns is cut */
    max = enrich->max_header_len < NGX_HTTP_TRACK_TEXT_MAX
          ? enrich->max_header_len : NGX_HTTP_TRACK_TEXT_MAX;

    ngx_http_track_put_sanitised(&w, ",", "ua", enrich->ua.data, enrich->ua.len,
                                 max);
    ngx_http_track_put_sanitised(&w, ",", "referer", enrich->referer.data,
                                 enrich->referer.len, max);

    if (ev->nprops) {
        ngx_http_track_put_key(&w, ",", "props", sizeof("props") - 1);

        for (i = 0; i < ev->nprops; i++) {
            t = &ev->props[2 * i];
            ngx_http_track_put(&w, i ? "," : "{", 1);
            ngx_http_track_put_string(&w, t[0].data, t[0].len);
            ngx_http_track_put(&w, ":", 1);
            ngx_http_track_put_string(&w, t[1].data, t[1].len);
        }

        ngx_http_track_put(&w, "}", 1);

    } else if (ev->props_json) {
        ngx_http_track_put_key(&w, ",", "props", sizeof("props") - 1);

        /* numbers, booleans and null as the client sent them */
        n = w.full ? 0 : json_dumpb(ev->props_json, (char *) w.p,
                                    w.end - w.p, JSON_COMPACT);
        if (n == 0 || n > (size_t) (w.end - w.p)) {
            w.full = 1;

        } else {
            w.p += n;
        }
    }

    for (i = 0, n = 0; i < enrich->nfields; i++) {
        if (enrich->fields[i].len == 0) {
            continue;
        }

        if (n++ == 0) {
            ngx_http_track_put_key(&w, ",", "fields", sizeof("fields") - 1);
        }

        ngx_http_track_put_sanitised(&w, n == 1 ? "{" : ",",
                                     enrich->fields[i].name,
                                     enrich->fields[i].data,
                                     enrich->fields[i].len,
                                     enrich->max_header_len);
    }

    if (n) {
        ngx_http_track_put(&w, "}", 1);
    }

    ngx_http_track_put(&w, "}", 1);

    return w.full ? 0 : (size_t) (w.p - buf);
}
