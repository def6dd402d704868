/* mix.h: the pure functions every output byte depends on (DESIGN 1.3).
 *
 * Besides statistical properties, the known-answer tests re-derive the
 * documented recipe (mix.h header) straight from XXH3 and also pin literal
 * values, so a refactor cannot silently change which document goes where. */
#include "pilemix/mix.h"
#include "test_util.h"

#include <math.h>
#include <xxhash.h>

__extension__ typedef unsigned __int128 u128_t;

/* check's ck_assert_* writes a pipe message per passing assertion; loops of
 * millions use this instead, which only reports failures. */
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #c);                            \
    } while (0)
#define EXPECT_OP(a, op, b)                                                                        \
    do {                                                                                           \
        unsigned long long x_ = (unsigned long long)(a), y_ = (unsigned long long)(b);             \
        if (!(x_ op y_))                                                                           \
            ck_abort_msg("%s:%d: expected %s %s %s (%#llx vs %#llx)", __FILE__, __LINE__, #a, #op, \
                         #b, x_, y_);                                                              \
    } while (0)

static uint64_t ref_mulhi(uint64_t a, uint64_t b) { return (uint64_t)(((u128_t)a * b) >> 64); }

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- pm_mulhi ---------------------------------------------------------- */

START_TEST(test_mulhi_edges)
{
    static const uint64_t v[] = {0,
                                 1,
                                 2,
                                 3,
                                 0xffffffffull,
                                 0x100000000ull,
                                 0x100000001ull,
                                 0x7fffffffffffffffull,
                                 0x8000000000000000ull,
                                 0x8000000000000001ull,
                                 0xfffffffeffffffffull,
                                 0xffffffff00000000ull,
                                 0xffffffff00000001ull,
                                 UINT64_MAX - 1,
                                 UINT64_MAX,
                                 30,
                                 65536,
                                 0x5555555555555555ull,
                                 0xaaaaaaaaaaaaaaaaull};
    size_t n = sizeof v / sizeof *v;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            EXPECT_OP(pm_mulhi(v[i], v[j]), ==, ref_mulhi(v[i], v[j]));
            EXPECT_OP(pm_mulhi(v[i], v[j]), ==, pm_mulhi(v[j], v[i]));
        }
    EXPECT_OP(pm_mulhi(UINT64_MAX, UINT64_MAX), ==, UINT64_MAX - 1);
    EXPECT_OP(pm_mulhi(UINT64_MAX, 30), ==, 29);
    EXPECT_OP(pm_mulhi(0x8000000000000000ull, 30), ==, 15);
}
END_TEST

START_TEST(test_mulhi_random)
{
    uint64_t s = pm_test_seed();
    for (int i = 0; i < 2000000; i++) {
        uint64_t a = pm_test_rand(&s), b = pm_test_rand(&s);
        /* Mix in narrow operands: the carries between the 32-bit halves. */
        switch (i & 3) {
        case 1: b >>= (b & 63); break;
        case 2:
            a |= 0xffffffff00000000ull;
            b |= 0xffffffffull;
            break;
        case 3: b = (uint32_t)b; break;
        default: break;
        }
        if (pm_mulhi(a, b) != ref_mulhi(a, b))
            ck_abort_msg("mulhi(%#llx, %#llx) = %#llx, want %#llx", (unsigned long long)a,
                         (unsigned long long)b, (unsigned long long)pm_mulhi(a, b),
                         (unsigned long long)ref_mulhi(a, b));
    }
}
END_TEST

/* ---- pm_fraction_to_u64 ------------------------------------------------ */

