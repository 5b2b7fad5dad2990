/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: test hooks: SIGKILL or SIGSTOP itself at a named point. */
#ifndef TC_FAULT_H
#define TC_FAULT_H

/*
 * TRACK_CONSUMER_CRASH="point:N" kills the process with SIGKILL the Nth time
 * it passes point (after_move, before_commit, after_commit, before_ack);
 * TRACK_CONSUMER_PAUSE="point:N" stops it there with SIGSTOP (a test then
 * changes Redis under it and sends SIGCONT).  Without the variables these
 * are two getenv() calls per point.
 */
void tc_fault_point(const char *point);

#endif /* TC_FAULT_H */
