/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the roll-up: statistics from committed id ranges. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <mysqld_error.h>

#include "common/buf.h"
#include "common/date.h"
#include "common/log.h"

#include "batch.h"
#include "fault.h"
#include "rollup.h"
#include "sql.h"

#define TC_ROLLUP_RANGES     256    /* pending rows looked at per pass */
#define TC_ROLLUP_FINAL_S    10     /* at stop: wait for the lane's rows */
#define TC_RETENTION_EVERY   3600

/*
 * A pass runs with autocommit off: a transaction Galera aborts is gone
 * without a word to the statements after the one that answers 1213 (or,
 * aborted in its last moment, succeeds), and with autocommit on they would
 * commit one by one (counters without their DELETE: counted twice).  Off,
 * they wait for a COMMIT the DELETE's checks below refuse.
 */
static const char  pass_begin[] = "SET autocommit = 0;START TRANSACTION";
static const char  pass_commit[] = "COMMIT;SET autocommit = 1";
static const char  pass_end[] = "SET autocommit = 1";


typedef struct {
    uint64_t   first;
    uint64_t   last;
    uint32_t   day;
    uint64_t   events;
} tc_range_t;


uint32_t
tc_rollup_day(const char *date)
{
    char      rest;
    unsigned  y, m, d;

    if (date == NULL
        || sscanf(date, "%4u-%2u-%2u%c", &y, &m, &d, &rest) != 3
        || m < 1 || m > 12 || d < 1 || d > 31)
    {
        return 0;
    }

    return y * 10000 + m * 100 + d;
}


/*
 * Locks the oldest pending ranges (FOR UPDATE: a second roll-up, should
 * the lock ever be shared, waits and then finds them gone) and keeps those
 * whose rows fit in rollup_events, at least one; with some, takes the
 * roll-up's turn.
 */
static tc_rc_t
take_ranges(tc_store_t *s, tc_range_t *out, size_t *n, int *more,
    uint64_t *holder)
{
    char          sql[160];
    size_t        found;
    uint64_t      events;
    tc_rc_t       rc;
    MYSQL_ROW     row;
    MYSQL_RES    *res;
    tc_range_t   *r;

    rc = tc_store_run(s, pass_begin, sizeof(pass_begin) - 1,
                      "START TRANSACTION");
    if (rc != TC_OK) {
        return rc;
    }

    snprintf(sql, sizeof(sql), "SELECT first_id, last_id, day, events"
             " FROM stats_pending ORDER BY first_id LIMIT %d FOR UPDATE",
             TC_ROLLUP_RANGES);
    if (mysql_query(s->m, sql) != 0
        || (res = mysql_store_result(s->m)) == NULL)
    {
        return tc_store_failed(s, "reading stats_pending");
    }

    *n = 0;
    found = 0;
    events = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        found++;
        r = &out[*n];
        r->first = strtoull(row[0], NULL, 10);
        r->last = strtoull(row[1], NULL, 10);
        r->day = tc_rollup_day(row[2]);
        r->events = strtoull(row[3], NULL, 10);
        if (*n > 0 && events + r->events > (uint64_t) s->conf->rollup_events)
        {
            continue;
        }
        events += r->events;
        (*n)++;
    }
    mysql_free_result(res);

    *more = found > *n || found == TC_ROLLUP_RANGES;

    if (*n == 0) {
        return TC_OK;
    }

    /*
     * The cluster-wide turn (sql/schema.sql, rollup_lock): under Galera a
     * roll-up on another node at the same time makes this transaction
     * fail certification (a deadlock error: retried), not count twice.
     * The holder, random, is this transaction's claim: the DELETE checks
     * it is still there, not rolled back by an abort reported late.
     */
    if (getrandom(holder, sizeof(*holder), 0) != sizeof(*holder)) {
        tc_log_error("roll-up: getrandom() failed");
        return TC_RETRY;
    }
    snprintf(sql, sizeof(sql), "UPDATE rollup_lock SET passes = passes + 1,"
             " holder = %" PRIu64 " WHERE name = 'rollup'", *holder);

    return tc_store_run(s, sql, strlen(sql),
                        "taking the roll-up's turn (rollup_lock)");
}