START_TEST(test_fraction_edges)
{
    EXPECT_OP(pm_fraction_to_u64(0.0), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(-0.0), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(-0.5), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(NAN), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(1e-300), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(ldexp(1.0, -65)), ==, 0);
    EXPECT_OP(pm_fraction_to_u64(ldexp(1.0, -64)), ==, 1);
    EXPECT_OP(pm_fraction_to_u64(ldexp(3.0, -64)), ==, 3);
    EXPECT_OP(pm_fraction_to_u64(ldexp(1.0, -60)), ==, 16);
    EXPECT_OP(pm_fraction_to_u64(0.5), ==, 1ull << 63);
    EXPECT_OP(pm_fraction_to_u64(0.25), ==, 1ull << 62);
    EXPECT_OP(pm_fraction_to_u64(0.75), ==, 3ull << 62);
    /* 0.1 is 0x1.999999999999ap-4: times 2^64 exactly 0x1999999999999a00. */
    EXPECT_OP(pm_fraction_to_u64(0.1), ==, 0x1999999999999a00ull);
    /* Largest double below 1 is 1 - 2^-53. */
    EXPECT_OP(pm_fraction_to_u64(nextafter(1.0, 0.0)), ==, 0xfffffffffffff800ull);
    EXPECT_OP(pm_fraction_to_u64(1.0), ==, UINT64_MAX);
    EXPECT_OP(pm_fraction_to_u64(2.0), ==, UINT64_MAX);
    EXPECT_OP(pm_fraction_to_u64(INFINITY), ==, UINT64_MAX);
}
END_TEST

START_TEST(test_fraction_monotone)
{
    uint64_t s = pm_test_seed();
    for (int i = 0; i < 100000; i++) {
        double a = (double)(pm_test_rand(&s) >> 11) * 0x1.0p-53;
        double b = nextafter(a, 1.0);
        EXPECT_OP(pm_fraction_to_u64(a), <=, pm_fraction_to_u64(b));
        /* floor(x * 2^64): x * 2^64 is exact, and the result is within 1. */
        long double want = floorl((long double)a * 0x1.0p64L);
        EXPECT(fabsl((long double)pm_fraction_to_u64(a) - want) < 1.0L);
    }
}
END_TEST

/* ---- pm_mix_split ------------------------------------------------------ */

static size_t rand_text(uint64_t *s, char *buf, size_t max)
{
    size_t n = 1 + (size_t)(pm_test_rand(s) % max);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)pm_test_rand(s);
    return n;
}

START_TEST(test_split_proportions)
{
    uint64_t s = pm_test_seed();
    pm_mix_t mix;
    pm_mix_init(&mix, 42, 0.1, 0.05);
    const size_t n = 200000;
    size_t count[PM_SPLIT_COUNT] = {0};
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        size_t len = rand_text(&s, buf, sizeof buf);
        pm_split_t sp = pm_mix_split(&mix, buf, len);
        EXPECT_OP(sp, >=, 0);
        EXPECT_OP(sp, <, PM_SPLIT_COUNT);
        count[sp]++;
    }
    double p[3] = {0.85, 0.1, 0.05};
    for (int k = 0; k < 3; k++) {
        double mean = n * p[k], sd = sqrt(n * p[k] * (1 - p[k]));
        if (fabs((double)count[k] - mean) > 5 * sd)
            ck_abort_msg("split %d: %zu of %zu, expected %.0f +- %.0f", k, count[k], n, mean,
                         5 * sd);
    }
}
END_TEST

START_TEST(test_split_duplicates_agree)
{
    uint64_t s = pm_test_seed();
    pm_mix_t mix;
    pm_mix_init(&mix, 7, 0.3, 0.3);
    char a[200], b[200];
    size_t seen[PM_SPLIT_COUNT] = {0};
    for (int i = 0; i < 20000; i++) {
        size_t len = rand_text(&s, a, sizeof a);
        memcpy(b, a, len); /* same bytes, different address */
        pm_split_t sa = pm_mix_split(&mix, a, len);
        EXPECT_OP(sa, ==, pm_mix_split(&mix, b, len));
        EXPECT_OP(sa, ==, pm_mix_split(&mix, a, len));
        EXPECT_OP(pm_mix_holdout_key(&mix, a, len), ==, pm_mix_holdout_key(&mix, b, len));
        seen[sa]++;
    }
    for (int k = 0; k < 3; k++)
        EXPECT_OP(seen[k], >, 0);
    /* A text with an embedded NUL is hashed by length, not as a C string. */
    int differ = 0;
    for (int i = 0; i < 64; i++) {
        char t1[8] = {'x', 0, (char)i, 'y'}, t2[8] = {'x', 0, (char)(i + 1), 'y'};
        differ += pm_mix_holdout_key(&mix, t1, 4) != pm_mix_holdout_key(&mix, t2, 4);
    }
    EXPECT_OP(differ, ==, 64);
}
END_TEST

