/* layout.h: buckets are exact key ranges, and cutting work never moves a key
 * to another output file. */
#include "pilemix/layout.h"
#include "test_util.h"

/* check's ck_assert_* writes a pipe message per passing assertion; the loops
 * here make millions, so they use this, which only reports failures. */
#define EXPECT_OP(a, op, b)                                                                        \
    do {                                                                                           \
        unsigned long long x_ = (unsigned long long)(a), y_ = (unsigned long long)(b);             \
        if (!(x_ op y_))                                                                           \
            ck_abort_msg("%s:%d: expected %s %s %s (%#llx vs %#llx)", __FILE__, __LINE__, #a, #op, \
                         #b, x_, y_);                                                              \
    } while (0)

__extension__ typedef unsigned __int128 u128_t;

/* ceil(slot * 2^64 / m): the first key of a slot, by 128-bit arithmetic. */
static uint64_t ref_first_key(uint64_t m, uint64_t slot)
{
    u128_t num = (u128_t)slot << 64;
    return (uint64_t)((num + m - 1) / m);
}

static void check_range(uint64_t m, uint64_t slot)
{
    uint64_t lo, hi;
    pm_key_range(m, slot, &lo, &hi);
    EXPECT_OP(lo, <=, hi);
    EXPECT_OP(pm_mulhi(lo, m), ==, slot);
    EXPECT_OP(pm_mulhi(hi, m), ==, slot);
    if (lo > 0)
        EXPECT_OP(pm_mulhi(lo - 1, m), ==, slot - 1);
    else
        EXPECT_OP(slot, ==, 0);
    if (hi < UINT64_MAX)
        EXPECT_OP(pm_mulhi(hi + 1, m), ==, slot + 1);
    else
        EXPECT_OP(slot, ==, m - 1);
    EXPECT_OP(lo, ==, ref_first_key(m, slot));
    if (slot + 1 < m)
        EXPECT_OP(hi, ==, ref_first_key(m, slot + 1) - 1);
}

START_TEST(test_key_range_small_multipliers)
{
    uint64_t s = pm_test_seed();
    /* Every slot of small multipliers, and the extremes of larger ones. */
    for (uint64_t m = 1; m <= 300; m++)
        for (uint64_t slot = 0; slot < m; slot++)
            check_range(m, slot);
    for (int i = 0; i < 30000; i++) {
        uint64_t m = 1 + pm_test_rand(&s) % 1000000;
        check_range(m, pm_test_rand(&s) % m);
        check_range(m, 0);
        check_range(m, m - 1);
    }
}
END_TEST

START_TEST(test_key_range_huge_multipliers)
{
    uint64_t s = pm_test_seed();
    static const uint64_t ms[] = {UINT64_MAX,       UINT64_MAX - 1, 1ull << 63,    (1ull << 63) + 1,
                                  (1ull << 32) + 1, 1ull << 32,     0xffffffffull, 3ull << 40};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
        check_range(ms[i], 0);
        check_range(ms[i], 1);
        check_range(ms[i], ms[i] / 2);
        check_range(ms[i], ms[i] - 2);
        check_range(ms[i], ms[i] - 1);
        for (int k = 0; k < 2000; k++)
            check_range(ms[i], pm_test_rand(&s) % ms[i]);
    }
    for (int i = 0; i < 30000; i++) {
        uint64_t m = pm_test_rand(&s) >> (pm_test_rand(&s) % 40);
        if (m < 2)
            m = 2;
        check_range(m, pm_test_rand(&s) % m);
    }
    /* One slot is the whole key space. */
    uint64_t lo, hi;
    pm_key_range(1, 0, &lo, &hi);
    ck_assert_uint_eq(lo, 0);
    ck_assert_uint_eq(hi, UINT64_MAX);
}
END_TEST

static void random_layout(uint64_t *s, pm_layout_t *l)
{
    l->train_shards = 1 + (uint32_t)(pm_test_rand(s) % 64);
    l->per_shard = 1 + (uint32_t)(pm_test_rand(s) % 40);
    l->val_buckets = 1 + (uint32_t)(pm_test_rand(s) % 17);
    l->test_buckets = 1 + (uint32_t)(pm_test_rand(s) % 17);
    l->dedup_buckets = 0; /* the files own every bucket; dedup buckets come after */
}

