/* SPDX-License-Identifier: BSD-2-Clause */
/* track-stats: an in-memory cache of per-day series values for closed days,
 * so that "the last 30 days" only reads today from the database. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rc.h"

#include "cache.h"


#define WAYS  4                 /* set-associative, least recently used out */

typedef struct {
    uint64_t             hash;
    char                *key;  /* NULL: free */
    size_t               klen;
    int                  n;
    time_t               stored;
    uint64_t             used;
    unsigned long long   vals[TC_CACHE_MAX_VALS];
} tc_entry_t;

static pthread_mutex_t   lock = PTHREAD_MUTEX_INITIALIZER;
static tc_entry_t       *table;
static size_t            nsets;
static unsigned          ttl_seconds;
static uint64_t          tick;


tc_rc_t
tc_cache_init(unsigned entries, unsigned ttl)
{
    if (entries == 0) {
        return TC_OK;
    }

    for (nsets = 1; nsets * WAYS < entries; nsets <<= 1) {
        /* a power of two */
    }

    table = calloc(nsets * WAYS, sizeof(tc_entry_t));
    if (table == NULL) {
        nsets = 0;
        return TC_ERROR;
    }

    ttl_seconds = ttl;
    return TC_OK;
}


void
tc_cache_free(void)
{
    size_t  i;

    if (table == NULL) {
        return;
    }

    for (i = 0; i < nsets * WAYS; i++) {
        free(table[i].key);
    }

    free(table);
    table = NULL;
    nsets = 0;
}


/* Forgets every entry: closed days changed in the database (a restore). */
void
tc_cache_clear(void)
{
    size_t  i;

    pthread_mutex_lock(&lock);

    for (i = 0; i < nsets * WAYS; i++) {
        free(table[i].key);
        table[i].key = NULL;
    }

    pthread_mutex_unlock(&lock);
}


int
tc_cache_enabled(void)
{
    return table != NULL;
}


/* FNV-1a */
static uint64_t
hash_key(const char *key, size_t klen)
{
    uint64_t  h = 0xcbf29ce484222325ULL;
    size_t    i;

    for (i = 0; i < klen; i++) {
        h ^= (unsigned char) key[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


static tc_entry_t *
find(uint64_t h, const char *key, size_t klen)
{
    tc_entry_t    *set = &table[(h & (nsets - 1)) * WAYS];
    int            i;

    for (i = 0; i < WAYS; i++) {
        if (set[i].key != NULL && set[i].hash == h && set[i].klen == klen
            && memcmp(set[i].key, key, klen) == 0)
        {
            return &set[i];
        }
    }

    return NULL;
}


int
tc_cache_get(const char *key, size_t klen, unsigned long long *vals, int n,
    time_t now)
{
    int            hit = 0;
    uint64_t       h;
    tc_entry_t    *e;

    if (table == NULL || n > TC_CACHE_MAX_VALS) {
        return 0;
    }

    h = hash_key(key, klen);

    pthread_mutex_lock(&lock);

    e = find(h, key, klen);
    if (e != NULL && e->n == n && now - e->stored < (time_t) ttl_seconds) {
        memcpy(vals, e->vals, sizeof(vals[0]) * (size_t) n);
        e->used = ++tick;
        hit = 1;
    }

    pthread_mutex_unlock(&lock);

    return hit;
}


void
tc_cache_put(const char *key, size_t klen, const unsigned long long *vals,
    int n, time_t now)
{
    int            i;
    char          *copy;
    uint64_t       h;
    tc_entry_t    *e, *set;

    if (table == NULL || n > TC_CACHE_MAX_VALS) {
        return;
    }

    h = hash_key(key, klen);

    copy = malloc(klen);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, key, klen);

    pthread_mutex_lock(&lock);

    e = find(h, key, klen);
    if (e == NULL) {
        set = &table[(h & (nsets - 1)) * WAYS];
        e = &set[0];
        for (i = 0; i < WAYS; i++) {
            if (set[i].key == NULL) {
                e = &set[i];
                break;
            }
            if (set[i].used < e->used) {
                e = &set[i];
            }
        }
    }

    free(e->key);
    e->key = copy;
    e->klen = klen;
    e->hash = h;
    e->n = n;
    e->stored = now;
    e->used = ++tick;
    memcpy(e->vals, vals, sizeof(vals[0]) * (size_t) n);

    pthread_mutex_unlock(&lock);
}
