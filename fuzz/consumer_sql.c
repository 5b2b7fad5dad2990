/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the consumer's SQL value building (sql.c) on arbitrary
 * bytes, below what the decoder would let through: invalid UTF-8, NUL,
 * quotes, backslashes, multibyte tails.  The input is split at "@@" into the
 * string fields of an event (eid, app, module, action, object, uid, ip, ua,
 * referer, props, fields), then a day and a table template.  Every value
 * must read back, through the server's lexing rules, as the bytes quoted.
 */

#include <inttypes.h>
#include <string.h>

#include <mysql.h>

#include "fuzz_util.h"
#include "sql_check.h"

#include "batch.h"
#include "common/date.h"
#include "event.h"
#include "sql.h"


static MYSQL  *fz_mysql;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_mysql = mysql_init(NULL);
    FZ_CHECK(fz_mysql != NULL, "mysql_init");
    mysql_options(fz_mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");

    return 0;
}


static void
check_quote(const unsigned char *s, size_t n)
{
    tc_buf_t        b;
    fz_sql_value_t  v;

    tc_buf_init(&b);
    tc_sql_quote(&b, fz_mysql, (const char *) s, n);
    FZ_CHECK(!b.failed && b.len <= 2 * n + 2, "quoted in %zu bytes", b.len);
    FZ_CHECK(fz_sql_literal(b.data, b.len, &v) == 0,
             "one literal: %.*s", (int) b.len, b.data);
    FZ_CHECK(v.len == n && (n == 0 || memcmp(v.data, s, n) == 0),
             "reads back as the bytes quoted");
    free(v.data);
    tc_buf_free(&b);
}


static void
check_day(uint32_t day)
{
    char      table[16], date[11], want[16];
    uint32_t  back;

    tc_day_table(day, table);
    snprintf(want, sizeof(want), "events_%08" PRIu32, day % 100000000);
    FZ_CHECK(strcmp(table, want) == 0, "table name %s", table);

    back = tc_day_parse_table(table);
    FZ_CHECK(back == 0 || back == day % 100000000, "parses back");

    tc_day_date(day, date);
    FZ_CHECK(strlen(date) == 10 && date[4] == '-' && date[7] == '-',
             "date %s", date);
}


static void
check_template(const unsigned char *t, size_t n, uint32_t day)
{
    char         *tmpl, table[16];
    size_t        count;
    tc_buf_t      b;
    const char   *p;

    tmpl = malloc(n + 1);
    memcpy(tmpl, t, n);
    tmpl[n] = '\0';

    count = 0;
    for (p = tmpl; (p = strstr(p, "@TABLE@")) != NULL; p += 7) {
        count++;
    }

    tc_day_table(day, table);

    tc_buf_init(&b);
    tc_sql_day_table(&b, tmpl, day);
    FZ_CHECK(!b.failed && b.len == strlen(tmpl) + count * (strlen(table) - 7),
             "every @TABLE@ replaced once");
    FZ_CHECK(tc_buf_cstr(&b) != NULL && strstr(b.data, "@TABLE@") == NULL,
             "no @TABLE@ left");
    tc_buf_free(&b);
    free(tmpl);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   n, i;
    size_t                len, k;
    uint32_t              day;
    tc_buf_t              b;
    tc_agg_t              agg;
    tc_str_t             *s;
    tc_event_t            ev;
    fz_split_t            sp;
    fz_sql_value_t        v[FZ_SQL_MAX_VALUES];
    const unsigned char  *f;

    tc_str_t  *fields[] = {
        &ev.eid, &ev.app, &ev.module, &ev.action, &ev.object, &ev.uid,
        &ev.ip, &ev.ua, &ev.referer, &ev.props, &ev.fields, NULL
    };

    /* value index in the event row of each of the fields above */
    static const int  column[] = { 1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13 };

    memset(&ev, 0, sizeof(ev));
    fz_split_init(&sp, data, size);

    for (k = 0; fields[k]; k++) {
        if (!fz_split_next(&sp, &f, &len)) {
            break;
        }

        /* "\x01" stands for an absent value */
        if (len == 1 && f[0] == 1) {
            continue;
        }

        fields[k]->data = (const char *) f;
        fields[k]->len = len;
        check_quote(f, len);
    }

    day = 20241125;
    if (fz_split_next(&sp, &f, &len) && len >= 4) {
        memcpy(&day, f, 4);
    }
    check_day(day);

    if (fz_split_next(&sp, &f, &len)) {
        check_template(f, len, day);
    }

    ev.day = day;
    ev.hour = size % 24;
    ev.recv_ts = (int64_t) (size * 977);
    ev.has_ts = size & 1;
    ev.ts = -(int64_t) size;

    tc_buf_init(&b);
    tc_sql_event_row(&b, fz_mysql, &ev, size);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 14, "event row of 14 values: %.*s", (int) b.len, b.data);
    FZ_CHECK(v[0].kind == FZ_SQL_INT, "the row's id first");

    for (i = 0; fields[i]; i++) {
        s = fields[i];
        FZ_CHECK(fz_sql_is(&v[column[i]], s->data, s->len),
                 "value %d reads back", column[i]);
    }
    FZ_CHECK(ev.has_ts ? v[8].kind == FZ_SQL_INT : v[8].kind == FZ_SQL_NULL,
             "ts");
    fz_sql_free(v, n);

    agg.ev = &ev;
    agg.n = size;
    agg.action_id = UINT32_MAX;

    tc_buf_reset(&b);
    tc_sql_hourly_row(&b, fz_mysql, &agg);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 5, "hourly row: %.*s", (int) b.len, b.data);
    FZ_CHECK(fz_sql_is(&v[2], "4294967295", 10), "hourly action number");
    FZ_CHECK(fz_sql_is(&v[3], ev.object.data ? ev.object.data : "",
                       ev.object.len), "hourly object");
    fz_sql_free(v, n);

    tc_buf_reset(&b);
    tc_sql_daily_row(&b, fz_mysql, &agg);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 4, "daily row: %.*s", (int) b.len, b.data);
    FZ_CHECK(fz_sql_is(&v[1], "4294967295", 10), "daily action number");
    fz_sql_free(v, n);

    tc_buf_reset(&b);
    tc_sql_seen_row(&b, fz_mysql, &ev, UINT32_MAX);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 3, "seen row: %.*s", (int) b.len, b.data);
    fz_sql_free(v, n);

    tc_buf_reset(&b);
    tc_sql_action_row(&b, fz_mysql, &ev);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 3, "action row: %.*s", (int) b.len, b.data);
    fz_sql_free(v, n);

    tc_buf_reset(&b);
    tc_sql_users_row(&b, fz_mysql, &ev, size);
    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 5, "users row: %.*s", (int) b.len, b.data);
    fz_sql_free(v, n);

    tc_buf_free(&b);

    return 0;
}
