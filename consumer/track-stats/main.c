/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: read-only statistics query API over HTTP/JSON (entry point,
 * configuration, signals). */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "common/date.h"
#include "common/log.h"
#include "common/options.h"
#include "common/rc.h"

#include "cache.h"
#include "http.h"
#include "pool.h"
#include "query.h"

#define TC_STATS_VERSION  "1.0"

/* Settings: defaults < environment (TRACK_STATS_NAME) < command line. */
typedef struct {
    char    *listen;
    char    *prefix;
    long     threads;
    long     max_connections;
    long     idle_timeout;
    char    *mysql_host;
    long     mysql_port;
    char    *mysql_socket;
    char    *mysql_database;
    char    *mysql_user;
    char    *mysql_password_file;
    long     mysql_pool;
    long     mysql_timeout;
    char    *timezone;
    char    *token_file;
    long     cache_max_age;
    long     open_max_age;
    long     day_cache;
    long     settle;
    long     max_days;
    long     max_hours;
    long     max_limit;
    long     log_level;
    char    *log_file;
    char    *pid_file;
} tc_stats_conf_t;

#define OFF(f)  offsetof(tc_stats_conf_t, f)

static const tc_opt_t  options[] = {
    { "listen", TC_OPT_STR, OFF(listen), "127.0.0.1:8090", 0, 0, "HOST:PORT",
      "address to listen on: HOST:PORT, [IPv6]:PORT or PORT" },
    { "prefix", TC_OPT_STR, OFF(prefix), "/stats/v1", 0, 0, "PATH",
      "path prefix of the endpoints (nginx passes the URI unchanged)" },
    { "threads", TC_OPT_LONG, OFF(threads), "4", 1, 256, "N",
      "HTTP worker threads (epoll thread pool)" },
    { "max-connections", TC_OPT_LONG, OFF(max_connections), "512",
      1, 65536, "N",
      "concurrent HTTP connections, beyond which new ones are refused" },
    { "idle-timeout", TC_OPT_LONG, OFF(idle_timeout), "30", 1, 3600, "SECONDS",
      "seconds before an idle HTTP connection is closed" },
    { "mysql-host", TC_OPT_STR, OFF(mysql_host), "127.0.0.1", 0, 0, "HOSTS",
      "MySQL/MariaDB host (\"localhost\" means the socket), or a list\n"
      "HOST[:PORT],... (Galera nodes, replicas): a failed connect or a\n"
      "lost connection moves to the next" },
    { "mysql-port", TC_OPT_LONG, OFF(mysql_port), "3306", 0, 65535, "PORT",
      "MySQL port (of the mysql-host entries without one)" },
    { "mysql-socket", TC_OPT_STR, OFF(mysql_socket), "", 0, 0, "PATH",
      "MySQL unix socket" },
    { "mysql-database", TC_OPT_STR, OFF(mysql_database), "track", 0, 0, "NAME",
      "database" },
    { "mysql-user", TC_OPT_STR, OFF(mysql_user), "track_reader", 0, 0, "USER",
      "read-only MySQL user (SELECT only)" },
    { "mysql-password-file", TC_OPT_STR, OFF(mysql_password_file), "",
      0, 0, "FILE",
      "file holding the MySQL password (or env TRACK_STATS_MYSQL_PASSWORD)" },
    { "mysql-pool", TC_OPT_LONG, OFF(mysql_pool), "4", 1, 256, "N",
      "MySQL connections in the pool" },
    { "mysql-timeout", TC_OPT_LONG, OFF(mysql_timeout), "10",
      1, 3600, "SECONDS",
      "seconds for connect, I/O, one statement and waiting for a "
      "pool connection" },
    { "timezone", TC_OPT_STR, OFF(timezone), "", 0, 0, "ZONE",
      "time zone of the day tables, as the consumer's (default: TZ or "
      "the system's)" },
    { "token-file", TC_OPT_STR, OFF(token_file), "", 0, 0, "FILE",
      "file holding the bearer token clients must send (or env "
      "TRACK_STATS_TOKEN); reread on SIGHUP" },
    { "cache-max-age", TC_OPT_LONG, OFF(cache_max_age), "86400",
      0, 31536000, "SECONDS",
      "Cache-Control max-age for answers about closed days" },
    { "open-max-age", TC_OPT_LONG, OFF(open_max_age), "0", 0, 3600, "SECONDS",
      "max-age for answers that include today (0: no-store)" },
    { "day-cache", TC_OPT_LONG, OFF(day_cache), "65536", 0, 16777216, "N",
      "closed days of series kept in memory (about 300 bytes each; 0: "
      "off); an entry is used for at most --cache-max-age seconds" },
    { "settle", TC_OPT_LONG, OFF(settle), "900", 0, 86400, "SECONDS",
      "seconds after midnight before yesterday counts as closed" },
    { "max-days", TC_OPT_LONG, OFF(max_days), "366", 1, 100000, "N",
      "longest range in days" },
    { "max-hours", TC_OPT_LONG, OFF(max_hours), "744", 1, 100000, "N",
      "longest range in hours with interval=hour" },
    { "max-limit", TC_OPT_LONG, OFF(max_limit), "1000", 1, 1000000, "N",
      "largest limit for top" },
    { "log-level", TC_OPT_LEVEL, OFF(log_level), "info", 0, 0, "LEVEL",
      "error, warn, info or debug" },
    { "log-file", TC_OPT_STR, OFF(log_file), "", 0, 0, "FILE",
      "log to this file instead of stderr; reopened on SIGHUP" },
    { "pid-file", TC_OPT_STR, OFF(pid_file), "", 0, 0, "FILE",
      "write the process id here" },
};

