/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: unit tests: decoding, validation, days, SQL, batches, config. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "common/date.h"
#include "common/log.h"
#include "common/rc.h"
#include "common/test.h"

#include "batch.h"
#include "config.h"
#include "event.h"
#include "event_fast.h"
#include "map.h"
#include "rollup.h"
#include "sql.h"
#include "store.h"

static MYSQL  *my;

void tc_unit_sentinel(void);     /* unit_sentinel.c */
void tc_unit_cluster(void);      /* unit_cluster.c */


#define STR_IS(s, lit)                                                        \
    ((s).data != NULL && (s).len == sizeof(lit) - 1                           \
     && memcmp((s).data, lit, sizeof(lit) - 1) == 0)


static tc_rc_t
decode(tc_event_t *ev, const char *json)
{
    return tc_event_decode(ev, json, strlen(json), 1 << 20);
}


/* Decodes json and expects a dead letter with code. */
static void
expect_dead(const char *json, const char *code, const char *why)
{
    tc_event_t  ev;
    tc_rc_t     rc;

    rc = decode(&ev, json);
    CHECK(rc == TC_ERROR && ev.status == TC_EV_DEAD && ev.code != NULL
          && strcmp(ev.code, code) == 0 && ev.reason != NULL,
          "%s: expected %s, got rc %d code %s reason %s", why, code, rc,
          ev.code ? ev.code : "(none)", ev.reason ? ev.reason : "(none)");
    tc_event_clear(&ev);
}


static void
test_event_valid(void)
{
    tc_event_t   ev;
    const char  *json;

    tc_tz_set("UTC");

    json = "{\"eid\":\"0193a1b2c3d4000a00312f0000000001\","
           "\"recv_ts\":1732540000123,\"app\":\"shop\","
           "\"module\":\"home-feed\",\"action\":\"click\",\"object\":\"991\","
           "\"uid\":\"42\",\"ts\":1732540000000,\"ip\":\"127.0.0.1\","
           "\"ua\":\"curl/7.88.1\",\"referer\":\"https://a.example/x?y=1\","
           "\"props\":{\"pos\":\"3\",\"n\":1.50,\"ok\":true,\"z\":null},"
           "\"fields\":{\"host\":\"a\"}}";

    CHECK(decode(&ev, json) == TC_OK, "README example decodes: %s",
          ev.reason ? ev.reason : "");
    CHECK(ev.status == TC_EV_OK, "status ok");
    CHECK(STR_IS(ev.eid, "0193a1b2c3d4000a00312f0000000001"), "eid");
    CHECK(ev.recv_ts == INT64_C(1732540000123), "recv_ts");
    CHECK(STR_IS(ev.app, "shop"), "app");
    CHECK(STR_IS(ev.module, "home-feed"), "module");
    CHECK(STR_IS(ev.action, "click"), "action");
    CHECK(STR_IS(ev.object, "991"), "object");
    CHECK(STR_IS(ev.uid, "42"), "uid");
    CHECK(ev.has_ts && ev.ts == INT64_C(1732540000000), "ts");
    CHECK(STR_IS(ev.ip, "127.0.0.1"), "ip");
    CHECK(STR_IS(ev.ua, "curl/7.88.1"), "ua");
    CHECK(STR_IS(ev.referer, "https://a.example/x?y=1"), "referer");
    /* props as jansson's compact JSON: 1.50 becomes 1.5, order kept */
    CHECK(STR_IS(ev.props, "{\"pos\":\"3\",\"n\":1.5,\"ok\":true,\"z\":null}"),
          "props compact: %.*s", (int) ev.props.len, ev.props.data);
    CHECK(STR_IS(ev.fields, "{\"host\":\"a\"}"), "fields verbatim");
    CHECK(ev.day == 20241125 && ev.hour == 13, "day %u hour %u",
          (unsigned) ev.day, ev.hour);
    tc_event_clear(&ev);

    /* only the required fields; optional ones absent or null */
    json = "{\"eid\":\"e\",\"recv_ts\":0,\"app\":\"a\",\"module\":\"m\","
           "\"action\":\"x\",\"object\":null,\"uid\":null,\"ts\":null}";
    CHECK(decode(&ev, json) == TC_OK, "minimal event decodes");
    CHECK(ev.object.data == NULL && ev.uid.data == NULL && !ev.has_ts
          && ev.ip.data == NULL && ev.props.data == NULL
          && ev.fields.data == NULL, "absent fields are NULL");
    CHECK(ev.day == 19700101 && ev.hour == 0, "epoch day");
    tc_event_clear(&ev);

    /* object and uid as JSON integers: their decimal text */
    json = "{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
           "\"action\":\"x\",\"object\":991,\"uid\":-42}";
    CHECK(decode(&ev, json) == TC_OK, "integer object and uid");
    CHECK(STR_IS(ev.object, "991") && STR_IS(ev.uid, "-42"),
          "integer object and uid as text");
    tc_event_clear(&ev);

    /* whitespace around everything, unknown keys ignored */
    json = " {\n \"eid\" : \"e\" , \"x\" : [1,{\"props\":2}] ,\"recv_ts\":5,"
           "\"app\":\"a\",\"module\":\"m\",\"action\":\"x\", \"props\" :"
           " { \"a\" : \"}\\\"{\" } } ";
    CHECK(decode(&ev, json) == TC_OK, "whitespace and unknown keys");
    CHECK(STR_IS(ev.props, "{\"a\":\"}\\\"{\"}"), "props compact: %.*s",
          (int) ev.props.len, ev.props.data);
    tc_event_clear(&ev);

    /* a key written with escapes: jansson's compact form is stored */
    json = "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"a\",\"module\":\"m\","
           "\"action\":\"x\",\"pr\\u006fps\":{\"k\": \"v\"}}";
    CHECK(decode(&ev, json) == TC_OK, "escaped key");
    CHECK(STR_IS(ev.props, "{\"k\":\"v\"}"), "escaped key props: %.*s",
          (int) ev.props.len, ev.props.data);
    tc_event_clear(&ev);

    /* both keys escaped: each keeps its own text (found by fuzzing) */
    json = "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"a\",\"module\":\"m\","
           "\"action\":\"x\",\"pr\\u006fps\":{\"k\": \"v\"},"
           "\"f\\u0069elds\":{\"f\": \"w\"}}";
    CHECK(decode(&ev, json) == TC_OK, "escaped keys");
    CHECK(STR_IS(ev.props, "{\"k\":\"v\"}")
          && STR_IS(ev.fields, "{\"f\":\"w\"}"), "escaped keys: %.*s %.*s",
          (int) ev.props.len, ev.props.data, (int) ev.fields.len,
          ev.fields.data);
    tc_event_clear(&ev);
}


