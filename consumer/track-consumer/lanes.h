/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: several lanes (consumers) in one process group. */
#ifndef TC_LANES_H
#define TC_LANES_H

#include "config.h"

/*
 * A lane is a whole consumer of its own: lane 0 has the configured id,
 * lane k the id "<id>/k" ('/' is outside the id character set), so each has
 * its processing list, its batch marker and its MariaDB lock, and the lanes
 * of one process are exactly as safe together as several consumers on one
 * queue (with redis_cluster, a lane takes the id of the shard it owns at
 * the moment: main.c, run_shards()).  They run in child processes, so the batches of one lane decode,
 * and its rows go in, while another lane's transaction runs.
 *
 * Called by main() once the signals are blocked.  With more than one lane,
 * or when lanes that are no longer configured left batches in their
 * processing lists (found through consumer_state), this process becomes the
 * supervisor, as nginx's master is: it forks the lanes and restarts one that
 * dies while the others go on (see lane_crash_limit; restarts and crash
 * loops are counted in consumer_lanes), forwards SIGTERM and SIGINT (the
 * lanes finish their batches; it exits once they have) and on SIGHUP reads
 * argc/argv again and replaces each lane once it has finished its batch; it
 * never returns.  A lane whose supervisor dies gets SIGTERM.  In each
 * child, and with one lane and nothing to finish, it returns with conf set
 * up for that lane.
 */
void tc_lanes_start(tc_conf_t *conf, int argc, char **argv);

/*
 * With redis_cluster, in a lane that gave its shard (conf->id) up for
 * another shard's turn: counts it in consumer_lanes.shard_turns, which
 * track-stats shows as track_consumer_shard_turns_total.
 */
void tc_lanes_count_turn(const tc_conf_t *conf);

#endif /* TC_LANES_H */
