/* pm_mix_t: every random decision of a run (DESIGN 1.3), as pure functions.
 *
 * All randomness is XXH3-64 keyed by the run seed and a purpose tag: the
 * purpose seed is XXH3_64bits_withSeed(tag, strlen(tag), seed) for the tags
 * "pilemix/split", "pilemix/extra", "pilemix/order", "pilemix/holdout".
 *
 * A document's identity is (component name, identity path, byte offset). It
 * is hashed in two steps so the per-document cost is small: the file hash
 * pm_file_hash(component, relpath) = XXH3-64 (seed 0) of
 * "component\0relpath", then identity bytes = file_hash (u64 LE) || offset
 * (u64 LE), and for a copy additionally || copy index (u32 LE).
 *
 *   split   = by XXH3(text, split seed) against the val and test thresholds
 *   copies  = floor(epochs) + [XXH3(identity, extra seed) < frac(epochs) * 2^64]
 *   key     = XXH3(identity || copy, order seed)            (train copies)
 *   key     = XXH3(text, holdout seed)                      (val/test: duplicates meet)
 *   shard   = mulhi(key, train_shards)
 *
 * Nothing here depends on ranks, counts or the corpus size. */
#ifndef PILEMIX_MIX_H
#define PILEMIX_MIX_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PM_SPLIT_TRAIN = 0, PM_SPLIT_VAL = 1, PM_SPLIT_TEST = 2 } pm_split_t;
#define PM_SPLIT_COUNT 3

/* "train", "val", "test": as the manifest and messages name the splits. */
static inline const char *pm_split_name(pm_split_t s)
{
    return s == PM_SPLIT_TRAIN ? "train" : s == PM_SPLIT_VAL ? "val" : "test";
}

typedef struct pm_mix {
    uint64_t seed_split, seed_extra, seed_order, seed_holdout;
    uint64_t val_below;  /* split hash < val_below            -> val */
    uint64_t test_below; /* val_below <= hash < test_below    -> test */
} pm_mix_t;

void pm_mix_init(pm_mix_t *mix, uint64_t seed, double val_fraction, double test_fraction);

/* floor(x * 2^64) for x in [0,1), exactly as the mix thresholds use it. */
uint64_t pm_fraction_to_u64(double x);

/* High 64 bits of a * b: maps a uniform key to [0, b). */
static inline uint64_t pm_mulhi(uint64_t a, uint64_t b)
{
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
    uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi;
    return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

uint64_t pm_file_hash(const char *component, const char *relpath);

pm_split_t pm_mix_split(const pm_mix_t *mix, const void *text, size_t len);

/* Number of train copies of the document (0 is possible when epochs < 1). */
uint32_t pm_mix_copies(const pm_mix_t *mix, uint64_t file_hash, uint64_t offset, double epochs);

uint64_t pm_mix_train_key(const pm_mix_t *mix, uint64_t file_hash, uint64_t offset, uint32_t copy);

uint64_t pm_mix_holdout_key(const pm_mix_t *mix, const void *text, size_t len);

static inline uint32_t pm_mix_shard(uint64_t key, uint32_t train_shards)
{
    return (uint32_t)pm_mulhi(key, train_shards);
}

#endif
