/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * track-stats: the consumers' progress as Prometheus metrics (text format
 * 0.0.4), read from consumer_state: every batch's transaction updates its
 * consumer's row, so these are exactly what is committed, whichever host
 * or lane committed it; and the roll-up's backlog, from stats_pending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "query.h"


/* consumer_lanes has rows of lanes that died before their first batch */
static const char  state_sql[] =
    "SELECT s.consumer_id, s.batches, s.events, s.duplicates, s.dead,"
    " UNIX_TIMESTAMP(s.updated_at), l.restarts, l.crash_loop, l.shard_turns"
    " FROM consumer_state s LEFT JOIN consumer_lanes l USING (consumer_id)"
    " UNION ALL"
    " SELECT l.consumer_id, NULL, NULL, NULL, NULL, NULL, l.restarts,"
    " l.crash_loop, l.shard_turns FROM consumer_lanes l WHERE NOT EXISTS"
    " (SELECT 1 FROM consumer_state s WHERE s.consumer_id = l.consumer_id)"
    " ORDER BY 1";

/*
 * The roll-up's backlog: committed rows not yet in the statistics.  lag:
 * the age of the oldest pending range in ms (0 when none), how far the
 * statistics are behind the raw rows.
 */
static const char  pending_sql[] =
    "SELECT COUNT(*), COALESCE(SUM(events), 0),"
    " COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(committed_at), NOW(3)) DIV 1000,"
    " 0) FROM stats_pending";

enum { P_RANGES = 0, P_EVENTS, P_LAG_MS, P_COUNT };

enum { C_ID = 0, C_BATCHES, C_EVENTS, C_DUPLICATES, C_DEAD, C_UPDATED,
       C_RESTARTS, C_CRASH_LOOP, C_SHARD_TURNS, C_COUNT };

static const struct {
    int          col;
    const char  *name;
    const char  *type;
    const char  *help;
} metrics[] = {
    { C_BATCHES, "track_consumer_batches_total", "counter",
      "Batches committed to MariaDB by the consumer (lane)." },
    { C_EVENTS, "track_consumer_events_total", "counter",
      "Events stored by the consumer (lane)." },
    { C_DUPLICATES, "track_consumer_duplicates_total", "counter",
      "Events skipped because their eid was stored already." },
    { C_DEAD, "track_consumer_dead_letters_total", "counter",
      "Queue elements the consumer moved to the dead-letter list." },
    { C_UPDATED, "track_consumer_last_commit_seconds", "gauge",
      "Unix time of the consumer's last committed batch." },
    { C_RESTARTS, "track_consumer_lane_restarts_total", "counter",
      "Times the supervisor restarted the lane after it died." },
    { C_CRASH_LOOP, "track_consumer_lane_crash_loop", "gauge",
      "1 while the supervisor leaves the lane down (it died lane_crash_limit "
      "times in a row within 2 s of its start)." },
    { C_SHARD_TURNS, "track_consumer_shard_turns_total", "counter",
      "Times a lane gave this shard up for another shard's turn (Redis "
      "Cluster, fewer lanes than shards)." },
};

#define NMETRICS  (sizeof(metrics) / sizeof(metrics[0]))


typedef struct {
    char                 id[TC_FIELD_MAX];
    unsigned long long   v[C_COUNT];
} tc_row_t;

typedef struct {
    size_t               n;
    size_t               size;
    int                  failed;    /* out of memory */
    tc_row_t            *r;
} tc_rows_t;


static tc_rc_t
state_row(void *arg, const tc_col_t *cols)
{
    int           i;
    tc_rows_t    *rows = arg;
    tc_row_t     *r;

    if (rows->n == rows->size) {
        r = realloc(rows->r, (rows->size * 2 + 8) * sizeof(tc_row_t));
        if (r == NULL) {
            rows->failed = 1;
            return TC_ERROR;
        }
        rows->r = r;
        rows->size = rows->size * 2 + 8;
    }

    r = &rows->r[rows->n++];
    memcpy(r->id, cols[C_ID].str, cols[C_ID].len);
    r->id[cols[C_ID].len] = '\0';

    for (i = C_BATCHES; i < C_COUNT; i++) {
        r->v[i] = cols[i].is_null ? 0 : cols[i].u64;
    }

    return TC_OK;
}


