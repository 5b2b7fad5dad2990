/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: decoding and validation of one queued event (README format). */
#ifndef TC_EVENT_H
#define TC_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* limits of the day table columns, in bytes */
#define TC_EID_MAX      64
#define TC_NAME_MAX     128     /* app, module, action, object, uid */
#define TC_IP_MAX       45
#define TC_TEXT_MAX     65535   /* ua, referer: TEXT */
#define TC_JSON_MAX     16777215 /* props, fields: MEDIUMTEXT */

typedef struct {
    const char  *data;          /* NULL: absent */
    size_t       len;
} tc_str_t;

/* what happened to an event in its batch */
typedef enum {
    TC_EV_OK = 0,               /* to be stored (or stored) */
    TC_EV_DEAD,                 /* failed decoding: dead letter */
    TC_EV_DUP,                  /* same (day, eid) earlier in the batch */
    TC_EV_EXISTS,               /* (day, eid) already in the day table */
    TC_EV_REJECTED              /* MySQL refused the row: dead letter */
} tc_ev_status_t;

typedef struct {
    tc_str_t         eid;
    tc_str_t         app;
    tc_str_t         module;
    tc_str_t         action;
    tc_str_t         object;
    tc_str_t         uid;
    tc_str_t         ip;
    tc_str_t         ua;
    tc_str_t         referer;
    tc_str_t         props;     /* compact JSON text, by jansson */
    tc_str_t         fields;
    int64_t          recv_ts;
    int64_t          ts;
    int              has_ts;

    uint32_t         day;       /* YYYYMMDD of recv_ts, configured zone */
    unsigned         hour;

    /*
     * Ranks among the batch's distinct values (tc_batch_decode): equal
     * ranks, equal values; rank order, byte order.  The statistics keys
     * sort and compare as integers.
     */
    uint32_t         group_rank;    /* (app, module, action) */
    uint32_t         object_rank;   /* object, absent as '' */
    uint32_t         uid_rank;
    uint32_t         day_rank;
    tc_ev_status_t   status;

    const char      *code;      /* dead letters: short reason code */
    char            *reason;    /* dead letters: malloc'ed text */

    json_t          *json;      /* owns the decoded strings, or */
    char            *text;      /* does (fast path), allocated as json is */
    char             num[2][24]; /* object, uid sent as JSON integers */
} tc_event_t;

/*
 * Decodes raw (not NUL-terminated) into ev.  Strings point into ev->json,
 * ev->text or raw, which must outlive ev.  TC_OK, or TC_ERROR with ev->status
 * TC_EV_DEAD, ev->code and ev->reason set.  tc_event_clear() frees either.
 * The fast path (event_fast.h) decodes what it can decide exactly as
 * jansson would; jansson decodes the rest, dead letters included.
 */
tc_rc_t tc_event_decode(tc_event_t *ev, const char *raw, size_t len,
    size_t max_bytes);

/* The same, by jansson alone: the reference the fast path is held to. */
tc_rc_t tc_event_decode_json(tc_event_t *ev, const char *raw, size_t len,
    size_t max_bytes);

void tc_event_clear(tc_event_t *ev);

/*
 * The first field in which two decoded events differ ("status", "eid",
 * "reason", ...), or NULL: how the fast path is held to jansson's decoding
 * by the unit tests and the differential fuzz target.
 */
const char *tc_event_diff(const tc_event_t *a, const tc_event_t *b);

/* Sets status TC_EV_DEAD or TC_EV_REJECTED with a code and a reason. */
void tc_event_reject(tc_event_t *ev, tc_ev_status_t status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The dead-letter element: {"reason":..,"code":..,"consumer":..,"raw":..}. */
char *tc_event_dead_letter(const tc_event_t *ev, const char *raw, size_t len,
    const char *consumer, size_t *out_len);

#endif /* TC_EVENT_H */
