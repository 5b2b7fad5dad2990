/* SPDX-License-Identifier: BSD-2-Clause */
/* common: a growable byte buffer (SQL text, keys). */
#ifndef TC_BUF_H
#define TC_BUF_H

#include <stddef.h>

typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      failed;        /* an allocation failed; contents are partial */
} tc_buf_t;

void tc_buf_init(tc_buf_t *b);
void tc_buf_free(tc_buf_t *b);
void tc_buf_reset(tc_buf_t *b);

/* Makes room for n more bytes; returns a pointer to them or NULL. */
char *tc_buf_reserve(tc_buf_t *b, size_t n);

void tc_buf_add(tc_buf_t *b, const void *p, size_t n);
void tc_buf_adds(tc_buf_t *b, const char *s);
void tc_buf_addf(tc_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* NUL-terminates without counting the NUL in len; returns data or NULL. */
const char *tc_buf_cstr(tc_buf_t *b);

#endif /* TC_BUF_H */
