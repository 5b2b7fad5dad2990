/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * track-consumer: test hooks: SIGKILL or SIGSTOP itself at a named point, or
 * stall a round trip to MariaDB there.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#include "fault.h"


/* spec is "point:N": the Nth pass through point */
static int
hit(const char *spec, const char *point, long *count)
{
    size_t  n;

    if (spec == NULL) {
        return 0;
    }

    n = strlen(point);
    if (strncmp(spec, point, n) != 0 || spec[n] != ':') {
        return 0;
    }

    return ++*count == strtol(spec + n + 1, NULL, 10);
}


void
tc_fault_point(const char *point)
{
    static long  killed, stopped;

    if (hit(getenv("TRACK_CONSUMER_CRASH"), point, &killed)) {
        tc_log_warn("TRACK_CONSUMER_CRASH: killing myself at %s", point);
        kill(getpid(), SIGKILL);
        pause();
    }

    if (hit(getenv("TRACK_CONSUMER_PAUSE"), point, &stopped)) {
        tc_log_warn("TRACK_CONSUMER_PAUSE: stopping myself at %s until "
                    "SIGCONT", point);
        kill(getpid(), SIGSTOP);
        tc_log_info("TRACK_CONSUMER_PAUSE: continuing after %s", point);
    }
}


void
tc_fault_sql(tc_buf_t *q, const char *point)
{
    static long  stalled, rolled;

    if (hit(getenv("TRACK_CONSUMER_STALL"), point, &stalled)) {
        tc_log_warn("TRACK_CONSUMER_STALL: sleeping in the transaction at "
                    "%s", point);
        tc_buf_adds(q, "DO SLEEP(60);");
    }

    if (hit(getenv("TRACK_CONSUMER_ROLLBACK"), point, &rolled)) {
        tc_log_warn("TRACK_CONSUMER_ROLLBACK: rolling the transaction back "
                    "without a word at %s", point);
        tc_buf_adds(q, "ROLLBACK;");
    }
}
