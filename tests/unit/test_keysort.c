#include "pilemix/keysort.h"
#include "test_util.h"

static int cmp_keyed(const void *a, const void *b)
{
    const pm_keyed_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->value < y->value ? -1 : x->value > y->value; /* stable: value = input index */
}

static void check_against_qsort(size_t n, uint64_t mask, uint64_t base)
{
    uint64_t s = pm_test_seed();
    pm_keyed_t *v = malloc((n + 1) * sizeof *v), *tmp = malloc((n + 1) * sizeof *v),
               *want = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].key = base | (pm_test_rand(&s) & mask);
        v[i].value = i;
    }
    memcpy(want, v, n * sizeof *v);
    qsort(want, n, sizeof *want, cmp_keyed);
    pm_keysort(v, tmp, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(v[i].key, want[i].key);
        ck_assert_uint_eq(v[i].value, want[i].value); /* equal keys keep input order */
    }
    free(v);
    free(tmp);
    free(want);
}

START_TEST(test_full_range) { check_against_qsort(100000, UINT64_MAX, 0); }
END_TEST

START_TEST(test_narrow_bucket) { check_against_qsort(50000, 0xffffff, 0xabcdef0000000000ull); }
END_TEST

START_TEST(test_many_equal_keys) { check_against_qsort(20000, 0x7, 0); }
END_TEST

START_TEST(test_tiny)
{
    check_against_qsort(0, UINT64_MAX, 0);
    check_against_qsort(1, UINT64_MAX, 0);
    check_against_qsort(2, UINT64_MAX, 0);
    check_against_qsort(3, 1, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keysort");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_range);
    tcase_add_test(tc, test_narrow_bucket);
    tcase_add_test(tc, test_many_equal_keys);
    tcase_add_test(tc, test_tiny);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