/* The stored rows of the ranges of one day; *res NULL: no such table. */
static tc_rc_t
day_rows(tc_store_t *s, const tc_range_t *r, size_t n, uint32_t day,
    MYSQL_RES **res)
{
    char      table[16];
    size_t    i, k;
    tc_rc_t   rc;
    tc_buf_t  q;

    tc_day_table(day, table);
    tc_buf_init(&q);
    tc_buf_addf(&q, "SELECT recv_ts, app, module, action, object, uid"
                " FROM `%s` WHERE ", table);
    for (i = 0, k = 0; i < n; i++) {
        if (r[i].day == day) {
            tc_buf_addf(&q, "%sid BETWEEN %" PRIu64 " AND %" PRIu64,
                        k++ ? " OR " : "", r[i].first, r[i].last);
        }
    }

    *res = NULL;
    rc = TC_OK;
    if (tc_buf_cstr(&q) == NULL) {
        rc = TC_RETRY;

    } else if (mysql_real_query(s->m, q.data, (unsigned long) q.len) != 0
               || (*res = mysql_store_result(s->m)) == NULL)
    {
        if (mysql_errno(s->m) == ER_NO_SUCH_TABLE) {
            /* dropped by hand: retention keeps tables with pending rows */
            tc_log_warn("roll-up: %s is gone; its pending rows are not "
                        "counted", table);
        } else {
            rc = tc_store_failed(s, "reading rows to count");
        }
    }
    tc_buf_free(&q);

    return rc;
}


static void
str_of(tc_str_t *out, const char *v, unsigned long len)
{
    out->data = v;
    out->len = v ? len : 0;
}


/* The rows as TC_EV_OK events of b (they point into res). */
static void
fill_events(tc_batch_t *b, size_t *k, MYSQL_RES *res, uint32_t day)
{
    uint32_t        d;
    unsigned        hour;
    MYSQL_ROW       row;
    tc_event_t     *ev;
    unsigned long  *lens;

    while ((row = mysql_fetch_row(res)) != NULL) {
        lens = mysql_fetch_lengths(res);
        ev = &b->ev[(*k)++];
        ev->recv_ts = strtoll(row[0], NULL, 10);
        str_of(&ev->app, row[1], lens[1]);
        str_of(&ev->module, row[2], lens[2]);
        str_of(&ev->action, row[3], lens[3]);
        str_of(&ev->object, row[4], lens[4]);
        str_of(&ev->uid, row[5], lens[5]);

        /* the day of the table; the hour in the consumer's time zone */
        ev->day = day;
        ev->hour = tc_day_of(ev->recv_ts, &d, &hour) == TC_OK ? hour : 0;
        ev->status = TC_EV_OK;
    }
}


static long
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* The first ids of the ranges, the list of an IN (), closed. */
static void
pending_ids(tc_buf_t *q, const tc_range_t *r, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        tc_buf_addf(q, "%s%" PRIu64, i ? "," : "", r[i].first);
    }
    tc_buf_adds(q, ")");
}


