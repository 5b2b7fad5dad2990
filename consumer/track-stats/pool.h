/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: a fixed-size pool of read-only MySQL connections with
 * per-connection prepared-statement caches and reconnect. */
#ifndef TC_POOL_H
#define TC_POOL_H

#include <pthread.h>
#include <stdint.h>

#include <mysql.h>

#include "common/db.h"
#include "common/rc.h"

#define TC_STMT_CACHE   32
#define TC_FIELD_MAX    (128 * 4 + 1)   /* VARCHAR(128) utf8mb4, plus NUL */

typedef enum {
    TC_DB_OK = 0,
    TC_DB_UNAVAILABLE,              /* cannot connect, pool exhausted */
    TC_DB_TIMEOUT,                  /* statement ran into its time limit */
    TC_DB_ERROR                     /* anything else: a bug or the schema */
} tc_db_status_t;

typedef enum {
    TC_T_STR = 0,
    TC_T_U64,
    TC_T_DAY,                       /* DATE as days since the epoch */
    TC_T_U8
} tc_type_t;

typedef struct {
    int                  type;
    const char          *str;
    unsigned long        len;
    int64_t              day;
    unsigned long long   u64;
    MYSQL_TIME           tm;        /* filled from day */
} tc_param_t;

typedef struct {
    int                  type;
    char                 str[TC_FIELD_MAX];
    unsigned long        len;
    unsigned long long   u64;
    int64_t              day;
    unsigned char        u8;
    MYSQL_TIME           tm;
    my_bool              is_null;
    my_bool              error;
} tc_col_t;

typedef struct {
    MYSQL               *mysql;     /* NULL while disconnected */
    struct {
        const char      *sql;       /* identity: static query texts */
        MYSQL_STMT      *stmt;
    }                    stmts[TC_STMT_CACHE];
    int                  nstmts;
    int                  next_evict;
    int                  busy;
    size_t               host;      /* mysql_host entry: tc_db_connect */
} tc_conn_t;

typedef struct {
    pthread_mutex_t              lock;
    pthread_cond_t               cond;
    tc_conn_t                   *conns;
    int                          size;
    const tc_db_login_t        *cfg;
} tc_pool_t;

/* Returns the number of connections opened at once; the others (or all,
 * while the database is down) are opened on first use. */
int tc_pool_init(tc_pool_t *pool, int size,
    const tc_db_login_t *cfg);
void tc_pool_destroy(tc_pool_t *pool);

tc_conn_t *tc_pool_acquire(tc_pool_t *pool, unsigned timeout_ms);
void tc_pool_release(tc_pool_t *pool, tc_conn_t *c);

typedef tc_rc_t (*tc_row_handler_pt)(void *arg, const tc_col_t *cols);

/*
 * Runs one prepared statement (sql must be a string that lives for the whole
 * run: it keys the statement cache), calling row for each result row; a
 * TC_ERROR from row stops the fetch and becomes TC_DB_ERROR.
 * The whole result is stored client-side before the first row is handed
 * out, so a lost connection is retried once on a new one without ever
 * handing out a row twice.
 */
tc_db_status_t tc_db_query(tc_pool_t *pool, tc_conn_t *c, const char *sql,
    tc_param_t *params, int nparams, tc_col_t *cols, int ncols,
    tc_row_handler_pt row, void *arg);

#endif
