/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the fuzz targets (see fuzz_util.h). */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"


size_t
fz_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char  lo, hi;
    size_t         len, i;

    if (n == 0) {
        return 0;
    }

    if (s[0] <= 0x7f) {
        return 1;
    }

    /* the second byte's range depends on the first; later ones are 80..BF */
    lo = 0x80;
    hi = 0xbf;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] == 0xe0) {
        len = 3; lo = 0xa0;
    } else if (s[0] >= 0xe1 && s[0] <= 0xec) {
        len = 3;
    } else if (s[0] == 0xed) {
        len = 3; hi = 0x9f;
    } else if (s[0] >= 0xee && s[0] <= 0xef) {
        len = 3;
    } else if (s[0] == 0xf0) {
        len = 4; lo = 0x90;
    } else if (s[0] >= 0xf1 && s[0] <= 0xf3) {
        len = 4;
    } else if (s[0] == 0xf4) {
        len = 4; hi = 0x8f;
    } else {
        return 0;
    }

    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }

    return len;
}


int
fz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i += k) {
        k = fz_utf8_seq(s + i, n - i);
        if (k == 0) {
            return 0;
        }
    }

    return 1;
}


int
fz_utf8_clean(const unsigned char *s, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i += k) {
        k = fz_utf8_seq(s + i, n - i);
        if (k == 0) {
            return 0;
        }

        /* C0 and DEL; C1 is U+0080..U+009F, encoded C2 80..C2 9F */
        if ((k == 1 && (s[i] < 0x20 || s[i] == 0x7f))
            || (k == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f))
        {
            return 0;
        }
    }

    return 1;
}


void
fz_split_init(fz_split_t *s, const uint8_t *data, size_t size)
{
    s->p = data;
    s->end = data + size;
    s->done = 0;
}


int
fz_split_next(fz_split_t *s, const unsigned char **field, size_t *len)
{
    const unsigned char  *q;

    if (s->done) {
        return 0;
    }

    for (q = s->p; q + 1 < s->end; q++) {
        if (q[0] == '@' && q[1] == '@') {
            *field = s->p;
            *len = (size_t) (q - s->p);
            s->p = q + 2;
            return 1;
        }
    }

    *field = s->p;
    *len = (size_t) (s->end - s->p);
    s->done = 1;

    return 1;
}


int
fz_form_decode(const unsigned char *s, size_t n, unsigned char *out,
    size_t *olen)
{
    char    hex[3];
    size_t  i, o;

    o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (n - i < 3 || !isxdigit(s[i + 1]) || !isxdigit(s[i + 2])) {
                return -1;
            }
            hex[0] = (char) s[i + 1];
            hex[1] = (char) s[i + 2];
            hex[2] = '\0';
            out[o++] = (unsigned char) strtoul(hex, NULL, 16);
            i += 2;

        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }

    *olen = o;

    return 0;
}
