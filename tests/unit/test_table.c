/* table.h: columns aligned by display width (CJK and emoji cells), numbers
 * right-aligned, thousands separators and human sizes. */
#include "pilemix/table.h"
#include "pilemix/width.h"
#include "test_util.h"

static char *render(const pm_table_t *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    pm_table_print(t, out);
    fclose(out);
    return text;
}

START_TEST(test_format_numbers)
{
    char b[PM_FMT_MAX];
    ck_assert_str_eq(pm_fmt_count(0, b), "0");
    ck_assert_str_eq(pm_fmt_count(999, b), "999");
    ck_assert_str_eq(pm_fmt_count(1000, b), "1,000");
    ck_assert_str_eq(pm_fmt_count(1234567, b), "1,234,567");
    ck_assert_str_eq(pm_fmt_count(UINT64_MAX, b), "18,446,744,073,709,551,615");
    ck_assert_str_eq(pm_fmt_bytes(0, b), "0 B");
    ck_assert_str_eq(pm_fmt_bytes(1023, b), "1023 B");
    ck_assert_str_eq(pm_fmt_bytes(1536, b), "1.5 KiB");
    ck_assert_str_eq(pm_fmt_bytes(1048575, b), "1.0 MiB"); /* not "1024.0 KiB" */
    ck_assert_str_eq(pm_fmt_bytes(3.5 * 1024 * 1024 * 1024, b), "3.5 GiB");
    ck_assert_str_eq(pm_fmt_epochs(3, b), "3.0");
    ck_assert_str_eq(pm_fmt_epochs(0.95, b), "0.95");
    ck_assert_str_eq(pm_fmt_epochs(1.0 / 3, b), "0.3333");
}
END_TEST

START_TEST(test_alignment_by_display_width)
{
    static const char *const head[] = {"Component", "documents", "text"};
    static const pm_align_t align[] = {PM_ALIGN_LEFT, PM_ALIGN_RIGHT, PM_ALIGN_RIGHT};
    pm_table_t t;
    ck_assert_int_eq(pm_table_init(&t, 3, head, align), 0);
    const char *rows[][3] = {{"Pile-CC", "1,234,567", "1.2 GiB"},
                             {"维基百科", "12", "3 B"},
                             {"📚 Books", "1,000", "512.0 KiB"},
                             {"Wikipe\xCC\x81"
                              "dia",
                              "7", ""}};
    for (size_t r = 0; r < 4; r++)
        ck_assert_int_eq(pm_table_add(&t, rows[r]), 0);
    ck_assert_int_eq(pm_table_rule(&t), 0);
    const char *total[] = {"Total", "1,235,586", "1.2 GiB"};
    ck_assert_int_eq(pm_table_add(&t, total), 0);
    char *text = render(&t);
    pm_table_close(&t);
    /* Every line (except the one with an empty last cell, which ends early:
     * no trailing blanks) has the same display width, the numbers end in the
     * same column, and the second column starts after the widest name. */
    size_t width = 0, line = 0;
    for (char *p = text; *p; line++) {
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        size_t w = pm_width(p, (size_t)(nl - p));
        ck_assert_msg(nl == p || nl[-1] != ' ', "trailing blank in:\n%s", text);
        if (line == 5) {
            ck_assert_msg(w < width, "line 5 should end early:\n%s", text);
        } else {
            if (!width)
                width = w;
            ck_assert_msg(w == width, "line %zu is %zu wide, not %zu:\n%s", line, w, width, text);
        }
        p = nl + 1;
    }
    ck_assert_uint_eq(line, 8);
    /* the widest name is "Component" (9), then 2 blanks, "documents" (9) */
    ck_assert_ptr_nonnull(strstr(text, "维基百科          12"));
    ck_assert_ptr_nonnull(strstr(text, "📚 Books       1,000"));
    ck_assert_ptr_nonnull(strstr(text, "\n-----"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_numbers);
    tcase_add_test(tc, test_alignment_by_display_width);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
