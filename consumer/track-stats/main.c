/* track-stats: read-only statistics query API over HTTP/JSON (entry point,
 * configuration, signals). */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "cache.h"
#include "http.h"
#include "common/date.h"
#include "common/log.h"
#include "pool.h"
#include "query.h"

#define ST_VERSION  "1.0"

enum { O_STR, O_UINT };

struct option_def {
    const char  *name;          /* --name, env TRACK_STATS_NAME */
    int          type;
    const char  *arg;
    const char  *def;
    unsigned     min, max;
    const char  *help;
    const char  *value;         /* final string value */
    unsigned     uint;
};

/* Defaults < environment < command line. */
static struct option_def  options[] = {
    { "listen", O_STR, "HOST:PORT", "127.0.0.1:8090", 0, 0,
      "address to listen on: HOST:PORT, [IPv6]:PORT or PORT" },
    { "prefix", O_STR, "PATH", "/stats/v1", 0, 0,
      "path prefix of the endpoints (nginx passes the URI unchanged)" },
    { "threads", O_UINT, "N", "4", 1, 256,
      "HTTP worker threads (epoll thread pool)" },
    { "max-connections", O_UINT, "N", "512", 1, 65536,
      "concurrent HTTP connections, beyond which new ones are refused" },
    { "idle-timeout", O_UINT, "SECONDS", "30", 1, 3600,
      "seconds before an idle HTTP connection is closed" },
    { "mysql-host", O_STR, "HOST", "127.0.0.1", 0, 0,
      "MySQL/MariaDB host (\"localhost\" means the socket)" },
    { "mysql-port", O_UINT, "PORT", "3306", 0, 65535, "MySQL port" },
    { "mysql-socket", O_STR, "PATH", "", 0, 0, "MySQL unix socket" },
    { "mysql-database", O_STR, "NAME", "track", 0, 0, "database" },
    { "mysql-user", O_STR, "USER", "track_reader", 0, 0,
      "read-only MySQL user (SELECT only)" },
    { "mysql-password-file", O_STR, "FILE", "", 0, 0,
      "file holding the MySQL password (or env TRACK_STATS_MYSQL_PASSWORD)" },
    { "mysql-pool", O_UINT, "N", "4", 1, 256,
      "MySQL connections in the pool" },
    { "mysql-timeout", O_UINT, "SECONDS", "10", 1, 3600,
      "seconds for connect, I/O, one statement and waiting for a "
      "pool connection" },
    { "timezone", O_STR, "ZONE", "", 0, 0,
      "time zone of the day tables, as the consumer's (default: TZ or "
      "the system's)" },
    { "token-file", O_STR, "FILE", "", 0, 0,
      "file holding the bearer token clients must send (or env "
      "TRACK_STATS_TOKEN); reread on SIGHUP" },
    { "cache-max-age", O_UINT, "SECONDS", "86400", 0, 31536000,
      "Cache-Control max-age for answers about closed days" },
    { "open-max-age", O_UINT, "SECONDS", "0", 0, 3600,
      "max-age for answers that include today (0: no-store)" },
    { "day-cache", O_UINT, "N", "65536", 0, 16777216,
      "closed days of series kept in memory (about 300 bytes each; 0: "
      "off); an entry is used for at most --cache-max-age seconds" },
    { "settle", O_UINT, "SECONDS", "900", 0, 86400,
      "seconds after midnight before yesterday counts as closed" },
    { "max-days", O_UINT, "N", "366", 1, 100000, "longest range in days" },
    { "max-hours", O_UINT, "N", "744", 1, 100000,
      "longest range in hours with interval=hour" },
    { "max-limit", O_UINT, "N", "1000", 1, 1000000, "largest limit for top" },
    { "log-level", O_STR, "LEVEL", "info", 0, 0,
      "error, warn, info or debug" },
    { "log-file", O_STR, "FILE", "", 0, 0,
      "log to this file instead of stderr; reopened on SIGHUP" },
    { "pid-file", O_STR, "FILE", "", 0, 0, "write the process id here" },
};

#define NOPTIONS  (sizeof(options) / sizeof(options[0]))


/* Prints text indented, wrapped before 79 columns. */
static void
wrap(FILE *f, const char *text, int indent)
{
    int          col = indent, n;
    const char  *p = text, *sp;

    fprintf(f, "%*s", indent, "");

    while (*p != '\0') {
        sp = strchr(p, ' ');
        n = sp != NULL ? (int) (sp - p) : (int) strlen(p);

        if (col > indent && col + 1 + n > 78) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }

        fprintf(f, "%.*s", n, p);
        col += n;
        p += n;
        while (*p == ' ') {
            p++;
        }
    }

    fputc('\n', f);
}


