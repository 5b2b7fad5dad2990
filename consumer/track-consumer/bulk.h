/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: prepared statements run over many rows at once (bulk). */
#ifndef TC_BULK_H
#define TC_BULK_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "common/rc.h"

/*
 * MariaDB's array binding: one prepared INSERT, parameters bound column by
 * column for n rows, sent in one COM_STMT_BULK_EXECUTE.  Values travel in
 * the binary protocol: nothing is escaped or parsed as SQL text, strings are
 * bound where they lie (no copy).  One statement: on an error none of its
 * rows stay.
 */

#define TC_BULK_STR   0
#define TC_BULK_INT   1

typedef struct {
    MYSQL_STMT      *stmt;
    unsigned         ncols;
    const int       *types;     /* TC_BULK_STR or TC_BULK_INT per column */
    size_t           cap;
    size_t           rows;
    MYSQL_BIND      *bind;
    void           **buf;       /* per column: const char *[] or int64_t[] */
    unsigned long  **len;
    char           **ind;
} tc_bulk_t;

/* Whether the server takes bulk statements (MariaDB 10.2 and later). */
int tc_bulk_supported(MYSQL *m);

tc_rc_t tc_bulk_prepare(tc_bulk_t *b, MYSQL *m, const char *sql,
    unsigned ncols, const int *types);
void tc_bulk_close(tc_bulk_t *b);

/* Starts a new row (growing the arrays); TC_ERROR when out of memory. */
tc_rc_t tc_bulk_row(tc_bulk_t *b);

/* Sets column col of the current row; p NULL (or is_null) binds NULL. */
void tc_bulk_str(tc_bulk_t *b, unsigned col, const char *p, size_t n);
void tc_bulk_int(tc_bulk_t *b, unsigned col, int64_t v, int is_null);

/* Runs the statement over the rows so far, then forgets them. */
tc_rc_t tc_bulk_exec(tc_bulk_t *b);

#endif /* TC_BULK_H */
