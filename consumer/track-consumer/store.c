/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: MySQL side: connection, schema, one transaction per batch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "common/date.h"
#include "common/db.h"
#include "common/log.h"
#include "common/rc.h"

#include "actions.h"
#include "fault.h"
#include "store.h"

#define TC_DUP_ROUNDS  8        /* eid filter rounds before retrying */


void
tc_store_init(tc_store_t *s, const tc_conf_t *conf)
{
    memset(s, 0, sizeof(*s));
    s->conf = conf;
    s->max_stmt = (size_t) conf->max_statement_bytes;
    tc_set_init(&s->users, (size_t) conf->user_cache);
    tc_sql_multi_init(&s->sql, NULL, NULL);
}


void
tc_store_free(tc_store_t *s)
{
    tc_store_close(s);
    tc_set_free(&s->users);
    tc_sql_multi_free(&s->sql);
    free(s->tables);
    free(s->agg);
    free(s->seen);
    free(s->seen_new);
    free(s->seen_known);
    free(s->seen_action);
    free(s->agg_ev);
    free(s->agg_action);
    s->tables = NULL;
    s->agg = NULL;
    s->seen = NULL;
    s->seen_new = NULL;
    s->seen_known = NULL;
    s->seen_action = NULL;
    s->agg_ev = NULL;
    s->agg_action = NULL;
}


void
tc_store_close(tc_store_t *s)
{
    unsigned  i;

    /* statements first: they belong to the connection */
    for (i = 0; i < TC_DAY_STMTS; i++) {
        tc_bulk_close(&s->events[i].bulk);
        s->events[i].day = 0;
    }
    tc_bulk_close(&s->hourly);
    tc_bulk_close(&s->daily);
    tc_bulk_close(&s->seen_stmt);
    s->bulk = 0;

    if (s->m != NULL) {
        mysql_close(s->m);
        s->m = NULL;
    }
    s->ntables = 0;
}


/* How to go on after MySQL error err. */
static tc_rc_t
classify(unsigned err)
{
    if (err >= CR_MIN_ERROR && err <= CR_MAX_ERROR) {
        return TC_DOWN;                 /* client side: connection, timeout */
    }

    switch (err) {
    case ER_CON_COUNT_ERROR:
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_BAD_DB_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_HOST_IS_BLOCKED:
    case ER_ABORTING_CONNECTION:
    case ER_NET_PACKET_TOO_LARGE:
    case ER_NET_READ_ERROR_FROM_PIPE:
    case ER_NET_FCNTL_ERROR:
    case ER_NET_PACKETS_OUT_OF_ORDER:
    case ER_NET_UNCOMPRESS_ERROR:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_CONNECTION_KILLED:
    case ER_OPTION_PREVENTS_STATEMENT:  /* read-only server */
    case ER_UNKNOWN_COM_ERROR:          /* Galera: node not in the primary
                                           component, not ready */
        return TC_DOWN;
    }

    /*
     * Anything else is retried on this connection, in particular
     * ER_LOCK_DEADLOCK, which is also how Galera reports a transaction
     * that lost certification to another node's conflicting write.
     */
    return TC_RETRY;
}


/* MySQL refused a value of a row; the row can go to the dead letters. */
static int
data_error(unsigned err)
{
    switch (err) {
    case ER_BAD_NULL_ERROR:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case WARN_DATA_TRUNCATED:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_INVALID_CHARACTER_STRING:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_ILLEGAL_VALUE_FOR_TYPE:
    case ER_DATA_TOO_LONG:
    case ER_CONSTRAINT_FAILED:
        return 1;
    }

    return 0;
}


tc_rc_t
tc_store_failed(tc_store_t *s, const char *what)
{
    tc_rc_t  rc;

    s->err = mysql_errno(s->m);
    rc = classify(s->err);

    if (s->err == ER_DUP_ENTRY || s->err == ER_LOCK_DEADLOCK
        || s->err == ER_LOCK_WAIT_TIMEOUT || s->err == ER_NO_SUCH_TABLE)
    {
        tc_log_info("mysql: %s: (%u) %s", what, s->err, mysql_error(s->m));
    } else {
        tc_log_error("mysql: %s: (%u) %s", what, s->err, mysql_error(s->m));
    }

    return rc;
}


static tc_rc_t
stmt_failed(tc_store_t *s, MYSQL_STMT *stmt, const char *what)
{
    s->err = mysql_stmt_errno(stmt);

    if (s->err == ER_DUP_ENTRY || s->err == ER_LOCK_DEADLOCK
        || s->err == ER_LOCK_WAIT_TIMEOUT || s->err == ER_NO_SUCH_TABLE
        || s->err == ER_NEED_REPREPARE)
    {
        tc_log_info("mysql: %s: (%u) %s", what, s->err,
                    mysql_stmt_error(stmt));
    } else {
        tc_log_error("mysql: %s: (%u) %s", what, s->err,
                     mysql_stmt_error(stmt));
    }

    return s->err ? classify(s->err) : TC_RETRY;
}


static const int  events_types[] = {
    TC_BULK_INT, TC_BULK_STR, TC_BULK_INT, TC_BULK_STR, TC_BULK_STR, TC_BULK_STR,
    TC_BULK_STR, TC_BULK_STR, TC_BULK_INT, TC_BULK_STR, TC_BULK_STR,
    TC_BULK_STR, TC_BULK_STR, TC_BULK_STR
};

/* day, hour (hourly only), action_id, object, events */
static const int  hourly_types[] = {
    TC_BULK_INT, TC_BULK_INT, TC_BULK_INT, TC_BULK_STR, TC_BULK_INT
};

static const int  daily_types[] = {
    TC_BULK_INT, TC_BULK_INT, TC_BULK_STR, TC_BULK_INT
};

/* action_id, day, uid */
static const int  seen_types[] = {
    TC_BULK_INT, TC_BULK_INT, TC_BULK_STR
};


static tc_rc_t
bulk_prepare(tc_store_t *s, tc_bulk_t *b, const char *sql, unsigned ncols,
    const int *types, const char *what)
{
    tc_rc_t  rc;

    if (tc_bulk_prepare(b, s->m, sql, ncols, types) == TC_OK) {
        return TC_OK;
    }

    if (b->stmt == NULL) {
        tc_log_error("out of memory preparing %s", what);
        rc = TC_RETRY;
    } else {
        rc = stmt_failed(s, b->stmt, what);
    }

    tc_bulk_close(b);

    return rc;
}


/* The prepared INSERT into a day table, prepared on first use. */
static tc_bulk_t *
events_stmt(tc_store_t *s, uint32_t day, tc_rc_t *rc)
{
    char            head[256], sql[512];
    unsigned        i;
    tc_day_stmt_t  *e;

    for (i = 0; i < TC_DAY_STMTS; i++) {
        if (s->events[i].day == day && s->events[i].bulk.stmt != NULL) {
            return &s->events[i].bulk;
        }
    }

    e = &s->events[s->events_next];
    s->events_next = (s->events_next + 1) % TC_DAY_STMTS;
    tc_bulk_close(&e->bulk);
    e->day = 0;

    tc_sql_events_head(head, day);
    snprintf(sql, sizeof(sql), "%s(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", head);

    *rc = bulk_prepare(s, &e->bulk, sql, 14, events_types,
                       "preparing the day table INSERT");
    if (*rc != TC_OK) {
        return NULL;
    }

    e->day = day;

    return &e->bulk;
}


static void
events_stmt_forget(tc_store_t *s, uint32_t day)
{
    unsigned  i;

    for (i = 0; i < TC_DAY_STMTS; i++) {
        if (s->events[i].day == day) {
            tc_bulk_close(&s->events[i].bulk);
            s->events[i].day = 0;
        }
    }
}


