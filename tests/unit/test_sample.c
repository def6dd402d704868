/* sample.h: the one-line display form, and the reproducible bottom-k
 * sample over a small hand-made output directory (zstd files and a
 * manifest): same seed same sample, copies shown once, filters by split and
 * component, uniform over documents, errors for unknown splits/components. */
#include "pilemix/sample.h"
#include "pilemix/width.h"
#include "test_util.h"

#include <zstd.h>

static char *oneline(const char *s, size_t n, size_t width)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_sample_oneline(&b, s, n, width), 0);
    return b.data ? b.data : strdup("");
}

START_TEST(test_oneline)
{
    char *r = oneline("a\nb\tc\x01"
                      "d",
                      7, 0);
    ck_assert_str_eq(r, "a⏎b␉c�d");
    free(r);
    r = oneline("hello world", 11, 8);
    ck_assert_str_eq(r, "hello w…");
    ck_assert_uint_eq(pm_width_str(r), 8);
    free(r);
    r = oneline("維基百科是一個", strlen("維基百科是一個"), 8);
    ck_assert_str_eq(r, "維基百…"); /* 3 x 2 + 1 columns: 4 would need 9 */
    free(r);
    r = oneline("exact", 5, 5);
    ck_assert_str_eq(r, "exact");
    free(r);
    r = oneline("\xC2\x85x", 3, 0); /* a C1 control character */
    ck_assert_str_eq(r, "�x");
    free(r);
}
END_TEST

/* An output directory: train/0 and train/1 (component A documents 0..9 and
 * B documents 0..4, A's first two twice: epoch copies), val (A 100, B 100),
 * and a manifest listing them. B's texts mention "A" in quotes. */
static char *make_outdir(void)
{
    char *dir = pm_test_tmpdir();
    char p[1024];
    snprintf(p, sizeof p, "%s/train", dir);
    ck_assert_int_eq(pm_mkdir_p(p, NULL), 0);
    pm_buf_t f[3];
    for (int i = 0; i < 3; i++)
        pm_buf_init(&f[i]);
    for (int d = 0; d < 10; d++)
        for (int copy = 0; copy < (d < 2 ? 2 : 1); copy++)
            pm_buf_printf(&f[(d + copy) % 2],
                          "{\"text\": \"doc A%d\\nline 2\", \"meta\": {\"pile_set_name\": \"A\", "
                          "\"n\": 123456789012345678901234}}\n",
                          d);
    for (int d = 0; d < 5; d++)
        pm_buf_printf(&f[d % 2],
                      "{\"text\": \"doc B%d says \\\"A\\\"\", \"meta\": {\"pile_set_name\": "
                      "\"B\"}}\n",
                      d);
    pm_buf_printf(&f[2], "{\"text\": \"val A100\", \"meta\": {\"pile_set_name\": \"A\"}}\n");
    pm_buf_printf(&f[2], "{\"text\": \"val B100\", \"meta\": {\"pile_set_name\": \"B\"}}\n");
    static const char *const names[] = {"train/0.jsonl.zst", "train/1.jsonl.zst", "val.jsonl.zst"};
    for (int i = 0; i < 3; i++) {
        size_t cap = ZSTD_compressBound(f[i].len);
        char *z = malloc(cap);
        size_t zn = ZSTD_compress(z, cap, f[i].data, f[i].len, 3);
        ck_assert(!ZSTD_isError(zn));
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *out = fopen(p, "wb");
        ck_assert_ptr_nonnull(out);
        ck_assert_uint_eq(fwrite(z, 1, zn, out), zn);
        fclose(out);
        free(z);
        pm_buf_free(&f[i]);
    }
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    FILE *m = fopen(p, "w");
    fputs("{\"components\": ["
          "{\"name\": \"A\", \"emitted\": {\"train\": 12, \"val\": 1, \"test\": 0}},"
          "{\"name\": \"B\", \"emitted\": {\"train\": 5, \"val\": 1, \"test\": 0}}],"
          "\"files\": [{\"path\": \"train/0.jsonl.zst\", \"split\": \"train\"},"
          "{\"path\": \"train/1.jsonl.zst\", \"split\": \"train\"},"
          "{\"path\": \"val.jsonl.zst\", \"split\": \"val\"}]}\n",
          m);
    fclose(m);
    return dir;
}

static size_t width = 40;

