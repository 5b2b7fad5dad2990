/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: a batch of queue elements: decoding, dedupe, aggregation. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/rc.h"

#include "batch.h"


/* a bump allocator for jansson: blocks of at least TC_ARENA_BLOCK bytes */

#define TC_ARENA_BLOCK  (1024 * 1024)

typedef struct tc_arena_block_s  tc_arena_block_t;

struct tc_arena_block_s {
    tc_arena_block_t  *next;
    size_t             size;
    size_t             used;
    max_align_t        data[];
};

typedef struct tc_arena_s {
    tc_arena_block_t  *head;
} tc_arena_t;

static tc_arena_t  *arena_now;      /* while a batch decodes */


static void *
arena_malloc(size_t n)
{
    size_t             size;
    tc_arena_block_t  *bl;

    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    bl = arena_now->head;

    if (bl == NULL || bl->size - bl->used < n) {
        size = n > TC_ARENA_BLOCK ? n : TC_ARENA_BLOCK;
        bl = malloc(sizeof(tc_arena_block_t) + size);
        if (bl == NULL) {
            return NULL;
        }
        bl->next = arena_now->head;
        bl->size = size;
        bl->used = 0;
        arena_now->head = bl;
    }

    bl->used += n;

    return (char *) bl->data + bl->used - n;
}


static void
arena_free(void *p)
{
    (void) p;                   /* everything goes with the batch */
}


static void
arena_destroy(tc_arena_t *a)
{
    tc_arena_block_t  *bl, *next;

    if (a == NULL) {
        return;
    }

    for (bl = a->head; bl != NULL; bl = next) {
        next = bl->next;
        free(bl);
    }

    free(a);
}


tc_rc_t
tc_batch_init(tc_batch_t *b, size_t n)
{
    memset(b, 0, sizeof(*b));

    b->n = n;
    b->raw = calloc(n ? n : 1, sizeof(char *));
    b->raw_len = calloc(n ? n : 1, sizeof(size_t));
    b->ev = calloc(n ? n : 1, sizeof(tc_event_t));
    b->days = calloc(n ? n : 1, sizeof(uint32_t));
    b->order = calloc(n ? n : 1, sizeof(size_t));
    b->keys = calloc(n ? n : 1, sizeof(tc_sortkey_t));
    b->rank_tmp = calloc(n ? n : 1, sizeof(uint32_t));
    b->rank_reps = calloc(n ? n : 1, sizeof(size_t));
    b->rank_ids = calloc(n ? n : 1, sizeof(size_t));

    for (b->rank_tsize = 16; b->rank_tsize < 2 * n; b->rank_tsize *= 2) {
        /* void */
    }
    b->rank_table = malloc(b->rank_tsize * sizeof(size_t));

    if (b->raw == NULL || b->raw_len == NULL || b->ev == NULL
        || b->days == NULL || b->order == NULL || b->keys == NULL
        || b->rank_tmp == NULL || b->rank_reps == NULL
        || b->rank_ids == NULL || b->rank_table == NULL)
    {
        tc_batch_free(b);
        return TC_ERROR;
    }

    return TC_OK;
}


void
tc_batch_free(tc_batch_t *b)
{
    size_t  i;

    if (b->ev != NULL) {
        for (i = 0; i < b->n; i++) {
            if (b->arena != NULL) {
                b->ev[i].json = NULL;   /* the arena's */
                b->ev[i].text = NULL;
            }
            tc_event_clear(&b->ev[i]);
        }
    }

    arena_destroy(b->arena);

    free(b->raw);
    free(b->raw_len);
    free(b->ev);
    free(b->days);
    free(b->order);
    free(b->keys);
    free(b->rank_tmp);
    free(b->rank_reps);
    free(b->rank_ids);
    free(b->rank_table);
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
#define CMP_IDX(pa, pb)                                                       \
    ((*(const size_t *) (pa) > *(const size_t *) (pb))                       \
     - (*(const size_t *) (pa) < *(const size_t *) (pb)))

/* qsort has no context argument: the batch being sorted (per thread) */
static __thread const tc_event_t  *sort_ev;


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
    return a->day != b->day || a->group_rank != b->group_rank;
}


/* (app, module, action, object, day[, hour]): ranks keep the byte order */
static int
cmp_hourly_key(const tc_event_t *a, const tc_event_t *b, int with_hour)
{
    CMP_NUM(a->group_rank, b->group_rank);
    CMP_NUM(a->object_rank, b->object_rank);
    CMP_NUM(a->day, b->day);
    if (with_hour) {
        CMP_NUM(a->hour, b->hour);
    }

    return 0;
}


