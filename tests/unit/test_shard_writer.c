/* shard_writer.h: one zstd frame per output file, Pile-style JSON lines,
 * exact counts and checksums, atomic appearance, bytes independent of the
 * number of compressor threads (DESIGN 1.5). */
#include "pilemix/shard_writer.h"
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>

typedef struct rec {
    const char *comp;
    char *text;
    size_t text_len;
    const char *meta; /* member text, as pm_record_t keeps it */
} rec_t;

static const char *const comps[] = {"Pile-CC", "Wikipedia (en)", "Ubuntu IRC", "Say \"hi\" \\ né 😀",
                                    "Gutenberg (PG-19)"};
static const char *const metas[] = {
    "",
    "\"url\": \"https://example.org/a?b=c\"",
    "\"id\": 17, \"lang\": \"en\"",
    "\"title\": \"caf\\u00e9 \\\"quoted\\\"\", \"tags\": [\"a\", \"b\"], \"score\": 0.5",
    "\"nested\": {\"k\": null, \"t\": true}",
    "\"ctl\": \"\\u0000\\n\\u2028\"",
};

/* A random code point from every byte class the escaper must handle. */
static uint32_t rand_cp(uint64_t *s)
{
    uint64_t r = pm_test_rand(s);
    switch (r % 12) {
    case 0: return (uint32_t)((r >> 8) % 0x20);        /* C0 controls incl. NUL */
    case 1: return 0x7F;                               /* DEL */
    case 2: return 0x80 + (uint32_t)((r >> 8) % 0x20); /* C1 controls */
    case 3: return (r >> 8) & 1 ? 0x2028 : 0x2029;     /* JS line separators */
    case 4: return (r >> 8) & 1 ? '"' : '\\';
    case 5: return 0xA0 + (uint32_t)((r >> 8) % (0x800 - 0xA0));
    case 6: {
        uint32_t cp = 0x800 + (uint32_t)((r >> 8) % (0x10000 - 0x800));
        return cp >= 0xD800 && cp <= 0xDFFF ? 0xFEFF : cp; /* no surrogates */
    }
    case 7: return 0x1F600 + (uint32_t)((r >> 8) % 0x50); /* emoji */
    case 8: return 0x10000 + (uint32_t)((r >> 8) % 0x100000);
    default: return 0x20 + (uint32_t)((r >> 8) % 0x5F); /* printable ASCII */
    }
}

static char *rand_text(uint64_t *s, size_t cps, size_t *len)
{
    char *t = malloc(cps * 4 + 1);
    size_t n = 0;
    for (size_t i = 0; i < cps; i++)
        n += pm_test_put_utf8(t + n, rand_cp(s));
    *len = n;
    return t;
}

static void make_records(rec_t *r, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        r[i].comp = comps[pm_test_rand(s) % (sizeof comps / sizeof *comps)];
        r[i].meta = metas[pm_test_rand(s) % (sizeof metas / sizeof *metas)];
        size_t cps = (size_t)(pm_test_rand(s) % 300);
        if (i == n / 3)
            cps = 800000; /* one record larger than the writer's staging buffer */
        if (i == 0)
            cps = 1; /* a one-character text */
        r[i].text = rand_text(s, cps ? cps : 1, &r[i].text_len);
    }
}

static void free_records(rec_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].text);
    free(r);
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void write_file_cctx(const char *path, const rec_t *r, size_t n, int level, int workers,
                            ZSTD_CCtx *cctx, pm_file_result_t *res)
{
    pm_error_t err;
    pm_shard_writer_t *w;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, level, workers, cctx, &err), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(pm_shard_writer_add(w, r[i].comp, r[i].text, r[i].text_len, r[i].meta,
                                             strlen(r[i].meta), &err),
                         0);
    ck_assert_int_eq(pm_shard_writer_finish(w, res, &err), 0);
}

static void write_file(const char *path, const rec_t *r, size_t n, int level, int workers,
                       pm_file_result_t *res)
{
    write_file_cctx(path, r, n, level, workers, NULL, res);
}

