/* Writes the seed corpus of fuzz_spill: small real spill files made by the
 * spill writer, each prefixed with the harness flag byte (see fuzz_spill.c).
 *
 *   jobs/fuzz.sh builds it as build-fuzz/gen_spill_seeds; run
 *   build-fuzz/gen_spill_seeds fuzz/corpus/fuzz_spill
 *
 * Deterministic: the same files every time. Each stays well under 64 KB. */
#include "pilemix/error.h"
#include "pilemix/spill.h"

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

static void die(const char *what, const pm_error_t *err)
{
    fprintf(stderr, "gen_spill_seeds: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* One spill: n records spread over buckets, texts up to max_text bytes. */
static void make(const char *dir, const char *name, uint32_t buckets, size_t n, size_t max_text,
                 int with_meta, size_t stats_len, uint64_t seed)
{
    char tmp[4096], out[4096];
    snprintf(tmp, sizeof tmp, "%s/.gen-%s.spill", dir, name);
    pm_error_t err;
    pm_spill_writer_t *w;
    if (pm_spill_writer_open(&w, tmp, buckets, 1u << 20, NULL, &err) < 0)
        die("open", &err);
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
        pm_spill_rec_t rec = {key,          i * 100,     (uint32_t)(i % 3), (uint32_t)(i % 2),
                              (uint32_t)tl, (uint32_t)ml};
        uint32_t bucket = (uint32_t)(key % buckets);
        if (pm_spill_writer_add(w, bucket, &rec, text, meta, &err) < 0)
            die("add", &err);
    }
    unsigned char stats[256];
    for (size_t i = 0; i < stats_len && i < sizeof stats; i++)
        stats[i] = (unsigned char)(i * 7);
    if (pm_spill_writer_commit(w, stats, stats_len, &err) < 0)
        die("commit", &err);

    FILE *f = fopen(tmp, "rb");
    if (!f)
        die("reopen", NULL);
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    if (!feof(f))
        die("spill too large for a seed", NULL);
    fclose(f);
    unlink(tmp);
    /* Flag variants: as is; checksum fix-up on; fix-up plus early stop and
     * the one-key visit. */
    static const unsigned char flags[] = {0x00, 0x01, 0x07};
    for (size_t k = 0; k < sizeof flags; k++) {
        snprintf(out, sizeof out, "%s/%s-f%u", dir, name, flags[k]);
        FILE *o = fopen(out, "wb");
        if (!o || fwrite(&flags[k], 1, 1, o) != 1 || fwrite(buf, 1, len, o) != len || fclose(o))
            die("write seed", NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_spill_seeds DIR\n");
        return 2;
    }
    const char *d = argv[1];
    make(d, "empty-1bucket", 1, 0, 0, 0, 0, 1);
    make(d, "one-record", 1, 1, 40, 1, 16, 2);
    make(d, "few-2buckets", 2, 5, 60, 1, 0, 3);
    make(d, "some-3buckets-stats", 3, 12, 100, 0, 48, 4);
    make(d, "many-7buckets", 7, 40, 200, 1, 32, 5);
    make(d, "sparse-64buckets", 64, 10, 30, 1, 8, 6);
    make(d, "empty-texts-16buckets", 16, 30, 0, 0, 0, 7);
    make(d, "long-texts-5buckets", 5, 6, 2000, 1, 64, 8);
    make(d, "meta-only-4buckets", 4, 20, 2, 1, 200, 9);
    make(d, "wide-1000buckets", 1000, 8, 16, 0, 0, 10);
    return 0;
}