START_TEST(test_bucket_matches_shard)
{
    uint64_t s = pm_test_seed();
    for (int round = 0; round < 300; round++) {
        pm_layout_t l;
        random_layout(&s, &l);
        if (round == 0)
            l = (pm_layout_t){30, 65536, 3, 3, 0};
        if (round == 1)
            l = (pm_layout_t){100000, 671, 1, 1, 0};
        uint32_t train = l.train_shards * l.per_shard;
        ck_assert_uint_eq(pm_layout_total_buckets(&l), train + l.val_buckets + l.test_buckets);
        ck_assert_uint_eq(pm_layout_files(&l), l.train_shards + 2);
        for (int i = 0; i < 5000; i++) {
            uint64_t key = pm_test_rand(&s);
            if (i == 0)
                key = 0;
            if (i == 1)
                key = UINT64_MAX;
            uint32_t b = pm_layout_bucket(&l, PM_SPLIT_TRAIN, key);
            EXPECT_OP(b, <, train);
            EXPECT_OP(b / l.per_shard, ==, pm_mix_shard(key, l.train_shards));
            uint64_t lo, hi;
            pm_layout_bucket_keys(&l, b, &lo, &hi);
            EXPECT_OP(lo, <=, key);
            EXPECT_OP(key, <=, hi);

            uint32_t v = pm_layout_bucket(&l, PM_SPLIT_VAL, key);
            EXPECT_OP(v, >=, train);
            EXPECT_OP(v, <, train + l.val_buckets);
            pm_layout_bucket_keys(&l, v, &lo, &hi);
            EXPECT_OP(lo, <=, key);
            EXPECT_OP(key, <=, hi);

            uint32_t t = pm_layout_bucket(&l, PM_SPLIT_TEST, key);
            EXPECT_OP(t, >=, train + l.val_buckets);
            EXPECT_OP(t, <, pm_layout_total_buckets(&l));
            pm_layout_bucket_keys(&l, t, &lo, &hi);
            EXPECT_OP(lo, <=, key);
            EXPECT_OP(key, <=, hi);
        }
    }
}
END_TEST

START_TEST(test_file_buckets_tile_key_space)
{
    uint64_t s = pm_test_seed();
    for (int round = 0; round < 200; round++) {
        pm_layout_t l;
        random_layout(&s, &l);
        uint32_t next_first = 0;
        for (uint32_t f = 0; f < pm_layout_files(&l); f++) {
            uint32_t first, count, base;
            uint64_t mult;
            pm_layout_file_buckets(&l, f, &first, &count, &mult, &base);
            /* Files own consecutive, disjoint bucket ranges. */
            EXPECT_OP(first, ==, next_first);
            EXPECT_OP(count, >=, 1);
            next_first = first + count;
            pm_split_t split = f < l.train_shards    ? PM_SPLIT_TRAIN
                               : f == l.train_shards ? PM_SPLIT_VAL
                                                     : PM_SPLIT_TEST;
            EXPECT_OP(pm_layout_file_split(&l, f), ==, split);
            uint64_t lo, hi, prev_hi = 0;
            /* For a train shard, its buckets are the keys of that shard. */
            uint64_t file_lo = 0, file_hi = UINT64_MAX;
            if (split == PM_SPLIT_TRAIN)
                pm_key_range(l.train_shards, f, &file_lo, &file_hi);
            for (uint32_t b = first; b < first + count; b++) {
                pm_layout_bucket_keys(&l, b, &lo, &hi);
                EXPECT_OP(lo, <=, hi);
                if (b == first)
                    EXPECT_OP(lo, ==, file_lo);
                else
                    EXPECT_OP(lo, ==, prev_hi + 1); /* no gap, no overlap */
                prev_hi = hi;
                /* Both ends map back to this bucket, both ways of computing it. */
                EXPECT_OP(pm_layout_bucket(&l, split, lo), ==, b);
                EXPECT_OP(pm_layout_bucket(&l, split, hi), ==, b);
                EXPECT_OP(base + pm_mulhi(lo, mult), ==, b);
                EXPECT_OP(base + pm_mulhi(hi, mult), ==, b);
                if (split == PM_SPLIT_TRAIN) {
                    EXPECT_OP(pm_mix_shard(lo, l.train_shards), ==, f);
                    EXPECT_OP(pm_mix_shard(hi, l.train_shards), ==, f);
                }
            }
            EXPECT_OP(prev_hi, ==, file_hi);
        }
        EXPECT_OP(next_first, ==, pm_layout_total_buckets(&l));
    }
}
END_TEST

