/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: endpoints and validation of their query parameters. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/date.h"
#include "common/rc.h"

#include "params.h"


enum {
    P_APP = 0,
    P_MODULE,
    P_ACTION,
    P_OBJECT,
    P_DAY,
    P_FROM,
    P_TO,
    P_INTERVAL,
    P_LIMIT,
    P_COUNT
};

#define B(p)  (1u << (p))

static const char  *param_names[P_COUNT] = {
    "app", "module", "action", "object", "day", "from", "to", "interval",
    "limit"
};

static const struct {
    const char  *name;
    unsigned     allowed;
    unsigned     required;
    int          needs_range;       /* day, or from and to */
} endpoints[TC_EP_COUNT] = {
    { "series",
      B(P_APP) | B(P_MODULE) | B(P_ACTION) | B(P_OBJECT) | B(P_DAY)
      | B(P_FROM) | B(P_TO) | B(P_INTERVAL),
      B(P_APP), 1 },
    { "top",
      B(P_APP) | B(P_MODULE) | B(P_ACTION) | B(P_DAY) | B(P_FROM) | B(P_TO)
      | B(P_LIMIT),
      B(P_APP) | B(P_MODULE) | B(P_ACTION), 1 },
    { "users",
      B(P_APP) | B(P_MODULE) | B(P_ACTION) | B(P_DAY) | B(P_FROM) | B(P_TO),
      B(P_APP) | B(P_MODULE) | B(P_ACTION), 1 },
    { "breakdown",
      B(P_APP) | B(P_DAY),
      B(P_APP) | B(P_DAY), 1 },
    { "health", 0, 0, 0 },
    { "metrics", 0, 0, 0 },
};

#define DEFAULT_LIMIT  10


void
tc_set_error(tc_error_t *err, int status, const char *code,
    const char *fmt, ...)
{
    va_list  ap;

    err->status = status;
    err->code = code;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}


tc_endpoint_t
tc_endpoint_by_path(const char *prefix, const char *path)
{
    size_t  n;
    int     i;

    n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || path[n] != '/') {
        return TC_EP_NONE;
    }

    for (i = 0; i < TC_EP_COUNT; i++) {
        if (strcmp(path + n + 1, endpoints[i].name) == 0) {
            return (tc_endpoint_t) i;
        }
    }

    return TC_EP_NONE;
}


const char *
tc_endpoint_name(tc_endpoint_t endpoint)
{
    return endpoints[endpoint].name;
}


static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


/*
 * libmicrohttpd keeps a '%' that two hex digits do not follow as text, so
 * "app=sh%zz" would be looked up as "sh%zz"; here it becomes the byte 0xff,
 * which no UTF-8 text holds, and the value is refused like invalid UTF-8.
 */
size_t
tc_unescape(char *s)
{
    char  *r, *w;
    int    hi, lo;

    for (r = s, w = s; *r != '\0'; w++) {
        if (*r != '%') {
            *w = *r++;
            continue;
        }
        hi = hex_digit(r[1]);
        lo = hi < 0 ? -1 : hex_digit(r[2]);
        if (lo < 0) {
            *w = (char) 0xff;
            r++;
            continue;
        }
        *w = (char) (hi << 4 | lo);
        r += 3;
    }
    *w = '\0';

    return (size_t) (w - s);
}


long
tc_utf8_chars(const char *s, size_t len)
{
    const unsigned char  *p = (const unsigned char *) s, *end = p + len;
    unsigned              c, min;
    long                  n = 0;
    int                   more;

    while (p < end) {
        c = *p++;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return -1;
            }
            n++;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            more = 1; c &= 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2; c &= 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3; c &= 0x07; min = 0x10000;
        } else {
            return -1;
        }

        if (end - p < more) {
            return -1;
        }

        while (more--) {
            if ((*p & 0xc0) != 0x80) {
                return -1;
            }
            c = (c << 6) | (*p++ & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)
            || (c >= 0x80 && c < 0xa0))
        {
            return -1;          /* overlong, out of range, surrogate, C1 */
        }

        n++;
    }

    return n;
}


