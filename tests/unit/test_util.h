/* Helpers shared by the unit suites: a scratch directory per test. */
#ifndef PM_TEST_UTIL_H
#define PM_TEST_UTIL_H

#include "pilemix/fsutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mkdtemp under $PM_TEST_TMP (or /tmp); the caller frees and removes it. */
static inline char *pm_test_tmpdir(void)
{
    const char *base = getenv("PM_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    pm_mkdir_p(base, NULL);
    size_t n = strlen(base) + 32;
    char *dir = malloc(n);
    ck_assert_ptr_nonnull(dir);
    snprintf(dir, n, "%s/pmtest.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static inline void pm_test_rmdir(char *dir)
{
    pm_remove_tree(dir, NULL);
    free(dir);
}

/* splitmix64: the suites' PRNG; seeds are printed so failures reproduce. */
static inline uint64_t pm_test_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t pm_test_seed(void)
{
    const char *s = getenv("PM_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : 20261126u;
    fprintf(stderr, "test seed: %llu (set PM_TEST_SEED to repeat)\n", (unsigned long long)seed);
    return seed;
}

/* Encode code point cp as UTF-8 at p (room for 4 bytes); returns its length. */
static inline size_t pm_test_put_utf8(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Run a suite (CK_ENV: CK_VERBOSITY picks the detail) and return the exit
 * status for main(). */
static inline int pm_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
