/* pm_source: documents, identities and errors of every format (source.h),
 * on files written here by the standard tools (gzip, xz, zstd, tar), never
 * by pilemix: line offsets in the uncompressed stream of the file or
 * member, members in archive order with their paths, array elements with
 * line and column, whole texts, and the errors that must never be a silent
 * short read (trailing data after gzip, a bad CRC, a cut tar), plus the
 * plan's probe messages. */
#include "pilemix/source.h"

#include "test_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static void setup(void) { dir = pm_test_tmpdir(); }
static void teardown(void) { pm_test_rmdir(dir); }

static void sh(const char *fmt, const char *arg)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && ", dir);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, fmt, arg);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

typedef struct got {
    int n, rc;
    uint64_t off[16], line[16], col[16];
    uint32_t member[16];
    char text[16][64];
    pm_error_t err;
} got_t;

static void read_all(const char *name, pm_format_t fmt, const char *exclude, got_t *g)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *excl[1] = {(char *)exclude};
    pm_source_opts_t o = {1 << 20, name, excl, exclude ? 1 : 0};
    memset(g, 0, sizeof *g);
    pm_source_t *s;
    g->rc = pm_source_open(&s, path, name, fmt, &o, &g->err);
    if (g->rc < 0)
        return;
    pm_doc_t d;
    while ((g->rc = pm_source_next(s, &d, &g->err)) > 0 && g->n < 16) {
        g->off[g->n] = d.line.offset;
        g->line[g->n] = d.line.lineno;
        g->col[g->n] = d.column;
        g->member[g->n] = d.member;
        snprintf(g->text[g->n], sizeof g->text[0], "%.*s", (int)d.line.len, d.line.data);
        if (d.member)
            ck_assert_str_eq(d.member_path, pm_source_member(s, d.member));
        g->n++;
    }
    pm_source_close(s);
}

START_TEST(test_gzip_members_offsets)
{
    /* two gzip members: offsets run on through the uncompressed stream */
    sh("printf 'ab\\ncde\\n' | gzip > a.jsonl.gz && printf 'f\\n' | gzip >> a.jsonl.gz%s", "");
    got_t g;
    read_all("a.jsonl.gz", PM_FORMAT_JSONL_GZ, NULL, &g);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(g.n, 3);
    ck_assert_uint_eq(g.off[1], 3);
    ck_assert_uint_eq(g.off[2], 7);
    ck_assert_str_eq(g.text[2], "f");
    ck_assert_uint_eq(g.member[2], 0);
    /* the same through xz */
    sh("printf 'ab\\ncde\\nf\\n' | xz > b.jsonl.xz%s", "");
    read_all("b.jsonl.xz", PM_FORMAT_JSONL_XZ, NULL, &g);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(g.n, 3);
    ck_assert_uint_eq(g.off[2], 7);
}
END_TEST

START_TEST(test_gzip_errors)
{
    got_t g;
    sh("printf 'ab\\n' | gzip > t.jsonl.gz && printf 'junk' >> t.jsonl.gz%s", "");
    read_all("t.jsonl.gz", PM_FORMAT_JSONL_GZ, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "trailing data after the last gzip member"), "%s", g.err.msg);
    ck_assert_str_eq(g.err.file, "t.jsonl.gz");
    /* a flipped CRC byte: the data came, then the error (never a clean end) */
    sh("printf 'ab\\n' | gzip > c.jsonl.gz && printf '\\\\001' | dd of=c.jsonl.gz bs=1 "
       "seek=$(($(stat -c %%s c.jsonl.gz) - 8)) conv=notrunc status=none%s",
       "");
    read_all("c.jsonl.gz", PM_FORMAT_JSONL_GZ, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "incorrect data check"), "%s", g.err.msg);
    sh("head -c 10 c.jsonl.gz > cut.jsonl.gz%s", "");
    read_all("cut.jsonl.gz", PM_FORMAT_JSONL_GZ, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "truncated gzip stream"), "%s", g.err.msg);
}
END_TEST