/*
 * Runs sql and discards every result set (multi-statement aware); *last,
 * unless NULL: the rows the last statement affected.
 */
static tc_rc_t
run_last(tc_store_t *s, const char *sql, size_t len, const char *what,
    uint64_t *last)
{
    int         st;
    MYSQL_RES  *res;

    if (sql == NULL) {
        tc_log_error("out of memory building %s", what);
        return TC_RETRY;
    }

    if (mysql_real_query(s->m, sql, (unsigned long) len) != 0) {
        return tc_store_failed(s, what);
    }

    do {
        res = mysql_store_result(s->m);
        if (res != NULL) {
            mysql_free_result(res);
        } else if (mysql_field_count(s->m) != 0) {
            return tc_store_failed(s, what);
        }

        if (last != NULL) {
            *last = (uint64_t) mysql_affected_rows(s->m);
        }

        st = mysql_next_result(s->m);
        if (st > 0) {
            return tc_store_failed(s, what);
        }
    } while (st == 0);

    return TC_OK;
}


static tc_rc_t
run(tc_store_t *s, const char *sql, size_t len, const char *what)
{
    return run_last(s, sql, len, what, NULL);
}


static tc_rc_t
run_str(tc_store_t *s, const char *sql, const char *what)
{
    return run(s, sql, strlen(sql), what);
}


/*
 * A query whose first result set has a row of n integers: out[0..n) (NULL
 * as 0); *isnull when there is no row or its first value is NULL.
 */
static tc_rc_t
query_u64s(tc_store_t *s, const char *sql, size_t len, const char *what,
    uint64_t *out, unsigned n, int *isnull)
{
    unsigned    i;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    int         st;

    if (mysql_real_query(s->m, sql, (unsigned long) len) != 0) {
        return tc_store_failed(s, what);
    }

    /* the value is in the first result set; statements before it have none */
    *isnull = 1;
    memset(out, 0, n * sizeof(uint64_t));
    res = NULL;
    do {
        if (mysql_field_count(s->m) != 0) {
            res = mysql_store_result(s->m);
            if (res == NULL) {
                return tc_store_failed(s, what);
            }
            row = mysql_fetch_row(res);
            if (*isnull && row != NULL && row[0] != NULL
                && mysql_num_fields(res) >= n)
            {
                *isnull = 0;
                for (i = 0; i < n; i++) {
                    out[i] = row[i] ? strtoull(row[i], NULL, 10) : 0;
                }
            }
            mysql_free_result(res);
        }

        st = mysql_next_result(s->m);
        if (st > 0) {
            return tc_store_failed(s, what);
        }
    } while (st == 0);

    return TC_OK;
}


/* A query returning one integer (or NULL: *isnull). */
static tc_rc_t
query_u64(tc_store_t *s, const char *sql, size_t len, const char *what,
    uint64_t *out, int *isnull)
{
    return query_u64s(s, sql, len, what, out, 1, isnull);
}


tc_rc_t
tc_store_query_u64(tc_store_t *s, const char *sql, size_t len,
    const char *what, uint64_t *out, int *isnull)
{
    return query_u64s(s, sql, len, what, out, 1, isnull);
}


tc_rc_t
tc_store_run(tc_store_t *s, const char *sql, size_t len, const char *what)
{
    return run(s, sql, len, what);
}


tc_rc_t
tc_store_run_affected(tc_store_t *s, const char *sql, size_t len,
    const char *what, uint64_t *affected)
{
    return run_last(s, sql, len, what, affected);
}


static tc_rc_t
multi_run(tc_store_t *s, const char *what)
{
    tc_rc_t      rc;
    const char  *sql;

    if (s->sql.rows == 0) {
        return TC_OK;
    }

    sql = tc_sql_end(&s->sql);
    rc = run(s, sql, s->sql.buf.len, what);
    tc_sql_multi_reset(&s->sql);

    return rc;
}


static void
multi_start(tc_store_t *s, const char *head, const char *tail)
{
    tc_sql_multi_reset(&s->sql);
    s->sql.head = head;
    s->sql.tail = tail;
}


/*
 * On a Galera node, reads wait until the node has applied every write set
 * the cluster ordered before them (wsrep_sync_wait = 1): a batch whose
 * COMMIT went unanswered on a node that died may have been committed
 * there, and the batch marker read on this node must see it.
 */
static tc_rc_t
galera_session(tc_store_t *s, const char *addr)
{
    int         on;
    tc_rc_t     rc;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    s->galera = 0;

    if (mysql_query(s->m, "SELECT @@wsrep_on") != 0) {
        if (mysql_errno(s->m) == ER_UNKNOWN_SYSTEM_VARIABLE) {
            return TC_OK;               /* a server without wsrep */
        }
        return tc_store_failed(s, "reading wsrep_on");
    }

    res = mysql_store_result(s->m);
    if (res == NULL) {
        return tc_store_failed(s, "reading wsrep_on");
    }
    row = mysql_fetch_row(res);
    on = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
    mysql_free_result(res);

    if (!on) {
        return TC_OK;
    }

    rc = run_str(s, "SET SESSION wsrep_sync_wait = 1", "wsrep_sync_wait");
    if (rc == TC_OK) {
        s->galera = 1;
        tc_log_info("mysql: %s is a Galera node: reads wait for the "
                    "cluster's earlier writes (wsrep_sync_wait = 1), "
                    "multi-row statements", addr);
    }

    return rc;
}


