/* Writes the inputs of fuzz_spill from the current spill writer, so they
 * follow the format wherever it goes (jobs/fuzz.sh runs this at every fuzz
 * build; nothing of the format is committed):
 *
 *   gen_spill_seeds SEED_DIR REGRESSION_DIR
 *
 * SEED_DIR: small real spill files (pm_spill_writer_*), each prefixed with
 * the harness flag byte (see fuzz_spill.c), in three flag variants.
 * REGRESSION_DIR: the inputs that once crashed the reader, rebuilt by
 * patching trailer or footer fields of a freshly written spill, with flag
 * bit 0 set so the harness re-computes the checksum and the patched numbers
 * reach the reader's layout checks, as the fuzzer's finds did. Each
 * regression is checked here to still reach the guard it was saved for (not
 * to be rejected earlier, e.g. by the magic or the checksum); a format change
 * that breaks that fails this program, and so jobs/fuzz.sh.
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

/* One spill in memory: n records spread over buckets, texts up to max_text
 * bytes, a stats blob of stats_len bytes. */
static void make(image_t *img, const char *dir, uint32_t buckets, size_t n, size_t max_text,
                 int with_meta, size_t stats_len, uint64_t seed)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.gen.spill", dir);
    pm_error_t err;
    pm_spill_writer_t *w;
    if (pm_spill_writer_open(&w, tmp, buckets, 1u << 20, NULL, &err) < 0)
        die("open: %s", err.msg);
    static const char *const texts[] = {"It is a truth universally acknowledged",
                                        "def main():\n    return 0\n", "\xe4\xb8\xad\xe6\x96\x87",
                                        "", "x"};
    char text[2048], meta[64];
    for (size_t i = 0; i < n; i++) {
        size_t tl = (size_t)(rnd(&seed) % (max_text + 1));
        const char *src = texts[i % 5];
        size_t sl = strlen(src);
        for (size_t k = 0; k < tl; k++)
            text[k] = sl ? src[k % sl] : (char)('a' + k % 26);
        size_t ml = 0;
        if (with_meta)
            ml = (size_t)snprintf(meta, sizeof meta, "\"id\": %zu, \"src\": \"gen\"", i);
        uint64_t key = rnd(&seed);
        pm_spill_rec_t rec = {
            key, i * 100, (uint32_t)(i % 3), (uint32_t)(i % 2), (uint32_t)tl, (uint32_t)ml, 0, 0};
        uint32_t bucket = (uint32_t)(key % buckets);
        if (pm_spill_writer_add(w, bucket, &rec, text, meta, &err) < 0)
            die("add: %s", err.msg);
    }
    unsigned char stats[256];
    for (size_t i = 0; i < stats_len && i < sizeof stats; i++)
        stats[i] = (unsigned char)(i * 7);
    if (pm_spill_writer_commit(w, stats, stats_len, &err) < 0)
        die("commit: %s", err.msg);

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
    if (!pm_spill_image_fix_checksum(copy.data, copy.len) ||
        memcmp(copy.data, img->data, img->len) != 0)
        die("pm_spill_image_fix_checksum changes a freshly written spill");
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
                 int with_meta, size_t stats_len, uint64_t s)
{
    image_t img;
    make(&img, dir, buckets, n, max_text, with_meta, stats_len, s);
    /* Flag variants: as is; checksum fix-up on; fix-up plus early stop and
     * the one-key visit. */
    static const unsigned char flags[] = {0x00, 0x01, 0x07};
    for (size_t k = 0; k < sizeof flags; k++) {
        char file[256];
        snprintf(file, sizeof file, "%s-f%u", name, flags[k]);
        write_input(dir, file, flags[k], &img);
    }
}

static pm_spill_trailer_t get_trailer(const image_t *img)
{
    pm_spill_trailer_t t;
    memcpy(&t, img->data + img->len - sizeof t, sizeof t);
    return t;
}

static void put_trailer(image_t *img, const pm_spill_trailer_t *t)
{
    memcpy(img->data + img->len - sizeof *t, t, sizeof *t);
}

/* What the reader must say about a patched image (flag bit 0 applied): the
 * open fails with open_msg, or (open_msg NULL) the open succeeds and reading
 * bucket 0 fails with read_msg. */