tc_rc_t
tc_rollup_pass(tc_store_t *s, size_t *ranges, int *more)
{
    int           isnull;
    long          t[5];
    size_t        i, j, k, n, nres, total, nseen;
    tc_rc_t       rc;
    uint64_t      deleted, holder, left;
    tc_buf_t      q;
    tc_batch_t    b;
    uint32_t      res_day[TC_ROLLUP_RANGES];
    tc_range_t    r[TC_ROLLUP_RANGES];
    MYSQL_RES    *res[TC_ROLLUP_RANGES];

    n = 0;
    *ranges = 0;
    *more = 0;
    nres = 0;
    memset(&b, 0, sizeof(b));
    memset(&s->stats, 0, sizeof(s->stats));
    tc_buf_init(&q);

    t[0] = now_ms();
    rc = take_ranges(s, r, &n, more, &holder);
    if (rc != TC_OK || n == 0) {
        goto done;
    }

    /* one query per day, in day order of first appearance */
    total = 0;
    for (i = 0; i < n; i++) {
        for (j = 0; j < i && r[j].day != r[i].day; j++) {
            /* void */
        }
        if (j < i) {
            continue;
        }
        rc = day_rows(s, r, n, r[i].day, &res[nres]);
        if (rc != TC_OK) {
            goto done;
        }
        if (res[nres] != NULL) {
            total += mysql_num_rows(res[nres]);
            res_day[nres++] = r[i].day;
        }
    }

    tc_fault_point("rollup_after_read");
    t[1] = now_ms();

    if (tc_batch_init(&b, total) != TC_OK) {
        tc_log_error("roll-up: out of memory for %zu rows", total);
        rc = TC_RETRY;
        goto done;
    }

    k = 0;
    for (i = 0; i < nres; i++) {
        fill_events(&b, &k, res[i], res_day[i]);
    }
    tc_batch_rank(&b);
    t[2] = now_ms();

    rc = tc_store_memberships(s, &b, &q, &nseen);
    if (rc != TC_OK) {
        goto done;
    }
    t[3] = now_ms();

    rc = tc_store_counters(s, &b);
    if (rc != TC_OK) {
        goto done;
    }
    t[4] = now_ms();

    tc_fault_sql(&q, "rollup_delete");
    tc_buf_addf(&q, "DELETE FROM stats_pending WHERE (SELECT holder"
                " FROM rollup_lock WHERE name = 'rollup') = %" PRIu64
                " AND first_id IN (", holder);
    pending_ids(&q, r, n);

    if (tc_buf_cstr(&q) == NULL) {
        rc = TC_RETRY;
        goto done;
    }
    rc = tc_store_run_affected(s, q.data, q.len, "counting rows", &deleted);
    if (rc != TC_OK) {
        goto done;
    }

    /*
     * Every range taken must still be here, and the pass's claim: a range
     * already gone was counted by another roll-up (another Galera node),
     * and committing would count it twice; a claim gone means this
     * transaction was aborted and the statements since run in another.
     * Roll back and take the ranges afresh.
     */
    if (deleted != (uint64_t) n) {
        tc_log_warn("roll-up: %" PRIu64 " of %zu pending ranges were still "
                    "there to delete under the pass's claim (the others "
                    "were counted meanwhile, or the pass was aborted); "
                    "rolling it back", deleted, n);
        rc = TC_RETRY;
        goto done;
    }

    tc_fault_point("rollup_before_commit");

    /* COMMIT alone, and read back: an abort reported late commits nothing */
    tc_buf_reset(&q);
    tc_fault_sql(&q, "rollup_commit");
    tc_buf_adds(&q, "COMMIT;SET autocommit = 1;"
                "SELECT COUNT(*) FROM stats_pending WHERE first_id IN (");
    pending_ids(&q, r, n);
    rc = tc_store_query_u64(s, tc_buf_cstr(&q), q.len, "COMMIT", &left,
                            &isnull);
    if (rc != TC_OK) {
        goto done;
    }
    if (left != 0) {
        tc_log_warn("roll-up: the pass's COMMIT succeeded, but %" PRIu64
                    " of its %zu pending ranges are still there (a Galera "
                    "conflict reported late); taking them again", left, n);
        rc = TC_RETRY;
        goto done;
    }

    tc_store_remember_users(s, nseen);
    s->stats.stored = total;
    *ranges = n;

    /* where a pass's time goes: see bench/README.md, the roll-up */
    tc_log_debug("roll-up: %zu ranges, %zu rows counted, %zu new users; "
                 "ms: read %ld, rank %ld, memberships %ld, counters %ld, "
                 "commit %ld", n, total, s->stats.new_users, t[1] - t[0],
                 t[2] - t[1], t[3] - t[2], t[4] - t[3], now_ms() - t[4]);
    tc_fault_point("rollup_after_commit");

done:

    if (rc == TC_OK && n == 0 && s->m != NULL) {
        rc = tc_store_run(s, pass_commit, sizeof(pass_commit) - 1, "COMMIT");
    }

    if (rc != TC_OK && rc != TC_DOWN && s->m != NULL) {
        if (mysql_rollback(s->m) != 0) {
            tc_store_failed(s, "ROLLBACK");
            rc = TC_DOWN;

        } else if (tc_store_run(s, pass_end, sizeof(pass_end) - 1,
                                "SET autocommit = 1") != TC_OK)
        {
            rc = TC_DOWN;       /* reconnect rather than stay without it */
        }
    }

    tc_batch_free(&b);
    for (i = 0; i < nres; i++) {
        mysql_free_result(res[i]);
    }
    tc_buf_free(&q);

    return rc;
}


