/* pm_layout_t: how output files are cut into spill buckets.
 *
 * Output files are numbered 0..S-1 (train shards), S (val), S+1 (test). Each
 * file is cut into equal key ranges ("buckets") so one bucket fits in a
 * rank's gather memory. Train keys are uniform, so bucket = mulhi(key,
 * S * per_shard) and shard = bucket / per_shard (the same as mulhi(key, S),
 * which is what fixes the output). Val and test keys are text hashes, cut
 * into val_buckets and test_buckets ranges over the whole key space.
 *
 * The layout affects only how work is cut, never output bytes: it is chosen
 * from the memory budget and the estimated size, and saved in the work
 * directory so a resumed run reads its spills with the same layout. */
#ifndef PILEMIX_LAYOUT_H
#define PILEMIX_LAYOUT_H

#include "pilemix/mix.h"

#include <stdint.h>

typedef struct pm_layout {
    uint32_t train_shards;
    uint32_t per_shard; /* buckets per train shard */
    uint32_t val_buckets;
    uint32_t test_buckets;
    uint32_t
        dedup_buckets; /* output.dedup "exact": digest buckets after test's (dedup.h); else 0 */
} pm_layout_t;

#define PM_MAX_BUCKETS_PER_FILE 65536u

static inline uint32_t pm_layout_files(const pm_layout_t *l) { return l->train_shards + 2; }

static inline uint32_t pm_layout_total_buckets(const pm_layout_t *l)
{
    return l->train_shards * l->per_shard + l->val_buckets + l->test_buckets + l->dedup_buckets;
}

/* Global bucket of a document's digest record: by the digest's high 64
 * bits, so every copy of a text meets in one dedup bucket. */
static inline uint32_t pm_layout_dedup_bucket(const pm_layout_t *l, uint64_t digest_hi)
{
    return l->train_shards * l->per_shard + l->val_buckets + l->test_buckets +
           (uint32_t)pm_mulhi(digest_hi, l->dedup_buckets);
}

/* The split output file f holds: train for 0..S-1, val for S, test for S+1.
 * The one place that says which file is which. */
static inline pm_split_t pm_layout_file_split(const pm_layout_t *l, uint32_t file)
{
    return file < l->train_shards    ? PM_SPLIT_TRAIN
           : file == l->train_shards ? PM_SPLIT_VAL
                                     : PM_SPLIT_TEST;
}

/* Global bucket of a copy. */
static inline uint32_t pm_layout_bucket(const pm_layout_t *l, pm_split_t split, uint64_t key)
{
    uint32_t train = l->train_shards * l->per_shard;
    switch (split) {
    case PM_SPLIT_TRAIN: return (uint32_t)pm_mulhi(key, train);
    case PM_SPLIT_VAL: return train + (uint32_t)pm_mulhi(key, l->val_buckets);
    default: return train + l->val_buckets + (uint32_t)pm_mulhi(key, l->test_buckets);
    }
}

/* The buckets [*first, *first + *count) of output file f, and the key
 * multiplier m such that bucket = base + mulhi(key, m) for the file's keys. */
void pm_layout_file_buckets(const pm_layout_t *l, uint32_t file, uint32_t *first, uint32_t *count,
                            uint64_t *multiplier, uint32_t *base);

/* Smallest and largest key that falls in global bucket b. */
void pm_layout_bucket_keys(const pm_layout_t *l, uint32_t bucket, uint64_t *lo, uint64_t *hi);

/* Choose a layout: buckets of about bucket_bytes for the estimated bytes. */
void pm_layout_choose(pm_layout_t *l, uint32_t train_shards, uint64_t est_train_bytes,
                      uint64_t est_val_bytes, uint64_t est_test_bytes, uint64_t bucket_bytes);

/* Key range [lo, hi] of a multiplier slot: keys k with mulhi(k, m) == slot. */
void pm_key_range(uint64_t multiplier, uint64_t slot, uint64_t *lo, uint64_t *hi);

#endif
