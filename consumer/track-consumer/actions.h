/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the numbers of (app, module, action) in stats_actions. */
#ifndef TC_ACTIONS_H
#define TC_ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "common/rc.h"

#include "event.h"

/*
 * ids[i]: the stats_actions number of seen[i]'s (app, module, action),
 * for seen[0..n) sorted by group rank (tc_batch_users); actions without a
 * number get one, in the caller's transaction, so a roll-back forgets it
 * with the memberships that used it.  Statements stay under max_stmt
 * bytes.  TC_ERROR: MariaDB failed *what (the caller classifies it).
 */
tc_rc_t tc_actions_ids(MYSQL *m, size_t max_stmt, const tc_event_t **seen,
    size_t n, uint32_t *ids, const char **what);

#endif /* TC_ACTIONS_H */
