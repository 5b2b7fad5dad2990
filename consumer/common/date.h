/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * common: the time zone both programs use, and calendar days in the two
 * forms they need: a "day" is YYYYMMDD (as in the events_YYYYMMDD table
 * names), "days" count from 1970-01-01 (for arithmetic and SQL DATE values).
 */
#ifndef TC_DATE_H
#define TC_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/rc.h"

/* recv_ts bounds: 1970-01-01 .. 9999-12-31 (UTC), in ms */
#define TC_TS_MAX  INT64_C(253402300800000)

/*
 * Selects the time zone: NULL or "" keeps the system's (TZ or
 * /etc/localtime); otherwise a zoneinfo name (Asia/Shanghai, UTC) or a POSIX
 * TZ string (CST-8).  Fails for a zoneinfo name that does not exist, rather
 * than silently using UTC as the C library would; track-consumer and
 * track-stats must agree on the zone, so both take it through here.
 */
tc_rc_t tc_tz_set(const char *tz);

/* The day (YYYYMMDD) and hour (0-23) of ms since the epoch, local time. */
tc_rc_t tc_day_of(int64_t ms, uint32_t *day, unsigned *hour);

/* Today in local time (YYYYMMDD). */
uint32_t tc_day_today(void);

/* day minus n calendar days */
uint32_t tc_day_sub(uint32_t day, long n);

/* "events_YYYYMMDD" into buf[16]; "YYYY-MM-DD" into buf[11]. */
void tc_day_table(uint32_t day, char *buf);
void tc_day_date(uint32_t day, char *buf);

/* Parses "events_YYYYMMDD" exactly; returns the day or 0. */
uint32_t tc_day_parse_table(const char *name);

/* Days since 1970-01-01 in the proleptic Gregorian calendar. */
int64_t tc_days_from_civil(int y, int m, int d);
void tc_days_to_civil(int64_t days, int *y, int *m, int *d);

/* The calendar day of time t in the configured time zone, as days. */
int64_t tc_days_local(time_t t);

/*
 * Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH" (years 1000..9999, as MySQL DATE).
 * *hour is -1 when no hour was given.  TC_ERROR on any other input.
 */
tc_rc_t tc_days_parse(const char *s, size_t len, int64_t *days, int *hour);

#define TC_DAYS_LEN   sizeof("YYYY-MM-DD")
#define TC_HOURS_LEN  sizeof("YYYY-MM-DDTHH")

void tc_days_format(int64_t days, char buf[TC_DAYS_LEN]);
void tc_days_format_hour(int64_t days, int hour, char buf[TC_HOURS_LEN]);

#endif /* TC_DATE_H */
