/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: unit tests of the parts that need no database or network:
 * dates, parameter validation, token check, ETag, the common/ parts it
 * used to have its own of. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/date.h"
#include "common/db.h"
#include "common/log.h"
#include "common/options.h"
#include "common/rc.h"
#include "common/test.h"

#include "cache.h"
#include "http.h"
#include "params.h"


static const tc_limits_t       limits = { 366, 744, 1000 };


static void
test_dates(void)
{
    int      y, m, d, h;
    int64_t  day, i;
    char     buf[TC_HOURS_LEN];

    CHECK(tc_days_from_civil(1970, 1, 1) == 0, "epoch");
    CHECK(tc_days_from_civil(2000, 3, 1) == 11017, "2000-03-01");
    CHECK(tc_days_from_civil(2024, 2, 29) + 1
          == tc_days_from_civil(2024, 3, 1), "leap day");

    for (i = tc_days_from_civil(1000, 1, 1);
         i <= tc_days_from_civil(9999, 12, 31); i += 37)
    {
        tc_days_to_civil(i, &y, &m, &d);
        if (tc_days_from_civil(y, m, d) != i) {
            CHECK(0, "round trip of day %lld", (long long) i);
            break;
        }
    }

    CHECK(tc_days_parse("2024-02-29", 10, &day, &h) == TC_OK && h == -1,
          "leap day parses");
    tc_days_format(day, buf);
    CHECK(strcmp(buf, "2024-02-29") == 0, "format %s", buf);

    CHECK(tc_days_parse("2024-11-05T07", 13, &day, &h) == TC_OK && h == 7,
          "hour parses");
    tc_days_format_hour(day, h, buf);
    CHECK(strcmp(buf, "2024-11-05T07") == 0, "format %s", buf);

    CHECK(tc_days_parse("2023-02-29", 10, &day, &h) != TC_OK, "no 2023-02-29");
    CHECK(tc_days_parse("1900-02-29", 10, &day, &h) != TC_OK, "no 1900-02-29");
    CHECK(tc_days_parse("2000-02-29", 10, &day, &h) == TC_OK, "2000-02-29");
    CHECK(tc_days_parse("2024-04-31", 10, &day, &h) != TC_OK, "no April 31");
    CHECK(tc_days_parse("2024-13-01", 10, &day, &h) != TC_OK, "month 13");
    CHECK(tc_days_parse("2024-00-10", 10, &day, &h) != TC_OK, "month 0");
    CHECK(tc_days_parse("2024-01-00", 10, &day, &h) != TC_OK, "day 0");
    CHECK(tc_days_parse("0999-01-01", 10, &day, &h) != TC_OK, "year 999");
    CHECK(tc_days_parse("2024-1-01x", 10, &day, &h) != TC_OK, "short month");
    CHECK(tc_days_parse("2024/01/01", 10, &day, &h) != TC_OK, "slashes");
    CHECK(tc_days_parse("+024-01-01", 10, &day, &h) != TC_OK, "sign");
    CHECK(tc_days_parse("2024-01-01T24", 13, &day, &h) != TC_OK, "hour 24");
    CHECK(tc_days_parse("2024-01-01 05", 13, &day, &h) != TC_OK, "space");
    CHECK(tc_days_parse("2024-01-01T5", 12, &day, &h) != TC_OK, "one digit");
    CHECK(tc_days_parse("2024-01-01T05:00", 16, &day, &h) != TC_OK, "minutes");
    CHECK(tc_days_parse("", 0, &day, &h) != TC_OK, "empty");
}


static int
parse(int ep, const char *query, tc_request_t *req,
    tc_error_t *err)
{
    static char    buf[4096];
    tc_arg_t       args[64];
    char          *p, *amp, *eq;
    int            n = 0;

    snprintf(buf, sizeof(buf), "%s", query);

    for (p = buf; p != NULL && *p != '\0'; p = amp) {
        amp = strchr(p, '&');
        if (amp != NULL) {
            *amp++ = '\0';
        }
        eq = strchr(p, '=');
        if (eq != NULL) {
            *eq++ = '\0';
        }
        args[n].key = p;
        args[n].value = eq;
        args[n].len = eq != NULL ? strlen(eq) : 0;
        n++;
    }

    memset(err, 0, sizeof(*err));
    return tc_parse_request(ep, args, n, &limits, req, err);
}


