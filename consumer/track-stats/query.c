/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: the statistics queries behind each endpoint, as JSON. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/date.h"
#include "common/log.h"

#include "cache.h"
#include "query.h"


/*
 * Every statement text is a fixed string (series filters pick one of the
 * precomputed variants), so statements are prepared once per connection and
 * every value travels as a bound parameter.  The counters are keyed by an
 * action's number: each statement finds it by name in stats_actions (a
 * lookup by its unique key, or a range of it for an app) and joins.
 */

#define F_MODULE  1
#define F_ACTION  2
#define F_OBJECT  4

static char  series_daily_sql[8][320];
static char  series_hourly_sql[8][320];

#define ACTION_JOIN(table)                                                   \
    " FROM stats_actions a JOIN " table " c ON c.action_id = a.id"

static const char  top_day_sql[] =
    "SELECT c.object, c.events" ACTION_JOIN("stats_daily")
    " WHERE a.app = ? AND a.module = ? AND a.action = ? AND c.day = ?"
    " AND c.object <> ''"
    " ORDER BY c.events DESC, c.object DESC LIMIT ?";

static const char  top_range_sql[] =
    "SELECT c.object, CAST(SUM(c.events) AS UNSIGNED) AS n"
    ACTION_JOIN("stats_daily")
    " WHERE a.app = ? AND a.module = ? AND a.action = ?"
    " AND c.day BETWEEN ? AND ? AND c.object <> ''"
    " GROUP BY c.object ORDER BY n DESC, c.object DESC LIMIT ?";

static const char  users_sql[] =
    "SELECT day, users FROM stats_daily_users"
    " WHERE app = ? AND module = ? AND action = ? AND day BETWEEN ? AND ?";

/*
 * breakdown: the (module, action) pairs of the app that have counters are
 * walked one at a time in stats_actions' unique key (the next pair after
 * the last one), and each pair's day is one tight range of stats_daily's
 * primary key.
 */
static const char  pair_first_sql[] =
    "SELECT module, action FROM stats_actions a WHERE app = ?"
    " AND EXISTS (SELECT 1 FROM stats_daily c WHERE c.action_id = a.id)"
    " ORDER BY module, action LIMIT 1";

static const char  pair_next_sql[] =
    "SELECT module, action FROM stats_actions a WHERE app = ?"
    " AND (module > ? OR (module = ? AND action > ?))"
    " AND EXISTS (SELECT 1 FROM stats_daily c WHERE c.action_id = a.id)"
    " ORDER BY module, action LIMIT 1";

static const char  pair_day_sql[] =
    "SELECT COUNT(*), CAST(SUM(c.events) AS UNSIGNED),"
    " CAST(SUM(c.object <> '') AS UNSIGNED),"
    " (SELECT users FROM stats_daily_users"
    " WHERE app = ? AND module = ? AND action = ? AND day = ?)"
    ACTION_JOIN("stats_daily")
    " WHERE a.app = ? AND a.module = ? AND a.action = ? AND c.day = ?";

#define MAX_PAIRS  100000

static const char  health_sql[] = "SELECT 1";


/* the three optional conditions of a series, for the %s%s%s of its SQL */
#define SERIES_FILTERS(f)                                                    \
    ((f) & F_MODULE) ? " AND a.module = ?" : "",                             \
    ((f) & F_ACTION) ? " AND a.action = ?" : "",                             \
    ((f) & F_OBJECT) ? " AND c.object = ?" : ""

void
tc_query_init(void)
{
    int  f;

    for (f = 0; f < 8; f++) {
        snprintf(series_daily_sql[f], sizeof(series_daily_sql[f]),
                 "SELECT c.day, CAST(SUM(c.events) AS UNSIGNED)"
                 ACTION_JOIN("stats_daily")
                 " WHERE a.app = ?%s%s%s AND c.day BETWEEN ? AND ?"
                 " GROUP BY c.day", SERIES_FILTERS(f));

        snprintf(series_hourly_sql[f], sizeof(series_hourly_sql[f]),
                 "SELECT c.day, c.hour, CAST(SUM(c.events) AS UNSIGNED)"
                 ACTION_JOIN("stats_hourly")
                 " WHERE a.app = ?%s%s%s AND c.day BETWEEN ? AND ?"
                 " GROUP BY c.day, c.hour", SERIES_FILTERS(f));
    }
}


