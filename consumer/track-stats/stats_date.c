/* track-stats: calendar days as integers, strict date parsing, "today". */
#include "stats_date.h"


/* Howard Hinnant's days_from_civil / civil_from_days, public domain. */
int64_t
st_days_from_civil(int y, int m, int d)
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
st_civil_from_days(int64_t days, int *y, int *m, int *d)
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


int
st_parse_day(const char *s, size_t len, int64_t *day, int *hour)
{
    int  y, m, d, h, leap;

    static const int  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                  31 };

    if (len != ST_DAY_LEN - 1 && len != ST_HOUR_LEN - 1) {
        return -1;
    }

    if (s[4] != '-' || s[7] != '-') {
        return -1;
    }

    y = digits(s, 4);
    m = digits(s + 5, 2);
    d = digits(s + 8, 2);

    if (y < 1000 || m < 1 || m > 12 || d < 1) {
        return -1;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) {
        return -1;
    }

    h = -1;
    if (len == ST_HOUR_LEN - 1) {
        if (s[10] != 'T') {
            return -1;
        }
        h = digits(s + 11, 2);
        if (h < 0 || h > 23) {
            return -1;
        }
    }

    *day = st_days_from_civil(y, m, d);
    *hour = h;

    return 0;
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

    st_civil_from_days(day, &y, &m, &d);
    y = y < 0 ? 0 : y % 10000;

    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    return put2(p, d);
}


void
st_format_day(int64_t day, char buf[ST_DAY_LEN])
{
    *put_date(buf, day) = '\0';
}


void
st_format_hour(int64_t day, int hour, char buf[ST_HOUR_LEN])
{
    char  *p;

    p = put_date(buf, day);
    *p++ = 'T';
    *put2(p, hour < 0 ? 0 : hour % 24) = '\0';
}


int64_t
st_local_day(time_t t)
{
    struct tm  tm;

    localtime_r(&t, &tm);

    return st_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