static void
expect_error(int ep, const char *query, const char *code)
{
    tc_error_t         err;
    tc_request_t       req;

    if (parse(ep, query, &req, &err) == 0) {
        CHECK(0, "%s?%s accepted, expected %s", tc_endpoint_name(ep), query,
              code);
        return;
    }

    CHECK(err.status == 400 && strcmp(err.code, code) == 0,
          "%s?%s: got %d %s (%s), expected %s", tc_endpoint_name(ep), query,
          err.status, err.code, err.message, code);
}


static void
test_params(void)
{
    char               q[1024], big[600];
    tc_error_t         err;
    tc_request_t       req;

    CHECK(parse(TC_EP_SERIES, "app=shop&from=2024-11-01&to=2024-11-30",
                &req, &err) == 0, "series: %s", err.message);
    CHECK(!req.hourly && req.to - req.from == 29 && req.module.data == NULL
          && req.object.data == NULL, "series fields");

    CHECK(parse(TC_EP_SERIES, "app=shop&object=&day=2024-11-01"
                "&interval=hour", &req, &err) == 0, "series with day");
    CHECK(req.hourly && req.object.data != NULL && req.object.len == 0
          && req.from == req.to && req.from_hour == 0 && req.to_hour == 23,
          "object= filters on no object; day covers 24 hours");

    CHECK(parse(TC_EP_SERIES, "app=shop&from=2024-11-01T22&to=2024-11-02T01"
                "&interval=hour", &req, &err) == 0, "hour range");
    CHECK(req.from_hour == 22 && req.to_hour == 1, "hours kept");

    CHECK(parse(TC_EP_SERIES, "app=shop&from=2024-01-01&to=2024-12-31",
                &req, &err) == 0, "366 days is allowed");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01&to=2025-01-01",
                 "range_too_long");
    CHECK(parse(TC_EP_SERIES, "app=shop&from=2024-01-01&to=2024-01-31"
                "&interval=hour", &req, &err) == 0, "744 hours allowed");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01&to=2024-02-01"
                 "&interval=hour", "range_too_long");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01T05&to=2024-02-01T05"
                 "&interval=hour", "range_too_long");

    expect_error(TC_EP_SERIES, "from=2024-01-01&to=2024-01-02",
                 "missing_parameter");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01",
                 "missing_parameter");
    expect_error(TC_EP_SERIES, "app=shop", "missing_parameter");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-02&to=2024-01-01",
                 "invalid_range");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01T05&to=2024-01-01T04"
                 "&interval=hour", "invalid_range");
    expect_error(TC_EP_SERIES, "app=shop&day=2024-01-01&from=2024-01-01"
                 "&to=2024-01-01", "invalid_range");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-01-01T05&to=2024-01-02",
                 "invalid_date");
    expect_error(TC_EP_SERIES, "app=shop&from=2024-02-30&to=2024-03-01",
                 "invalid_date");
    expect_error(TC_EP_SERIES, "app=shop&from=yesterday&to=2024-03-01",
                 "invalid_date");
    expect_error(TC_EP_SERIES, "app=shop&day=2024-01-01T05&interval=hour",
                 "invalid_date");
    expect_error(TC_EP_SERIES, "app=shop&day=2024-01-01&interval=week",
                 "invalid_value");
    expect_error(TC_EP_SERIES, "app=shop&day=2024-01-01&limit=5",
                 "unknown_parameter");
    expect_error(TC_EP_SERIES, "app=shop&day=2024-01-01&APP=x",
                 "unknown_parameter");
    expect_error(TC_EP_SERIES, "app=shop&app=shop&day=2024-01-01",
                 "duplicate_parameter");
    expect_error(TC_EP_SERIES, "app=&day=2024-01-01", "invalid_value");
    expect_error(TC_EP_SERIES, "app&day=2024-01-01", "invalid_value");
    expect_error(TC_EP_SERIES, "app=a\tb&day=2024-01-01", "invalid_value");
    expect_error(TC_EP_SERIES, "app=\xff&day=2024-01-01", "invalid_value");
    expect_error(TC_EP_SERIES, "app=\xc0\xaf&day=2024-01-01",
                 "invalid_value");
    expect_error(TC_EP_SERIES, "app=\xed\xa0\x80&day=2024-01-01",
                 "invalid_value");
    expect_error(TC_EP_SERIES, "app=\xe2\x82&day=2024-01-01",
                 "invalid_value");

    memset(big, 'x', 128);
    big[128] = '\0';
    snprintf(q, sizeof(q), "app=%s&day=2024-01-01", big);
    CHECK(parse(TC_EP_SERIES, q, &req, &err) == 0, "128 characters pass");
    big[128] = 'x';
    big[129] = '\0';
    snprintf(q, sizeof(q), "app=%s&day=2024-01-01", big);
    expect_error(TC_EP_SERIES, q, "value_too_long");

    /* 128 characters of 4 bytes each pass, 129 do not */
    q[0] = '\0';
    strcat(q, "app=");
    for (int i = 0; i < 128; i++) {
        strcat(q, "\xf0\x9f\x98\x80");
    }
    strcat(q, "&day=2024-01-01");
    CHECK(parse(TC_EP_SERIES, q, &req, &err) == 0, "128 emoji pass: %s",
          err.message);
    memmove(q + 8, q + 4, strlen(q + 4) + 1);
    memcpy(q + 4, "\xf0\x9f\x98\x80", 4);
    expect_error(TC_EP_SERIES, q, "value_too_long");

    CHECK(parse(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01", &req,
                &err) == 0 && req.limit == 10 && req.single_day, "top");
    CHECK(parse(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                "&limit=1000", &req, &err) == 0 && req.limit == 1000,
          "limit 1000");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&limit=1001", "invalid_value");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&limit=0", "invalid_value");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&limit=-1", "invalid_value");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&limit=99999999999", "invalid_value");
    expect_error(TC_EP_TOP, "app=a&module=m&day=2024-11-01",
                 "missing_parameter");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&object=1", "unknown_parameter");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&from=2024-11-01T01"
                 "&to=2024-11-02", "invalid_date");
    expect_error(TC_EP_TOP, "app=a&module=m&action=c&day=2024-11-01"
                 "&interval=hour", "unknown_parameter");

    CHECK(parse(TC_EP_USERS, "app=a&module=m&action=c&from=2024-11-01"
                "&to=2024-11-07", &req, &err) == 0, "users");
    expect_error(TC_EP_USERS, "app=a&module=m&from=2024-11-01"
                 "&to=2024-11-07", "missing_parameter");

    CHECK(parse(TC_EP_BREAKDOWN, "app=a&day=2024-11-01", &req, &err) == 0,
          "breakdown");
    expect_error(TC_EP_BREAKDOWN, "app=a", "missing_parameter");
    expect_error(TC_EP_BREAKDOWN, "app=a&from=2024-11-01&to=2024-11-02",
                 "unknown_parameter");

    CHECK(parse(TC_EP_HEALTH, "", &req, &err) == 0, "health");
    expect_error(TC_EP_HEALTH, "x=1", "unknown_parameter");

    expect_error(TC_EP_SERIES, "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1"
                 "&l=1&m=1&n=1&o=1&p=1&q=1", "too_many_parameters");

    CHECK(tc_endpoint_by_path("/stats/v1", "/stats/v1/series")
          == TC_EP_SERIES, "route series");
    CHECK(tc_endpoint_by_path("/stats/v1", "/stats/v1/breakdown")
          == TC_EP_BREAKDOWN, "route breakdown");
    CHECK(tc_endpoint_by_path("/stats/v1", "/stats/v1/series/") == -1,
          "no trailing slash");
    CHECK(tc_endpoint_by_path("/stats/v1", "/stats/v1series") == -1,
          "prefix boundary");
    CHECK(tc_endpoint_by_path("/stats/v1", "/stats/v2/series") == -1,
          "other prefix");
    CHECK(tc_endpoint_by_path("/stats/v1", "/") == -1, "root");
}