static void
usage(FILE *f)
{
    size_t  i;
    char    text[512];

    fprintf(f,
        "Usage: track-stats [--option VALUE | --option=VALUE]...\n"
        "Read-only statistics query API (HTTP/JSON) over the track "
        "database.\n"
        "Every option can also come from the environment as "
        "TRACK_STATS_<OPTION>\n(upper case, '-' as '_'); the command line "
        "wins.\n\n");

    for (i = 0; i < NOPTIONS; i++) {
        fprintf(f, "  --%s %s\n", options[i].name, options[i].arg);
        snprintf(text, sizeof(text), "%s%s%s%s", options[i].help,
                 options[i].def[0] != '\0' ? " [" : "", options[i].def,
                 options[i].def[0] != '\0' ? "]" : "");
        wrap(f, text, 8);
    }

    fprintf(f,
        "  --help\n        this text\n  --version\n        the version\n\n"
        "Signals: SIGTERM/SIGINT finish the requests in hand and exit; "
        "SIGHUP reopens\nthe log file and rereads the token file.\n");
}


static struct option_def *
option(const char *name)
{
    size_t  i;

    for (i = 0; i < NOPTIONS; i++) {
        if (strcmp(options[i].name, name) == 0) {
            return &options[i];
        }
    }

    return NULL;
}


static const char *
opt_str(const char *name)
{
    return option(name)->value;
}


static unsigned
opt_uint(const char *name)
{
    return option(name)->uint;
}


static int
parse_options(int argc, char **argv)
{
    int                 i;
    char                env[64], *p, *end;
    size_t              j, n;
    const char         *v, *name;
    unsigned long       u;
    struct option_def  *o;

    for (j = 0; j < NOPTIONS; j++) {
        o = &options[j];
        n = (size_t) snprintf(env, sizeof(env), "TRACK_STATS_%s", o->name);
        for (p = env; p < env + n; p++) {
            *p = *p == '-' ? '_' : (char) (*p >= 'a' && *p <= 'z'
                                           ? *p - 32 : *p);
        }
        v = getenv(env);
        o->value = v != NULL ? v : o->def;
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }

        if (strcmp(argv[i], "--version") == 0) {
            printf("track-stats %s\n", ST_VERSION);
            exit(0);
        }

        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "track-stats: unexpected argument \"%s\"\n"
                    "Try --help.\n", argv[i]);
            return -1;
        }

        name = argv[i] + 2;
        p = strchr(name, '=');
        n = p != NULL ? (size_t) (p - name) : strlen(name);

        o = NULL;
        for (j = 0; j < NOPTIONS; j++) {
            if (strlen(options[j].name) == n
                && strncmp(options[j].name, name, n) == 0)
            {
                o = &options[j];
            }
        }

        if (o == NULL) {
            fprintf(stderr, "track-stats: unknown option \"%s\"\n"
                    "Try --help.\n", argv[i]);
            return -1;
        }

        if (p != NULL) {
            o->value = p + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            fprintf(stderr, "track-stats: --%s needs a value\n", o->name);
            return -1;
        }
    }

    for (j = 0; j < NOPTIONS; j++) {
        o = &options[j];
        if (o->type != O_UINT) {
            continue;
        }

        errno = 0;
        u = strtoul(o->value, &end, 10);
        if (errno != 0 || end == o->value || *end != '\0'
            || o->value[0] == '-' || u < o->min || u > o->max)
        {
            fprintf(stderr, "track-stats: invalid value \"%s\" for --%s "
                    "(an integer from %u to %u)\n", o->value, o->name,
                    o->min, o->max);
            return -1;
        }
        o->uint = (unsigned) u;
    }

    return 0;
}


static int
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
            return -1;
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
        return -1;
    }

    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    return 0;
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


static int
load_token(void)
{
    int          rc;
    char        *t;
    const char  *file = opt_str("token-file");

    if (file[0] == '\0') {
        return st_http_set_token(getenv("TRACK_STATS_TOKEN"));
    }

    t = read_secret(file, "token");
    if (t == NULL) {
        return -1;
    }

    rc = st_http_set_token(t);
    free(t);

    return rc;
}


static int
write_pid(const char *path)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL) {
        tc_log_error("cannot write pid file %s: %s", path, strerror(errno));
        return -1;
    }

    fprintf(f, "%ld\n", (long) getpid());
    fclose(f);

    return 0;
}


