/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: track-stats' query string, decoded and validated as the
 * server does it (libmicrohttpd splits it at '&' and '=' and turns '+' into
 * a space; tc_unescape() decodes the rest; tc_parse_request() validates).
 *
 * The first byte picks the endpoint, the rest is the query string.  Every
 * answer is a 400 with a code, or a request whose texts are clean UTF-8 of
 * at most 128 characters and whose range and limit are inside the limits.
 * Each of app, module, action and object given once is compared with a
 * reference decoding written from the documentation: a value with a '%'
 * that two hex digits do not follow is refused, any other is accepted as
 * exactly its decoded bytes.
 */

#include <string.h>

#include "fuzz_util.h"
#include "track-stats/params.h"


#define MAX_QUERY  4096


static const char  *ref_texts[] = { "app", "module", "action", "object" };


static void
plus_to_space(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '+') {
            *s = ' ';
        }
    }
}


static const tc_str_t *
request_text(const tc_request_t *req, int i)
{
    switch (i) {
    case 0: return &req->app;
    case 1: return &req->module;
    case 2: return &req->action;
    default: return &req->object;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            endpoint, nargs, i, a, once;
    size_t         ref_len;
    char           query[MAX_QUERY + 1], raw[MAX_QUERY + 1];
    char           ref[MAX_QUERY + 1], *p, *amp, *eq;
    char          *raw_value[TC_MAX_ARGS + 8];
    tc_arg_t       args[TC_MAX_ARGS + 8];
    tc_rc_t        rc;
    tc_error_t     err;
    tc_request_t   req;
    tc_limits_t    lim = { 366, 744, 1000 };
    const tc_str_t *t;

    if (size < 1 || size > MAX_QUERY) {
        return 0;
    }

    endpoint = data[0] % TC_EP_COUNT;
    /* a URL holds no NUL: the query ends at the first one */
    memcpy(query, data + 1, size - 1);
    query[size - 1] = '\0';
    memcpy(raw, query, size);

    /* split as libmicrohttpd does; raw keeps the undecoded values */
    nargs = 0;
    for (p = query; p != NULL && *p != '\0'
                    && nargs < (int) (sizeof(args) / sizeof(args[0]));
         p = amp)
    {
        amp = strchr(p, '&');
        if (amp != NULL) {
            *amp++ = '\0';
            raw[amp - 1 - query] = '\0';
        }
        eq = strchr(p, '=');
        if (eq != NULL) {
            *eq++ = '\0';
            raw[eq - 1 - query] = '\0';
        }
        plus_to_space(p);
        tc_unescape(p);
        args[nargs].key = p;
        args[nargs].value = NULL;
        args[nargs].len = 0;
        raw_value[nargs] = NULL;
        if (eq != NULL) {
            plus_to_space(eq);
            args[nargs].len = tc_unescape(eq);
            args[nargs].value = eq;
            raw_value[nargs] = raw + (eq - query);
        }
        nargs++;
    }

    memset(&req, 0, sizeof(req));
    memset(&err, 0, sizeof(err));
    rc = tc_parse_request(endpoint, args, nargs, &lim, &req, &err);

    if (rc != TC_OK) {
        FZ_CHECK(err.status == 400 && err.code != NULL
                 && memchr(err.message, '\0', sizeof(err.message)) != NULL,
                 "a refusal is a 400 with a code and a message");
        return 0;
    }

    for (i = 0; i < 4; i++) {
        t = request_text(&req, i);
        if (t->data == NULL) {
            continue;
        }
        FZ_CHECK(t->len <= 4 * TC_VALUE_MAX_CHARS
                 && fz_utf8_clean((const unsigned char *) t->data, t->len),
                 "%s: clean UTF-8 of at most 128 characters", ref_texts[i]);
    }
    FZ_CHECK(req.from <= req.to, "from after to");
    FZ_CHECK(req.from_hour >= 0 && req.from_hour <= 23
             && req.to_hour >= 0 && req.to_hour <= 23, "hours in 0..23");

    /* each text given once: exactly its reference decoding */
    for (i = 0; i < 4; i++) {
        once = -1;
        for (a = 0; a < nargs; a++) {
            if (strcmp(args[a].key, ref_texts[i]) == 0) {
                once = once == -1 ? a : -2;
            }
        }
        if (once < 0 || raw_value[once] == NULL) {
            continue;
        }
        FZ_CHECK(fz_form_decode((const unsigned char *) raw_value[once],
                                strlen(raw_value[once]),
                                (unsigned char *) ref, &ref_len) == 0,
                 "%s with a bad escape accepted", ref_texts[i]);
        t = request_text(&req, i);
        FZ_CHECK(t->data != NULL && t->len == ref_len
                 && memcmp(t->data, ref, t->len) == 0,
                 "%s differs from its reference decoding", ref_texts[i]);
    }

    return 0;
}
