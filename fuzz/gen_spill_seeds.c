/* Writes the inputs of fuzz_spill from the current spill stream writer, so
 * they follow the format wherever it goes (jobs/fuzz.sh runs this at every
 * fuzz build; nothing of the format is committed):
 *
 *   gen_spill_seeds SEED_DIR REGRESSION_DIR
 *
 * SEED_DIR: small real spill streams (pm_spill_stream_*: several tasks,
 * several runs, raw and zstd), each prefixed with the harness flag byte (see
 * fuzz_spill.c), in three flag variants. REGRESSION_DIR: inputs that reach
 * the reader's guards against numbers it must not trust, built by patching a
 * freshly written stream, with flag bit 0 set so the harness re-computes the
 * checksums and the patched numbers reach the checks behind them. Each is
 * checked here to still reach the guard it was made for (not to be rejected
 * earlier); a format change that breaks that fails this program, and so
 * jobs/fuzz.sh.
 *
 * Deterministic: the same files every time. Each stays well under 64 KB. */
#include "pilemix/buf.h"
#include "pilemix/error.h"
#include "pilemix/spill.h"
#include "pilemix/spill_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gen_spill_seeds: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

typedef struct image {
    unsigned char data[1 << 16];
    size_t len;
} image_t;

/* One stream in memory: n records of tasks 0.. (a new task every
 * per_task records) spread over buckets, texts up to max_text bytes, a blob
 * of blob_len bytes per task; arena small enough for several runs. */
static void make(image_t *img, const char *dir, uint32_t buckets, size_t n, size_t max_text,
                 int with_meta, size_t blob_len, int level, uint64_t seed)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/a1-r0.spill", dir);
    unlink(tmp);
    pm_error_t err;
    pm_spill_stream_t *w;
    if (pm_spill_stream_open(&w, tmp, buckets, 1u << 20, NULL, level, &err) < 0)
        die("open: %s", err.msg);
    static const char *const texts[] = {"It is a truth universally acknowledged",
                                        "def main():\n    return 0\n", "\xe4\xb8\xad\xe6\x96\x87",
                                        "", "x"};
    char text[2048], meta[64];
    unsigned char blob[256];
    for (size_t i = 0; i < blob_len && i < sizeof blob; i++)
        blob[i] = (unsigned char)(i * 7);
    uint32_t task = 0;
    size_t per_task = n / 3 + 1;
    if (pm_spill_stream_begin_task(w, task, &err) < 0)
        die("begin: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % per_task == 0) {
            if (pm_spill_stream_end_task(w, blob, blob_len, &err) < 0 ||
                pm_spill_stream_flush(w, &err) < 0 || /* a run per task */
                pm_spill_stream_begin_task(w, ++task, &err) < 0)
                die("task: %s", err.msg);
        }
        size_t tl = (size_t)(rnd(&seed) % (max_text + 1));
        const char *src = texts[i % 5];
        size_t sl = strlen(src);
        for (size_t k = 0; k < tl; k++)
            text[k] = sl ? src[k % sl] : (char)('a' + k % 26);
        size_t ml = 0;
        if (with_meta)
            ml = (size_t)snprintf(meta, sizeof meta, "\"id\": %zu, \"src\": \"gen\"", i);
        uint64_t key = rnd(&seed);
        pm_spill_rec_t rec = {key,          i * 100,      task, (uint32_t)(i % 2),
                              (uint32_t)tl, (uint32_t)ml, 0,    0};
        uint32_t bucket = (uint32_t)(key % buckets);
        if (pm_spill_stream_add(w, bucket, &rec, text, meta, &err) < 0)
            die("add: %s", err.msg);
    }
    if (pm_spill_stream_end_task(w, blob, blob_len, &err) < 0 || pm_spill_stream_close(w, &err) < 0)
        die("close: %s", err.msg);

    FILE *f = fopen(tmp, "rb");
    if (!f)
        die("reopen %s", tmp);
    img->len = fread(img->data, 1, sizeof img->data, f);
    if (!feof(f))
        die("spill too large for a seed");
    fclose(f);
    unlink(tmp);

    /* The checksum fix-up the harness applies must be the identity on what
     * the writer wrote, or the harness fuzzes another format. */
    image_t copy = *img;
    if (!pm_spill_image_fix_checksums(copy.data, copy.len) ||
        memcmp(copy.data, img->data, img->len) != 0)
        die("pm_spill_image_fix_checksums changes a freshly written stream");
}

static void write_input(const char *dir, const char *name, unsigned char flags, const image_t *img)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    FILE *o = fopen(out, "wb");
    if (!o || fwrite(&flags, 1, 1, o) != 1 || fwrite(img->data, 1, img->len, o) != img->len ||
        fclose(o))
        die("cannot write %s", out);
}

static void seed(const char *dir, const char *name, uint32_t buckets, size_t n, size_t max_text,
                 int with_meta, size_t blob_len, int level, uint64_t s)
{
    image_t img;
    make(&img, dir, buckets, n, max_text, with_meta, blob_len, level, s);
    /* Flag variants: as is; checksum fix-up on; fix-up plus early stop and
     * the one-key visit. */
    static const unsigned char flags[] = {0x00, 0x01, 0x07};
    for (size_t k = 0; k < sizeof flags; k++) {
        char file[256];
        snprintf(file, sizeof file, "%s-f%u", name, flags[k]);
        write_input(dir, file, flags[k], &img);
    }
}

/* Offset of the first block of type after from in img, or 0. */
static size_t find_block(const image_t *img, uint32_t type, size_t from)
{
    for (size_t off = 0; img->len - off >= sizeof(pm_spill_block_t);) {
        pm_spill_block_t b;
        memcpy(&b, img->data + off, sizeof b);
        if (b.type == type && off >= from)
            return off;
        off += sizeof b + (size_t)b.len;
    }
    return 0;
}