static int
param_index(const char *key)
{
    int  i;

    for (i = 0; i < P_COUNT; i++) {
        if (strcmp(key, param_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


static tc_rc_t
parse_limit(const char *s, size_t len, unsigned max, unsigned *out)
{
    unsigned  v = 0;
    size_t    i;

    if (len == 0 || len > 7) {
        return TC_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return TC_ERROR;
        }
        v = v * 10 + (unsigned) (s[i] - '0');
    }

    if (v < 1 || v > max) {
        return TC_ERROR;
    }

    *out = v;
    return TC_OK;
}


static tc_rc_t
parse_range(int endpoint, const tc_str_t *v, const tc_limits_t *lim,
    tc_request_t *req, tc_error_t *err)
{
    int64_t  d;
    int      h, i;
    long     span;

    if (v[P_DAY].data != NULL) {
        if (v[P_FROM].data != NULL || v[P_TO].data != NULL) {
            tc_set_error(err, 400, "invalid_range",
                         "give either day or from and to, not both");
            return TC_ERROR;
        }

        if (tc_days_parse(v[P_DAY].data, v[P_DAY].len, &d, &h) != TC_OK
            || h != -1)
        {
            tc_set_error(err, 400, "invalid_date",
                         "day: expected a date as YYYY-MM-DD");
            return TC_ERROR;
        }

        req->from = req->to = d;
        req->from_hour = 0;
        req->to_hour = 23;
        req->single_day = 1;

    } else {
        for (i = P_FROM; i <= P_TO; i++) {
            if (v[i].data == NULL) {
                tc_set_error(err, 400, "missing_parameter",
                             "%s is required (or day)", param_names[i]);
                return TC_ERROR;
            }

            if (tc_days_parse(v[i].data, v[i].len, &d, &h) != TC_OK) {
                tc_set_error(err, 400, "invalid_date",
                             "%s: expected YYYY-MM-DD%s", param_names[i],
                             endpoint == TC_EP_SERIES ? " or YYYY-MM-DDTHH"
                                                      : "");
                return TC_ERROR;
            }

            if (h != -1 && !req->hourly) {
                tc_set_error(err, 400, "invalid_date",
                             "%s: an hour is only allowed with "
                             "interval=hour", param_names[i]);
                return TC_ERROR;
            }

            if (i == P_FROM) {
                req->from = d;
                req->from_hour = h == -1 ? 0 : h;
            } else {
                req->to = d;
                req->to_hour = h == -1 ? 23 : h;
            }
        }
    }

    if (req->from > req->to
        || (req->from == req->to && req->from_hour > req->to_hour))
    {
        tc_set_error(err, 400, "invalid_range", "from is after to");
        return TC_ERROR;
    }

    if (req->hourly) {
        span = (long) ((req->to - req->from) * 24 + req->to_hour
                       - req->from_hour + 1);
        if (span > lim->max_hours) {
            tc_set_error(err, 400, "range_too_long",
                         "at most %d hours with interval=hour",
                         lim->max_hours);
            return TC_ERROR;
        }

    } else {
        span = (long) (req->to - req->from + 1);
        if (span > lim->max_days) {
            tc_set_error(err, 400, "range_too_long",
                         "at most %d days", lim->max_days);
            return TC_ERROR;
        }
    }

    return TC_OK;
}


tc_rc_t
tc_parse_request(int endpoint, const tc_arg_t *args, int nargs,
    const tc_limits_t *lim, tc_request_t *req, tc_error_t *err)
{
    int            i, p;
    long           chars;
    unsigned       seen = 0;
    size_t         klen;
    tc_str_t       v[P_COUNT];

    memset(req, 0, sizeof(*req));
    memset(v, 0, sizeof(v));
    req->endpoint = endpoint;

    if (nargs > TC_MAX_ARGS) {
        tc_set_error(err, 400, "too_many_parameters",
                     "at most %d parameters", TC_MAX_ARGS);
        return TC_ERROR;
    }

    for (i = 0; i < nargs; i++) {
        p = param_index(args[i].key);

        if (p == -1 || !(endpoints[endpoint].allowed & B(p))) {
            klen = strlen(args[i].key);
            if (klen <= 32 && tc_utf8_chars(args[i].key, klen) >= 0) {
                tc_set_error(err, 400, "unknown_parameter",
                             "unknown parameter \"%s\" for %s",
                             args[i].key, endpoints[endpoint].name);
            } else {
                tc_set_error(err, 400, "unknown_parameter",
                             "unknown parameter for %s",
                             endpoints[endpoint].name);
            }
            return TC_ERROR;
        }

        if (seen & B(p)) {
            tc_set_error(err, 400, "duplicate_parameter",
                         "%s is given more than once", param_names[p]);
            return TC_ERROR;
        }
        seen |= B(p);

        v[p].data = args[i].value != NULL ? args[i].value : "";
        v[p].len = args[i].value != NULL ? args[i].len : 0;

        /* bytes first: a huge value is rejected without scanning it */
        if (v[p].len > TC_VALUE_MAX_CHARS * 4) {
            chars = TC_VALUE_MAX_CHARS + 1;
        } else {
            chars = tc_utf8_chars(v[p].data, v[p].len);
        }

        if (chars < 0) {
            tc_set_error(err, 400, "invalid_value",
                         "%s: bad percent-encoding, invalid UTF-8 or a control"
                         " character",
                         param_names[p]);
            return TC_ERROR;
        }

        if (chars > TC_VALUE_MAX_CHARS) {
            tc_set_error(err, 400, "value_too_long",
                         "%s: at most %d characters", param_names[p],
                         TC_VALUE_MAX_CHARS);
            return TC_ERROR;
        }

        if (chars == 0 && p != P_OBJECT) {
            tc_set_error(err, 400, "invalid_value", "%s: empty value",
                         param_names[p]);
            return TC_ERROR;
        }
    }

    for (p = 0; p < P_COUNT; p++) {
        if ((endpoints[endpoint].required & B(p)) && !(seen & B(p))) {
            tc_set_error(err, 400, "missing_parameter", "%s is required",
                         param_names[p]);
            return TC_ERROR;
        }
    }

    req->app = v[P_APP];
    req->module = v[P_MODULE];
    req->action = v[P_ACTION];
    req->object = v[P_OBJECT];

    if (v[P_INTERVAL].data != NULL) {
        if (strcmp(v[P_INTERVAL].data, "hour") == 0) {
            req->hourly = 1;
        } else if (strcmp(v[P_INTERVAL].data, "day") != 0) {
            tc_set_error(err, 400, "invalid_value",
                         "interval: expected day or hour");
            return TC_ERROR;
        }
    }

    req->limit = DEFAULT_LIMIT < lim->max_limit ? DEFAULT_LIMIT
                                                : (unsigned) lim->max_limit;
    if (v[P_LIMIT].data != NULL
        && parse_limit(v[P_LIMIT].data, v[P_LIMIT].len,
                       (unsigned) lim->max_limit, &req->limit) != TC_OK)
    {
        tc_set_error(err, 400, "invalid_value",
                     "limit: expected an integer from 1 to %d",
                     lim->max_limit);
        return TC_ERROR;
    }

    if (endpoints[endpoint].needs_range
        && parse_range(endpoint, v, lim, req, err) != TC_OK)
    {
        return TC_ERROR;
    }

    return TC_OK;
}