static void
test_event_bytes(void)
{
    tc_event_t   ev;
    char        *json, *big;
    size_t       i;

    /* JSON escapes decode to the exact bytes; 4-byte UTF-8 as is */
    CHECK(decode(&ev, "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"a\\\"q\\\\b'c\","
                 "\"module\":\"\\u00e9\\ud83d\\ude00\",\"action\":\"\xf0\x9f"
                 "\x98\x80\xe4\xb8\xad\",\"uid\":\"tab\\there\\nnl\","
                 "\"object\":\"\\/x\"}") == 0, "escapes decode");
    CHECK(STR_IS(ev.app, "a\"q\\b'c"), "quotes and backslash");
    CHECK(STR_IS(ev.module, "\xc3\xa9\xf0\x9f\x98\x80"), "\\u escapes, "
          "surrogate pair to 4-byte UTF-8");
    CHECK(STR_IS(ev.action, "\xf0\x9f\x98\x80\xe4\xb8\xad"), "raw UTF-8");
    CHECK(STR_IS(ev.uid, "tab\there\nnl"), "control escapes");
    CHECK(STR_IS(ev.object, "/x"), "escaped slash");
    tc_event_clear(&ev);

    /* lengths are bytes: 32 four-byte characters are 128 bytes */
    big = malloc(200000);
    json = malloc(300000);
    for (i = 0; i < 32; i++) {
        memcpy(big + 4 * i, "\xf0\x9f\x98\x80", 4);
    }
    big[128] = '\0';
    snprintf(json, 300000, "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"%s\","
             "\"module\":\"m\",\"action\":\"x\"}", big);
    CHECK(decode(&ev, json) == TC_OK && ev.app.len == 128, "app of 128 bytes");
    tc_event_clear(&ev);

    snprintf(json, 300000, "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"%sx\","
             "\"module\":\"m\",\"action\":\"x\"}", big);
    expect_dead(json, "bad_length", "app of 129 bytes");

    /* ua up to 65535 bytes */
    memset(big, 'u', 65535);
    big[65535] = '\0';
    snprintf(json, 300000, "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"a\","
             "\"module\":\"m\",\"action\":\"x\",\"ua\":\"%s\"}", big);
    CHECK(decode(&ev, json) == TC_OK && ev.ua.len == 65535,
          "ua of 65535 bytes");
    tc_event_clear(&ev);

    snprintf(json, 300000, "{\"eid\":\"e\",\"recv_ts\":5,\"app\":\"a\","
             "\"module\":\"m\",\"action\":\"x\",\"ua\":\"%sx\"}", big);
    expect_dead(json, "bad_length", "ua of 65536 bytes");

    CHECK(tc_event_decode(&ev, json, strlen(json), 1000) == TC_ERROR
          && strcmp(ev.code, "too_large") == TC_OK, "max_event_bytes");
    tc_event_clear(&ev);

    free(big);
    free(json);
}


static void
test_event_invalid(void)
{
    char  eid[80];

    expect_dead("not json", "invalid_json", "not JSON");
    expect_dead("", "invalid_json", "empty element");
    expect_dead("[1,2]", "not_object", "array");
    expect_dead("\"str\"", "invalid_json", "string");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\"}",
                "missing_field", "no action");
    expect_dead("{\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\"}", "missing_field", "no eid");
    expect_dead("{\"eid\":\"e\",\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\"}", "missing_field", "no recv_ts");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":null,\"module\":\"m\","
                "\"action\":\"x\"}", "missing_field", "null app");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"\",\"module\":\"m\","
                "\"action\":\"x\"}", "bad_length", "empty app");
    expect_dead("{\"eid\":\"\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\"}", "bad_length", "empty eid");
    expect_dead("{\"eid\":1,\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\"}", "bad_type", "numeric eid");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":\"1\",\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "bad_type",
                "string recv_ts");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1.5,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "bad_type",
                "real recv_ts");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":-1,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "bad_value",
                "negative recv_ts");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":253402300800000,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "bad_value",
                "recv_ts in year 10000");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"ts\":9007199254740992}", "bad_value",
                "ts of 2^53");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"ts\":-1}", "bad_value", "negative ts");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"object\":true}", "bad_type",
                "boolean object");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"object\":1.5}", "bad_type", "real object");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"props\":[1]}", "bad_type",
                "props not an object");
    expect_dead("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\",\"ip\":\"0123456789012345678901234567890"
                "123456789012345\"}", "bad_length", "ip of 46 bytes");
    expect_dead("{\"eid\":\"e\",\"eid\":\"f\",\"recv_ts\":1,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "invalid_json",
                "duplicate key");
    expect_dead("{\"eid\":\"e\xff\",\"recv_ts\":1,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "invalid_json",
                "invalid UTF-8");
    expect_dead("{\"eid\":\"e\\u0000\",\"recv_ts\":1,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "invalid_json",
                "NUL character");
    expect_dead("{\"eid\":\"e\\ud800\",\"recv_ts\":1,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", "invalid_json",
                "lone surrogate");

    memset(eid, 'e', 65);
    eid[65] = '\0';
    {
        char  json[256];

        snprintf(json, sizeof(json), "{\"eid\":\"%s\",\"recv_ts\":1,"
                 "\"app\":\"a\",\"module\":\"m\",\"action\":\"x\"}", eid);
        expect_dead(json, "bad_length", "eid of 65 bytes");

        eid[64] = '\0';
        snprintf(json, sizeof(json), "{\"eid\":\"%s\",\"recv_ts\":1,"
                 "\"app\":\"a\",\"module\":\"m\",\"action\":\"x\"}", eid);
        tc_event_t  ev;
        CHECK(decode(&ev, json) == TC_OK, "eid of 64 bytes");
        tc_event_clear(&ev);
    }
}