tc_rc_t
tc_store_connect(tc_store_t *s)
{
    int                 isnull;
    uint64_t            v;
    tc_rc_t             rc;
    tc_buf_t            b;
    const tc_conf_t    *c;
    char                addr[300];

    c = s->conf;
    tc_store_close(s);

    /* a reconnect follows a failure: the next host of the list first */
    if (s->connected) {
        s->host++;
    }

    s->m = tc_db_connect(&c->mysql, &s->host, addr, sizeof(addr));
    if (s->m == NULL) {
        tc_log_error("mysql: no host of \"%s\" accepted a connection",
                     c->mysql_socket[0] ? c->mysql_socket : c->mysql_host);
        return TC_DOWN;
    }
    s->connected = 1;

    /*
     * READ COMMITTED: the eid filter sees rows other consumers committed,
     * and fewer gap locks are taken.  Strict mode: a value MySQL cannot
     * store exactly is an error, never a silent truncation.
     */
    rc = run_str(s, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"
                 "SET SESSION sql_mode = 'STRICT_ALL_TABLES,"
                 "NO_ENGINE_SUBSTITUTION';"
                 "SET SESSION innodb_lock_wait_timeout = 20",
                 "session setup");
    if (rc == TC_OK) {
        rc = galera_session(s, addr);
    }
    if (rc != TC_OK) {
        goto fail;
    }

    if (s->rollup) {
        goto prepare;           /* the lane applies the schema; no marker */
    }

    rc = run_str(s, tc_schema_sql, "applying the schema (sql/schema.sql)");
    if (rc != TC_OK) {
        goto fail;
    }

    /*
     * One process per id.  A shard of a Redis Cluster is guarded by its
     * lease instead: GET_LOCK is one server's (Galera does not replicate
     * it), and the session of a host that vanished would hold it until
     * MariaDB notices.
     */
    if (c->nseeds > 0) {
        goto locked;
    }

    tc_buf_init(&b);
    tc_buf_adds(&b, "SELECT GET_LOCK(");
    tc_buf_addf(&b, "'track-consumer:%s'", c->id);
    tc_buf_adds(&b, ", 3)");
    rc = query_u64(s, b.data, b.len, "GET_LOCK", &v, &isnull);
    tc_buf_free(&b);
    if (rc != TC_OK) {
        goto fail;
    }

    if (v != 1) {
        tc_log_error("consumer id \"%s\" is in use: another connection holds "
                     "the lock \"track-consumer:%s\" (a second process with "
                     "the same --id, or the session of a killed one that "
                     "MySQL has not closed yet)", c->id, c->id);
        rc = TC_DOWN;
        goto fail;
    }

locked:

    tc_buf_init(&b);
    tc_buf_adds(&b, "INSERT IGNORE INTO consumer_state (consumer_id, last_seq)"
                " VALUES (");
    tc_sql_quote(&b, s->m, c->id, strlen(c->id));
    tc_buf_adds(&b, ", 0)");
    rc = run(s, tc_buf_cstr(&b), b.len, "consumer_state");

    if (rc == TC_OK) {
        tc_buf_reset(&b);
        tc_buf_adds(&b, "SELECT last_seq FROM consumer_state"
                    " WHERE consumer_id = ");
        tc_sql_quote(&b, s->m, c->id, strlen(c->id));
        rc = query_u64(s, b.data, b.len, "reading last_seq", &s->last_seq,
                       &isnull);
    }
    tc_buf_free(&b);
    if (rc != TC_OK) {
        goto fail;
    }

    rc = query_u64(s, "SELECT @@max_allowed_packet", 27,
                   "reading max_allowed_packet", &v, &isnull);
    if (rc != TC_OK) {
        goto fail;
    }

    /* room for the last row appended after the size check */
    s->max_stmt = (size_t) c->max_statement_bytes;
    if (v > 0 && s->max_stmt > v / 2) {
        s->max_stmt = (size_t) (v / 2);
        tc_log_warn("max_statement_bytes lowered to %zu: the server's "
                    "max_allowed_packet is %" PRIu64, s->max_stmt, v);
    }

    if (v > 0 && (uint64_t) c->max_event_bytes * 2 + 4096 > v / 2) {
        tc_log_warn("max_event_bytes %ld may not fit the server's "
                    "max_allowed_packet %" PRIu64, c->max_event_bytes, v);
    }

prepare:

    /* Galera: no bulk statements, whose failed rows stay in the write set */
    s->bulk = !s->galera && tc_bulk_supported(s->m);
    if (s->bulk) {
        rc = bulk_prepare(s, &s->hourly,
                          "INSERT INTO stats_hourly (day, hour, action_id,"
                          " object, events) VALUES (?,?,?,?,?)"
                          " ON DUPLICATE KEY UPDATE"
                          " events = events + VALUES(events)",
                          5, hourly_types, "preparing the stats_hourly upsert");
        if (rc == TC_OK) {
            rc = bulk_prepare(s, &s->daily,
                              "INSERT INTO stats_daily (day, action_id,"
                              " object, events) VALUES (?,?,?,?)"
                              " ON DUPLICATE KEY UPDATE"
                              " events = events + VALUES(events)",
                              4, daily_types,
                              "preparing the stats_daily upsert");
        }
        if (rc == TC_OK) {
            rc = bulk_prepare(s, &s->seen_stmt,
                              "INSERT IGNORE INTO stats_user_seen (action_id,"
                              " day, uid) VALUES (?,?,?)",
                              3, seen_types,
                              "preparing the stats_user_seen insert");
        }
        if (rc != TC_OK) {
            goto fail;
        }
    }

    tc_log_info("mysql: connected to %s database \"%s\" as \"%s\" (%s); "
                "consumer \"%s\" last committed batch %" PRIu64,
                addr, c->mysql_database, c->mysql_user,
                s->bulk ? "bulk statements" : "multi-row statements", c->id,
                s->last_seq);

    return TC_OK;

fail:

    tc_store_close(s);

    return rc == TC_OK ? TC_DOWN : rc;
}


static int
table_known(tc_store_t *s, uint32_t day)
{
    size_t  i;

    for (i = 0; i < s->ntables; i++) {
        if (s->tables[i] == day) {
            return 1;
        }
    }

    return 0;
}


static void
table_forget(tc_store_t *s, uint32_t day)
{
    size_t  i;

    for (i = 0; i < s->ntables; i++) {
        if (s->tables[i] == day) {
            s->tables[i] = s->tables[--s->ntables];
            return;
        }
    }
}


/* CREATE TABLE IF NOT EXISTS: outside the transaction (DDL commits). */
static tc_rc_t
ensure_table(tc_store_t *s, uint32_t day)
{
    char       table[16];
    size_t     cap;
    tc_rc_t    rc;
    tc_buf_t   b;
    uint32_t  *p;

    if (table_known(s, day)) {
        return TC_OK;
    }

    tc_day_table(day, table);
    tc_buf_init(&b);
    tc_sql_day_table(&b, tc_events_day_sql, day);
    rc = run(s, tc_buf_cstr(&b), b.len, table);

    /*
     * Reserved ids start above the table's: a table filled before the
     * allocator existed (by AUTO_INCREMENT) is upgraded in place.
     */
    if (rc == TC_OK) {
        tc_buf_reset(&b);
        tc_buf_addf(&b, "UPDATE track_ids SET next_id = GREATEST(next_id,"
                    " (SELECT COALESCE(MAX(id), 0) + 1 FROM `%s`))"
                    " WHERE name = 'events'", table);
        rc = run(s, tc_buf_cstr(&b), b.len, "raising the id allocator");
    }
    tc_buf_free(&b);

    if (rc != TC_OK) {
        return rc;
    }

    if (s->ntables == s->tables_cap) {
        cap = s->tables_cap ? s->tables_cap * 2 : 16;
        p = realloc(s->tables, cap * sizeof(uint32_t));
        if (p == NULL) {
            return TC_OK;           /* only the cache is lost */
        }
        s->tables = p;
        s->tables_cap = cap;
    }

    s->tables[s->ntables++] = day;
    tc_log_debug("day table %s ready", table);

    return TC_OK;
}


static tc_rc_t
scratch(tc_store_t *s, size_t n)
{
    void  *a, *b, *c, *d, *e, *f, *g;

    if (n <= s->scratch) {
        return TC_OK;
    }

    a = realloc(s->agg, n * sizeof(tc_agg_t));
    if (a != NULL) {
        s->agg = a;
    }
    b = realloc(s->seen, n * sizeof(tc_event_t *));
    if (b != NULL) {
        s->seen = b;
    }
    c = realloc(s->seen_new, n * sizeof(uint64_t));
    if (c != NULL) {
        s->seen_new = c;
    }
    d = realloc(s->seen_known, n);
    if (d != NULL) {
        s->seen_known = d;
    }
    e = realloc(s->seen_action, n * sizeof(uint32_t));
    if (e != NULL) {
        s->seen_action = e;
    }
    f = realloc(s->agg_ev, n * sizeof(tc_event_t *));
    if (f != NULL) {
        s->agg_ev = f;
    }
    g = realloc(s->agg_action, n * sizeof(uint32_t));
    if (g != NULL) {
        s->agg_action = g;
    }

    if (a == NULL || b == NULL || c == NULL || d == NULL || e == NULL
        || f == NULL || g == NULL)
    {
        return TC_ERROR;
    }

    s->scratch = n;

    return TC_OK;
}


/*
 * Marks TC_EV_EXISTS the events of idx[0..n) whose eid is already in the
 * day table (committed by anyone, or by this transaction).
 */
