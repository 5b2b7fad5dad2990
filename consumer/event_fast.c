/*
 * track-consumer: the fast path of event decoding.
 *
 * One pass over the element, no allocation unless a wanted string holds
 * escapes.  It only ever says "decoded" for an element that jansson
 * (json_loadb with JSON_REJECT_DUPLICATES) reads as a valid JSON object and
 * that tc_event_decode_full() stores with the very same values; anything
 * unusual (an escaped key, a number that might overflow, deep nesting, a
 * field of the wrong type or length, any syntax error) makes it give up, and
 * the full decoder, jansson, decides and words the dead letter.  The fuzz
 * target consumer_event checks both paths against each other.
 */
#include <stdlib.h>
#include <string.h>

#include "day.h"
#include "event.h"

#define FP_MAX_DEPTH   64       /* jansson allows 2048: deeper gives up */
#define FP_MAX_KEYS    32       /* keys per nested object checked for twins */
#define FP_MAX_OTHER   16       /* unknown top-level keys */

typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    const unsigned char  *raw;
    size_t                len;
    char                 *own;      /* unescaped strings, one buffer */
    size_t                own_len;
} fp_t;

/* the event's fields, by their bit in the "seen" mask */
enum {
    F_EID, F_RECV_TS, F_APP, F_MODULE, F_ACTION, F_OBJECT, F_UID, F_TS,
    F_IP, F_UA, F_REFERER, F_PROPS, F_FIELDS, F_OTHER
};


static void
fp_ws(fp_t *f)
{
    while (f->p < f->end
           && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n'
               || *f->p == '\r'))
    {
        f->p++;
    }
}


static int
hex4(const unsigned char *p, unsigned *out)
{
    int       i;
    unsigned  v, c;

    v = 0;
    for (i = 0; i < 4; i++) {
        c = p[i];
        if (c >= '0' && c <= '9') {
            c -= '0';
        } else if (c >= 'a' && c <= 'f') {
            c -= 'a' - 10;
        } else if (c >= 'A' && c <= 'F') {
            c -= 'A' - 10;
        } else {
            return -1;
        }
        v = (v << 4) | c;
    }

    *out = v;

    return 0;
}


/* Well-formed UTF-8 (no overlong form, no surrogate, at most U+10FFFF). */
static int
utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char  c, lo, hi;
    int            n, i;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return -1;
    }

    if (end - p < n || p[1] < lo || p[1] > hi) {
        return -1;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return -1;
        }
    }

    return n;
}


static size_t
utf8_put(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char) (0xc0 | (cp >> 6));
        d[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char) (0xe0 | (cp >> 12));
        d[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char) (0xf0 | (cp >> 18));
    d[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}


/*
 * f->p at the opening quote.  Checks the string as jansson does (no control
 * character, well-formed UTF-8, valid escapes, no \u0000, paired
 * surrogates).  out != NULL: the decoded bytes, pointing into the element
 * when it has no escape.  *escaped: the string had one.  0, or -1: give up.
 */
static int
fp_string(fp_t *f, tc_str_t *out, int *escaped)
{
    int                   n, esc;
    char                 *d;
    unsigned              cp, lo;
    const unsigned char  *s, *start;

    start = f->p + 1;
    esc = 0;

    for (s = start; s < f->end && *s != '"'; ) {
        if (*s < 0x20) {
            return -1;
        }

        if (*s == '\\') {
            esc = 1;
            if (f->end - s < 2) {
                return -1;
            }
            switch (s[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                s += 2;
                continue;
            case 'u':
                if (f->end - s < 6 || hex4(s + 2, &cp) != 0 || cp == 0) {
                    return -1;
                }
                s += 6;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return -1;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (f->end - s < 6 || s[0] != '\\' || s[1] != 'u'
                        || hex4(s + 2, &lo) != 0 || lo < 0xdc00
                        || lo > 0xdfff)
                    {
                        return -1;
                    }
                    s += 6;
                }
                continue;
            default:
                return -1;
            }
        }

        if (*s >= 0x80) {
            n = utf8_seq(s, f->end);
            if (n < 0) {
                return -1;
            }
            s += n;
            continue;
        }

        s++;
    }

    if (s >= f->end) {
        return -1;
    }

    f->p = s + 1;
    if (escaped != NULL) {
        *escaped = esc;
    }

    if (out == NULL) {
        return 0;
    }

    if (!esc) {
        out->data = (const char *) start;
        out->len = (size_t) (s - start);
        return 0;
    }

    /* unescaped text is never longer than the escaped one */
    if (f->own == NULL) {
        f->own = malloc(f->len + 1);
        if (f->own == NULL) {
            return -1;
        }
    }

    d = f->own + f->own_len;
    out->data = d;

    for (s = start; *s != '"'; ) {
        if (*s != '\\') {
            *d++ = (char) *s++;
            continue;
        }
        switch (s[1]) {
        case 'b': *d++ = '\b'; s += 2; continue;
        case 'f': *d++ = '\f'; s += 2; continue;
        case 'n': *d++ = '\n'; s += 2; continue;
        case 'r': *d++ = '\r'; s += 2; continue;
        case 't': *d++ = '\t'; s += 2; continue;
        case 'u': break;
        default: *d++ = (char) s[1]; s += 2; continue;
        }
        hex4(s + 2, &cp);
        s += 6;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            hex4(s + 2, &lo);
            s += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        d += utf8_put(d, cp);
    }

    out->len = (size_t) (d - out->data);
    f->own_len += out->len;

    return 0;
}


