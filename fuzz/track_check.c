/* SPDX-License-Identifier: BSD-2-Clause */
/* Checks shared by the module's fuzz targets (see track_check.h). */

#include <string.h>

#include "fuzz_util.h"
#include "track_check.h"

/* the consumer's decoder: what the module stores must be storable */
#include "common/date.h"
#include "common/rc.h"
#include "event.h"


const ngx_http_track_limits_t  fz_limits_default = {
    .max_field_len = 128,
    .max_eid_len = 64,
    .max_props = 32,
    .max_prop_name_len = 64,
    .max_prop_value_len = 1024,
    .max_events = 100,
    .max_params = 64,
};

const ngx_http_track_limits_t  fz_limits_tight = {
    .max_field_len = 4,
    .max_eid_len = 64,
    .max_props = 2,
    .max_prop_name_len = 64,
    .max_prop_value_len = 6,
    .max_events = 2,
    .max_params = 5,
};


static const char  *fz_event_keys[] = {
    "app", "module", "action", "object", "uid", "ts", "eid", "props", NULL
};


void
fz_track_init(void)
{
    static int  done;

    if (!done) {
        FZ_CHECK(tc_tz_set("UTC") == TC_OK, "UTC");
        done = 1;
    }
}


static void
fz_check_text(json_t *v, const char *name, size_t max, int may_be_empty)
{
    size_t       n;
    const char  *s;

    FZ_CHECK(json_is_string(v), "%s is a string", name);

    s = json_string_value(v);
    n = json_string_length(v);

    FZ_CHECK(n <= max, "%s has %zu bytes, limit %zu", name, n, max);
    FZ_CHECK(n > 0 || may_be_empty, "%s is empty", name);
    FZ_CHECK(fz_utf8_clean((const unsigned char *) s, n),
             "%s is clean UTF-8", name);
}


void
fz_check_event(json_t *event, const ngx_http_track_limits_t *limits)
{
    int          known;
    size_t       i;
    json_t      *v, *pv;
    const char  *key;

    FZ_CHECK(json_is_object(event), "event is an object");

    json_object_foreach(event, key, v) {
        known = 0;
        for (i = 0; fz_event_keys[i]; i++) {
            known |= strcmp(key, fz_event_keys[i]) == 0;
        }
        FZ_CHECK(known, "undocumented key \"%s\" in a validated event", key);
    }

    fz_check_text(json_object_get(event, "app"), "app",
                  limits->max_field_len, 0);
    fz_check_text(json_object_get(event, "module"), "module",
                  limits->max_field_len, 0);
    fz_check_text(json_object_get(event, "action"), "action",
                  limits->max_field_len, 0);

    if ((v = json_object_get(event, "object")) != NULL) {
        fz_check_text(v, "object", limits->max_field_len, 0);
    }

    if ((v = json_object_get(event, "uid")) != NULL) {
        fz_check_text(v, "uid", limits->max_field_len, 0);
    }

    if ((v = json_object_get(event, "eid")) != NULL) {
        fz_check_text(v, "eid", limits->max_eid_len, 0);
    }

    if ((v = json_object_get(event, "ts")) != NULL) {
        FZ_CHECK(json_is_integer(v) && json_integer_value(v) >= 0
                 && json_integer_value(v) <= NGX_HTTP_TRACK_MAX_TS,
                 "ts in range");
    }

    if ((v = json_object_get(event, "props")) != NULL) {
        FZ_CHECK(json_is_object(v) && json_object_size(v) > 0
                 && json_object_size(v) <= limits->max_props,
                 "props: 1..%zu members", limits->max_props);

        json_object_foreach(v, key, pv) {
            FZ_CHECK(strlen(key) <= limits->max_prop_name_len
                     && fz_utf8_clean((const unsigned char *) key,
                                      strlen(key)),
                     "property name");

            if (json_is_string(pv)) {
                fz_check_text(pv, "property", limits->max_prop_value_len, 1);

            } else {
                FZ_CHECK(json_is_number(pv) || json_is_boolean(pv)
                         || json_is_null(pv), "flat property value");
            }
        }
    }
}


void
fz_check_error(const ngx_http_track_error_t *err)
{
    FZ_CHECK(err->reason < NGX_HTTP_TRACK_REJECT_LAST, "reason %d",
             (int) err->reason);
    FZ_CHECK(err->message != NULL && err->message[0] != '\0', "a message");
    FZ_CHECK(ngx_http_track_reject_names[err->reason] != NULL, "a name");

    /* fixed texts only: the log line quotes them */
    FZ_CHECK(fz_utf8_clean((const unsigned char *) err->message,
                           strlen(err->message)), "message is plain text");
    FZ_CHECK(err->field == NULL || strlen(err->field) < 16, "field name");
}


