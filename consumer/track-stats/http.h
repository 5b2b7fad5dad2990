/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: the HTTP side: routing, methods, bearer token, cache headers,
 * on top of libmicrohttpd. */
#ifndef TC_HTTP_H
#define TC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/rc.h"

#include "params.h"
#include "pool.h"

typedef struct {
    const struct sockaddr   *addr;
    const char              *prefix;            /* e.g. /stats/v1 */
    tc_limits_t              limits;
    unsigned                 threads;
    unsigned                 max_connections;
    unsigned                 conn_timeout;       /* seconds idle */
    unsigned                 acquire_timeout_ms; /* wait for a DB connection */
    unsigned                 closed_max_age;     /* closed days */
    unsigned                 open_max_age;       /* 0: no-store */
    unsigned                 settle;             /* seconds after midnight */
} tc_http_config_t;

tc_rc_t tc_http_start(const tc_http_config_t *cfg, tc_pool_t *pool);
void tc_http_stop(void);

/* Replaces the bearer token (NULL or "" turns the check off). */
tc_rc_t tc_http_set_token(const char *token);

/* Helpers, exported for the unit tests. */
int tc_token_equal(const char *given, size_t given_len, const char *token,
    size_t token_len);
int tc_bearer_ok(const char *header, const char *token);
void tc_etag(const char *body, size_t len, char out[19]);
int tc_etag_matches(const char *if_none_match, const char *etag);

#endif
