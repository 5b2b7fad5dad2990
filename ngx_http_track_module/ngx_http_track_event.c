
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
    ngx_http_track_field_kind_e  kind;
} ngx_http_track_field_t;


static const ngx_http_track_field_t  ngx_http_track_fields[] = {
    { "app",    NGX_HTTP_TRACK_FIELD_REQUIRED },
    { "module", NGX_HTTP_TRACK_FIELD_REQUIRED },
    { "action", NGX_HTTP_TRACK_FIELD_REQUIRED },
    { "object", NGX_HTTP_TRACK_FIELD_OPTIONAL },
    { "uid",    NGX_HTTP_TRACK_FIELD_OPTIONAL },
    { "ts",     NGX_HTTP_TRACK_FIELD_TS },
    { "eid",    NGX_HTTP_TRACK_FIELD_ID },
    { NULL, 0 }
};


static json_t *ngx_http_track_fail(ngx_http_track_error_t *err,
    ngx_http_track_reject_e reason, const char *message, const char *field);
static const ngx_http_track_field_t *ngx_http_track_find_field(
    const u_char *name, size_t len);
static int ngx_http_track_check_text(const u_char *s, size_t len, size_t max,
    const char *field, ngx_http_track_error_t *err);
static int ngx_http_track_unescape(const u_char *src, size_t len, u_char *dst,
    size_t *dst_len);
static int ngx_http_track_parse_ts(const u_char *s, size_t len,
    json_int_t *ts);
static int ngx_http_track_check_event(json_t *event,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err);
static json_t *ngx_http_track_normalise_event(json_t *in,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err);
static int ngx_http_track_set_sanitised(json_t *obj, const char *key,
    const u_char *data, size_t len, size_t max);


static json_t *
ngx_http_track_fail(ngx_http_track_error_t *err,
    ngx_http_track_reject_e reason, const char *message, const char *field)
{
    err->reason = reason;
    err->message = message;
    err->field = field;

    return NULL;
}


static const ngx_http_track_field_t *
ngx_http_track_find_field(const u_char *name, size_t len)
{
    const ngx_http_track_field_t  *f;

    for (f = ngx_http_track_fields; f->name; f++) {
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) {
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
    size_t  i, n;

    for (i = 0; i < len; i += n) {
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
ngx_http_track_parse_ts(const u_char *s, size_t len, json_int_t *ts)
{
    json_int_t  v;
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


json_t *
ngx_http_track_parse_args(const u_char *args, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err)
{
    u_char                        *buf, *key, *val;
    size_t                         klen, vlen, nparams;
    json_int_t                     ts;
    const u_char                  *p, *end, *amp, *eq;
    json_t                        *event, *props, *events;
    const ngx_http_track_field_t  *f;

    /*
     * a decoded key and value are never longer than the query string; one
     * byte between them holds the key's terminating NUL
     */
    buf = malloc(len + 2);
    if (buf == NULL) {
        return ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_LONG,
                                   "out of memory", NULL);
    }

    event = json_object();
    props = json_object();
    nparams = 0;

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
            goto failed;
        }

        eq = memchr(p, '=', amp - p);
        if (eq == NULL) {
            eq = amp;
        }

        key = buf;
        if (ngx_http_track_unescape(p, eq - p, key, &klen) != 0) {
            goto bad_encoding;
        }

        val = key + klen + 1;
        vlen = 0;
        if (eq < amp
            && ngx_http_track_unescape(eq + 1, amp - eq - 1, val, &vlen) != 0)
        {
            goto bad_encoding;
        }

        f = ngx_http_track_find_field(key, klen);

        if (f != NULL) {
            if (json_object_get(event, f->name) != NULL) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                    "field given more than once", f->name);
                goto failed;
            }

            if (f->kind == NGX_HTTP_TRACK_FIELD_TS) {
                if (ngx_http_track_parse_ts(val, vlen, &ts) != 0) {
                    ngx_http_track_fail(err,
                                        NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                        "ts must be an integer of "
                                        "milliseconds below 2^53", "ts");
                    goto failed;
                }
                json_object_set_new(event, "ts", json_integer(ts));
                continue;
            }

            if (ngx_http_track_check_text(val, vlen,
                                          f->kind == NGX_HTTP_TRACK_FIELD_ID
                                          ? limits->max_eid_len
                                          : limits->max_field_len,
                                          f->name, err)
                != 0)
            {
                goto failed;
            }

            json_object_set_new(event, f->name,
                                json_stringn((char *) val, vlen));
            continue;
        }

        if (klen <= NGX_HTTP_TRACK_PROP_PREFIX_LEN
            || memcmp(key, NGX_HTTP_TRACK_PROP_PREFIX,
                      NGX_HTTP_TRACK_PROP_PREFIX_LEN) != 0)
        {
            /* unknown arguments (cache busters and the like) are ignored */
            continue;
        }

        key += NGX_HTTP_TRACK_PROP_PREFIX_LEN;
        klen -= NGX_HTTP_TRACK_PROP_PREFIX_LEN;

        if (ngx_http_track_check_text(key, klen, limits->max_prop_name_len,
                                      "props", err)
            != 0
            || ngx_http_track_check_text(val, vlen,
                                         limits->max_prop_value_len,
                                         "props", err)
               != 0)
        {
            goto failed;
        }

        /* jansson keys are NUL-terminated; check_text refused NUL bytes */
        key[klen] = '\0';

        if (json_object_get(props, (char *) key) != NULL) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                "property given more than once", "props");
            goto failed;
        }

        if (json_object_size(props) >= limits->max_props) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
                                "too many properties", "props");
            goto failed;
        }

        json_object_set_new(props, (char *) key,
                            json_stringn((char *) val, vlen));
    }

    free(buf);

    if (json_object_size(props)) {
        json_object_set(event, "props", props);
    }

    json_decref(props);

    if (ngx_http_track_check_event(event, limits, err) != 0) {
        json_decref(event);
        return NULL;
    }

    events = json_array();
    json_array_append_new(events, event);

    return events;

