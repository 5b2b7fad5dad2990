/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: configuration table, config file and command-line flags. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/options.h"
#include "common/rc.h"

#include "config.h"
#include "sentinel.h"

#define TC_VERSION  "0.1.0"

#define OFF(f)  offsetof(tc_conf_t, f)

static const tc_opt_t  options[] = {
    { "id", TC_OPT_STR, OFF(id), "", 0, 0, NULL,
      "consumer id: [A-Za-z0-9._-], at most 48 bytes; one running process\n"
      "per id (default: the host name)" },

    { "redis_host", TC_OPT_STR, OFF(redis_host), "127.0.0.1", 0, 0, NULL,
      "Redis address (numeric or a name)" },
    { "redis_port", TC_OPT_LONG, OFF(redis_port), "6379", 1, 65535, NULL,
      "Redis TCP port" },
    { "redis_socket", TC_OPT_STR, OFF(redis_socket), "", 0, 0, NULL,
      "Redis unix socket; used instead of host and port when set" },
    { "redis_password", TC_OPT_STR, OFF(redis_password), "", 0, 0, NULL,
      "Redis AUTH password (empty: no AUTH)" },
    { "redis_timeout_ms", TC_OPT_LONG, OFF(redis_timeout_ms), "5000", 100,
      600000, NULL, "Redis connect and command timeout" },
    { "redis_sentinel", TC_OPT_STR, OFF(redis_sentinel), "", 0, 0, NULL,
      "find the master through these Redis Sentinels: host[:port] (port\n"
      "26379 by default), [ipv6]:port or unix:path, separated by spaces or\n"
      "commas; asked in turn at every (re)connect, which then ignores\n"
      "redis_host, redis_port and redis_socket.  A lost connection, a\n"
      "timeout or a READONLY reply makes the consumer ask again, so it\n"
      "follows a failover (the module's track_redis_sentinel)" },
    { "redis_master", TC_OPT_STR, OFF(redis_master), "mymaster", 0, 0, NULL,
      "the sentinels' name of the master (track_redis_master)" },
    { "redis_sentinel_check_ms", TC_OPT_LONG, OFF(redis_sentinel_check_ms),
      "1000", 0, 3600000, NULL,
      "with redis_sentinel: between batches, ask the sentinels this often\n"
      "whether they name another master now, and move to it without\n"
      "waiting for an error (a promoted replica is followed at once, not\n"
      "when the old master is demoted; 0: on errors only)" },
    { "redis_cluster", TC_OPT_STR, OFF(redis_cluster), "", 0, 0, NULL,
      "seed nodes of a Redis Cluster, host:port separated by commas or\n"
      "spaces, instead of redis_host/port/socket and redis_sentinel: the\n"
      "lanes read the shard lists the module's track_redis_cluster fills\n"
      "(queue_key:{sI.K}), each lane one shard at a time under a lease" },
    { "cluster_shards", TC_OPT_LONG, OFF(cluster_shards), "0", 0, 16384, NULL,
      "number of shard lists, as the module's track_redis_cluster_shards\n"
      "(0: one per master when the slot map is first learned)" },
    { "shards", TC_OPT_STR, OFF(shards), "all", 0, 0, NULL,
      "with redis_cluster: the shard lists this consumer may own, \"all\"\n"
      "or numbers from 0 (\"0,2\"); it owns at most lanes of them at once\n"
      "and takes over any of them whose owner's lease expired" },
    { "lease_ms", TC_OPT_LONG, OFF(lease_ms), "5000", 300, 600000, NULL,
      "with redis_cluster: lifetime of a shard's lease (renewed at every\n"
      "batch and at least every third of it while waiting); a standby\n"
      "takes a shard over this long after its owner stopped" },
    { "queue_key", TC_OPT_STR, OFF(queue_key), "track:events", 0, 0, NULL,
      "the list the nginx module pushes events onto" },
    { "processing_prefix", TC_OPT_STR, OFF(processing_prefix),
      "track:processing:", 0, 0, NULL,
      "prefix of this consumer's processing list (prefix + id); the key\n"
      "prefix + id + \":seq\" holds the list's batch sequence number" },
    { "dead_key", TC_OPT_STR, OFF(dead_key), "track:dead", 0, 0, NULL,
      "dead-letter list: {\"reason\",\"code\",\"consumer\",\"raw\"} objects" },
    { "dead_max", TC_OPT_LONG, OFF(dead_max), "100000", 0, LONG_MAX, NULL,
      "keep at most this many dead letters, the newest (0: no limit)" },

    { "batch_size", TC_OPT_LONG, OFF(batch_size), "2000", 1, 50000, NULL,
      "events per batch (one MySQL transaction)" },
    { "lanes", TC_OPT_LONG, OFF(lanes), "2", 1, 16, NULL,
      "consumers in this process group, each with its own processing\n"
      "list (id, then id/1, id/2...) and MySQL transaction: while one\n"
      "lane's transaction runs, the next decodes and stores its batch" },
    { "lane_crash_limit", TC_OPT_LONG, OFF(lane_crash_limit), "5", 1, 1000,
      NULL,
      "a lane that dies is restarted: at once after 2 s or more of life,\n"
      "else after a delay doubling from backoff_min_ms; after this many\n"
      "lives shorter than 2 s in a row it is left down (a crash loop)\n"
      "until SIGHUP" },
    { "linger_ms", TC_OPT_LONG, OFF(linger_ms), "200", 0, 60000, NULL,
      "how long a batch that is not full waits for more events" },
    { "block_ms", TC_OPT_LONG, OFF(block_ms), "2000", 10, 600000, NULL,
      "blocking pop timeout when the queue is empty" },
    { "max_event_bytes", TC_OPT_LONG, OFF(max_event_bytes), "1048576", 64,
      16000000, NULL, "larger queue elements go to the dead-letter list" },
    { "max_statement_bytes", TC_OPT_LONG, OFF(max_statement_bytes),
      "4194304", 65536, 1073741824, NULL,
      "split multi-row INSERTs above this size (keep below the server's\n"
      "max_allowed_packet)" },
    { "user_cache", TC_OPT_LONG, OFF(user_cache), "200000", 0, 100000000, NULL,
      "remembered (day, app, module, action, uid) already counted as\n"
      "users, to skip their INSERT IGNORE (0: off)" },
    { "rollup_ms", TC_OPT_LONG, OFF(rollup_ms), "300", 10, 60000, NULL,
      "how often the roll-up counts committed rows into the statistics" },
    { "rollup_events", TC_OPT_LONG, OFF(rollup_events), "30000", 100, 60000,
      NULL, "most rows counted in one roll-up transaction" },

    { "mysql_host", TC_OPT_STR, OFF(mysql_host), "127.0.0.1", 0, 0, NULL,
      "MySQL/MariaDB address" },
    { "mysql_port", TC_OPT_LONG, OFF(mysql_port), "3306", 1, 65535, NULL,
      "MySQL TCP port" },
    { "mysql_socket", TC_OPT_STR, OFF(mysql_socket), "", 0, 0, NULL,
      "MySQL unix socket; used instead of host and port when set" },
    { "mysql_user", TC_OPT_STR, OFF(mysql_user), "track_writer", 0, 0, NULL,
      "MySQL user" },
    { "mysql_password", TC_OPT_STR, OFF(mysql_password), "", 0, 0, NULL,
      "MySQL password (prefer the config file: flags show in ps)" },
    { "mysql_database", TC_OPT_STR, OFF(mysql_database), "track", 0, 0, NULL,
      "database of the day tables and statistics" },
    { "mysql_timeout", TC_OPT_LONG, OFF(mysql_timeout), "60", 1, 3600, NULL,
      "MySQL connect, read and write timeout in seconds" },

    { "timezone", TC_OPT_STR, OFF(timezone), "", 0, 0, NULL,
      "time zone of day tables and statistics, e.g. Asia/Shanghai or UTC\n"
      "(default: the system's)" },
    { "retention_days", TC_OPT_LONG, OFF(retention_days), "0", 0, 100000, NULL,
      "drop day tables (and user membership) older than today minus this\n"
      "many days, checked hourly (0: never)" },
    { "backoff_min_ms", TC_OPT_LONG, OFF(backoff_min_ms), "100", 1, 600000,
      NULL,
      "first retry delay when Redis or MySQL fails" },
    { "backoff_max_ms", TC_OPT_LONG, OFF(backoff_max_ms), "10000", 1, 3600000,
      NULL,
      "cap of the doubling retry delay" },

    { "log_file", TC_OPT_STR, OFF(log_file), "", 0, 0, NULL,
      "log file, reopened on SIGHUP (default: stderr)" },
    { "log_level", TC_OPT_LEVEL, OFF(log_level), "info", 0, 0, NULL,
      "error, warn, info or debug" },
    { "drain", TC_OPT_BOOL, OFF(drain), "no", 0, 0, NULL,
      "exit 0 once the queue and the processing list are empty\n"
      "(benchmarks, one-off catch-up jobs)" },
};

