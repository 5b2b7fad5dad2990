/* SPDX-License-Identifier: BSD-2-Clause */
/* common: address lists of both programs' settings (Sentinels, MariaDB
 * hosts): host[:port], [ipv6]:port or unix:path. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/rc.h"

#define TC_ADDR_MAX   64            /* addresses in one list */
#define TC_HOST_MAX   255


static int
is_sep(char ch)
{
    return ch == ',' || isspace((unsigned char) ch);
}


tc_rc_t
tc_addr_port_parse(const char *s, size_t len, long *port)
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
        return tc_addr_port_parse(end + 1, (size_t) (s + len - end - 1), port);
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

    return tc_addr_port_parse(colon + 1, (size_t) (s + len - colon - 1), port);
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

