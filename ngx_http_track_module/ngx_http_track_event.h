/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Validation and serialisation of tracking events.  Free of nginx types on
 * purpose: the same code runs inside nginx and under the fuzzers.
 */


#ifndef _NGX_HTTP_TRACK_EVENT_H_INCLUDED_
#define _NGX_HTTP_TRACK_EVENT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>


/* largest integer a JSON consumer can hold exactly: 2^53 - 1 */
#define NGX_HTTP_TRACK_MAX_TS  9007199254740991LL

#define NGX_HTTP_TRACK_EID_LEN  32

/* the stored ip column: the longest textual IPv6 address with an IPv4 tail */
#define NGX_HTTP_TRACK_IP_MAX   45

/* the stored ua and referer columns (TEXT) */
#define NGX_HTTP_TRACK_TEXT_MAX  65535


typedef struct {
    /* app, module, action, object, uid */
    size_t              max_field_len;
    size_t              max_eid_len;
    size_t              max_props;
    size_t              max_prop_name_len;
    size_t              max_prop_value_len;
    size_t              max_events;        /* per request */
    size_t              max_params;        /* query arguments per request */
} ngx_http_track_limits_t;


/* why a request was rejected; indexes ngx_http_track_reject_names */
typedef enum {
    NGX_HTTP_TRACK_REJECT_MISSING_FIELD = 0,
    NGX_HTTP_TRACK_REJECT_INVALID_VALUE,
    NGX_HTTP_TRACK_REJECT_TOO_LONG,
    NGX_HTTP_TRACK_REJECT_BAD_ENCODING,
    NGX_HTTP_TRACK_REJECT_DUPLICATE_FIELD,
    NGX_HTTP_TRACK_REJECT_TOO_MANY_FIELDS,
    NGX_HTTP_TRACK_REJECT_INVALID_JSON,
    NGX_HTTP_TRACK_REJECT_TOO_MANY_EVENTS,
    NGX_HTTP_TRACK_REJECT_BODY_TOO_LARGE,
    NGX_HTTP_TRACK_REJECT_UNSUPPORTED_TYPE,
    NGX_HTTP_TRACK_REJECT_METHOD,
    NGX_HTTP_TRACK_REJECT_ORIGIN,
    NGX_HTTP_TRACK_REJECT_LAST
} ngx_http_track_reject_e;


typedef struct {
    ngx_http_track_reject_e   reason;
    const char               *message;   /* static text, never client data */
    const char               *field;     /* static field name or NULL */
} ngx_http_track_error_t;


/* a string to enrich an event with; data need not be valid UTF-8 */
typedef struct {
    const char         *name;
    const u_char       *data;
    size_t              len;
} ngx_http_track_kv_t;


/*
 * Writes src as the inside of a JSON string to dst and returns the length
 * written; with dst NULL, returns that length only.  The module passes
 * nginx's ngx_escape_json(), the fuzzers jansson's encoder: the escaping is
 * never this file's.
 */
typedef size_t (*ngx_http_track_escape_pt)(u_char *dst, const u_char *src,
    size_t len);


typedef struct {
    const char         *eid;          /* used when the event has none */
    int64_t             recv_ts;      /* ms since the epoch */
    ngx_http_track_kv_t ip;
    ngx_http_track_kv_t ua;
    ngx_http_track_kv_t referer;
    ngx_http_track_kv_t *fields;
    size_t              nfields;
    size_t              max_header_len;    /* ua, referer, fields */
    ngx_http_track_escape_pt  escape;
} ngx_http_track_enrich_t;


/* a validated text value; data NULL when absent */
typedef struct {
    const u_char       *data;
    size_t              len;
} ngx_http_track_text_t;


/* the text fields of an event, in stored order */
typedef enum {
    NGX_HTTP_TRACK_APP = 0,
    NGX_HTTP_TRACK_MODULE,
    NGX_HTTP_TRACK_ACTION,
    NGX_HTTP_TRACK_OBJECT,
    NGX_HTTP_TRACK_UID,
    NGX_HTTP_TRACK_EID,
    NGX_HTTP_TRACK_NTEXT
} ngx_http_track_text_e;


/*
 * A validated event.  Its texts point into the request (a query string's
 * decoded copy, or the JSON document the body parsed into), so it lives as
 * long as they do.  Properties are name/value pairs of a query string, or a
 * flat JSON object of a body.
 */
typedef struct {
    ngx_http_track_text_t   text[NGX_HTTP_TRACK_NTEXT];
    int64_t                 ts;           /* -1: none */
    ngx_http_track_text_t  *props;        /* props[2i] name, props[2i+1] */
    size_t                  nprops;
    json_t                 *props_json;   /* borrowed */
    char                    num[2][24];   /* object, uid sent as numbers */
} ngx_http_track_event_t;


/* the events of a JSON body, and the document their values point into */
typedef struct {
    ngx_http_track_event_t *events;
    size_t                  nevents;
    json_t                 *root;
} ngx_http_track_events_t;


extern const char *ngx_http_track_reject_names[];


/*
 * The query string's event into ev: 0, or -1 with err filled in.  Values are
 * decoded into buf (len + 1 bytes), properties go to props (room for
 * 2 * limits->max_props entries).
 */
int ngx_http_track_parse_args(const u_char *args, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_event_t *ev,
    u_char *buf, ngx_http_track_text_t *props, ngx_http_track_error_t *err);

/*
 * A body of one JSON event or an array of them: 0 and out filled in (free
 * it with ngx_http_track_events_free()), or -1 with err filled in.
 */
int ngx_http_track_parse_json(const u_char *body, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_events_t *out,
    ngx_http_track_error_t *err);
void ngx_http_track_events_free(ngx_http_track_events_t *events);

/*
 * Writes the stored form of a validated event into buf (compact JSON, keys
 * in the documented order).  Returns its length, or 0 when it does not fit.
 */
size_t ngx_http_track_serialize(const ngx_http_track_event_t *ev,
    const ngx_http_track_enrich_t *enrich, u_char *buf, size_t size);

/* length of the longest prefix of s that is valid, control-free UTF-8 */
size_t ngx_http_track_utf8_valid_prefix(const u_char *s, size_t len);


#endif /* _NGX_HTTP_TRACK_EVENT_H_INCLUDED_ */
