/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * track-consumer: test hooks: SIGKILL or SIGSTOP itself at a named point, or
 * stall a round trip to MariaDB there.
 */
#ifndef TC_FAULT_H
#define TC_FAULT_H

#include "common/buf.h"

/*
 * TRACK_CONSUMER_CRASH="point:N" kills the process with SIGKILL the Nth time
 * it passes point (after_move, before_commit, after_commit, before_ack);
 * TRACK_CONSUMER_PAUSE="point:N" stops it there with SIGSTOP (a test then
 * changes Redis under it and sends SIGCONT).  Without the variables these
 * are two getenv() calls per point.
 */
void tc_fault_point(const char *point);

/*
 * Round trips to MariaDB at point (batch_marker, batch_commit,
 * rollup_delete, rollup_commit), the Nth time:
 * TRACK_CONSUMER_STALL="point:N" puts a SLEEP(60) in front; a Galera abort
 * of the transaction ends it.  TRACK_CONSUMER_ROLLBACK="point:N" puts a
 * ROLLBACK there: what an abort Galera reports late looks like to the
 * client (the statements after it run in a new transaction, the error
 * comes later or not at all).
 */
void tc_fault_sql(tc_buf_t *q, const char *point);

#endif /* TC_FAULT_H */
