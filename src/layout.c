#include "pilemix/layout.h"

void pm_key_range(uint64_t m, uint64_t slot, uint64_t *lo, uint64_t *hi)
{
    /* The smallest k with mulhi(k, m) >= slot is ceil(slot * 2^64 / m). We
     * search it by bisection: mulhi is monotone in k, 64 steps, exact, and
     * free of 128-bit division. */
    uint64_t a = 0, b = UINT64_MAX;
    if (slot == 0) {
        *lo = 0;
    } else {
        while (a < b) {
            uint64_t mid = a + (b - a) / 2;
            if (pm_mulhi(mid, m) >= slot)
                b = mid;
            else
                a = mid + 1;
        }
        *lo = a;
    }
    if (slot + 1 >= m) {
        *hi = UINT64_MAX;
        return;
    }
    a = *lo;
    b = UINT64_MAX;
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        if (pm_mulhi(mid, m) >= slot + 1)
            b = mid;
        else
            a = mid + 1;
    }
    *hi = a - 1;
}

void pm_layout_file_buckets(const pm_layout_t *l, uint32_t file, uint32_t *first, uint32_t *count,
                            uint64_t *multiplier, uint32_t *base)
{
    uint32_t train = l->train_shards * l->per_shard;
    pm_split_t split = pm_layout_file_split(l, file);
    if (split == PM_SPLIT_TRAIN) {
        *first = file * l->per_shard;
        *count = l->per_shard;
        *multiplier = train;
        *base = 0;
    } else if (split == PM_SPLIT_VAL) {
        *first = train;
        *count = l->val_buckets;
        *multiplier = l->val_buckets;
        *base = train;
    } else {
        *first = train + l->val_buckets;
        *count = l->test_buckets;
        *multiplier = l->test_buckets;
        *base = train + l->val_buckets;
    }
}

void pm_layout_bucket_keys(const pm_layout_t *l, uint32_t bucket, uint64_t *lo, uint64_t *hi)
{
    uint32_t train = l->train_shards * l->per_shard;
    if (bucket < train)
        pm_key_range(train, bucket, lo, hi);
    else if (bucket < train + l->val_buckets)
        pm_key_range(l->val_buckets, bucket - train, lo, hi);
    else
        pm_key_range(l->test_buckets, bucket - train - l->val_buckets, lo, hi);
}

static uint32_t buckets_for(uint64_t bytes, uint64_t bucket_bytes, uint32_t max)
{
    uint64_t n = bucket_bytes ? (bytes + bucket_bytes - 1) / bucket_bytes : 1;
    if (n < 1)
        n = 1;
    if (n > max)
        n = max;
    return (uint32_t)n;
}

void pm_layout_choose(pm_layout_t *l, uint32_t train_shards, uint64_t est_train_bytes,
                      uint64_t est_val_bytes, uint64_t est_test_bytes, uint64_t bucket_bytes)
{
    l->train_shards = train_shards;
    l->dedup_buckets = 0; /* set by the caller for output.dedup */
    /* Cap the total so train_shards * per_shard stays far below 2^32. */
    uint32_t max_per_shard = PM_MAX_BUCKETS_PER_FILE;
    if ((uint64_t)train_shards * max_per_shard > (1u << 26))
        max_per_shard = (uint32_t)((1u << 26) / train_shards);
    if (max_per_shard < 1)
        max_per_shard = 1;
    l->per_shard = buckets_for(est_train_bytes / train_shards, bucket_bytes, max_per_shard);
    l->val_buckets = buckets_for(est_val_bytes, bucket_bytes, PM_MAX_BUCKETS_PER_FILE);
    l->test_buckets = buckets_for(est_test_bytes, bucket_bytes, PM_MAX_BUCKETS_PER_FILE);
}
