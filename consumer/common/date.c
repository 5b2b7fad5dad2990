/* SPDX-License-Identifier: BSD-2-Clause */
/* common: the time zone both programs use, and calendar days. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/date.h"
#include "common/rc.h"


/*
 * localtime_r() is the hot path (once per event): remember the last
 * quarter-hour slot, since UTC offsets in use are multiples of 15 minutes.
 * Slots before 1970-01-01 or offsets that are not (LMT) are never cached.
 */
static __thread int64_t   cache_slot = -1;   /* per thread: roll-up too */
static __thread uint32_t  cache_day;
static __thread unsigned  cache_hour;


tc_rc_t
tc_tz_set(const char *tz)
{
    char         path[512];
    const char  *name;
    struct stat  st;

    cache_slot = -1;

    if (tz == NULL || tz[0] == '\0') {
        tzset();
        return TC_OK;
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
            return TC_ERROR;
        }
    }

    if (setenv("TZ", tz, 1) != 0) {
        return TC_ERROR;
    }

    tzset();

    return TC_OK;
}


tc_rc_t
tc_day_of(int64_t ms, uint32_t *day, unsigned *hour)
{
    time_t      t;
    int64_t     slot;
    struct tm   tm;

    if (ms < 0 || ms >= TC_TS_MAX) {
        return TC_ERROR;
    }

    slot = ms / 900000;
    if (slot == cache_slot) {
        *day = cache_day;
        *hour = cache_hour;
        return TC_OK;
    }

    t = (time_t) (ms / 1000);
    if (localtime_r(&t, &tm) == NULL) {
        return TC_ERROR;
    }

    if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1) {
        return TC_ERROR;
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

    return TC_OK;
}


static uint32_t
day_of_days(int64_t days)
{
    int  y, m, d;

    tc_days_to_civil(days, &y, &m, &d);

    return (uint32_t) (y * 10000 + m * 100 + d);
}


uint32_t
tc_day_today(void)
{
    return day_of_days(tc_days_local(time(NULL)));
}


uint32_t
tc_day_sub(uint32_t day, long n)
{
    return day_of_days(tc_days_from_civil((int) (day / 10000),
                                          (int) (day / 100 % 100),
                                          (int) (day % 100)) - n);
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


/* Howard Hinnant's days_from_civil / civil_from_days, public domain. */
int64_t
tc_days_from_civil(int y, int m, int d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


void
tc_days_to_civil(int64_t days, int *y, int *m, int *d)
{
    int64_t   era, yy;
    unsigned  doe, yoe, doy, mp;

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = (unsigned) (days - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t) yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) (yy + (*m <= 2));
}


static int
digits(const char *s, int n)
{
    int  v = 0;

    while (n--) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s++ - '0');
    }

    return v;
}


tc_rc_t
tc_days_parse(const char *s, size_t len, int64_t *days, int *hour)
{
    int  y, m, d, h, leap;

    static const int  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                  31 };

    if (len != TC_DAYS_LEN - 1 && len != TC_HOURS_LEN - 1) {
        return TC_ERROR;
    }

    if (s[4] != '-' || s[7] != '-') {
        return TC_ERROR;
    }

    y = digits(s, 4);
    m = digits(s + 5, 2);
    d = digits(s + 8, 2);

    if (y < 1000 || m < 1 || m > 12 || d < 1) {
        return TC_ERROR;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) {
        return TC_ERROR;
    }

    h = -1;
    if (len == TC_HOURS_LEN - 1) {
        if (s[10] != 'T') {
            return TC_ERROR;
        }
        h = digits(s + 11, 2);
        if (h < 0 || h > 23) {
            return TC_ERROR;
        }
    }

    *days = tc_days_from_civil(y, m, d);
    *hour = h;

    return TC_OK;
}


static char *
put2(char *p, int v)
{
    *p++ = (char) ('0' + v / 10 % 10);
    *p++ = (char) ('0' + v % 10);
    return p;
}


static char *
put_date(char *p, int64_t day)
{
    int  y, m, d;

    tc_days_to_civil(day, &y, &m, &d);
    y = y < 0 ? 0 : y % 10000;

    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    return put2(p, d);
}


void
tc_days_format(int64_t day, char buf[TC_DAYS_LEN])
{
    *put_date(buf, day) = '\0';
}


void
tc_days_format_hour(int64_t day, int hour, char buf[TC_HOURS_LEN])
{
    char  *p;

    p = put_date(buf, day);
    *p++ = 'T';
    *put2(p, hour < 0 ? 0 : hour % 24) = '\0';
}


int64_t
tc_days_local(time_t t)
{
    struct tm  tm;

    localtime_r(&t, &tm);

    return tc_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
