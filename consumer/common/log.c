/* SPDX-License-Identifier: BSD-2-Clause */
/* common: levelled log lines to stderr or a file reopened on SIGHUP, one
 * format for both programs, safe to call from several threads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/rc.h"

#include "log.h"


int tc_log_level = TC_LOG_INFO;

static char        *log_path;
static int          log_fd = STDERR_FILENO;   /* swapped atomically */
static const char  *log_ident = "track";

static const char  *level_names[] = { "error", "warn", "info", "debug" };


void
tc_log_set_ident(const char *ident)
{
    log_ident = ident;
}


int
tc_log_level_parse(const char *name)
{
    int  i;

    for (i = 0; i < (int) (sizeof(level_names) / sizeof(level_names[0])); i++)
    {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


const char *
tc_log_level_name(int level)
{
    if (level < 0 || level > TC_LOG_DEBUG) {
        return "?";
    }

    return level_names[level];
}


static int
log_open_fd(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}


tc_rc_t
tc_log_open(const char *path)
{
    int  fd;

    tc_log_close();

    if (path == NULL || path[0] == '\0' || strcmp(path, "-") == 0) {
        return TC_OK;
    }

    fd = log_open_fd(path);
    if (fd == -1) {
        return TC_ERROR;
    }

    log_path = strdup(path);
    if (log_path == NULL) {
        close(fd);
        return TC_ERROR;
    }

    __atomic_store_n(&log_fd, fd, __ATOMIC_SEQ_CST);

    return TC_OK;
}


tc_rc_t
tc_log_reopen(void)
{
    int  fd, err;

    if (log_path == NULL) {
        return TC_OK;
    }

    fd = log_open_fd(log_path);
    if (fd == -1) {
        /* keep writing to the old file rather than losing lines */
        err = errno;
        tc_log_error("cannot reopen log file \"%s\": %s; "
                     "still writing to the old one", log_path, strerror(err));
        return TC_ERROR;
    }

    /* a line racing with the swap goes to the old file, which is fine */
    close(__atomic_exchange_n(&log_fd, fd, __ATOMIC_SEQ_CST));
    tc_log_info("log file reopened");

    return TC_OK;
}


void
tc_log_close(void)
{
    if (log_path != NULL) {
        close(__atomic_exchange_n(&log_fd, STDERR_FILENO, __ATOMIC_SEQ_CST));
        free(log_path);
        log_path = NULL;
    }
}


void
tc_log_write(int level, const char *fmt, ...)
{
    char            line[4096];
    size_t          n;
    int             r;
    va_list         ap;
    struct tm       tm;
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);

    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03d", (int) (tv.tv_usec / 1000));
    n += r;
    n += strftime(line + n, sizeof(line) - n, "%z", &tm);
    r = snprintf(line + n, sizeof(line) - n, " [%s] %s[%d]: ",
                 tc_log_level_name(level), log_ident, (int) getpid());
    n += r;

    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);

    if (r < 0) {
        r = 0;
    }

    n += r;
    if (n > sizeof(line) - 2) {
        /* truncated: mark it and keep the newline */
        n = sizeof(line) - 2;
        memcpy(line + n - 3, "...", 3);
    }

    line[n++] = '\n';

    /*
     * one write per line keeps lines whole when several processes or
     * threads append
     */
    while (write(__atomic_load_n(&log_fd, __ATOMIC_SEQ_CST), line, n) == -1
           && errno == EINTR)
    {
        /* retry */
    }
}
