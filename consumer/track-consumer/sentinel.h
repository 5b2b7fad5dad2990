/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Sentinel helpers: replies, failover errors (addresses:
 * common/addr.h). */
#ifndef TC_SENTINEL_H
#define TC_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "common/addr.h"
#include "common/rc.h"

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
 * the master was demoted), MASTERDOWN, LOADING.  Returns a short
 * explanation for the log, or NULL for any other error.
 */
const char *tc_redis_failover_error(const char *err, size_t len);

#endif /* TC_SENTINEL_H */