static const tc_opt_table_t  table = TC_OPT_TABLE(options);

static tc_stats_conf_t  conf;


static void
usage(FILE *f)
{
    fprintf(f,
        "Usage: track-stats [--option VALUE | --option=VALUE]...\n"
        "Read-only statistics query API (HTTP/JSON) over the track "
        "database.\n"
        "Every option can also come from the environment as "
        "TRACK_STATS_<OPTION>\n(upper case, '-' as '_'); the command line "
        "wins.\n\n");

    tc_opt_usage(&table, f);

    fprintf(f,
        "  --help\n        this text\n  --version\n        the version\n\n"
        "Signals: SIGTERM/SIGINT finish the requests in hand and exit; "
        "SIGHUP reopens\nthe log file, rereads the token file and forgets "
        "the cached days.\n");
}


static tc_rc_t
parse_options(int argc, char **argv)
{
    int   i;
    char  err[512];

    tc_opt_defaults(&table, &conf);

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(TC_EXIT_OK);
        }

        if (strcmp(argv[i], "--version") == 0) {
            printf("track-stats %s\n", TC_STATS_VERSION);
            exit(TC_EXIT_OK);
        }
    }

    if (tc_opt_load_env(&table, &conf, "TRACK_STATS_", err, sizeof(err))
        != TC_OK
        || tc_opt_parse_flags(&table, &conf, argc, argv, NULL, err,
                              sizeof(err))
           != TC_OK)
    {
        fprintf(stderr, "track-stats: %s\n", err);
        return TC_ERROR;
    }

    return TC_OK;
}


static tc_rc_t
parse_listen(const char *s, struct sockaddr_storage *ss)
{
    int               rc;
    char              host[256];
    const char       *port, *colon;
    size_t            n;
    struct addrinfo   hints, *res;

    colon = strrchr(s, ':');

    if (colon == NULL) {
        snprintf(host, sizeof(host), "127.0.0.1");
        port = s;

    } else {
        n = (size_t) (colon - s);
        if (n > 1 && s[0] == '[' && s[n - 1] == ']') {
            s++;
            n -= 2;
        }
        if (n == 0 || n >= sizeof(host)) {
            return TC_ERROR;
        }
        memcpy(host, s, n);
        host[n] = '\0';
        port = colon + 1;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        return TC_ERROR;
    }

    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    return TC_OK;
}


/* The first line of a file, without trailing white space. */
static char *
read_secret(const char *path, const char *what)
{
    FILE         *f;
    char          buf[4096];
    size_t        n;
    struct stat   st;

    f = fopen(path, "r");
    if (f == NULL) {
        tc_log_error("cannot open %s file %s: %s", what, path,
                     strerror(errno));
        return NULL;
    }

    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        tc_log_warn("%s file %s is readable by everyone", what, path);
    }

    if (fgets(buf, sizeof(buf), f) == NULL) {
        buf[0] = '\0';
    }
    fclose(f);

    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                     || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        buf[--n] = '\0';
    }

    if (n == 0) {
        tc_log_error("%s file %s is empty", what, path);
        return NULL;
    }

    return strdup(buf);
}


static tc_rc_t
load_token(void)
{
    tc_rc_t      rc;
    char        *t;
    const char  *file = conf.token_file;

    if (file[0] == '\0') {
        return tc_http_set_token(getenv("TRACK_STATS_TOKEN"));
    }

    t = read_secret(file, "token");
    if (t == NULL) {
        return TC_ERROR;
    }

    rc = tc_http_set_token(t);
    free(t);

    return rc;
}


static tc_rc_t
write_pid(const char *path)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL) {
        tc_log_error("cannot write pid file %s: %s", path, strerror(errno));
        return TC_ERROR;
    }

    fprintf(f, "%ld\n", (long) getpid());
    fclose(f);

    return TC_OK;
}


