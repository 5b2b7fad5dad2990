/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: an in-memory cache of per-day series values for closed days,
 * so that "the last 30 days" only reads today from the database. */
#ifndef TC_CACHE_H
#define TC_CACHE_H

#include <stddef.h>
#include <time.h>

#include "common/rc.h"

#define TC_CACHE_MAX_VALS  24

/* entries 0 turns the cache off; ttl in seconds bounds how long a value may
 * be served (late events, backfills). */
tc_rc_t tc_cache_init(unsigned entries, unsigned ttl);
void tc_cache_free(void);
void tc_cache_clear(void);
int tc_cache_enabled(void);

/* Returns 1 and fills vals[0..n) on a hit younger than the ttl. */
int tc_cache_get(const char *key, size_t klen, unsigned long long *vals,
    int n, time_t now);
void tc_cache_put(const char *key, size_t klen,
    const unsigned long long *vals, int n, time_t now);

#endif
