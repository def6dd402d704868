/* report.h: the HTML page from a manifest: escaping of every data string,
 * the bars each chart draws, the requested share (epochs x train text, or a
 * component's share_asked), format 1 manifests (no histogram), errors, and
 * the same bytes for the same manifest. (tests/browser/ renders it.) */
#include "pilemix/report.h"
#include "test_util.h"

#define EVIL "<script>alert(\"x\")</script> & 'q'"
#define EVIL_ESCAPED "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"

/* Two components: A (epochs 2, 300 train text bytes: asks 600) and the
 * evil name (epochs 1, 400 bytes: asks 400), so 60% and 40% requested;
 * realized 550 and 450 bytes: 55% and 45%. Lengths in buckets 3..6 and 5..9:
 * 7 buckets in the common range. 3 train shards. */
static const char manifest_json[] =
    "{\"format\": 2, \"pilemix_version\": \"0.1.0\", \"zstd_version\": \"1.5.4\", "
    "\"name\": \"t <1>\", \"config_hash\": \"00112233aabbccdd\", \"seed\": 3, "
    "\"config\": {\"name\": \"t <1>\", \"output\": {\"train_shards\": 3, \"val_fraction\": 0.1, "
    "\"test_fraction\": 0.1, \"note\": \"https://example.org/x\"}},"
    "\"components\": ["
    "{\"name\": \"A\", \"epochs\": 2.0, \"realized_epochs\": 1.9, \"input_files\": "
    "[{\"path\": \"a<1>.jsonl\", \"bytes\": 10}], \"input_bytes\": 10, \"documents\": 20, "
    "\"text_bytes\": 380, \"blank_lines\": 2, \"empty_documents\": 1, \"bad_records\": {\"total\": "
    "3, "
    "\"by_reason\": {\"invalid_json\": 3}}, \"skipped_files\": 0, \"train_documents\": 12, "
    "\"train_documents_sampled_out\": 0, \"val_documents\": 2, \"test_documents\": 2, "
    "\"emitted\": {\"train\": 23, \"val\": 2, \"test\": 1}, \"emitted_text_bytes_train\": 550, "
    "\"holdout_duplicates\": {\"val\": 0, \"test\": 1}, "
    "\"split_text_bytes\": {\"train\": 300, \"val\": 40, \"test\": 40}, "
    "\"doc_length_log2\": {\"train\": [0, 0, 0, 4, 4, 4], \"val\": [0, 0, 0, 0, 0, 0, 2], "
    "\"test\": [0, 0, 0, 2]}},"
    "{\"name\": \""
    "<script>alert(\\\"x\\\")</script> & 'q'"
    "\", \"epochs\": 1.0, "
    "\"realized_epochs\": 1.0, \"input_files\": [{\"path\": \"b.jsonl\", \"bytes\": 20}], "
    "\"input_bytes\": 20, \"documents\": 10, \"text_bytes\": 450, \"blank_lines\": 0, "
    "\"empty_documents\": 0, \"bad_records\": {\"total\": 0, \"by_reason\": {}}, "
    "\"skipped_files\": 0, \"train_documents\": 9, \"train_documents_sampled_out\": 0, "
    "\"val_documents\": 1, \"test_documents\": 0, \"emitted\": {\"train\": 9, \"val\": 1, "
    "\"test\": 0}, \"emitted_text_bytes_train\": 450, \"holdout_duplicates\": {\"val\": 0, "
    "\"test\": 0}, \"split_text_bytes\": {\"train\": 400, \"val\": 50, \"test\": 0}, "
    "\"doc_length_log2\": {\"train\": [0, 0, 0, 0, 0, 3, 3, 2, 0, 1], \"val\": [0, 0, 0, 0, 0, "
    "0, 1], \"test\": []}}],"
    "\"files\": ["
    "{\"path\": \"train/0.jsonl.zst\", \"split\": \"train\", \"documents\": 10, \"text_bytes\": "
    "300, \"uncompressed_bytes\": 400, \"compressed_bytes\": 200, \"xxh128_uncompressed\": \"0\", "
    "\"xxh128_compressed\": \"0\"},"
    "{\"path\": \"train/1.jsonl.zst\", \"split\": \"train\", \"documents\": 11, \"text_bytes\": "
    "350, \"uncompressed_bytes\": 450, \"compressed_bytes\": 250, \"xxh128_uncompressed\": \"0\", "
    "\"xxh128_compressed\": \"0\"},"
    "{\"path\": \"train/2.jsonl.zst\", \"split\": \"train\", \"documents\": 11, \"text_bytes\": "
    "350, \"uncompressed_bytes\": 450, \"compressed_bytes\": 150, \"xxh128_uncompressed\": \"0\", "
    "\"xxh128_compressed\": \"0\"},"
    "{\"path\": \"val.jsonl.zst\", \"split\": \"val\", \"documents\": 3, \"text_bytes\": 90, "
    "\"uncompressed_bytes\": 120, \"compressed_bytes\": 80, \"xxh128_uncompressed\": \"0\", "
    "\"xxh128_compressed\": \"0\"},"
    "{\"path\": \"test.jsonl.zst\", \"split\": \"test\", \"documents\": 1, \"text_bytes\": 20, "
    "\"uncompressed_bytes\": 50, \"compressed_bytes\": 40, \"xxh128_uncompressed\": \"0\", "
    "\"xxh128_compressed\": \"0\"}]}";