/* The file must be exactly one zstd frame with a checksum; returns its content. */
static void read_single_frame(const char *path, pm_buf_t *file, pm_buf_t *raw)
{
    pm_error_t err;
    ck_assert_int_eq(pm_read_file(path, file, &err), 0);
    ck_assert_uint_gt(file->len, 0);
    size_t fsz = ZSTD_findFrameCompressedSize(file->data, file->len);
    ck_assert_msg(!ZSTD_isError(fsz), "not a zstd frame: %s", ZSTD_getErrorName(fsz));
    ck_assert_uint_eq(fsz, file->len); /* one frame, nothing after it */
    /* RFC 8878: magic 0xFD2FB528 (LE), then the frame header descriptor,
     * whose bit 2 is Content_Checksum_flag. */
    const unsigned char *b = (const unsigned char *)file->data;
    ck_assert_uint_ge(file->len, 5);
    ck_assert(b[0] == 0x28 && b[1] == 0xB5 && b[2] == 0x2F && b[3] == 0xFD);
    ck_assert_uint_eq((b[4] >> 2) & 1, 1);

    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer in = {file->data, file->len, 0};
    size_t left = 1;
    while (in.pos < in.size || left != 0) {
        ck_assert_int_eq(pm_buf_reserve(raw, 1 << 20), 0);
        ZSTD_outBuffer out = {raw->data + raw->len, raw->cap - raw->len - 1, 0};
        size_t before = in.pos;
        left = ZSTD_decompressStream(d, &out, &in);
        ck_assert_msg(!ZSTD_isError(left), "decompress: %s", ZSTD_getErrorName(left));
        raw->len += out.pos;
        if (out.pos == 0 && in.pos == before && left != 0)
            ck_abort_msg("truncated frame");
    }
    raw->data[raw->len] = '\0'; /* written around pm_buf: terminate it */
    ZSTD_freeDCtx(d);
}

static void canonical128(const void *p, size_t n, unsigned char out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
    memcpy(out, c.digest, 16);
}

static void check_content(const pm_buf_t *raw, const rec_t *r, size_t n)
{
    /* Every control character, DEL, C1 and U+2028/9 is escaped. */
    for (size_t i = 0; i < raw->len; i++) {
        unsigned char c = (unsigned char)raw->data[i];
        if (c < 0x20 && c != '\n')
            ck_abort_msg("raw control byte %#x at %zu", c, i);
        if (c == 0x7F)
            ck_abort_msg("raw DEL at %zu", i);
        if (c == 0xC2 && i + 1 < raw->len && (unsigned char)raw->data[i + 1] <= 0x9F)
            ck_abort_msg("raw C1 control at %zu", i);
        if (c == 0xE2 && i + 2 < raw->len && (unsigned char)raw->data[i + 1] == 0x80 &&
            ((unsigned char)raw->data[i + 2] == 0xA8 || (unsigned char)raw->data[i + 2] == 0xA9))
            ck_abort_msg("raw U+2028/U+2029 at %zu", i);
    }
    ck_assert(n == 0 || raw->data[raw->len - 1] == '\n');
    const char *p = raw->data, *end = raw->data + raw->len;
    size_t i = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        ck_assert_ptr_nonnull(nl);
        size_t len = (size_t)(nl - p);
        ck_assert_uint_gt(len, 0); /* no blank lines */
        ck_assert_uint_lt(i, n);
        /* json.dumps layout: "text" first, then "meta" with pile_set_name first. */
        ck_assert(len > 10 && memcmp(p, "{\"text\": \"", 10) == 0);
        ck_assert_ptr_nonnull(strstr(p, ", \"meta\": {\"pile_set_name\": "));
        json_error_t je;
        json_t *o = json_loadb(p, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(o != NULL, "line %zu: %s (col %d)", i + 1, je.text, je.column);
        ck_assert(json_is_object(o));
        ck_assert_uint_eq(json_object_size(o), 2);
        json_t *text = json_object_get(o, "text"), *meta = json_object_get(o, "meta");
        ck_assert(json_is_string(text));
        ck_assert(json_is_object(meta));
        ck_assert_uint_eq(json_string_length(text), r[i].text_len);
        ck_assert(memcmp(json_string_value(text), r[i].text, r[i].text_len) == 0);
        ck_assert_str_eq(json_string_value(json_object_get(meta, "pile_set_name")), r[i].comp);
        /* The other members are exactly the record's meta. */
        size_t ml = strlen(r[i].meta);
        char *wrapped = malloc(ml + 3);
        sprintf(wrapped, "{%s}", r[i].meta);
        json_t *want = json_loads(wrapped, JSON_ALLOW_NUL, &je);
        ck_assert_ptr_nonnull(want);
        json_object_del(meta, "pile_set_name");
        ck_assert(json_equal(meta, want));
        json_decref(want);
        free(wrapped);
        json_decref(o);
        p = nl + 1;
        i++;
    }
    ck_assert_uint_eq(i, n);
}