static void
test_dead_letter(void)
{
    char        *out;
    size_t       len;
    tc_event_t   ev;
    json_t      *j;

    decode(&ev, "{\"app\":\"a\"}");
    out = tc_event_dead_letter(&ev, "{\"app\":\"a\"}", 11, "c1", &len);
    CHECK(out != NULL && len == strlen(out), "dead letter built");
    j = json_loads(out, 0, NULL);
    CHECK(j != NULL
          && strcmp(json_string_value(json_object_get(j, "raw")),
                    "{\"app\":\"a\"}") == 0
          && strcmp(json_string_value(json_object_get(j, "code")),
                    "missing_field") == 0
          && strcmp(json_string_value(json_object_get(j, "consumer")),
                    "c1") == 0
          && strstr(json_string_value(json_object_get(j, "reason")),
                    "eid") != NULL, "dead letter fields: %s", out);
    json_decref(j);
    free(out);
    tc_event_clear(&ev);

    /* jansson quotes the element in its error, cut inside a character */
    decode(&ev, "{\"a\":\"\xc3");
    out = tc_event_dead_letter(&ev, "{\"a\":\"\xc3", 7, "c1", &len);
    j = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(j != NULL && json_is_string(json_object_get(j, "reason"))
          && json_is_string(json_object_get(j, "raw_hex")),
          "a reason quoting a cut character stays valid: %s",
          out ? out : "(null)");
    json_decref(j);
    free(out);
    tc_event_clear(&ev);

    decode(&ev, "\xff\xfe");
    out = tc_event_dead_letter(&ev, "\xff\xfe", 2, "c1", &len);
    CHECK(out != NULL && strstr(out, "\"raw_hex\":\"fffe\"") != NULL,
          "invalid UTF-8 kept as hex: %s", out ? out : "(null)");
    free(out);
    tc_event_clear(&ev);
}


/*
 * Decodes json by jansson alone and by the fast path, which must decode it
 * (fast 1) identically or decline it (fast 0), leaving the event zeroed;
 * the consumer's tc_event_decode() must equal jansson's in either case.
 */
static void
expect_fast(const char *json, int fast, const char *why)
{
    size_t               i;
    tc_event_t           ref, ev, both;
    const char          *diff;
    tc_fast_rc_t         rc;
    const unsigned char *p;

    tc_event_decode_json(&ref, json, strlen(json), 1 << 20);
    rc = tc_event_fast_decode(&ev, json, strlen(json), 1 << 20);

    if (fast) {
        diff = tc_event_diff(&ev, &ref);
        CHECK(rc == TC_FAST_DECODED && diff == NULL, "%s: fast path "
              "decodes as jansson (rc %d, differs in %s; jansson: %s)", why,
              (int) rc, diff ? diff : "nothing",
              ref.reason ? ref.reason : "ok");

    } else {
        p = (const unsigned char *) &ev;
        for (i = 0; i < sizeof(ev) && p[i] == 0; i++) {
            /* void */
        }
        CHECK(rc == TC_FAST_DECLINED && i == sizeof(ev),
              "%s: fast path declines (rc %d)", why, (int) rc);
    }

    decode(&both, json);
    diff = tc_event_diff(&both, &ref);
    CHECK(diff == NULL, "%s: tc_event_decode as jansson, differs in %s", why,
          diff ? diff : "");

    tc_event_clear(&ref);
    tc_event_clear(&ev);
    tc_event_clear(&both);
}


#define EV_HEAD  "{\"eid\":\"e\",\"recv_ts\":1732540000123,\"app\":\"a\"," \
                 "\"module\":\"m\",\"action\":\"x\""