START_TEST(test_split_zero_fractions_all_train)
{
    uint64_t s = pm_test_seed();
    pm_mix_t mix;
    pm_mix_init(&mix, 3, 0.0, 0.0);
    EXPECT_OP(mix.val_below, ==, 0);
    EXPECT_OP(mix.test_below, ==, 0);
    char buf[64];
    for (int i = 0; i < 50000; i++) {
        size_t len = rand_text(&s, buf, sizeof buf);
        EXPECT_OP(pm_mix_split(&mix, buf, len), ==, PM_SPLIT_TRAIN);
    }
    EXPECT_OP(pm_mix_split(&mix, "", 0), ==, PM_SPLIT_TRAIN);
    /* val only: never test. test only: never val. */
    pm_mix_t v, t;
    pm_mix_init(&v, 3, 0.2, 0.0);
    pm_mix_init(&t, 3, 0.0, 0.2);
    size_t nv = 0, nt = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = rand_text(&s, buf, sizeof buf);
        pm_split_t a = pm_mix_split(&v, buf, len), b = pm_mix_split(&t, buf, len);
        EXPECT_OP(a, !=, PM_SPLIT_TEST);
        EXPECT_OP(b, !=, PM_SPLIT_VAL);
        nv += a == PM_SPLIT_VAL;
        nt += b == PM_SPLIT_TEST;
        /* Same seed, same hash: the 20% held out is the same texts. */
        EXPECT_OP(a == PM_SPLIT_VAL, ==, b == PM_SPLIT_TEST);
    }
    EXPECT_OP(nv, >, 3000);
    EXPECT_OP(nv, <, 5000);
    EXPECT_OP(nv, ==, nt);
}
END_TEST

START_TEST(test_split_depends_on_seed)
{
    uint64_t s = pm_test_seed();
    pm_mix_t a, b;
    pm_mix_init(&a, 1, 0.5, 0.0);
    pm_mix_init(&b, 2, 0.5, 0.0);
    char buf[64];
    int differ = 0;
    for (int i = 0; i < 10000; i++) {
        size_t len = rand_text(&s, buf, sizeof buf);
        differ += pm_mix_split(&a, buf, len) != pm_mix_split(&b, buf, len);
    }
    /* Independent seeds disagree about half the time. */
    EXPECT_OP(differ, >, 4500);
    EXPECT_OP(differ, <, 5500);
}
END_TEST

/* ---- pm_mix_copies and keys -------------------------------------------- */

START_TEST(test_copies_integer_epochs_exact)
{
    uint64_t s = pm_test_seed();
    pm_mix_t mix;
    pm_mix_init(&mix, 11, 0.0, 0.0);
    static const double ep[] = {1.0, 2.0, 3.0, 7.0, 1000.0};
    for (size_t e = 0; e < sizeof ep / sizeof *ep; e++)
        for (int i = 0; i < 20000; i++)
            EXPECT_OP(pm_mix_copies(&mix, pm_test_rand(&s), pm_test_rand(&s), ep[e]), ==,
                      (uint32_t)ep[e]);
}
END_TEST

static void check_fractional(double epochs, size_t n, uint64_t *s)
{
    pm_mix_t mix;
    pm_mix_init(&mix, 5, 0.0, 0.0);
    uint64_t fh = pm_file_hash("comp", "dir/file.jsonl");
    uint32_t lo = (uint32_t)floor(epochs);
    double sum = 0;
    size_t zeros = 0, extras = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = (i & 1) ? pm_test_rand(s) : i * 97;
        uint32_t c = pm_mix_copies(&mix, fh, off, epochs);
        EXPECT(c == lo || c == lo + 1);
        EXPECT_OP(c, ==, pm_mix_copies(&mix, fh, off, epochs)); /* pure */
        sum += c;
        zeros += c == 0;
        extras += c == lo + 1;
    }
    double f = epochs - lo, mean = sum / (double)n, sd = sqrt(f * (1 - f) / (double)n);
    if (fabs(mean - epochs) > 5 * sd)
        ck_abort_msg("epochs %g: mean copies %.5f over %zu docs (5 sigma %.5f)", epochs, mean, n,
                     5 * sd);
    EXPECT_OP(extras, >, 0);
    if (lo == 0)
        EXPECT_OP(zeros, >, 0);
    else
        EXPECT_OP(zeros, ==, 0);
}

