/* track-consumer: the configured time zone, days and hours of receive times. */
#ifndef TC_DAY_H
#define TC_DAY_H

#include <stdint.h>

/* recv_ts bounds: 1970-01-01 .. 9999-12-31 (UTC), in ms */
#define TC_TS_MAX  INT64_C(253402300800000)

/*
 * Selects the time zone: NULL or "" keeps the system's (TZ or
 * /etc/localtime); otherwise a zoneinfo name (Asia/Shanghai, UTC) or a POSIX
 * TZ string (CST-8).  Fails for a zoneinfo name that does not exist, rather
 * than silently using UTC as the C library would.
 */
int tc_tz_set(const char *tz);

/* The day (YYYYMMDD) and hour (0-23) of ms since the epoch, local time. */
int tc_day_of(int64_t ms, uint32_t *day, unsigned *hour);

/* Today in local time (YYYYMMDD). */
uint32_t tc_day_today(void);

/* day minus n calendar days */
uint32_t tc_day_sub(uint32_t day, long n);

/* "events_YYYYMMDD" into buf[16]; "YYYY-MM-DD" into buf[11]. */
void tc_day_table(uint32_t day, char *buf);
void tc_day_date(uint32_t day, char *buf);

/* Parses "events_YYYYMMDD" exactly; returns the day or 0. */
uint32_t tc_day_parse_table(const char *name);

#endif /* TC_DAY_H */