int
main(int argc, char **argv)
{
    int                     sig, opened, rc = 1;
    char                   *password = NULL, err[300];
    const char             *tz;
    sigset_t                set;
    tc_pool_t               pool;
    tc_db_login_t           db;
    tc_http_config_t        http;
    struct sockaddr_storage addr;

    tc_log_set_ident("track-stats");

    if (parse_options(argc, argv) != TC_OK) {
        return TC_EXIT_USAGE;
    }

    tc_log_level = (int) conf.log_level;

    if (parse_listen(conf.listen, &addr) != TC_OK) {
        fprintf(stderr, "track-stats: invalid --listen \"%s\"\n",
                conf.listen);
        return TC_EXIT_USAGE;
    }

    if (conf.prefix[0] != '/'
        || conf.prefix[strlen(conf.prefix) - 1] == '/')
    {
        fprintf(stderr, "track-stats: --prefix must start with '/' and not "
                "end with one (e.g. /stats/v1)\n");
        return TC_EXIT_USAGE;
    }

    if (tc_log_open(conf.log_file) != TC_OK) {
        tc_log_error("cannot open log file %s: %s", conf.log_file,
                     strerror(errno));
        return TC_EXIT_FAILURE;
    }

    if (conf.token_file[0] != '\0' && getenv("TRACK_STATS_TOKEN")) {
        tc_log_error("give the token either in --token-file or in "
                     "TRACK_STATS_TOKEN, not both");
        return TC_EXIT_USAGE;
    }

    tz = conf.timezone;
    if (tc_tz_set(tz) != TC_OK) {
        tc_log_error("unknown time zone \"%s\"", tz);
        return TC_EXIT_USAGE;
    }

    /* Signals are taken by sigwait() below; every thread inherits the
     * mask, so none of them is interrupted. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (load_token() != TC_OK) {
        return TC_EXIT_FAILURE;
    }

    if (conf.mysql_password_file[0] != '\0') {
        password = read_secret(conf.mysql_password_file, "password");
        if (password == NULL) {
            return TC_EXIT_FAILURE;
        }
    }

    memset(&db, 0, sizeof(db));
    /* port 0: the client library's default */
    if (tc_db_hosts_parse(&db, conf.mysql_host,
                          conf.mysql_port ? conf.mysql_port : MYSQL_PORT,
                          conf.mysql_socket, err, sizeof(err))
        != TC_OK)
    {
        tc_log_error("%s", err);
        free(password);
        return TC_EXIT_USAGE;
    }
    db.user = conf.mysql_user;
    db.password = password != NULL ? password
                                   : getenv("TRACK_STATS_MYSQL_PASSWORD");
    db.database = conf.mysql_database;
    db.timeout = (unsigned) conf.mysql_timeout;

    if (mysql_library_init(0, NULL, NULL) != 0) {
        tc_log_error("mysql_library_init failed");
        free(password);
        return TC_EXIT_FAILURE;
    }

    tc_query_init();

    if (tc_cache_init((unsigned) conf.day_cache,
                      (unsigned) conf.cache_max_age)
        != TC_OK)
    {
        tc_log_error("cannot allocate the day cache");
        goto done;
    }

    opened = tc_pool_init(&pool, (int) conf.mysql_pool, &db);
    if (opened < 0) {
        tc_log_error("out of memory");
        goto done;
    }
    if (opened < (int) conf.mysql_pool) {
        tc_log_warn("%d of %u database connections open; the others are "
                    "retried on demand", opened, (unsigned) conf.mysql_pool);
    }

    memset(&http, 0, sizeof(http));
    http.addr = (const struct sockaddr *) &addr;
    http.prefix = conf.prefix;
    http.limits.max_days = (int) conf.max_days;
    http.limits.max_hours = (int) conf.max_hours;
    http.limits.max_limit = (int) conf.max_limit;
    http.threads = (unsigned) conf.threads;
    http.max_connections = (unsigned) conf.max_connections;
    http.conn_timeout = (unsigned) conf.idle_timeout;
    http.acquire_timeout_ms = (unsigned) conf.mysql_timeout * 1000;
    http.closed_max_age = (unsigned) conf.cache_max_age;
    http.open_max_age = (unsigned) conf.open_max_age;
    http.settle = (unsigned) conf.settle;

    if (tc_http_start(&http, &pool) != TC_OK) {
        tc_log_error("cannot listen on %s", conf.listen);
        goto pool_done;
    }

    if (conf.pid_file[0] != '\0' && write_pid(conf.pid_file)) {
        goto http_done;
    }

    tc_log_info("listening on %s, prefix %s, %u threads, %u database "
                "connections (%d open), token %s", conf.listen,
                http.prefix, http.threads, (unsigned) conf.mysql_pool, opened,
                conf.token_file[0] != '\0' || getenv("TRACK_STATS_TOKEN")
                ? "required" : "not required");

    for ( ;; ) {
        if (sigwait(&set, &sig) != 0) {
            continue;
        }

        if (sig == SIGHUP) {
            tc_log_info("SIGHUP: reopening the log, rereading the token, "
                        "forgetting the cached days");
            tc_log_reopen();
            tc_cache_clear();
            if (conf.token_file[0] != '\0' && load_token() != TC_OK) {
                tc_log_error("keeping the previous token");
            }
            continue;
        }

        tc_log_info("%s: finishing the requests in hand",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }

    rc = 0;

http_done:
    tc_http_stop();

pool_done:
    tc_pool_destroy(&pool);

done:
    mysql_library_end();
    tc_cache_free();
    tc_http_set_token(NULL);
    tc_db_hosts_free(&db);
    free(password);

    if (rc == 0 && conf.pid_file[0] != '\0') {
        unlink(conf.pid_file);
    }

    tc_log_info("exiting");
    tc_log_close();
    tc_opt_free(&table, &conf);

    return rc;
}