static void
test_http_helpers(void)
{
    char  e1[19], e2[19];

    CHECK(tc_token_equal("secret", 6, "secret", 6), "same token");
    CHECK(!tc_token_equal("secreT", 6, "secret", 6), "differs");
    CHECK(!tc_token_equal("secre", 5, "secret", 6), "prefix");
    CHECK(!tc_token_equal("secretsecret", 12, "secret", 6), "repeated");
    CHECK(!tc_token_equal("", 0, "secret", 6), "empty given");
    CHECK(!tc_token_equal("", 0, "", 0), "empty secret never matches");

    CHECK(tc_bearer_ok("Bearer secret", "secret"), "bearer");
    CHECK(tc_bearer_ok("bearer   secret ", "secret"), "case, spaces");
    CHECK(!tc_bearer_ok("Basic secret", "secret"), "basic");
    CHECK(!tc_bearer_ok("Bearer", "secret"), "no token");
    CHECK(!tc_bearer_ok(NULL, "secret"), "no header");
    CHECK(!tc_bearer_ok("Bearer secret2", "secret"), "longer");

    tc_etag("{}", 2, e1);
    tc_etag("{ }", 3, e2);
    CHECK(strlen(e1) == 18 && e1[0] == '"' && e1[17] == '"', "etag form");
    CHECK(strcmp(e1, e2) != 0, "bodies differ, tags differ");

    CHECK(tc_etag_matches(e1, e1), "exact");
    CHECK(tc_etag_matches("*", e1), "star");
    CHECK(!tc_etag_matches(e2, e1), "other tag");
    CHECK(!tc_etag_matches(NULL, e1), "absent");
    {
        char  list[64];

        snprintf(list, sizeof(list), "%s, W/%s", e2, e1);
        CHECK(tc_etag_matches(list, e1), "weak tag in a list");
        snprintf(list, sizeof(list), "%.17sx\"", e1);
        CHECK(!tc_etag_matches(list, e1), "near miss");
    }
}


