/* SPDX-License-Identifier: BSD-2-Clause */
/* common: a growable byte buffer (SQL text, keys). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"


void
tc_buf_init(tc_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}


void
tc_buf_free(tc_buf_t *b)
{
    free(b->data);
    tc_buf_init(b);
}


void
tc_buf_reset(tc_buf_t *b)
{
    b->len = 0;
    b->failed = 0;
}


char *
tc_buf_reserve(tc_buf_t *b, size_t n)
{
    size_t   cap;
    char    *p;

    if (b->failed) {
        return NULL;
    }

    if (b->cap - b->len > n) {
        return b->data + b->len;
    }

    cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return NULL;
    }

    b->data = p;
    b->cap = cap;

    return b->data + b->len;
}


void
tc_buf_add(tc_buf_t *b, const void *p, size_t n)
{
    char  *dst;

    dst = tc_buf_reserve(b, n);
    if (dst == NULL) {
        return;
    }

    if (n) {
        memcpy(dst, p, n);
    }
    b->len += n;
}


void
tc_buf_adds(tc_buf_t *b, const char *s)
{
    tc_buf_add(b, s, strlen(s));
}


void
tc_buf_addf(tc_buf_t *b, const char *fmt, ...)
{
    int       n;
    char     *dst;
    va_list   ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0) {
        b->failed = 1;
        return;
    }

    dst = tc_buf_reserve(b, (size_t) n + 1);
    if (dst == NULL) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(dst, (size_t) n + 1, fmt, ap);
    va_end(ap);

    b->len += n;
}


const char *
tc_buf_cstr(tc_buf_t *b)
{
    char  *dst;

    dst = tc_buf_reserve(b, 1);
    if (dst == NULL) {
        return NULL;
    }

    *dst = '\0';

    return b->data;
}
