/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the fast decoding path: simdjson, declining when in doubt. */
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include <simdjson.h>

extern "C" {
#include "common/date.h"
#include "common/rc.h"
#include "event.h"
}
#include "event_fast.h"

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

/*
 * The duplicate check below compares every pair of keys, and recurses: a
 * larger or deeper document (the module writes flat ones) is left to
 * jansson.
 */
constexpr size_t  kMaxKeys = 64;
constexpr int     kMaxDepth = 16;

/* e, whose type was checked (a value, not a reference into a temporary) */
simdjson::dom::object
as_object(element e)
{
    return e.get_object().value_unsafe();
}


simdjson::dom::array
as_array(element e)
{
    return e.get_array().value_unsafe();
}


/* the member slots of an event, in the order tc_event_decode_json() reads */
enum field_e {
    F_EID, F_RECV_TS, F_APP, F_MODULE, F_ACTION, F_OBJECT, F_UID, F_IP, F_UA,
    F_REFERER, F_TS, F_PROPS, F_FIELDS, F_COUNT
};

const std::string_view  field_names[F_COUNT] = {
    "eid", "recv_ts", "app", "module", "action", "object", "uid", "ip", "ua",
    "referer", "ts", "props", "fields"
};

/* where a decoded string will be, in the text block */
struct span_t {
    bool    present;
    size_t  off;
    size_t  len;
};

/* reused from event to event: parsing allocates only to grow */
thread_local simdjson::dom::parser  parser;
thread_local std::string            text;


bool
hex4(const char *p, uint32_t *cp)
{
    uint32_t  v = 0;

    for (int i = 0; i < 4; i++) {
        char  c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t) (c - 'A' + 10);
        } else {
            return false;
        }
    }
    *cp = v;

    return true;
}


/*
 * True when every \u escape is one both parsers decode alike: jansson
 * refuses \u0000 (without JSON_ALLOW_NUL) and lone or mismatched
 * surrogates; simdjson 3.0 lets some of those through.  In JSON that
 * simdjson accepts, a backslash only starts an escape inside a string, so
 * escapes are found by walking from backslash to backslash.
 */
bool
escapes_agree(const char *p, const char *end)
{
    uint32_t  cp, lo;

    while ((p = (const char *) memchr(p, '\\', (size_t) (end - p))) != NULL) {
        if (end - p < 2) {
            return false;
        }
        if (p[1] != 'u') {
            p += 2;
            continue;
        }
        if (end - p < 6 || !hex4(p + 2, &cp)) {
            return false;
        }
        p += 6;

        if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
            return false;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                || !hex4(p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            {
                return false;
            }
            p += 6;
        }
    }

    return true;
}


/*
 * True when jansson would load the whole document as simdjson did: no
 * object repeats a key (JSON_REJECT_DUPLICATES holds at every depth), and
 * no integer is beyond int64 (simdjson 3.0 reads one up to 2^64 - 1 as
 * uint64, where jansson fails).  Both take a real (a number with a
 * fraction or an exponent) as the correctly rounded double, and both fail
 * on one that overflows.
 */
bool
loads_alike(element e, int depth)
{
    if (depth > kMaxDepth) {
        return false;
    }

    switch (e.type()) {

    case element_type::OBJECT: {
        std::string_view  keys[kMaxKeys];
        size_t            n = 0;

        for (auto kv : as_object(e)) {
            if (n == kMaxKeys) {
                return false;
            }
            for (size_t i = 0; i < n; i++) {
                if (keys[i] == kv.key) {
                    return false;
                }
            }
            keys[n++] = kv.key;

            if (!loads_alike(kv.value, depth + 1)) {
                return false;
            }
        }
        return true;
    }

    case element_type::ARRAY:
        for (element v : as_array(e)) {
            if (!loads_alike(v, depth + 1)) {
                return false;
            }
        }
        return true;

    case element_type::UINT64:
        return false;

    default:
        return true;
    }
}


