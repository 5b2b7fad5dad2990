/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: SQL text of the consumer's statements, escaped by libmysql. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/date.h"

#include "sql.h"


const char  tc_sql_hourly_head[] =
    "INSERT INTO stats_hourly (day, hour, action_id, object, events) VALUES ";

const char  tc_sql_daily_head[] =
    "INSERT INTO stats_daily (day, action_id, object, events) VALUES ";

const char  tc_sql_count_tail[] =
    " ON DUPLICATE KEY UPDATE events = events + VALUES(events)";

const char  tc_sql_seen_head[] =
    "INSERT IGNORE INTO stats_user_seen (action_id, day, uid) VALUES ";

const char  tc_sql_actions_head[] =
    "INSERT IGNORE INTO stats_actions (app, module, action) VALUES ";

const char  tc_sql_actions_select[] =
    "SELECT id, app, module, action FROM stats_actions"
    " WHERE (app, module, action) IN (";

const char  tc_sql_users_head[] =
    "INSERT INTO stats_daily_users (day, app, module, action, users)"
    " VALUES ";

const char  tc_sql_users_tail[] =
    " ON DUPLICATE KEY UPDATE users = users + VALUES(users)";

const char  tc_sql_dead_head[] =
    "INSERT INTO stats_dead_letters (day, reason, events) VALUES ";


void
tc_sql_multi_init(tc_sql_multi_t *s, const char *head, const char *tail)
{
    tc_buf_init(&s->buf);
    s->head = head;
    s->tail = tail;
    s->rows = 0;
}


void
tc_sql_multi_free(tc_sql_multi_t *s)
{
    tc_buf_free(&s->buf);
    s->rows = 0;
}


void
tc_sql_multi_reset(tc_sql_multi_t *s)
{
    tc_buf_reset(&s->buf);
    s->rows = 0;
}


void
tc_sql_row(tc_sql_multi_t *s)
{
    if (s->rows++ == 0) {
        tc_buf_adds(&s->buf, s->head);
    } else {
        tc_buf_add(&s->buf, ",", 1);
    }
}


const char *
tc_sql_end(tc_sql_multi_t *s)
{
    if (s->tail != NULL) {
        tc_buf_adds(&s->buf, s->tail);
    }

    return tc_buf_cstr(&s->buf);
}


void
tc_sql_quote(tc_buf_t *b, MYSQL *m, const char *s, size_t n)
{
    char           *dst;
    unsigned long   k;

    dst = tc_buf_reserve(b, 2 * n + 3);
    if (dst == NULL) {
        return;
    }

    dst[0] = '\'';
    k = mysql_real_escape_string(m, dst + 1, n ? s : "", (unsigned long) n);
    if (k == (unsigned long) -1) {
        b->failed = 1;
        return;
    }
    dst[k + 1] = '\'';
    b->len += k + 2;
}


void
tc_sql_str(tc_buf_t *b, MYSQL *m, const tc_str_t *s)
{
    if (s->data == NULL) {
        tc_buf_add(b, "NULL", 4);
        return;
    }

    tc_sql_quote(b, m, s->data, s->len);
}


void
tc_sql_str0(tc_buf_t *b, MYSQL *m, const tc_str_t *s)
{
    tc_sql_quote(b, m, s->data, s->len);
}


void
tc_sql_date(tc_buf_t *b, uint32_t day)
{
    char  date[11];

    tc_day_date(day, date);
    tc_buf_add(b, "'", 1);
    tc_buf_add(b, date, 10);
    tc_buf_add(b, "'", 1);
}


void
tc_sql_events_head(char *head, uint32_t day)
{
    char  table[16];

    tc_day_table(day, table);
    snprintf(head, 256, "INSERT INTO `%s` (id, eid, recv_ts, app, module,"
             " action, object, uid, ts, ip, ua, referer, props, fields)"
             " VALUES ",
             table);
}