static tc_rc_t
filter_existing(tc_store_t *s, tc_batch_t *b, uint32_t day, size_t *idx,
    size_t n, int after_dup)
{
    char          head[256];
    size_t        i, marked;
    tc_rc_t       rc;
    tc_set_t      found;
    tc_buf_t      q;
    MYSQL_ROW     row;
    MYSQL_RES    *res;
    tc_event_t   *ev;
    unsigned long *lens;

    tc_sql_eids_head(head, day);
    tc_buf_init(&q);
    tc_buf_adds(&q, head);
    for (i = 0; i < n; i++) {
        if (i > 0) {
            tc_buf_add(&q, ",", 1);
        }
        tc_sql_str(&q, s->m, &b->ev[idx[i]].eid);
    }
    tc_buf_add(&q, ")", 1);

    if (tc_buf_cstr(&q) == NULL) {
        tc_buf_free(&q);
        return TC_RETRY;
    }

    if (mysql_real_query(s->m, q.data, (unsigned long) q.len) != 0) {
        tc_buf_free(&q);
        return tc_store_failed(s, "selecting stored eids");
    }
    tc_buf_free(&q);

    res = mysql_store_result(s->m);
    if (res == NULL) {
        return tc_store_failed(s, "selecting stored eids");
    }

    tc_set_init(&found, SIZE_MAX);
    rc = TC_OK;
    while ((row = mysql_fetch_row(res)) != NULL) {
        lens = mysql_fetch_lengths(res);
        if (tc_set_add(&found, row[0], lens[0]) != TC_OK) {
            rc = TC_RETRY;
        }
    }
    mysql_free_result(res);

    marked = 0;
    for (i = 0; rc == TC_OK && i < n; i++) {
        ev = &b->ev[idx[i]];
        if (tc_set_has(&found, ev->eid.data, ev->eid.len)) {
            ev->status = TC_EV_EXISTS;
            marked++;
        }
    }
    tc_set_free(&found);

    tc_log_debug("batch %" PRIu64 ": %zu of %zu eids already stored in "
                 "events_%u; skipping them", b->seq, marked, n, (unsigned) day);

    if (rc == TC_OK && marked == 0 && after_dup) {
        /* the duplicate is not visible yet: retry the whole batch */
        return TC_RETRY;
    }

    return rc;
}


/* Inserts rows one by one: the row MySQL refuses becomes a dead letter. */
static tc_rc_t
insert_each(tc_store_t *s, tc_batch_t *b, uint32_t day, size_t *idx,
    size_t n)
{
    char         head[256];
    size_t       i;
    unsigned     err;
    tc_buf_t     q;
    tc_event_t  *ev;

    tc_sql_events_head(head, day);
    tc_buf_init(&q);

    for (i = 0; i < n; i++) {
        ev = &b->ev[idx[i]];
        if (ev->status != TC_EV_OK) {
            continue;
        }

        tc_buf_reset(&q);
        tc_buf_adds(&q, head);
        tc_sql_event_row(&q, s->m, ev, s->id_base + idx[i]);
        if (tc_buf_cstr(&q) == NULL) {
            tc_buf_free(&q);
            return TC_RETRY;
        }

        if (mysql_real_query(s->m, q.data, (unsigned long) q.len) == 0) {
            continue;
        }

        err = mysql_errno(s->m);
        if (err == ER_DUP_ENTRY) {
            ev->status = TC_EV_EXISTS;

        } else if (data_error(err)) {
            tc_log_warn("mysql refused event %zu of batch %" PRIu64
                        ": (%u) %s; it goes to the dead letters",
                        (size_t) (ev - b->ev), b->seq, err,
                        mysql_error(s->m));
            tc_event_reject(ev, TC_EV_REJECTED, "mysql_rejected",
                            "MySQL refused the row: (%u) %s", err,
                            mysql_error(s->m));
        } else {
            tc_buf_free(&q);
            return tc_store_failed(s, "inserting one event");
        }
    }

    tc_buf_free(&q);

    return TC_OK;
}


static void
bind_event(tc_bulk_t *q, const tc_event_t *ev, uint64_t id)
{
    tc_bulk_int(q, 0, (int64_t) id, 0);
    tc_bulk_str(q, 1, ev->eid.data, ev->eid.len);
    tc_bulk_int(q, 2, ev->recv_ts, 0);
    tc_bulk_str(q, 3, ev->app.data, ev->app.len);
    tc_bulk_str(q, 4, ev->module.data, ev->module.len);
    tc_bulk_str(q, 5, ev->action.data, ev->action.len);
    tc_bulk_str(q, 6, ev->object.data, ev->object.len);
    tc_bulk_str(q, 7, ev->uid.data, ev->uid.len);
    tc_bulk_int(q, 8, ev->ts, !ev->has_ts);
    tc_bulk_str(q, 9, ev->ip.data, ev->ip.len);
    tc_bulk_str(q, 10, ev->ua.data, ev->ua.len);
    tc_bulk_str(q, 11, ev->referer.data, ev->referer.len);
    tc_bulk_str(q, 12, ev->props.data, ev->props.len);
    tc_bulk_str(q, 13, ev->fields.data, ev->fields.len);
}


static tc_rc_t insert_each(tc_store_t *s, tc_batch_t *b, uint32_t day,
    size_t *idx, size_t n);
static tc_rc_t filter_existing(tc_store_t *s, tc_batch_t *b, uint32_t day,
    size_t *idx, size_t n, int after_dup);


/* The bulk INSERT of the TC_EV_OK events among idx[0..n). */
static tc_rc_t
insert_chunk_bulk(tc_store_t *s, tc_batch_t *b, uint32_t day, size_t *idx,
    size_t n)
{
    char        table[16];
    size_t      i, round;
    tc_rc_t     rc;
    unsigned    err;
    tc_bulk_t  *q;

    tc_day_table(day, table);

    for (round = 0; round < TC_DUP_ROUNDS; round++) {
        q = events_stmt(s, day, &rc);
        if (q == NULL) {
            if (s->err == ER_NO_SUCH_TABLE) {
                table_forget(s, day);
            }
            return rc;
        }

        for (i = 0; i < n; i++) {
            if (b->ev[idx[i]].status == TC_EV_OK) {
                if (tc_bulk_row(q) != TC_OK) {
                    tc_log_error("out of memory binding a batch");
                    return TC_RETRY;
                }
                bind_event(q, &b->ev[idx[i]], s->id_base + idx[i]);
            }
        }

        if (q->rows == 0) {
            return TC_OK;
        }

        if (tc_bulk_exec(q) == TC_OK) {
            return TC_OK;
        }

        err = mysql_stmt_errno(q->stmt);

        if (err == ER_DUP_ENTRY) {
            /* the statement was rolled back; the transaction goes on */
            rc = filter_existing(s, b, day, idx, n, 1);
            if (rc != TC_OK) {
                return rc;
            }
            continue;
        }

        if (data_error(err)) {
            tc_log_warn("mysql refused a row of batch %" PRIu64 " in %s: "
                        "(%u) %s; inserting its %zu rows one by one",
                        b->seq, table, err, mysql_stmt_error(q->stmt), n);
            return insert_each(s, b, day, idx, n);
        }

        rc = stmt_failed(s, q->stmt, table);
        if (err == ER_NO_SUCH_TABLE || err == ER_NEED_REPREPARE) {
            /* dropped by retention meanwhile, or changed */
            table_forget(s, day);
            events_stmt_forget(s, day);
        }

        return rc;
    }

    tc_log_info("batch %" PRIu64 ": eids in %s keep colliding with another "
                "consumer's; retrying the batch", b->seq, table);

    return TC_RETRY;
}


