/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: a bounded hash set of byte strings (the users cache). */
#include <stdlib.h>
#include <string.h>

#include "common/rc.h"

#include "map.h"


uint64_t
tc_hash(const void *key, size_t len)
{
    size_t          i;
    uint64_t        h;
    const uint8_t  *p;

    /* FNV-1a, then a final mix so the low bits are usable as an index */
    p = key;
    h = UINT64_C(0xcbf29ce484222325);
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }

    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;

    return h;
}


void
tc_set_init(tc_set_t *s, size_t max)
{
    s->slots = NULL;
    s->size = 0;
    s->count = 0;
    s->max = max;
}


void
tc_set_clear(tc_set_t *s)
{
    size_t  i;

    for (i = 0; i < s->size; i++) {
        free(s->slots[i].key);
        s->slots[i].key = NULL;
    }

    s->count = 0;
}


void
tc_set_free(tc_set_t *s)
{
    tc_set_clear(s);
    free(s->slots);
    tc_set_init(s, s->max);
}


static tc_set_slot_t *
set_find(const tc_set_t *s, uint64_t h, const void *key, size_t len)
{
    size_t          i;
    tc_set_slot_t  *slot;

    for (i = h & (s->size - 1); ; i = (i + 1) & (s->size - 1)) {
        slot = &s->slots[i];
        if (slot->key == NULL
            || (slot->hash == h && slot->len == len
                && memcmp(slot->key, key, len) == 0))
        {
            return slot;
        }
    }
}


int
tc_set_has(const tc_set_t *s, const void *key, size_t len)
{
    if (s->count == 0) {
        return 0;
    }

    return set_find(s, tc_hash(key, len), key, len)->key != NULL;
}


static tc_rc_t
set_grow(tc_set_t *s)
{
    size_t          i, size;
    tc_set_slot_t  *old, *slot;

    old = s->slots;
    size = s->size ? s->size * 2 : 1024;

    s->slots = calloc(size, sizeof(tc_set_slot_t));
    if (s->slots == NULL) {
        s->slots = old;
        return TC_ERROR;
    }

    i = s->size;
    s->size = size;

    while (i-- > 0) {
        if (old[i].key != NULL) {
            slot = set_find(s, old[i].hash, old[i].key, old[i].len);
            *slot = old[i];
        }
    }

    free(old);

    return TC_OK;
}


tc_rc_t
tc_set_add(tc_set_t *s, const void *key, size_t len)
{
    uint64_t        h;
    tc_set_slot_t  *slot;

    if (s->max == 0) {
        return TC_OK;
    }

    if (s->count >= s->max) {
        tc_set_clear(s);
    }

    /* load factor at most 1/2 */
    if ((s->count + 1) * 2 > s->size && set_grow(s) != TC_OK) {
        return TC_ERROR;
    }

    h = tc_hash(key, len);
    slot = set_find(s, h, key, len);
    if (slot->key != NULL) {
        return TC_OK;
    }

    slot->key = malloc(len ? len : 1);
    if (slot->key == NULL) {
        return TC_ERROR;
    }

    memcpy(slot->key, key, len);
    slot->len = len;
    slot->hash = h;
    s->count++;

    return TC_OK;
}