/* after a number or a literal: a delimiter must follow */
static int
fp_delim(fp_t *f)
{
    const unsigned char  *p;

    p = f->p;

    return p == f->end || *p == ',' || *p == '}' || *p == ']' || *p == ' '
           || *p == '\t' || *p == '\n' || *p == '\r';
}


/*
 * f->p at a number.  Accepts the JSON grammar; gives up on what jansson
 * might refuse (an integer that may not fit 64 bits, a real that may
 * overflow).  An integer's value in *v when is_int is set.
 */
static int
fp_number(fp_t *f, int64_t *v, int *is_int)
{
    int                   neg, real, digits, expdigits;
    uint64_t              u;
    const unsigned char  *p, *start;

    p = start = f->p;
    neg = 0;
    real = 0;
    digits = 0;
    expdigits = 0;
    u = 0;

    if (p < f->end && *p == '-') {
        neg = 1;
        p++;
    }

    if (p >= f->end || *p < '0' || *p > '9') {
        return -1;
    }

    if (*p == '0') {
        p++;
        digits = 1;
        if (p < f->end && *p >= '0' && *p <= '9') {
            return -1;                  /* leading zero */
        }
    } else {
        while (p < f->end && *p >= '0' && *p <= '9') {
            u = u * 10 + (uint64_t) (*p - '0');
            p++;
            if (++digits > 18) {
                return -1;              /* may not fit: jansson decides */
            }
        }
    }

    if (p < f->end && *p == '.') {
        real = 1;
        p++;
        if (p >= f->end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < f->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < f->end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < f->end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= f->end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < f->end && *p >= '0' && *p <= '9') {
            p++;
            expdigits++;
        }
    }

    /* a real that could overflow a double goes to jansson */
    if (real && (p - start > 32 || expdigits > 2)) {
        return -1;
    }

    f->p = p;
    if (!fp_delim(f)) {
        return -1;
    }

    *is_int = !real;
    *v = neg ? -(int64_t) u : (int64_t) u;

    return 0;
}


static int
fp_literal(fp_t *f, const char *word, size_t n)
{
    if ((size_t) (f->end - f->p) < n || memcmp(f->p, word, n) != 0) {
        return -1;
    }

    f->p += n;

    return fp_delim(f) ? 0 : -1;
}


static int fp_value(fp_t *f, int depth);


/* f->p at '{' of a nested object: members checked, twins refused */
static int
fp_object(fp_t *f, int depth)
{
    int        esc;
    size_t     n, i;
    tc_str_t   keys[FP_MAX_KEYS];

    if (depth > FP_MAX_DEPTH) {
        return -1;
    }

    f->p++;
    fp_ws(f);
    if (f->p < f->end && *f->p == '}') {
        f->p++;
        return 0;
    }

    for (n = 0; ; n++) {
        if (f->p >= f->end || *f->p != '"' || n == FP_MAX_KEYS) {
            return -1;
        }
        if (fp_string(f, &keys[n], &esc) != 0 || esc) {
            return -1;                  /* an escaped key: jansson decides */
        }
        for (i = 0; i < n; i++) {
            if (keys[i].len == keys[n].len
                && memcmp(keys[i].data, keys[n].data, keys[n].len) == 0)
            {
                return -1;
            }
        }

        fp_ws(f);
        if (f->p >= f->end || *f->p != ':') {
            return -1;
        }
        f->p++;
        fp_ws(f);
        if (fp_value(f, depth + 1) != 0) {
            return -1;
        }
        fp_ws(f);

        if (f->p < f->end && *f->p == ',') {
            f->p++;
            fp_ws(f);
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            return 0;
        }
        return -1;
    }
}


