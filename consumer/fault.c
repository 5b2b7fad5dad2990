/* track-consumer: test hook: SIGKILL itself at a named point on request. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"


void
tc_fault_point(const char *point)
{
    size_t       n;
    const char  *spec;

    static long  count;

    spec = getenv("TRACK_CONSUMER_CRASH");
    if (spec == NULL) {
        return;
    }

    n = strlen(point);
    if (strncmp(spec, point, n) != 0 || spec[n] != ':') {
        return;
    }

    if (++count == strtol(spec + n + 1, NULL, 10)) {
        tc_log_warn("TRACK_CONSUMER_CRASH: killing myself at %s", point);
        kill(getpid(), SIGKILL);
        pause();
    }
}
