/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: ngx_http_track_parse_json() (the beacon's body).
 *
 * Every input is parsed under the default limits and under tight ones and
 * compared with a reference written from the documentation (README.md,
 * ngx_http_track_module/README.md): one event or a batch; required
 * strings; object and uid may be integers, stored as their decimal
 * text; ts an integer in [0, 2^53); a flat props object.  Accepted events
 * must serialise to JSON that re-parses with the same bytes and that the
 * consumer can store.
 */

#include <string.h>

#include "fuzz_util.h"
#include "track_check.h"


static const char  *ref_fields[] = {
    "app", "module", "action", "object", "uid", "ts", "eid", NULL
};


static int
ref_text(const char *s, size_t n, size_t max)
{
    if (n > max) {
        return NGX_HTTP_TRACK_REJECT_TOO_LONG;
    }

    if (!fz_utf8_clean((const unsigned char *) s, n)) {
        return NGX_HTTP_TRACK_REJECT_BAD_ENCODING;
    }

    return -1;
}


/* one event: the normalised copy, or NULL and the reason */
static json_t *
ref_event(json_t *in, const ngx_http_track_limits_t *lim, int *reason)
{
    int          i, rc;
    char         num[32];
    size_t       max;
    json_t      *ev, *v, *props, *pv;
    const char  *key;

    if (!json_is_object(in)) {
        *reason = NGX_HTTP_TRACK_REJECT_INVALID_JSON;
        return NULL;
    }

    ev = json_object();
    rc = -1;

    for (i = 0; rc < 0 && ref_fields[i]; i++) {
        v = json_object_get(in, ref_fields[i]);
        if (v == NULL || json_is_null(v)) {
            continue;
        }

        max = strcmp(ref_fields[i], "eid") == 0 ? lim->max_eid_len
                                                : lim->max_field_len;

        if (strcmp(ref_fields[i], "ts") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) >= (INT64_C(1) << 53))
            {
                rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;
            } else {
                json_object_set(ev, "ts", v);
            }

        } else if (json_is_integer(v) && (i == 3 || i == 4)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            rc = ref_text(num, strlen(num), max);
            if (rc < 0) {
                json_object_set_new(ev, ref_fields[i], json_string(num));
            }

        } else if (!json_is_string(v)) {
            rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;

        } else {
            rc = ref_text(json_string_value(v), json_string_length(v), max);
            if (rc < 0) {
                json_object_set(ev, ref_fields[i], v);
            }
        }
    }

    props = json_object_get(in, "props");

    if (rc < 0 && props != NULL && !json_is_null(props)) {
        if (!json_is_object(props)) {
            rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;

        } else if (json_object_size(props) > lim->max_props) {
            rc = NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS;

        } else {
            json_object_foreach(props, key, pv) {
                rc = ref_text(key, strlen(key), lim->max_prop_name_len);
                if (rc >= 0) {
                    break;
                }

                if (json_is_string(pv)) {
                    rc = ref_text(json_string_value(pv),
                                  json_string_length(pv),
                                  lim->max_prop_value_len);
                    if (rc >= 0) {
                        break;
                    }

                } else if (json_is_object(pv) || json_is_array(pv)) {
                    rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;
                    break;
                }
            }

            if (rc < 0 && json_object_size(props)) {
                json_object_set(ev, "props", props);
            }
        }
    }

    for (i = 0; rc < 0 && ref_fields[i]; i++) {
        v = json_object_get(ev, ref_fields[i]);

        if (i < 3 && (v == NULL || json_string_length(v) == 0)) {
            rc = NGX_HTTP_TRACK_REJECT_MISSING_FIELD;

        } else if (v && json_is_string(v) && json_string_length(v) == 0) {
            json_object_del(ev, ref_fields[i]);
        }
    }

    if (rc >= 0) {
        json_decref(ev);
        *reason = rc;
        return NULL;
    }

    return ev;
}


static json_t *
ref_parse(const uint8_t *data, size_t size, const ngx_http_track_limits_t *lim,
    int *reason)
{
    size_t        i;
    json_t       *root, *out, *ev;
    json_error_t  jerr;

    root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL) {
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key:
            *reason = NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD;
            break;
        case json_error_numeric_overflow:
            *reason = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;
            break;
        default:
            *reason = NGX_HTTP_TRACK_REJECT_INVALID_JSON;
        }
        return NULL;
    }

    out = json_array();

    if (!json_is_array(root)) {
        ev = ref_event(root, lim, reason);
        if (ev == NULL) {
            goto failed;
        }
        json_array_append_new(out, ev);

    } else if (json_array_size(root) == 0) {
        *reason = NGX_HTTP_TRACK_REJECT_INVALID_JSON;
        goto failed;

    } else if (json_array_size(root) > lim->max_events) {
        *reason = NGX_HTTP_TRACK_REJECT_TOO_MANY_EVENTS;
        goto failed;

    } else {
        for (i = 0; i < json_array_size(root); i++) {
            ev = ref_event(json_array_get(root, i), lim, reason);
            if (ev == NULL) {
                goto failed;
            }
            json_array_append_new(out, ev);
        }
    }

    json_decref(root);
    return out;

failed:

    json_decref(root);
    json_decref(out);
    return NULL;
}


static void
check(const uint8_t *data, size_t size, const ngx_http_track_limits_t *lim)
{
    int                      reason;
    char                    *a, *b;
    size_t                   i;
    json_t                  *got, *expected, *event;
    ngx_http_track_error_t   err;
    ngx_http_track_events_t  events;

    memset(&err, 0, sizeof(err));
    reason = -1;

    expected = ref_parse(data, size, lim, &reason);

    if (ngx_http_track_parse_json(data, size, lim, &events, &err) != 0) {
        FZ_CHECK(events.events == NULL && events.root == NULL,
                 "nothing left to free after a rejection");
        fz_check_error(&err);
        FZ_CHECK(expected == NULL, "rejected (%s: %s) what the reference "
                 "accepts", ngx_http_track_reject_names[err.reason],
                 err.message);
        FZ_CHECK((int) err.reason == reason, "reason %s, reference %s",
                 ngx_http_track_reject_names[err.reason],
                 ngx_http_track_reject_names[reason]);
        return;
    }

    FZ_CHECK(expected != NULL, "accepted what the reference rejects (%s)",
             ngx_http_track_reject_names[reason]);
    FZ_CHECK(events.nevents >= 1 && events.nevents <= lim->max_events,
             "1..%zu events", lim->max_events);

    got = json_array();
    for (i = 0; i < events.nevents; i++) {
        json_array_append_new(got, fz_event_json(&events.events[i]));
    }

    if (!json_equal(got, expected)) {
        a = json_dumps(got, JSON_COMPACT);
        b = json_dumps(expected, JSON_COMPACT);
        FZ_CHECK(0, "events %s, reference %s", a, b);
    }

    for (i = 0; i < events.nevents; i++) {
        event = json_array_get(got, i);
        fz_check_event(event, lim);
        fz_check_stored(&events.events[i], event);
    }

    json_decref(got);
    json_decref(expected);
    ngx_http_track_events_free(&events);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_track_init();

    check(data, size, &fz_limits_default);
    check(data, size, &fz_limits_tight);

    return 0;
}
