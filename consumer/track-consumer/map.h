/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: a bounded hash set of byte strings (the users cache). */
#ifndef TC_MAP_H
#define TC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/rc.h"

typedef struct {
    uint64_t   hash;
    char      *key;             /* NULL: empty slot */
    size_t     len;
} tc_set_slot_t;

typedef struct {
    tc_set_slot_t  *slots;
    size_t          size;       /* power of two */
    size_t          count;
    size_t          max;        /* forgets everything when it would exceed */
} tc_set_t;

void tc_set_init(tc_set_t *s, size_t max);
void tc_set_free(tc_set_t *s);
void tc_set_clear(tc_set_t *s);

int tc_set_has(const tc_set_t *s, const void *key, size_t len);

/* TC_ERROR when out of memory (the set is then left unchanged). */
tc_rc_t tc_set_add(tc_set_t *s, const void *key, size_t len);

uint64_t tc_hash(const void *key, size_t len);

#endif /* TC_MAP_H */