static const tc_opt_table_t  table = TC_OPT_TABLE(options);


void
tc_conf_defaults(tc_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    tc_opt_defaults(&table, conf);
}


void
tc_conf_free(tc_conf_t *conf)
{
    tc_addr_list_free(conf->sentinels, conf->nsentinels);
    conf->sentinels = NULL;
    conf->nsentinels = 0;
    tc_addr_list_free(conf->seeds, conf->nseeds);
    conf->seeds = NULL;
    conf->nseeds = 0;
    free(conf->shard_list);
    conf->shard_list = NULL;
    conf->nshard_list = 0;

    tc_opt_free(&table, conf);
}


int
tc_conf_set(tc_conf_t *conf, const char *name, const char *value,
    char *err, size_t err_size)
{
    return tc_opt_set(&table, conf, name, value, err, err_size);
}


int
tc_conf_load_file(tc_conf_t *conf, const char *path, char *err,
    size_t err_size)
{
    return tc_opt_load_file(&table, conf, path, err, err_size);
}


void
tc_conf_usage(FILE *out)
{
    fprintf(out,
        "usage: track-consumer [--config FILE] [--NAME=VALUE ...]\n"
        "\n"
        "Moves events from a Redis list into MariaDB/MySQL day tables and\n"
        "statistics, exactly once.  Settings come from defaults, then the\n"
        "config file (lines \"name = value\", '#' comments), then flags\n"
        "(--name=value or --name value; '-' and '_' are the same).\n"
        "\n"
        "  -c, --config FILE   read settings from FILE\n"
        "  -h, --help          print this help\n"
        "  -V, --version       print the version\n"
        "\n"
        "Settings (default in brackets):\n");

    tc_opt_usage(&table, out);

    fprintf(out,
        "\n"
        "Signals: SIGTERM/SIGINT finish the batch in hand and exit 0;\n"
        "SIGHUP reopens the log file and, with lanes, reads the settings\n"
        "again and replaces the lanes once each has finished its batch.\n");
}