START_TEST(test_copies_fractional_mean)
{
    uint64_t s = pm_test_seed();
    check_fractional(2.3, 100000, &s);
    check_fractional(1.5, 100000, &s);
    check_fractional(0.3, 100000, &s);
    check_fractional(0.01, 200000, &s);
    check_fractional(999.75, 50000, &s);
}
END_TEST

START_TEST(test_copies_nested_fractions)
{
    /* The extra copy is a threshold on one hash: a document kept at 0.3 is
     * kept at 0.6 too (growing the epochs only adds documents). */
    uint64_t s = pm_test_seed();
    pm_mix_t mix;
    pm_mix_init(&mix, 9, 0.0, 0.0);
    for (int i = 0; i < 20000; i++) {
        uint64_t fh = pm_test_rand(&s), off = pm_test_rand(&s);
        EXPECT_OP(pm_mix_copies(&mix, fh, off, 0.3), <=, pm_mix_copies(&mix, fh, off, 0.6));
        EXPECT_OP(pm_mix_copies(&mix, fh, off, 0.6) + 2, ==, pm_mix_copies(&mix, fh, off, 2.6));
    }
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

START_TEST(test_keys_differ_per_copy_and_seed)
{
    uint64_t s = pm_test_seed();
    pm_mix_t a, b;
    pm_mix_init(&a, 100, 0.0, 0.0);
    pm_mix_init(&b, 101, 0.0, 0.0);
    const size_t docs = 20000, copies = 4;
    uint64_t *keys = malloc(docs * copies * 2 * sizeof *keys);
    uint64_t fh = pm_file_hash("Books3", "books3/part-00.jsonl.zst");
    size_t k = 0;
    for (size_t i = 0; i < docs; i++) {
        uint64_t off = i * 1000 + (pm_test_rand(&s) % 1000);
        for (uint32_t c = 0; c < copies; c++) {
            uint64_t ka = pm_mix_train_key(&a, fh, off, c);
            EXPECT_OP(ka, ==, pm_mix_train_key(&a, fh, off, c));
            keys[k++] = ka;
            keys[k++] = pm_mix_train_key(&b, fh, off, c);
        }
    }
    qsort(keys, k, sizeof *keys, cmp_u64);
    for (size_t i = 1; i < k; i++)
        EXPECT_OP(keys[i - 1], !=, keys[i]); /* 160k keys: a collision is ~2^-30 */
    free(keys);
    /* Other inputs of the identity matter too. */
    uint64_t fh2 = pm_file_hash("Books3", "books3/part-01.jsonl.zst");
    EXPECT_OP(fh, !=, fh2);
    EXPECT_OP(pm_mix_train_key(&a, fh, 0, 0), !=, pm_mix_train_key(&a, fh2, 0, 0));
    EXPECT_OP(pm_mix_train_key(&a, fh, 0, 0), !=, pm_mix_train_key(&a, fh, 1, 0));
    /* The NUL separator: ("ab","c") and ("a","bc") are different files. */
    EXPECT_OP(pm_file_hash("ab", "c"), !=, pm_file_hash("a", "bc"));
    /* Purpose tags separate the streams. */
    EXPECT_OP(a.seed_split, !=, a.seed_extra);
    EXPECT_OP(a.seed_order, !=, a.seed_holdout);
    EXPECT_OP(a.seed_split, !=, a.seed_holdout);
}
END_TEST

/* ---- pm_mix_shard ------------------------------------------------------ */

static void check_shard_uniform(uint32_t shards, size_t n, uint64_t *s)
{
    pm_mix_t mix;
    pm_mix_init(&mix, pm_test_rand(s), 0.0, 0.0);
    uint64_t fh = pm_file_hash("Pile-CC", "cc/00.jsonl.zst");
    uint64_t *count = calloc(shards, sizeof *count);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += 1 + pm_test_rand(s) % 5000; /* increasing offsets, as in a file */
        uint32_t copy = (uint32_t)(i % 3);
        uint64_t key = pm_mix_train_key(&mix, fh, off, copy);
        uint32_t sh = pm_mix_shard(key, shards);
        EXPECT_OP(sh, <, shards);
        EXPECT_OP(sh, ==, pm_mulhi(key, shards));
        EXPECT_OP(sh, ==, ref_mulhi(key, shards));
        count[sh]++;
    }
    double e = (double)n / shards, chi2 = 0;
    for (uint32_t k = 0; k < shards; k++)
        chi2 += ((double)count[k] - e) * ((double)count[k] - e) / e;
    double df = shards - 1.0;
    /* Mean df, sd sqrt(2 df): 7 sd is far beyond chance. */
    if (chi2 > df + 7 * sqrt(2 * df))
        ck_abort_msg("%u shards: chi-square %.1f over %zu keys (df %.0f)", shards, chi2, n, df);
    free(count);
}

