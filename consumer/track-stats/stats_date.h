/* track-stats: calendar days as integers, strict date parsing, "today". */
#ifndef STATS_DATE_H
#define STATS_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Days since 1970-01-01 in the proleptic Gregorian calendar. */
int64_t st_days_from_civil(int y, int m, int d);
void st_civil_from_days(int64_t days, int *y, int *m, int *d);

/*
 * Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH" (years 1000..9999, as MySQL DATE).
 * *hour is -1 when no hour was given. Returns 0, or -1 on any other input.
 */
int st_parse_day(const char *s, size_t len, int64_t *day, int *hour);

#define ST_DAY_LEN   sizeof("YYYY-MM-DD")
#define ST_HOUR_LEN  sizeof("YYYY-MM-DDTHH")

void st_format_day(int64_t day, char buf[ST_DAY_LEN]);
void st_format_hour(int64_t day, int hour, char buf[ST_HOUR_LEN]);

/* The calendar day of time t in the process time zone (TZ). */
int64_t st_local_day(time_t t);

#endif
