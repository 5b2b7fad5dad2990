/* track-consumer: the configured time zone, days and hours of receive times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "date.h"


/*
 * localtime_r() is the hot path (once per event): remember the last
 * quarter-hour slot, since UTC offsets in use are multiples of 15 minutes.
 * Slots before 1970-01-01 or offsets that are not (LMT) are never cached.
 */
static int64_t   cache_slot = -1;
static uint32_t  cache_day;
static unsigned  cache_hour;


int
tc_tz_set(const char *tz)
{
    char         path[512];
    const char  *name;
    struct stat  st;

    cache_slot = -1;

    if (tz == NULL || tz[0] == '\0') {
        tzset();
        return 0;
    }

    name = (tz[0] == ':') ? tz + 1 : tz;

    /* a POSIX TZ string has a digit in its offset (CST-8, EST5EDT) */
    if (strpbrk(name, "0123456789,") == NULL || strchr(name, '/') != NULL) {
        if (name[0] == '/') {
            snprintf(path, sizeof(path), "%s", name);
        } else {
            snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
        }

        if (strstr(name, "..") != NULL || stat(path, &st) != 0
            || !S_ISREG(st.st_mode))
        {
            return -1;
        }
    }

    if (setenv("TZ", tz, 1) != 0) {
        return -1;
    }

    tzset();

    return 0;
}


int
tc_day_of(int64_t ms, uint32_t *day, unsigned *hour)
{
    time_t      t;
    int64_t     slot;
    struct tm   tm;

    if (ms < 0 || ms >= TC_TS_MAX) {
        return -1;
    }

    slot = ms / 900000;
    if (slot == cache_slot) {
        *day = cache_day;
        *hour = cache_hour;
        return 0;
    }

    t = (time_t) (ms / 1000);
    if (localtime_r(&t, &tm) == NULL) {
        return -1;
    }

    if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1) {
        return -1;
    }

    *day = (uint32_t) ((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100
                       + tm.tm_mday);
    *hour = (unsigned) tm.tm_hour;

    /* cache only when the local time is aligned to the same quarter hour */
    if (tm.tm_gmtoff % 900 == 0) {
        cache_slot = slot;
        cache_day = *day;
        cache_hour = *hour;
    }

    return 0;
}


uint32_t
tc_day_today(void)
{
    time_t     t;
    struct tm  tm;

    t = time(NULL);
    localtime_r(&t, &tm);

    return (uint32_t) ((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100
                       + tm.tm_mday);
}


uint32_t
tc_day_sub(uint32_t day, long n)
{
    time_t     t;
    struct tm  tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int) (day / 10000) - 1900;
    tm.tm_mon = (int) (day / 100 % 100) - 1;
    tm.tm_mday = (int) (day % 100);
    tm.tm_hour = 12;

    t = timegm(&tm) - (time_t) n * 86400;
    gmtime_r(&t, &tm);

    return (uint32_t) ((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100
                       + tm.tm_mday);
}


void
tc_day_table(uint32_t day, char *buf)
{
    snprintf(buf, 16, "events_%08u", (unsigned) (day % 100000000));
}


void
tc_day_date(uint32_t day, char *buf)
{
    snprintf(buf, 11, "%04u-%02u-%02u", (unsigned) (day / 10000 % 10000),
             (unsigned) (day / 100 % 100), (unsigned) (day % 100));
}


uint32_t
tc_day_parse_table(const char *name)
{
    int       i;
    uint32_t  day;

    if (strncmp(name, "events_", 7) != 0 || strlen(name) != 15) {
        return 0;
    }

    day = 0;
    for (i = 7; i < 15; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return 0;
        }
        day = day * 10 + (uint32_t) (name[i] - '0');
    }

    if (day / 100 % 100 < 1 || day / 100 % 100 > 12 || day % 100 < 1
        || day % 100 > 31)
    {
        return 0;
    }

    return day;
}
