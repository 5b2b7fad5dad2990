/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the numbers of (app, module, action) in stats_actions. */
#ifndef TC_ACTIONS_H
#define TC_ACTIONS_H

#include <stdint.h>

#include "common/rc.h"

#include "event.h"
#include "store.h"

/*
 * ids[i]: the stats_actions number of seen[i]'s (app, module, action),
 * for seen[0..n) sorted by group rank (tc_batch_users); actions without a
 * number get one, in the caller's transaction, so a roll-back forgets it
 * with the memberships that used it.
 */
tc_rc_t tc_actions_ids(tc_store_t *s, const tc_event_t **seen, size_t n,
    uint32_t *ids);

#endif /* TC_ACTIONS_H */
