/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Sentinel helpers: addresses, replies, failover errors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/rc.h"

#include "sentinel.h"

#define TC_ADDR_MAX   64            /* addresses in one list */
#define TC_HOST_MAX   255


static int
is_sep(char ch)
{
    return ch == ',' || isspace((unsigned char) ch);
}


static tc_rc_t
parse_port(const char *s, size_t len, long *port)
{
    size_t  i;
    long    n;

    if (len == 0 || len > 5) {
        return TC_ERROR;
    }

    n = 0;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return TC_ERROR;
        }
        n = n * 10 + (s[i] - '0');
    }

    if (n < 1 || n > 65535) {
        return TC_ERROR;
    }

    *port = n;

    return TC_OK;
}


/* a name, an IPv4 or IPv6 address (with a zone); not a path */
static int
host_valid(const char *h, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char) h[i]) && strchr(".-_:%", h[i]) == NULL)
        {
            return 0;
        }
    }

    return 1;
}


/* one token: [host, host + hlen) and its port */
static tc_rc_t
parse_one(const char *s, size_t len, long def_port, const char **host,
    size_t *hlen, long *port)
{
    const char  *colon, *end;

    *port = def_port;

    if (len > 5 && memcmp(s, "unix:", 5) == 0) {
        *host = s + 5;
        *hlen = len - 5;
        *port = 0;
        return TC_OK;
    }

    if (s[0] == '[') {
        end = memchr(s, ']', len);
        if (end == NULL || end == s + 1) {
            return TC_ERROR;
        }
        *host = s + 1;
        *hlen = (size_t) (end - s - 1);
        end++;
        if (end == s + len) {
            return TC_OK;
        }
        if (*end != ':') {
            return TC_ERROR;
        }
        return parse_port(end + 1, (size_t) (s + len - end - 1), port);
    }

    colon = memchr(s, ':', len);
    if (colon == NULL || memchr(colon + 1, ':', (size_t) (s + len - colon - 1))
                         != NULL)
    {
        /* no port, or a bare IPv6 address */
        *host = s;
        *hlen = len;
        return TC_OK;
    }

    if (colon == s) {
        return TC_ERROR;
    }

    *host = s;
    *hlen = (size_t) (colon - s);

    return parse_port(colon + 1, (size_t) (s + len - colon - 1), port);
}


tc_rc_t
tc_addr_list_parse(const char *text, long def_port, tc_addr_t **out,
    size_t *n, char *err, size_t err_size)
{
    long          port;
    size_t        len, hlen, count;
    tc_addr_t    *a;
    const char   *p, *start, *host;

    *out = NULL;
    *n = 0;

    a = calloc(TC_ADDR_MAX, sizeof(tc_addr_t));
    if (a == NULL) {
        snprintf(err, err_size, "out of memory");
        return TC_ERROR;
    }

    count = 0;
    p = text;

    for ( ;; ) {
        while (*p != '\0' && is_sep(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }

        start = p;
        while (*p != '\0' && !is_sep(*p)) {
            p++;
        }
        len = (size_t) (p - start);

        if (count == TC_ADDR_MAX) {
            snprintf(err, err_size, "more than %d addresses", TC_ADDR_MAX);
            goto failed;
        }

        if (parse_one(start, len, def_port, &host, &hlen, &port) != TC_OK
            || hlen == 0 || hlen > TC_HOST_MAX
            || (port != 0 && !host_valid(host, hlen)))
        {
            snprintf(err, err_size, "invalid address \"%.*s\" (host:port, "
                     "[ipv6]:port or unix:path)", (int) len, start);
            goto failed;
        }

        a[count].host = strndup(host, hlen);
        if (a[count].host == NULL) {
            snprintf(err, err_size, "out of memory");
            goto failed;
        }
        a[count].port = port;
        count++;
    }

    if (count == 0) {
        snprintf(err, err_size, "no address given");
        goto failed;
    }

    *out = a;
    *n = count;

    return TC_OK;

failed:

    tc_addr_list_free(a, count);

    return TC_ERROR;
}


void
tc_addr_list_free(tc_addr_t *a, size_t n)
{
    size_t  i;

    if (a == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        free(a[i].host);
    }
    free(a);
}


void
tc_redis_set_timeout(redisContext *c, long ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    redisSetTimeout(c, tv);
}


/* A blocking connection with a connect and command timeout of ms. */
redisContext *
tc_redis_open(const char *host, long port, long ms)
{
    redisContext    *c;
    struct timeval   tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (port == 0) {
        c = redisConnectUnixWithTimeout(host, tv);
    } else {
        c = redisConnectWithTimeout(host, (int) port, tv);
    }

    if (c != NULL && !c->err) {
        tc_redis_set_timeout(c, ms);
    }

    return c;
}


const char *
tc_redis_context_error(redisContext *c)
{
    if (c == NULL) {
        return "out of memory";
    }

    if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily") != NULL) {
        return "no reply in time";
    }

    return c->errstr[0] ? c->errstr : "connection lost";
}


