/* SPDX-License-Identifier: BSD-2-Clause */
/* common: levelled log lines to stderr or a file reopened on SIGHUP, one
 * format for both programs, safe to call from several threads. */
#ifndef TC_LOG_H
#define TC_LOG_H

#include <stdarg.h>

#include "common/rc.h"

enum {
    TC_LOG_ERROR = 0,
    TC_LOG_WARN,
    TC_LOG_INFO,
    TC_LOG_DEBUG
};

extern int tc_log_level;

/* The level is checked before the arguments are evaluated or formatted. */
#define tc_log(level, ...)                                                    \
    do {                                                                      \
        if ((level) <= tc_log_level) {                                        \
            tc_log_write(level, __VA_ARGS__);                                 \
        }                                                                     \
    } while (0)

#define tc_log_error(...)  tc_log(TC_LOG_ERROR, __VA_ARGS__)
#define tc_log_warn(...)   tc_log(TC_LOG_WARN, __VA_ARGS__)
#define tc_log_info(...)   tc_log(TC_LOG_INFO, __VA_ARGS__)
#define tc_log_debug(...)  tc_log(TC_LOG_DEBUG, __VA_ARGS__)

/* The program name in every line ("track-consumer", "track-stats"). */
void tc_log_set_ident(const char *ident);

/* "error", "warn", "info" or "debug" in any case; -1 for anything else. */
int tc_log_level_parse(const char *name);
const char *tc_log_level_name(int level);

/* path NULL or "" or "-" logs to stderr; -1 with errno when it cannot open. */
tc_rc_t tc_log_open(const char *path);

/* Reopens the file (after a rotation); on failure logs and keeps the old. */
tc_rc_t tc_log_reopen(void);
void tc_log_close(void);

void tc_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* TC_LOG_H */