START_TEST(test_choose_bounds)
{
    pm_layout_t l;
    /* Nothing estimated: still one bucket each. */
    pm_layout_choose(&l, 30, 0, 0, 0, 1 << 20);
    ck_assert_uint_eq(l.train_shards, 30);
    ck_assert_uint_eq(l.per_shard, 1);
    ck_assert_uint_eq(l.val_buckets, 1);
    ck_assert_uint_eq(l.test_buckets, 1);
    /* A zero bucket size does not divide by zero. */
    pm_layout_choose(&l, 4, 1000, 1000, 1000, 0);
    ck_assert_uint_ge(l.per_shard, 1);
    ck_assert_uint_ge(l.val_buckets, 1);
    ck_assert_uint_ge(l.test_buckets, 1);
    /* Ordinary sizes: ceil(bytes / bucket). */
    pm_layout_choose(&l, 10, 1000000000, 5000000, 4500001, 1000000);
    ck_assert_uint_eq(l.per_shard, 100);
    ck_assert_uint_eq(l.val_buckets, 5);
    ck_assert_uint_eq(l.test_buckets, 5);
    pm_layout_choose(&l, 10, 1000000001 * 10ull, 1, 1, 1000000);
    ck_assert_uint_eq(l.per_shard, 1001);
    /* Caps: per file, and the total across shards. */
    pm_layout_choose(&l, 2, UINT64_MAX, UINT64_MAX, UINT64_MAX, 1);
    ck_assert_uint_eq(l.per_shard, PM_MAX_BUCKETS_PER_FILE);
    ck_assert_uint_eq(l.val_buckets, PM_MAX_BUCKETS_PER_FILE);
    ck_assert_uint_eq(l.test_buckets, PM_MAX_BUCKETS_PER_FILE);
    pm_layout_choose(&l, 100000, UINT64_MAX, 0, 0, 1);
    ck_assert_uint_ge(l.per_shard, 1);
    ck_assert_uint_le((uint64_t)l.train_shards * l.per_shard, 1u << 26);
    pm_layout_choose(&l, 1, UINT64_MAX, 0, 0, 1);
    ck_assert_uint_eq(l.per_shard, PM_MAX_BUCKETS_PER_FILE);

    uint64_t s = pm_test_seed();
    for (int i = 0; i < 20000; i++) {
        uint32_t shards = 1 + (uint32_t)(pm_test_rand(&s) % 100000);
        uint64_t tb = pm_test_rand(&s) >> (pm_test_rand(&s) % 64);
        uint64_t vb = pm_test_rand(&s) >> (pm_test_rand(&s) % 64);
        uint64_t bb = 1 + (pm_test_rand(&s) >> (20 + pm_test_rand(&s) % 44));
        pm_layout_choose(&l, shards, tb, vb, vb / 2, bb);
        EXPECT_OP(l.train_shards, ==, shards);
        EXPECT_OP(l.per_shard, >=, 1);
        EXPECT_OP(l.val_buckets, >=, 1);
        EXPECT_OP(l.test_buckets, >=, 1);
        EXPECT_OP(l.per_shard, <=, PM_MAX_BUCKETS_PER_FILE);
        EXPECT_OP(l.val_buckets, <=, PM_MAX_BUCKETS_PER_FILE);
        EXPECT_OP(l.test_buckets, <=, PM_MAX_BUCKETS_PER_FILE);
        EXPECT_OP((uint64_t)l.train_shards * l.per_shard, <=, 1u << 26);
        /* Uncapped, a bucket holds at most bucket_bytes of the estimate. */
        if (l.val_buckets < PM_MAX_BUCKETS_PER_FILE)
            EXPECT_OP((u128_t)l.val_buckets * bb >= vb, ==, 1);
        if (l.per_shard < PM_MAX_BUCKETS_PER_FILE &&
            (uint64_t)l.train_shards * (l.per_shard + 1) <= (1u << 26))
            EXPECT_OP((u128_t)l.per_shard * bb >= tb / shards, ==, 1);
        /* And not more buckets than needed. */
        if (l.val_buckets > 1)
            EXPECT_OP((u128_t)(l.val_buckets - 1) * bb < vb, ==, 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_key_range_small_multipliers);
    tcase_add_test(tc, test_key_range_huge_multipliers);
    tcase_add_test(tc, test_bucket_matches_shard);
    tcase_add_test(tc, test_file_buckets_tile_key_space);
    tcase_add_test(tc, test_choose_bounds);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