/* Waits ms, or less when the thread is told to stop; 1: stop. */
static int
rollup_wait(tc_rollup_t *r, long ms)
{
    int              stop;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) != 0) {
            break;
        }
    }
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);

    return stop;
}


static void
rollup_down(tc_rollup_t *r, const char *what)
{
    tc_store_close(&r->store);
    r->locked = 0;
    tc_log_warn("roll-up: %s: retrying in %ld ms", what, r->backoff);
}


static long
rollup_backoff(tc_rollup_t *r)
{
    long  ms;

    ms = r->backoff;
    r->backoff = ms * 2 > r->conf->backoff_max_ms ? r->conf->backoff_max_ms
                                                  : ms * 2;
    return ms;
}


/* TC_OK and r->locked set when this connection holds the roll-up lock. */
static tc_rc_t
rollup_lock(tc_rollup_t *r)
{
    int       isnull;
    tc_rc_t   rc;
    uint64_t  v;

    /* one lock per database: tests share a server between databases */
    rc = tc_store_query_u64(&r->store, "SELECT GET_LOCK(CONCAT("
                            "'track-rollup:', DATABASE()), 0)", 55,
                            "taking the roll-up lock", &v, &isnull);
    if (rc == TC_OK && !isnull && v == 1) {
        r->locked = 1;
        r->next_retention = 0;
        tc_log_info("roll-up: this process counts the statistics now "
                    "(every %ld ms)", r->conf->rollup_ms);
    }

    return rc;
}


/* Connected and holding the lock: TC_OK; not the holder: TC_ALREADY. */
static tc_rc_t
rollup_ready(tc_rollup_t *r)
{
    tc_rc_t  rc;

    if (r->store.m == NULL) {
        rc = tc_store_connect(&r->store);
        if (rc != TC_OK) {
            return TC_DOWN;
        }
        r->locked = 0;
    }

    if (!r->locked) {
        rc = rollup_lock(r);
        if (rc != TC_OK) {
            return TC_DOWN;
        }
        if (!r->locked) {
            return TC_ALREADY;
        }
    }

    return TC_OK;
}


/* Rows up to id upto not counted yet, or -1 when MariaDB failed. */
static int64_t
rollup_left(tc_rollup_t *r, uint64_t upto)
{
    int       isnull;
    char      sql[96];
    uint64_t  v;

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM stats_pending"
             " WHERE first_id <= %" PRIu64, upto);
    if (tc_store_query_u64(&r->store, sql, strlen(sql), "reading "
                           "stats_pending", &v, &isnull) != TC_OK)
    {
        return -1;
    }

    return (int64_t) v;
}


/*
 * At stop: the lane's committed rows are counted before it exits (a
 * drained queue means complete statistics), by this roll-up when it gets
 * the lock, else by the one holding it.  After a large backlog the
 * roll-up may be minutes behind the rows: with --drain the wait goes on
 * while the rows left keep falling; a SIGTERM stop waits TC_ROLLUP_FINAL_S
 * at most (the next roll-up counts the rest).
 */
