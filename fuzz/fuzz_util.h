/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the fuzz targets: a strict UTF-8 checker written apart
 * from the code under test (so it cannot share its mistakes), and a check
 * macro that aborts, which libFuzzer reports as a crash with the input.
 */

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            abort();                                                          \
        }                                                                     \
    } while (0)

/*
 * Length of the well-formed UTF-8 sequence at s (Unicode 15, table 3-7),
 * or 0 when there is none.
 */
size_t fz_utf8_seq(const unsigned char *s, size_t n);

/* 1 when s is well-formed UTF-8 free of C0, DEL and C1 controls */
int fz_utf8_clean(const unsigned char *s, size_t n);

/* 1 when s is well-formed UTF-8 (controls allowed) */
int fz_utf8_valid(const unsigned char *s, size_t n);

/*
 * application/x-www-form-urlencoded, written from the specification: '+' is
 * a space, %XX a byte.  0 with out and *olen set, or -1 on a '%' that two
 * hex digits do not follow.  out holds at least n bytes.
 */
int fz_form_decode(const unsigned char *s, size_t n, unsigned char *out,
    size_t *olen);

/* Splits data at the separator "@@": the next field, or 0 when none left. */
typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    int                   done;
} fz_split_t;

void fz_split_init(fz_split_t *s, const uint8_t *data, size_t size);
int fz_split_next(fz_split_t *s, const unsigned char **field, size_t *len);

#endif /* FUZZ_UTIL_H */
