/* track-stats: endpoints and validation of their query parameters. */
#ifndef STATS_PARAMS_H
#define STATS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define ST_VALUE_MAX_CHARS  128     /* VARCHAR(128) in the schema */
#define ST_MAX_ARGS         16

enum st_endpoint {
    ST_EP_SERIES = 0,
    ST_EP_TOP,
    ST_EP_USERS,
    ST_EP_BREAKDOWN,
    ST_EP_HEALTH,
    ST_EP_METRICS,
    ST_EP_COUNT
};

struct st_arg {
    const char  *key;
    const char  *value;             /* NULL for "?key" without '=' */
    size_t       len;
};

struct st_str {
    const char  *data;              /* NULL when the parameter is absent */
    size_t       len;
};

struct st_limits {
    int          max_days;
    int          max_hours;
    int          max_limit;
};

struct st_request {
    int            endpoint;
    struct st_str  app;
    struct st_str  module;
    struct st_str  action;
    struct st_str  object;          /* "" is a filter: events without object */
    int64_t        from;            /* days since the epoch, inclusive */
    int64_t        to;
    int            from_hour;       /* 0..23, 0 and 23 for whole days */
    int            to_hour;
    int            hourly;          /* interval=hour */
    int            single_day;      /* given as day= */
    unsigned       limit;
    int64_t        closed_before;   /* days before this one are closed */
};

struct st_error {
    int          status;
    const char  *code;
    char         message[256];
};

int st_endpoint_by_path(const char *prefix, const char *path);
const char *st_endpoint_name(int endpoint);

/* Fills req, or err (status 400) and returns -1. */
int st_parse_request(int endpoint, const struct st_arg *args, int nargs,
    const struct st_limits *limits, struct st_request *req,
    struct st_error *err);

/* Checks UTF-8 validity and the absence of control characters; returns the
 * number of code points, or -1. */
long st_utf8_chars(const char *s, size_t len);

void st_set_error(struct st_error *err, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