/* jansson's dump of a string: only '"', '\\' and controls are escaped */
void
dump_string(std::string_view s)
{
    char  seq[8];

    text += '"';

    for (char c : s) {
        switch (c) {
        case '"':  text += "\\\""; break;
        case '\\': text += "\\\\"; break;
        case '\b': text += "\\b"; break;
        case '\f': text += "\\f"; break;
        case '\n': text += "\\n"; break;
        case '\r': text += "\\r"; break;
        case '\t': text += "\\t"; break;
        default:
            if ((unsigned char) c < 0x20) {
                snprintf(seq, sizeof(seq), "\\u%04X", (unsigned) c);
                text += seq;
            } else {
                text += c;
            }
        }
    }

    text += '"';
}


/*
 * jansson's dump of a real (2.14, as Debian 12 ships it): "%.17g" in the C
 * locale (the consumer never sets another), ".0" added when that looks
 * like an integer, and the exponent without '+' or leading zeros.
 */
void
dump_real(double d)
{
    char  num[40], *e, *digits;

    snprintf(num, sizeof(num), "%.17g", d);

    e = strchr(num, 'e');
    if (e == nullptr) {
        text += num;
        if (strchr(num, '.') == nullptr) {
            text += ".0";
        }
        return;
    }

    text.append(num, (size_t) (e - num + 1));
    digits = e + 1;
    if (*digits == '-') {
        text += '-';
    }
    if (*digits == '-' || *digits == '+') {
        digits++;
    }
    while (*digits == '0' && digits[1] != '\0') {
        digits++;
    }
    text += digits;
}


/* Appends json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) of e to text. */
bool
dump_compact(element e)
{
    char  num[24];
    bool  first = true;

    switch (e.type()) {

    case element_type::OBJECT:
        text += '{';
        for (auto kv : as_object(e)) {
            if (!first) {
                text += ',';
            }
            first = false;
            dump_string(kv.key);
            text += ':';
            if (!dump_compact(kv.value)) {
                return false;
            }
        }
        text += '}';
        return true;

    case element_type::ARRAY:
        text += '[';
        for (element v : as_array(e)) {
            if (!first) {
                text += ',';
            }
            first = false;
            if (!dump_compact(v)) {
                return false;
            }
        }
        text += ']';
        return true;

    case element_type::INT64:
        snprintf(num, sizeof(num), "%" PRId64, e.get_int64().value_unsafe());
        text += num;
        return true;

    case element_type::DOUBLE:
        dump_real(e.get_double().value_unsafe());
        return true;

    case element_type::STRING:
        dump_string(e.get_string().value_unsafe());
        return true;

    case element_type::BOOL:
        text += e.get_bool().value_unsafe() ? "true" : "false";
        return true;

    case element_type::NULL_VALUE:
        text += "null";
        return true;

    default:
        return false;
    }
}


bool
absent(const element *e)
{
    return e == nullptr || e->type() == element_type::NULL_VALUE;
}


/* a string member of min..max bytes (min 0: optional), copied to text */
bool
take_string(const element *e, size_t min, size_t max, span_t *out)
{
    if (absent(e)) {
        return min == 0;
    }
    if (e->type() != element_type::STRING) {
        return false;
    }

    std::string_view  s = e->get_string().value_unsafe();

    if (s.size() < min || s.size() > max) {
        return false;
    }

    out->present = true;
    out->off = text.size();
    out->len = s.size();
    text.append(s);

    return true;
}


/* object and uid: a string, or an integer kept as its decimal text */
bool
take_name(const element *e, char *num, tc_str_t *as_num, span_t *out)
{
    if (!absent(e) && e->type() == element_type::INT64) {
        as_num->data = num;
        as_num->len = (size_t) snprintf(num, 24, "%" PRId64,
                                        e->get_int64().value_unsafe());
        return true;
    }

    return take_string(e, 0, TC_NAME_MAX, out);
}


/* an integer member in [min, max); *has: whether it was there */
bool
take_integer(const element *e, int64_t min, int64_t max, int64_t *out,
    int *has)
{
    if (absent(e)) {
        return has != nullptr;
    }
    if (e->type() != element_type::INT64) {
        return false;
    }

    int64_t  n = e->get_int64().value_unsafe();

    if (n < min || n >= max) {
        return false;
    }

    *out = n;
    if (has != nullptr) {
        *has = 1;
    }

    return true;
}