/* One multi-row INSERT of the TC_EV_OK events among idx[0..n). */
static tc_rc_t
insert_chunk(tc_store_t *s, tc_batch_t *b, uint32_t day, size_t *idx,
    size_t n)
{
    char         head[256], table[16];
    size_t       i, round;
    tc_rc_t      rc;
    unsigned     err;
    const char  *sql;

    if (s->bulk) {
        return insert_chunk_bulk(s, b, day, idx, n);
    }

    tc_sql_events_head(head, day);
    tc_day_table(day, table);

    /*
     * Galera: the eids stored already are skipped before the INSERT, and a
     * duplicate the INSERT finds anyway (another consumer's, committed
     * just now) rolls back the whole batch, not only the statement: a
     * statement rolled back inside a transaction once left rows in the
     * write set (the other nodes applied rows the writer had not kept and
     * left the cluster as inconsistent).  See the README, "Galera".
     */
    if (s->galera) {
        rc = filter_existing(s, b, day, idx, n, 0);
        if (rc != TC_OK) {
            return rc;
        }
    }

    for (round = 0; round < TC_DUP_ROUNDS; round++) {
        multi_start(s, head, NULL);
        for (i = 0; i < n; i++) {
            if (b->ev[idx[i]].status == TC_EV_OK) {
                tc_sql_row(&s->sql);
                tc_sql_event_row(&s->sql.buf, s->m, &b->ev[idx[i]],
                                 s->id_base + idx[i]);
            }
        }

        if (s->sql.rows == 0) {
            return TC_OK;
        }

        sql = tc_sql_end(&s->sql);
        if (sql == NULL) {
            return TC_RETRY;
        }

        if (mysql_real_query(s->m, sql, (unsigned long) s->sql.buf.len) == 0)
        {
            return TC_OK;
        }

        err = mysql_errno(s->m);

        if (err == ER_DUP_ENTRY && s->galera) {
            tc_log_info("batch %" PRIu64 ": an eid in %s was stored by "
                        "another consumer meanwhile; retrying the batch",
                        b->seq, table);
            return TC_RETRY;
        }

        if (err == ER_DUP_ENTRY) {
            /* the statement was rolled back; the transaction goes on */
            rc = filter_existing(s, b, day, idx, n, 1);
            if (rc != TC_OK) {
                return rc;
            }
            continue;
        }

        if (err == ER_NO_SUCH_TABLE) {
            table_forget(s, day);       /* dropped by retention meanwhile */
        }

        if (data_error(err)) {
            tc_log_warn("mysql refused a row of batch %" PRIu64 " in %s: "
                        "(%u) %s; inserting its %zu rows one by one",
                        b->seq, table, err, mysql_error(s->m), n);
            return insert_each(s, b, day, idx, n);
        }

        return tc_store_failed(s, table);
    }

    tc_log_info("batch %" PRIu64 ": eids in %s keep colliding with another "
                "consumer's; retrying the batch", b->seq, table);

    return TC_RETRY;
}


static tc_rc_t
insert_day(tc_store_t *s, tc_batch_t *b, uint32_t day)
{
    size_t   i, n, bytes;
    tc_rc_t  rc;
    size_t  *idx;

    /* b->order is free to use here: chunks of events of this day */
    idx = b->order;
    n = 0;
    bytes = 0;

    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status != TC_EV_OK || b->ev[i].day != day) {
            continue;
        }

        idx[n++] = i;
        bytes += 2 * (b->raw_len[i] + 64);

        if (bytes >= s->max_stmt) {
            rc = insert_chunk(s, b, day, idx, n);
            if (rc != TC_OK) {
                return rc;
            }
            n = 0;
            bytes = 0;
        }
    }

    return n ? insert_chunk(s, b, day, idx, n) : TC_OK;
}


#define TC_BULK_ROWS  5000


static tc_rc_t
bulk_flush(tc_store_t *s, tc_bulk_t *q, const char *what)
{
    if (tc_bulk_exec(q) == TC_OK) {
        return TC_OK;
    }

    return stmt_failed(s, q->stmt, what);
}


/*
 * The window's hourly rows in s->agg, each with its action's number (in
 * the caller's transaction: see tc_actions_ids); *rows their count.
 */
static tc_rc_t
hourly_rows(tc_store_t *s, tc_batch_t *b, size_t *rows)
{
    size_t       i, n;
    tc_rc_t      rc;
    const char  *what;

    n = tc_batch_hourly(b, s->agg);
    for (i = 0; i < n; i++) {
        s->agg_ev[i] = s->agg[i].ev;
    }

    rc = tc_actions_ids(s->m, s->max_stmt, s->agg_ev, n, s->agg_action,
                        &what);
    if (rc != TC_OK) {
        return rc == TC_ERROR ? tc_store_failed(s, what) : rc;
    }

    for (i = 0; i < n; i++) {
        s->agg[i].action_id = s->agg_action[i];
    }
    *rows = n;

    return TC_OK;
}


static tc_rc_t
stats_counts_bulk(tc_store_t *s, tc_batch_t *b)
{
    size_t             i, rows;
    tc_rc_t            rc;
    tc_bulk_t         *q;
    const tc_event_t  *ev;

    s->hourly.rows = 0;                 /* none left by a failed pass */
    s->daily.rows = 0;
    rc = hourly_rows(s, b, &rows);
    if (rc != TC_OK) {
        return rc;
    }
    q = &s->hourly;
    for (i = 0; i < rows; i++) {
        ev = s->agg[i].ev;
        if (tc_bulk_row(q) != TC_OK) {
            return TC_RETRY;
        }
        tc_bulk_int(q, 0, ev->day, 0);
        tc_bulk_int(q, 1, ev->hour, 0);
        tc_bulk_int(q, 2, s->agg[i].action_id, 0);
        tc_bulk_str(q, 3, ev->object.data ? ev->object.data : "",
                    ev->object.len);
        tc_bulk_int(q, 4, (int64_t) s->agg[i].n, 0);
        if (q->rows >= TC_BULK_ROWS || i + 1 == rows) {
            rc = bulk_flush(s, q, "updating stats_hourly");
            if (rc != TC_OK) {
                return rc;
            }
        }
    }

    /* the hourly rows are bound by value and sent: fold them into days */
    rows = tc_agg_daily(s->agg, rows);
    q = &s->daily;
    for (i = 0; i < rows; i++) {
        ev = s->agg[i].ev;
        if (tc_bulk_row(q) != TC_OK) {
            return TC_RETRY;
        }
        tc_bulk_int(q, 0, ev->day, 0);
        tc_bulk_int(q, 1, s->agg[i].action_id, 0);
        tc_bulk_str(q, 2, ev->object.data ? ev->object.data : "",
                    ev->object.len);
        tc_bulk_int(q, 3, (int64_t) s->agg[i].n, 0);
        if (q->rows >= TC_BULK_ROWS || i + 1 == rows) {
            rc = bulk_flush(s, q, "updating stats_daily");
            if (rc != TC_OK) {
                return rc;
            }
        }
    }

    return TC_OK;
}


