/* track-consumer: a batch of queue elements: decoding, dedupe, aggregation. */
#include <stdlib.h>
#include <string.h>

#include "batch.h"


int
tc_batch_init(tc_batch_t *b, size_t n)
{
    memset(b, 0, sizeof(*b));

    b->n = n;
    b->raw = calloc(n ? n : 1, sizeof(char *));
    b->raw_len = calloc(n ? n : 1, sizeof(size_t));
    b->ev = calloc(n ? n : 1, sizeof(tc_event_t));
    b->days = calloc(n ? n : 1, sizeof(uint32_t));
    b->order = calloc(n ? n : 1, sizeof(size_t));

    if (b->raw == NULL || b->raw_len == NULL || b->ev == NULL
        || b->days == NULL || b->order == NULL)
    {
        tc_batch_free(b);
        return -1;
    }

    return 0;
}


void
tc_batch_free(tc_batch_t *b)
{
    size_t  i;

    if (b->ev != NULL) {
        for (i = 0; i < b->n; i++) {
            tc_event_clear(&b->ev[i]);
        }
    }

    free(b->raw);
    free(b->raw_len);
    free(b->ev);
    free(b->days);
    free(b->order);
    memset(b, 0, sizeof(*b));
}


int
tc_str_cmp(const tc_str_t *a, const tc_str_t *b)
{
    int     r;
    size_t  n;

    n = a->len < b->len ? a->len : b->len;
    if (n) {
        r = memcmp(a->data, b->data, n);
        if (r) {
            return r;
        }
    }

    return (a->len > b->len) - (a->len < b->len);
}


#define CMP_NUM(x, y)  if ((x) != (y)) return (x) < (y) ? -1 : 1

/* qsort has no context argument: the batch being sorted */
static const tc_event_t  *sort_ev;


static int
cmp_day_eid(const void *pa, const void *pb)
{
    int                r;
    size_t             ia, ib;
    const tc_event_t  *a, *b;

    ia = *(const size_t *) pa;
    ib = *(const size_t *) pb;
    a = &sort_ev[ia];
    b = &sort_ev[ib];

    CMP_NUM(a->day, b->day);
    r = tc_str_cmp(&a->eid, &b->eid);
    if (r) {
        return r;
    }
    CMP_NUM(ia, ib);

    return 0;
}


static int
cmp_group(const tc_event_t *a, const tc_event_t *b)
{
    int  r;

    r = tc_str_cmp(&a->app, &b->app);
    if (r) {
        return r;
    }
    r = tc_str_cmp(&a->module, &b->module);
    if (r) {
        return r;
    }

    return tc_str_cmp(&a->action, &b->action);
}


int
tc_event_group_cmp(const tc_event_t *a, const tc_event_t *b)
{
    return a->day != b->day || cmp_group(a, b) != 0;
}


static int
cmp_hourly_key(const tc_event_t *a, const tc_event_t *b, int with_hour)
{
    int  r;

    r = cmp_group(a, b);
    if (r) {
        return r;
    }
    r = tc_str_cmp(&a->object, &b->object);   /* absent sorts as '' */
    if (r) {
        return r;
    }
    CMP_NUM(a->day, b->day);
    if (with_hour) {
        CMP_NUM(a->hour, b->hour);
    }

    return 0;
}


static int
cmp_hourly(const void *pa, const void *pb)
{
    return cmp_hourly_key(&sort_ev[*(const size_t *) pa],
                          &sort_ev[*(const size_t *) pb], 1);
}


static int
cmp_users(const void *pa, const void *pb)
{
    int                r;
    const tc_event_t  *a, *b;

    a = &sort_ev[*(const size_t *) pa];
    b = &sort_ev[*(const size_t *) pb];

    r = cmp_group(a, b);
    if (r) {
        return r;
    }
    CMP_NUM(a->day, b->day);

    return tc_str_cmp(&a->uid, &b->uid);
}