static void
rollup_final(tc_rollup_t *r, uint64_t upto)
{
    int              more;
    size_t           ranges;
    int64_t          left, last;
    time_t           end;
    struct timespec  ts = { 0, 20 * 1000000 };

    end = time(NULL) + TC_ROLLUP_FINAL_S;
    last = -1;

    while (time(NULL) < end) {
        if (rollup_ready(r) == TC_DOWN) {
            break;
        }

        left = rollup_left(r, upto);
        if (left < 0) {
            break;
        }
        if (left == 0) {
            return;
        }
        if (r->conf->drain && last >= 0 && left < last) {
            end = time(NULL) + TC_ROLLUP_FINAL_S;
        }
        last = left;

        if (!r->locked) {
            nanosleep(&ts, NULL);
            continue;
        }

        if (tc_rollup_pass(&r->store, &ranges, &more) == TC_DOWN) {
            break;
        }
    }

    tc_log_warn("roll-up: stopping with rows of this lane not counted in "
                "the statistics yet; the next roll-up counts them");
}


static void *
rollup_main(void *arg)
{
    int          more;
    long         start;
    size_t       ranges;
    tc_rc_t      rc;
    uint64_t     upto;
    tc_rollup_t *r;

    r = arg;

    /* the lane connects and applies the schema first */
    pthread_mutex_lock(&r->mu);
    while (!r->go && !r->stop) {
        pthread_cond_wait(&r->cond, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);

    for ( ;; ) {
        pthread_mutex_lock(&r->mu);
        upto = r->upto;
        more = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (more) {
            break;
        }

        rc = rollup_ready(r);
        if (rc == TC_DOWN) {
            rollup_down(r, "mysql unavailable");
            rollup_wait(r, rollup_backoff(r));
            continue;
        }
        r->backoff = r->conf->backoff_min_ms;
        if (rc == TC_ALREADY) {
            rollup_wait(r, r->conf->rollup_ms);     /* another one counts */
            continue;
        }

        start = now_ms();
        rc = tc_rollup_pass(&r->store, &ranges, &more);
        if (rc == TC_DOWN) {
            rollup_down(r, "mysql unavailable");
            rollup_wait(r, rollup_backoff(r));
            continue;
        }

        if (time(NULL) >= r->next_retention) {
            if (tc_store_retention(&r->store) == TC_DOWN) {
                rollup_down(r, "retention: mysql unavailable");
                continue;
            }
            r->next_retention = time(NULL) + TC_RETENTION_EVERY;
        }

        /*
         * A period from the start of the pass, not a pause after it: a
         * pass that took long (a busy MariaDB) is not followed by a full
         * wait, which would add to the statistics' lag.
         */
        if (rc != TC_OK) {
            rollup_wait(r, r->conf->rollup_ms);
        } else if (!more && now_ms() - start < r->conf->rollup_ms) {
            rollup_wait(r, r->conf->rollup_ms - (now_ms() - start));
        }
    }

    rollup_final(r, upto);

    return NULL;
}


tc_rc_t
tc_rollup_start(tc_rollup_t *r, const tc_conf_t *conf)
{
    memset(r, 0, sizeof(*r));
    r->conf = conf;
    r->backoff = conf->backoff_min_ms;
    tc_store_init(&r->store, conf);
    r->store.rollup = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);

    /* the signals stay blocked here too: the lane's loop takes them */
    if (pthread_create(&r->thread, NULL, rollup_main, r) != 0) {
        tc_log_error("cannot start the roll-up thread");
        tc_store_free(&r->store);
        return TC_ERROR;
    }
    r->started = 1;

    return TC_OK;
}


void
tc_rollup_go(tc_rollup_t *r)
{
    if (!r->started) {
        return;
    }

    pthread_mutex_lock(&r->mu);
    if (!r->go) {
        r->go = 1;
        pthread_cond_signal(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
}


void
tc_rollup_stop(tc_rollup_t *r, uint64_t upto)
{
    if (!r->started) {
        return;
    }

    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    r->upto = upto;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);

    pthread_join(r->thread, NULL);
    r->started = 0;

    tc_store_free(&r->store);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
}