static tc_rc_t
stats_counts(tc_store_t *s, tc_batch_t *b)
{
    size_t   i, rows;
    tc_rc_t  rc;

    if (s->bulk) {
        return stats_counts_bulk(s, b);
    }

    rc = hourly_rows(s, b, &rows);
    if (rc != TC_OK) {
        return rc;
    }
    multi_start(s, tc_sql_hourly_head, tc_sql_count_tail);
    for (i = 0; i < rows; i++) {
        tc_sql_row(&s->sql);
        tc_sql_hourly_row(&s->sql.buf, s->m, &s->agg[i]);
        if (s->sql.buf.len >= s->max_stmt) {
            rc = multi_run(s, "updating stats_hourly");
            if (rc != TC_OK) {
                return rc;
            }
        }
    }
    rc = multi_run(s, "updating stats_hourly");
    if (rc != TC_OK) {
        return rc;
    }

    rows = tc_agg_daily(s->agg, rows);
    multi_start(s, tc_sql_daily_head, tc_sql_count_tail);
    for (i = 0; i < rows; i++) {
        tc_sql_row(&s->sql);
        tc_sql_daily_row(&s->sql.buf, s->m, &s->agg[i]);
        if (s->sql.buf.len >= s->max_stmt) {
            rc = multi_run(s, "updating stats_daily");
            if (rc != TC_OK) {
                return rc;
            }
        }
    }

    return multi_run(s, "updating stats_daily");
}


/* day, app, module, action, uid (each at most TC_NAME_MAX bytes) */
#define TC_USER_KEY_MAX  (sizeof(uint32_t) + 4 * (sizeof(uint32_t)         \
                                                  + TC_NAME_MAX))

/* day, app, module, action, uid as one byte string in k; its length */
static size_t
user_key(char *k, const tc_event_t *ev)
{
    size_t    n;
    uint32_t  len;

    memcpy(k, &ev->day, sizeof(ev->day));
    n = sizeof(ev->day);
#define KEY_PART(f)                                                           \
    len = (uint32_t) ev->f.len;                                               \
    memcpy(k + n, &len, sizeof(len));                                         \
    n += sizeof(len);                                                         \
    if (len > 0) {                                                            \
        memcpy(k + n, ev->f.data, len);                                       \
        n += len;                                                             \
    }
    KEY_PART(app);
    KEY_PART(module);
    KEY_PART(action);
    KEY_PART(uid);
#undef KEY_PART

    return n;
}


/*
 * Sends q, INSERT IGNOREs separated by ';', as one multi-statement query:
 * one round trip.  The affected rows of statement k are new users of the
 * group whose first row is s->seen[gidx[k]].
 */
static tc_rc_t
seen_flush(tc_store_t *s, tc_buf_t *q, size_t *gidx, size_t nstmt)
{
    int         st;
    size_t      k;
    my_ulonglong  aff;

    if (nstmt == 0) {
        return TC_OK;
    }

    if (tc_buf_cstr(q) == NULL) {
        return TC_RETRY;
    }

    if (mysql_real_query(s->m, q->data, (unsigned long) q->len) != 0) {
        return tc_store_failed(s, "updating stats_user_seen");
    }

    k = 0;
    do {
        if (mysql_field_count(s->m) != 0) {
            mysql_free_result(mysql_store_result(s->m));
        }

        aff = mysql_affected_rows(s->m);
        if (k < nstmt && aff != (my_ulonglong) -1) {
            s->seen_new[gidx[k]] += aff;
        }
        k++;

        st = mysql_next_result(s->m);
        if (st > 0) {
            return tc_store_failed(s, "updating stats_user_seen");
        }
    } while (st == 0);

    tc_buf_reset(q);

    return TC_OK;
}


static tc_rc_t
seen_bind(tc_bulk_t *q, const tc_event_t *ev, uint32_t action_id)
{
    if (tc_bulk_row(q) != TC_OK) {
        return TC_RETRY;
    }

    tc_bulk_int(q, 0, action_id, 0);
    tc_bulk_int(q, 1, ev->day, 0);
    tc_bulk_str(q, 2, ev->uid.data, ev->uid.len);

    return TC_OK;
}


/* The bound rows of the group starting at s->seen[i]; counts its new users */
static tc_rc_t
seen_exec(tc_store_t *s, size_t i)
{
    tc_rc_t  rc;

    rc = bulk_flush(s, &s->seen_stmt, "updating stats_user_seen");
    if (rc == TC_OK) {
        s->seen_new[i] += mysql_stmt_affected_rows(s->seen_stmt.stmt);
    }

    return rc;
}


/*
 * The memberships of the batch's users, by group (app, module, action,
 * day): bound to the prepared INSERT IGNORE and run once per group (its
 * affected rows are the group's new users), or, without bulk statements,
 * as text INSERT IGNOREs sent together.  Binding saves MariaDB parsing
 * the rows' text: a fifth to a third of the memberships' time (bench).
 */
static tc_rc_t
stats_users(tc_store_t *s, tc_batch_t *b, size_t *nseen, tc_buf_t *tail)
{
    size_t              i, j, n, g, nstmt, rows, klen;
    tc_rc_t             rc;
    tc_buf_t            q;
    size_t             *gidx;
    const char         *what;
    const tc_event_t   *ev, *first;
    char                key[TC_USER_KEY_MAX];

    n = tc_batch_users(b, s->seen);
    *nseen = n;

    rc = tc_actions_ids(s->m, s->max_stmt, s->seen, n, s->seen_action,
                        &what);
    if (rc != TC_OK) {
        return rc == TC_ERROR ? tc_store_failed(s, what) : rc;
    }

    /* groups: runs of equal (app, module, action, day); seen_new per run */
    s->seen_stmt.rows = 0;              /* none left by a failed pass */
    tc_buf_init(&q);
    gidx = b->order;            /* statement -> index of the group's first */
    nstmt = 0;
    rc = TC_OK;

    for (i = 0; i < n; i = j) {
        first = s->seen[i];
        s->seen_new[i] = 0;

        for (j = i; j < n && tc_event_group_cmp(first, s->seen[j]) == 0; j++)
        {
            /* void */
        }

        rows = 0;
        for (g = i; g < j; g++) {
            ev = s->seen[g];

            s->seen_known[g] = 0;
            if (s->users.count > 0) {
                klen = user_key(key, ev);
                if (tc_set_has(&s->users, key, klen)) {
                    s->seen_known[g] = 1;
                    continue;       /* committed before: not a new user */
                }
            }

            if (s->bulk) {
                rc = seen_bind(&s->seen_stmt, ev, s->seen_action[g]);
                if (rc == TC_OK && s->seen_stmt.rows >= TC_BULK_ROWS) {
                    rc = seen_exec(s, i);
                }
                if (rc != TC_OK) {
                    goto done;
                }
                continue;
            }

            if (rows++ == 0) {
                if (q.len > 0) {
                    tc_buf_add(&q, ";", 1);
                }
                tc_buf_adds(&q, tc_sql_seen_head);
                gidx[nstmt++] = i;
            } else {
                tc_buf_add(&q, ",", 1);
            }
            tc_sql_seen_row(&q, s->m, ev, s->seen_action[g]);

            if (q.len >= s->max_stmt) {
                rc = seen_flush(s, &q, gidx, nstmt);
                if (rc != TC_OK) {
                    goto done;
                }
                nstmt = 0;
                rows = 0;
            }
        }

        if (s->seen_stmt.rows > 0) {
            rc = seen_exec(s, i);
            if (rc != TC_OK) {
                goto done;
            }
        }
    }

    rc = seen_flush(s, &q, gidx, nstmt);
    if (rc != TC_OK) {
        goto done;
    }

    multi_start(s, tc_sql_users_head, tc_sql_users_tail);
    for (i = 0; i < n; i = j) {
        first = s->seen[i];
        for (j = i; j < n && tc_event_group_cmp(first, s->seen[j]) == 0; j++)
        {
            /* void */
        }

        if (s->seen_new[i] > 0) {
            s->stats.new_users += s->seen_new[i];
            tc_sql_row(&s->sql);
            tc_sql_users_row(&s->sql.buf, s->m, first, s->seen_new[i]);
        }
    }

    /* sent with the batch marker and COMMIT, in one round trip */
    if (s->sql.rows > 0) {
        tc_buf_add(tail, s->sql.buf.data, s->sql.buf.len);
        tc_buf_adds(tail, s->sql.tail);
        tc_buf_add(tail, ";", 1);
    }
    rc = TC_OK;

done:

    tc_buf_free(&q);

    return rc;
}