int
main(int argc, char **argv)
{
    int                     sig, level, opened, rc = 1;
    char                   *password = NULL;
    const char             *tz;
    sigset_t                set;
    struct st_pool          pool;
    struct st_db_config     db;
    struct st_http_config   http;
    struct sockaddr_storage addr;

    tc_log_set_ident("track-stats");

    if (parse_options(argc, argv) != 0) {
        return 2;
    }

    level = tc_log_level_parse(opt_str("log-level"));
    if (level < 0) {
        fprintf(stderr, "track-stats: invalid --log-level \"%s\"\n",
                opt_str("log-level"));
        return 2;
    }
    tc_log_level = level;

    if (parse_listen(opt_str("listen"), &addr) != 0) {
        fprintf(stderr, "track-stats: invalid --listen \"%s\"\n",
                opt_str("listen"));
        return 2;
    }

    if (opt_str("prefix")[0] != '/'
        || opt_str("prefix")[strlen(opt_str("prefix")) - 1] == '/')
    {
        fprintf(stderr, "track-stats: --prefix must start with '/' and not "
                "end with one (e.g. /stats/v1)\n");
        return 2;
    }

    if (tc_log_open(opt_str("log-file")) != 0) {
        tc_log_error("cannot open log file %s: %s", opt_str("log-file"),
                     strerror(errno));
        return 1;
    }

    if (opt_str("token-file")[0] != '\0' && getenv("TRACK_STATS_TOKEN")) {
        tc_log_error("give the token either in --token-file or in "
                     "TRACK_STATS_TOKEN, not both");
        return 2;
    }

    tz = opt_str("timezone");
    if (tc_tz_set(tz) != 0) {
        tc_log_error("unknown time zone \"%s\"", tz);
        return 2;
    }

    /* Signals are taken by sigwait() below; every thread inherits the
     * mask, so none of them is interrupted. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (load_token() != 0) {
        return 1;
    }

    if (opt_str("mysql-password-file")[0] != '\0') {
        password = read_secret(opt_str("mysql-password-file"), "password");
        if (password == NULL) {
            return 1;
        }
    }

    memset(&db, 0, sizeof(db));
    db.host = opt_str("mysql-host");
    db.port = opt_uint("mysql-port");
    db.socket = opt_str("mysql-socket")[0] != '\0' ? opt_str("mysql-socket")
                                                : NULL;
    db.user = opt_str("mysql-user");
    db.password = password != NULL ? password
                                   : getenv("TRACK_STATS_MYSQL_PASSWORD");
    db.database = opt_str("mysql-database");
    db.timeout = opt_uint("mysql-timeout");

    if (mysql_library_init(0, NULL, NULL) != 0) {
        tc_log_error("mysql_library_init failed");
        free(password);
        return 1;
    }

    st_query_init();

    if (st_cache_init(opt_uint("day-cache"), opt_uint("cache-max-age"))
        != 0)
    {
        tc_log_error("cannot allocate the day cache");
        goto done;
    }

    opened = st_pool_init(&pool, (int) opt_uint("mysql-pool"), &db);
    if (opened < 0) {
        tc_log_error("out of memory");
        goto done;
    }
    if (opened < (int) opt_uint("mysql-pool")) {
        tc_log_warn("%d of %u database connections open; the others are "
                    "retried on demand", opened, opt_uint("mysql-pool"));
    }

    memset(&http, 0, sizeof(http));
    http.addr = (const struct sockaddr *) &addr;
    http.prefix = opt_str("prefix");
    http.limits.max_days = (int) opt_uint("max-days");
    http.limits.max_hours = (int) opt_uint("max-hours");
    http.limits.max_limit = (int) opt_uint("max-limit");
    http.threads = opt_uint("threads");
    http.max_connections = opt_uint("max-connections");
    http.conn_timeout = opt_uint("idle-timeout");
    http.acquire_timeout_ms = opt_uint("mysql-timeout") * 1000;
    http.closed_max_age = opt_uint("cache-max-age");
    http.open_max_age = opt_uint("open-max-age");
    http.settle = opt_uint("settle");

    if (st_http_start(&http, &pool) != 0) {
        tc_log_error("cannot listen on %s", opt_str("listen"));
        goto pool_done;
    }

    if (opt_str("pid-file")[0] != '\0' && write_pid(opt_str("pid-file"))) {
        goto http_done;
    }

    tc_log_info("listening on %s, prefix %s, %u threads, %u database "
                "connections (%d open), token %s", opt_str("listen"),
                http.prefix, http.threads, opt_uint("mysql-pool"), opened,
                opt_str("token-file")[0] != '\0' || getenv("TRACK_STATS_TOKEN")
                ? "required" : "not required");

    for ( ;; ) {
        if (sigwait(&set, &sig) != 0) {
            continue;
        }

        if (sig == SIGHUP) {
            tc_log_info("SIGHUP: reopening the log, rereading the token");
            tc_log_reopen();
            if (opt_str("token-file")[0] != '\0' && load_token() != 0) {
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
    st_http_stop();

pool_done:
    st_pool_destroy(&pool);

done:
    mysql_library_end();
    st_cache_free();
    st_http_set_token(NULL);
    free(password);

    if (rc == 0 && opt_str("pid-file")[0] != '\0') {
        unlink(opt_str("pid-file"));
    }

    tc_log_info("exiting");
    tc_log_close();

    return rc;
}
