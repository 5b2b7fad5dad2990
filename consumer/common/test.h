/* SPDX-License-Identifier: BSD-2-Clause */
/* common: the checks of every unit test and their tally (test.c). */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <stdio.h>

extern int  tc_test_passed;
extern int  tc_test_failed;

/* Counts cond; on failure prints where and the printf-style message. */
#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            tc_test_passed++;                                                 \
        } else {                                                              \
            tc_test_failed++;                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

/*
 * Prints "name: N passed, N failed", writes "N N" to counts_path (consumer/
 * Makefile adds them up) unless it is NULL, and returns the exit status.
 */
int tc_test_done(const char *name, const char *counts_path);

#endif /* TC_TEST_H */