tc_conf_rc_t
tc_conf_load(tc_conf_t *conf, int argc, char **argv, char *err,
    size_t err_size)
{
    tc_conf_rc_t  rc;

    tc_conf_defaults(conf);

    rc = tc_conf_parse_args(conf, argc, argv, err, err_size);
    if (rc == TC_CONF_RUN && tc_conf_check(conf, err, err_size) != TC_OK) {
        rc = TC_CONF_ERROR;
    }
    if (rc != TC_CONF_RUN) {
        tc_conf_free(conf);
    }

    return rc;
}


tc_conf_rc_t
tc_conf_parse_args(tc_conf_t *conf, int argc, char **argv, char *err,
    size_t err_size)
{
    int          i;
    const char  *arg, *config;

    static const char *const  handled[] = { "-c", "--config", NULL };

    /* pass 1: help, version and the config file */
    config = NULL;
    for (i = 1; i < argc; i++) {
        arg = argv[i];

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            tc_conf_usage(stdout);
            return TC_CONF_EXIT;
        }

        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            printf("track-consumer %s\n", TC_VERSION);
            return TC_CONF_EXIT;
        }

        if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "%s needs a file name", arg);
                return TC_CONF_ERROR;
            }
            config = argv[++i];

        } else if (strncmp(arg, "--config=", 9) == 0) {
            config = arg + 9;
        }
    }

    if (config != NULL
        && tc_conf_load_file(conf, config, err, err_size) != TC_OK)
    {
        return TC_CONF_ERROR;
    }

    /* pass 2: every other flag, which wins over the file */
    if (tc_opt_parse_flags(&table, conf, argc, argv, handled, err, err_size)
        != TC_OK)
    {
        return TC_CONF_ERROR;
    }

    return TC_CONF_RUN;
}