static void
test_cache(void)
{
    int                 i, hits;
    char                key[32];
    unsigned long long  v[24], w[24];

    CHECK(!tc_cache_enabled(), "off before init");
    CHECK(!tc_cache_get("k", 1, w, 1, 1000), "no hit while off");

    CHECK(tc_cache_init(16, 60) == TC_OK && tc_cache_enabled(), "init");

    for (i = 0; i < 24; i++) {
        v[i] = (unsigned long long) i * 1000;
    }
    tc_cache_put("hourly", 6, v, 24, 1000);
    memset(w, 0, sizeof(w));
    CHECK(tc_cache_get("hourly", 6, w, 24, 1010)
          && memcmp(v, w, sizeof(v)) == 0, "24 values back");
    CHECK(!tc_cache_get("hourly", 6, w, 1, 1010), "other width misses");
    CHECK(!tc_cache_get("hourl", 5, w, 24, 1010), "prefix misses");
    CHECK(!tc_cache_get("hourly", 6, w, 24, 1060), "expired after ttl");

    v[0] = 7;
    tc_cache_put("hourly", 6, v, 24, 1100);
    CHECK(tc_cache_get("hourly", 6, w, 24, 1100) && w[0] == 7,
          "replaced in place");

    /* far more keys than entries: no crash, recent ones mostly kept */
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        v[0] = (unsigned long long) i;
        tc_cache_put(key, strlen(key), v, 1, 2000);
    }
    hits = 0;
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (tc_cache_get(key, strlen(key), w, 1, 2000)) {
            CHECK(w[0] == (unsigned long long) i, "value of %s", key);
            hits++;
        }
    }
    CHECK(hits > 0 && hits <= 16, "bounded: %d of 1000 kept", hits);

    tc_cache_free();
    CHECK(!tc_cache_enabled(), "off after free");
}


