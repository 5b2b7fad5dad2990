/* track-consumer: several lanes (consumers) in one process group. */
#ifndef TC_LANES_H
#define TC_LANES_H

#include "config.h"

/*
 * A lane is a whole consumer of its own: lane 0 has the configured id,
 * lane k the id "<id>/k" ('/' is outside the id character set), so each has
 * its processing list, its batch marker and its MariaDB lock, and the lanes
 * of one process are exactly as safe together as several consumers on one
 * queue.  They run in child processes, so the batches of one lane decode,
 * and its rows go in, while another lane's transaction runs.
 *
 * Called by main() once the signals are blocked.  With more than one lane,
 * or when lanes that are no longer configured left batches in their
 * processing lists (found through consumer_state), this process becomes the
 * supervisor: it forks the lanes, forwards SIGTERM, SIGINT and SIGHUP to
 * them, stops them all when one fails, and exits as they did (mirroring a
 * signal that killed one); it never returns.  In each child, and with one
 * lane and nothing to finish, it returns with conf set up for that lane.
 */
void tc_lanes_start(tc_conf_t *conf);

#endif /* TC_LANES_H */