static void expect(const char *what, const image_t *patched, const char *tmpdir,
                   const char *open_msg, const char *read_msg)
{
    image_t img = *patched;
    if (!pm_spill_image_fix_checksum(img.data, img.len))
        die("%s: the patched trailer no longer locates its footer", what);
    char path[4096];
    snprintf(path, sizeof path, "%s/.check.spill", tmpdir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img.data, 1, img.len, f) != img.len || fclose(f))
        die("cannot write %s", path);
    pm_error_t err;
    pm_error_clear(&err);
    pm_spill_reader_t *r = NULL;
    int rc = pm_spill_reader_open(&r, path, &err);
    if (open_msg) {
        if (rc >= 0 || !strstr(err.msg, open_msg))
            die("%s: the reader's open should fail with \"%s\", got %d \"%s\"", what, open_msg, rc,
                err.msg);
    } else {
        if (rc < 0)
            die("%s: the reader's open should succeed, got \"%s\"", what, err.msg);
        pm_buf_t raw;
        pm_buf_init(&raw);
        rc = pm_spill_reader_append_bucket(r, 0, &raw, &err);
        pm_buf_free(&raw);
        if (rc >= 0 || !strstr(err.msg, read_msg))
            die("%s: reading bucket 0 should fail with \"%s\", got %d \"%s\"", what, read_msg, rc,
                err.msg);
        pm_spill_reader_close(r);
    }
    unlink(path);
}

static void regressions(const char *dir, const char *tmpdir)
{
    const char *layout = "not a pilemix spill file, or a damaged one";
    image_t base;
    /* One run, 3 buckets, a 16-byte stats blob. */
    make(&base, tmpdir, 3, 12, 100, 1, 16, 4);
    pm_spill_trailer_t t0 = get_trailer(&base);
    if (t0.n_runs != 1 || t0.stats_len != 16)
        die("the base spill should have one run and 16 stats bytes");

    /* n_runs = 2^61 + 1: n_runs * 16 wraps to 16, the value of the real
     * single run, so a size check that multiplies passes and the run table
     * gets 17 bytes; visiting then reads past it (a heap overflow the fuzzer
     * found). */
    image_t img = base;
    pm_spill_trailer_t t = t0;
    t.n_runs = (1ull << 61) + 1;
    put_trailer(&img, &t);
    expect("found-nruns-overflow", &img, tmpdir, layout, NULL);
    write_input(dir, "found-nruns-overflow", 0x01, &img);

    /* stats_len = 2^64 - 16 with n_runs = 3: the wrapped sum n_runs * 16 +
     * stats_len equals the real footer's 1 * 16 + 16, and the reader would
     * malloc(stats_len + 1). */
    img = base;
    t = t0;
    t.n_runs = t0.n_runs + 1 + t0.stats_len / 16;
    t.stats_len = (uint64_t)0 - 16;
    put_trailer(&img, &t);
    expect("stats-len-wrap-huge-malloc", &img, tmpdir, layout, NULL);
    write_input(dir, "stats-len-wrap-huge-malloc", 0x01, &img);

    /* A run start near 2^64 in the footer's run table: run_start + a bucket
     * end wraps below the run's index position, and appending the bucket
     * would reserve end - start (about 1 TiB). */
    img = base;
    pm_spill_run_t run;
    memcpy(&run, img.data + t0.footer_start, sizeof run);
    run.start = (uint64_t)0 - (1ull << 40);
    memcpy(img.data + t0.footer_start, &run, sizeof run);
    expect("run-start-wrap-huge-alloc", &img, tmpdir, NULL, "damaged spill run index");
    write_input(dir, "run-start-wrap-huge-alloc", 0x01, &img);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_spill_seeds SEED_DIR REGRESSION_DIR\n");
        return 2;
    }
    const char *d = argv[1];
    seed(d, "empty-1bucket", 1, 0, 0, 0, 0, 1);
    seed(d, "one-record", 1, 1, 40, 1, 16, 2);
    seed(d, "few-2buckets", 2, 5, 60, 1, 0, 3);
    seed(d, "some-3buckets-stats", 3, 12, 100, 0, 48, 4);
    seed(d, "many-7buckets", 7, 40, 200, 1, 32, 5);
    seed(d, "sparse-64buckets", 64, 10, 30, 1, 8, 6);
    seed(d, "empty-texts-16buckets", 16, 30, 0, 0, 0, 7);
    seed(d, "long-texts-5buckets", 5, 6, 2000, 1, 64, 8);
    seed(d, "meta-only-4buckets", 4, 20, 2, 1, 200, 9);
    seed(d, "wide-1000buckets", 1000, 8, 16, 0, 0, 10);
    regressions(argv[2], d);
    return 0;
}