static char *sample(const char *dir, uint64_t n, const char *comp, const char *split, uint64_t seed,
                    int want_rc)
{
    pm_sample_opts_t o = {dir, n, comp, split, seed, width};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    pm_error_t err;
    pm_error_clear(&err);
    int rc = pm_sample_print(&o, out, &err);
    fclose(out);
    ck_assert_msg(rc == want_rc, "rc %d (%s)", rc, err.msg);
    if (rc < 0) {
        free(text);
        return strdup(err.msg);
    }
    return text;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

START_TEST(test_reproducible_and_distinct)
{
    char *dir = make_outdir();
    char *a = sample(dir, 4, NULL, NULL, 1, 0), *b = sample(dir, 4, NULL, NULL, 1, 0);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(count(a, "\n["), 4);
    ck_assert_ptr_nonnull(strstr(a, "4 distinct documents from 19 lines (seed 1)"));
    /* the text on one line, cut to the width; meta numbers as written */
    ck_assert_ptr_nonnull(strstr(a, "    text: doc "));
    free(b);
    int differ = 0;
    for (uint64_t seed = 2; seed < 8; seed++) {
        b = sample(dir, 4, NULL, NULL, seed, 0);
        differ += strcmp(a, b) != 0;
        free(b);
    }
    ck_assert_int_gt(differ, 0);
    free(a);
    /* more than there are: every distinct document once (A0, A1 copied) */
    width = 0;
    a = sample(dir, 100, NULL, NULL, 3, 0);
    width = 40;
    ck_assert_uint_eq(count(a, "\n["), 17);
    ck_assert_uint_eq(count(a, "doc A0⏎"), 1);
    ck_assert_uint_eq(count(a, "doc A1⏎"), 1);
    ck_assert_ptr_nonnull(strstr(a, "(only 17 distinct documents match)"));
    ck_assert_ptr_nonnull(strstr(a, "\"n\": 123456789012345678901234"));
    free(a);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_filters)
{
    char *dir = make_outdir();
    char *a = sample(dir, 100, "B", NULL, 0, 0);
    ck_assert_uint_eq(count(a, "\n["), 6); /* B0..B4 and val B100 */
    ck_assert_uint_eq(count(a, "] B  "), 6);
    ck_assert_uint_eq(count(a, "] A  "), 0);
    free(a);
    a = sample(dir, 100, "A", "val", 0, 0);
    ck_assert_uint_eq(count(a, "\n["), 1);
    ck_assert_ptr_nonnull(strstr(a, "val A100"));
    ck_assert_ptr_nonnull(strstr(a, "val.jsonl.zst:1"));
    free(a);
    a = sample(dir, 3, NULL, "tset", 0, PM_EUSAGE);
    ck_assert_ptr_nonnull(strstr(a, "not a split"));
    free(a);
    a = sample(dir, 3, "C", NULL, 0, PM_EUSAGE);
    ck_assert_ptr_nonnull(strstr(a, "no component \"C\" in this dataset (\"A\", \"B\")"));
    free(a);
    pm_test_rmdir(dir);
}
END_TEST

/* With n = 1, each of the 15 distinct train documents should come up about
 * equally often over many seeds (copies do not count double). */
START_TEST(test_uniform)
{
    char *dir = make_outdir();
    int hits[2][10] = {{0}};
    const int seeds = 1500;
    for (int seed = 0; seed < seeds; seed++) {
        char *a = sample(dir, 1, NULL, "train", (uint64_t)seed, 0);
        const char *p = strstr(a, "text: doc ");
        ck_assert_ptr_nonnull(p);
        hits[p[10] == 'B'][p[11] - '0']++;
        free(a);
    }
    double expect = seeds / 15.0; /* 100; sd ~ 9.7 */
    for (int c = 0; c < 2; c++)
        for (int d = 0; d < (c ? 5 : 10); d++)
            ck_assert_msg(hits[c][d] > expect - 6 * 9.7 && hits[c][d] < expect + 6 * 9.7,
                          "%c%d chosen %d times of %d (expected about %.0f)", c ? 'B' : 'A', d,
                          hits[c][d], seeds, expect);
    pm_test_rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_oneline);
    tcase_add_test(tc, test_reproducible_and_distinct);
    tcase_add_test(tc, test_filters);
    tcase_add_test(tc, test_uniform);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