void
tc_batch_days(tc_batch_t *b)
{
    size_t    i, j;
    uint32_t  d;

    b->ndays = 0;

    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status != TC_EV_OK) {
            continue;
        }

        d = b->ev[i].day;
        for (j = 0; j < b->ndays && b->days[j] != d; j++) {
            /* void */
        }

        if (j == b->ndays) {
            /* insertion keeps the list ascending */
            while (j > 0 && b->days[j - 1] > d) {
                b->days[j] = b->days[j - 1];
                j--;
            }
            b->days[j] = d;
            b->ndays++;
        }
    }
}


void
tc_batch_decode(tc_batch_t *b, size_t max_bytes)
{
    size_t             i, k, m;
    const tc_event_t  *prev, *cur;

    m = 0;
    for (i = 0; i < b->n; i++) {
        if (tc_event_decode(&b->ev[i], b->raw[i], b->raw_len[i], max_bytes)
            == 0)
        {
            b->order[m++] = i;
        }
    }

    /* the first of equal (day, eid) in queue order is kept */
    sort_ev = b->ev;
    qsort(b->order, m, sizeof(size_t), cmp_day_eid);

    for (k = 1; k < m; k++) {
        prev = &b->ev[b->order[k - 1]];
        cur = &b->ev[b->order[k]];
        if (prev->day == cur->day && tc_str_cmp(&prev->eid, &cur->eid) == 0) {
            b->ev[b->order[k]].status = TC_EV_DUP;
        }
    }

    tc_batch_days(b);
}


size_t
tc_batch_count(const tc_batch_t *b, tc_ev_status_t status)
{
    size_t  i, n;

    n = 0;
    for (i = 0; i < b->n; i++) {
        n += (b->ev[i].status == status);
    }

    return n;
}


static size_t
collect_ok(tc_batch_t *b, int need_uid)
{
    size_t  i, m;

    m = 0;
    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status == TC_EV_OK
            && (!need_uid || b->ev[i].uid.len > 0))
        {
            b->order[m++] = i;
        }
    }

    return m;
}


static size_t
aggregate(tc_batch_t *b, tc_agg_t *out, int with_hour)
{
    size_t             k, m, rows;
    const tc_event_t  *ev;

    m = collect_ok(b, 0);
    sort_ev = b->ev;
    qsort(b->order, m, sizeof(size_t), cmp_hourly);

    /* sorted by the hourly key, so the daily key is also contiguous */
    rows = 0;
    for (k = 0; k < m; k++) {
        ev = &b->ev[b->order[k]];
        if (rows > 0 && cmp_hourly_key(out[rows - 1].ev, ev, with_hour) == 0)
        {
            out[rows - 1].n++;
            continue;
        }
        out[rows].ev = ev;
        out[rows].n = 1;
        rows++;
    }

    return rows;
}


size_t
tc_batch_hourly(tc_batch_t *b, tc_agg_t *out)
{
    return aggregate(b, out, 1);
}


size_t
tc_batch_daily(tc_batch_t *b, tc_agg_t *out)
{
    return aggregate(b, out, 0);
}


size_t
tc_agg_daily(tc_agg_t *a, size_t n)
{
    size_t  r, w;

    /* sorted by (group, object, day, hour): a day's hours are adjacent */
    w = 0;
    for (r = 0; r < n; r++) {
        if (w > 0 && cmp_hourly_key(a[w - 1].ev, a[r].ev, 0) == 0) {
            a[w - 1].n += a[r].n;
            continue;
        }
        a[w++] = a[r];
    }

    return w;
}


size_t
tc_batch_users(tc_batch_t *b, const tc_event_t **out)
{
    size_t             k, m, rows;
    const tc_event_t  *ev;

    m = collect_ok(b, 1);
    sort_ev = b->ev;
    qsort(b->order, m, sizeof(size_t), cmp_users);

    rows = 0;
    for (k = 0; k < m; k++) {
        ev = &b->ev[b->order[k]];
        if (rows > 0 && tc_event_group_cmp(out[rows - 1], ev) == 0
            && tc_str_cmp(&out[rows - 1]->uid, &ev->uid) == 0)
        {
            continue;
        }
        out[rows++] = ev;
    }

    return rows;
}