/* Random parameter lists: every one is accepted or refused with a 400 and
 * a reason, never anything else (and nothing for ASan to see). */
static void
test_random_params(void)
{
    int                 i, j, k, n, bad = 0;
    char                vals[TC_MAX_ARGS + 2][64];
    size_t              len;
    unsigned            seed = 12345;
    tc_arg_t            args[TC_MAX_ARGS + 2];
    tc_error_t          err;
    tc_request_t        req;

    static const char  *keys[] = { "app", "module", "action", "object", "day",
                                   "from", "to", "interval", "limit", "x",
                                   "" };
    static const char  *pieces[] = { "2024-02-29", "2023-02-29", "T05", "T24",
                                     "hour", "day", "10", "0", "\xc3\xa4",
                                     "\xff", "a", "-", "", "1000",
                                     "2024-01-01", "9999-12-31" };

#define RND()  (seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff)

    for (i = 0; i < 200000; i++) {
        n = (int) (RND() % (TC_MAX_ARGS + 2));
        for (j = 0; j < n; j++) {
            vals[j][0] = '\0';
            len = 0;
            for (k = (int) (RND() % 3); k >= 0; k--) {
                const char  *p = pieces[RND() % (sizeof(pieces)
                                                 / sizeof(pieces[0]))];
                if (len + strlen(p) < sizeof(vals[j])) {
                    strcat(vals[j], p);
                    len += strlen(p);
                }
            }
            args[j].key = keys[RND() % (sizeof(keys) / sizeof(keys[0]))];
            args[j].value = RND() % 10 ? vals[j] : NULL;
            args[j].len = args[j].value ? len : 0;
        }

        memset(&err, 0, sizeof(err));
        if (tc_parse_request((int) (RND() % TC_EP_COUNT), args, n, &limits,
                             &req, &err) != TC_OK
            && (err.status != 400 || err.code == NULL
                || err.message[0] == '\0'))
        {
            bad++;
        }

        if (err.status == 0 && req.endpoint != TC_EP_HEALTH
            && req.endpoint != TC_EP_BREAKDOWN
            && (req.from > req.to || req.limit < 1 || req.limit > 1000))
        {
            bad++;
        }
    }

    CHECK(bad == 0, "%d of 200000 random requests broke a rule", bad);
}


/*
 * The parts of common/ where track-stats used to differ from the consumer:
 * the time-zone check both must agree on, and settings read from a table.
 */
typedef struct {
    char  *name;
    long   n;
    long   level;
} tc_test_conf_t;

#define OFF(f)  offsetof(tc_test_conf_t, f)

static const tc_opt_t  test_opts[] = {
    { "some-name", TC_OPT_STR, OFF(name), "dflt", 0, 0, NULL, "a string" },
    { "n", TC_OPT_LONG, OFF(n), "4", 1, 256, NULL, "a number" },
    { "level", TC_OPT_LEVEL, OFF(level), "info", 0, 0, NULL, "a level" },
};


