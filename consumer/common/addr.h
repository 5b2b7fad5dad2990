/* SPDX-License-Identifier: BSD-2-Clause */
/* common: address lists of both programs' settings (Sentinels, MariaDB
 * hosts): host[:port], [ipv6]:port or unix:path. */
#ifndef TC_ADDR_H
#define TC_ADDR_H

#include <stddef.h>

#include "common/rc.h"

typedef struct tc_addr_s {
    char  *host;                    /* a name, an address, or a socket path */
    long   port;                    /* 0: host is a unix socket path */
} tc_addr_t;

/*
 * Parses "host:port host2 [::1]:26380 unix:/path", separated by spaces or
 * commas; a missing port is def_port.  TC_OK and *out (malloc'ed, *n
 * entries), or TC_ERROR with a message in err.
 */
tc_rc_t tc_addr_list_parse(const char *text, long def_port, tc_addr_t **out,
    size_t *n, char *err, size_t err_size);
void tc_addr_list_free(tc_addr_t *a, size_t n);

/* A port 1..65535 of len decimal digits. */
tc_rc_t tc_addr_port_parse(const char *s, size_t len, long *port);

/* "host:port", "[v6]:port" or "unix:path" into buf. */
const char *tc_addr_text(const char *host, long port, char *buf, size_t size);

#endif /* TC_ADDR_H */
