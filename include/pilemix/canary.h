/* Canaries (DESIGN 1.7, Radioactive Lab: know who trains on your data).
 *
 * output.canaries = {count N, secret} inserts N documents into train that
 * are derived from the secret alone, so `pilemix canary` can re-derive and
 * find them in a dataset without any list. Canary i:
 *   text      words of random syllables drawn by XXH3 in counter mode keyed by
 *             the secret (about 60 words, over a thousand bits: no natural
 *             corpus holds it, and no two canaries are alike)
 *   key       a train key from the secret: its shard is mulhi(key, S) and its
 *             place there follows the normal key order, so canaries land in
 *             uniformly random shards and lines
 *   component pile_set_name of a component chosen by keyed hash, uniformly,
 *             so a canary is not told apart by its meta name
 * They depend on the secret and count only (not the seed): the same secret
 * marks every dataset built with it at the same keys.
 *
 * Every tag is distinct from the mix's (mix.h); the secret never leaves this
 * module except through the texts themselves. */
#ifndef PILEMIX_CANARY_H
#define PILEMIX_CANARY_H

#include "pilemix/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pm_canary {
    uint32_t index;     /* i, 0..count-1 */
    uint64_t key;       /* train key */
    uint32_t component; /* index of the component whose name it carries */
    char *text;         /* ASCII letters, spaces and ". "; JSON needs no escape */
    size_t len;
    unsigned char xxh128[16]; /* XXH3-128 of the text, canonical (as xxh128sum) */
} pm_canary_t;

typedef struct pm_canaries {
    pm_canary_t *v; /* sorted by (key, index) */
    size_t n;
} pm_canaries_t;

/* Derive count canaries for a mix of n_components. */
int pm_canaries_derive(pm_canaries_t *out, const char *secret, uint32_t count, size_t n_components,
                       pm_error_t *err);
void pm_canaries_free(pm_canaries_t *c); /* accepts zeroed */

/* The canaries in [lo, hi] keys: *first and *count into c->v (sorted). */
void pm_canaries_range(const pm_canaries_t *c, uint64_t lo, uint64_t hi, size_t *first,
                       size_t *count);

#endif