static int
fp_array(fp_t *f, int depth)
{
    if (depth > FP_MAX_DEPTH) {
        return -1;
    }

    f->p++;
    fp_ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return 0;
    }

    for ( ;; ) {
        if (fp_value(f, depth + 1) != 0) {
            return -1;
        }
        fp_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            fp_ws(f);
            continue;
        }
        if (f->p < f->end && *f->p == ']') {
            f->p++;
            return 0;
        }
        return -1;
    }
}


/* any value, checked and skipped */
static int
fp_value(fp_t *f, int depth)
{
    int      is_int;
    int64_t  v;

    if (f->p >= f->end) {
        return -1;
    }

    switch (*f->p) {
    case '"':
        return fp_string(f, NULL, NULL);
    case '{':
        return fp_object(f, depth);
    case '[':
        return fp_array(f, depth);
    case 't':
        return fp_literal(f, "true", 4);
    case 'f':
        return fp_literal(f, "false", 5);
    case 'n':
        return fp_literal(f, "null", 4);
    default:
        return fp_number(f, &v, &is_int);
    }
}


static int
field_of(const tc_str_t *k)
{
    static const struct {
        const char  *name;
        size_t       len;
        int          field;
    } names[] = {
        { "eid", 3, F_EID }, { "recv_ts", 7, F_RECV_TS }, { "app", 3, F_APP },
        { "module", 6, F_MODULE }, { "action", 6, F_ACTION },
        { "object", 6, F_OBJECT }, { "uid", 3, F_UID }, { "ts", 2, F_TS },
        { "ip", 2, F_IP }, { "ua", 2, F_UA }, { "referer", 7, F_REFERER },
        { "props", 5, F_PROPS }, { "fields", 6, F_FIELDS }
    };
    size_t  i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (k->len == names[i].len && memcmp(k->data, names[i].name, k->len)
            == 0)
        {
            return names[i].field;
        }
    }

    return F_OTHER;
}


/* a string field: min..max bytes, null is absent; num: integers allowed */
static int
fp_str_field(fp_t *f, tc_str_t *out, size_t min, size_t max, char *num)
{
    int      is_int;
    int64_t  v;

    if (f->p >= f->end) {
        return -1;
    }

    if (*f->p == '"') {
        if (fp_string(f, out, NULL) != 0 || out->len < min || out->len > max)
        {
            return -1;
        }
        return 0;
    }

    if (*f->p == 'n' && min == 0) {
        out->data = NULL;
        out->len = 0;
        return fp_literal(f, "null", 4);
    }

    if (num != NULL && (*f->p == '-' || (*f->p >= '0' && *f->p <= '9'))) {
        if (fp_number(f, &v, &is_int) != 0 || !is_int) {
            return -1;
        }
        /* as the full decoder prints a JSON integer (json_int_t) */
        out->len = (size_t) snprintf(num, 24, "%lld", (long long) v);
        out->data = num;
        return out->len <= max ? 0 : -1;
    }

    return -1;
}


/* an integer field in [min, max); null is absent (*has 0) */
static int
fp_int_field(fp_t *f, int64_t *out, int *has, int64_t min, int64_t max)
{
    int      is_int;
    int64_t  v;

    if (f->p < f->end && *f->p == 'n' && has != NULL) {
        *has = 0;
        return fp_literal(f, "null", 4);
    }

    if (fp_number(f, &v, &is_int) != 0 || !is_int || v < min || v >= max) {
        return -1;
    }

    *out = v;
    if (has != NULL) {
        *has = 1;
    }

    return 0;
}


/* props, fields: the object's text as it arrived; null is absent */
static int
fp_obj_field(fp_t *f, tc_str_t *out)
{
    const unsigned char  *start;

    if (f->p < f->end && *f->p == 'n') {
        out->data = NULL;
        out->len = 0;
        return fp_literal(f, "null", 4);
    }

    if (f->p >= f->end || *f->p != '{') {
        return -1;
    }

    start = f->p;
    if (fp_object(f, 1) != 0) {
        return -1;
    }

    out->data = (const char *) start;
    out->len = (size_t) (f->p - start);

    return 0;
}


