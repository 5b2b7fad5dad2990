/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Decoding micro-benchmark (not a test): µs per event of the consumer's
 * tc_event_decode() alone and of its whole tc_batch_decode() (decoding,
 * dedupe, ranking) over batches of 1000, on queue elements read one per
 * line.  Uses only interfaces every version has, so bench/decode-bench.sh
 * can build it against an older consumer too and compare in one run.
 *
 *   decode-bench FILE [ROUNDS]       prints "event_us batch_us", best of
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#if __has_include("common/date.h")
#include "common/date.h"
#else
#include "day.h"               /* the layout before common/ */
#endif
#include "event.h"

#define BATCH  1000


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(int argc, char **argv)
{
    int          r, rounds;
    char        *line, **raw;
    FILE        *f;
    size_t       n, cap, i, k, m, *len, size;
    double       t0, ev_best, batch_best;
    ssize_t      got;
    tc_batch_t   b;
    tc_event_t   ev;

    if (argc < 2 || (f = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: decode-bench FILE [ROUNDS]\n");
        return 2;
    }
    rounds = argc > 2 ? atoi(argv[2]) : 5;
    tc_tz_set("UTC");

    n = 0;
    cap = 1024;
    raw = malloc(cap * sizeof(char *));
    len = malloc(cap * sizeof(size_t));
    line = NULL;
    size = 0;
    while ((got = getline(&line, &size, f)) > 0) {
        if (n == cap) {
            cap *= 2;
            raw = realloc(raw, cap * sizeof(char *));
            len = realloc(len, cap * sizeof(size_t));
        }
        len[n] = (size_t) got - (line[got - 1] == '\n');
        raw[n] = strndup(line, len[n]);
        n++;
    }
    fclose(f);

    ev_best = batch_best = 1e9;

    for (r = 0; r < rounds; r++) {
        t0 = now();
        for (i = 0; i < n; i++) {
            if (tc_event_decode(&ev, raw[i], len[i], 1 << 20) != 0) {
                fprintf(stderr, "event %zu: %s\n", i, ev.reason);
                return 1;
            }
            tc_event_clear(&ev);
        }
        t0 = (now() - t0) * 1e6 / n;
        ev_best = t0 < ev_best ? t0 : ev_best;

        t0 = now();
        for (i = 0; i < n; i += m) {
            m = n - i < BATCH ? n - i : BATCH;
            if (tc_batch_init(&b, m) != 0) {
                return 1;
            }
            for (k = 0; k < m; k++) {
                b.raw[k] = raw[i + k];
                b.raw_len[k] = len[i + k];
            }
            tc_batch_decode(&b, 1 << 20);
            tc_batch_free(&b);
        }
        t0 = (now() - t0) * 1e6 / n;
        batch_best = t0 < batch_best ? t0 : batch_best;
    }

    printf("%.3f %.3f\n", ev_best, batch_best);

    return 0;
}
