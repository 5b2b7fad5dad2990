/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: endpoints and validation of their query parameters. */
#ifndef TC_PARAMS_H
#define TC_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "common/rc.h"

#define TC_VALUE_MAX_CHARS  128     /* VARCHAR(128) in the schema */
#define TC_MAX_ARGS         16

typedef enum {
    TC_EP_NONE = -1,            /* no such endpoint */
    TC_EP_SERIES = 0,
    TC_EP_TOP,
    TC_EP_USERS,
    TC_EP_BREAKDOWN,
    TC_EP_HEALTH,
    TC_EP_METRICS,
    TC_EP_COUNT
} tc_endpoint_t;

typedef struct {
    const char  *key;
    const char  *value;             /* NULL for "?key" without '=' */
    size_t       len;
} tc_arg_t;

typedef struct {
    const char  *data;              /* NULL when the parameter is absent */
    size_t       len;
} tc_str_t;

typedef struct {
    int          max_days;
    int          max_hours;
    int          max_limit;
} tc_limits_t;

typedef struct {
    int            endpoint;
    tc_str_t       app;
    tc_str_t       module;
    tc_str_t       action;
    tc_str_t       object;          /* "" is a filter: events without object */
    int64_t        from;            /* days since the epoch, inclusive */
    int64_t        to;
    int            from_hour;       /* 0..23, 0 and 23 for whole days */
    int            to_hour;
    int            hourly;          /* interval=hour */
    int            single_day;      /* given as day= */
    unsigned       limit;
    int64_t        closed_before;   /* days before this one are closed */
} tc_request_t;

typedef struct {
    int          status;
    const char  *code;
    char         message[256];
} tc_error_t;

tc_endpoint_t tc_endpoint_by_path(const char *prefix, const char *path);
const char *tc_endpoint_name(tc_endpoint_t endpoint);

/* Fills req, or err (status 400) and returns TC_ERROR. */
tc_rc_t tc_parse_request(int endpoint, const tc_arg_t *args, int nargs,
    const tc_limits_t *limits, tc_request_t *req,
    tc_error_t *err);

/* Percent-decodes s in place ('+' is a space already) and returns its new
 * length; a '%' without two hex digits becomes the byte 0xff, which
 * tc_utf8_chars refuses. */
size_t tc_unescape(char *s);

/* Checks UTF-8 validity and the absence of control characters; returns the
 * number of code points, or -1. */
long tc_utf8_chars(const char *s, size_t len);

void tc_set_error(tc_error_t *err, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
