/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: SQL text of the consumer's statements, escaped by libmysql. */
#ifndef TC_SQL_H
#define TC_SQL_H

#include <stdint.h>

#include <mysql.h>

#include "common/buf.h"

#include "batch.h"
#include "event.h"

/*
 * A multi-row statement: head, rows separated by ',', tail.  The caller
 * starts each row with tc_sql_row(), flushes when the text is long enough,
 * and finishes with tc_sql_end().
 */
typedef struct {
    tc_buf_t     buf;
    const char  *head;
    const char  *tail;
    size_t       rows;
} tc_sql_multi_t;

void tc_sql_multi_init(tc_sql_multi_t *s, const char *head, const char *tail);
void tc_sql_multi_free(tc_sql_multi_t *s);
void tc_sql_row(tc_sql_multi_t *s);
const char *tc_sql_end(tc_sql_multi_t *s);     /* NUL-terminated or NULL */
void tc_sql_multi_reset(tc_sql_multi_t *s);

/* 'escaped text' by mysql_real_escape_string (the connection's charset) */
void tc_sql_quote(tc_buf_t *b, MYSQL *m, const char *s, size_t n);

/* 'escaped text', NULL when absent */
void tc_sql_str(tc_buf_t *b, MYSQL *m, const tc_str_t *s);

/* 'escaped text', '' when absent */
void tc_sql_str0(tc_buf_t *b, MYSQL *m, const tc_str_t *s);

/* 'YYYY-MM-DD' */
void tc_sql_date(tc_buf_t *b, uint32_t day);

/* heads and tails of the multi-row statements */
extern const char  tc_sql_hourly_head[];
extern const char  tc_sql_daily_head[];
extern const char  tc_sql_count_tail[];
extern const char  tc_sql_seen_head[];
extern const char  tc_sql_actions_head[];
extern const char  tc_sql_actions_select[];   /* then rows, ")" */
extern const char  tc_sql_users_head[];
extern const char  tc_sql_users_tail[];
extern const char  tc_sql_dead_head[];

/* "INSERT INTO `events_YYYYMMDD` (columns) VALUES " into head[256] */
void tc_sql_events_head(char *head, uint32_t day);

/* "SELECT eid FROM `events_YYYYMMDD` WHERE eid IN (" into head[256] */
void tc_sql_eids_head(char *head, uint32_t day);

/* the values of one row of each statement, "(...)"; id: the row's id */
void tc_sql_event_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev,
    uint64_t id);
void tc_sql_hourly_row(tc_buf_t *b, MYSQL *m, const tc_agg_t *a);
void tc_sql_daily_row(tc_buf_t *b, MYSQL *m, const tc_agg_t *a);
void tc_sql_seen_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev,
    uint32_t action_id);
/* ('app','module','action'): a stats_actions row, or a tuple to look up */
void tc_sql_action_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev);
void tc_sql_users_row(tc_buf_t *b, MYSQL *m, const tc_event_t *ev,
    uint64_t users);
void tc_sql_dead_row(tc_buf_t *b, MYSQL *m, uint32_t day, const char *code,
    uint64_t n);

/*
 * The day table from the template: every "@TABLE@" in tmpl replaced by
 * events_YYYYMMDD.
 */
void tc_sql_day_table(tc_buf_t *b, const char *tmpl, uint32_t day);

#endif /* TC_SQL_H */
