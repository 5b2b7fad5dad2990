/* SPDX-License-Identifier: BSD-2-Clause */
/* common: MariaDB host lists (mysql_host = HOST[:PORT],...) and the connect
 * that moves to the next host when one fails: both programs' only path to
 * mysql_real_connect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/log.h"


tc_rc_t
tc_db_hosts_parse(tc_db_login_t *l, const char *host, long port,
    const char *socket, char *err, size_t err_size)
{
    char  msg[200];

    tc_db_hosts_free(l);

    if (socket != NULL && socket[0] != '\0') {
        l->hosts = calloc(1, sizeof(tc_addr_t));
        if (l->hosts == NULL || (l->hosts[0].host = strdup(socket)) == NULL) {
            tc_db_hosts_free(l);
            snprintf(err, err_size, "out of memory");
            return TC_ERROR;
        }
        l->n = 1;
        return TC_OK;
    }

    if (tc_addr_list_parse(host, port, &l->hosts, &l->n, msg, sizeof(msg))
        != TC_OK)
    {
        snprintf(err, err_size, "mysql_host: %s", msg);
        return TC_ERROR;
    }

    return TC_OK;
}


void
tc_db_hosts_free(tc_db_login_t *l)
{
    tc_addr_list_free(l->hosts, l->n);
    l->hosts = NULL;
    l->n = 0;
}


/* One attempt on host a: the connection, or NULL (logged). */
static MYSQL *
connect_one(const tc_db_login_t *l, const tc_addr_t *a, const char *addr)
{
    MYSQL     *m;
    unsigned   timeout;

    m = mysql_init(NULL);
    if (m == NULL) {
        tc_log_error("mysql_init() failed: out of memory");
        return NULL;
    }

    timeout = l->timeout;
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);

    if (mysql_real_connect(m, a->port ? a->host : "localhost", l->user,
                           l->password, l->database, (unsigned) a->port,
                           a->port ? NULL : a->host, l->flags)
        == NULL)
    {
        tc_log_warn("mysql: cannot connect to %s as \"%s\": (%u) %s", addr,
                    l->user ? l->user : "(default user)", mysql_errno(m),
                    mysql_error(m));
        mysql_close(m);
        return NULL;
    }

    return m;
}


MYSQL *
tc_db_connect(const tc_db_login_t *l, size_t *cursor, char *addr,
    size_t addr_size)
{
    size_t              i, k;
    MYSQL              *m;
    const tc_addr_t    *a;

    for (i = 0; i < l->n; i++) {
        k = (*cursor + i) % l->n;
        a = &l->hosts[k];
        tc_addr_text(a->host, a->port, addr, addr_size);

        m = connect_one(l, a, addr);
        if (m == NULL) {
            continue;
        }

        if (l->n > 1) {
            tc_log_info("mysql: now on %s, host %zu of %zu in mysql_host",
                        addr, k + 1, l->n);
        }
        *cursor = k;
        return m;
    }

    return NULL;
}