static void
test_event_fast(void)
{
    tc_tz_set("UTC");

    /* decided by the fast path, as jansson decides them */
    expect_fast("{\"eid\":\"0193a1b2c3d4000a00312f0000000001\","
                "\"recv_ts\":1732540000123,\"app\":\"shop\","
                "\"module\":\"home-feed\",\"action\":\"click\","
                "\"object\":\"991\",\"uid\":\"42\",\"ip\":\"127.0.0.1\","
                "\"ua\":\"curl/7.88.1\",\"props\":{\"pos\":\"3\"}}", 1,
                "README event");
    expect_fast(EV_HEAD ",\"ua\":\"q\\\"b\\\\s\\/t\\tn\\nr\\rb\\bf\\f\"}", 1,
                "simple escapes");
    expect_fast(EV_HEAD ",\"uid\":\"\\u00e9\\u20AC\\ud83d\\ude00\\u001f\","
                "\"object\":\"\xf0\x9f\x98\x80\xe4\xb8\xad\"}", 1,
                "\\u escapes, a surrogate pair, raw UTF-8");
    expect_fast(EV_HEAD ",\"object\":-9223372036854775808,"
                "\"uid\":9223372036854775807,\"ts\":9007199254740991}", 1,
                "integers as object and uid, the largest ts");
    expect_fast(EV_HEAD ",\"object\":null,\"uid\":null,\"ip\":null,"
                "\"ua\":\"\",\"referer\":null,\"ts\":null,\"props\":null,"
                "\"fields\":null}", 1, "null is absent, \"\" is present");
    expect_fast(EV_HEAD ",\"props\":{ \"k\\n\\u0001\" : \"v\\u007f\\\"\" ,"
                "\"n\":-5,\"t\":true,\"f\":false,\"z\":null,"
                "\"a\":[1,{\"b\":[]},\"s\"],\"o\":{}},\"fields\":{}}", 1,
                "props re-serialised as jansson's compact form");
    expect_fast(EV_HEAD ",\"pr\\u006fps\":{\"k\":\"v\"},"
                "\"x\":{\"props\":1,\"a\":[1,2]}}", 1,
                "escaped key, nested objects elsewhere");

    /* declined: jansson decides, dead letters included */
    expect_fast(EV_HEAD ",\"ua\":\"a\\u0000b\"}", 0, "\\u0000");
    expect_fast(EV_HEAD ",\"ua\":\"\\ud800\"}", 0, "lone high surrogate");
    expect_fast(EV_HEAD ",\"ua\":\"\\udc00\"}", 0, "lone low surrogate");
    expect_fast(EV_HEAD ",\"ua\":\"\\ud800\\u0041\"}", 0,
                "high surrogate without a low one");
    expect_fast(EV_HEAD ",\"ua\":\"\\\\ud800\"}", 1,
                "an escaped backslash before ud800 is text");
    expect_fast(EV_HEAD ",\"uid\":1.5}", 0, "real uid");
    expect_fast(EV_HEAD ",\"object\":1e2}", 0, "exponent object");
    expect_fast(EV_HEAD ",\"x\":9223372036854775808}", 0,
                "integer beyond int64, anywhere");
    expect_fast(EV_HEAD ",\"x\":-9223372036854775809}", 0,
                "negative integer beyond int64");
    expect_fast(EV_HEAD ",\"props\":{\"n\":1.50,\"a\":0.1,\"b\":1e22,"
                "\"c\":1E-7,\"d\":-0.0,\"e\":2.5e+300,\"f\":100.0}}", 1,
                "reals in props in jansson's form");
    expect_fast(EV_HEAD ",\"props\":{\"max\":1.7976931348623157e308,"
                "\"min\":4.9e-324,\"under\":1e-400,"
                "\"half\":2.4703282292062328e-324}}", 1,
                "reals at the ends of the double range");
    expect_fast(EV_HEAD ",\"x\":1.7976931348623159e308}", 0,
                "a real that overflows");
    expect_fast(EV_HEAD ",\"app\":\"b\"}", 0, "repeated key");
    expect_fast(EV_HEAD ",\"x\":[{\"d\":1,\"d\":2}]}", 0,
                "repeated key, nested");
    expect_fast(EV_HEAD ",\"props\":{\"p\":1,\"p\":1}}", 0,
                "repeated key in props");
    expect_fast(EV_HEAD ",\"props\":{\"p\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]"
                "}}", 0, "nested deeper than the fast path goes");
    expect_fast(EV_HEAD ",\"props\":[1]}", 0, "props not an object");
    expect_fast(EV_HEAD ",\"ip\":5}", 0, "ip not a string");
    expect_fast(EV_HEAD ",\"uid\":true}", 0, "uid a boolean");
    expect_fast(EV_HEAD ",\"ts\":9007199254740992}", 0, "ts too large");
    expect_fast(EV_HEAD ",\"ts\":\"5\"}", 0, "ts a string");
    expect_fast("{\"eid\":\"e\",\"recv_ts\":253402300800000,\"app\":\"a\","
                "\"module\":\"m\",\"action\":\"x\"}", 0, "recv_ts too large");
    expect_fast("{\"eid\":\"\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":\"x\"}", 0, "empty eid");
    expect_fast("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\","
                "\"module\":\"m\"}", 0, "action missing");
    expect_fast("{\"eid\":\"e\",\"recv_ts\":1,\"app\":\"a\",\"module\":\"m\","
                "\"action\":null}", 0, "action null");
    expect_fast(EV_HEAD ",\"uid\":\"\xc3\x28\"}", 0, "invalid UTF-8");
    expect_fast("\xef\xbb\xbf" EV_HEAD "}", 0, "byte order mark");
    expect_fast(EV_HEAD "} x", 0, "trailing garbage");
    expect_fast("[" EV_HEAD "}]", 0, "not an object");
    expect_fast(EV_HEAD ",\"ua\":\"tab\tinside\"}", 0, "raw control char");
}


static void
check_day(const char *tz, int64_t ms, uint32_t day, unsigned hour)
{
    uint32_t  d;
    unsigned  h;

    tc_tz_set(tz);
    d = 0;
    h = 99;
    CHECK(tc_day_of(ms, &d, &h) == TC_OK && d == day && h == hour,
          "%s %" PRId64 ": expected %u h%u, got %u h%u", tz, ms,
          (unsigned) day, hour, (unsigned) d, h);
}


static void
test_days(void)
{
    char      buf[32];
    uint32_t  d;
    unsigned  h;

    /* midnight in UTC: the last millisecond of a day and the next one */
    check_day("UTC", INT64_C(1732579199999), 20241125, 23);
    check_day("UTC", INT64_C(1732579200000), 20241126, 0);

    /* the same instants in Asia/Shanghai (+08:00) */
    check_day("Asia/Shanghai", INT64_C(1732579199999), 20241126, 7);
    check_day("Asia/Shanghai", INT64_C(1732550399999), 20241125, 23);
    check_day("Asia/Shanghai", INT64_C(1732550400000), 20241126, 0);

    /* half- and quarter-hour offsets: India +05:30, Nepal +05:45 */
    check_day("Asia/Kolkata", INT64_C(1732559399999), 20241125, 23);
    check_day("Asia/Kolkata", INT64_C(1732559400000), 20241126, 0);
    check_day("Asia/Kathmandu", INT64_C(1732558499999), 20241125, 23);
    check_day("Asia/Kathmandu", INT64_C(1732558500000), 20241126, 0);

    /* west of UTC: the UTC date is already the next day */
    check_day("America/New_York", INT64_C(1732597199999), 20241125, 23);
    check_day("America/New_York", INT64_C(1732597200000), 20241126, 0);

    /* DST in New York: 2024-03-10 02:00 EST jumps to 03:00 EDT */
    check_day("America/New_York", INT64_C(1710053999999), 20240310, 1);
    check_day("America/New_York", INT64_C(1710054000000), 20240310, 3);
    /* 2024-11-03 02:00 EDT falls back to 01:00 EST: hour 1 twice */
    check_day("America/New_York", INT64_C(1730613599999), 20241103, 1);
    check_day("America/New_York", INT64_C(1730613600000), 20241103, 1);
    check_day("America/New_York", INT64_C(1730617200000), 20241103, 2);

    /* a POSIX TZ string */
    check_day("CST-8", INT64_C(1732550400000), 20241126, 0);

    /* the cache must not leak between zones or slots */
    tc_tz_set("UTC");
    tc_day_of(INT64_C(1732579200000), &d, &h);
    check_day("Asia/Shanghai", INT64_C(1732579200000), 20241126, 8);
    check_day("Asia/Shanghai", INT64_C(1732579200000) + 899999, 20241126, 8);
    check_day("Asia/Shanghai", INT64_C(1732579200000) + 900000, 20241126, 8);
    check_day("Asia/Shanghai", INT64_C(1732579200000) + 3600000, 20241126, 9);

    /* bounds */
    check_day("UTC", 0, 19700101, 0);
    check_day("UTC", TC_TS_MAX - 1, 99991231, 23);
    CHECK(tc_day_of(TC_TS_MAX, &d, &h) == TC_ERROR, "year 10000 refused");
    CHECK(tc_day_of(-1, &d, &h) == TC_ERROR, "before 1970 refused");

    CHECK(tc_tz_set("Mars/Olympus_Mons") == TC_ERROR, "unknown zone refused");
    CHECK(tc_tz_set("../../etc/passwd") == TC_ERROR, "path refused");
    CHECK(tc_tz_set("Europe/Berlin") == TC_OK, "known zone");

    tc_day_table(20241125, buf);
    CHECK(strcmp(buf, "events_20241125") == 0, "table name %s", buf);
    tc_day_date(20241125, buf);
    CHECK(strcmp(buf, "2024-11-25") == 0, "date %s", buf);
    tc_day_table(19700101, buf);
    CHECK(strcmp(buf, "events_19700101") == 0, "table name %s", buf);

    CHECK(tc_day_parse_table("events_20241125") == 20241125, "parse table");
    CHECK(tc_day_parse_table("events_2024112") == 0, "short name");
    CHECK(tc_day_parse_table("events_20241325") == 0, "month 13");
    CHECK(tc_day_parse_table("events_2024112x") == 0, "not digits");
    CHECK(tc_day_parse_table("stats_20241125") == 0, "other prefix");

    CHECK(tc_day_sub(20240301, 1) == 20240229, "leap day");
    CHECK(tc_day_sub(20250101, 1) == 20241231, "year boundary");
    CHECK(tc_day_sub(20241125, 30) == 20241026, "30 days");
    CHECK(tc_day_sub(20241125, 0) == 20241125, "0 days");

    tc_tz_set("UTC");
}


