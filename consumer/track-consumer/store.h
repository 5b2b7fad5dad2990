/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: MySQL side: connection, schema, one transaction per batch. */
#ifndef TC_STORE_H
#define TC_STORE_H

#include <stdint.h>
#include <time.h>

#include <mysql.h>

#include "common/rc.h"

#include "batch.h"
#include "bulk.h"
#include "config.h"
#include "map.h"
#include "sql.h"

/* what the last tc_store_apply() did */
typedef struct {
    size_t     stored;
    size_t     duplicates;      /* in-batch repeats and eids already stored */
    size_t     dead;            /* undecodable and rejected by MySQL */
    size_t     new_users;
} tc_apply_stats_t;

/* called before COMMIT when MySQL rejected rows; nonzero aborts the batch */
typedef tc_rc_t (*tc_before_commit_pt)(tc_batch_t *b, void *data);

#define TC_DAY_STMTS  8

typedef struct {
    uint32_t              day;
    tc_bulk_t             bulk;
} tc_day_stmt_t;

typedef struct {
    const tc_conf_t      *conf;
    MYSQL                *m;
    size_t                host;         /* mysql_host entry: tc_db_connect */
    int                   connected;    /* once: a reconnect moves on */
    int                   bulk;         /* server takes bulk statements */
    int                   galera;       /* a Galera node: see galera_session */
    tc_bulk_t             hourly;
    tc_bulk_t             daily;
    tc_bulk_t             seen_stmt;    /* INSERT IGNORE of memberships */
    tc_day_stmt_t         events[TC_DAY_STMTS];   /* INSERT per day table */
    unsigned              events_next;
    uint64_t              last_seq;     /* of this consumer, as committed */
    uint64_t              id_base;      /* the batch's rows: id_base + i */
    int                   rollup;       /* the roll-up's: no consumer id */
    size_t                max_stmt;

    uint32_t             *tables;       /* day tables known to exist */
    size_t                ntables;
    size_t                tables_cap;

    tc_set_t              users;        /* committed user memberships */

    tc_sql_multi_t        sql;
    tc_agg_t             *agg;
    const tc_event_t    **agg_ev;       /* the rows' events, for their ids */
    uint32_t             *agg_action;
    const tc_event_t    **seen;
    uint64_t             *seen_new;
    unsigned char        *seen_known;   /* in the users cache already */
    uint32_t             *seen_action;  /* its stats_actions.id */
    size_t                scratch;

    tc_before_commit_pt   before_commit;
    void                 *before_commit_data;

    tc_apply_stats_t      stats;
    unsigned              err;          /* last MySQL error number */
} tc_store_t;

void tc_store_init(tc_store_t *s, const tc_conf_t *conf);
void tc_store_free(tc_store_t *s);

/*
 * Connects, prepares the session, applies the schema, takes the consumer id's
 * lock (one process per id) and reads last_seq.  TC_OK or TC_DOWN.
 */
tc_rc_t tc_store_connect(tc_store_t *s);
void tc_store_close(tc_store_t *s);

/*
 * Stores the batch in one transaction with its statistics and its
 * sequence number; TC_ALREADY when that sequence number was committed.
 */
tc_rc_t tc_store_apply(tc_store_t *s, tc_batch_t *b);

/*
 * The statistics of b's TC_EV_OK events (ranked: tc_batch_rank), in the
 * caller's transaction: first the memberships (the daily users appended
 * to tail, to be sent with COMMIT; *nseen for tc_store_remember_users()
 * after COMMIT), then the counters, whose hot rows (the popular objects)
 * are locked last, so held for the shortest time.
 */
tc_rc_t tc_store_memberships(tc_store_t *s, tc_batch_t *b, tc_buf_t *tail,
    size_t *nseen);
tc_rc_t tc_store_counters(tc_store_t *s, tc_batch_t *b);
void tc_store_remember_users(tc_store_t *s, size_t nseen);

/* Runs sql, discarding results; how a failure is classified. */
tc_rc_t tc_store_run(tc_store_t *s, const char *sql, size_t len,
    const char *what);
/* The same; *affected: the rows its last statement affected. */
tc_rc_t tc_store_run_affected(tc_store_t *s, const char *sql, size_t len,
    const char *what, uint64_t *affected);
tc_rc_t tc_store_failed(tc_store_t *s, const char *what);

/* A query returning one integer (or NULL: *isnull). */
tc_rc_t tc_store_query_u64(tc_store_t *s, const char *sql, size_t len,
    const char *what, uint64_t *out, int *isnull);

/*
 * Drops day tables older than retention_days (a no-op when 0), except
 * those with rows the roll-up has not counted yet.
 */
tc_rc_t tc_store_retention(tc_store_t *s);

/* the schema and the day-table template, compiled in from sql/ */
extern const char  tc_schema_sql[];
extern const char  tc_events_day_sql[];

#endif /* TC_STORE_H */
