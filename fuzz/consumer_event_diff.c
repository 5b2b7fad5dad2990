/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the consumer's two decoders against each other.  The
 * input is one queue element.  jansson's decoding (tc_event_decode_json) is
 * the reference; the fast path (tc_event_fast_decode) must either decline,
 * leaving the event zeroed, or decode it exactly so, field by field; and
 * the consumer's decoding (tc_event_decode: fast path, else jansson) must
 * equal the reference in everything, dead letters' codes and reasons too.
 */

#include <string.h>

#include "fuzz_util.h"

#include "common/date.h"
#include "common/rc.h"
#include "event.h"
#include "event_fast.h"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FZ_CHECK(tc_tz_set("UTC") == TC_OK, "UTC");

    return 0;
}


/* every byte of the event is zero: what a declined decoding leaves */
static int
is_zeroed(const tc_event_t *ev)
{
    size_t               i;
    const unsigned char *p;

    p = (const unsigned char *) ev;
    for (i = 0; i < sizeof(*ev); i++) {
        if (p[i] != 0) {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_rc_t            rc_ref, rc;
    size_t             max_bytes;
    char              *raw;
    const char        *diff;
    tc_event_t         ref, fast, ev;
    tc_fast_rc_t       rc_fast;

    /* a copy of its own size, so ASan sees a read past the element */
    raw = malloc(size ? size : 1);
    FZ_CHECK(raw != NULL, "malloc");
    memcpy(raw, data, size);

    /* a small limit now and then, so the size check is reached too */
    max_bytes = (size % 7 == 0) ? 96 : (size_t) 1 << 20;

    rc_ref = tc_event_decode_json(&ref, raw, size, max_bytes);
    rc_fast = tc_event_fast_decode(&fast, raw, size, max_bytes);
    rc = tc_event_decode(&ev, raw, size, max_bytes);

    if (rc_fast == TC_FAST_DECODED) {
        FZ_CHECK(rc_ref == TC_OK, "the fast path decoded what jansson rejects "
                 "(%s: %s)", ref.code, ref.reason);
        diff = tc_event_diff(&fast, &ref);
        FZ_CHECK(diff == NULL, "the fast path differs from jansson in %s",
                 diff);

    } else {
        FZ_CHECK(rc_fast == TC_FAST_DECLINED && is_zeroed(&fast),
                 "a declined event is left zeroed");
    }

    FZ_CHECK(rc == rc_ref, "tc_event_decode returns %d, jansson %d", (int) rc,
             (int) rc_ref);
    diff = tc_event_diff(&ev, &ref);
    FZ_CHECK(diff == NULL, "tc_event_decode differs from jansson in %s",
             diff);

    tc_event_clear(&ref);
    tc_event_clear(&fast);
    tc_event_clear(&ev);
    free(raw);

    return 0;
}