static tc_event_t *
mk_event(const char *json)
{
    tc_event_t  *ev;

    ev = calloc(1, sizeof(*ev));
    if (decode(ev, json) != TC_OK) {
        printf("mk_event: %s: %s\n", json, ev->reason);
    }

    return ev;
}


static void
free_event(tc_event_t *ev)
{
    tc_event_clear(ev);
    free(ev);
}


static void
test_sql(void)
{
    char             head[256];
    tc_buf_t         b;
    tc_agg_t         agg;
    tc_event_t      *ev;
    tc_sql_multi_t   s;
    const char      *sql;

    tc_tz_set("UTC");
    tc_buf_init(&b);

    /* escaping by the client library: quotes, backslash, NUL-free bytes */
    tc_sql_quote(&b, my, "a'b\"c\\d\ne\r\x1a\xf0\x9f\x98\x80", 15);
    CHECK(b.len == 23 && memcmp(b.data, "'a\\'b\\\"c\\\\d\\ne\\r\\Z\xf0\x9f\x98"
                                "\x80'", 23) == 0,
          "quoted: %.*s", (int) b.len, b.data);
    tc_buf_reset(&b);
    tc_sql_quote(&b, my, NULL, 0);
    CHECK(b.len == 2 && memcmp(b.data, "''", 2) == 0, "empty string");

    ev = mk_event("{\"eid\":\"e'1\",\"recv_ts\":1732540000123,\"app\":\"shop\","
                  "\"module\":\"home\",\"action\":\"click\",\"uid\":\"u\\\\1\","
                  "\"ts\":7,\"props\":{\"q\":\"it's\"}}");

    tc_sql_events_head(head, ev->day);
    CHECK(strcmp(head, "INSERT INTO `events_20241125` (id, eid, recv_ts, "
                 "app, module, action, object, uid, ts, ip, ua, referer, "
                 "props, fields) VALUES ") == 0, "events head: %s", head);

    tc_buf_reset(&b);
    tc_sql_event_row(&b, my, ev, 7);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "(7,'e\\'1',1732540000123,'shop','home','click',NULL,"
                 "'u\\\\1',7,NULL,NULL,NULL,'{\\\"q\\\":\\\"it\\'s\\\"}',NULL)")
          == 0, "event row: %s", sql);

    agg.ev = ev;
    agg.n = 3;
    agg.action_id = 5;
    tc_buf_reset(&b);
    tc_sql_hourly_row(&b, my, &agg);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "('2024-11-25',13,5,'',3)") == 0,
          "hourly row (absent object is ''): %s", sql);

    tc_buf_reset(&b);
    tc_sql_daily_row(&b, my, &agg);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "('2024-11-25',5,'',3)") == 0,
          "daily row: %s", sql);

    tc_buf_reset(&b);
    tc_sql_seen_row(&b, my, ev, 7);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "(7,'2024-11-25','u\\\\1')") == 0,
          "seen row: %s", sql);

    tc_buf_reset(&b);
    tc_sql_action_row(&b, my, ev);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "('shop','home','click')") == 0,
          "action row: %s", sql);

    tc_buf_reset(&b);
    tc_sql_users_row(&b, my, ev, 2);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "('2024-11-25','shop','home','click',2)") == 0,
          "users row: %s", sql);

    tc_buf_reset(&b);
    tc_sql_dead_row(&b, my, 20241125, "invalid_json", 4);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "('2024-11-25','invalid_json',4)") == 0,
          "dead row: %s", sql);

    /* multi-row statements: head, ',' between rows, tail */
    tc_sql_multi_init(&s, tc_sql_hourly_head, tc_sql_count_tail);
    tc_sql_row(&s);
    tc_sql_hourly_row(&s.buf, my, &agg);
    tc_sql_row(&s);
    tc_sql_hourly_row(&s.buf, my, &agg);
    sql = tc_sql_end(&s);
    CHECK(strcmp(sql, "INSERT INTO stats_hourly (day, hour, action_id, "
                 "object, events) VALUES "
                 "('2024-11-25',13,5,'',3),"
                 "('2024-11-25',13,5,'',3)"
                 " ON DUPLICATE KEY UPDATE events = events + VALUES(events)")
          == 0, "multi-row upsert: %s", sql);
    tc_sql_multi_reset(&s);
    CHECK(s.rows == 0 && s.buf.len == 0, "reset");
    tc_sql_multi_free(&s);

    tc_sql_eids_head(head, 20241125);
    CHECK(strcmp(head, "SELECT eid FROM `events_20241125` WHERE eid IN (")
          == 0, "eids head");

    tc_buf_reset(&b);
    tc_sql_day_table(&b, "CREATE TABLE IF NOT EXISTS `@TABLE@` (x INT); "
                     "-- @TABLE@", 20241125);
    sql = tc_buf_cstr(&b);
    CHECK(strcmp(sql, "CREATE TABLE IF NOT EXISTS `events_20241125` (x INT); "
                 "-- events_20241125") == 0, "template: %s", sql);

    tc_buf_reset(&b);
    tc_sql_day_table(&b, tc_events_day_sql, 20241125);
    sql = tc_buf_cstr(&b);
    CHECK(strstr(sql, "CREATE TABLE IF NOT EXISTS `events_20241125`") != NULL
          && strstr(sql, "@TABLE@") == NULL
          && strstr(sql, "UNIQUE KEY eid (eid)") != NULL,
          "sql/events_day.sql is compiled in");
    CHECK(strstr(tc_schema_sql, "CREATE TABLE IF NOT EXISTS stats_user_seen")
          != NULL, "sql/schema.sql is compiled in");

    free_event(ev);
    tc_buf_free(&b);
}