static int
id_valid(const char *id)
{
    size_t  n;

    for (n = 0; id[n] != '\0'; n++) {
        if (!isalnum((unsigned char) id[n]) && id[n] != '.' && id[n] != '_'
            && id[n] != '-')
        {
            return 0;
        }
    }

    return n > 0 && n <= 48;
}


tc_rc_t
tc_conf_parse_shards(const char *text, long **out, size_t *n, char *err,
    size_t err_size)
{
    long         v, *list;
    char        *end;
    size_t       i, cap;
    const char  *p;

    *out = NULL;
    *n = 0;

    while (*text == ' ') {
        text++;
    }
    if (strcmp(text, "all") == 0) {
        return TC_OK;
    }

    cap = strlen(text) / 2 + 1;
    list = malloc(cap * sizeof(long));
    if (list == NULL) {
        snprintf(err, err_size, "out of memory");
        return TC_ERROR;
    }

    for (p = text; *p != '\0'; /* void */) {
        if (*p == ',' || *p == ' ') {
            p++;
            continue;
        }

        errno = 0;
        v = strtol(p, &end, 10);
        if (!isdigit((unsigned char) *p) || errno != 0 || v >= 16384
            || (*end != '\0' && *end != ',' && *end != ' '))
        {
            snprintf(err, err_size, "\"%s\": expected \"all\" or shard "
                     "numbers 0 to 16383 separated by commas", text);
            free(list);
            return TC_ERROR;
        }

        for (i = 0; i < *n; i++) {
            if (list[i] == v) {
                snprintf(err, err_size, "\"%s\": shard %ld is named "
                         "twice", text, v);
                free(list);
                return TC_ERROR;
            }
        }
        list[(*n)++] = v;
        p = end;
    }

    if (*n == 0) {
        snprintf(err, err_size, "empty: expected \"all\" or shard numbers");
        free(list);
        return TC_ERROR;
    }

    *out = list;

    return TC_OK;
}


/*
 * Keys whose hash tag must be the shard's own ({sI.K}), and the shard's
 * batch marker id (queue_key:{sI.K}) within consumer_state's 64 bytes and
 * the id character set plus ':'.
 */
static int
cluster_key_valid(const char *key, size_t max)
{
    size_t  n;

    for (n = 0; key[n] != '\0'; n++) {
        if (!isalnum((unsigned char) key[n]) && strchr("._-:", key[n]) == NULL)
        {
            return 0;
        }
    }

    return n <= max;
}