START_TEST(test_shard_uniform)
{
    uint64_t s = pm_test_seed();
    check_shard_uniform(1, 10000, &s);
    check_shard_uniform(2, 200000, &s);
    check_shard_uniform(7, 300000, &s);
    check_shard_uniform(30, 600000, &s);
    check_shard_uniform(1000, 1000000, &s);
    /* Boundaries of the key space. */
    EXPECT_OP(pm_mix_shard(0, 30), ==, 0);
    EXPECT_OP(pm_mix_shard(UINT64_MAX, 30), ==, 29);
    EXPECT_OP(pm_mix_shard(UINT64_MAX, 100000), ==, 99999);
    EXPECT_OP(pm_mix_shard(UINT64_MAX, 1), ==, 0);
}
END_TEST

/* ---- known answers: the on-disk contract ------------------------------- */

static uint64_t tag_seed(const char *tag, uint64_t seed)
{
    return XXH3_64bits_withSeed(tag, strlen(tag), seed);
}

START_TEST(test_known_answer_recipe)
{
    const uint64_t seed = 42;
    const char *comp = "Wikipedia (en)", *rel = "wiki/en-00.jsonl.zst";
    const uint64_t off = 123456789;
    const char *text = "The quick brown fox\njumps over the lazy dog.";
    size_t tl = strlen(text);

    pm_mix_t mix;
    pm_mix_init(&mix, seed, 0.1, 0.05);
    EXPECT_OP(mix.seed_split, ==, tag_seed("pilemix/split", seed));
    EXPECT_OP(mix.seed_extra, ==, tag_seed("pilemix/extra", seed));
    EXPECT_OP(mix.seed_order, ==, tag_seed("pilemix/order", seed));
    EXPECT_OP(mix.seed_holdout, ==, tag_seed("pilemix/holdout", seed));
    EXPECT_OP(mix.val_below, ==, 0x1999999999999a00ull);
    EXPECT_OP(mix.test_below, ==, (uint64_t)ldexp(0.1 + 0.05, 64));

    /* file hash: XXH3-64 seed 0 of "component\0relpath". */
    char idbuf[128];
    size_t cl = strlen(comp) + 1, rl = strlen(rel);
    memcpy(idbuf, comp, cl);
    memcpy(idbuf + cl, rel, rl);
    uint64_t fh = XXH3_64bits(idbuf, cl + rl);
    EXPECT_OP(pm_file_hash(comp, rel), ==, fh);

    /* identity bytes: fh LE || offset LE (|| copy u32 LE). */
    unsigned char id[20];
    put_le(id, fh, 8);
    put_le(id + 8, off, 8);
    uint64_t extra_h = XXH3_64bits_withSeed(id, 16, tag_seed("pilemix/extra", seed));
    for (double ep = 0.05; ep < 4; ep += 0.35) {
        uint32_t want = (uint32_t)floor(ep) + (extra_h < (uint64_t)ldexp(ep - floor(ep), 64));
        EXPECT_OP(pm_mix_copies(&mix, fh, off, ep), ==, want);
    }
    for (uint32_t c = 0; c < 5; c++) {
        put_le(id + 16, c, 4);
        uint64_t key = XXH3_64bits_withSeed(id, 20, tag_seed("pilemix/order", seed));
        EXPECT_OP(pm_mix_train_key(&mix, fh, off, c), ==, key);
        EXPECT_OP(pm_mix_shard(key, 30), ==, (uint32_t)(((u128_t)key * 30) >> 64));
    }
    uint64_t sh = XXH3_64bits_withSeed(text, tl, tag_seed("pilemix/split", seed));
    pm_split_t want = sh < mix.val_below    ? PM_SPLIT_VAL
                      : sh < mix.test_below ? PM_SPLIT_TEST
                                            : PM_SPLIT_TRAIN;
    EXPECT_OP(pm_mix_split(&mix, text, tl), ==, want);
    EXPECT_OP(pm_mix_holdout_key(&mix, text, tl), ==,
              XXH3_64bits_withSeed(text, tl, tag_seed("pilemix/holdout", seed)));

    /* The split rule over many texts, against the recipe. */
    uint64_t s = pm_test_seed();
    char buf[48];
    for (int i = 0; i < 20000; i++) {
        size_t len = rand_text(&s, buf, sizeof buf);
        uint64_t h = XXH3_64bits_withSeed(buf, len, mix.seed_split);
        pm_split_t w = h < 0x1999999999999a00ull             ? PM_SPLIT_VAL
                       : h < (uint64_t)ldexp(0.1 + 0.05, 64) ? PM_SPLIT_TEST
                                                             : PM_SPLIT_TRAIN;
        EXPECT_OP(pm_mix_split(&mix, buf, len), ==, w);
    }
}
END_TEST