/* a batch of JSON texts, decoded */
static void
mk_batch(tc_batch_t *b, const char **json, size_t n)
{
    size_t  i;

    tc_batch_init(b, n);
    for (i = 0; i < n; i++) {
        b->raw[i] = json[i];
        b->raw_len[i] = strlen(json[i]);
    }
    tc_batch_decode(b, 1 << 20);
}


#define EV(eid, ts, app, obj, uid)                                            \
    "{\"eid\":\"" eid "\",\"recv_ts\":" ts ",\"app\":\"" app "\","            \
    "\"module\":\"m\",\"action\":\"x\"" obj uid "}"

static void
test_batch(void)
{
    size_t              n;
    tc_batch_t          b;
    tc_agg_t            agg[16];
    const tc_event_t   *seen[16];

    /* day 1: 2024-11-25 (1732540000000 = 13:06 UTC); day 2: +1 day */
    const char  *json[] = {
        EV("e1", "1732540000000", "b", ",\"object\":\"o1\"", ",\"uid\":\"u1\""),
        EV("e2", "1732540000000", "b", ",\"object\":\"o1\"", ",\"uid\":\"u2\""),
        EV("e1", "1732540000001", "b", ",\"object\":\"o9\"", ",\"uid\":\"u9\""),
        EV("e1", "1732626400000", "b", ",\"object\":\"o1\"", ",\"uid\":\"u1\""),
        "garbage",
        EV("e3", "1732543600000", "a", "", ",\"uid\":\"\""),
        EV("e4", "1732543600000", "a", ",\"object\":\"\"", ",\"uid\":\"u1\""),
        EV("e5", "1732540000000", "b", ",\"object\":\"o1\"", ",\"uid\":\"u1\""),
        EV("E1", "1732540000000", "b", ",\"object\":\"o1\"", ",\"uid\":\"U1\""),
    };

    tc_tz_set("UTC");
    mk_batch(&b, json, sizeof(json) / sizeof(json[0]));

    CHECK(b.ev[0].status == TC_EV_OK && b.ev[1].status == TC_EV_OK,
          "first of an eid kept");
    CHECK(b.ev[2].status == TC_EV_DUP, "same eid same day: duplicate");
    CHECK(b.ev[3].status == TC_EV_OK, "same eid, other day: kept");
    CHECK(b.ev[4].status == TC_EV_DEAD, "garbage is dead");
    CHECK(b.ev[8].status == TC_EV_OK, "eids differ by case: kept");
    CHECK(tc_batch_count(&b, TC_EV_OK) == 7, "7 to store");
    CHECK(b.ndays == 2 && b.days[0] == 20241125 && b.days[1] == 20241126,
          "days sorted: %zu", b.ndays);

    /*
     * hourly, in (app, module, action, object, day, hour) order:
     * a '' 25 14: e3 + e4 (absent object and '' are the same key)
     * b o1 25 13: e1 e2 e5 E1 / b o1 26 13: e1'
     */
    n = tc_batch_hourly(&b, agg);
    CHECK(n == 3, "3 hourly rows, got %zu", n);
    CHECK(n == 3 && STR_IS(agg[0].ev->app, "a") && agg[0].n == 2
          && agg[0].ev->hour == 14, "row a");
    CHECK(n == 3 && STR_IS(agg[1].ev->app, "b") && agg[1].n == 4
          && agg[1].ev->day == 20241125, "row b day 25: %" PRIu64, agg[1].n);
    CHECK(n == 3 && agg[2].n == 1 && agg[2].ev->day == 20241126,
          "row b day 26");

    n = tc_batch_daily(&b, agg);
    CHECK(n == 3 && agg[0].n == 2 && agg[1].n == 4 && agg[2].n == 1,
          "daily rows");

    {
        const char  *hj[] = {
            EV("h1", "1732540000000", "a", ",\"object\":\"o\"", ""),
            EV("h2", "1732543600000", "a", ",\"object\":\"o\"", ""),
            EV("h3", "1732543600001", "a", ",\"object\":\"o\"", ""),
            EV("h4", "1732543600000", "a", ",\"object\":\"p\"", ""),
            EV("h5", "1732626400000", "a", ",\"object\":\"o\"", ""),
        };
        tc_batch_t  hb;

        mk_batch(&hb, hj, 5);
        n = tc_batch_hourly(&hb, agg);
        CHECK(n == 4 && agg[0].n == 1 && agg[1].n == 2, "hourly o: 13h, 14h");
        n = tc_agg_daily(agg, n);
        CHECK(n == 3 && agg[0].n == 3 && agg[0].ev->day == 20241125
              && agg[1].n == 1 && agg[1].ev->day == 20241126
              && agg[2].n == 1 && STR_IS(agg[2].ev->object, "p"),
              "days folded from hours");
        tc_batch_free(&hb);
    }

    /*
     * users: (a, 25): u1 (e3 has '' and is not a user);
     * (b, 25): U1 u1 u2 (byte order: 'U' < 'u'); (b, 26): u1
     */
    n = tc_batch_users(&b, seen);
    CHECK(n == 5, "5 distinct users rows, got %zu", n);
    CHECK(n == 5 && STR_IS(seen[0]->app, "a") && STR_IS(seen[0]->uid, "u1")
          && STR_IS(seen[1]->uid, "U1") && STR_IS(seen[2]->uid, "u1")
          && STR_IS(seen[3]->uid, "u2") && seen[4]->day == 20241126,
          "users order");
    CHECK(n == 5 && tc_event_group_cmp(seen[1], seen[3]) == 0
          && tc_event_group_cmp(seen[0], seen[1]) != 0
          && tc_event_group_cmp(seen[3], seen[4]) != 0, "groups");

    /* a status change and the days follow */
    b.ev[3].status = TC_EV_EXISTS;
    tc_batch_days(&b);
    CHECK(b.ndays == 1 && b.days[0] == 20241125, "days recollected");

    tc_batch_free(&b);
}


