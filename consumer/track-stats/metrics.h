/* track-stats: the consumers' progress as Prometheus metrics. */
#ifndef STATS_METRICS_H
#define STATS_METRICS_H

#include <stddef.h>

#include "params.h"
#include "pool.h"

/* The exposition text (malloc'd, *len bytes), or NULL with err filled in. */
char *st_metrics_run(struct st_pool *pool, struct st_conn *c, size_t *len,
    struct st_error *err);

#endif
