/* manifest.h: manifest.json and XXH128SUMS from a job and its totals, and the
 * rejects merge. The job is built as a run builds it (config, plan, layout);
 * the totals are filled by hand with distinct values, so every field can be
 * traced to its source. */
#include "pilemix/manifest.h"
#include "pilemix/config.h"
#include "pilemix/plan.h"
#include "test_util.h"

#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>

#define CONFIG_JSON                                                                                \
    "{\"name\": \"mf\", \"seed\": 1234, \"components\": [{\"name\": \"A\", \"paths\": "            \
    "[\"in/a.jsonl\"], \"epochs\": 1.5}, {\"name\": \"B\", \"paths\": [\"in/b.jsonl\"], "          \
    "\"epochs\": 2}], \"output\": {\"dir\": \"out\", \"train_shards\": 2, \"val_fraction\": 0.1, " \
    "\"test_fraction\": 0.1}, \"run\": {\"work_dir\": \"work\"}}"

typedef struct mfx {
    char *dir;
    pm_config_t cfg;
    pm_plan_t plan;
    pm_layout_t layout;
    pm_job_t job;
    pm_totals_t t;
} mfx_t;

static void write_path(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_path(const char *path)
{
    pm_buf_t b;
    pm_buf_init(&b);
    pm_error_t err;
    ck_assert_msg(pm_read_file(path, &b, &err) == 0, "%s", err.msg);
    return b.data; /* NUL-terminated */
}

static void join(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s/%s", a, b);
}

static void fill_totals(mfx_t *x)
{
    pm_totals_t *t = &x->t;
    for (size_t c = 0; c < 2; c++) {
        pm_task_stats_t *s = &t->comp[c];
        uint64_t k = 1000 * (c + 1);
        s->docs = k + 100;
        s->text_bytes = k + 200;
        s->blank_lines = k + 3;
        s->empty_docs = k + 4;
        s->rejected[PM_REC_BAD_JSON] = c + 1;
        s->rejected[PM_REC_TOO_LONG] = c; /* 0 for A: left out of by_reason */
        s->rejected_total = 2 * c + 1;
        s->skipped_files = c;
        s->split_docs[PM_SPLIT_TRAIN] = k + 10;
        s->split_docs[PM_SPLIT_VAL] = k + 11;
        s->split_docs[PM_SPLIT_TEST] = k + 12;
        s->train_copies = (k + 10) * 3;
        s->train_copy_bytes = k + 13;
        s->train_zero_copies = k + 14;
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            s->split_text_bytes[sp] = k + 40 + (uint64_t)sp;
            /* a histogram ending at bucket 5 + sp (its trailing zeros cut) */
            for (unsigned b = 0; b <= 5 + (unsigned)sp; b++)
                s->len_log2[sp][b] = b == 1 ? 0 : k + b;
        }
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            t->emitted[c][sp] = k + 20 + (uint64_t)sp;
            t->dups[c][sp] = sp == PM_SPLIT_TRAIN ? 0 : k + 30 + (uint64_t)sp;
        }
    }
    for (size_t f = 0; f < t->n_files; f++) {
        pm_file_result_t *r = &t->files[f];
        r->docs = 10 + f;
        r->text_bytes = 100 + f;
        r->raw_bytes = 1000 + f;
        r->zst_bytes = 500 + f;
        for (int i = 0; i < 16; i++) {
            r->raw_xxh128[i] = (unsigned char)(16 * f + (size_t)i);
            r->zst_xxh128[i] = (unsigned char)(0xff - 16 * f - (size_t)i);
        }
    }
    /* How the work was cut: must not reach the manifest. */
    *t->passes = 77;
    *t->files_reused = 1;
    *t->tasks_reused = 2;
}

