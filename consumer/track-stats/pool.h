/* track-stats: a fixed-size pool of read-only MySQL connections with
 * per-connection prepared-statement caches and reconnect. */
#ifndef STATS_POOL_H
#define STATS_POOL_H

#include <pthread.h>
#include <stdint.h>

#include <mysql.h>

#define ST_STMT_CACHE   32
#define ST_FIELD_MAX    (128 * 4 + 1)   /* VARCHAR(128) utf8mb4, plus NUL */

enum st_db_status {
    ST_DB_OK = 0,
    ST_DB_UNAVAILABLE,              /* cannot connect, pool exhausted */
    ST_DB_TIMEOUT,                  /* statement ran into its time limit */
    ST_DB_ERROR                     /* anything else: a bug or the schema */
};

struct st_db_config {
    const char  *host;
    unsigned     port;
    const char  *socket;
    const char  *user;
    const char  *password;
    const char  *database;
    unsigned     timeout;           /* seconds: connect, I/O, statement */
};

enum st_type {
    ST_T_STR = 0,
    ST_T_U64,
    ST_T_DAY,                       /* DATE as days since the epoch */
    ST_T_U8
};

struct st_param {
    int                  type;
    const char          *str;
    unsigned long        len;
    int64_t              day;
    unsigned long long   u64;
    MYSQL_TIME           tm;        /* filled from day */
};

struct st_col {
    int                  type;
    char                 str[ST_FIELD_MAX];
    unsigned long        len;
    unsigned long long   u64;
    int64_t              day;
    unsigned char        u8;
    MYSQL_TIME           tm;
    my_bool              is_null;
    my_bool              error;
};

struct st_conn {
    MYSQL               *mysql;     /* NULL while disconnected */
    struct {
        const char      *sql;       /* identity: static query texts */
        MYSQL_STMT      *stmt;
    }                    stmts[ST_STMT_CACHE];
    int                  nstmts;
    int                  next_evict;
    int                  busy;
};

struct st_pool {
    pthread_mutex_t              lock;
    pthread_cond_t               cond;
    struct st_conn              *conns;
    int                          size;
    const struct st_db_config   *cfg;
};

/* Returns the number of connections opened at once; the others (or all,
 * while the database is down) are opened on first use. */
int st_pool_init(struct st_pool *pool, int size,
    const struct st_db_config *cfg);
void st_pool_destroy(struct st_pool *pool);

struct st_conn *st_pool_acquire(struct st_pool *pool, unsigned timeout_ms);
void st_pool_release(struct st_pool *pool, struct st_conn *c);

typedef int (*st_row_handler)(void *arg, const struct st_col *cols);

/*
 * Runs one prepared statement (sql must be a string that lives for the whole
 * run: it keys the statement cache), calling row for each result row; a
 * non-zero return from row stops the fetch and becomes ST_DB_ERROR.
 * The whole result is stored client-side before the first row is handed
 * out, so a lost connection is retried once on a new one without ever
 * handing out a row twice.
 */
int st_db_query(struct st_pool *pool, struct st_conn *c, const char *sql,
    struct st_param *params, int nparams, struct st_col *cols, int ncols,
    st_row_handler row, void *arg);

#endif
