/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the fast decoding path (simdjson), behind a C interface. */
#ifndef TC_EVENT_FAST_H
#define TC_EVENT_FAST_H

#include <stddef.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TC_FAST_DECODED = 0,        /* ev is TC_EV_OK, as jansson would have it */
    TC_FAST_DECLINED            /* ev is zeroed: jansson must decide */
} tc_fast_rc_t;

/*
 * Decodes a well-formed event exactly as tc_event_decode_json() would, or
 * declines: it never rejects an event and never differs.  It declines
 * whatever simdjson and jansson might not decide alike: invalid JSON, a
 * \u escape of NUL or of a surrogate, an integer beyond int64, a repeated
 * key, a field of the wrong type or out of range, and every kind of dead
 * letter.
 * The decoded strings are copied to ev->text, allocated as ev->json is
 * (jansson's allocator: the batch arena inside tc_batch_decode()).
 */
tc_fast_rc_t tc_event_fast_decode(tc_event_t *ev, const char *raw, size_t len,
    size_t max_bytes);

#ifdef __cplusplus
}
#endif

#endif /* TC_EVENT_FAST_H */