static tc_rc_t
pending_row(void *arg, const tc_col_t *cols)
{
    int                  i;
    unsigned long long  *v = arg;

    for (i = 0; i < P_COUNT; i++) {
        v[i] = cols[i].is_null ? 0 : cols[i].u64;
    }

    return TC_OK;
}


/*
 * The roll-up's gauges; none when stats_pending cannot be read (a database
 * no consumer with a roll-up has started on yet).
 */
static void
put_pending(FILE *f, tc_pool_t *pool, tc_conn_t *c)
{
    int                  i;
    tc_col_t             cols[P_COUNT];
    unsigned long long   v[P_COUNT];

    memset(cols, 0, sizeof(cols));
    memset(v, 0, sizeof(v));
    for (i = 0; i < P_COUNT; i++) {
        cols[i].type = TC_T_U64;
    }

    if (tc_db_query(pool, c, pending_sql, NULL, 0, cols, P_COUNT,
                    pending_row, v) != TC_DB_OK)
    {
        return;
    }

    fprintf(f, "# HELP track_rollup_pending_ranges Committed id ranges the"
            " roll-up has not counted into the statistics yet.\n"
            "# TYPE track_rollup_pending_ranges gauge\n"
            "track_rollup_pending_ranges %llu\n"
            "# HELP track_rollup_pending_events Stored events not counted in"
            " the statistics yet.\n"
            "# TYPE track_rollup_pending_events gauge\n"
            "track_rollup_pending_events %llu\n"
            "# HELP track_rollup_lag_seconds Age of the oldest range not"
            " counted yet (0: none): how far the statistics are behind.\n"
            "# TYPE track_rollup_lag_seconds gauge\n"
            "track_rollup_lag_seconds %llu.%03llu\n",
            v[P_RANGES], v[P_EVENTS], v[P_LAG_MS] / 1000, v[P_LAG_MS] % 1000);
}


/* a label value: backslash, double quote and newline escaped */
static void
put_label(FILE *f, const char *s)
{
    for ( ; *s; s++) {
        if (*s == '\\' || *s == '"') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*s, f);
        }
    }
}


char *
tc_metrics_run(tc_pool_t *pool, tc_conn_t *c, size_t *len,
    tc_error_t *err)
{
    int            rc, i;
    char          *text;
    FILE          *f;
    size_t         m, k;
    tc_rows_t      rows;
    tc_col_t       cols[C_COUNT];

    memset(cols, 0, sizeof(cols));
    for (i = C_BATCHES; i < C_COUNT; i++) {
        cols[i].type = TC_T_U64;
    }

    memset(&rows, 0, sizeof(rows));

    rc = tc_db_query(pool, c, state_sql, NULL, 0, cols, C_COUNT, state_row,
                     &rows);
    if (rows.failed) {
        free(rows.r);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    if (tc_db_failed(rc, err)) {
        free(rows.r);
        return NULL;
    }

    text = NULL;
    f = open_memstream(&text, len);
    if (f == NULL) {
        free(rows.r);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    for (m = 0; m < NMETRICS; m++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", metrics[m].name,
                metrics[m].help, metrics[m].name, metrics[m].type);

        for (k = 0; k < rows.n; k++) {
            fprintf(f, "%s{consumer=\"", metrics[m].name);
            put_label(f, rows.r[k].id);
            fprintf(f, "\"} %llu\n", rows.r[k].v[metrics[m].col]);
        }
    }

    free(rows.r);

    put_pending(f, pool, c);

    if (fclose(f) != 0 || text == NULL) {
        free(text);
        tc_set_error(err, 500, "internal_error", "out of memory");
        return NULL;
    }

    return text;
}
