/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the consumer's side of the queue.  The input is a batch
 * of queue elements separated by "@@".  Each is decoded (tc_event_decode),
 * the batch deduplicated and aggregated (batch.c), and every SQL row the
 * consumer would write is built (sql.c) and read back.  Checks: a decoded
 * event holds the element's values byte for byte within the column limits;
 * props and fields are the element's own text; a dead letter is JSON that
 * carries the element; every SQL value reads back as the bytes it quotes.
 */

#include <inttypes.h>
#include <string.h>

#include <mysql.h>

#include "fuzz_util.h"
#include "sql_check.h"

#include "batch.h"
#include "common/date.h"
#include "common/rc.h"
#include "event.h"
#include "sql.h"


#define FZ_MAX_ELEMENTS  32

static MYSQL  *fz_mysql;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FZ_CHECK(tc_tz_set("UTC") == TC_OK, "UTC");

    /* escaping needs only the handle's character set, no server */
    fz_mysql = mysql_init(NULL);
    FZ_CHECK(fz_mysql != NULL, "mysql_init");
    mysql_options(fz_mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");

    return 0;
}


/*
 * A copy of a decoded span made with memcpy, which ASan checks: jansson is
 * not instrumented, so a span into freed memory would go unnoticed there.
 */
static char *
copy_span(const tc_str_t *s)
{
    char  *p;

    p = malloc(s->len + 1);
    FZ_CHECK(p != NULL, "malloc");
    memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


static void
check_str(const tc_str_t *s, json_t *doc, const char *name, size_t min,
    size_t max)
{
    char     num[32];
    json_t  *v;

    v = json_object_get(doc, name);

    if (v == NULL || json_is_null(v)) {
        FZ_CHECK(s->data == NULL, "%s absent", name);
        return;
    }

    FZ_CHECK(s->data != NULL, "%s present", name);
    free(copy_span(s));
    FZ_CHECK(s->len >= min && s->len <= max, "%s: %zu bytes", name, s->len);
    FZ_CHECK(fz_utf8_valid((const unsigned char *) s->data, s->len)
             && memchr(s->data, '\0', s->len) == NULL,
             "%s: UTF-8 without NUL", name);

    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        FZ_CHECK(s->len == strlen(num) && memcmp(s->data, num, s->len) == 0,
                 "%s: integer as its decimal text", name);
        return;
    }

    FZ_CHECK(json_is_string(v) && s->len == json_string_length(v)
             && memcmp(s->data, json_string_value(v), s->len) == 0,
             "%s: the element's bytes", name);
}


static void
check_object_text(const tc_str_t *s, json_t *doc, const char *name)
{
    char    *copy;
    json_t  *v, *text;

    v = json_object_get(doc, name);

    if (v == NULL || json_is_null(v)) {
        FZ_CHECK(s->data == NULL, "%s absent", name);
        return;
    }

    FZ_CHECK(s->data != NULL && s->len <= TC_JSON_MAX, "%s text", name);

    copy = copy_span(s);
    text = json_loadb(copy, s->len, 0, NULL);
    FZ_CHECK(text != NULL && json_equal(text, v),
             "%s: the stored text is the element's object: %s", name, copy);
    json_decref(text);
    free(copy);
}


static void
check_dead_letter(const tc_event_t *ev, const char *raw, size_t len)
{
    char        *text, *hex;
    size_t       n, i;
    json_t      *o, *v;
    const char  *s;

    text = tc_event_dead_letter(ev, raw, len, "fuzz", &n);
    FZ_CHECK(text != NULL, "dead letter");

    o = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    FZ_CHECK(o != NULL && n == strlen(text), "dead letter is JSON");
    FZ_CHECK(json_is_string(json_object_get(o, "reason"))
             && json_is_string(json_object_get(o, "code")),
             "dead letter says why");

    v = json_object_get(o, "raw");
    if (v != NULL) {
        FZ_CHECK(json_string_length(v) == len
                 && memcmp(json_string_value(v), raw, len) == 0,
                 "dead letter carries the element");

    } else {
        v = json_object_get(o, "raw_hex");
        FZ_CHECK(v != NULL && json_string_length(v) == 2 * len,
                 "dead letter carries the element in hex");
        s = json_string_value(v);
        hex = malloc(3);
        for (i = 0; i < len; i++) {
            snprintf(hex, 3, "%02x", (unsigned char) raw[i]);
            FZ_CHECK(memcmp(s + 2 * i, hex, 2) == 0, "hex byte %zu", i);
        }
        free(hex);
    }

    json_decref(o);
    free(text);
}


