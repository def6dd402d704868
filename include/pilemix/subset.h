/* Nested subsets of a finished dataset (DESIGN 1.7, `pilemix subset`).
 *
 * Train order is a keyed uniform permutation and train shard s holds the
 * keys in [s, s+1) * 2^64 / S, each shard in key order. So the train copies
 * with key below p * 2^64 are the first floor(p*S) shards whole plus the
 * first lines of the next one: a uniform sample of p of the mix, and a
 * prefix of the one global train order. Every subset is such a prefix, so
 * any two subsets of one dataset are nested (the smaller is contained in the
 * larger), whether asked by fraction or by bytes.
 *
 * The output keys are not in the files, so the cut inside the partial shard
 * is estimated from its line count: keys there are uniform, so about
 * q * n of its n lines lie below the threshold (q = p*S - floor(p*S)); the
 * subset takes round(q * n) lines, which grows with p (nesting holds).
 *
 * A subset is a complete dataset: train/ holds the parent's whole shards
 * under their own names (copied, their checksums held against the parent's
 * manifest while copying) and the partial shard re-compressed as one frame
 * at the parent's zstd level; val and test are carried over whole; rejects
 * are not. Its manifest is the parent's with the subset's files, per
 * component the documents each split got in the subset ("emitted"; the
 * parent's figures under "parent_emitted"), and a "subset" object naming the
 * parent (config hash, XXH3-128 of its manifest) and the cut. `pilemix
 * verify DIR` checks it like any output. Nothing here uses MPI. */
#ifndef PILEMIX_SUBSET_H
#define PILEMIX_SUBSET_H

#include "pilemix/error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct pm_subset_opts {
    const char *src;  /* the parent dataset */
    const char *into; /* the new dataset; must not exist or be empty */
    bool by_bytes;    /* cut by train text bytes instead of a fraction */
    double fraction;  /* in (0, 1] */
    uint64_t bytes;   /* train text bytes (UTF-8 bytes of the texts), at most */
} pm_subset_opts_t;

typedef struct pm_subset_result {
    uint32_t train_shards;  /* the parent's S */
    uint32_t whole_shards;  /* shards copied whole */
    bool partial;           /* a partial shard was written */
    uint64_t partial_lines; /* its lines ... */
    uint64_t partial_of;    /* ... of the parent shard's */
    uint64_t train_docs, train_text_bytes;
    double fraction; /* realized: (whole + partial_lines / partial_of) / S */
} pm_subset_result_t;

/* Write the subset. PM_EUSAGE for a fraction outside (0,1], PM_ESTATE when
 * into exists and is not empty, PM_EDATA when the parent is not a complete
 * pilemix output (a file missing or not matching its manifest). */
int pm_subset_write(const pm_subset_opts_t *o, pm_subset_result_t *res, pm_error_t *err);

#endif