static void
test_common(void)
{
    char             err[256];
    char            *ok[] = { "t", "--some_name=x", "--n", "9", NULL };
    char            *bad[] = { "t", "--some-nam", "x", NULL };
    tc_test_conf_t   c;

    static const tc_opt_table_t  table = TC_OPT_TABLE(test_opts);

    CHECK(tc_tz_set("America") == TC_ERROR, "a zoneinfo directory refused");
    CHECK(tc_tz_set(":../../etc/passwd") == TC_ERROR, "':' path refused");
    CHECK(tc_tz_set("CST-8") == TC_OK, "POSIX TZ string");
    CHECK(tc_tz_set("UTC") == TC_OK, "UTC");

    memset(&c, 0, sizeof(c));
    tc_opt_defaults(&table, &c);
    CHECK(strcmp(c.name, "dflt") == 0 && c.n == 4 && c.level == TC_LOG_INFO,
          "defaults");

    setenv("TC_UNIT_N", "7", 1);
    setenv("TC_UNIT_LEVEL", "DEBUG", 1);
    CHECK(tc_opt_load_env(&table, &c, "TC_UNIT_", err, sizeof(err)) == TC_OK
          && c.n == 7 && c.level == TC_LOG_DEBUG, "environment: %s", err);

    CHECK(tc_opt_parse_flags(&table, &c, 4, ok, NULL, err, sizeof(err))
          == TC_OK && strcmp(c.name, "x") == 0 && c.n == 9,
          "flags win, '_' for '-': %s", err);

    CHECK(tc_opt_parse_flags(&table, &c, 3, bad, NULL, err, sizeof(err))
          == TC_ERROR && strstr(err, "unknown setting") != NULL,
          "a misspelt flag is an error: %s", err);

    setenv("TC_UNIT_N", "0", 1);
    CHECK(tc_opt_load_env(&table, &c, "TC_UNIT_", err, sizeof(err))
          == TC_ERROR && strstr(err, "TC_UNIT_N") != NULL,
          "a bad environment value names its variable: %s", err);
    unsetenv("TC_UNIT_N");
    unsetenv("TC_UNIT_LEVEL");

    tc_opt_free(&table, &c);
    CHECK(c.name == NULL, "strings freed");
}


/* mysql-host lists: the socket alone, else the list, default ports */
static void
test_db_hosts(void)
{
    char           err[200];
    size_t         cursor;
    tc_db_login_t  l;

    memset(&l, 0, sizeof(l));
    CHECK(tc_db_hosts_parse(&l, "db1:3307, db2,[::1]:3308", 3306, "", err,
                            sizeof(err)) == TC_OK, "a list: %s", err);
    CHECK(l.n == 3, "three hosts, not %zu", l.n);
    if (l.n == 3) {
        CHECK(strcmp(l.hosts[0].host, "db1") == 0 && l.hosts[0].port == 3307,
              "db1:3307");
        CHECK(strcmp(l.hosts[1].host, "db2") == 0 && l.hosts[1].port == 3306,
              "db2 on the default port");
        CHECK(strcmp(l.hosts[2].host, "::1") == 0 && l.hosts[2].port == 3308,
              "[::1]:3308");
    }

    CHECK(tc_db_hosts_parse(&l, "db1,db2", 3306, "/run/m.sock", err,
                            sizeof(err)) == TC_OK, "a socket: %s", err);
    CHECK(l.n == 1 && l.hosts[0].port == 0
          && strcmp(l.hosts[0].host, "/run/m.sock") == 0,
          "the socket alone, the list ignored");

    CHECK(tc_db_hosts_parse(&l, "db1:0", 3306, "", err, sizeof(err))
          == TC_ERROR, "port 0 refused");
    CHECK(strstr(err, "mysql_host") != NULL, "the error names the setting: %s",
          err);
    CHECK(l.n == 0 && l.hosts == NULL, "nothing kept after an error");

    /* nothing listens on these: every host tried once, then NULL */
    CHECK(tc_db_hosts_parse(&l, "127.0.0.1:1,127.0.0.1:2", 3306, "", err,
                            sizeof(err)) == TC_OK, "two ports: %s", err);
    l.timeout = 1;
    cursor = 5;
    tc_log_level = TC_LOG_ERROR;
    CHECK(tc_db_connect(&l, &cursor, err, sizeof(err)) == NULL,
          "no host answers: NULL");
    CHECK(cursor == 5, "the cursor stays when no host answered");
    tc_db_hosts_free(&l);
}


int
main(int argc, char **argv)
{
    test_dates();
    test_params();
    test_http_helpers();
    test_cache();
    test_random_params();
    test_common();
    test_db_hosts();

    return tc_test_done("track-stats unit", argc > 1 ? argv[1] : NULL);
}