START_TEST(test_tar_members)
{
    sh("mkdir -p x/sub && printf '{\"text\": \"a\"}\\n{\"text\": \"b\"}\\n' > x/sub/one.jsonl && "
       "printf 'a book' > x/two.txt && zstd -q x/sub/one.jsonl -o x/three.jsonl.zst && "
       "echo skip > x/skip.md && tar -cf a.tar -C x ./sub two.txt three.jsonl.zst skip.md%s",
       "");
    got_t g;
    read_all("a.tar", PM_FORMAT_TAR, "a.tar/skip*", &g);
    ck_assert_msg(g.rc == 0, "%s", g.err.msg);
    ck_assert_int_eq(g.n, 5);
    ck_assert_uint_eq(g.member[0], 1);
    ck_assert_uint_eq(g.member[1], 1);
    ck_assert_uint_eq(g.off[1], 14); /* within the member */
    ck_assert_uint_eq(g.member[2], 2);
    ck_assert_str_eq(g.text[2], "a book");
    ck_assert_uint_eq(g.member[3], 3);
    ck_assert_uint_eq(g.off[3], 0);
    ck_assert_uint_eq(g.member[4], 3);
    /* without the exclude glob, the .md member is an error naming it */
    read_all("a.tar", PM_FORMAT_TAR, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_str_eq(g.err.file, "a.tar:skip.md");
    /* cut inside the first member's data (headers: sub/ at 0, sub/one.jsonl
     * at 512, its data at 1024) */
    sh("head -c 1030 a.tar > cut.tar%s", "");
    read_all("cut.tar", PM_FORMAT_TAR, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.file, "cut.tar:sub/one.jsonl"), "%s: %s", g.err.file, g.err.msg);
}
END_TEST

START_TEST(test_array_elements)
{
    sh("printf '\\357\\273\\277[\"a\",\\n  \"b\\\\u00e9\" , {\"text\": \"c\"} ]\\n' | zstd -q -o "
       "a.json.zst%s",
       "");
    got_t g;
    read_all("a.json.zst", PM_FORMAT_JSON_ZST, NULL, &g);
    ck_assert_msg(g.rc == 0, "%s", g.err.msg);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.text[0], "\"a\"");
    ck_assert_uint_eq(g.off[0], 4); /* after the BOM and '[' */
    ck_assert_uint_eq(g.line[1], 2);
    ck_assert_uint_eq(g.col[1], 3);
    ck_assert_str_eq(g.text[1], "\"b\\u00e9\"");
    ck_assert_str_eq(g.text[2], "{\"text\": \"c\"}");
    /* a missing ',' joins two elements: one bad record for the parser */
    sh("printf '[\"a\" \"b\"]' | zstd -q -o bad.json.zst%s", "");
    read_all("bad.json.zst", PM_FORMAT_JSON_ZST, NULL, &g);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.text[0], "\"a\" \"b\"");
    sh("printf '[\"a\"] x' | zstd -q -o tail.json.zst%s", "");
    read_all("tail.json.zst", PM_FORMAT_JSON_ZST, NULL, &g);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "trailing data after the JSON array"), "%s", g.err.msg);
}
END_TEST

START_TEST(test_probe)
{
    pm_error_t err;
    char p[4096];
    sh("printf '{}\\n' | gzip > g.jsonl && : > e.jsonl.gz && : > z.jsonl%s", "");
    snprintf(p, sizeof p, "%s/g.jsonl", dir);
    ck_assert_int_eq(pm_source_probe(p, PM_FORMAT_JSONL, &err), PM_ECONFIG);
    ck_assert_msg(strstr(err.msg, "rename it .jsonl.gz"), "%s", err.msg);
    snprintf(p, sizeof p, "%s/e.jsonl.gz", dir);
    ck_assert_int_eq(pm_source_probe(p, PM_FORMAT_JSONL_GZ, &err), PM_EDATA);
    snprintf(p, sizeof p, "%s/z.jsonl", dir);
    ck_assert_int_eq(pm_source_probe(p, PM_FORMAT_JSONL, &err), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gzip_members_offsets);
    tcase_add_test(tc, test_gzip_errors);
    tcase_add_test(tc, test_tar_members);
    tcase_add_test(tc, test_array_elements);
    tcase_add_test(tc, test_probe);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
