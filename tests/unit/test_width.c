/* width.h: display width of UTF-8 text without a locale, and cutting text
 * to a width without breaking a UTF-8 sequence. */
#include "pilemix/width.h"
#include "test_util.h"

#include <locale.h>
#include <wchar.h>

START_TEST(test_code_points)
{
    ck_assert_int_eq(pm_width_cp('A'), 1);
    ck_assert_int_eq(pm_width_cp(0xE9), 1);    /* é */
    ck_assert_int_eq(pm_width_cp(0x0301), 0);  /* combining acute */
    ck_assert_int_eq(pm_width_cp(0x200D), 0);  /* zero width joiner */
    ck_assert_int_eq(pm_width_cp(0xFE0F), 0);  /* variation selector 16 */
    ck_assert_int_eq(pm_width_cp(0x4E2D), 2);  /* 中 */
    ck_assert_int_eq(pm_width_cp(0x3042), 2);  /* あ */
    ck_assert_int_eq(pm_width_cp(0xAC00), 2);  /* 가 */
    ck_assert_int_eq(pm_width_cp(0xFF21), 2);  /* fullwidth A */
    ck_assert_int_eq(pm_width_cp(0x1F600), 2); /* 😀 */
    ck_assert_int_eq(pm_width_cp(0x1F4DA), 2); /* 📚 */
    ck_assert_int_eq(pm_width_cp(0x20000), 2); /* CJK extension B */
    ck_assert_int_eq(pm_width_cp(0x0410), 1);  /* Cyrillic А */
    ck_assert_int_eq(pm_width_cp(0x2014), 1);  /* em dash */
    ck_assert_int_eq(pm_width_cp(0xFF61), 1);  /* halfwidth katakana stop */
}
END_TEST

START_TEST(test_strings)
{
    ck_assert_uint_eq(pm_width_str(""), 0);
    ck_assert_uint_eq(pm_width_str("Books3"), 6);
    ck_assert_uint_eq(pm_width_str("維基百科"), 8);
    ck_assert_uint_eq(pm_width_str("Wikipédia"), 9);
    ck_assert_uint_eq(pm_width_str("Wikipe\xCC\x81"
                                   "dia"),
                      9); /* e + combining acute */
    ck_assert_uint_eq(pm_width_str("📚 Books"), 8);
    ck_assert_uint_eq(pm_width_str("日本語 wiki"), 11);
    /* invalid bytes: one column each, never read past the end */
    ck_assert_uint_eq(pm_width("\xFF\xFE", 2), 2);
    ck_assert_uint_eq(pm_width("\xE4\xB8", 2), 2);     /* truncated 中 */
    ck_assert_uint_eq(pm_width("\xED\xA0\x80", 3), 3); /* encoded surrogate: invalid */
    ck_assert_uint_eq(pm_width("\xC0\xAF", 2), 2);     /* overlong */
}
END_TEST

START_TEST(test_prefix_never_cuts_a_sequence)
{
    const char *s = "中文abc";
    size_t w;
    ck_assert_uint_eq(pm_width_prefix(s, strlen(s), 0, &w), 0);
    ck_assert_uint_eq(pm_width_prefix(s, strlen(s), 1, &w), 0); /* 中 does not fit in 1 */
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(pm_width_prefix(s, strlen(s), 3, &w), 3);
    ck_assert_uint_eq(w, 2);
    ck_assert_uint_eq(pm_width_prefix(s, strlen(s), 5, &w), 7);
    ck_assert_uint_eq(w, 5);
    /* a combining mark stays with its base */
    const char *e = "e\xCC\x81x";
    ck_assert_uint_eq(pm_width_prefix(e, strlen(e), 1, &w), 3);
    ck_assert_uint_eq(w, 1);
}
END_TEST

static char *fit(const char *s, size_t max)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_width_fit(&b, s, strlen(s), max), 0);
    if (!b.data)
        return strdup("");
    return b.data;
}

START_TEST(test_fit)
{
    char *r;
    ck_assert_str_eq(r = fit("hello", 5), "hello");
    free(r);
    ck_assert_str_eq(r = fit("hello", 0), "hello");
    free(r);
    ck_assert_str_eq(r = fit("hello world", 6), "hello…");
    free(r);
    ck_assert_str_eq(r = fit("日本語テキスト", 6), "日本…");
    free(r);
    ck_assert_str_eq(r = fit("日本語テキスト", 7), "日本語…");
    free(r);
    ck_assert_str_eq(r = fit("😀😀😀", 4), "😀…");
    free(r);
    /* random UTF-8: the result is valid UTF-8 and never wider than asked */
    uint64_t seed = pm_test_seed();
    for (int round = 0; round < 2000; round++) {
        char s[256];
        size_t n = 0;
        while (n < 200) {
            uint32_t cp = (uint32_t)(pm_test_rand(&seed) % 0x30000);
            if (cp < 0x20 || (cp >= 0xD800 && cp <= 0xDFFF))
                continue;
            n += pm_test_put_utf8(s + n, cp);
        }
        s[n] = '\0';
        size_t max = (size_t)(pm_test_rand(&seed) % 60) + 1;
        r = fit(s, max);
        ck_assert_uint_le(pm_width_str(r), max);
        for (size_t i = 0; r[i];) {
            uint32_t cp;
            size_t len = pm_utf8_next(r + i, strlen(r + i), &cp);
            ck_assert_msg(cp != 0xFFFD, "cut a sequence at byte %zu (max %zu)", i, max);
            i += len;
        }
        free(r);
    }
}
END_TEST

/* glibc's wcwidth under a UTF-8 locale, where one exists, agrees with the
 * tables on the CJK, kana, Hangul and emoji blocks. (Elsewhere the Unicode
 * versions of glibc and the table may differ on a few code points.) */
START_TEST(test_agrees_with_wcwidth)
{
    if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "en_US.UTF-8"))
        return; /* no UTF-8 locale: nothing to compare with */
    static const uint32_t blocks[][2] = {{0x3040, 0x30FF}, {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},
                                         {0xFF01, 0xFF60}, {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF},
                                         {0x0300, 0x036F}, {0x0020, 0x007E},   {0x00A0, 0x02FF}};
    size_t checked = 0;
    for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
        for (uint32_t cp = blocks[b][0]; cp <= blocks[b][1]; cp++) {
            int w = wcwidth((wchar_t)cp);
            if (w < 0)
                continue;
            ck_assert_msg(pm_width_cp(cp) == w, "U+%04X: table %d, wcwidth %d", cp, pm_width_cp(cp),
                          w);
            checked++;
        }
    ck_assert_uint_gt(checked, 30000);
    setlocale(LC_CTYPE, "C");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("width");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_code_points);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_prefix_never_cuts_a_sequence);
    tcase_add_test(tc, test_fit);
    tcase_add_test(tc, test_agrees_with_wcwidth);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
