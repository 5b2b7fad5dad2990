/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the enrichment side of ngx_http_track_serialize().
 *
 * The client address, User-Agent, Referer and track_field values are not
 * validated (they are not the client's event): arbitrary bytes must come out
 * as clean UTF-8, invalid bytes and controls as U+FFFD, cut on a character
 * boundary: fields at max_header_len, ua and referer at max_header_len but
 * at most their TEXT columns (65535), the address at its column (45).  The
 * input is split at "@@" into: limits, ip, ua, referer, up to 16 fields.
 */

#include <string.h>

#include "fuzz_util.h"
#include "track_check.h"


#define FZ_MAX_FIELDS  16


/* the rule of ngx_http_track_module/README.md (Rejections), written apart
 * from the module's code */
static json_t *
ref_sanitise(const unsigned char *s, size_t n, size_t max)
{
    size_t          i, k, o;
    json_t         *v;
    unsigned char  *out;

    if (s == NULL || n == 0) {
        return NULL;
    }

    out = malloc(n * 3 + 1);
    o = 0;

    for (i = 0; i < n; i += k) {
        k = fz_utf8_seq(s + i, n - i);

        if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))
            || (k == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f))
        {
            if (o + 3 > max) {
                break;
            }
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            k = 1;
            continue;
        }

        if (o + k > max) {
            break;
        }
        memcpy(out + o, s + i, k);
        o += k;
    }

    v = json_stringn((char *) out, o);
    free(out);

    FZ_CHECK(v != NULL, "reference output is UTF-8");

    return v;
}


static void
expect(json_t *out, const char *key, const unsigned char *s, size_t n,
    size_t max)
{
    json_t  *want, *got;

    want = ref_sanitise(s, n, max);
    got = json_object_get(out, key);

    FZ_CHECK(want == NULL ? got == NULL : json_equal(want, got),
             "%s: stored %s", key, got ? json_string_value(got) : "(none)");

    json_decref(want);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *buf, names[FZ_MAX_FIELDS][4];
    size_t                   n, m, len, nf, i, bufsize, max;
    u_char                   qbuf[32];
    json_t                  *out, *fields;
    fz_split_t               sp;
    const unsigned char     *f;
    ngx_http_track_kv_t      kv[FZ_MAX_FIELDS];
    ngx_http_track_error_t   err;
    ngx_http_track_event_t   ev;
    ngx_http_track_enrich_t  e;

    static const char  q[] = "app=a&module=m&action=x";
    static char        big[1 << 20];

    FZ_CHECK(ngx_http_track_parse_args((const u_char *) q, sizeof(q) - 1,
                                       &fz_limits_default, &ev, qbuf, NULL,
                                       &err)
             == 0, "fixed event");

    memset(&e, 0, sizeof(e));
    e.eid = "0193a1b2c3d4000a00312f0000000001";
    e.recv_ts = 1;
    e.max_header_len = 512;
    e.escape = fz_escape;
    bufsize = sizeof(big);

    fz_split_init(&sp, data, size);

    if (fz_split_next(&sp, &f, &len) && len >= 1) {
        e.max_header_len = f[0] < 0xf0 ? f[0] : (size_t) 512 << (f[0] & 15);
        if (len >= 3) {
            bufsize = (size_t) f[1] << 8 | f[2];
        }
    }

    if (fz_split_next(&sp, &f, &len)) {
        e.ip.data = f;
        e.ip.len = len;
    }

    if (fz_split_next(&sp, &f, &len)) {
        e.ua.data = f;
        e.ua.len = len;
    }

    if (fz_split_next(&sp, &f, &len)) {
        e.referer.data = f;
        e.referer.len = len;
    }

    for (nf = 0; nf < FZ_MAX_FIELDS && fz_split_next(&sp, &f, &len); nf++) {
        snprintf(names[nf], sizeof(names[nf]), "f%zu", nf);
        kv[nf].name = names[nf];
        kv[nf].data = f;
        kv[nf].len = len;
    }

    e.fields = kv;
    e.nfields = nf;

    n = ngx_http_track_serialize(&ev, &e, (u_char *) big, sizeof(big));
    FZ_CHECK(n > 0 && n < sizeof(big), "serialised");

    out = json_loadb(big, n, JSON_REJECT_DUPLICATES, NULL);
    FZ_CHECK(out != NULL, "re-parses: %.*s", (int) n, big);

    expect(out, "ip", e.ip.data, e.ip.len, NGX_HTTP_TRACK_IP_MAX);
    max = e.max_header_len < 65535 ? e.max_header_len : 65535;
    expect(out, "ua", e.ua.data, e.ua.len, max);
    expect(out, "referer", e.referer.data, e.referer.len, max);

    fields = json_object_get(out, "fields");
    m = 0;
    for (i = 0; i < nf; i++) {
        expect(fields ? fields : out, names[i], kv[i].data, kv[i].len,
               e.max_header_len);
        m += kv[i].len > 0;
    }
    FZ_CHECK(json_object_size(fields) == m, "one stored field per value");
    FZ_CHECK(m > 0 || fields == NULL, "no empty fields object");

    /* any buffer size: the whole event or nothing, never past the end */
    buf = malloc(bufsize ? bufsize : 1);
    FZ_CHECK(buf != NULL, "malloc");
    m = ngx_http_track_serialize(&ev, &e, (u_char *) buf, bufsize);
    FZ_CHECK(n <= bufsize ? (m == n && memcmp(buf, big, n) == 0) : m == 0,
             "%zu bytes into %zu: %zu", n, bufsize, m);
    free(buf);

    json_decref(out);

    return 0;
}