static json_t *manifest(void)
{
    json_error_t je;
    json_t *m = json_loads(manifest_json, 0, &je);
    ck_assert_msg(m != NULL, "test manifest: %s at %d:%d", je.text, je.line, je.column);
    return m;
}

static char *render(json_t *m)
{
    pm_buf_t b;
    pm_buf_init(&b);
    pm_error_t err;
    int rc = pm_report_render(m, "out/<x>/manifest.json", &b, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return b.data;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The text of the table row that starts with the cell for name. */
static const char *row_of(const char *html, const char *section, const char *name_escaped)
{
    const char *sec = strstr(html, section);
    ck_assert_ptr_nonnull(sec);
    const char *p = strstr(sec, name_escaped);
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(test_page)
{
    json_t *m = manifest();
    char *html = render(m);
    /* every data string escaped: names, dataset name, source, input paths */
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<1>"));
    ck_assert_ptr_null(strstr(html, "<x>"));
    ck_assert_uint_ge(count(html, EVIL_ESCAPED), 6);
    ck_assert_ptr_nonnull(strstr(html, "<h1>t &lt;1&gt;</h1>"));
    ck_assert_ptr_nonnull(strstr(html, "a&lt;1&gt;.jsonl"));
    ck_assert_ptr_nonnull(strstr(html, "out/&lt;x&gt;/manifest.json"));
    /* an address in the data stays text (escaped in the config's <pre>) */
    ck_assert_ptr_nonnull(strstr(html, "&quot;https://example.org/x&quot;"));
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "href="));
    /* bars per chart (report.h) */
    ck_assert_uint_eq(count(html, "data-chart=\"mix\""), 4);
    ck_assert_uint_eq(count(html, "data-chart=\"split\""), 6);
    ck_assert_uint_eq(count(html, "data-chart=\"length\""), 2 * 7);
    ck_assert_uint_eq(count(html, "data-chart=\"shard\""), 3);
    /* A: invalid_json 3, holdout duplicate 1, empty 1, blank 2: 4 reasons */
    ck_assert_uint_eq(count(html, "data-chart=\"removed\""), 2 * 4);
    /* requested 60% / 40%, realized 55% / 45%, in the mix table rows */
    const char *a = row_of(html, "<section id=\"mix\">", "</span>A</td>");
    ck_assert_ptr_nonnull(strstr(a, "<td class=\"n\">60.0%</td><td class=\"n\">55.0%</td>"));
    const char *e = row_of(html, "<section id=\"mix\">", EVIL_ESCAPED "</td>");
    ck_assert_ptr_nonnull(strstr(e, "<td class=\"n\">40.0%</td><td class=\"n\">45.0%</td>"));
    /* figures: thousands separators and human sizes; the sections */
    ck_assert_ptr_nonnull(strstr(html, "<section id=\"lengths\">"));
    ck_assert_ptr_nonnull(strstr(html, "@media (prefers-color-scheme:dark)"));
    ck_assert_ptr_nonnull(strstr(html, "@media print"));
    /* the same manifest, the same bytes */
    char *again = render(m);
    ck_assert_str_eq(html, again);
    free(again);
    free(html);
    json_decref(m);
}
END_TEST

START_TEST(test_share_asked_hook)
{
    json_t *m = manifest();
    json_t *b = json_array_get(json_object_get(m, "components"), 1);
    json_object_set_new(b, "share_asked", json_real(0.25));
    char *html = render(m);
    const char *e = row_of(html, "<section id=\"mix\">", EVIL_ESCAPED "</td>");
    ck_assert_ptr_nonnull(strstr(e, "<td class=\"n\">25.0%</td>"));
    const char *a = row_of(html, "<section id=\"mix\">", "</span>A</td>");
    ck_assert_ptr_nonnull(strstr(a, "<td class=\"n\">75.0%</td>"));
    free(html);
    json_decref(m);
}
END_TEST

START_TEST(test_format_1_manifest)
{
    json_t *m = manifest();
    json_object_set_new(m, "format", json_integer(1));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(m, "components"), i, c) {
        json_object_del(c, "split_text_bytes");
        json_object_del(c, "doc_length_log2");
    }
    char *html = render(m);
    ck_assert_uint_eq(count(html, "data-chart=\"length\""), 0);
    ck_assert_ptr_nonnull(strstr(html, "no length histogram"));
    ck_assert_ptr_nonnull(strstr(html, "an approximation"));
    ck_assert_uint_eq(count(html, "data-chart=\"mix\""), 4);
    free(html);
    json_decref(m);
}
END_TEST

START_TEST(test_not_a_manifest)
{
    json_t *m = json_pack("{s:s}", "name", "x");
    pm_buf_t b;
    pm_buf_init(&b);
    pm_error_t err;
    ck_assert_int_eq(pm_report_render(m, "m", &b, &err), PM_EDATA);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a pilemix manifest"));
    pm_buf_free(&b);
    json_decref(m);
}
END_TEST

START_TEST(test_default_path)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_report_default_path("out/demo//", &b), 0);
    ck_assert_str_eq(b.data, "out/demo.report.html");
    ck_assert_int_eq(pm_report_default_path("demo", &b), 0);
    ck_assert_str_eq(b.data, "demo.report.html");
    pm_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_page);
    tcase_add_test(tc, test_share_asked_hook);
    tcase_add_test(tc, test_format_1_manifest);
    tcase_add_test(tc, test_not_a_manifest);
    tcase_add_test(tc, test_default_path);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