/* the same bytes in a decoded consumer string and a jansson string */
static void
fz_check_same(const tc_str_t *s, json_t *v, const char *name)
{
    if (v == NULL) {
        FZ_CHECK(s->data == NULL, "consumer: %s absent", name);
        return;
    }

    FZ_CHECK(s->data != NULL && s->len == json_string_length(v)
             && memcmp(s->data, json_string_value(v), s->len) == 0,
             "consumer: %s has the event's bytes", name);
}


static void
fz_check_consumer(const char *buf, size_t n, json_t *stored)
{
    json_t      *v;
    tc_event_t   ev;

    if (tc_event_decode(&ev, buf, n, 1 << 20) != TC_OK) {
        FZ_CHECK(0, "the consumer refused what the module stored: %s: %s",
                 ev.code, ev.reason);
    }

    FZ_CHECK(ev.status == TC_EV_OK, "consumer status");
    fz_check_same(&ev.eid, json_object_get(stored, "eid"), "eid");
    fz_check_same(&ev.app, json_object_get(stored, "app"), "app");
    fz_check_same(&ev.module, json_object_get(stored, "module"), "module");
    fz_check_same(&ev.action, json_object_get(stored, "action"), "action");
    fz_check_same(&ev.object, json_object_get(stored, "object"), "object");
    fz_check_same(&ev.uid, json_object_get(stored, "uid"), "uid");
    fz_check_same(&ev.ua, json_object_get(stored, "ua"), "ua");

    v = json_object_get(stored, "ts");
    FZ_CHECK(v ? (ev.has_ts && ev.ts == json_integer_value(v)) : !ev.has_ts,
             "consumer: ts");

    v = json_object_get(stored, "props");
    if (v == NULL) {
        FZ_CHECK(ev.props.data == NULL, "consumer: no props");

    } else {
        json_t  *p = json_loadb(ev.props.data, ev.props.len, 0, NULL);

        FZ_CHECK(p != NULL && json_equal(p, v), "consumer: props text");
        json_decref(p);
    }

    tc_event_clear(&ev);
}


json_t *
fz_event_json(const ngx_http_track_event_t *ev)
{
    size_t                        i;
    json_t                       *out, *props;
    const ngx_http_track_text_t  *t;

    static const char  *names[NGX_HTTP_TRACK_NTEXT] = {
        "app", "module", "action", "object", "uid", "eid"
    };

    out = json_object();

    for (i = 0; i < NGX_HTTP_TRACK_NTEXT; i++) {
        t = &ev->text[i];
        if (t->data) {
            json_object_set_new(out, names[i],
                                json_stringn((const char *) t->data, t->len));
        }
    }

    if (ev->ts >= 0) {
        json_object_set_new(out, "ts", json_integer(ev->ts));
    }

    if (ev->props_json) {
        FZ_CHECK(ev->nprops == 0, "props from a body or a query, not both");
        json_object_set(out, "props", ev->props_json);

    } else if (ev->nprops) {
        props = json_object();

        for (i = 0; i < ev->nprops; i++) {
            t = &ev->props[2 * i];
            json_object_setn_new(props, (const char *) t[0].data, t[0].len,
                                 json_stringn((const char *) t[1].data,
                                              t[1].len));
        }

        json_object_set_new(out, "props", props);
    }

    return out;
}


size_t
fz_escape(u_char *dst, const u_char *src, size_t len)
{
    char    *s;
    size_t   n;
    json_t  *v;

    /* the serialiser escapes validated or sanitised text only */
    v = json_stringn((const char *) src, len);
    FZ_CHECK(v != NULL && fz_utf8_clean(src, len),
             "escaping clean UTF-8 only");

    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    FZ_CHECK(s != NULL, "jansson encodes it");
    json_decref(v);

    n = strlen(s) - 2;
    if (dst) {
        memcpy(dst, s + 1, n);
    }
    free(s);

    return n;
}