/* What the reader must say about a patched image (flag bit 0 applied): the
 * set's open fails with open_msg, or (open_msg NULL) the open succeeds and
 * reading bucket 0 fails with read_msg. */
static void expect(const char *what, const image_t *patched, const char *tmpdir, uint32_t buckets,
                   const char *open_msg, const char *read_msg)
{
    image_t img = *patched;
    if (!pm_spill_image_fix_checksums(img.data, img.len))
        die("%s: the patched stream no longer parses", what);
    char path[4096];
    snprintf(path, sizeof path, "%s/a1-r0.spill", tmpdir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img.data, 1, img.len, f) != img.len || fclose(f))
        die("cannot write %s", path);
    pm_error_t err;
    pm_error_clear(&err);
    uint64_t end;
    if (pm_spill_verify_stream(path, buckets, &end, NULL, NULL, &err) < 0 || end == 0)
        die("%s: the patched stream should still verify (end %llu)", what, (unsigned long long)end);
    pm_spill_stream_id_t id = {1, 0, end};
    pm_spill_set_t *set = NULL;
    int rc = pm_spill_set_open(&set, tmpdir, &id, 1, 64, buckets, NULL, NULL, &err);
    if (open_msg) {
        if (rc >= 0 || !strstr(err.msg, open_msg))
            die("%s: the set's open should fail with \"%s\", got %d \"%s\"", what, open_msg, rc,
                err.msg);
    } else {
        if (rc < 0)
            die("%s: the set's open should succeed, got \"%s\"", what, err.msg);
        pm_buf_t raw;
        pm_buf_init(&raw);
        rc = pm_spill_set_append_bucket(set, 0, &raw, &err);
        pm_buf_free(&raw);
        if (rc >= 0 || !strstr(err.msg, read_msg))
            die("%s: reading bucket 0 should fail with \"%s\", got %d \"%s\"", what, read_msg, rc,
                err.msg);
        pm_spill_set_close(set);
    }
    unlink(path);
}

static void regressions(const char *dir, const char *tmpdir)
{
    image_t base;
    /* 3 buckets, 3 tasks of 4 records, a run each, a 16-byte blob. */
    make(&base, tmpdir, 3, 12, 100, 1, 16, 0, 4);
    size_t run = find_block(&base, PM_SPILL_RUN, 0);
    size_t commit = find_block(&base, PM_SPILL_COMMIT, 0);
    if (!run || !commit || commit < run)
        die("the base stream should start with a run, then a commit");
    pm_spill_block_t rb;
    memcpy(&rb, base.data + run, sizeof rb);
    size_t table = run + sizeof rb + (size_t)rb.len - 3 * sizeof(pm_spill_range_t);
    size_t data = run + sizeof rb + sizeof(pm_spill_run_head_t);

    /* A bucket's end past the run's data: reading it would go past the run
     * (into the next blocks, or past the file). */
    image_t img = base;
    pm_spill_range_t r0;
    memcpy(&r0, img.data + table, sizeof r0);
    r0.end = (uint64_t)0 - 16;
    memcpy(img.data + table, &r0, sizeof r0);
    expect("range-end-past-data", &img, tmpdir, 3, NULL, "damaged spill run table");
    write_input(dir, "range-end-past-data", 0x01, &img);

    /* A commit of a task the plan does not have: the owner tables are
     * indexed by task. */
    img = base;
    pm_spill_commit_t c;
    memcpy(&c, img.data + commit + sizeof(pm_spill_block_t), sizeof c);
    c.task = 0x7fffffffu;
    memcpy(img.data + commit + sizeof(pm_spill_block_t), &c, sizeof c);
    expect("commit-task-past-plan", &img, tmpdir, 3, "spill commits task", NULL);
    write_input(dir, "commit-task-past-plan", 0x01, &img);

    /* A record whose text length runs past its bucket's range. */
    img = base;
    pm_spill_rec_t rec;
    memcpy(&rec, img.data + data, sizeof rec);
    rec.text_len = 0x7fffffffu;
    memcpy(img.data + data, &rec, sizeof rec);
    expect("record-past-range", &img, tmpdir, 3, NULL, "damaged spill record");
    write_input(dir, "record-past-range", 0x01, &img);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_spill_seeds SEED_DIR REGRESSION_DIR\n");
        return 2;
    }
    const char *d = argv[1];
    seed(d, "empty-1bucket", 1, 0, 0, 0, 0, 0, 1);
    seed(d, "one-record", 1, 1, 40, 1, 16, 0, 2);
    seed(d, "few-2buckets", 2, 5, 60, 1, 0, 0, 3);
    seed(d, "some-3buckets-blob", 3, 12, 100, 0, 48, 0, 4);
    seed(d, "many-7buckets", 7, 40, 200, 1, 32, 0, 5);
    seed(d, "sparse-64buckets", 64, 10, 30, 1, 8, 0, 6);
    seed(d, "empty-texts-16buckets", 16, 30, 0, 0, 0, 0, 7);
    seed(d, "long-texts-5buckets", 5, 6, 2000, 1, 64, 0, 8);
    seed(d, "meta-only-4buckets", 4, 20, 2, 1, 200, 0, 9);
    seed(d, "wide-500buckets", 500, 8, 16, 0, 0, 0, 10);
    seed(d, "zstd-7buckets", 7, 40, 200, 1, 32, 1, 11);
    seed(d, "zstd-fast-3buckets", 3, 12, 2000, 1, 16, -1, 12);
    regressions(argv[2], d);
    return 0;
}