/* Builds JSON while remembering whether any allocation failed. */
typedef struct {
    int  failed;
} tc_jb_t;


static void
jset(tc_jb_t *jb, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0) {
        jb->failed = 1;
    }
}


static void
jappend(tc_jb_t *jb, json_t *arr, json_t *v)
{
    if (v == NULL || json_array_append_new(arr, v) != 0) {
        jb->failed = 1;
    }
}


static json_t *
jstr(const tc_str_t *s)
{
    return json_stringn(s->data, s->len);
}


static json_t *
jint(unsigned long long v)
{
    return json_integer(v > (unsigned long long) LLONG_MAX
                        ? LLONG_MAX : (json_int_t) v);
}


static json_t *
jday(int64_t day)
{
    char  buf[TC_DAYS_LEN];

    tc_days_format(day, buf);
    return json_string(buf);
}


static json_t *
jhour(int64_t day, int hour)
{
    char  buf[TC_HOURS_LEN];

    tc_days_format_hour(day, hour, buf);
    return json_string(buf);
}


/* The filter as given, so a response says what it answers. */
static void
put_filter(tc_jb_t *jb, json_t *o, const tc_request_t *req)
{
    jset(jb, o, "app", jstr(&req->app));

    if (req->module.data != NULL) {
        jset(jb, o, "module", jstr(&req->module));
    }
    if (req->action.data != NULL) {
        jset(jb, o, "action", jstr(&req->action));
    }
    if (req->object.data != NULL) {
        jset(jb, o, "object", jstr(&req->object));
    }
}


static void
put_range(tc_jb_t *jb, json_t *o, const tc_request_t *req)
{
    if (req->hourly) {
        jset(jb, o, "from", jhour(req->from, req->from_hour));
        jset(jb, o, "to", jhour(req->to, req->to_hour));
    } else {
        jset(jb, o, "from", jday(req->from));
        jset(jb, o, "to", jday(req->to));
    }
}


int
tc_db_failed(tc_db_status_t rc, tc_error_t *err)
{
    switch (rc) {
    case TC_DB_OK:
        return 0;
    case TC_DB_UNAVAILABLE:
        tc_set_error(err, 503, "unavailable", "the database is unavailable");
        break;
    case TC_DB_TIMEOUT:
        tc_set_error(err, 503, "timeout", "the query took too long");
        break;
    default:
        tc_set_error(err, 500, "internal_error", "the query failed");
        break;
    }

    return 1;
}


/*
 * The object a query's rows were put into, or NULL with err set: a row
 * jansson could not take (out of memory, invalid UTF-8 stored) stops the
 * query with TC_DB_ERROR, so that is told apart from the database failing.
 */