static int
fp_member(fp_t *f, tc_event_t *ev, int field)
{
    switch (field) {
    case F_EID:
        return fp_str_field(f, &ev->eid, 1, TC_EID_MAX, NULL);
    case F_RECV_TS:
        return fp_int_field(f, &ev->recv_ts, NULL, 0, TC_TS_MAX);
    case F_APP:
        return fp_str_field(f, &ev->app, 1, TC_NAME_MAX, NULL);
    case F_MODULE:
        return fp_str_field(f, &ev->module, 1, TC_NAME_MAX, NULL);
    case F_ACTION:
        return fp_str_field(f, &ev->action, 1, TC_NAME_MAX, NULL);
    case F_OBJECT:
        return fp_str_field(f, &ev->object, 0, TC_NAME_MAX, ev->num[0]);
    case F_UID:
        return fp_str_field(f, &ev->uid, 0, TC_NAME_MAX, ev->num[1]);
    case F_TS:
        return fp_int_field(f, &ev->ts, &ev->has_ts, 0, INT64_C(1) << 53);
    case F_IP:
        return fp_str_field(f, &ev->ip, 0, TC_IP_MAX, NULL);
    case F_UA:
        return fp_str_field(f, &ev->ua, 0, TC_TEXT_MAX, NULL);
    case F_REFERER:
        return fp_str_field(f, &ev->referer, 0, TC_TEXT_MAX, NULL);
    case F_PROPS:
        return fp_obj_field(f, &ev->props);
    case F_FIELDS:
        return fp_obj_field(f, &ev->fields);
    default:
        return fp_value(f, 1);
    }
}


static int
fp_event(fp_t *f, tc_event_t *ev)
{
    int        field, esc;
    size_t     nother, i;
    unsigned   seen;
    tc_str_t   key, other[FP_MAX_OTHER];

    fp_ws(f);
    if (f->p >= f->end || *f->p != '{') {
        return -1;
    }
    f->p++;
    fp_ws(f);

    seen = 0;
    nother = 0;

    if (f->p < f->end && *f->p == '}') {
        return -1;                      /* required fields missing */
    }

    for ( ;; ) {
        if (f->p >= f->end || *f->p != '"'
            || fp_string(f, &key, &esc) != 0 || esc)
        {
            return -1;
        }

        field = field_of(&key);
        if (field == F_OTHER) {
            if (nother == FP_MAX_OTHER) {
                return -1;
            }
            for (i = 0; i < nother; i++) {
                if (other[i].len == key.len
                    && memcmp(other[i].data, key.data, key.len) == 0)
                {
                    return -1;
                }
            }
            other[nother++] = key;

        } else if (seen & (1u << field)) {
            return -1;                  /* a twin key: jansson refuses it */
        }
        seen |= 1u << field;

        fp_ws(f);
        if (f->p >= f->end || *f->p != ':') {
            return -1;
        }
        f->p++;
        fp_ws(f);

        if (fp_member(f, ev, field) != 0) {
            return -1;
        }

        fp_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            fp_ws(f);
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            break;
        }
        return -1;
    }

    fp_ws(f);
    if (f->p != f->end) {
        return -1;
    }

    if ((seen & ((1u << F_EID) | (1u << F_RECV_TS) | (1u << F_APP)
                 | (1u << F_MODULE) | (1u << F_ACTION)))
        != ((1u << F_EID) | (1u << F_RECV_TS) | (1u << F_APP)
            | (1u << F_MODULE) | (1u << F_ACTION)))
    {
        return -1;
    }

    return tc_day_of(ev->recv_ts, &ev->day, &ev->hour);
}


int
tc_event_decode_fast(tc_event_t *ev, const char *raw, size_t len)
{
    fp_t  f;

    memset(ev, 0, sizeof(*ev));

    f.raw = (const unsigned char *) raw;
    f.p = f.raw;
    f.end = f.raw + len;
    f.len = len;
    f.own = NULL;
    f.own_len = 0;

    if (len == 0 || fp_event(&f, ev) != 0) {
        free(f.own);
        memset(ev, 0, sizeof(*ev));
        return -1;
    }

    ev->own = f.own;
    ev->status = TC_EV_OK;

    return 0;
}
