/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: a fixed-size pool of read-only MySQL connections with
 * per-connection prepared-statement caches and reconnect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "common/date.h"
#include "common/db.h"
#include "common/log.h"
#include "common/rc.h"

#include "pool.h"


#define MAX_BINDS  16


static void
conn_close(tc_conn_t *c)
{
    int  i;

    for (i = 0; i < c->nstmts; i++) {
        mysql_stmt_close(c->stmts[i].stmt);
    }
    c->nstmts = 0;
    c->next_evict = 0;

    if (c->mysql != NULL) {
        mysql_close(c->mysql);
        c->mysql = NULL;
    }
}


static tc_rc_t
conn_open(const tc_db_login_t *cfg, tc_conn_t *c)
{
    char    sql[64], addr[300];
    MYSQL  *m;

    m = tc_db_connect(cfg, &c->host, addr, sizeof(addr));
    if (m == NULL) {
        return TC_ERROR;
    }

    /* The server stops a runaway statement (MariaDB; MySQL ignores it). */
    snprintf(sql, sizeof(sql), "SET SESSION max_statement_time = %u",
             cfg->timeout);
    if (mysql_query(m, sql) != 0) {
        tc_log_debug("%s: %s", sql, mysql_error(m));
    }

    if (mysql_query(m, "SET SESSION TRANSACTION READ ONLY") != 0) {
        tc_log_debug("SET SESSION TRANSACTION READ ONLY: %s", mysql_error(m));
    }

    c->mysql = m;
    tc_log_debug("connected to MySQL at %s, server %s", addr,
                 mysql_get_server_info(m));

    return TC_OK;
}


int
tc_pool_init(tc_pool_t *pool, int size, const tc_db_login_t *cfg)
{
    int  i, opened = 0;

    memset(pool, 0, sizeof(*pool));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);

    pool->conns = calloc((size_t) size, sizeof(tc_conn_t));
    if (pool->conns == NULL) {
        return -1;
    }

    pool->size = size;
    pool->cfg = cfg;

    for (i = 0; i < size; i++) {
        /* where the previous one found a host answering */
        pool->conns[i].host = i > 0 ? pool->conns[i - 1].host : 0;
        if (conn_open(cfg, &pool->conns[i]) != TC_OK) {
            break;
        }
        opened++;
    }

    return opened;
}


void
tc_pool_destroy(tc_pool_t *pool)
{
    int  i;

    for (i = 0; i < pool->size; i++) {
        conn_close(&pool->conns[i]);
    }

    free(pool->conns);
    pool->conns = NULL;
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
}


tc_conn_t *
tc_pool_acquire(tc_pool_t *pool, unsigned timeout_ms)
{
    int              i;
    tc_conn_t       *c = NULL;
    struct timespec  deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&pool->lock);

    for ( ;; ) {
        /* prefer a connection that is open */
        for (i = 0; i < pool->size; i++) {
            if (!pool->conns[i].busy) {
                if (c == NULL || (c->mysql == NULL
                                  && pool->conns[i].mysql != NULL))
                {
                    c = &pool->conns[i];
                }
            }
        }

        if (c != NULL) {
            c->busy = 1;
            break;
        }

        if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline)
            == ETIMEDOUT)
        {
            break;
        }
    }

    pthread_mutex_unlock(&pool->lock);

    return c;
}


void
tc_pool_release(tc_pool_t *pool, tc_conn_t *c)
{
    pthread_mutex_lock(&pool->lock);
    c->busy = 0;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}


static MYSQL_STMT *
stmt_get(tc_conn_t *c, const char *sql, unsigned *err)
{
    int          i;
    MYSQL_STMT  *stmt;

    for (i = 0; i < c->nstmts; i++) {
        if (c->stmts[i].sql == sql) {
            return c->stmts[i].stmt;
        }
    }

    stmt = mysql_stmt_init(c->mysql);
    if (stmt == NULL) {
        *err = mysql_errno(c->mysql);
        return NULL;
    }

    if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) {
        *err = mysql_stmt_errno(stmt);
        tc_log_warn("prepare failed (%u): %s; statement: %s", *err,
                    mysql_stmt_error(stmt), sql);
        mysql_stmt_close(stmt);
        return NULL;
    }

    if (c->nstmts == TC_STMT_CACHE) {
        i = c->next_evict;
        c->next_evict = (c->next_evict + 1) % TC_STMT_CACHE;
        mysql_stmt_close(c->stmts[i].stmt);
    } else {
        i = c->nstmts++;
    }

    c->stmts[i].sql = sql;
    c->stmts[i].stmt = stmt;

    return stmt;
}


/* Client-side errors (2000..2999) and a few server ones mean the connection
 * is gone or unusable: drop it and try again on a new one. */
static int
conn_broken(unsigned err)
{
    return (err >= 2000 && err < 3000)
           || err == ER_SERVER_SHUTDOWN
           || err == ER_CONNECTION_KILLED
           || err == ER_UNKNOWN_STMT_HANDLER
           || err == ER_UNKNOWN_COM_ERROR     /* Galera: node not ready */
           || err == 0;
}


