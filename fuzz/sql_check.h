/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A reader for the SQL the consumer writes: a row "(v,v,...)" whose values
 * are NULL, integers or quoted strings, read the way the server's lexer
 * reads them (backslash escapes, doubled quotes).  If a value could end
 * early or run on, the reader sees a different row than the writer meant.
 */

#ifndef SQL_CHECK_H
#define SQL_CHECK_H

#include <stddef.h>

#define FZ_SQL_MAX_VALUES  16

typedef enum { FZ_SQL_NULL, FZ_SQL_INT, FZ_SQL_STR } fz_sql_kind_t;

typedef struct {
    fz_sql_kind_t   kind;
    char           *data;       /* malloc'ed, unescaped; NUL-terminated */
    size_t          len;
} fz_sql_value_t;

/*
 * Reads one row of exactly the text s[0..n).  Returns the number of values,
 * or -1 when the text is not a single well-formed row.
 */
int fz_sql_row(const char *s, size_t n, fz_sql_value_t *v, int max);

/* reads one quoted literal of exactly s[0..n) */
int fz_sql_literal(const char *s, size_t n, fz_sql_value_t *v);

void fz_sql_free(fz_sql_value_t *v, int n);

/* a value is the string s[0..n) (NULL: the SQL NULL) */
int fz_sql_is(const fz_sql_value_t *v, const char *s, size_t n);

#endif /* SQL_CHECK_H */