void
fz_check_stored(const ngx_http_track_event_t *ev, json_t *event)
{
    char                    *buf, *exact;
    size_t                   n, m, i;
    json_t                  *out, *v;
    const char              *key;
    ngx_http_track_kv_t      fields[2];
    ngx_http_track_enrich_t  enrich;

    static char  big[1 << 20];

    /* values that look like injection: stored as data, never interpreted */
    static const char  ua[] = "Mozilla/5.0 \"');DROP TABLE x;--\\\n\xff";
    static const char  ref[] = "https://e.example/?q=</script>&x=\xc0\xaf";

    static const char  *order[] = {
        "eid", "recv_ts", "app", "module", "action", "object", "uid", "ts",
        "ip", "ua", "referer", "props", "fields", NULL
    };

    fields[0].name = "host";
    fields[0].data = (const u_char *) "h.example";
    fields[0].len = 9;
    fields[1].name = "empty";
    fields[1].data = NULL;
    fields[1].len = 0;

    memset(&enrich, 0, sizeof(enrich));
    enrich.eid = "0193a1b2c3d4000a00312f0000000001";
    enrich.recv_ts = INT64_C(1732540000123);
    enrich.ip.data = (const u_char *) "203.0.113.7";
    enrich.ip.len = 11;
    enrich.ua.data = (const u_char *) ua;
    enrich.ua.len = sizeof(ua) - 1;
    enrich.referer.data = (const u_char *) ref;
    enrich.referer.len = sizeof(ref) - 1;
    enrich.fields = fields;
    enrich.nfields = 2;
    enrich.max_header_len = 512;
    enrich.escape = fz_escape;

    n = ngx_http_track_serialize(ev, &enrich, (u_char *) big,
                                 sizeof(big));
    FZ_CHECK(n > 0 && n < sizeof(big), "serialised: %zu", n);

    /* exactly n bytes are enough; n - 1 are not, and nothing spills */
    exact = malloc(n);
    FZ_CHECK(exact != NULL, "malloc");
    m = ngx_http_track_serialize(ev, &enrich, (u_char *) exact, n);
    FZ_CHECK(m == n && memcmp(exact, big, n) == 0, "same bytes in %zu", n);
    free(exact);

    buf = malloc(n - 1 ? n - 1 : 1);
    FZ_CHECK(buf != NULL, "malloc");
    m = ngx_http_track_serialize(ev, &enrich, (u_char *) buf, n - 1);
    FZ_CHECK(m == 0, "%zu bytes do not fit in %zu", n, n - 1);
    free(buf);

    FZ_CHECK(memchr(big, '\n', n) == NULL && memchr(big, '\0', n) == NULL,
             "one compact line");
    FZ_CHECK(fz_utf8_valid((const unsigned char *) big, n), "UTF-8 output");

    out = json_loadb(big, n, JSON_REJECT_DUPLICATES, NULL);
    FZ_CHECK(out != NULL && json_is_object(out), "stored form re-parses");

    /* the documented key order, optional keys left out */
    i = 0;
    json_object_foreach(out, key, v) {
        while (order[i] && strcmp(order[i], key) != 0) {
            i++;
        }
        FZ_CHECK(order[i] != NULL, "key \"%s\" out of order", key);
    }

    v = json_object_get(event, "eid");
    FZ_CHECK(json_equal(json_object_get(out, "eid"),
                        v ? v : json_object_get(out, "eid"))
             && json_is_string(json_object_get(out, "eid")), "eid");
    if (v == NULL) {
        FZ_CHECK(strcmp(json_string_value(json_object_get(out, "eid")),
                        enrich.eid) == 0, "generated eid");
    }

    FZ_CHECK(json_integer_value(json_object_get(out, "recv_ts"))
             == enrich.recv_ts, "recv_ts");

    for (i = 0; fz_event_keys[i]; i++) {
        if (strcmp(fz_event_keys[i], "eid") == 0) {
            continue;
        }

        v = json_object_get(event, fz_event_keys[i]);
        FZ_CHECK(v == NULL ? json_object_get(out, fz_event_keys[i]) == NULL
                           : json_equal(v, json_object_get(out,
                                                           fz_event_keys[i])),
                 "%s stored as validated", fz_event_keys[i]);
    }

    /* header values made clean, and cut to the limit */
    json_object_foreach(out, key, v) {
        if (json_is_string(v)) {
            FZ_CHECK(fz_utf8_clean((const unsigned char *) json_string_value(v),
                                   json_string_length(v)),
                     "%s stored clean", key);
        }
    }

    FZ_CHECK(json_string_length(json_object_get(out, "ua")) <= 512, "ua cut");
    FZ_CHECK(json_object_size(json_object_get(out, "fields")) == 1,
             "empty fields left out");

    fz_check_consumer(big, n, out);

    json_decref(out);
}
