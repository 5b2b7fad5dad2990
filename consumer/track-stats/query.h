/* track-stats: the statistics queries behind each endpoint, as JSON. */
#ifndef STATS_QUERY_H
#define STATS_QUERY_H

#include <jansson.h>

#include "params.h"
#include "pool.h"

void st_query_init(void);

/* Runs the queries for req on c; returns the response object, or NULL with
 * err filled in (503 database unavailable or slow, 500 otherwise). */
json_t *st_query_run(struct st_pool *pool, struct st_conn *c,
    const struct st_request *req, struct st_error *err);

/* rc of st_db_query(): 0 when ST_DB_OK, else 1 with err set (503 for an
 * unavailable or slow database, 500 otherwise) */
int st_db_failed(int rc, struct st_error *err);

#endif
