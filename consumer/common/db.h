/* SPDX-License-Identifier: BSD-2-Clause */
/* common: MariaDB host lists (mysql_host = HOST[:PORT],...) and the connect
 * that moves to the next host when one fails: both programs' only path to
 * mysql_real_connect. */
#ifndef TC_DB_H
#define TC_DB_H

#include <stddef.h>

#include <mysql.h>

#include "common/addr.h"
#include "common/rc.h"

typedef struct {
    tc_addr_t      *hosts;          /* port 0: a unix socket path */
    size_t          n;
    const char     *user;
    const char     *password;
    const char     *database;
    unsigned        timeout;        /* seconds: connect, read, write */
    unsigned long   flags;          /* CLIENT_* of mysql_real_connect */
} tc_db_login_t;

/*
 * The hosts of the settings: socket when set (one entry, as before lists),
 * else the list in host, entries without a port on port.  TC_OK, or
 * TC_ERROR with a message in err.
 */
tc_rc_t tc_db_hosts_parse(tc_db_login_t *l, const char *host, long port,
    const char *socket, char *err, size_t err_size);
void tc_db_hosts_free(tc_db_login_t *l);

/*
 * Tries every host once, in list order from *cursor (any number: taken
 * modulo the list's length), each failure logged as a warning, the host
 * taken at info when there are several.  The first that accepts: its
 * connection (utf8mb4, the timeouts set), *cursor its
 * index and its text in addr.  NULL when none did.  A caller that lost a
 * connection adds 1 to *cursor first: the next host is asked first then.
 */
MYSQL *tc_db_connect(const tc_db_login_t *l, size_t *cursor, char *addr,
    size_t addr_size);

#endif /* TC_DB_H */
