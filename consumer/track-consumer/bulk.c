/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: prepared statements run over many rows at once (bulk). */
#include <stdlib.h>
#include <string.h>

#include "common/rc.h"

#include "bulk.h"


int
tc_bulk_supported(MYSQL *m)
{
    unsigned long  caps, ext;

    caps = 0;
    ext = 0;
    if (mariadb_get_infov(m, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps)
        || mariadb_get_infov(m,
                             MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES,
                             &ext))
    {
        return 0;
    }

    /* CLIENT_MYSQL set: a MySQL server, which has no bulk execution */
    return !(caps & CLIENT_MYSQL)
           && (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0;
}


tc_rc_t
tc_bulk_prepare(tc_bulk_t *b, MYSQL *m, const char *sql, unsigned ncols,
    const int *types)
{
    memset(b, 0, sizeof(*b));

    b->ncols = ncols;
    b->types = types;
    b->bind = calloc(ncols, sizeof(MYSQL_BIND));
    b->buf = calloc(ncols, sizeof(void *));
    b->len = calloc(ncols, sizeof(unsigned long *));
    b->ind = calloc(ncols, sizeof(char *));

    if (b->bind == NULL || b->buf == NULL || b->len == NULL
        || b->ind == NULL)
    {
        tc_bulk_close(b);
        return TC_ERROR;
    }

    b->stmt = mysql_stmt_init(m);
    if (b->stmt == NULL) {
        tc_bulk_close(b);
        return TC_ERROR;
    }

    if (mysql_stmt_prepare(b->stmt, sql, (unsigned long) strlen(sql)) != 0) {
        return TC_ERROR;      /* the caller reads the error, then closes */
    }

    return TC_OK;
}


void
tc_bulk_close(tc_bulk_t *b)
{
    unsigned  i;

    if (b->stmt != NULL) {
        mysql_stmt_close(b->stmt);
    }

    for (i = 0; i < b->ncols; i++) {
        if (b->buf != NULL) {
            free(b->buf[i]);
        }
        if (b->len != NULL) {
            free(b->len[i]);
        }
        if (b->ind != NULL) {
            free(b->ind[i]);
        }
    }

    free(b->bind);
    free(b->buf);
    free(b->len);
    free(b->ind);
    memset(b, 0, sizeof(*b));
}


static tc_rc_t
grow(tc_bulk_t *b)
{
    size_t    cap, size;
    unsigned  i;
    void     *p;

    cap = b->cap ? b->cap * 2 : 256;

    for (i = 0; i < b->ncols; i++) {
        size = (b->types[i] == TC_BULK_INT) ? sizeof(int64_t)
                                             : sizeof(char *);
        p = realloc(b->buf[i], cap * size);
        if (p == NULL) {
            return TC_ERROR;
        }
        b->buf[i] = p;

        p = realloc(b->len[i], cap * sizeof(unsigned long));
        if (p == NULL) {
            return TC_ERROR;
        }
        b->len[i] = p;

        p = realloc(b->ind[i], cap);
        if (p == NULL) {
            return TC_ERROR;
        }
        b->ind[i] = p;
    }

    b->cap = cap;

    return TC_OK;
}


tc_rc_t
tc_bulk_row(tc_bulk_t *b)
{
    if (b->rows == b->cap && grow(b) != TC_OK) {
        return TC_ERROR;
    }

    b->rows++;

    return TC_OK;
}


void
tc_bulk_str(tc_bulk_t *b, unsigned col, const char *p, size_t n)
{
    size_t  r;

    r = b->rows - 1;
    ((const char **) b->buf[col])[r] = p ? p : "";
    b->len[col][r] = p ? (unsigned long) n : 0;
    b->ind[col][r] = p ? STMT_INDICATOR_NONE : STMT_INDICATOR_NULL;
}


void
tc_bulk_int(tc_bulk_t *b, unsigned col, int64_t v, int is_null)
{
    size_t  r;

    r = b->rows - 1;
    ((int64_t *) b->buf[col])[r] = v;
    b->len[col][r] = sizeof(int64_t);
    b->ind[col][r] = is_null ? STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
}


tc_rc_t
tc_bulk_exec(tc_bulk_t *b)
{
    unsigned      i;
    unsigned int  n;
    int           rc;

    if (b->rows == 0) {
        return TC_OK;
    }

    n = (unsigned int) b->rows;
    b->rows = 0;

    if (mysql_stmt_attr_set(b->stmt, STMT_ATTR_ARRAY_SIZE, &n) != 0) {
        return TC_ERROR;
    }

    memset(b->bind, 0, b->ncols * sizeof(MYSQL_BIND));
    for (i = 0; i < b->ncols; i++) {
        b->bind[i].buffer_type = (b->types[i] == TC_BULK_INT)
                                 ? MYSQL_TYPE_LONGLONG : MYSQL_TYPE_STRING;
        b->bind[i].buffer = b->buf[i];
        b->bind[i].length = b->len[i];
        b->bind[i].u.indicator = b->ind[i];
    }

    if (mysql_stmt_bind_param(b->stmt, b->bind) != 0) {
        return TC_ERROR;
    }

    rc = mysql_stmt_execute(b->stmt);

    return rc == 0 ? TC_OK : TC_ERROR;
}