static void mfx_init(mfx_t *x)
{
    memset(x, 0, sizeof *x);
    x->dir = pm_test_tmpdir();
    char p[1024], origin[1024];
    join(p, sizeof p, x->dir, "in");
    ck_assert_int_eq(pm_mkdir_p(p, NULL), 0);
    join(p, sizeof p, x->dir, "in/a.jsonl");
    write_path(p, "{\"text\": \"a\"}\n");
    join(p, sizeof p, x->dir, "in/b.jsonl");
    write_path(p, "{\"text\": \"b\"}\n{\"text\": \"bb\"}\n");
    join(origin, sizeof origin, x->dir, "cfg.json");
    pm_error_t err;
    int rc = pm_config_load_string(&x->cfg, CONFIG_JSON, origin, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    rc = pm_plan_build(&x->plan, &x->cfg, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    x->layout = (pm_layout_t){2, 3, 2, 1, 0};
    rc = pm_job_init(&x->job, &x->cfg, &x->plan, &x->layout, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(pm_mkdir_p(x->cfg.out_dir, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(x->job.rejects_dir, &err), 0);
    ck_assert_int_eq(pm_totals_init(&x->t, 2, pm_layout_files(&x->layout)), 0);
    fill_totals(x);
}

static void mfx_free(mfx_t *x)
{
    pm_totals_free(&x->t);
    pm_job_close(&x->job);
    pm_plan_close(&x->plan);
    pm_config_close(&x->cfg);
    pm_test_rmdir(x->dir);
}

static char *out_file(const mfx_t *x, const char *name)
{
    char p[2048];
    join(p, sizeof p, x->cfg.out_dir, name);
    return read_path(p);
}

static json_t *load_manifest(const mfx_t *x)
{
    char p[2048];
    join(p, sizeof p, x->cfg.out_dir, "manifest.json");
    json_error_t je;
    json_t *j = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(j != NULL, "manifest.json: %s at %d:%d", je.text, je.line, je.column);
    return j;
}

static uint64_t ju(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
    return (uint64_t)json_integer_value(v);
}

static const char *js(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

static void check_file_entry(json_t *e, const char *path, const char *split,
                             const pm_file_result_t *r)
{
    char h[33];
    ck_assert_str_eq(js(e, "path"), path);
    ck_assert_str_eq(js(e, "split"), split);
    ck_assert_uint_eq(ju(e, "documents"), r->docs);
    ck_assert_uint_eq(ju(e, "text_bytes"), r->text_bytes);
    ck_assert_uint_eq(ju(e, "uncompressed_bytes"), r->raw_bytes);
    ck_assert_uint_eq(ju(e, "compressed_bytes"), r->zst_bytes);
    pm_hex128(r->raw_xxh128, h);
    ck_assert_str_eq(js(e, "xxh128_uncompressed"), h);
    pm_hex128(r->zst_xxh128, h);
    ck_assert_str_eq(js(e, "xxh128_compressed"), h);
}

static const char *const names[] = {"train/0.jsonl.zst", "train/1.jsonl.zst", "val.jsonl.zst",
                                    "test.jsonl.zst"};
static const char *const splits[] = {"train", "train", "val", "test"};

START_TEST(test_manifest_fields)
{
    mfx_t x;
    mfx_init(&x);
    pm_error_t err;
    int rc = pm_manifest_write(&x.job, &x.t, false, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    json_t *m = load_manifest(&x);

    ck_assert_uint_eq(ju(m, "format"), PM_MANIFEST_FORMAT);
    ck_assert_str_eq(js(m, "pilemix_version"), PM_VERSION);
    ck_assert_str_eq(js(m, "zstd_version"), ZSTD_versionString());
    ck_assert_str_eq(js(m, "name"), "mf");
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)x.cfg.canonical_hash);
    ck_assert_str_eq(js(m, "config_hash"), hash);
    ck_assert_uint_eq(ju(m, "seed"), 1234);
    json_t *canon = json_loads(x.cfg.canonical_json, 0, NULL);
    ck_assert(json_equal(json_object_get(m, "config"), canon));
    json_decref(canon);

    json_t *comps = json_object_get(m, "components");
    ck_assert_uint_eq(json_array_size(comps), 2);
    for (size_t c = 0; c < 2; c++) {
        json_t *o = json_array_get(comps, c);
        const pm_task_stats_t *s = &x.t.comp[c];
        ck_assert_str_eq(js(o, "name"), c == 0 ? "A" : "B");
        ck_assert(json_real_value(json_object_get(o, "epochs")) == (c == 0 ? 1.5 : 2.0));
        ck_assert(json_real_value(json_object_get(o, "realized_epochs")) ==
                  pm_totals_realized_epochs(&x.t, c));
        ck_assert(json_real_value(json_object_get(o, "realized_epochs")) == 3.0);
        /* Input files by identity path, never absolute. */
        json_t *in = json_object_get(o, "input_files");
        ck_assert_uint_eq(json_array_size(in), 1);
        ck_assert_str_eq(js(json_array_get(in, 0), "path"), c == 0 ? "a.jsonl" : "b.jsonl");
        uint64_t size = c == 0 ? 14 : 29;
        ck_assert_uint_eq(ju(json_array_get(in, 0), "bytes"), size);
        ck_assert_uint_eq(ju(o, "input_bytes"), size);
        ck_assert_uint_eq(ju(o, "documents"), s->docs);
        ck_assert_uint_eq(ju(o, "text_bytes"), s->text_bytes);
        ck_assert_uint_eq(ju(o, "blank_lines"), s->blank_lines);
        ck_assert_uint_eq(ju(o, "empty_documents"), s->empty_docs);
        json_t *bad = json_object_get(o, "bad_records");
        ck_assert_uint_eq(ju(bad, "total"), s->rejected_total);
        json_t *why = json_object_get(bad, "by_reason");
        ck_assert_uint_eq(ju(why, pm_record_status_name(PM_REC_BAD_JSON)), c + 1);
        /* Only the reasons that occurred are listed. */
        ck_assert_uint_eq(json_object_size(why), c == 0 ? 1 : 2);
        ck_assert_uint_eq(ju(o, "skipped_files"), s->skipped_files);
        ck_assert_uint_eq(ju(o, "train_documents"), s->split_docs[PM_SPLIT_TRAIN]);
        ck_assert_uint_eq(ju(o, "train_documents_sampled_out"), s->train_zero_copies);
        ck_assert_uint_eq(ju(o, "val_documents"), s->split_docs[PM_SPLIT_VAL]);
        ck_assert_uint_eq(ju(o, "test_documents"), s->split_docs[PM_SPLIT_TEST]);
        json_t *em = json_object_get(o, "emitted");
        ck_assert_uint_eq(ju(em, "train"), x.t.emitted[c][PM_SPLIT_TRAIN]);
        ck_assert_uint_eq(ju(em, "val"), x.t.emitted[c][PM_SPLIT_VAL]);
        ck_assert_uint_eq(ju(em, "test"), x.t.emitted[c][PM_SPLIT_TEST]);
        ck_assert_uint_eq(ju(o, "emitted_text_bytes_train"), s->train_copy_bytes);
        json_t *dups = json_object_get(o, "holdout_duplicates");
        ck_assert_uint_eq(ju(dups, "val"), x.t.dups[c][PM_SPLIT_VAL]);
        ck_assert_uint_eq(ju(dups, "test"), x.t.dups[c][PM_SPLIT_TEST]);
        json_t *stb = json_object_get(o, "split_text_bytes");
        json_t *hist = json_object_get(o, "doc_length_log2");
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            ck_assert_uint_eq(ju(stb, pm_split_name(sp)), s->split_text_bytes[sp]);
            json_t *a = json_object_get(hist, pm_split_name(sp));
            ck_assert_uint_eq(json_array_size(a), 6 + (size_t)sp);
            for (size_t b = 0; b < json_array_size(a); b++)
                ck_assert_uint_eq(json_integer_value(json_array_get(a, b)), s->len_log2[sp][b]);
        }
    }

    json_t *files = json_object_get(m, "files");
    ck_assert_uint_eq(json_array_size(files), 4);
    for (size_t f = 0; f < 4; f++)
        check_file_entry(json_array_get(files, f), names[f], splits[f], &x.t.files[f]);

    /* Nothing about how the work was cut. */
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        ck_assert_msg(!strstr(key, "pass") && !strstr(key, "rank") && !strstr(key, "layout") &&
                          !strstr(key, "reused") && !strstr(key, "time"),
                      "manifest has \"%s\"", key);
    }
    json_decref(m);

    /* XXH128SUMS: every output file, `xxh128sum -c` format, OUTDIR-relative. */
    char *sums = out_file(&x, "XXH128SUMS");
    pm_buf_t want;
    pm_buf_init(&want);
    for (size_t f = 0; f < 4; f++) {
        char h[33];
        pm_hex128(x.t.files[f].zst_xxh128, h);
        pm_buf_printf(&want, "%s  %s\n", h, names[f]);
    }
    ck_assert_str_eq(sums, want.data);
    free(sums);
    pm_buf_free(&want);
    mfx_free(&x);
}
END_TEST

START_TEST(test_manifest_deterministic)
{
    /* The same job in two different directories, written twice: the same
     * bytes (no times, hosts or absolute paths), ending in a newline. */
    mfx_t x, y;
    mfx_init(&x);
    mfx_init(&y);
    pm_error_t err;
    ck_assert_int_eq(pm_manifest_write(&x.job, &x.t, false, NULL, NULL, &err), 0);
    char *a = out_file(&x, "manifest.json");
    ck_assert_int_eq(pm_manifest_write(&x.job, &x.t, false, NULL, NULL, &err), 0);
    char *b = out_file(&x, "manifest.json");
    ck_assert_str_eq(a, b);
    /* A run that was resumed and cut differently writes the same manifest. */
    *y.t.passes = 3;
    *y.t.files_reused = 0;
    *y.t.tasks_reused = 0;
    ck_assert_int_eq(pm_manifest_write(&y.job, &y.t, false, NULL, NULL, &err), 0);
    char *c = out_file(&y, "manifest.json");
    ck_assert_str_eq(a, c);
    ck_assert_ptr_null(strstr(a, x.dir));
    ck_assert_ptr_null(strstr(c, y.dir));
    ck_assert_uint_gt(strlen(a), 0);
    ck_assert_int_eq(a[strlen(a) - 1], '\n');
    char *sa = out_file(&x, "XXH128SUMS"), *sc = out_file(&y, "XXH128SUMS");
    ck_assert_str_eq(sa, sc);

    /* And it does depend on what the files hold. */
    x.t.files[1].zst_xxh128[0] ^= 1;
    ck_assert_int_eq(pm_manifest_write(&x.job, &x.t, false, NULL, NULL, &err), 0);
    char *d = out_file(&x, "manifest.json");
    ck_assert_str_ne(a, d);
    free(a);
    free(b);
    free(c);
    free(d);
    free(sa);
    free(sc);
    mfx_free(&x);
    mfx_free(&y);
}
END_TEST

static void write_rejects(const mfx_t *x, uint32_t task, const char *text)
{
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_job_rejects_path(&x->job, task, &p), 0);
    write_path(p.data, text);
    pm_buf_free(&p);
}

START_TEST(test_rejects_merge)
{
    mfx_t x;
    mfx_init(&x);
    pm_error_t err;
    bool written = true;
    pm_file_result_t res;
    char p[2048];

    /* No task rejected anything: no rejects file, not even the directory. */
    ck_assert_int_eq(pm_rejects_merge(&x.job, &written, &res, &err), 0);
    ck_assert(!written);
    join(p, sizeof p, x.cfg.out_dir, "rejects");
    ck_assert(!pm_path_exists(p));

    /* Merged in task order, whatever order the files were made in. */
    const char *r1 = "{\"file\": \"b.jsonl\", \"line\": 2}\n{\"file\": \"b.jsonl\", \"line\": 5}\n";
    const char *r0 = "{\"file\": \"a.jsonl\", \"line\": 1}\n";
    write_rejects(&x, 1, r1);
    write_rejects(&x, 0, r0);
    ck_assert_int_eq(pm_rejects_merge(&x.job, &written, &res, &err), 0);
    ck_assert(written);
    char *merged = out_file(&x, "rejects/rejects.jsonl");
    pm_buf_t want;
    pm_buf_init(&want);
    pm_buf_printf(&want, "%s%s", r0, r1);
    ck_assert_str_eq(merged, want.data);
    ck_assert_uint_eq(res.docs, 3);
    ck_assert_uint_eq(res.raw_bytes, want.len);
    ck_assert_uint_eq(res.zst_bytes, want.len); /* stored plain */
    XXH128_canonical_t digest;
    XXH128_canonicalFromHash(&digest, XXH3_128bits(want.data, want.len));
    ck_assert(memcmp(res.raw_xxh128, digest.digest, 16) == 0);
    ck_assert(memcmp(res.zst_xxh128, digest.digest, 16) == 0);

    /* The manifest lists it last, and so do the sums. */
    ck_assert_int_eq(pm_manifest_write(&x.job, &x.t, true, &res, NULL, &err), 0);
    json_t *m = load_manifest(&x);
    json_t *files = json_object_get(m, "files");
    ck_assert_uint_eq(json_array_size(files), 5);
    check_file_entry(json_array_get(files, 4), "rejects/rejects.jsonl", "rejects", &res);
    json_decref(m);
    char *sums = out_file(&x, "XXH128SUMS");
    char h[33], line[128];
    pm_hex128(digest.digest, h);
    snprintf(line, sizeof line, "%s  rejects/rejects.jsonl\n", h);
    ck_assert_uint_ge(strlen(sums), strlen(line));
    ck_assert_str_eq(sums + strlen(sums) - strlen(line), line);
    free(sums);
    free(merged);
    pm_buf_free(&want);
    mfx_free(&x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_manifest_fields);
    tcase_add_test(tc, test_manifest_deterministic);
    tcase_add_test(tc, test_rejects_merge);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
