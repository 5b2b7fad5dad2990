/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the roll-up: statistics from committed id ranges. */
#ifndef TC_ROLLUP_H
#define TC_ROLLUP_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/rc.h"

#include "config.h"
#include "store.h"

/*
 * A thread of every lane.  One roll-up at a time works (the MariaDB lock
 * "track-rollup:<database>"); the others wait for the lock, so when the
 * lane holding it dies, another takes over within rollup_ms.
 */
typedef struct {
    const tc_conf_t   *conf;
    tc_store_t         store;
    pthread_t          thread;
    pthread_mutex_t    mu;
    pthread_cond_t     cond;
    int                started;
    int                stop;            /* under mu */
    int                go;              /* under mu: the schema is there */
    uint64_t           upto;            /* under mu: the lane's last id */
    int                locked;          /* holds the roll-up lock */
    long               backoff;
    time_t             next_retention;
} tc_rollup_t;

tc_rc_t tc_rollup_start(tc_rollup_t *r, const tc_conf_t *conf);

/*
 * The lane has connected, so the schema is applied: the thread's first
 * pass need not wait a period (which a drain would add to its end).
 */
void tc_rollup_go(tc_rollup_t *r);

/*
 * Stops the thread once the rows up to id upto (the lane's last committed)
 * are counted, by this roll-up or another; gives up when MariaDB is away
 * (they are counted at the next start).
 */
void tc_rollup_stop(tc_rollup_t *r, uint64_t upto);

/*
 * One roll-up transaction: the rows of the oldest pending ranges (up to
 * rollup_events of them, at least one range) counted into the statistics
 * and their ranges deleted.  *ranges: ranges counted (0: none pending);
 * *more: some are left.
 */
tc_rc_t tc_rollup_pass(tc_store_t *s, size_t *ranges, int *more);

/* 'YYYY-MM-DD' as YYYYMMDD, 0 when it is not a date */
uint32_t tc_rollup_day(const char *date);

#endif /* TC_ROLLUP_H */