START_TEST(test_round_trip)
{
    uint64_t s = pm_test_seed();
    char *dir = pm_test_tmpdir();
    char path[512], temp[512];
    snprintf(path, sizeof path, "%s/07.jsonl.zst", dir);
    snprintf(temp, sizeof temp, "%s/.07.jsonl.zst.tmp", dir);
    size_t n = 3000;
    rec_t *r = calloc(n, sizeof *r);
    make_records(r, n, &s);

    pm_error_t err;
    pm_shard_writer_t *w;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, 3, 2, NULL, &err), 0);
    uint64_t text_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(pm_shard_writer_add(w, r[i].comp, r[i].text, r[i].text_len, r[i].meta,
                                             strlen(r[i].meta), &err),
                         0);
        text_bytes += r[i].text_len;
        if (i == n / 2) {
            /* Mid-way: only the temp exists, never the final name. */
            ck_assert(!pm_path_exists(path));
            ck_assert(pm_path_exists(temp));
        }
    }
    ck_assert(!pm_path_exists(path));
    pm_file_result_t res;
    memset(&res, 0xAB, sizeof res);
    ck_assert_int_eq(pm_shard_writer_finish(w, &res, &err), 0);
    ck_assert(pm_path_exists(path));
    ck_assert(!pm_path_exists(temp));
    ck_assert_uint_eq(dir_entries(dir), 1);

    pm_buf_t file, raw;
    pm_buf_init(&file);
    pm_buf_init(&raw);
    read_single_frame(path, &file, &raw);
    check_content(&raw, r, n);

    ck_assert_uint_eq(res.docs, n);
    ck_assert_uint_eq(res.text_bytes, text_bytes);
    ck_assert_uint_eq(res.raw_bytes, raw.len);
    ck_assert_uint_eq(res.zst_bytes, file.len);
    unsigned char d[16];
    canonical128(raw.data, raw.len, d);
    ck_assert(memcmp(d, res.raw_xxh128, 16) == 0);
    canonical128(file.data, file.len, d);
    ck_assert(memcmp(d, res.zst_xxh128, 16) == 0);
    /* The canonical form is big-endian, as xxh128sum prints it. */
    XXH128_hash_t h = XXH3_128bits(file.data, file.len);
    char hex[33], want[33];
    pm_hex128(res.zst_xxh128, hex);
    snprintf(want, sizeof want, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    ck_assert_str_eq(hex, want);

    pm_buf_free(&file);
    pm_buf_free(&raw);
    free_records(r, n);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_hex128)
{
    unsigned char d[16];
    for (int i = 0; i < 16; i++)
        d[i] = (unsigned char)(i * 0x11);
    d[0] = 0x00;
    d[1] = 0xff;
    d[2] = 0x0a;
    d[3] = 0xa0;
    char hex[33];
    memset(hex, 'Z', sizeof hex);
    pm_hex128(d, hex);
    ck_assert_uint_eq(strlen(hex), 32);
    ck_assert(strncmp(hex, "00ff0aa0", 8) == 0);
    ck_assert_str_eq(hex + 8, "445566778899aabbccddeeff");
}
END_TEST