static void
stats_dead(tc_store_t *s, tc_batch_t *b, tc_buf_t *tail)
{
    size_t       i, j;
    uint32_t     today;
    uint64_t     n;
    const char  *code;

    today = tc_day_today();
    multi_start(s, tc_sql_dead_head, tc_sql_count_tail);

    /* few distinct codes: count each at its first occurrence */
    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status != TC_EV_DEAD
            && b->ev[i].status != TC_EV_REJECTED)
        {
            continue;
        }

        code = b->ev[i].code;
        for (j = 0; j < i; j++) {
            if ((b->ev[j].status == TC_EV_DEAD
                 || b->ev[j].status == TC_EV_REJECTED)
                && strcmp(b->ev[j].code, code) == 0)
            {
                break;
            }
        }
        if (j < i) {
            continue;
        }

        n = 0;
        for (j = i; j < b->n; j++) {
            if ((b->ev[j].status == TC_EV_DEAD
                 || b->ev[j].status == TC_EV_REJECTED)
                && strcmp(b->ev[j].code, code) == 0)
            {
                n++;
            }
        }

        tc_sql_row(&s->sql);
        tc_sql_dead_row(&s->sql.buf, s->m, today, code, n);
    }

    if (s->sql.rows > 0) {
        tc_buf_add(tail, s->sql.buf.data, s->sql.buf.len);
        tc_buf_adds(tail, s->sql.tail);
        tc_buf_add(tail, ";", 1);
    }
}


static void
remember_users(tc_store_t *s, size_t nseen)
{
    char    key[TC_USER_KEY_MAX];
    size_t  i, klen;

    if (s->users.max == 0) {
        return;
    }

    for (i = 0; i < nseen; i++) {
        if (s->seen_known[i]) {
            continue;
        }
        klen = user_key(key, s->seen[i]);
        if (tc_set_add(&s->users, key, klen) != TC_OK) {
            tc_set_clear(&s->users);    /* never keep a partial truth */
            break;
        }
    }
}


/*
 * The id range of the batch's stored rows of each day, for the roll-up:
 * rows get ids id_base + their index in the batch, so the range of a day
 * holds that day's rows of this batch and no other batch's.
 */
static void
pending_ranges(tc_store_t *s, tc_batch_t *b, tc_buf_t *tail)
{
    size_t    i, d, n, rows;
    uint64_t  lo, hi;

    rows = 0;
    for (d = 0; d < b->ndays; d++) {
        n = 0;
        lo = 0;
        hi = 0;
        for (i = 0; i < b->n; i++) {
            if (b->ev[i].status != TC_EV_OK || b->ev[i].day != b->days[d]) {
                continue;
            }
            if (n++ == 0) {
                lo = s->id_base + i;
            }
            hi = s->id_base + i;
        }
        if (n == 0) {
            continue;
        }

        tc_buf_adds(tail, rows++ ? "," : "INSERT INTO stats_pending"
                    " (first_id, last_id, day, events) VALUES ");
        tc_buf_addf(tail, "(%" PRIu64 ",%" PRIu64 ",", lo, hi);
        tc_sql_date(tail, b->days[d]);
        tc_buf_addf(tail, ",%zu)", n);
    }

    if (rows > 0) {
        tc_buf_add(tail, ";", 1);
    }
}


tc_rc_t
tc_store_memberships(tc_store_t *s, tc_batch_t *b, tc_buf_t *tail,
    size_t *nseen)
{
    if (scratch(s, b->n + 1) != TC_OK) {
        tc_log_error("out of memory for statistics of %zu events", b->n);
        return TC_RETRY;
    }

    return stats_users(s, b, nseen, tail);
}


tc_rc_t
tc_store_counters(tc_store_t *s, tc_batch_t *b)
{
    return stats_counts(s, b);
}


void
tc_store_remember_users(tc_store_t *s, size_t nseen)
{
    remember_users(s, nseen);
}


tc_rc_t
tc_store_apply(tc_store_t *s, tc_batch_t *b)
{
    int        isnull;
    size_t     i;
    tc_rc_t    rc;
    uint64_t   last, claim, marked, v[3];
    tc_buf_t   q;

    memset(&s->stats, 0, sizeof(s->stats));

    if (s->m == NULL) {
        return TC_DOWN;
    }

    /* a previous attempt may have marked events: decide afresh */
    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status == TC_EV_EXISTS
            || b->ev[i].status == TC_EV_REJECTED)
        {
            b->ev[i].status = TC_EV_OK;
        }
    }
    tc_batch_days(b);

    if (scratch(s, b->n + 1) != TC_OK) {
        tc_log_error("out of memory for a batch of %zu", b->n);
        return TC_RETRY;
    }

    for (i = 0; i < b->ndays; i++) {
        rc = ensure_table(s, b->days[i]);
        if (rc != TC_OK) {
            return rc;
        }
    }

    /*
     * Ids for the batch's rows, one per element, reserved in an autocommit
     * UPDATE (the allocator's row is locked for that statement only): no
     * other batch's rows fall in its id ranges.  Then the batch marker's
     * row, locked until COMMIT, its count of batches raised first: the
     * transaction's claim (below).  One round trip.
     *
     * Galera can abort the transaction while a statement runs or while the
     * client is between statements.  The statement then answers 1213 or,
     * when the abort came in its last moment, succeeds (the error comes
     * one or two statements later), and the statements after it run in a
     * new transaction.  So: autocommit off (they wait for a COMMIT); the
     * marker is written only where the claim still holds (a rolled-back
     * claim is the committed count again), else the batch rolls back; and
     * COMMIT goes alone, once the marker's statements all succeeded, and
     * is read back.  Otherwise the marker could commit without the rows:
     * the batch taken for stored, and lost.
     */
    tc_buf_init(&q);
    tc_buf_addf(&q, "UPDATE track_ids SET next_id = LAST_INSERT_ID(next_id"
                " + %zu) WHERE name = 'events';SET autocommit = 0;"
                "START TRANSACTION;"
                "UPDATE consumer_state SET batches = batches + 1"
                " WHERE consumer_id = ", b->n);
    tc_sql_quote(&q, s->m, s->conf->id, strlen(s->conf->id));
    tc_buf_adds(&q, ";SELECT last_seq, LAST_INSERT_ID(), batches"
                " FROM consumer_state WHERE consumer_id = ");
    tc_sql_quote(&q, s->m, s->conf->id, strlen(s->conf->id));
    tc_buf_adds(&q, " FOR UPDATE");
    rc = query_u64s(s, tc_buf_cstr(&q), q.len, "reading the batch marker",
                    v, 3, &isnull);
    tc_buf_free(&q);
    if (rc != TC_OK) {
        goto rollback;
    }
    last = v[0];
    s->id_base = v[1] - b->n;
    claim = v[2];

    if (!isnull && v[1] < b->n + 1) {
        tc_log_error("track_ids has no row \"events\"; reconnecting to "
                     "recreate it");
        rc = TC_DOWN;
        goto rollback;
    }

    if (isnull) {
        tc_log_error("consumer_state has no row for \"%s\"; reconnecting to "
                     "recreate it", s->conf->id);
        rc = TC_DOWN;
        goto rollback;
    }

    if (last >= b->seq) {
        if (mysql_rollback(s->m) != 0 || mysql_autocommit(s->m, 1) != 0) {
            tc_store_failed(s, "ROLLBACK");
            return TC_DOWN;
        }
        s->last_seq = last;
        return TC_ALREADY;
    }

    for (i = 0; i < b->ndays; i++) {
        rc = insert_day(s, b, b->days[i]);
        if (rc != TC_OK) {
            goto rollback;
        }
    }

    /* the statistics come later, from the roll-up: see pending_ranges() */
    tc_buf_init(&q);
    pending_ranges(s, b, &q);
    stats_dead(s, b, &q);
    tc_fault_sql(&q, "batch_marker");

    s->stats.stored = tc_batch_count(b, TC_EV_OK);
    s->stats.duplicates = tc_batch_count(b, TC_EV_DUP)
                          + tc_batch_count(b, TC_EV_EXISTS);
    s->stats.dead = tc_batch_count(b, TC_EV_DEAD)
                    + tc_batch_count(b, TC_EV_REJECTED);

    /* pending ranges, dead letters, the marker (last): one round trip */
    tc_buf_addf(&q, "UPDATE consumer_state SET last_seq = %" PRIu64
                ", events = events + %zu, duplicates = duplicates + %zu,"
                " dead = dead + %zu WHERE batches = %" PRIu64
                " AND consumer_id = ", b->seq, s->stats.stored,
                s->stats.duplicates, s->stats.dead, claim);
    tc_sql_quote(&q, s->m, s->conf->id, strlen(s->conf->id));

    rc = run_last(s, tc_buf_cstr(&q), q.len, "writing the batch marker",
                  &marked);
    tc_buf_free(&q);
    if (rc == TC_OK && marked != 1) {
        tc_log_warn("the batch's transaction was aborted before its marker "
                    "(a Galera conflict reported late); retrying it");
        rc = TC_RETRY;
    }
    if (rc == TC_OK && tc_batch_count(b, TC_EV_REJECTED) > 0
        && s->before_commit != NULL
        && s->before_commit(b, s->before_commit_data) != TC_OK)
    {
        /* rows MySQL refused go to the dead letters before COMMIT */
        rc = TC_RETRY;
    }
    if (rc != TC_OK) {
        goto rollback;
    }

    tc_fault_point("before_commit");
    tc_buf_init(&q);
    tc_fault_sql(&q, "batch_commit");
    tc_buf_adds(&q, "COMMIT;SET autocommit = 1;"
                "SELECT last_seq FROM consumer_state WHERE consumer_id = ");
    tc_sql_quote(&q, s->m, s->conf->id, strlen(s->conf->id));
    rc = query_u64s(s, tc_buf_cstr(&q), q.len, "COMMIT", v, 1, &isnull);
    tc_buf_free(&q);
    if (rc == TC_DOWN) {
        return rc;      /* committed or not: the marker tells, reconnected */
    }
    if (rc != TC_OK) {
        goto rollback;  /* a refused COMMIT: the retry reads the marker */
    }
    if (isnull || v[0] != b->seq) {
        tc_log_warn("the batch's COMMIT succeeded, but its marker is not "
                    "there (a Galera conflict reported late); retrying it");
        return TC_RETRY;
    }

    s->last_seq = b->seq;

    return TC_OK;