/*
 * The roll-up's batch, filled from rows read back and ranked by
 * tc_batch_rank, aggregates as the decoded batch of the same events does;
 * pending days parse from MariaDB's DATE text.
 */
static void
test_rollup(void)
{
    size_t        i, n, m;
    tc_agg_t      agg[8], agg2[8];
    tc_batch_t    db, rb;
    const char   *json[] = {
        EV("r1", "1732540000000", "a", ",\"object\":\"o\"", ",\"uid\":\"u1\""),
        EV("r2", "1732543600000", "a", ",\"object\":\"o\"", ",\"uid\":\"u2\""),
        EV("r3", "1732543600001", "b", "", ",\"uid\":\"u1\""),
        EV("r4", "1732543600000", "a", ",\"object\":\"p\"", ",\"uid\":\"u1\""),
        EV("r5", "1732540000000", "a", ",\"object\":\"o\"", ""),
    };
    const tc_event_t  *seen[8], *seen2[8];

    CHECK(tc_rollup_day("2024-11-25") == 20241125, "pending day parsed");
    CHECK(tc_rollup_day("2024-13-01") == 0 && tc_rollup_day("x") == 0
          && tc_rollup_day("2024-11-25x") == 0 && tc_rollup_day(NULL) == 0,
          "not a date: 0");

    tc_tz_set("UTC");
    mk_batch(&db, json, 5);
    CHECK(tc_batch_init(&rb, 5) == TC_OK, "roll-up batch");

    /* as fill_events() does: strings of the row, statuses OK */
    for (i = 0; i < 5; i++) {
        rb.ev[4 - i].app = db.ev[i].app;
        rb.ev[4 - i].module = db.ev[i].module;
        rb.ev[4 - i].action = db.ev[i].action;
        rb.ev[4 - i].object = db.ev[i].object;
        rb.ev[4 - i].uid = db.ev[i].uid;
        rb.ev[4 - i].day = db.ev[i].day;
        rb.ev[4 - i].hour = db.ev[i].hour;
        rb.ev[4 - i].status = TC_EV_OK;
    }
    tc_batch_rank(&rb);

    n = tc_batch_hourly(&db, agg);
    m = tc_batch_hourly(&rb, agg2);
    CHECK(n == 4 && m == n, "hourly rows: %zu and %zu", n, m);
    for (i = 0; i < n && i < m; i++) {
        CHECK(agg[i].n == agg2[i].n && agg[i].ev->hour == agg2[i].ev->hour
              && tc_str_cmp(&agg[i].ev->app, &agg2[i].ev->app) == 0
              && tc_str_cmp(&agg[i].ev->object, &agg2[i].ev->object) == 0,
              "hourly row %zu equal", i);
    }

    n = tc_batch_users(&db, seen);
    m = tc_batch_users(&rb, seen2);
    CHECK(n == 3 && m == n, "user rows: %zu and %zu", n, m);
    for (i = 0; i < n && i < m; i++) {
        CHECK(tc_str_cmp(&seen[i]->uid, &seen2[i]->uid) == 0
              && tc_event_group_cmp(seen[i], seen2[i]) == 0,
              "user row %zu equal", i);
    }

    tc_batch_free(&rb);
    tc_batch_free(&db);
}


/* a batch of 2^16 events or more sorts by comparing ranks, not packed keys */
static void
test_batch_large(void)
{
    int                 r;
    size_t              i, n, rows, total, bad;
    char              **json;
    tc_batch_t          b;
    tc_agg_t           *agg;
    const tc_event_t   *a, *e, **seen;

    n = 70000;
    json = calloc(n, sizeof(char *));
    agg = calloc(n, sizeof(tc_agg_t));
    seen = calloc(n, sizeof(tc_event_t *));
    for (i = 0; i < n; i++) {
        json[i] = malloc(160);
        snprintf(json[i], 160, "{\"eid\":\"e%zu\",\"recv_ts\":%zu,\"app\":\"a\","
                 "\"module\":\"m%zu\",\"action\":\"x\",\"object\":\"o%zu\","
                 "\"uid\":\"u%zu\"}", i, (size_t) 1732540000000 + i * 1000,
                 i % 3, i % 7, i % 11);
    }

    tc_tz_set("UTC");
    mk_batch(&b, (const char **) json, n);

    /* 3 modules x 7 objects, and hours of the 70000 seconds (20 hours) */
    rows = tc_batch_hourly(&b, agg);
    total = 0;
    bad = 0;
    for (i = 0; i < rows; i++) {
        total += agg[i].n;
        if (i > 0) {
            a = agg[i - 1].ev;
            e = agg[i].ev;
            r = tc_str_cmp(&a->module, &e->module);
            if (r == 0) {
                r = tc_str_cmp(&a->object, &e->object);
            }
            if (r == 0) {
                r = a->day != e->day ? (a->day < e->day ? -1 : 1)
                                     : (int) a->hour - (int) e->hour;
            }
            bad += r >= 0;
        }
    }
    CHECK(bad == 0, "large batch: hourly rows in key order (%zu not)", bad);
    CHECK(total == n, "large batch: every event counted once: %zu", total);
    CHECK(tc_batch_daily(&b, agg) == 2 * 21, "large batch: daily rows");

    /* 3 modules x 2 days x 11 uids, each once */
    rows = tc_batch_users(&b, seen);
    CHECK(rows == 3 * 2 * 11, "large batch: user rows: %zu", rows);
    bad = 0;
    for (i = 1; i < rows; i++) {
        bad += tc_event_group_cmp(seen[i - 1], seen[i]) == 0
               && tc_str_cmp(&seen[i - 1]->uid, &seen[i]->uid) >= 0;
    }
    CHECK(bad == 0, "large batch: users distinct and in order (%zu not)",
          bad);

    tc_batch_free(&b);
    for (i = 0; i < n; i++) {
        free(json[i]);
    }
    free(json);
    free(agg);
    free(seen);
}