static json_t *
finish_object(json_t *o, tc_db_status_t rc, const tc_jb_t *jb,
    tc_error_t *err)
{
    if (rc == TC_DB_ERROR && jb->failed) {
        tc_set_error(err, 500, "internal_error",
                     "out of memory or invalid UTF-8 in the database");
        json_decref(o);
        return NULL;
    }

    if (tc_db_failed(rc, err)) {
        json_decref(o);
        return NULL;
    }

    if (jb->failed) {
        json_decref(o);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    return o;
}


/*
 * series and users: counts per point of a zero-filled range, kept as whole
 * days (slots: 24 hours, or 1) from req->from to req->to, so that a closed
 * day can go to and come from the day cache as one piece.
 */

typedef struct {
    const tc_request_t       *req;
    unsigned long long       *v;
    long                      ndays;
    int                       slots;
} tc_points_t;


static tc_rc_t
points_alloc(tc_points_t *p, const tc_request_t *req, int slots)
{
    p->req = req;
    p->ndays = (long) (req->to - req->from + 1);
    p->slots = slots;
    p->v = calloc((size_t) (p->ndays * slots), sizeof(unsigned long long));

    return p->v != NULL ? TC_OK : TC_ERROR;
}


static tc_rc_t
series_row(void *arg, const tc_col_t *cols)
{
    tc_points_t    *p = arg;
    long            d;

    d = (long) (cols[0].day - p->req->from);
    if (d < 0 || d >= p->ndays) {
        return TC_OK;
    }

    if (p->slots == 24) {
        if (cols[1].u8 < 24) {
            p->v[d * 24 + cols[1].u8] += cols[2].u64;
        }
    } else {
        p->v[d] += cols[1].u64;
    }

    return TC_OK;
}


static json_t *
points_json(tc_jb_t *jb, const tc_points_t *p, const char *name,
    unsigned long long *total)
{
    long     i, n, first;
    json_t  *arr, *pt;

    *total = 0;

    arr = json_array();
    if (arr == NULL) {
        jb->failed = 1;
        return NULL;
    }

    if (p->slots == 24) {
        first = p->req->from_hour;
        n = (p->ndays - 1) * 24 + p->req->to_hour - first + 1;
    } else {
        first = 0;
        n = p->ndays;
    }

    for (i = first; i < first + n; i++) {
        pt = json_object();
        if (pt == NULL) {
            jb->failed = 1;
            break;
        }

        if (p->slots == 24) {
            jset(jb, pt, "t", jhour(p->req->from + i / 24, (int) (i % 24)));
        } else {
            jset(jb, pt, "t", jday(p->req->from + i));
        }

        jset(jb, pt, name, jint(p->v[i]));
        jappend(jb, arr, pt);
        *total += p->v[i];
    }

    return arr;
}


/* The cache key of one day of a series: every filter value with its length
 * (absent and empty differ), the interval and the day. */
static size_t
series_key(char *buf, const tc_request_t *req, int64_t day)
{
    size_t                i, n = 0;
    long long             d = (long long) day;
    const tc_str_t       *f[4];

    f[0] = &req->app;
    f[1] = &req->module;
    f[2] = &req->action;
    f[3] = &req->object;

    buf[n++] = req->hourly ? 'h' : 'd';

    for (i = 0; i < 4; i++) {
        if (f[i]->data == NULL) {
            buf[n++] = '-';
            continue;
        }
        buf[n++] = '+';
        memcpy(buf + n, &f[i]->len, sizeof(size_t));
        n += sizeof(size_t);
        memcpy(buf + n, f[i]->data, f[i]->len);
        n += f[i]->len;
    }

    memcpy(buf + n, &d, sizeof(d));
    return n + sizeof(d);
}

#define SERIES_KEY_MAX  (1 + 4 * (1 + sizeof(size_t) + TC_FIELD_MAX) + 8)


/* The first day that must come from the database: req->from, or the first
 * open day when every closed day of the range was in the cache. */
static int64_t
series_from_cache(tc_points_t *p, time_t now)
{
    char      key[SERIES_KEY_MAX];
    size_t    klen;
    int64_t   d, last_closed;

    if (!tc_cache_enabled()) {
        return p->req->from;
    }

    last_closed = p->req->closed_before - 1;
    if (last_closed > p->req->to) {
        last_closed = p->req->to;
    }

    for (d = p->req->from; d <= last_closed; d++) {
        klen = series_key(key, p->req, d);
        if (!tc_cache_get(key, klen, p->v + (d - p->req->from) * p->slots,
                          p->slots, now))
        {
            memset(p->v, 0, sizeof(p->v[0]) * (size_t) (p->ndays * p->slots));
            return p->req->from;
        }
    }

    return d;
}


static void
series_to_cache(const tc_points_t *p, int64_t from, time_t now)
{
    char     key[SERIES_KEY_MAX];
    size_t   klen;
    int64_t  d;

    if (!tc_cache_enabled()) {
        return;
    }

    for (d = from; d <= p->req->to && d < p->req->closed_before; d++) {
        klen = series_key(key, p->req, d);
        tc_cache_put(key, klen, p->v + (d - p->req->from) * p->slots,
                     p->slots, now);
    }
}


static json_t *
run_series(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err)
{
    int                 f = 0, np = 0, rc;
    time_t              now;
    json_t             *o, *arr;
    int64_t             query_from;
    tc_jb_t             jb = { 0 };
    const char         *sql;
    tc_points_t         p;
    tc_col_t            cols[3];
    tc_param_t          params[6];
    unsigned long long  total;

    memset(params, 0, sizeof(params));
    memset(cols, 0, sizeof(cols));

    if (points_alloc(&p, req, req->hourly ? 24 : 1) != TC_OK) {
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    now = time(NULL);
    query_from = series_from_cache(&p, now);

    if (query_from <= req->to) {
        params[np].type = TC_T_STR;
        params[np].str = req->app.data;
        params[np++].len = req->app.len;

        if (req->module.data != NULL) {
            f |= F_MODULE;
            params[np].type = TC_T_STR;
            params[np].str = req->module.data;
            params[np++].len = req->module.len;
        }
        if (req->action.data != NULL) {
            f |= F_ACTION;
            params[np].type = TC_T_STR;
            params[np].str = req->action.data;
            params[np++].len = req->action.len;
        }
        if (req->object.data != NULL) {
            f |= F_OBJECT;
            params[np].type = TC_T_STR;
            params[np].str = req->object.data;
            params[np++].len = req->object.len;
        }

        params[np].type = TC_T_DAY;
        params[np++].day = query_from;
        params[np].type = TC_T_DAY;
        params[np++].day = req->to;

        cols[0].type = TC_T_DAY;
        if (req->hourly) {
            sql = series_hourly_sql[f];
            cols[1].type = TC_T_U8;
            cols[2].type = TC_T_U64;
        } else {
            sql = series_daily_sql[f];
            cols[1].type = TC_T_U64;
        }

        rc = tc_db_query(pool, c, sql, params, np, cols, req->hourly ? 3 : 2,
                         series_row, &p);
        if (tc_db_failed(rc, err)) {
            free(p.v);
            return NULL;
        }

        series_to_cache(&p, query_from, now);
    }

    o = json_object();
    if (o == NULL) {
        free(p.v);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    put_filter(&jb, o, req);
    jset(&jb, o, "interval", json_string(req->hourly ? "hour" : "day"));
    put_range(&jb, o, req);
    arr = points_json(&jb, &p, "events", &total);
    jset(&jb, o, "total", jint(total));
    jset(&jb, o, "points", arr);

    free(p.v);

    if (jb.failed) {
        json_decref(o);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    return o;
}


static tc_rc_t
users_row(void *arg, const tc_col_t *cols)
{
    tc_points_t    *p = arg;
    long            d;

    d = (long) (cols[0].day - p->req->from);
    if (d >= 0 && d < p->ndays) {
        p->v[d] += cols[1].u64;
    }

    return TC_OK;
}


static void
bind_triple(tc_param_t *params, const tc_request_t *req)
{
    params[0].type = TC_T_STR;
    params[0].str = req->app.data;
    params[0].len = req->app.len;
    params[1].type = TC_T_STR;
    params[1].str = req->module.data;
    params[1].len = req->module.len;
    params[2].type = TC_T_STR;
    params[2].str = req->action.data;
    params[2].len = req->action.len;
}


static json_t *
run_users(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err)
{
    int                 rc;
    json_t             *o, *arr;
    tc_jb_t             jb = { 0 };
    tc_points_t         p;
    tc_col_t            cols[2];
    tc_param_t          params[5];
    unsigned long long  total;

    memset(params, 0, sizeof(params));
    memset(cols, 0, sizeof(cols));

    bind_triple(params, req);
    params[3].type = TC_T_DAY;
    params[3].day = req->from;
    params[4].type = TC_T_DAY;
    params[4].day = req->to;

    cols[0].type = TC_T_DAY;
    cols[1].type = TC_T_U64;

    if (points_alloc(&p, req, 1) != TC_OK) {
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    rc = tc_db_query(pool, c, users_sql, params, 5, cols, 2, users_row, &p);
    if (tc_db_failed(rc, err)) {
        free(p.v);
        return NULL;
    }

    o = json_object();
    if (o == NULL) {
        free(p.v);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    put_filter(&jb, o, req);
    put_range(&jb, o, req);
    arr = points_json(&jb, &p, "users", &total);
    jset(&jb, o, "points", arr);

    free(p.v);

    if (jb.failed) {
        json_decref(o);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    return o;
}


/* top */

typedef struct {
    tc_jb_t    *jb;
    json_t     *arr;
} tc_rows_t;


static tc_rc_t
top_row(void *arg, const tc_col_t *cols)
{
    tc_rows_t    *r = arg;
    json_t       *o;

    o = json_object();
    if (o == NULL) {
        return TC_ERROR;
    }

    jset(r->jb, o, "object", json_stringn(cols[0].str, cols[0].len));
    jset(r->jb, o, "events", jint(cols[1].u64));
    jappend(r->jb, r->arr, o);

    return r->jb->failed ? -1 : 0;
}


static json_t *
run_top(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err)
{
    int               rc, np;
    json_t           *o;
    tc_jb_t           jb = { 0 };
    tc_rows_t         r;
    const char       *sql;
    tc_col_t          cols[2];
    tc_param_t        params[6];

    memset(params, 0, sizeof(params));
    memset(cols, 0, sizeof(cols));

    bind_triple(params, req);
    params[3].type = TC_T_DAY;
    params[3].day = req->from;

    if (req->from == req->to) {
        sql = top_day_sql;
        np = 4;
    } else {
        sql = top_range_sql;
        params[4].type = TC_T_DAY;
        params[4].day = req->to;
        np = 5;
    }

    params[np].type = TC_T_U64;
    params[np++].u64 = req->limit;

    cols[0].type = TC_T_STR;
    cols[1].type = TC_T_U64;

    o = json_object();
    r.jb = &jb;
    r.arr = json_array();
    if (o == NULL || r.arr == NULL) {
        json_decref(o);
        json_decref(r.arr);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    put_filter(&jb, o, req);
    put_range(&jb, o, req);
    jset(&jb, o, "limit", json_integer(req->limit));

    rc = tc_db_query(pool, c, sql, params, np, cols, 2, top_row, &r);
    jset(&jb, o, "objects", r.arr);

    return finish_object(o, rc, &jb, err);
}


/* breakdown: pairs come ordered by module, then action */

typedef struct {
    tc_jb_t             *jb;
    json_t              *modules;
    json_t              *module;        /* the module being filled */
    json_t              *actions;
    char                 name[TC_FIELD_MAX];
    unsigned long        name_len;
    unsigned long long   module_events;
    unsigned long long   total;
} tc_breakdown_t;


static void
close_module(tc_breakdown_t *b)
{
    if (b->module != NULL) {
        jset(b->jb, b->module, "events", jint(b->module_events));
        jset(b->jb, b->module, "actions", b->actions);
        jappend(b->jb, b->modules, b->module);
        b->module = NULL;
        b->actions = NULL;
    }
}


static tc_rc_t
breakdown_row(void *arg, const tc_col_t *cols)
{
    tc_breakdown_t    *b = arg;
    json_t            *a;

    if (b->module == NULL || cols[0].len != b->name_len
        || memcmp(cols[0].str, b->name, b->name_len) != 0)
    {
        close_module(b);

        b->module = json_object();
        b->actions = json_array();
        if (b->module == NULL || b->actions == NULL) {
            b->jb->failed = 1;
            return TC_ERROR;
        }

        jset(b->jb, b->module, "module",
             json_stringn(cols[0].str, cols[0].len));
        memcpy(b->name, cols[0].str, cols[0].len);
        b->name_len = cols[0].len;
        b->module_events = 0;
    }

    a = json_object();
    if (a == NULL) {
        b->jb->failed = 1;
        return TC_ERROR;
    }

    jset(b->jb, a, "action", json_stringn(cols[1].str, cols[1].len));
    jset(b->jb, a, "events", jint(cols[2].u64));
    jset(b->jb, a, "objects", jint(cols[3].u64));
    jset(b->jb, a, "users", jint(cols[4].u64));
    jappend(b->jb, b->actions, a);

    b->module_events += cols[2].u64;
    b->total += cols[2].u64;

    return b->jb->failed ? -1 : 0;
}


typedef struct {
    int            found;
    char           module[TC_FIELD_MAX];
    unsigned long  module_len;
    char           action[TC_FIELD_MAX];
    unsigned long  action_len;
} tc_pair_t;


static tc_rc_t
pair_row(void *arg, const tc_col_t *cols)
{
    tc_pair_t    *p = arg;

    memcpy(p->module, cols[0].str, cols[0].len);
    p->module_len = cols[0].len;
    memcpy(p->action, cols[1].str, cols[1].len);
    p->action_len = cols[1].len;
    p->found = 1;

    return TC_OK;
}


typedef struct {
    tc_breakdown_t     *b;
    const tc_pair_t    *pair;
} tc_pair_day_t;


static tc_rc_t
pair_day_row(void *arg, const tc_col_t *cols)
{
    tc_pair_day_t    *pd = arg;
    tc_col_t          row[5];

    if (cols[0].u64 == 0) {
        return TC_OK;               /* the pair has no events that day */
    }

    memset(row, 0, sizeof(row));
    memcpy(row[0].str, pd->pair->module, pd->pair->module_len);
    row[0].len = pd->pair->module_len;
    memcpy(row[1].str, pd->pair->action, pd->pair->action_len);
    row[1].len = pd->pair->action_len;
    row[2].u64 = cols[1].u64;
    row[3].u64 = cols[2].u64;
    row[4].u64 = cols[3].u64;

    return breakdown_row(pd->b, row);
}


static void
bind_str(tc_param_t *p, const char *s, unsigned long len)
{
    p->type = TC_T_STR;
    p->str = s;
    p->len = len;
}


static int
walk_pairs(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_breakdown_t *b)
{
    int               rc, i, n;
    tc_pair_t         cur, next;
    tc_col_t          cols[4];
    tc_param_t        params[8];
    tc_pair_day_t     pd;

    memset(params, 0, sizeof(params));
    memset(cols, 0, sizeof(cols));
    cols[0].type = TC_T_STR;
    cols[1].type = TC_T_STR;

    bind_str(&params[0], req->app.data, req->app.len);
    cur.found = 0;
    rc = tc_db_query(pool, c, pair_first_sql, params, 1, cols, 2, pair_row,
                     &cur);

    pd.b = b;
    pd.pair = &cur;

    for (n = 0; rc == TC_DB_OK && cur.found; n++) {
        if (n == MAX_PAIRS) {
            tc_log_error("breakdown of an app with more than %d module/action "
                         "pairs", MAX_PAIRS);
            return TC_DB_ERROR;
        }

        for (i = 0; i < 2; i++) {
            bind_str(&params[i * 4], req->app.data, req->app.len);
            bind_str(&params[i * 4 + 1], cur.module, cur.module_len);
            bind_str(&params[i * 4 + 2], cur.action, cur.action_len);
            params[i * 4 + 3].type = TC_T_DAY;
            params[i * 4 + 3].day = req->from;
        }

        cols[0].type = TC_T_U64;
        cols[1].type = TC_T_U64;
        cols[2].type = TC_T_U64;
        cols[3].type = TC_T_U64;
        rc = tc_db_query(pool, c, pair_day_sql, params, 8, cols, 4,
                         pair_day_row, &pd);
        if (rc != TC_DB_OK) {
            break;
        }

        bind_str(&params[0], req->app.data, req->app.len);
        bind_str(&params[1], cur.module, cur.module_len);
        bind_str(&params[2], cur.module, cur.module_len);
        bind_str(&params[3], cur.action, cur.action_len);
        cols[0].type = TC_T_STR;
        cols[1].type = TC_T_STR;
        next.found = 0;
        rc = tc_db_query(pool, c, pair_next_sql, params, 4, cols, 2,
                         pair_row, &next);
        memcpy(&cur, &next, sizeof(cur));
    }

    return rc;
}


static json_t *
run_breakdown(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err)
{
    int                rc;
    json_t            *o;
    tc_jb_t            jb = { 0 };
    tc_breakdown_t     b;

    memset(&b, 0, sizeof(b));

    o = json_object();
    b.jb = &jb;
    b.modules = json_array();
    if (o == NULL || b.modules == NULL) {
        json_decref(o);
        json_decref(b.modules);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    jset(&jb, o, "app", jstr(&req->app));
    jset(&jb, o, "day", jday(req->from));

    rc = walk_pairs(pool, c, req, &b);
    close_module(&b);
    json_decref(b.module);
    json_decref(b.actions);

    jset(&jb, o, "events", jint(b.total));
    jset(&jb, o, "modules", b.modules);

    return finish_object(o, rc, &jb, err);
}


static tc_rc_t
health_row(void *arg, const tc_col_t *cols)
{
    (void) arg;
    (void) cols;
    return TC_OK;
}


static json_t *
run_health(tc_pool_t *pool, tc_conn_t *c, tc_error_t *err)
{
    int            rc;
    tc_col_t       col;

    memset(&col, 0, sizeof(col));
    col.type = TC_T_U64;

    rc = tc_db_query(pool, c, health_sql, NULL, 0, &col, 1, health_row,
                     NULL);
    if (tc_db_failed(rc, err)) {
        return NULL;
    }

    return json_pack("{ss}", "status", "ok");
}


json_t *
tc_query_run(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err)
{
    switch (req->endpoint) {
    case TC_EP_SERIES:
        return run_series(pool, c, req, err);
    case TC_EP_TOP:
        return run_top(pool, c, req, err);
    case TC_EP_USERS:
        return run_users(pool, c, req, err);
    case TC_EP_BREAKDOWN:
        return run_breakdown(pool, c, req, err);
    default:
        return run_health(pool, c, err);
    }
}
