/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis helpers: addresses, connections, Sentinel replies,
   failover errors. */
#ifndef TC_SENTINEL_H
#define TC_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "common/rc.h"

typedef struct tc_addr_s {
    char  *host;                    /* a name, an address, or a socket path */
    long   port;                    /* 0: host is a unix socket path */
} tc_addr_t;

/*
 * Parses "host:port host2 [::1]:26380 unix:/path", separated by spaces or
 * commas; a missing port is def_port.  TC_OK and *out (malloc'ed, *n
 * entries), or TC_ERROR with a message in err.
 */
tc_rc_t tc_addr_list_parse(const char *text, long def_port, tc_addr_t **out,
    size_t *n, char *err, size_t err_size);
void tc_addr_list_free(tc_addr_t *a, size_t n);

/* A blocking connection (port 0: a unix socket) with a connect and
   command timeout of ms; NULL or c->err on failure. */
redisContext *tc_redis_open(const char *host, long port, long ms);
void tc_redis_set_timeout(redisContext *c, long ms);

/* Why c failed, for the log ("no reply in time" for a timeout). */
const char *tc_redis_context_error(redisContext *c);

/* "host:port", "[v6]:port" or "unix:path" into buf. */
const char *tc_addr_text(const char *host, long port, char *buf, size_t size);

typedef enum {
    TC_SENTINEL_MASTER,             /* the master in host and *port */
    TC_SENTINEL_NO_MASTER,          /* no master by that name (nil) */
    TC_SENTINEL_BAD_REPLY           /* not an address: why in *why */
} tc_sentinel_reply_t;

/*
 * The reply of SENTINEL get-master-addr-by-name; the host is NUL-terminated.
 */
tc_sentinel_reply_t tc_sentinel_master(const redisReply *r, char *host,
    size_t size, long *port, const char **why);

/*
 * The reply of ROLE: 1 for a master, else 0 with the role ("slave",
 * "sentinel", or "?") in *role.
 */
int tc_role_is_master(const redisReply *r, const char **role);

/*
 * An error reply that means this server is no longer (or not yet) the
 * master, or cannot serve now: READONLY, UNBLOCKED (a blocked BLMOVE when
 * the master was demoted), MASTERDOWN, LOADING, and a cluster's MOVED,
 * ASK, TRYAGAIN and CLUSTERDOWN (the consumer then learns the slot map
 * again and reconnects).  Returns a short
 * explanation for the log, or NULL for any other error.
 */
const char *tc_redis_failover_error(const char *err, size_t len);

#endif /* TC_SENTINEL_H */