static void
test_set(void)
{
    tc_set_t  s;
    char      key[16];
    int       i, ok;

    tc_set_init(&s, 3000);
    ok = 1;
    for (i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ok &= tc_set_add(&s, key, strlen(key)) == TC_OK;
    }
    CHECK(ok && s.count == 2000, "2000 added");
    ok = 1;
    for (i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ok &= tc_set_has(&s, key, strlen(key));
    }
    CHECK(ok, "all found");
    CHECK(!tc_set_has(&s, "k2000", 5) && !tc_set_has(&s, "k1", 1),
          "others not found");
    tc_set_add(&s, "k1", 2);
    CHECK(s.count == 2000, "adding twice counts once");

    for (i = 2000; i < 3001; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        tc_set_add(&s, key, strlen(key));
    }
    CHECK(s.count == 1 && tc_set_has(&s, "k3000", 5)
          && !tc_set_has(&s, "k0", 2), "forgets all at the bound");
    tc_set_free(&s);

    tc_set_init(&s, 0);
    tc_set_add(&s, "x", 1);
    CHECK(!tc_set_has(&s, "x", 1), "bound 0: disabled");
    tc_set_free(&s);
}


static tc_conf_rc_t
parse(tc_conf_t *c, char **argv, int argc, char *err)
{
    int           fd, saved;
    tc_conf_rc_t  rc;

    /* --help prints to stdout: keep the test output readable */
    fflush(stdout);
    saved = dup(1);
    fd = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    close(fd);

    rc = tc_conf_parse_args(c, argc, argv, err, 256);
    if (rc == TC_CONF_RUN && tc_conf_check(c, err, 256) != TC_OK) {
        rc = TC_CONF_ERROR;
    }

    fflush(stdout);
    dup2(saved, 1);
    close(saved);

    return rc;
}


static void
test_config(void)
{
    char        err[256], path[] = "/tmp/tc-unit-XXXXXX";
    FILE       *f;
    tc_conf_t   c;

    tc_conf_defaults(&c);
    CHECK(strcmp(c.queue_key, "track:events") == 0
          && strcmp(c.processing_prefix, "track:processing:") == 0
          && strcmp(c.dead_key, "track:dead") == 0
          && strcmp(c.mysql_database, "track") == 0
          && strcmp(c.mysql_user, "track_writer") == 0
          && c.batch_size == 2000 && c.lanes == 2 && c.retention_days == 0
          && c.log_level == TC_LOG_INFO, "defaults");
    tc_conf_free(&c);

    f = fdopen(mkstemp(path), "w");
    fprintf(f, "# comment\n\nbatch_size = 50\nredis_port 7000\n"
            "mysql_password = \"p w=#\"\n  log_level=debug  \nid = file\n");
    fclose(f);

    {
        char  *argv[] = { "tc", "--batch-size=70", "-c", path,
                          "--id", "flag", "--drain", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 7, err) == TC_CONF_RUN, "file and flags: %s",
              err);
        CHECK(c.batch_size == 70 && c.redis_port == 7000
              && strcmp(c.mysql_password, "p w=#") == 0
              && c.log_level == TC_LOG_DEBUG && strcmp(c.id, "flag") == 0
              && c.drain == 1, "flags win over the file");
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", "--batch-size=0", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 2, err) == TC_CONF_ERROR
              && strstr(err, "batch_size"), "range checked: %s", err);
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", "--no-such=1", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 2, err) == TC_CONF_ERROR
              && strstr(err, "unknown"), "unknown flag: %s", err);
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", "--id", "a/b", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 3, err) == TC_CONF_ERROR
              && strstr(err, "invalid id"), "id charset: %s", err);
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 1, err) == TC_CONF_RUN && c.id[0] != '\0',
              "default id is the host name: %s", c.id);
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", "--help", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 2, err) == TC_CONF_EXIT, "--help");
        tc_conf_free(&c);
    }

    {
        char  *argv[] = { "tc", "-c", "/nonexistent/x.conf", NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 3, err) == TC_CONF_ERROR
              && strstr(err, "cannot open"), "missing file: %s", err);
        tc_conf_free(&c);
    }

    f = fopen(path, "w");
    fprintf(f, "batch_size = lots\n");
    fclose(f);
    {
        char  *argv[] = { "tc", "-c", path, NULL };

        tc_conf_defaults(&c);
        CHECK(parse(&c, argv, 3, err) == TC_CONF_ERROR
              && strstr(err, ":1:"), "file error has the line: %s", err);
        tc_conf_free(&c);
    }

    unlink(path);
}


int
main(int argc, char **argv)
{
    tc_log_level = TC_LOG_ERROR;

    my = mysql_init(NULL);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");

    test_event_valid();
    test_event_bytes();
    test_event_invalid();
    test_event_fast();
    test_dead_letter();
    test_days();
    test_sql();
    test_batch();
    test_batch_large();
    test_rollup();
    test_set();
    test_config();
    tc_unit_sentinel();
    tc_unit_cluster();

    mysql_close(my);
    mysql_library_end();

    return tc_test_done("track-consumer unit", argc > 1 ? argv[1] : NULL);
}