static void
check_event_row(const tc_event_t *ev)
{
    int             n;
    char            num[32];
    tc_buf_t        b;
    fz_sql_value_t  v[FZ_SQL_MAX_VALUES];

    tc_buf_init(&b);
    /* the row's id, reserved by its batch: any value, written first */
    tc_sql_event_row(&b, fz_mysql, ev, (uint64_t) ev->recv_ts + 1);
    FZ_CHECK(!b.failed, "row built");

    n = fz_sql_row(b.data, b.len, v, FZ_SQL_MAX_VALUES);
    FZ_CHECK(n == 14, "event row reads back as 14 values: %.*s",
             (int) b.len, b.data);

    snprintf(num, sizeof(num), "%" PRIu64, (uint64_t) ev->recv_ts + 1);
    FZ_CHECK(v[0].kind == FZ_SQL_INT && strcmp(v[0].data, num) == 0, "id");
    snprintf(num, sizeof(num), "%" PRId64, ev->recv_ts);
    FZ_CHECK(fz_sql_is(&v[1], ev->eid.data, ev->eid.len), "eid");
    FZ_CHECK(v[2].kind == FZ_SQL_INT && strcmp(v[2].data, num) == 0,
             "recv_ts");
    FZ_CHECK(fz_sql_is(&v[3], ev->app.data, ev->app.len), "app");
    FZ_CHECK(fz_sql_is(&v[4], ev->module.data, ev->module.len), "module");
    FZ_CHECK(fz_sql_is(&v[5], ev->action.data, ev->action.len), "action");
    FZ_CHECK(fz_sql_is(&v[6], ev->object.data, ev->object.len), "object");
    FZ_CHECK(fz_sql_is(&v[7], ev->uid.data, ev->uid.len), "uid");

    if (ev->has_ts) {
        snprintf(num, sizeof(num), "%" PRId64, ev->ts);
        FZ_CHECK(v[8].kind == FZ_SQL_INT && strcmp(v[8].data, num) == 0,
                 "ts");
    } else {
        FZ_CHECK(v[8].kind == FZ_SQL_NULL, "no ts");
    }

    FZ_CHECK(fz_sql_is(&v[9], ev->ip.data, ev->ip.len), "ip");
    FZ_CHECK(fz_sql_is(&v[10], ev->ua.data, ev->ua.len), "ua");
    FZ_CHECK(fz_sql_is(&v[11], ev->referer.data, ev->referer.len), "referer");
    FZ_CHECK(fz_sql_is(&v[12], ev->props.data, ev->props.len), "props");
    FZ_CHECK(fz_sql_is(&v[13], ev->fields.data, ev->fields.len), "fields");

    fz_sql_free(v, n);
    tc_buf_free(&b);
}


/* '' for an absent string, as the statistics tables store it */
static int
is0(const fz_sql_value_t *v, const tc_str_t *s)
{
    return fz_sql_is(v, s->data ? s->data : "", s->len);
}


/* the action's number, as the row carries it */
static int
is_action(const fz_sql_value_t *v, uint32_t action_id)
{
    char  num[16];

    snprintf(num, sizeof(num), "%" PRIu32, action_id);
    return v->kind == FZ_SQL_INT && fz_sql_is(v, num, strlen(num));
}


static void
check_group(const fz_sql_value_t *v, const tc_event_t *ev, char *date)
{
    tc_day_date(ev->day, date);
    FZ_CHECK(fz_sql_is(&v[0], date, 10), "date");
}


