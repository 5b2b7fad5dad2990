/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: decoding and validation of one queued event (README format). */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/date.h"
#include "common/rc.h"

#include "event.h"
#include "event_fast.h"


/*
 * Replaces every byte that does not start a valid UTF-8 sequence with '?':
 * a reason may quote the element (jansson's "near '...'", a MySQL error)
 * cut inside a character, and a dead letter must stay valid JSON.
 */
static void
utf8_clean(char *s)
{
    size_t          i, k, n;
    uint32_t        c;
    unsigned char  *p;

    p = (unsigned char *) s;

    for (i = 0; p[i] != '\0'; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            n = 2;
            c = p[i] & 0x1f;
        } else if (p[i] >= 0xe0 && p[i] <= 0xef) {
            n = 3;
            c = p[i] & 0x0f;
        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            n = 4;
            c = p[i] & 0x07;
        } else {
            p[i] = '?';
            n = 1;
            continue;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                break;
            }
            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (k < n || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000)
            || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        {
            p[i] = '?';
            n = 1;
        }
    }
}


void
tc_event_reject(tc_event_t *ev, tc_ev_status_t status, const char *code,
    const char *fmt, ...)
{
    char     buf[512];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    utf8_clean(buf);

    free(ev->reason);
    ev->reason = strdup(buf);
    ev->code = code;
    ev->status = status;
}


void
tc_event_clear(tc_event_t *ev)
{
    json_free_t  json_free;

    if (ev->json != NULL) {
        json_decref(ev->json);
    }
    if (ev->text != NULL) {
        json_get_alloc_funcs(NULL, &json_free);
        json_free(ev->text);
    }
    free(ev->reason);
    memset(ev, 0, sizeof(*ev));
}


static int
str_differs(const tc_str_t *a, const tc_str_t *b)
{
    if (a->data == NULL || b->data == NULL) {
        return a->data != b->data;
    }

    return a->len != b->len || memcmp(a->data, b->data, a->len) != 0;
}


static int
cstr_differs(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a != b : strcmp(a, b) != 0;
}


const char *
tc_event_diff(const tc_event_t *a, const tc_event_t *b)
{
    size_t  i;

    static const struct {
        const char  *name;
        size_t       off;
    } strs[] = {
        { "eid", offsetof(tc_event_t, eid) },
        { "app", offsetof(tc_event_t, app) },
        { "module", offsetof(tc_event_t, module) },
        { "action", offsetof(tc_event_t, action) },
        { "object", offsetof(tc_event_t, object) },
        { "uid", offsetof(tc_event_t, uid) },
        { "ip", offsetof(tc_event_t, ip) },
        { "ua", offsetof(tc_event_t, ua) },
        { "referer", offsetof(tc_event_t, referer) },
        { "props", offsetof(tc_event_t, props) },
        { "fields", offsetof(tc_event_t, fields) },
    };

    if (a->status != b->status) {
        return "status";
    }
    if (cstr_differs(a->code, b->code)) {
        return "code";
    }
    if (cstr_differs(a->reason, b->reason)) {
        return "reason";
    }

    for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (str_differs((const tc_str_t *) ((const char *) a + strs[i].off),
                        (const tc_str_t *) ((const char *) b + strs[i].off)))
        {
            return strs[i].name;
        }
    }

    if (a->recv_ts != b->recv_ts) {
        return "recv_ts";
    }
    if (a->has_ts != b->has_ts || (a->has_ts && a->ts != b->ts)) {
        return "ts";
    }
    if (a->day != b->day || a->hour != b->hour) {
        return "day";
    }

    return NULL;
}