const char *
tc_addr_text(const char *host, long port, char *buf, size_t size)
{
    if (port == 0) {
        snprintf(buf, size, "unix:%s", host);

    } else if (strchr(host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%ld", host, port);

    } else {
        snprintf(buf, size, "%s:%ld", host, port);
    }

    return buf;
}


tc_sentinel_reply_t
tc_sentinel_master(const redisReply *r, char *host, size_t size, long *port,
    const char **why)
{
    *why = NULL;

    if (r == NULL) {
        *why = "no reply";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return TC_SENTINEL_NO_MASTER;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        *why = r->str;
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING)
    {
        *why = "the reply is not [host, port]";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (r->element[0]->len == 0 || r->element[0]->len >= size
        || memchr(r->element[0]->str, '\0', r->element[0]->len) != NULL)
    {
        *why = "the host is empty or too long";
        return TC_SENTINEL_BAD_REPLY;
    }

    if (parse_port(r->element[1]->str, r->element[1]->len, port) != TC_OK) {
        *why = "the port is invalid";
        return TC_SENTINEL_BAD_REPLY;
    }

    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';

    return TC_SENTINEL_MASTER;
}


int
tc_role_is_master(const redisReply *r, const char **role)
{
    const redisReply  *e;

    *role = "?";

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        return 0;
    }

    e = r->element[0];
    if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) {
        return 0;
    }

    if (e->len == 6 && memcmp(e->str, "master", 6) == 0) {
        *role = "master";
        return 1;
    }

    if (e->len == 5 && memcmp(e->str, "slave", 5) == 0) {
        *role = "replica";

    } else if (e->len == 8 && memcmp(e->str, "sentinel", 8) == 0) {
        *role = "sentinel";
    }

    return 0;
}


const char *
tc_redis_failover_error(const char *err, size_t len)
{
    static const struct {
        const char  *prefix;
        const char  *why;
    } known[] = {
        { "READONLY", "it is a read-only replica now (failover)" },
        { "UNBLOCKED", "it was demoted to a replica (failover)" },
        { "MASTERDOWN", "it is a replica that lost its master" },
        { "LOADING", "it is still loading its data" },
        { "MOVED", "the slot is served by another master now (resharding "
                   "or failover)" },
        { "ASK", "the slot is being migrated: waiting for it to finish" },
        { "TRYAGAIN", "keys of the slot are being migrated: waiting" },
        { "CLUSTERDOWN", "the cluster is down (a master failed and no "
                         "replica was promoted yet)" },
    };

    size_t  i, n;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        n = strlen(known[i].prefix);
        if (len >= n && memcmp(err, known[i].prefix, n) == 0
            && (len == n || err[n] == ' '))
        {
            return known[i].why;
        }
    }

    return NULL;
}