static int
cmp_sortkey(const void *pa, const void *pb)
{
    const tc_sortkey_t  *a = pa, *b = pb;

    CMP_NUM(a->key, b->key);
    CMP_NUM(a->idx, b->idx);

    return 0;
}


/* rank comparisons, for a batch too large to pack its ranks in 64 bits */
static int
cmp_hourly(const void *pa, const void *pb)
{
    int  r;

    r = cmp_hourly_key(&sort_ev[*(const size_t *) pa],
                       &sort_ev[*(const size_t *) pb], 1);

    return r ? r : CMP_IDX(pa, pb);
}


static int
cmp_users(const void *pa, const void *pb)
{
    const tc_event_t  *a, *b;

    a = &sort_ev[*(const size_t *) pa];
    b = &sort_ev[*(const size_t *) pb];

    CMP_NUM(a->group_rank, b->group_rank);
    CMP_NUM(a->day, b->day);
    CMP_NUM(a->uid_rank, b->uid_rank);

    return CMP_IDX(pa, pb);
}


/*
 * Sorts order[0..m) by the key of its events: ranks packed into 64 bits
 * and sorted as integers (ranks are below 2^16 in a batch of fewer
 * events), else compared field by field.
 */
static void
sort_by(tc_batch_t *b, size_t m, uint64_t (*key)(const tc_event_t *),
    int (*cmp)(const void *, const void *))
{
    size_t         k;
    tc_sortkey_t  *keys;

    if (b->n >= 0xffff) {
        sort_ev = b->ev;
        qsort(b->order, m, sizeof(size_t), cmp);
        return;
    }

    keys = b->keys;
    for (k = 0; k < m; k++) {
        keys[k].key = key(&b->ev[b->order[k]]);
        keys[k].idx = b->order[k];
    }

    qsort(keys, m, sizeof(tc_sortkey_t), cmp_sortkey);

    for (k = 0; k < m; k++) {
        b->order[k] = keys[k].idx;
    }
}


static uint64_t
hourly_key(const tc_event_t *ev)
{
    return ((uint64_t) ev->group_rank << 48)
           | ((uint64_t) ev->object_rank << 32)
           | ((uint64_t) ev->day_rank << 16) | ev->hour;
}