/* props, fields: the compact text of an object */
bool
take_object(const element *e, span_t *out)
{
    if (absent(e)) {
        return true;
    }
    if (e->type() != element_type::OBJECT) {
        return false;
    }

    out->present = true;
    out->off = text.size();
    if (!dump_compact(*e)) {
        return false;
    }
    out->len = text.size() - out->off;

    return true;
}


tc_fast_rc_t
decode(tc_event_t *ev, const char *raw, size_t len, size_t max_bytes)
{
    element  root, slot[F_COUNT];
    bool     seen[F_COUNT] = {};
    span_t   sp[F_COUNT] = {};

    if (len > max_bytes || !escapes_agree(raw, raw + len)) {
        return TC_FAST_DECLINED;
    }

    /* jansson takes no byte order mark; simdjson may skip one */
    if (len >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0) {
        return TC_FAST_DECLINED;
    }

    if (parser.parse(raw, len).get(root) != simdjson::SUCCESS
        || root.type() != element_type::OBJECT || !loads_alike(root, 0))
    {
        return TC_FAST_DECLINED;
    }

    for (auto kv : as_object(root)) {
        for (int f = 0; f < F_COUNT; f++) {
            if (kv.key == field_names[f]) {
                slot[f] = kv.value;
                seen[f] = true;
                break;
            }
        }
    }

    auto at = [&](int f) { return seen[f] ? &slot[f] : nullptr; };

    text.clear();

    if (!take_string(at(F_EID), 1, TC_EID_MAX, &sp[F_EID])
        || !take_integer(at(F_RECV_TS), 0, TC_TS_MAX, &ev->recv_ts, nullptr)
        || !take_string(at(F_APP), 1, TC_NAME_MAX, &sp[F_APP])
        || !take_string(at(F_MODULE), 1, TC_NAME_MAX, &sp[F_MODULE])
        || !take_string(at(F_ACTION), 1, TC_NAME_MAX, &sp[F_ACTION])
        || !take_name(at(F_OBJECT), ev->num[0], &ev->object, &sp[F_OBJECT])
        || !take_name(at(F_UID), ev->num[1], &ev->uid, &sp[F_UID])
        || !take_string(at(F_IP), 0, TC_IP_MAX, &sp[F_IP])
        || !take_string(at(F_UA), 0, TC_TEXT_MAX, &sp[F_UA])
        || !take_string(at(F_REFERER), 0, TC_TEXT_MAX, &sp[F_REFERER])
        || !take_integer(at(F_TS), 0, INT64_C(1) << 53, &ev->ts,
                         &ev->has_ts)
        || !take_object(at(F_PROPS), &sp[F_PROPS])
        || !take_object(at(F_FIELDS), &sp[F_FIELDS])
        || tc_day_of(ev->recv_ts, &ev->day, &ev->hour) != TC_OK)
    {
        return TC_FAST_DECLINED;
    }

    json_malloc_t  json_malloc;

    json_get_alloc_funcs(&json_malloc, nullptr);
    ev->text = (char *) json_malloc(text.size() + 1);
    if (ev->text == nullptr) {
        return TC_FAST_DECLINED;    /* jansson will say out of memory */
    }
    memcpy(ev->text, text.data(), text.size());
    ev->text[text.size()] = '\0';

    tc_str_t  *dst[F_COUNT] = {
        &ev->eid, nullptr, &ev->app, &ev->module, &ev->action, &ev->object,
        &ev->uid, &ev->ip, &ev->ua, &ev->referer, nullptr, &ev->props,
        &ev->fields
    };

    for (int f = 0; f < F_COUNT; f++) {
        if (sp[f].present) {
            dst[f]->data = ev->text + sp[f].off;
            dst[f]->len = sp[f].len;
        }
    }

    ev->status = TC_EV_OK;

    return TC_FAST_DECODED;
}

} /* namespace */


extern "C" tc_fast_rc_t
tc_event_fast_decode(tc_event_t *ev, const char *raw, size_t len,
    size_t max_bytes)
{
    tc_fast_rc_t  rc;

    memset(ev, 0, sizeof(*ev));

    try {
        rc = decode(ev, raw, len, max_bytes);
    } catch (const std::bad_alloc &) {
        rc = TC_FAST_DECLINED;      /* jansson will say out of memory */
    }
    if (rc != TC_FAST_DECODED) {
        memset(ev, 0, sizeof(*ev));
    }

    return rc;
}
