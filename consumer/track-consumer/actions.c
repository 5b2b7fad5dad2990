/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: the numbers of (app, module, action) in stats_actions. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"

#include "actions.h"
#include "map.h"
#include "sql.h"

/* one action of the window: the first of its rows, its key's hash */
typedef struct {
    uint64_t   hash;
    size_t     idx;
} tc_action_ref_t;

/* app, module, action, each with its length */
#define TC_ACTION_KEY_MAX  (3 * (sizeof(uint32_t) + TC_NAME_MAX))


static size_t
action_key(char *k, const tc_str_t *app, const tc_str_t *module,
    const tc_str_t *action)
{
    size_t             i, n;
    uint32_t           len;
    const tc_str_t    *part[3];

    part[0] = app;
    part[1] = module;
    part[2] = action;

    n = 0;
    for (i = 0; i < 3; i++) {
        len = (uint32_t) part[i]->len;
        memcpy(k + n, &len, sizeof(len));
        n += sizeof(len);
        if (len > 0) {
            memcpy(k + n, part[i]->data, len);
            n += len;
        }
    }

    return n;
}


static size_t
event_action_key(char *k, const tc_event_t *ev)
{
    return action_key(k, &ev->app, &ev->module, &ev->action);
}


static int
cmp_ref(const void *pa, const void *pb)
{
    const tc_action_ref_t  *a = pa, *b = pb;

    return a->hash < b->hash ? -1 : a->hash > b->hash;
}


/* The ref whose action is (row[1], row[2], row[3]); NULL: none. */
static tc_action_ref_t *
find_ref(tc_action_ref_t *refs, size_t na, const tc_event_t **seen,
    MYSQL_ROW row, unsigned long *lens)
{
    char              k[TC_ACTION_KEY_MAX], e[TC_ACTION_KEY_MAX];
    size_t            lo, hi, mid, klen;
    uint64_t          h;
    tc_str_t          app, module, action;

    app.data = row[1];
    app.len = lens[1];
    module.data = row[2];
    module.len = lens[2];
    action.data = row[3];
    action.len = lens[3];
    if (app.len > TC_NAME_MAX || module.len > TC_NAME_MAX
        || action.len > TC_NAME_MAX)
    {
        return NULL;
    }

    klen = action_key(k, &app, &module, &action);
    h = tc_hash(k, klen);

    lo = 0;
    hi = na;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (refs[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    for ( /* void */ ; lo < na && refs[lo].hash == h; lo++) {
        if (event_action_key(e, seen[refs[lo].idx]) == klen
            && memcmp(e, k, klen) == 0)
        {
            return &refs[lo];
        }
    }

    return NULL;
}


/*
 * Sends head, the actions of refs without an id yet as rows, tail, in
 * statements of at most max_stmt bytes; with select, reads the ids back.
 */
static tc_rc_t
send_missing(MYSQL *m, size_t max_stmt, tc_action_ref_t *refs, size_t na,
    const tc_event_t **seen, uint32_t *ids, int select, const char **what)
{
    size_t             k, from, rows;
    tc_rc_t            rc;
    tc_buf_t           q;
    MYSQL_RES         *res;
    MYSQL_ROW          row;
    tc_action_ref_t   *r;

    tc_buf_init(&q);
    rc = TC_OK;

    for (from = 0; from < na && rc == TC_OK; from = k) {
        tc_buf_reset(&q);
        tc_buf_adds(&q, select ? tc_sql_actions_select : tc_sql_actions_head);
        rows = 0;
        for (k = from; k < na && q.len < max_stmt; k++) {
            if (ids[refs[k].idx] != 0) {
                continue;
            }
            if (rows++ > 0) {
                tc_buf_add(&q, ",", 1);
            }
            tc_sql_action_row(&q, m, seen[refs[k].idx]);
        }
        if (rows == 0) {
            break;
        }
        if (select) {
            tc_buf_add(&q, ")", 1);
        }

        if (tc_buf_cstr(&q) == NULL) {
            rc = TC_RETRY;
            break;
        }
        if (mysql_real_query(m, q.data, (unsigned long) q.len) != 0) {
            *what = select ? "reading stats_actions"
                           : "adding to stats_actions";
            rc = TC_ERROR;
            break;
        }
        if (!select) {
            continue;
        }

        res = mysql_store_result(m);
        if (res == NULL) {
            *what = "reading stats_actions";
            rc = TC_ERROR;
            break;
        }
        while ((row = mysql_fetch_row(res)) != NULL) {
            r = find_ref(refs, na, seen, row, mysql_fetch_lengths(res));
            if (r != NULL) {
                ids[r->idx] = (uint32_t) strtoul(row[0], NULL, 10);
            }
        }
        mysql_free_result(res);
    }

    tc_buf_free(&q);

    return rc;
}


tc_rc_t
tc_actions_ids(MYSQL *m, size_t max_stmt, const tc_event_t **seen, size_t n,
    uint32_t *ids, const char **what)
{
    char              k[TC_ACTION_KEY_MAX];
    size_t            i, j, na;
    tc_rc_t           rc;
    tc_action_ref_t  *refs;

    if (n == 0) {
        return TC_OK;
    }

    refs = malloc(n * sizeof(tc_action_ref_t));
    if (refs == NULL) {
        return TC_RETRY;
    }

    /* sorted by group rank: an action's rows (all its days) are adjacent */
    na = 0;
    for (i = 0; i < n; i++) {
        ids[i] = 0;
        if (i == 0 || seen[i]->group_rank != seen[i - 1]->group_rank) {
            refs[na].idx = i;
            refs[na++].hash = tc_hash(k, event_action_key(k, seen[i]));
        }
    }
    qsort(refs, na, sizeof(tc_action_ref_t), cmp_ref);

    /* numbered before, else numbered now (in the caller's transaction) */
    rc = send_missing(m, max_stmt, refs, na, seen, ids, 1, what);
    if (rc == TC_OK) {
        rc = send_missing(m, max_stmt, refs, na, seen, ids, 0, what);
    }
    if (rc == TC_OK) {
        rc = send_missing(m, max_stmt, refs, na, seen, ids, 1, what);
    }

    for (i = 0; rc == TC_OK && i < na; i++) {
        if (ids[refs[i].idx] == 0) {
            tc_log_error("roll-up: an action has no number in "
                         "stats_actions after adding it");
            rc = TC_RETRY;
            break;
        }
        for (j = refs[i].idx + 1;
             j < n && seen[j]->group_rank == seen[refs[i].idx]->group_rank;
             j++)
        {
            ids[j] = ids[refs[i].idx];
        }
    }

    free(refs);

    return rc;
}