bad_encoding:

    ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_BAD_ENCODING,
                        "invalid percent-encoding in query string", NULL);

failed:

    free(buf);
    json_decref(props);
    json_decref(event);

    return NULL;
}


/* required fields present and not empty; empty optional ones dropped */

static int
ngx_http_track_check_event(json_t *event,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err)
{
    json_t                        *v;
    const ngx_http_track_field_t  *f;

    (void) limits;

    for (f = ngx_http_track_fields; f->name; f++) {
        v = json_object_get(event, f->name);

        if (v != NULL && json_is_string(v) && json_string_length(v) == 0) {
            if (f->kind == NGX_HTTP_TRACK_FIELD_REQUIRED) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_MISSING_FIELD,
                                    "required field is empty", f->name);
                return -1;
            }

            json_object_del(event, f->name);
            continue;
        }

        if (v == NULL && f->kind == NGX_HTTP_TRACK_FIELD_REQUIRED) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_MISSING_FIELD,
                                "required field is missing", f->name);
            return -1;
        }
    }

    return 0;
}


static json_t *
ngx_http_track_normalise_event(json_t *in,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err)
{
    char                           num[24];
    size_t                         len;
    json_t                        *event, *v, *props, *pv;
    json_int_t                     n;
    const char                    *key;
    const ngx_http_track_field_t  *f;

    if (!json_is_object(in)) {
        return ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                                   "an event must be a JSON object", NULL);
    }

    event = json_object();

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
                goto failed;
            }

            json_object_set(event, "ts", v);
            continue;
        }

        if (json_is_integer(v) && f->kind == NGX_HTTP_TRACK_FIELD_OPTIONAL) {
            /*
             * numeric ids are common in JS clients; stored as their text,
             * which must respect the limit like any other value (up to 20
             * bytes, over a track_max_field_length below that)
             */
            n = json_integer_value(v);
            len = snprintf(num, sizeof(num), "%lld", (long long) n);

            if (len > limits->max_field_len) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_LONG,
                                    "value too long", f->name);
                goto failed;
            }

            json_object_set_new(event, f->name, json_stringn(num, len));
            continue;
        }

        if (!json_is_string(v)) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                "field must be a string", f->name);
            goto failed;
        }

        if (ngx_http_track_check_text((u_char *) json_string_value(v),
                                      json_string_length(v),
                                      f->kind == NGX_HTTP_TRACK_FIELD_ID
                                      ? limits->max_eid_len
                                      : limits->max_field_len,
                                      f->name, err)
            != 0)
        {
            goto failed;
        }

        json_object_set(event, f->name, v);
    }

    props = json_object_get(in, "props");

    if (props != NULL && !json_is_null(props)) {

        if (!json_is_object(props)) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                "props must be a flat JSON object", "props");
            goto failed;
        }

        if (json_object_size(props) > limits->max_props) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
                                "too many properties", "props");
            goto failed;
        }

        json_object_foreach(props, key, pv) {

            if (ngx_http_track_check_text((u_char *) key, strlen(key),
                                          limits->max_prop_name_len,
                                          "props", err)
                != 0)
            {
                goto failed;
            }

            if (json_is_string(pv)) {
                if (ngx_http_track_check_text((u_char *) json_string_value(pv),
                                              json_string_length(pv),
                                              limits->max_prop_value_len,
                                              "props", err)
                    != 0)
                {
                    goto failed;
                }

            } else if (json_is_object(pv) || json_is_array(pv)) {
                ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                    "property values must be strings, "
                                    "numbers, booleans or null", "props");
                goto failed;
            }
        }

        if (json_object_size(props)) {
            json_object_set(event, "props", props);
        }
    }

    if (ngx_http_track_check_event(event, limits, err) != 0) {
        goto failed;
    }

    return event;

failed:

    json_decref(event);

    return NULL;
}


