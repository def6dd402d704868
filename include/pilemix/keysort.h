/* Sorting (key, payload) entries by a 64-bit key: an LSD radix sort.
 *
 * The gather sorts every bucket it writes; keys are uniform 64-bit hashes,
 * so a radix sort beats comparison sorting several times over. It is stable,
 * and byte positions where every key agrees (a bucket is a narrow key range,
 * so its top bytes are all equal) are skipped. Equal keys keep their input
 * order; the caller orders such runs (rare) with its full comparator. */
#ifndef PILEMIX_KEYSORT_H
#define PILEMIX_KEYSORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_keyed {
    uint64_t key;
    uint64_t value;
} pm_keyed_t;

/* Sorts v[0..n) by key using tmp[0..n) as scratch. */
void pm_keysort(pm_keyed_t *v, pm_keyed_t *tmp, size_t n);

#endif