static uint64_t
users_key(const tc_event_t *ev)
{
    return ((uint64_t) ev->group_rank << 48)
           | ((uint64_t) ev->day_rank << 32) | ev->uid_rank;
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


/* the fields that are ranked */
enum { RANK_GROUP, RANK_OBJECT, RANK_UID, RANK_DAY };

static __thread int  rank_kind;     /* of the qsort in progress */


static uint64_t
hash_str(uint64_t h, const tc_str_t *s)
{
    size_t  i;

    /* FNV-1a; the length first, so ("ab", "c") and ("a", "bc") differ */
    for (i = 0; i < sizeof(s->len); i++) {
        h ^= (s->len >> (8 * i)) & 0xff;
        h *= UINT64_C(0x100000001b3);
    }
    for (i = 0; i < s->len; i++) {
        h ^= (unsigned char) s->data[i];
        h *= UINT64_C(0x100000001b3);
    }

    return h;
}


static uint64_t
field_hash(const tc_event_t *ev, int kind)
{
    uint64_t  h;

    h = UINT64_C(0xcbf29ce484222325);

    switch (kind) {
    case RANK_GROUP:
        h = hash_str(hash_str(hash_str(h, &ev->app), &ev->module),
                     &ev->action);
        break;
    case RANK_OBJECT:
        h = hash_str(h, &ev->object);
        break;
    case RANK_UID:
        h = hash_str(h, &ev->uid);
        break;
    default:
        h ^= ev->day;
        h *= UINT64_C(0x100000001b3);
        break;
    }

    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;

    return h;
}


/* byte order of the field (an absent string is '') */
static int
field_cmp(const tc_event_t *a, const tc_event_t *b, int kind)
{
    switch (kind) {
    case RANK_GROUP:
        return cmp_group(a, b);
    case RANK_OBJECT:
        return tc_str_cmp(&a->object, &b->object);
    case RANK_UID:
        return tc_str_cmp(&a->uid, &b->uid);
    default:
        CMP_NUM(a->day, b->day);
        return 0;
    }
}


static int
cmp_rep(const void *pa, const void *pb)
{
    return field_cmp(&sort_ev[*(const size_t *) pa],
                     &sort_ev[*(const size_t *) pb], rank_kind);
}


static void
set_rank(tc_event_t *ev, int kind, uint32_t rank)
{
    switch (kind) {
    case RANK_GROUP:
        ev->group_rank = rank;
        break;
    case RANK_OBJECT:
        ev->object_rank = rank;
        break;
    case RANK_UID:
        ev->uid_rank = rank;
        break;
    default:
        ev->day_rank = rank;
        break;
    }
}


static uint32_t
get_rank(const tc_event_t *ev, int kind)
{
    switch (kind) {
    case RANK_GROUP:
        return ev->group_rank;
    case RANK_OBJECT:
        return ev->object_rank;
    case RANK_UID:
        return ev->uid_rank;
    default:
        return ev->day_rank;
    }
}


/*
 * The rank of each decoded event's value among the distinct values of the
 * field: the values are found in a hash table, the distinct ones sorted.
 */
static void
rank_field(tc_batch_t *b, size_t m, int kind)
{
    size_t       k, i, d, slot, mask, nrep;
    tc_event_t  *ev;

    mask = b->rank_tsize - 1;
    memset(b->rank_table, 0xff, b->rank_tsize * sizeof(size_t));
    nrep = 0;

    for (k = 0; k < m; k++) {
        ev = &b->ev[b->order[k]];
        for (slot = field_hash(ev, kind) & mask; ; slot = (slot + 1) & mask) {
            d = b->rank_table[slot];
            if (d == SIZE_MAX) {
                b->rank_table[slot] = nrep;
                b->rank_reps[nrep] = b->order[k];
                b->rank_tmp[k] = (uint32_t) nrep++;
                break;
            }
            if (field_cmp(ev, &b->ev[b->rank_reps[d]], kind) == 0) {
                b->rank_tmp[k] = (uint32_t) d;
                break;
            }
        }
    }

    /* the distinct values in byte order, by the events that carry them */
    for (d = 0; d < nrep; d++) {
        b->rank_ids[d] = b->rank_reps[d];
    }
    sort_ev = b->ev;
    rank_kind = kind;
    qsort(b->rank_ids, nrep, sizeof(size_t), cmp_rep);

    for (d = 0; d < nrep; d++) {
        set_rank(&b->ev[b->rank_ids[d]], kind, (uint32_t) d);
    }

    /* every event takes the rank of the event its value was first seen in */
    for (k = 0; k < m; k++) {
        i = b->rank_reps[b->rank_tmp[k]];
        set_rank(&b->ev[b->order[k]], kind, get_rank(&b->ev[i], kind));
    }
}


void
tc_batch_decode(tc_batch_t *b, size_t max_bytes)
{
    size_t             i, k, m;
    json_free_t        old_free;
    json_malloc_t      old_malloc;
    const tc_event_t  *prev, *cur;

    if (b->arena == NULL) {
        b->arena = calloc(1, sizeof(tc_arena_t));
    }
    if (b->arena != NULL) {
        json_get_alloc_funcs(&old_malloc, &old_free);
        arena_now = b->arena;
        json_set_alloc_funcs(arena_malloc, arena_free);
    }

    m = 0;
    for (i = 0; i < b->n; i++) {
        if (tc_event_decode(&b->ev[i], b->raw[i], b->raw_len[i], max_bytes)
            == TC_OK)
        {
            b->order[m++] = i;
        }
    }

    if (b->arena != NULL) {
        json_set_alloc_funcs(old_malloc, old_free);
        arena_now = NULL;
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

    rank_field(b, m, RANK_GROUP);
    rank_field(b, m, RANK_OBJECT);
    rank_field(b, m, RANK_UID);
    rank_field(b, m, RANK_DAY);

    tc_batch_days(b);
}


void
tc_batch_rank(tc_batch_t *b)
{
    size_t  i, m;

    m = 0;
    for (i = 0; i < b->n; i++) {
        if (b->ev[i].status == TC_EV_OK) {
            b->order[m++] = i;
        }
    }

    rank_field(b, m, RANK_GROUP);
    rank_field(b, m, RANK_OBJECT);
    rank_field(b, m, RANK_UID);
    rank_field(b, m, RANK_DAY);
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
    sort_by(b, m, hourly_key, cmp_hourly);

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
    sort_by(b, m, users_key, cmp_users);

    rows = 0;
    for (k = 0; k < m; k++) {
        ev = &b->ev[b->order[k]];
        if (rows > 0 && tc_event_group_cmp(out[rows - 1], ev) == 0
            && out[rows - 1]->uid_rank == ev->uid_rank)
        {
            continue;
        }
        out[rows++] = ev;
    }

    return rows;
}
