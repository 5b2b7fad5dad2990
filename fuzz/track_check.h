/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checks shared by the module's fuzz targets: the shape of a validated event,
 * and what ngx_http_track_serialize() makes of it, down to whether the
 * consumer's decoder takes the stored form.
 */

#ifndef TRACK_CHECK_H
#define TRACK_CHECK_H

#include <jansson.h>

#include "ngx_http_track_event.h"

/* the module's defaults, and a tight set that reaches every limit quickly */
extern const ngx_http_track_limits_t  fz_limits_default;
extern const ngx_http_track_limits_t  fz_limits_tight;

/* a validated event: only documented keys, types, lengths, clean UTF-8 */
void fz_check_event(json_t *event, const ngx_http_track_limits_t *limits);

/* the error of a rejection: a known reason, static texts */
void fz_check_error(const ngx_http_track_error_t *err);

/*
 * A validated event as a JSON object, the way README.md's *Event format*
 * documents it (strings, integer ts, flat props): what the references
 * build.
 */
json_t *fz_event_json(const ngx_http_track_event_t *ev);

/* the serialiser's escaping callback, by jansson's encoder */
size_t fz_escape(u_char *dst, const u_char *src, size_t len);

/*
 * Serialises ev with a fixed enrichment, checks buffer bounds, that the
 * output is compact JSON jansson parses back with the documented key order
 * and the values of event (ev as JSON) byte for byte, and that the consumer
 * decodes it.
 */
void fz_check_stored(const ngx_http_track_event_t *ev, json_t *event);

/* one-time setup (time zone of the consumer's day computation) */
void fz_track_init(void);

#endif /* TRACK_CHECK_H */