START_TEST(test_workers_do_not_change_bytes)
{
    uint64_t s = pm_test_seed();
    char *dir = pm_test_tmpdir();
    /* > 8 MiB of raw lines, so zstd's multi-threaded mode cuts several jobs. */
    size_t n = 5000;
    rec_t *r = calloc(n, sizeof *r);
    static const char *const words[] = {"the ", "pile ", "of ",   "text\n", "données ",
                                        "😀 ",   "\t",    "zstd ", "frame ", "\"q\" "};
    for (size_t i = 0; i < n; i++) {
        r[i].comp = comps[i % 5];
        r[i].meta = metas[i % 6];
        size_t cap = 3000 * 12, len = 0;
        r[i].text = malloc(cap);
        size_t words_n = 1 + pm_test_rand(&s) % 1000;
        for (size_t k = 0; k < words_n; k++) {
            const char *wd = words[pm_test_rand(&s) % 10];
            memcpy(r[i].text + len, wd, strlen(wd));
            len += strlen(wd);
        }
        r[i].text_len = len;
    }
    char p1[512], p3[512], p0[512];
    snprintf(p1, sizeof p1, "%s/w1.jsonl.zst", dir);
    snprintf(p3, sizeof p3, "%s/w3.jsonl.zst", dir);
    snprintf(p0, sizeof p0, "%s/w0.jsonl.zst", dir);
    pm_file_result_t r1, r3, r0;
    write_file(p1, r, n, 3, 1, &r1);
    write_file(p3, r, n, 3, 3, &r3);
    write_file(p0, r, n, 3, 0, &r0);
    ck_assert_uint_gt(r1.raw_bytes, 10u << 20);
    pm_buf_t f1, f3, f0, raw;
    pm_buf_init(&f1);
    pm_buf_init(&f3);
    pm_buf_init(&f0);
    pm_buf_init(&raw);
    read_single_frame(p3, &f3, &raw);
    ck_assert_uint_eq(raw.len, r3.raw_bytes);
    pm_error_t err;
    ck_assert_int_eq(pm_read_file(p1, &f1, &err), 0);
    ck_assert_int_eq(pm_read_file(p0, &f0, &err), 0);
    ck_assert_uint_eq(f1.len, f3.len);
    ck_assert(memcmp(f1.data, f3.data, f1.len) == 0);
    ck_assert_uint_eq(f0.len, f3.len);
    ck_assert(memcmp(f0.data, f3.data, f0.len) == 0);
    ck_assert(memcmp(&r1, &r3, sizeof r1) == 0);
    ck_assert(memcmp(&r0, &r3, sizeof r0) == 0);
    pm_buf_free(&f1);
    pm_buf_free(&f3);
    pm_buf_free(&f0);
    pm_buf_free(&raw);
    free_records(r, n);
    pm_test_rmdir(dir);
}
END_TEST

static bool same_file(const char *a, const char *b)
{
    pm_buf_t x, y;
    pm_buf_init(&x);
    pm_buf_init(&y);
    ck_assert_int_eq(pm_read_file(a, &x, NULL), 0);
    ck_assert_int_eq(pm_read_file(b, &y, NULL), 0);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    pm_buf_free(&x);
    pm_buf_free(&y);
    return same;
}