static void
check_stats_rows(tc_batch_t *b)
{
    int                n;
    char               date[11];
    size_t             rows, i, total;
    tc_buf_t           buf;
    tc_agg_t          *agg;
    const tc_event_t **users;
    fz_sql_value_t     v[FZ_SQL_MAX_VALUES];

    agg = calloc(b->n + 1, sizeof(tc_agg_t));
    users = calloc(b->n + 1, sizeof(tc_event_t *));
    tc_buf_init(&buf);

    rows = tc_batch_hourly(b, agg);
    total = 0;
    for (i = 0; i < rows; i++) {
        agg[i].action_id = agg[i].ev->group_rank + 1;   /* as if numbered */
        tc_buf_reset(&buf);
        tc_sql_hourly_row(&buf, fz_mysql, &agg[i]);
        n = fz_sql_row(buf.data, buf.len, v, FZ_SQL_MAX_VALUES);
        FZ_CHECK(n == 5, "hourly row: %.*s", (int) buf.len, buf.data);
        check_group(v, agg[i].ev, date);
        FZ_CHECK(v[1].kind == FZ_SQL_INT
                 && (unsigned) atoi(v[1].data) == agg[i].ev->hour
                 && agg[i].ev->hour < 24, "hour");
        FZ_CHECK(is_action(&v[2], agg[i].action_id)
                 && is0(&v[3], &agg[i].ev->object), "hourly key");
        FZ_CHECK(v[4].kind == FZ_SQL_INT && agg[i].n > 0, "count");
        total += agg[i].n;
        fz_sql_free(v, n);
    }
    FZ_CHECK(total == tc_batch_count(b, TC_EV_OK), "hourly rows count every "
             "event to store once: %zu", total);

    rows = tc_batch_daily(b, agg);
    total = 0;
    for (i = 0; i < rows; i++) {
        agg[i].action_id = agg[i].ev->group_rank + 1;
        tc_buf_reset(&buf);
        tc_sql_daily_row(&buf, fz_mysql, &agg[i]);
        n = fz_sql_row(buf.data, buf.len, v, FZ_SQL_MAX_VALUES);
        FZ_CHECK(n == 4, "daily row: %.*s", (int) buf.len, buf.data);
        check_group(v, agg[i].ev, date);
        FZ_CHECK(is_action(&v[1], agg[i].action_id)
                 && is0(&v[2], &agg[i].ev->object), "daily key");
        total += agg[i].n;
        fz_sql_free(v, n);
    }
    FZ_CHECK(total == tc_batch_count(b, TC_EV_OK), "daily total");

    rows = tc_batch_users(b, users);
    for (i = 0; i < rows; i++) {
        FZ_CHECK(users[i]->uid.len > 0, "users have a uid");

        tc_buf_reset(&buf);
        tc_sql_seen_row(&buf, fz_mysql, users[i], 1);
        n = fz_sql_row(buf.data, buf.len, v, FZ_SQL_MAX_VALUES);
        FZ_CHECK(n == 3, "seen row: %.*s", (int) buf.len, buf.data);
        FZ_CHECK(is0(&v[2], &users[i]->uid), "seen key");
        fz_sql_free(v, n);

        tc_buf_reset(&buf);
        tc_sql_action_row(&buf, fz_mysql, users[i]);
        n = fz_sql_row(buf.data, buf.len, v, FZ_SQL_MAX_VALUES);
        FZ_CHECK(n == 3, "action row: %.*s", (int) buf.len, buf.data);
        FZ_CHECK(is0(&v[0], &users[i]->app) && is0(&v[1], &users[i]->module)
                 && is0(&v[2], &users[i]->action), "action key");
        fz_sql_free(v, n);

        tc_buf_reset(&buf);
        tc_sql_users_row(&buf, fz_mysql, users[i], i + 1);
        n = fz_sql_row(buf.data, buf.len, v, FZ_SQL_MAX_VALUES);
        FZ_CHECK(n == 5, "users row: %.*s", (int) buf.len, buf.data);
        fz_sql_free(v, n);

        if (i > 0) {
            FZ_CHECK(tc_event_group_cmp(users[i - 1], users[i]) != 0
                     || tc_str_cmp(&users[i - 1]->uid, &users[i]->uid) < 0,
                     "users distinct and in key order");
        }
    }

    tc_buf_free(&buf);
    free(agg);
    free(users);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                i, j, n, len, max_bytes;
    json_t               *doc;
    tc_batch_t            b;
    fz_split_t            sp;
    const unsigned char  *f;
    const char           *raw[FZ_MAX_ELEMENTS];
    size_t                raw_len[FZ_MAX_ELEMENTS];

    fz_split_init(&sp, data, size);
    for (n = 0; n < FZ_MAX_ELEMENTS && fz_split_next(&sp, &f, &len); n++) {
        raw[n] = (const char *) f;
        raw_len[n] = len;
    }

    /* a small limit now and then, so the size check is reached too */
    max_bytes = (size % 5 == 0) ? 64 : (size_t) 1 << 20;

    FZ_CHECK(tc_batch_init(&b, n) == TC_OK, "batch");
    for (i = 0; i < n; i++) {
        b.raw[i] = raw[i];
        b.raw_len[i] = raw_len[i];
    }
    tc_batch_decode(&b, max_bytes);

    for (i = 0; i < n; i++) {
        const tc_event_t  *ev = &b.ev[i];

        doc = raw_len[i] <= max_bytes
              ? json_loadb(raw[i], raw_len[i], JSON_REJECT_DUPLICATES, NULL)
              : NULL;

        if (ev->status == TC_EV_DEAD) {
            FZ_CHECK(ev->code != NULL && ev->reason != NULL,
                     "a dead letter has a code and a reason");
            check_dead_letter(ev, raw[i], raw_len[i]);
            json_decref(doc);
            continue;
        }

        FZ_CHECK(ev->status == TC_EV_OK || ev->status == TC_EV_DUP,
                 "status %d", (int) ev->status);
        FZ_CHECK(doc != NULL && json_is_object(doc),
                 "only JSON objects decode");

        check_str(&ev->eid, doc, "eid", 1, TC_EID_MAX);
        check_str(&ev->app, doc, "app", 1, TC_NAME_MAX);
        check_str(&ev->module, doc, "module", 1, TC_NAME_MAX);
        check_str(&ev->action, doc, "action", 1, TC_NAME_MAX);
        check_str(&ev->object, doc, "object", 0, TC_NAME_MAX);
        check_str(&ev->uid, doc, "uid", 0, TC_NAME_MAX);
        check_str(&ev->ip, doc, "ip", 0, TC_IP_MAX);
        check_str(&ev->ua, doc, "ua", 0, TC_TEXT_MAX);
        check_str(&ev->referer, doc, "referer", 0, TC_TEXT_MAX);
        check_object_text(&ev->props, doc, "props");
        check_object_text(&ev->fields, doc, "fields");

        FZ_CHECK(ev->recv_ts >= 0 && ev->recv_ts < TC_TS_MAX, "recv_ts");
        FZ_CHECK(!ev->has_ts || (ev->ts >= 0 && ev->ts < (INT64_C(1) << 53)),
                 "ts");
        FZ_CHECK(ev->day >= 19700101 && ev->day <= 99991231
                 && ev->day / 100 % 100 >= 1 && ev->day / 100 % 100 <= 12
                 && ev->day % 100 >= 1 && ev->day % 100 <= 31
                 && ev->hour < 24, "day %u hour %u", (unsigned) ev->day,
                 ev->hour);

        /* a duplicate has an earlier twin: same day, same eid */
        if (ev->status == TC_EV_DUP) {
            for (j = 0; j < i; j++) {
                if (b.ev[j].status == TC_EV_OK && b.ev[j].day == ev->day
                    && tc_str_cmp(&b.ev[j].eid, &ev->eid) == 0)
                {
                    break;
                }
            }
            FZ_CHECK(j < i, "a duplicate follows the event it repeats");
        }

        check_event_row(ev);
        json_decref(doc);
    }

    check_stats_rows(&b);
    tc_batch_free(&b);

    return 0;
}