static tc_rc_t
check_cluster(tc_conf_t *conf, char *err, size_t err_size)
{
    char    msg[200];
    size_t  i;

    tc_addr_list_free(conf->seeds, conf->nseeds);
    conf->seeds = NULL;
    conf->nseeds = 0;
    free(conf->shard_list);
    conf->shard_list = NULL;
    conf->nshard_list = 0;

    if (tc_conf_parse_shards(conf->shards, &conf->shard_list,
                             &conf->nshard_list, msg, sizeof(msg))
        != TC_OK)
    {
        snprintf(err, err_size, "shards: %s", msg);
        return TC_ERROR;
    }

    if (conf->redis_cluster[0] == '\0') {
        if (conf->nshard_list > 0) {
            snprintf(err, err_size, "shards needs redis_cluster");
            return TC_ERROR;
        }
        return TC_OK;
    }

    if (conf->redis_sentinel[0] != '\0') {
        snprintf(err, err_size, "redis_cluster and redis_sentinel exclude "
                 "each other: a cluster fails over by itself");
        return TC_ERROR;
    }

    if (conf->redis_socket[0] != '\0') {
        snprintf(err, err_size, "redis_cluster and redis_socket exclude "
                 "each other: the cluster names its nodes");
        return TC_ERROR;
    }

    if (tc_addr_list_parse(conf->redis_cluster, 6379, &conf->seeds,
                           &conf->nseeds, msg, sizeof(msg))
        != TC_OK)
    {
        snprintf(err, err_size, "redis_cluster: %s", msg);
        return TC_ERROR;
    }

    for (i = 0; i < conf->nseeds; i++) {
        if (conf->seeds[i].port == 0) {
            snprintf(err, err_size, "redis_cluster: \"%s\" is a unix "
                     "socket: cluster nodes are host:port",
                     conf->seeds[i].host);
            return TC_ERROR;
        }
    }

    for (i = 0; i < conf->nshard_list; i++) {
        if (conf->cluster_shards > 0
            && conf->shard_list[i] >= conf->cluster_shards)
        {
            snprintf(err, err_size, "shards: shard %ld does not exist with "
                     "cluster_shards = %ld (they are 0 to %ld)",
                     conf->shard_list[i], conf->cluster_shards,
                     conf->cluster_shards - 1);
            return TC_ERROR;
        }
    }

    if (!cluster_key_valid(conf->queue_key, 40)
        || !cluster_key_valid(conf->processing_prefix, 64)
        || !cluster_key_valid(conf->dead_key, 64))
    {
        snprintf(err, err_size, "with redis_cluster, queue_key (at most 40 "
                 "bytes), processing_prefix and dead_key may hold only "
                 "A-Z a-z 0-9 . _ - : (each shard's keys get its hash tag)");
        return TC_ERROR;
    }

    return TC_OK;
}


tc_rc_t
tc_conf_check(tc_conf_t *conf, char *err, size_t err_size)
{
    char   host[256], msg[200], *p;

    if (conf->id[0] == '\0') {
        if (gethostname(host, sizeof(host)) != 0) {
            snprintf(err, err_size, "no --id given and gethostname() "
                     "failed: %s", strerror(errno));
            return TC_ERROR;
        }
        host[sizeof(host) - 1] = '\0';

        /* the short name, with anything outside the id charset replaced */
        p = strchr(host, '.');
        if (p != NULL) {
            *p = '\0';
        }
        for (p = host; *p != '\0'; p++) {
            if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-') {
                *p = '_';
            }
        }
        host[48] = '\0';

        free(conf->id);
        conf->id = strdup(host);
        if (conf->id == NULL) {
            snprintf(err, err_size, "out of memory");
            return TC_ERROR;
        }
    }

    if (!id_valid(conf->id)) {
        snprintf(err, err_size, "invalid id \"%s\": use 1 to 48 of "
                 "A-Z a-z 0-9 . _ -", conf->id);
        return TC_ERROR;
    }

    if (conf->backoff_max_ms < conf->backoff_min_ms) {
        snprintf(err, err_size, "backoff_max_ms (%ld) is below "
                 "backoff_min_ms (%ld)", conf->backoff_max_ms,
                 conf->backoff_min_ms);
        return TC_ERROR;
    }

    if (conf->queue_key[0] == '\0' || conf->dead_key[0] == '\0') {
        snprintf(err, err_size, "queue_key and dead_key must not be empty");
        return TC_ERROR;
    }

    if (conf->mysql_database[0] == '\0') {
        snprintf(err, err_size, "mysql_database must not be empty");
        return TC_ERROR;
    }

    tc_addr_list_free(conf->sentinels, conf->nsentinels);
    conf->sentinels = NULL;
    conf->nsentinels = 0;

    if (conf->redis_sentinel[0] != '\0') {
        if (tc_addr_list_parse(conf->redis_sentinel, 26379, &conf->sentinels,
                               &conf->nsentinels, msg, sizeof(msg))
            != TC_OK)
        {
            snprintf(err, err_size, "redis_sentinel: %s", msg);
            return TC_ERROR;
        }

        if (conf->redis_master[0] == '\0') {
            snprintf(err, err_size, "redis_master must not be empty");
            return TC_ERROR;
        }
    }

    return check_cluster(conf, err, err_size);
}
