
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


typedef struct {
    const char         *eid;          /* used when the event has none */
    int64_t             recv_ts;      /* ms since the epoch */
    ngx_http_track_kv_t ip;
    ngx_http_track_kv_t ua;
    ngx_http_track_kv_t referer;
    ngx_http_track_kv_t *fields;
    size_t              nfields;
    size_t              max_header_len;    /* ua, referer, fields */
} ngx_http_track_enrich_t;


extern const char *ngx_http_track_reject_names[];


/*
 * Both parsers return a JSON array of validated events (each an object with
 * string app, module, action and optional object, uid, eid, integer ts and a
 * flat props object), or NULL with err filled in.  The caller owns the array.
 */
json_t *ngx_http_track_parse_args(const u_char *args, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err);
json_t *ngx_http_track_parse_json(const u_char *body, size_t len,
    const ngx_http_track_limits_t *limits, ngx_http_track_error_t *err);

/*
 * Writes the stored form of a validated event into buf (compact JSON, keys
 * in the documented order).  Returns its length, or 0 when it does not fit
 * or cannot be encoded.
 */
size_t ngx_http_track_serialize(json_t *event,
    const ngx_http_track_enrich_t *enrich, char *buf, size_t size);

/* the event's client-chosen eid or NULL */
const char *ngx_http_track_event_eid(json_t *event);

/* length of the longest prefix of s that is valid, control-free UTF-8 */
size_t ngx_http_track_utf8_valid_prefix(const u_char *s, size_t len);


#endif /* _NGX_HTTP_TRACK_EVENT_H_INCLUDED_ */
