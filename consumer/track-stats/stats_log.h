/* track-stats: levelled logging to stderr or a file, reopened on SIGHUP. */
#ifndef STATS_LOG_H
#define STATS_LOG_H

enum st_log_level {
    ST_LOG_ERROR = 0,
    ST_LOG_WARN,
    ST_LOG_INFO,
    ST_LOG_DEBUG
};

extern int  st_log_level;

int st_log_parse_level(const char *name);
int st_log_open(const char *path);
int st_log_reopen(void);
void st_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level is checked before any argument is formatted. */
#define st_log(level, ...)                                                  \
    do {                                                                    \
        if ((level) <= st_log_level) {                                      \
            st_log_write((level), __VA_ARGS__);                             \
        }                                                                   \
    } while (0)

#define st_error(...)  st_log(ST_LOG_ERROR, __VA_ARGS__)
#define st_warn(...)   st_log(ST_LOG_WARN, __VA_ARGS__)
#define st_info(...)   st_log(ST_LOG_INFO, __VA_ARGS__)
#define st_debug(...)  st_log(ST_LOG_DEBUG, __VA_ARGS__)

#endif
