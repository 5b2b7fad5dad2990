/* SPDX-License-Identifier: BSD-2-Clause */
/* A reader for the SQL the consumer writes (see sql_check.h). */

#include <stdlib.h>
#include <string.h>

#include "sql_check.h"


/* p at an opening quote; returns past the closing one, or NULL */
static const char *
read_quoted(const char *p, const char *end, fz_sql_value_t *v)
{
    char  c;

    v->kind = FZ_SQL_STR;
    v->data = malloc((size_t) (end - p) + 1);
    v->len = 0;

    for (p++; p < end; p++) {
        c = *p;

        if (c == '\\') {
            if (++p == end) {
                return NULL;
            }

            switch (*p) {
            case '0': c = '\0'; break;
            case 'b': c = '\b'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'Z': c = '\032'; break;
            case '%':
            case '_':
                /* the server keeps the backslash of these two */
                v->data[v->len++] = '\\';
                c = *p;
                break;
            default:  c = *p; break;
            }

        } else if (c == '\'') {
            if (p + 1 < end && p[1] == '\'') {
                p++;

            } else {
                v->data[v->len] = '\0';
                return p + 1;
            }
        }

        v->data[v->len++] = c;
    }

    return NULL;
}


int
fz_sql_literal(const char *s, size_t n, fz_sql_value_t *v)
{
    const char  *p;

    if (n == 0 || s[0] != '\'') {
        return -1;
    }

    p = read_quoted(s, s + n, v);
    if (p != s + n) {
        free(v->data);
        v->data = NULL;
        return -1;
    }

    return 0;
}


int
fz_sql_row(const char *s, size_t n, fz_sql_value_t *v, int max)
{
    int          k;
    const char  *p, *end, *q;

    p = s;
    end = s + n;
    k = 0;

    if (p == end || *p++ != '(') {
        return -1;
    }

    for ( ;; ) {
        if (k == max) {
            goto failed;
        }

        v[k].data = NULL;

        if (p < end && *p == '\'') {
            q = read_quoted(p, end, &v[k]);
            k++;
            if (q == NULL) {
                goto failed;
            }
            p = q;

        } else if (end - p >= 4 && memcmp(p, "NULL", 4) == 0) {
            v[k].kind = FZ_SQL_NULL;
            v[k].len = 0;
            k++;
            p += 4;

        } else {
            q = p;
            if (q < end && *q == '-') {
                q++;
            }
            while (q < end && *q >= '0' && *q <= '9') {
                q++;
            }
            if (q == p || (q == p + 1 && *p == '-')) {
                goto failed;
            }
            v[k].kind = FZ_SQL_INT;
            v[k].len = (size_t) (q - p);
            v[k].data = malloc(v[k].len + 1);
            memcpy(v[k].data, p, v[k].len);
            v[k].data[v[k].len] = '\0';
            k++;
            p = q;
        }

        if (p < end && *p == ',') {
            p++;
            continue;
        }

        if (p + 1 == end && *p == ')') {
            return k;
        }

        goto failed;
    }

failed:

    fz_sql_free(v, k);
    return -1;
}


void
fz_sql_free(fz_sql_value_t *v, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        free(v[i].data);
        v[i].data = NULL;
    }
}


int
fz_sql_is(const fz_sql_value_t *v, const char *s, size_t n)
{
    if (s == NULL) {
        return v->kind == FZ_SQL_NULL;
    }

    return v->kind != FZ_SQL_NULL && v->len == n
           && (n == 0 || memcmp(v->data, s, n) == 0);
}
