/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: the consumers' progress as Prometheus metrics. */
#ifndef TC_METRICS_H
#define TC_METRICS_H

#include <stddef.h>

#include "params.h"
#include "pool.h"

/* The exposition text (malloc'd, *len bytes), or NULL with err filled in. */
char *tc_metrics_run(tc_pool_t *pool, tc_conn_t *c, size_t *len,
    tc_error_t *err);

#endif
