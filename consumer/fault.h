/* track-consumer: test hook: SIGKILL itself at a named point on request. */
#ifndef TC_FAULT_H
#define TC_FAULT_H

/*
 * TRACK_CONSUMER_CRASH="point:N" kills the process with SIGKILL the Nth time
 * it passes point (after_move, before_commit, after_commit).  Without the
 * variable this is a string compare per batch.
 */
void tc_fault_point(const char *point);

#endif /* TC_FAULT_H */
