/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: configuration table, config file and command-line flags. */
#ifndef TC_CONFIG_H
#define TC_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/rc.h"

typedef struct {
    char    *id;                    /* consumer id, names the processing list */

    char    *redis_host;
    long     redis_port;
    char    *redis_socket;
    char    *redis_password;
    long     redis_timeout_ms;
    char    *redis_sentinel;        /* addresses, as given */
    char    *redis_master;          /* the sentinels' name of the master */
    long     redis_sentinel_check_ms;
    char    *redis_cluster;         /* seed nodes, as given */
    long     cluster_shards;        /* 0: one per master when first learned */
    char    *shards;                /* "all" or shard numbers, as given */
    long     lease_ms;              /* lifetime of a shard's lease */
    char    *queue_key;
    char    *processing_prefix;
    char    *dead_key;
    long     dead_max;

    long     batch_size;
    long     lanes;                 /* consumers in this process group */
    long     lane_crash_limit;      /* short lives in a row: left down */
    long     linger_ms;
    long     block_ms;
    long     max_event_bytes;
    long     max_statement_bytes;
    long     user_cache;
    long     rollup_ms;             /* roll-up period */
    long     rollup_events;         /* rows per roll-up transaction */

    char    *mysql_host;
    long     mysql_port;
    char    *mysql_socket;
    char    *mysql_user;
    char    *mysql_password;
    char    *mysql_database;
    long     mysql_timeout;

    char    *timezone;
    long     retention_days;
    long     backoff_min_ms;
    long     backoff_max_ms;

    char    *log_file;
    long     log_level;
    long     drain;                 /* exit 0 once the queue is empty */

    /* derived by tc_conf_check() */
    struct tc_addr_s  *sentinels;   /* redis_sentinel parsed; NULL: none */
    size_t             nsentinels;
    struct tc_addr_s  *seeds;       /* redis_cluster parsed; NULL: none */
    size_t             nseeds;
    long              *shard_list;  /* shards parsed; NULL: all */
    size_t             nshard_list;
} tc_conf_t;

/* Fills conf with the defaults. */
void tc_conf_defaults(tc_conf_t *conf);
void tc_conf_free(tc_conf_t *conf);

typedef enum {
    TC_CONF_RUN = 0,
    TC_CONF_EXIT = 1,               /* --help or --version was printed */
    TC_CONF_ERROR = -1              /* message in err */
} tc_conf_rc_t;

/*
 * Parses argv: --config FILE first (file values), then every other flag,
 * which wins over the file.
 */
tc_conf_rc_t tc_conf_parse_args(tc_conf_t *conf, int argc, char **argv,
    char *err, size_t err_size);

/*
 * Defaults, then argv as tc_conf_parse_args() reads it, then
 * tc_conf_check(); conf holds nothing to free unless TC_CONF_RUN is
 * returned.
 */
tc_conf_rc_t tc_conf_load(tc_conf_t *conf, int argc, char **argv, char *err,
    size_t err_size);

/* Applies one "name value" setting; names accept '-' for '_'. */
int tc_conf_set(tc_conf_t *conf, const char *name, const char *value,
    char *err, size_t err_size);

int tc_conf_load_file(tc_conf_t *conf, const char *path,
    char *err, size_t err_size);

/*
 * Parses "all" (*out NULL, *n 0) or "I,J,..." (distinct numbers from 0,
 * separated by commas or spaces; malloc'ed).  TC_ERROR with a message in
 * err.
 */
tc_rc_t tc_conf_parse_shards(const char *text, long **out, size_t *n,
    char *err, size_t err_size);

/* Checks the combination of values after parsing. */
tc_rc_t tc_conf_check(tc_conf_t *conf, char *err, size_t err_size);

void tc_conf_usage(FILE *out);

#endif /* TC_CONFIG_H */