START_TEST(test_known_answer_literals)
{
    /* Golden values of release 0.1.0 (XXH3 is frozen since xxHash 0.8.0).
     * If one of these changes, every Pile built before changes: that needs
     * an issue and a version bump, never a silent refactor. */
    pm_mix_t mix;
    pm_mix_init(&mix, 42, 0.1, 0.05);
    uint64_t fh = pm_file_hash("Wikipedia (en)", "wiki/en-00.jsonl.zst");
    EXPECT_OP(fh, ==, 0x9b30d53e2f5c7a4eull);
    EXPECT_OP(mix.seed_split, ==, 0xce1f357e8b6cea13ull);
    EXPECT_OP(mix.seed_extra, ==, 0x9378c3b80a5cced3ull);
    EXPECT_OP(mix.seed_order, ==, 0x5fa34fc68caa92f0ull);
    EXPECT_OP(mix.seed_holdout, ==, 0x4cfcfe21f3dbfc6bull);
    EXPECT_OP(pm_mix_train_key(&mix, fh, 123456789, 0), ==, 0x7e6b4e0e1f6ed8a5ull);
    EXPECT_OP(pm_mix_train_key(&mix, fh, 123456789, 1), ==, 0x65560abe1c427633ull);
    EXPECT_OP(pm_mix_copies(&mix, fh, 123456789, 2.5), ==, 3);
    const char *text = "The quick brown fox\njumps over the lazy dog.";
    EXPECT_OP(pm_mix_holdout_key(&mix, text, strlen(text)), ==, 0x8dc1d603db170680ull);
    /* Its split hash 0x097ca195c4a21fbb is below val_below: val. */
    EXPECT_OP(pm_mix_split(&mix, text, strlen(text)), ==, PM_SPLIT_VAL);
    EXPECT_OP(pm_mix_shard(0x7e6b4e0e1f6ed8a5ull, 30), ==, 14);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mix");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mulhi_edges);
    tcase_add_test(tc, test_mulhi_random);
    tcase_add_test(tc, test_fraction_edges);
    tcase_add_test(tc, test_fraction_monotone);
    tcase_add_test(tc, test_split_proportions);
    tcase_add_test(tc, test_split_duplicates_agree);
    tcase_add_test(tc, test_split_zero_fractions_all_train);
    tcase_add_test(tc, test_split_depends_on_seed);
    tcase_add_test(tc, test_copies_integer_epochs_exact);
    tcase_add_test(tc, test_copies_fractional_mean);
    tcase_add_test(tc, test_copies_nested_fractions);
    tcase_add_test(tc, test_keys_differ_per_copy_and_seed);
    tcase_add_test(tc, test_shard_uniform);
    tcase_add_test(tc, test_known_answer_recipe);
    tcase_add_test(tc, test_known_answer_literals);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
