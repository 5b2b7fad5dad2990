/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: ngx_http_track_parse_args() (the pixel's query string).
 *
 * Every input is parsed under the default limits and under tight ones, and
 * compared with a reference written from the documentation
 * (README.md, ngx_http_track_module/README.md): the same verdict, the
 * same reason, the same event.  Accepted events must then serialise to JSON
 * that re-parses with the same bytes and that the consumer can store.
 */

#include <ctype.h>
#include <string.h>

#include "fuzz_util.h"
#include "track_check.h"


static const char  *ref_fields[] = {
    "app", "module", "action", "object", "uid", "ts", "eid", NULL
};


/* a text value: length first, then encoding */
static int
ref_text(const u_char *s, size_t n, size_t max)
{
    if (n > max) {
        return NGX_HTTP_TRACK_REJECT_TOO_LONG;
    }

    if (!fz_utf8_clean(s, n)) {
        return NGX_HTTP_TRACK_REJECT_BAD_ENCODING;
    }

    return -1;
}


/* the expected event, or NULL and the expected reason */
static json_t *
ref_parse(const u_char *q, size_t len, const ngx_http_track_limits_t *lim,
    int *reason)
{
    int            rc, i, field;
    char          *name;
    u_char        *key, *val;
    size_t         klen, vlen, nparams, k;
    json_t        *ev, *props, *v;
    uint64_t       ts;
    const u_char  *seg, *end, *amp, *eq;

    key = malloc(len + 1);
    val = malloc(len + 1);
    name = malloc(len + 1);
    ev = json_object();
    props = json_object();
    nparams = 0;
    rc = -1;

    for (seg = q, end = q + len; seg <= end && rc < 0; seg = amp + 1) {
        amp = memchr(seg, '&', (size_t) (end - seg));
        if (amp == NULL) {
            amp = end;
        }

        if (amp == seg) {
            continue;
        }

        if (++nparams > lim->max_params) {
            rc = NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS;
            break;
        }

        eq = memchr(seg, '=', (size_t) (amp - seg));

        if (fz_form_decode(seg, (size_t) ((eq ? eq : amp) - seg), key,
                           &klen) != 0
            || (eq && fz_form_decode(eq + 1, (size_t) (amp - eq - 1), val,
                                     &vlen) != 0))
        {
            rc = NGX_HTTP_TRACK_REJECT_BAD_ENCODING;
            break;
        }

        if (eq == NULL) {
            vlen = 0;
        }

        field = -1;
        for (i = 0; ref_fields[i]; i++) {
            if (klen == strlen(ref_fields[i])
                && memcmp(key, ref_fields[i], klen) == 0)
            {
                field = i;
            }
        }

        if (field >= 0) {
            if (json_object_get(ev, ref_fields[field])) {
                rc = NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD;
                break;
            }

            if (strcmp(ref_fields[field], "ts") == 0) {
                if (vlen == 0 || vlen > 16) {
                    rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;
                    break;
                }

                ts = 0;
                for (k = 0; k < vlen; k++) {
                    if (!isdigit(val[k])) {
                        break;
                    }
                    ts = ts * 10 + (val[k] - '0');
                }

                if (k < vlen || ts >= (UINT64_C(1) << 53)) {
                    rc = NGX_HTTP_TRACK_REJECT_INVALID_VALUE;
                    break;
                }

                json_object_set_new(ev, "ts", json_integer((json_int_t) ts));
                continue;
            }

            rc = ref_text(val, vlen, strcmp(ref_fields[field], "eid") == 0
                                     ? lim->max_eid_len : lim->max_field_len);
            if (rc >= 0) {
                break;
            }

            json_object_set_new(ev, ref_fields[field],
                                json_stringn((char *) val, vlen));
            continue;
        }

        if (klen < 3 || key[0] != 'p' || key[1] != '.') {
            continue;       /* ignored: cache busters and the like */
        }

        rc = ref_text(key + 2, klen - 2, lim->max_prop_name_len);
        if (rc < 0) {
            rc = ref_text(val, vlen, lim->max_prop_value_len);
        }
        if (rc >= 0) {
            break;
        }

        memcpy(name, key + 2, klen - 2);
        name[klen - 2] = '\0';

        if (json_object_get(props, name)) {
            rc = NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD;
            break;
        }

        if (json_object_size(props) == lim->max_props) {
            rc = NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS;
            break;
        }

        json_object_set_new(props, name, json_stringn((char *) val, vlen));
    }

    /* required fields present and not empty, empty optional ones dropped */
    for (i = 0; rc < 0 && ref_fields[i]; i++) {
        v = json_object_get(ev, ref_fields[i]);

        if (i < 3 && (v == NULL || json_string_length(v) == 0)) {
            rc = NGX_HTTP_TRACK_REJECT_MISSING_FIELD;

        } else if (v && json_is_string(v) && json_string_length(v) == 0) {
            json_object_del(ev, ref_fields[i]);
        }
    }

    if (rc < 0 && json_object_size(props)) {
        json_object_set(ev, "props", props);
    }

    free(key);
    free(val);
    free(name);
    json_decref(props);

    if (rc >= 0) {
        json_decref(ev);
        *reason = rc;
        return NULL;
    }

    return ev;
}


static void
check(const uint8_t *data, size_t size, const ngx_http_track_limits_t *lim)
{
    int                     reason, rc;
    char                   *a, *b;
    u_char                 *buf;
    json_t                 *expected, *event;
    ngx_http_track_text_t  *props;
    ngx_http_track_error_t  err;
    ngx_http_track_event_t  ev;

    memset(&err, 0, sizeof(err));
    reason = -1;

    /* exactly the room the header promises, so ASan sees any overrun */
    buf = malloc(size + 1);
    props = malloc(2 * lim->max_props * sizeof(ngx_http_track_text_t));
    FZ_CHECK(buf != NULL && props != NULL, "malloc");

    rc = ngx_http_track_parse_args(data, size, lim, &ev, buf, props, &err);
    expected = ref_parse(data, size, lim, &reason);

    if (rc != 0) {
        FZ_CHECK(rc == -1, "-1 on rejection");
        fz_check_error(&err);
        FZ_CHECK(expected == NULL, "rejected (%s: %s) what the reference "
                 "accepts", ngx_http_track_reject_names[err.reason],
                 err.message);
        FZ_CHECK((int) err.reason == reason, "reason %s, reference %s",
                 ngx_http_track_reject_names[err.reason],
                 ngx_http_track_reject_names[reason]);
        free(buf);
        free(props);
        return;
    }

    FZ_CHECK(expected != NULL, "accepted what the reference rejects (%s)",
             ngx_http_track_reject_names[reason]);

    event = fz_event_json(&ev);

    if (!json_equal(event, expected)) {
        a = json_dumps(event, JSON_COMPACT);
        b = json_dumps(expected, JSON_COMPACT);
        FZ_CHECK(0, "event %s, reference %s", a, b);
    }

    /* byte for byte, properties in the order given */
    a = json_dumps(json_object_get(event, "props"), JSON_ENCODE_ANY);
    b = json_dumps(json_object_get(expected, "props"), JSON_ENCODE_ANY);
    FZ_CHECK((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0),
             "properties in order");
    free(a);
    free(b);

    fz_check_event(event, lim);
    fz_check_stored(&ev, event);

    json_decref(expected);
    json_decref(event);
    free(buf);
    free(props);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_track_init();

    check(data, size, &fz_limits_default);
    check(data, size, &fz_limits_tight);

    return 0;
}