void
tc_sql_eids_head(char *head, uint32_t day)
{
    char  table[16];

    tc_day_table(day, table);
    snprintf(head, 256, "SELECT eid FROM `%s` WHERE eid IN (", table);
}


void
tc_sql_event_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev, uint64_t id)
{
    tc_buf_addf(b, "(%" PRIu64 ",", id);
    tc_sql_str(b, m, &ev->eid);
    tc_buf_addf(b, ",%" PRId64 ",", ev->recv_ts);
    tc_sql_str(b, m, &ev->app);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->module);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->action);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->object);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->uid);
    if (ev->has_ts) {
        tc_buf_addf(b, ",%" PRId64 ",", ev->ts);
    } else {
        tc_buf_add(b, ",NULL,", 6);
    }
    tc_sql_str(b, m, &ev->ip);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->ua);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->referer);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->props);
    tc_buf_add(b, ",", 1);
    tc_sql_str(b, m, &ev->fields);
    tc_buf_add(b, ")", 1);
}


static void
group_values(tc_buf_t *b, MYSQL *m, const tc_event_t *ev)
{
    tc_sql_str0(b, m, &ev->app);
    tc_buf_add(b, ",", 1);
    tc_sql_str0(b, m, &ev->module);
    tc_buf_add(b, ",", 1);
    tc_sql_str0(b, m, &ev->action);
}


void
tc_sql_hourly_row(tc_buf_t *b, MYSQL *m, const tc_agg_t *a)
{
    tc_buf_add(b, "(", 1);
    tc_sql_date(b, a->ev->day);
    tc_buf_addf(b, ",%u,%" PRIu32 ",", a->ev->hour, a->action_id);
    tc_sql_str0(b, m, &a->ev->object);
    tc_buf_addf(b, ",%" PRIu64 ")", a->n);
}


void
tc_sql_daily_row(tc_buf_t *b, MYSQL *m, const tc_agg_t *a)
{
    tc_buf_add(b, "(", 1);
    tc_sql_date(b, a->ev->day);
    tc_buf_addf(b, ",%" PRIu32 ",", a->action_id);
    tc_sql_str0(b, m, &a->ev->object);
    tc_buf_addf(b, ",%" PRIu64 ")", a->n);
}


void
tc_sql_seen_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev,
    uint32_t action_id)
{
    tc_buf_addf(b, "(%" PRIu32 ",", action_id);
    tc_sql_date(b, ev->day);
    tc_buf_add(b, ",", 1);
    tc_sql_str0(b, m, &ev->uid);
    tc_buf_add(b, ")", 1);
}


void
tc_sql_action_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev)
{
    tc_buf_add(b, "(", 1);
    group_values(b, m, ev);
    tc_buf_add(b, ")", 1);
}


void
tc_sql_users_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev,
    uint64_t users)
{
    tc_buf_add(b, "(", 1);
    tc_sql_date(b, ev->day);
    tc_buf_add(b, ",", 1);
    group_values(b, m, ev);
    tc_buf_addf(b, ",%" PRIu64 ")", users);
}


void
tc_sql_dead_row(tc_buf_t *b, MYSQL *m, uint32_t day, const char *code,
    uint64_t n)
{
    tc_buf_add(b, "(", 1);
    tc_sql_date(b, day);
    tc_buf_add(b, ",", 1);
    tc_sql_quote(b, m, code, strlen(code));
    tc_buf_addf(b, ",%" PRIu64 ")", n);
}


void
tc_sql_day_table(tc_buf_t *b, const char *tmpl, uint32_t day)
{
    char        table[16];
    const char *p;

    tc_day_table(day, table);

    while ((p = strstr(tmpl, "@TABLE@")) != NULL) {
        tc_buf_add(b, tmpl, (size_t) (p - tmpl));
        tc_buf_adds(b, table);
        tmpl = p + 7;
    }

    tc_buf_adds(b, tmpl);
}
