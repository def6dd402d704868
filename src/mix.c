#include "pilemix/mix.h"

#include <math.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

static uint64_t purpose_seed(uint64_t seed, const char *tag)
{
    return XXH3_64bits_withSeed(tag, strlen(tag), seed);
}

uint64_t pm_fraction_to_u64(double x)
{
    if (!(x > 0.0))
        return 0;
    if (x >= 1.0)
        return UINT64_MAX;
    /* ldexp is exact; the product is < 2^64 so the conversion is defined. */
    return (uint64_t)ldexp(x, 64);
}

void pm_mix_init(pm_mix_t *mix, uint64_t seed, double val_fraction, double test_fraction)
{
    mix->seed_split = purpose_seed(seed, "pilemix/split");
    mix->seed_extra = purpose_seed(seed, "pilemix/extra");
    mix->seed_order = purpose_seed(seed, "pilemix/order");
    mix->seed_holdout = purpose_seed(seed, "pilemix/holdout");
    mix->val_below = pm_fraction_to_u64(val_fraction);
    mix->test_below = pm_fraction_to_u64(val_fraction + test_fraction);
    if (mix->test_below < mix->val_below)
        mix->test_below = mix->val_below;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t pm_file_hash(const char *component, const char *relpath)
{
    size_t a = strlen(component), b = strlen(relpath);
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, component, a + 1); /* includes the NUL separator */
    XXH3_64bits_update(&st, relpath, b);
    return XXH3_64bits_digest(&st);
}

pm_split_t pm_mix_split(const pm_mix_t *mix, const void *text, size_t len)
{
    uint64_t h = XXH3_64bits_withSeed(text, len, mix->seed_split);
    if (h < mix->val_below)
        return PM_SPLIT_VAL;
    if (h < mix->test_below)
        return PM_SPLIT_TEST;
    return PM_SPLIT_TRAIN;
}

uint32_t pm_mix_copies(const pm_mix_t *mix, uint64_t file_hash, uint64_t offset, double epochs)
{
    double whole = floor(epochs);
    uint32_t copies = (uint32_t)whole;
    uint64_t frac_below = pm_fraction_to_u64(epochs - whole);
    if (frac_below) {
        unsigned char id[16];
        put_u64le(id, file_hash);
        put_u64le(id + 8, offset);
        if (XXH3_64bits_withSeed(id, sizeof id, mix->seed_extra) < frac_below)
            copies++;
    }
    return copies;
}

uint64_t pm_mix_train_key(const pm_mix_t *mix, uint64_t file_hash, uint64_t offset, uint32_t copy)
{
    unsigned char id[20];
    put_u64le(id, file_hash);
    put_u64le(id + 8, offset);
    for (int i = 0; i < 4; i++)
        id[16 + i] = (unsigned char)(copy >> (8 * i));
    return XXH3_64bits_withSeed(id, sizeof id, mix->seed_order);
}

uint64_t pm_mix_holdout_key(const pm_mix_t *mix, const void *text, size_t len)
{
    return XXH3_64bits_withSeed(text, len, mix->seed_holdout);
}