rollback:

    if (rc != TC_DOWN && s->m != NULL) {
        if (mysql_rollback(s->m) != 0 || mysql_autocommit(s->m, 1) != 0) {
            tc_store_failed(s, "ROLLBACK");
            rc = TC_DOWN;
        }
    }

    return rc;
}


tc_rc_t
tc_store_retention(tc_store_t *s)
{
    int         isnull;
    char        date[11], table[16], *name;
    size_t      i, n, dropped;
    tc_rc_t     rc;
    uint32_t    cutoff, day, *days;
    uint64_t    pending;
    tc_buf_t    q;
    MYSQL_ROW   row;
    MYSQL_RES  *res;
    my_ulonglong  aff;

    if (s->conf->retention_days == 0 || s->m == NULL) {
        return TC_OK;
    }

    cutoff = tc_day_sub(tc_day_today(), s->conf->retention_days);

    if (mysql_query(s->m, "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                    " AND table_name LIKE 'events\\_%'") != 0)
    {
        return tc_store_failed(s, "listing day tables");
    }

    res = mysql_store_result(s->m);
    if (res == NULL) {
        return tc_store_failed(s, "listing day tables");
    }

    n = 0;
    days = calloc(mysql_num_rows(res) + 1, sizeof(uint32_t));
    while (days != NULL && (row = mysql_fetch_row(res)) != NULL) {
        name = row[0];
        day = name ? tc_day_parse_table(name) : 0;
        if (day != 0 && day < cutoff) {
            days[n++] = day;
        }
    }
    mysql_free_result(res);

    rc = TC_OK;
    dropped = 0;
    tc_buf_init(&q);

    for (i = 0; days != NULL && i < n; i++) {
        /* rows not counted yet would be lost with the table: later */
        tc_buf_reset(&q);
        tc_buf_adds(&q, "SELECT COUNT(*) FROM stats_pending WHERE day = ");
        tc_sql_date(&q, days[i]);
        rc = query_u64(s, tc_buf_cstr(&q), q.len, "looking for pending rows",
                       &pending, &isnull);
        if (rc != TC_OK) {
            break;
        }
        tc_day_table(days[i], table);
        if (pending > 0) {
            tc_log_info("retention: %s kept until the statistics count its "
                        "%" PRIu64 " pending ranges", table, pending);
            continue;
        }

        tc_buf_reset(&q);
        tc_buf_addf(&q, "DROP TABLE IF EXISTS `%s`", table);
        rc = run(s, tc_buf_cstr(&q), q.len, "dropping an old day table");
        if (rc != TC_OK) {
            break;
        }
        table_forget(s, days[i]);
        dropped++;
        tc_log_info("retention: dropped %s (older than %ld days)", table,
                    s->conf->retention_days);
    }
    free(days);

    /*
     * User memberships of those days: only needed while a day is open.
     * stats_user_seen has no index on day: delete by primary-key range,
     * one action at a time, those with days in stats_daily_users.
     */
    tc_day_date(cutoff, date);
    res = NULL;
    if (rc == TC_OK) {
        tc_buf_reset(&q);
        tc_buf_addf(&q, "SELECT DISTINCT a.id FROM stats_daily_users d"
                    " JOIN stats_actions a USING (app, module, action)"
                    " WHERE d.day < '%s'", date);
        if (tc_buf_cstr(&q) == NULL
            || mysql_real_query(s->m, q.data, (unsigned long) q.len) != 0
            || (res = mysql_store_result(s->m)) == NULL)
        {
            rc = tc_store_failed(s, "listing old user memberships");
        }
    }

    while (rc == TC_OK && (row = mysql_fetch_row(res)) != NULL) {
        do {
            tc_buf_reset(&q);
            tc_buf_addf(&q, "DELETE FROM stats_user_seen WHERE action_id = "
                        "%lu AND day < '%s' LIMIT 10000",
                        strtoul(row[0], NULL, 10), date);
            if (tc_buf_cstr(&q) == NULL
                || mysql_real_query(s->m, q.data, (unsigned long) q.len) != 0)
            {
                rc = tc_store_failed(s, "deleting old user memberships");
                break;
            }
            aff = mysql_affected_rows(s->m);
            if (aff > 0) {
                tc_set_clear(&s->users);
            }
        } while (aff == 10000);
    }

    if (res != NULL) {
        mysql_free_result(res);
    }
    tc_buf_free(&q);

    if (rc == TC_OK) {
        tc_log_debug("retention: %zu day tables dropped, cutoff %s", dropped,
                     date);
    }

    return rc;
}
