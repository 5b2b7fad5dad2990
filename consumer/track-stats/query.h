/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: the statistics queries behind each endpoint, as JSON. */
#ifndef TC_QUERY_H
#define TC_QUERY_H

#include <jansson.h>

#include "params.h"
#include "pool.h"

void tc_query_init(void);

/* Runs the queries for req on c; returns the response object, or NULL with
 * err filled in (503 database unavailable or slow, 500 otherwise). */
json_t *tc_query_run(tc_pool_t *pool, tc_conn_t *c,
    const tc_request_t *req, tc_error_t *err);

/* rc of tc_db_query(): 0 when TC_DB_OK, else 1 with err set (503 for an
 * unavailable or slow database, 500 otherwise) */
int tc_db_failed(tc_db_status_t rc, tc_error_t *err);

#endif
