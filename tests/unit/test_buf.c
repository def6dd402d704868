/* buf.h: growth, NUL termination, printf, and failures that leave the
 * contents as they were.
 *
 * The suite links with -Wl,--wrap=realloc (tests/meson.build), so a test can
 * make the buffer's next allocation fail and see what is left. */
#include "pilemix/buf.h"
#include "pilemix/error.h"

#include "test_util.h"

#include <stdint.h>

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int fail_reallocs; /* > 0: that many next reallocs fail */
static size_t reallocs;   /* calls seen */

void *__wrap_realloc(void *p, size_t n)
{
    reallocs++;
    if (fail_reallocs > 0) {
        fail_reallocs--;
        return NULL;
    }
    return __real_realloc(p, n);
}

static void check_terminated(const pm_buf_t *b)
{
    ck_assert_ptr_nonnull(b->data);
    ck_assert_uint_lt(b->len, b->cap);
    ck_assert_int_eq(b->data[b->len], '\0');
}

START_TEST(test_init_and_free)
{
    pm_buf_t b = {(char *)1, 5, 7};
    pm_buf_init(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    pm_buf_free(&b); /* an empty buffer frees */
    ck_assert_ptr_null(b.data);
    pm_buf_reset(&b); /* and resets without data */
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(pm_buf_append_str(&b, "abc"), 0);
    pm_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_append_grows_and_terminates)
{
    pm_buf_t b;
    pm_buf_init(&b);
    /* An empty append still gives a terminated (empty) string. */
    ck_assert_int_eq(pm_buf_append(&b, "", 0), 0);
    check_terminated(&b);
    ck_assert_str_eq(b.data, "");

    /* Grow well past the initial capacity, one odd-sized piece at a time,
     * and compare with a model. */
    char model[100000];
    size_t n = 0;
    uint64_t seed = 7;
    size_t caps_seen = 0, last_cap = b.cap;
    while (n < sizeof model - 200) {
        char piece[150];
        size_t k = (size_t)(pm_test_rand(&seed) % sizeof piece);
        for (size_t i = 0; i < k; i++)
            piece[i] = (char)('a' + (pm_test_rand(&seed) % 26));
        ck_assert_int_eq(pm_buf_append(&b, piece, k), 0);
        memcpy(model + n, piece, k);
        n += k;
        ck_assert_uint_eq(b.len, n);
        check_terminated(&b);
        if (b.cap != last_cap) {
            caps_seen++;
            /* Geometric growth: amortized O(1) appends. */
            ck_assert_uint_ge(b.cap, 2 * last_cap);
            last_cap = b.cap;
        }
    }
    ck_assert(memcmp(b.data, model, n) == 0);
    ck_assert_uint_ge(caps_seen, 5);
    ck_assert_uint_lt(caps_seen, 20);

    /* Bytes, NULs included, are kept as given; the terminator follows. */
    pm_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    ck_assert_int_eq(pm_buf_append(&b, "a\0b", 3), 0);
    ck_assert_int_eq(pm_buf_append_char(&b, '\0'), 0);
    ck_assert_int_eq(pm_buf_append_char(&b, 'z'), 0);
    ck_assert_uint_eq(b.len, 5);
    ck_assert(memcmp(b.data, "a\0b\0z", 6) == 0);
    pm_buf_free(&b);
}
END_TEST

START_TEST(test_reserve)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_buf_append_str(&b, "hello"), 0);
    ck_assert_int_eq(pm_buf_reserve(&b, 1000), 0);
    ck_assert_uint_ge(b.cap, 5 + 1000 + 1); /* room for the bytes and the NUL */
    ck_assert_str_eq(b.data, "hello");
    char *before = b.data;
    size_t r = reallocs;
    /* Filling what was reserved does not allocate again. */
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pm_buf_append_char(&b, 'x'), 0);
    ck_assert_ptr_eq(b.data, before);
    ck_assert_uint_eq(reallocs, r);
    check_terminated(&b);
    pm_buf_free(&b);
}
END_TEST

START_TEST(test_printf)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_buf_printf(&b, "%s/%05u", "dir", 42u), 0);
    ck_assert_str_eq(b.data, "dir/00042");
    ck_assert_int_eq(pm_buf_printf(&b, " %llu", 18446744073709551615ull), 0);
    ck_assert_str_eq(b.data, "dir/00042 18446744073709551615");
    ck_assert_uint_eq(b.len, strlen(b.data));
    /* Longer than the initial capacity in one call. */
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(pm_buf_printf(&b, "[%s]", big), 0);
    ck_assert_uint_eq(b.len, 30 + 2 + sizeof big - 1);
    ck_assert_int_eq(b.data[b.len - 1], ']');
    check_terminated(&b);
    /* An empty format appends nothing and stays terminated. */
    size_t len = b.len;
    ck_assert_int_eq(pm_buf_printf(&b, "%s", ""), 0);
    ck_assert_uint_eq(b.len, len);
    check_terminated(&b);
    pm_buf_free(&b);
}
END_TEST

/* A failed growth returns PM_ENOMEM and leaves data, len and cap as they
 * were: callers may report and go on using the buffer. */
START_TEST(test_failure_leaves_contents)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_buf_append_str(&b, "kept"), 0);
    pm_buf_t before = b;

    fail_reallocs = 1;
    char big[1000];
    memset(big, 'b', sizeof big);
    ck_assert_int_eq(pm_buf_append(&b, big, sizeof big), PM_ENOMEM);
    ck_assert_int_eq(fail_reallocs, 0); /* the allocation was tried */
    ck_assert_ptr_eq(b.data, before.data);
    ck_assert_uint_eq(b.len, before.len);
    ck_assert_uint_eq(b.cap, before.cap);
    ck_assert_str_eq(b.data, "kept");

    fail_reallocs = 1;
    ck_assert_int_eq(pm_buf_printf(&b, "%01000d", 7), PM_ENOMEM);
    ck_assert_str_eq(b.data, "kept");
    ck_assert_uint_eq(b.len, 4);

    fail_reallocs = 1;
    ck_assert_int_eq(pm_buf_reserve(&b, 5000), PM_ENOMEM);
    ck_assert_str_eq(b.data, "kept");

    /* A first allocation that fails leaves the buffer empty and usable. */
    pm_buf_t e;
    pm_buf_init(&e);
    fail_reallocs = 1;
    ck_assert_int_eq(pm_buf_append_str(&e, "x"), PM_ENOMEM);
    ck_assert_ptr_null(e.data);
    ck_assert_uint_eq(e.len, 0);
    ck_assert_int_eq(pm_buf_append_str(&e, "x"), 0);
    ck_assert_str_eq(e.data, "x");
    pm_buf_free(&e);

    /* Sizes that would overflow fail before allocating anything. */
    size_t r = reallocs;
    ck_assert_int_eq(pm_buf_reserve(&b, SIZE_MAX), PM_ENOMEM);
    ck_assert_int_eq(pm_buf_reserve(&b, SIZE_MAX - 4), PM_ENOMEM);
    ck_assert_int_eq(pm_buf_append(&b, big, SIZE_MAX - 2), PM_ENOMEM);
    ck_assert_uint_eq(reallocs, r);
    ck_assert_str_eq(b.data, "kept");

    /* And the buffer still works afterwards. */
    ck_assert_int_eq(pm_buf_append(&b, big, sizeof big), 0);
    ck_assert_uint_eq(b.len, 4 + sizeof big);
    check_terminated(&b);
    pm_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_and_free);
    tcase_add_test(tc, test_append_grows_and_terminates);
    tcase_add_test(tc, test_reserve);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_failure_leaves_contents);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