json_t *
ngx_http_track_parse_json(const u_char *body, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err)
{
    size_t        i;
    json_t       *root, *events, *event;
    json_error_t  jerr;

    root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_duplicate_key) {
            return ngx_http_track_fail(err,
                                       NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
                                       "duplicate key in JSON object", NULL);
        }

        /* well-formed JSON, but a number no field can hold (1e400, 2^64) */
        if (json_error_code(&jerr) == json_error_numeric_overflow) {
            return ngx_http_track_fail(err,
                                       NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
                                       "number out of range", NULL);
        }

        return ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                                   "body is not valid JSON", NULL);
    }

    events = json_array();

    if (json_is_array(root)) {

        if (json_array_size(root) == 0) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_INVALID_JSON,
                                "empty array of events", NULL);
            goto failed;
        }

        if (json_array_size(root) > limits->max_events) {
            ngx_http_track_fail(err, NGX_HTTP_TRACK_REJECT_TOO_MANY_EVENTS,
                                "too many events in one request", NULL);
            goto failed;
        }

        for (i = 0; i < json_array_size(root); i++) {
            event = ngx_http_track_normalise_event(json_array_get(root, i),
                                                   limits, err);
            if (event == NULL) {
                goto failed;
            }

            json_array_append_new(events, event);
        }

    } else {
        event = ngx_http_track_normalise_event(root, limits, err);
        if (event == NULL) {
            goto failed;
        }

        json_array_append_new(events, event);
    }

    json_decref(root);

    return events;

failed:

    json_decref(root);
    json_decref(events);

    return NULL;
}


const char *
ngx_http_track_event_eid(json_t *event)
{
    return json_string_value(json_object_get(event, "eid"));
}


/*
 * Header values are not the client's fields: they are kept, but bytes that
 * are not valid control-free UTF-8 become U+FFFD and the value is cut at max
 * bytes on a character boundary.
 */

static int
ngx_http_track_set_sanitised(json_t *obj, const char *key, const u_char *data,
    size_t len, size_t max)
{
    u_char  *out;
    size_t   i, n, o;
    int      rc;

    if (data == NULL || len == 0) {
        return 0;
    }

    out = malloc(max + 1);
    if (out == NULL) {
        return -1;
    }

    for (i = 0, o = 0; i < len; i += n) {
        n = ngx_http_track_utf8_char(data + i, len - i);

        if (n == 0) {
            if (o + 3 > max) {
                break;
            }
            out[o++] = 0xef; out[o++] = 0xbf; out[o++] = 0xbd;
            n = 1;
            continue;
        }

        if (o + n > max) {
            break;
        }

        memcpy(out + o, data + i, n);
        o += n;
    }

    rc = json_object_set_new(obj, key, json_stringn((char *) out, o));
    free(out);

    return rc;
}


size_t
ngx_http_track_serialize(json_t *event, const ngx_http_track_enrich_t *enrich,
    char *buf, size_t size)
{
    size_t                         n, i, max;
    json_t                        *out, *v, *fields;
    const ngx_http_track_field_t  *f;

    out = json_object();

    v = json_object_get(event, "eid");
    json_object_set_new(out, "eid", v ? json_copy(v)
                                      : json_string(enrich->eid));
    json_object_set_new(out, "recv_ts", json_integer(enrich->recv_ts));

    for (f = ngx_http_track_fields; f->name; f++) {
        if (f->kind == NGX_HTTP_TRACK_FIELD_ID) {
            continue;
        }

        v = json_object_get(event, f->name);
        if (v != NULL) {
            json_object_set(out, f->name, v);
        }
    }

    /*
     * the address is not a header: track_max_header_length does not apply
     * (a small one would cut IPv6 addresses), the column's width does
     */
    ngx_http_track_set_sanitised(out, "ip", enrich->ip.data, enrich->ip.len,
                                 NGX_HTTP_TRACK_IP_MAX);

    /* a track_max_header_length over the width of their columns is cut */
    max = enrich->max_header_len < NGX_HTTP_TRACK_TEXT_MAX
          ? enrich->max_header_len : NGX_HTTP_TRACK_TEXT_MAX;

    ngx_http_track_set_sanitised(out, "ua", enrich->ua.data, enrich->ua.len,
                                 max);
    ngx_http_track_set_sanitised(out, "referer", enrich->referer.data,
                                 enrich->referer.len, max);

    v = json_object_get(event, "props");
    if (v != NULL) {
        json_object_set(out, "props", v);
    }

    if (enrich->nfields) {
        fields = json_object();

        for (i = 0; i < enrich->nfields; i++) {
            ngx_http_track_set_sanitised(fields, enrich->fields[i].name,
                                         enrich->fields[i].data,
                                         enrich->fields[i].len,
                                         enrich->max_header_len);
        }

        if (json_object_size(fields)) {
            json_object_set(out, "fields", fields);
        }

        json_decref(fields);
    }

    n = json_dumpb(out, buf, size, JSON_COMPACT);
    json_decref(out);

    return n > size ? 0 : n;
}