/* A string member: required or optional, 1 or 0 .. max bytes. */
static tc_rc_t
get_string(tc_event_t *ev, const char *name, tc_str_t *out, int required,
    size_t min, size_t max, char *num)
{
    json_t  *v;
    size_t   n;

    v = json_object_get(ev->json, name);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            tc_event_reject(ev, TC_EV_DEAD, "missing_field",
                            "missing required field \"%s\"", name);
            return TC_ERROR;
        }
        return TC_OK;
    }

    if (num != NULL && json_is_integer(v)) {
        /* object and uid: a JSON integer is stored as its decimal text */
        n = (size_t) snprintf(num, 24, "%" JSON_INTEGER_FORMAT,
                              json_integer_value(v));
        out->data = num;
        out->len = n;
        return TC_OK;
    }

    if (!json_is_string(v)) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_type",
                        "field \"%s\" is not a string", name);
        return TC_ERROR;
    }

    n = json_string_length(v);
    if (n < min || n > max) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_length",
                        "field \"%s\" has %zu bytes, allowed %zu..%zu",
                        name, n, min, max);
        return TC_ERROR;
    }

    out->data = json_string_value(v);
    out->len = n;

    return TC_OK;
}


/* What get_integer found. */
typedef enum {
    TC_FIELD_INVALID = -1,          /* rejected: ev->code says why */
    TC_FIELD_ABSENT = 0,
    TC_FIELD_PRESENT = 1
} tc_field_t;


static tc_field_t
get_integer(tc_event_t *ev, const char *name, int64_t *out, int required,
    int64_t min, int64_t max)
{
    json_t     *v;
    json_int_t  n;

    v = json_object_get(ev->json, name);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            tc_event_reject(ev, TC_EV_DEAD, "missing_field",
                            "missing required field \"%s\"", name);
            return TC_FIELD_INVALID;
        }
        return TC_FIELD_ABSENT;
    }

    if (!json_is_integer(v)) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_type",
                        "field \"%s\" is not an integer", name);
        return TC_FIELD_INVALID;
    }

    n = json_integer_value(v);
    if (n < min || n >= max) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_value",
                        "field \"%s\" is %" JSON_INTEGER_FORMAT
                        ", allowed %" PRId64 "..%" PRId64,
                        name, n, min, max - 1);
        return TC_FIELD_INVALID;
    }

    *out = n;

    return 1;
}


static tc_rc_t
get_object(tc_event_t *ev, const char *name, tc_str_t *out)
{
    json_t       *v;
    char         *text, key[16];
    json_free_t   json_free;

    v = json_object_get(ev->json, name);
    if (v == NULL || json_is_null(v)) {
        return TC_OK;
    }

    if (!json_is_object(v)) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_type",
                        "field \"%s\" is not an object", name);
        return TC_ERROR;
    }

    /*
     * Stored as jansson's compact form, kept alive as a string member of
     * ev->json under a key of its own per field (" props", " fields"; a
     * member of that name in the element is replaced, nothing reads it).
     * What the module wrote comes out byte for byte: it writes this form.
     */
    snprintf(key, sizeof(key), " %s", name);
    json_get_alloc_funcs(NULL, &json_free);     /* json_dumps() allocated */
    text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL
        || json_object_set_new(ev->json, key, json_string(text)) != 0)
    {
        if (text != NULL) {
            json_free(text);
        }
        tc_event_reject(ev, TC_EV_DEAD, "internal", "out of memory");
        return TC_ERROR;
    }
    json_free(text);

    v = json_object_get(ev->json, key);
    out->data = json_string_value(v);
    out->len = json_string_length(v);

    return TC_OK;
}


tc_rc_t
tc_event_decode(tc_event_t *ev, const char *raw, size_t len, size_t max_bytes)
{
    if (tc_event_fast_decode(ev, raw, len, max_bytes) == TC_FAST_DECODED) {
        return TC_OK;
    }

    return tc_event_decode_json(ev, raw, len, max_bytes);
}


