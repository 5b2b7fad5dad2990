/* SPDX-License-Identifier: BSD-2-Clause */
/* common: the tally of the unit tests' checks (test.h). */
#include <stdio.h>

#include "common/test.h"


int  tc_test_passed;
int  tc_test_failed;


int
tc_test_done(const char *name, const char *counts_path)
{
    FILE  *f;

    printf("%s: %d passed, %d failed\n", name, tc_test_passed,
           tc_test_failed);

    if (counts_path != NULL) {
        f = fopen(counts_path, "w");
        if (f == NULL) {
            perror(counts_path);
            return 1;
        }
        fprintf(f, "%d %d\n", tc_test_passed, tc_test_failed);
        fclose(f);
    }

    return tc_test_failed != 0;
}