static void
bind_params(tc_param_t *params, int n, MYSQL_BIND *b)
{
    int  i, y, m, d;

    memset(b, 0, sizeof(MYSQL_BIND) * (size_t) n);

    for (i = 0; i < n; i++) {
        switch (params[i].type) {

        case TC_T_STR:
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = (void *) params[i].str;
            b[i].buffer_length = params[i].len;
            b[i].length = &params[i].len;
            break;

        case TC_T_U64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &params[i].u64;
            b[i].is_unsigned = 1;
            break;

        case TC_T_DAY:
            tc_days_to_civil(params[i].day, &y, &m, &d);
            memset(&params[i].tm, 0, sizeof(MYSQL_TIME));
            params[i].tm.year = (unsigned) y;
            params[i].tm.month = (unsigned) m;
            params[i].tm.day = (unsigned) d;
            params[i].tm.time_type = MYSQL_TIMESTAMP_DATE;
            b[i].buffer_type = MYSQL_TYPE_DATE;
            b[i].buffer = &params[i].tm;
            break;
        }
    }
}


static void
bind_cols(tc_col_t *cols, int n, MYSQL_BIND *b)
{
    int  i;

    memset(b, 0, sizeof(MYSQL_BIND) * (size_t) n);

    for (i = 0; i < n; i++) {
        b[i].is_null = &cols[i].is_null;
        b[i].error = &cols[i].error;

        switch (cols[i].type) {

        case TC_T_STR:
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = cols[i].str;
            b[i].buffer_length = TC_FIELD_MAX - 1;
            b[i].length = &cols[i].len;
            break;

        case TC_T_U64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &cols[i].u64;
            b[i].is_unsigned = 1;
            break;

        case TC_T_DAY:
            b[i].buffer_type = MYSQL_TYPE_DATE;
            b[i].buffer = &cols[i].tm;
            break;

        case TC_T_U8:
            b[i].buffer_type = MYSQL_TYPE_TINY;
            b[i].buffer = &cols[i].u8;
            b[i].is_unsigned = 1;
            break;
        }
    }
}


static tc_db_status_t
fetch_rows(MYSQL_STMT *stmt, tc_col_t *cols, int ncols,
    tc_row_handler_pt row, void *arg)
{
    int  r, i;

    for ( ;; ) {
        r = mysql_stmt_fetch(stmt);

        if (r == MYSQL_NO_DATA) {
            return TC_DB_OK;
        }

        if (r == 1) {
            tc_log_error("fetch: %s", mysql_stmt_error(stmt));
            return TC_DB_ERROR;
        }

        for (i = 0; i < ncols; i++) {
            if (cols[i].error) {
                /* MYSQL_DATA_TRUNCATED: never expected with this schema */
                tc_log_error("fetch: column %d truncated", i);
                return TC_DB_ERROR;
            }

            switch (cols[i].type) {
            case TC_T_STR:
                cols[i].str[cols[i].is_null ? 0 : cols[i].len] = '\0';
                if (cols[i].is_null) {
                    cols[i].len = 0;
                }
                break;
            case TC_T_U64:
                if (cols[i].is_null) {
                    cols[i].u64 = 0;
                }
                break;
            case TC_T_DAY:
                cols[i].day = tc_days_from_civil((int) cols[i].tm.year,
                                                 (int) cols[i].tm.month,
                                                 (int) cols[i].tm.day);
                break;
            }
        }

        if (row(arg, cols) != TC_OK) {
            return TC_DB_ERROR;
        }
    }
}


tc_db_status_t
tc_db_query(tc_pool_t *pool, tc_conn_t *c, const char *sql,
    tc_param_t *params, int nparams, tc_col_t *cols, int ncols,
    tc_row_handler_pt row, void *arg)
{
    int              attempt;
    unsigned         err = 0;
    MYSQL_BIND       pb[MAX_BINDS], cb[MAX_BINDS];
    MYSQL_STMT      *stmt;
    tc_db_status_t   rc;

    if (nparams > MAX_BINDS || ncols > MAX_BINDS) {
        return TC_DB_ERROR;
    }

    for (attempt = 0; attempt < 2; attempt++) {

        if (c->mysql == NULL && conn_open(pool->cfg, c) != TC_OK) {
            return TC_DB_UNAVAILABLE;
        }

        stmt = stmt_get(c, sql, &err);
        if (stmt == NULL) {
            goto failed;
        }

        bind_params(params, nparams, pb);
        bind_cols(cols, ncols, cb);

        if ((nparams > 0 && mysql_stmt_bind_param(stmt, pb) != 0)
            || mysql_stmt_execute(stmt) != 0
            || mysql_stmt_bind_result(stmt, cb) != 0
            || mysql_stmt_store_result(stmt) != 0)
        {
            err = mysql_stmt_errno(stmt);
            tc_log_warn("query failed (%u): %s", err, mysql_stmt_error(stmt));
            mysql_stmt_free_result(stmt);
            goto failed;
        }

        rc = fetch_rows(stmt, cols, ncols, row, arg);
        mysql_stmt_free_result(stmt);

        return rc;

    failed:

        if (err == ER_STATEMENT_TIMEOUT) {
            return TC_DB_TIMEOUT;
        }

        if (!conn_broken(err)) {
            return TC_DB_ERROR;
        }

        /* a lost host: the next one of mysql-host first */
        tc_log_info("MySQL connection lost (%u), reconnecting", err);
        conn_close(c);
        c->host++;
    }

    return TC_DB_UNAVAILABLE;
}