tc_rc_t
tc_event_decode_json(tc_event_t *ev, const char *raw, size_t len,
    size_t max_bytes)
{
    tc_field_t    r;
    json_error_t  jerr;

    memset(ev, 0, sizeof(*ev));

    if (len > max_bytes) {
        tc_event_reject(ev, TC_EV_DEAD, "too_large",
                        "event has %zu bytes, allowed %zu", len, max_bytes);
        return TC_ERROR;
    }

    ev->json = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr);
    if (ev->json == NULL) {
        tc_event_reject(ev, TC_EV_DEAD, "invalid_json",
                        "invalid JSON at byte %d: %s", jerr.position,
                        jerr.text);
        return TC_ERROR;
    }

    if (!json_is_object(ev->json)) {
        tc_event_reject(ev, TC_EV_DEAD, "not_object",
                        "event is not a JSON object");
        return TC_ERROR;
    }

    if (get_string(ev, "eid", &ev->eid, 1, 1, TC_EID_MAX, NULL)
        || get_integer(ev, "recv_ts", &ev->recv_ts, 1, 0, TC_TS_MAX)
           == TC_FIELD_INVALID
        || get_string(ev, "app", &ev->app, 1, 1, TC_NAME_MAX, NULL)
        || get_string(ev, "module", &ev->module, 1, 1, TC_NAME_MAX, NULL)
        || get_string(ev, "action", &ev->action, 1, 1, TC_NAME_MAX, NULL)
        || get_string(ev, "object", &ev->object, 0, 0, TC_NAME_MAX,
                      ev->num[0])
        || get_string(ev, "uid", &ev->uid, 0, 0, TC_NAME_MAX, ev->num[1])
        || get_string(ev, "ip", &ev->ip, 0, 0, TC_IP_MAX, NULL)
        || get_string(ev, "ua", &ev->ua, 0, 0, TC_TEXT_MAX, NULL)
        || get_string(ev, "referer", &ev->referer, 0, 0, TC_TEXT_MAX, NULL))
    {
        return TC_ERROR;
    }

    r = get_integer(ev, "ts", &ev->ts, 0, 0, INT64_C(1) << 53);
    if (r == TC_FIELD_INVALID) {
        return TC_ERROR;
    }
    ev->has_ts = (r == TC_FIELD_PRESENT);

    if (get_object(ev, "props", &ev->props)
        || get_object(ev, "fields", &ev->fields))
    {
        return TC_ERROR;
    }

    if (tc_day_of(ev->recv_ts, &ev->day, &ev->hour) != TC_OK) {
        tc_event_reject(ev, TC_EV_DEAD, "bad_value",
                        "recv_ts %" PRId64 " has no local day", ev->recv_ts);
        return TC_ERROR;
    }

    ev->status = TC_EV_OK;

    return TC_OK;
}


char *
tc_event_dead_letter(const tc_event_t *ev, const char *raw, size_t len,
    const char *consumer, size_t *out_len)
{
    char    *text, *hex;
    size_t   i;
    json_t  *o, *r;

    static const char  digits[] = "0123456789abcdef";

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    json_object_set_new(o, "reason",
                        json_string(ev->reason ? ev->reason : "unknown"));
    json_object_set_new(o, "code", json_string(ev->code ? ev->code : "?"));
    json_object_set_new(o, "consumer", json_string(consumer));

    r = json_stringn(raw, len);
    if (r != NULL) {
        json_object_set_new(o, "raw", r);

    } else {
        /* not valid UTF-8: JSON cannot carry it as a string */
        hex = malloc(len * 2 + 1);
        if (hex == NULL) {
            json_decref(o);
            return NULL;
        }
        for (i = 0; i < len; i++) {
            hex[2 * i] = digits[(unsigned char) raw[i] >> 4];
            hex[2 * i + 1] = digits[(unsigned char) raw[i] & 0xf];
        }
        hex[2 * len] = '\0';
        json_object_set_new(o, "raw_hex", json_string(hex));
        free(hex);
    }

    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);

    if (text != NULL) {
        *out_len = strlen(text);
    }

    return text;
}
