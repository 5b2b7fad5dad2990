/* track-stats: levelled logging to stderr or a file, reopened on SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "stats_log.h"


int                st_log_level = ST_LOG_INFO;

static const char *log_path;
static int         log_fd = STDERR_FILENO;

static const char *level_names[] = { "error", "warn", "info", "debug" };


int
st_log_parse_level(const char *name)
{
    int  i;

    for (i = 0; i <= ST_LOG_DEBUG; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


int
st_log_open(const char *path)
{
    log_path = path;
    return st_log_reopen();
}


int
st_log_reopen(void)
{
    int  fd, old;

    if (log_path == NULL) {
        return 0;
    }

    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd == -1) {
        st_error("cannot open log file %s: %s", log_path, strerror(errno));
        return -1;
    }

    /* A write racing with the swap goes to the old file, which is fine. */
    old = __atomic_exchange_n(&log_fd, fd, __ATOMIC_SEQ_CST);
    if (old != STDERR_FILENO) {
        close(old);
    }

    return 0;
}


void
st_log_write(int level, const char *fmt, ...)
{
    char            buf[2048];
    size_t          n;
    int             r;
    va_list         ap;
    struct tm       tm;
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);

    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(buf + n, sizeof(buf) - n, ".%03ld [%s] track-stats: ",
                 (long) tv.tv_usec / 1000, level_names[level]);
    n += (size_t) r;

    va_start(ap, fmt);
    r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    va_end(ap);

    if (r < 0) {
        r = 0;
    }

    n += ((size_t) r < sizeof(buf) - n - 1) ? (size_t) r : sizeof(buf) - n - 2;
    buf[n++] = '\n';

    /* One write(2) per line keeps lines from different threads whole. */
    if (write(__atomic_load_n(&log_fd, __ATOMIC_SEQ_CST), buf, n) < 0) {
        /* nowhere to report it */
    }
}