START_TEST(test_lent_cctx_same_bytes)
{
    /* A context lent across files, after another level, another worker
     * count and an aborted frame, gives the bytes of a fresh one. */
    uint64_t s = pm_test_seed();
    char *dir = pm_test_tmpdir();
    size_t n = 400;
    rec_t *r = calloc(n, sizeof *r);
    make_records(r, n, &s);
    char fresh[512], lent[512], other[512];
    snprintf(fresh, sizeof fresh, "%s/fresh.jsonl.zst", dir);
    snprintf(lent, sizeof lent, "%s/lent.jsonl.zst", dir);
    snprintf(other, sizeof other, "%s/other.jsonl.zst", dir);
    pm_file_result_t a, b, c;
    write_file(fresh, r, n, 3, 1, &a);

    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    write_file_cctx(other, r, n / 2, 9, 2, cctx, &c);
    pm_error_t err;
    pm_shard_writer_t *w;
    ck_assert_int_eq(pm_shard_writer_open(&w, lent, 1, 1, cctx, &err), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(pm_shard_writer_add(w, r[i].comp, r[i].text, r[i].text_len, r[i].meta,
                                             strlen(r[i].meta), &err),
                         0);
    pm_shard_writer_abort(w); /* mid-frame: the context holds a half frame */
    ck_assert(!pm_path_exists(lent));
    write_file_cctx(lent, r, n, 3, 2, cctx, &b);
    ck_assert(same_file(fresh, lent));
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    /* The lent context survives its writers (the caller owns it). */
    write_file_cctx(other, r, n, 3, 1, cctx, &c);
    ck_assert(same_file(fresh, other));
    ZSTD_freeCCtx(cctx);
    free_records(r, n);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_abort_leaves_nothing)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/val.jsonl.zst", dir);
    pm_error_t err;
    pm_shard_writer_t *w;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, 3, 1, NULL, &err), 0);
    ck_assert_uint_eq(dir_entries(dir), 1); /* the temp */
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pm_shard_writer_add(w, "c", "some text", 9, "", 0, &err), 0);
    pm_shard_writer_abort(w);
    ck_assert_uint_eq(dir_entries(dir), 0);
    pm_shard_writer_abort(NULL);
    /* A stale temp of a crashed writer does not block the next one. */
    char temp[512];
    snprintf(temp, sizeof temp, "%s/.val.jsonl.zst.tmp", dir);
    FILE *f = fopen(temp, "w");
    fputs("junk", f);
    fclose(f);
    pm_file_result_t res;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, 3, 1, NULL, &err), 0);
    ck_assert_int_eq(pm_shard_writer_finish(w, &res, &err), 0);
    ck_assert_uint_eq(dir_entries(dir), 1);
    ck_assert(pm_path_exists(path));
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_open_fails_cleanly)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.jsonl.zst", dir);
    pm_error_t err;
    pm_shard_writer_t *w = (pm_shard_writer_t *)&err;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, 3, 1, NULL, &err), PM_EIO);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(err.file, "x.jsonl.zst"));
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_empty_file)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/test.jsonl.zst", dir);
    pm_error_t err;
    pm_shard_writer_t *w;
    ck_assert_int_eq(pm_shard_writer_open(&w, path, 3, 2, NULL, &err), 0);
    pm_file_result_t res;
    ck_assert_int_eq(pm_shard_writer_finish(w, &res, &err), 0);
    pm_buf_t file, raw;
    pm_buf_init(&file);
    pm_buf_init(&raw);
    read_single_frame(path, &file, &raw);
    ck_assert_uint_eq(raw.len, 0);
    ck_assert_uint_eq(res.docs, 0);
    ck_assert_uint_eq(res.text_bytes, 0);
    ck_assert_uint_eq(res.raw_bytes, 0);
    ck_assert_uint_eq(res.zst_bytes, file.len);
    unsigned char d[16];
    canonical128("", 0, d);
    ck_assert(memcmp(d, res.raw_xxh128, 16) == 0);
    canonical128(file.data, file.len, d);
    ck_assert(memcmp(d, res.zst_xxh128, 16) == 0);
    /* Simple one-shot decoding agrees: 0 bytes of content. */
    unsigned long long cs = ZSTD_getFrameContentSize(file.data, file.len);
    ck_assert(cs == 0 || cs == ZSTD_CONTENTSIZE_UNKNOWN);
    pm_buf_free(&file);
    pm_buf_free(&raw);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_empty_text_and_meta)
{
    /* The writer is given whatever gather passes; an empty text is still a
     * well-formed line. */
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/e.jsonl.zst", dir);
    rec_t r[2] = {{"A", (char *)"", 0, ""}, {"B", (char *)"\0", 1, "\"k\": 1"}};
    pm_file_result_t res;
    write_file(path, r, 2, 1, 1, &res);
    pm_buf_t file, raw;
    pm_buf_init(&file);
    pm_buf_init(&raw);
    read_single_frame(path, &file, &raw);
    const char want[] = "{\"text\": \"\", \"meta\": {\"pile_set_name\": \"A\"}}\n"
                        "{\"text\": \"\\u0000\", \"meta\": {\"pile_set_name\": \"B\", \"k\": 1}}\n";
    ck_assert_uint_eq(raw.len, sizeof want - 1);
    ck_assert(memcmp(raw.data, want, raw.len) == 0);
    ck_assert_uint_eq(res.docs, 2);
    ck_assert_uint_eq(res.text_bytes, 1);
    pm_buf_free(&file);
    pm_buf_free(&raw);
    pm_test_rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shard_writer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_hex128);
    tcase_add_test(tc, test_workers_do_not_change_bytes);
    tcase_add_test(tc, test_lent_cctx_same_bytes);
    tcase_add_test(tc, test_abort_leaves_nothing);
    tcase_add_test(tc, test_open_fails_cleanly);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_empty_text_and_meta);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
