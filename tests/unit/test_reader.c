/* pm_reader: plain and zstd inputs give the same lines, offsets and line
 * numbers; long and too-long lines; every broken-zstd case is an error with
 * an offset, never a silent early end. Files are generated here (under
 * $PM_TEST_TMP or /tmp) and removed afterwards. */
#include "pilemix/reader.h"

#include <check.h>

#include "test_util.h"
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char tmpdir[4096];

static void setup(void)
{
    const char *base = getenv("PM_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700); /* may exist */
    snprintf(tmpdir, sizeof tmpdir, "%s/pm_reader_XXXXXX", base);
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp %s: %s", tmpdir, strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void) { nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *tpath(const char *name)
{
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert(len == 0 || fwrite(data, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
}

/* ---------------------------------------------------------------------- */
/* Buffers and content                                                     */

typedef struct {
    char *p;
    size_t n, cap;
} bytes_t;

static void b_put(bytes_t *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void b_fill(bytes_t *b, char c, size_t n)
{
    b_put(b, NULL, 0);
    while (n) {
        char tmp[4096];
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        memset(tmp, c, k);
        b_put(b, tmp, k);
        n -= k;
    }
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Word-like random text: compressible, so zstd emits compressed blocks. */
static void b_words(bytes_t *b, size_t n)
{
    static const char *words[] = {"the ",   "pile ", "of ",   "text ",   "zstd ", "frame ",
                                  "shard ", "line ", "json ", "corpus ", "\\n",   "\\\"q\\\" "};
    size_t start = b->n;
    while (b->n - start < n) {
        const char *w = words[rnd() % 12];
        size_t k = strlen(w);
        if (b->n - start + k > n)
            k = n - (b->n - start);
        b_put(b, w, k);
    }
}

typedef struct {
    const char *data; /* into the content (not owned) */
    size_t len;
    uint64_t offset;
    uint64_t lineno;
} want_line_t;

/* Splits content the way the reader must: on '\n', a last line without '\n'
 * is a line, a final '\n' does not start an empty line. */
static want_line_t *split_lines(const bytes_t *c, size_t *n_out)
{
    size_t cap = 1024, n = 0, start = 0;
    want_line_t *w = malloc(cap * sizeof *w);
    for (size_t i = 0; i <= c->n; i++) {
        if (i == c->n && start == c->n)
            break;
        if (i == c->n || c->p[i] == '\n') {
            if (n == cap)
                w = realloc(w, (cap *= 2) * sizeof *w);
            w[n].data = c->p + start;
            w[n].len = i - start;
            w[n].offset = start;
            w[n].lineno = n + 1;
            n++;
            start = i + 1;
        }
    }
    *n_out = n;
    return w;
}

/* ---------------------------------------------------------------------- */
/* zstd files                                                              */

static void put_le32(bytes_t *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    b_put(b, x, 4);
}

static void add_skippable(bytes_t *out, size_t payload)
{
    put_le32(out, 0x184D2A50u + (uint32_t)(rnd() % 16));
    put_le32(out, (uint32_t)payload);
    b_fill(out, 'S', payload);
}

static void add_frame(bytes_t *out, const void *src, size_t n, int level, int checksum)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ck_assert_ptr_nonnull(cctx);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
    size_t bound = ZSTD_compressBound(n);
    size_t at = out->n;
    b_put(out, NULL, 0);
    if (out->cap - out->n < bound) {
        out->p = realloc(out->p, out->n + bound);
        out->cap = out->n + bound;
    }
    size_t z = ZSTD_compress2(cctx, out->p + at, bound, src, n);
    ck_assert_msg(!ZSTD_isError(z), "compress: %s", ZSTD_getErrorName(z));
    out->n += z;
    ZSTD_freeCCtx(cctx);
}

/* Content as several frames cut at arbitrary byte positions (not at line
 * ends), with skippable frames and an empty frame mixed in. */
static void compress_multi(bytes_t *out, const bytes_t *c, int pieces)
{
    add_skippable(out, 7);
    size_t pos = 0;
    for (int i = 0; i < pieces; i++) {
        size_t left = c->n - pos;
        size_t take = i == pieces - 1 ? left : (size_t)(rnd() % (left / 2 + 1));
        add_frame(out, c->p + pos, take, 1 + (int)(rnd() % 3), i % 2);
        pos += take;
        if (i == 0)
            add_frame(out, "", 0, 3, 0);
        if (i % 2 == 0)
            add_skippable(out, (size_t)(rnd() % 100));
    }
    add_skippable(out, 0);
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */

typedef struct {
    char *data;
    size_t len;
    uint64_t full_len, offset, lineno;
    bool too_long;
} got_line_t;

typedef struct {
    got_line_t *lines;
    size_t n;
    int rc; /* 0 or the error */
    pm_error_t err;
    uint64_t bytes_in;
} got_t;

static void got_free(got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->lines[i].data);
    free(g->lines);
}

static got_t read_all(const char *path, pm_format_t fmt, size_t max_line)
{
    got_t g;
    memset(&g, 0, sizeof g);
    pm_error_clear(&g.err);
    pm_reader_t *r;
    g.rc = pm_reader_open(&r, path, "display.name", fmt, max_line, &g.err);
    if (g.rc < 0) {
        ck_assert_ptr_null(r);
        return g;
    }
    size_t cap = 0;
    pm_line_t line;
    int rc;
    while ((rc = pm_reader_next(r, &line, &g.err)) == 1) {
        if (g.n == cap) {
            cap = cap ? cap * 2 : 256;
            g.lines = realloc(g.lines, cap * sizeof *g.lines);
        }
        got_line_t *l = &g.lines[g.n++];
        l->data = malloc(line.len + 1);
        if (line.len)
            memcpy(l->data, line.data, line.len);
        l->len = line.len;
        l->full_len = line.full_len;
        l->offset = line.offset;
        l->lineno = line.lineno;
        l->too_long = line.too_long;
    }
    g.rc = rc;
    if (rc < 0) {
        /* errors are sticky */
        pm_error_t e2;
        ck_assert_int_eq(pm_reader_next(r, &line, &e2), rc);
        ck_assert_str_eq(e2.msg, g.err.msg);
    } else {
        ck_assert_int_eq(pm_reader_next(r, &line, NULL), 0); /* EOF is stable */
    }
    g.bytes_in = pm_reader_bytes_in(r);
    pm_reader_close(r);
    return g;
}

static void assert_lines(const got_t *g, const want_line_t *w, size_t nw, const char *what)
{
    ck_assert_msg(g->n == nw, "%s: %zu lines, want %zu", what, g->n, nw);
    for (size_t i = 0; i < nw; i++) {
        const got_line_t *l = &g->lines[i];
        ck_assert_msg(l->len == w[i].len && l->full_len == w[i].len && !l->too_long,
                      "%s: line %zu: len %zu/%" PRIu64 ", want %zu", what, i + 1, l->len,
                      l->full_len, w[i].len);
        ck_assert_msg(memcmp(l->data, w[i].data, w[i].len) == 0, "%s: line %zu differs", what,
                      i + 1);
        ck_assert_msg(l->offset == w[i].offset, "%s: line %zu at %" PRIu64 ", want %" PRIu64, what,
                      i + 1, l->offset, w[i].offset);
        ck_assert_uint_eq(l->lineno, w[i].lineno);
    }
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

START_TEST(test_plain_small)
{
    static const char content[] = "a\n\nbb\r\n\r\nccc";
    write_file(tpath("s.jsonl"), content, sizeof content - 1);
    got_t g = read_all(tpath("s.jsonl"), PM_FORMAT_JSONL, 1 << 20);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 5);
    const char *data[] = {"a", "", "bb\r", "\r", "ccc"};
    uint64_t off[] = {0, 2, 3, 7, 9};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(g.lines[i].len, strlen(data[i]));
        ck_assert(memcmp(g.lines[i].data, data[i], g.lines[i].len) == 0);
        ck_assert_uint_eq(g.lines[i].offset, off[i]);
        ck_assert_uint_eq(g.lines[i].lineno, i + 1);
    }
    ck_assert_uint_eq(g.bytes_in, sizeof content - 1);
    got_free(&g);

    /* A final '\n' ends the last line; it does not start an empty one. */
    write_file(tpath("t.jsonl"), "x\n", 2);
    g = read_all(tpath("t.jsonl"), PM_FORMAT_JSONL, 100);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 1);
    got_free(&g);
    write_file(tpath("u.jsonl"), "\n\n", 2);
    g = read_all(tpath("u.jsonl"), PM_FORMAT_JSONL, 100);
    ck_assert_uint_eq(g.n, 2);
    ck_assert_uint_eq(g.lines[1].offset, 1);
    ck_assert_uint_eq(g.lines[1].lineno, 2);
    got_free(&g);
}
END_TEST

START_TEST(test_empty_files)
{
    write_file(tpath("e.jsonl"), "", 0);
    got_t g = read_all(tpath("e.jsonl"), PM_FORMAT_JSONL, 100);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 0);
    got_free(&g);

    write_file(tpath("e.jsonl.zst"), "", 0);
    g = read_all(tpath("e.jsonl.zst"), PM_FORMAT_JSONL_ZST, 100);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "empty file is not a zstd stream"), "%s", g.err.msg);
    ck_assert_str_eq(g.err.file, "display.name");
    ck_assert_uint_eq(g.n, 0);
    got_free(&g);

    /* Only a skippable frame: a valid zstd stream with no data. */
    bytes_t z = {0};
    add_skippable(&z, 10);
    write_file(tpath("skip.jsonl.zst"), z.p, z.n);
    g = read_all(tpath("skip.jsonl.zst"), PM_FORMAT_JSONL_ZST, 100);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 0);
    got_free(&g);
    free(z.p);
}
END_TEST

START_TEST(test_missing_file)
{
    pm_reader_t *r = (pm_reader_t *)1;
    pm_error_t err;
    int rc = pm_reader_open(&r, tpath("nope.jsonl"), "nope.jsonl", PM_FORMAT_JSONL, 100, &err);
    ck_assert_int_eq(rc, PM_EIO);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err.code, PM_EIO);
    ck_assert_msg(strstr(err.msg, tpath("nope.jsonl")) && strstr(err.msg, "No such file"), "%s",
                  err.msg);
    rc = pm_reader_open(&r, tpath("nope.jsonl.zst"), NULL, PM_FORMAT_JSONL_ZST, 100, &err);
    ck_assert_int_eq(rc, PM_EIO);
    pm_reader_close(NULL);
}
END_TEST

/* A corpus with every shape: blank lines, CRLF, 3 MiB lines spanning the
 * 1 MiB chunks, a '\n' exactly at chunk edges, no final newline. */
static void make_corpus(bytes_t *c)
{
    b_fill(c, 'a', (1u << 20) - 1); /* '\n' is the last byte of chunk 1 */
    b_put(c, "\n", 1);
    b_fill(c, 'b', 1u << 20); /* '\n' is the first byte of chunk 3 */
    b_put(c, "\n", 1);
    for (int i = 0; i < 4000; i++) {
        unsigned k = (unsigned)(rnd() % 100);
        if (k < 5) {
            /* blank */
        } else if (k < 8) {
            b_put(c, "\r", 1);
        } else if (k == 8 && i % 7 == 0) {
            b_words(c, (3u << 20) + (size_t)(rnd() % 1000));
        } else {
            b_put(c, "{\"text\": \"", 10);
            b_words(c, (size_t)(rnd() % 3000));
            b_put(c, "\"}", 2);
            if (k < 20)
                b_put(c, "\r", 1);
        }
        b_put(c, "\n", 1);
    }
    b_put(c, "{\"text\": \"last line, no newline\"}", 34);
}

START_TEST(test_plain_and_zst_agree)
{
    bytes_t c = {0};
    make_corpus(&c);
    size_t nw;
    want_line_t *w = split_lines(&c, &nw);
    write_file(tpath("c.jsonl"), c.p, c.n);
    bytes_t z = {0};
    compress_multi(&z, &c, 6);
    write_file(tpath("c.jsonl.zst"), z.p, z.n);

    got_t gp = read_all(tpath("c.jsonl"), PM_FORMAT_JSONL, 8u << 20);
    ck_assert_msg(gp.rc == 0, "%s", gp.err.msg);
    assert_lines(&gp, w, nw, "plain");
    ck_assert_uint_eq(gp.bytes_in, c.n);

    got_t gz = read_all(tpath("c.jsonl.zst"), PM_FORMAT_JSONL_ZST, 8u << 20);
    ck_assert_msg(gz.rc == 0, "%s", gz.err.msg);
    assert_lines(&gz, w, nw, "zst");
    ck_assert_uint_eq(gz.bytes_in, z.n);

    got_free(&gp);
    got_free(&gz);
    free(w);
    free(c.p);
    free(z.p);
}
END_TEST

START_TEST(test_too_long)
{
    bytes_t c = {0};
    b_put(&c, "short\n", 6);
    b_fill(&c, 'x', 100000); /* in one chunk */
    b_put(&c, "\n", 1);
    b_put(&c, "next\n", 5);
    b_fill(&c, 'y', 1000); /* exactly max_line: fine */
    b_put(&c, "\n", 1);
    b_fill(&c, 'z', (5u << 20) + 3); /* spans chunks */
    b_put(&c, "\nafter\n", 7);
    b_fill(&c, 'w', 3000); /* too long, last line, no newline */
    write_file(tpath("l.jsonl"), c.p, c.n);
    bytes_t z = {0};
    add_frame(&z, c.p, c.n, 1, 0);
    write_file(tpath("l.jsonl.zst"), z.p, z.n);

    for (int zst = 0; zst < 2; zst++) {
        got_t g = zst ? read_all(tpath("l.jsonl.zst"), PM_FORMAT_JSONL_ZST, 1000)
                      : read_all(tpath("l.jsonl"), PM_FORMAT_JSONL, 1000);
        ck_assert_int_eq(g.rc, 0);
        ck_assert_uint_eq(g.n, 7);
        ck_assert(!g.lines[0].too_long);
        ck_assert(g.lines[1].too_long);
        ck_assert_uint_eq(g.lines[1].len, 1000);
        ck_assert_uint_eq(g.lines[1].full_len, 100000);
        ck_assert_uint_eq(g.lines[1].offset, 6);
        ck_assert(g.lines[1].data[0] == 'x' && g.lines[1].data[999] == 'x');
        ck_assert(!g.lines[2].too_long);
        ck_assert_uint_eq(g.lines[2].len, 4);
        ck_assert(memcmp(g.lines[2].data, "next", 4) == 0);
        ck_assert_uint_eq(g.lines[2].offset, 100007);
        ck_assert_uint_eq(g.lines[2].lineno, 3);
        ck_assert(!g.lines[3].too_long);
        ck_assert_uint_eq(g.lines[3].len, 1000);
        ck_assert(g.lines[4].too_long);
        ck_assert_uint_eq(g.lines[4].len, 1000);
        ck_assert_uint_eq(g.lines[4].full_len, (5u << 20) + 3);
        ck_assert(g.lines[4].data[0] == 'z' && g.lines[4].data[999] == 'z');
        ck_assert_uint_eq(g.lines[5].len, 5);
        ck_assert(memcmp(g.lines[5].data, "after", 5) == 0);
        ck_assert_uint_eq(g.lines[5].offset, 100012 + 1001 + (5u << 20) + 3 + 1);
        ck_assert_uint_eq(g.lines[5].lineno, 6);
        ck_assert(g.lines[6].too_long);
        ck_assert_uint_eq(g.lines[6].full_len, 3000);
        got_free(&g);
    }

    /* The reject prefix is capped at 4096 bytes even for a big max_line. */
    got_t g = read_all(tpath("l.jsonl"), PM_FORMAT_JSONL, 1u << 20);
    ck_assert_int_eq(g.rc, 0);
    ck_assert(!g.lines[1].too_long);
    ck_assert(g.lines[4].too_long);
    ck_assert_uint_eq(g.lines[4].len, 4096);
    ck_assert_uint_eq(g.lines[4].full_len, (5u << 20) + 3);
    got_free(&g);
    free(c.p);
    free(z.p);
}
END_TEST

/* Several MB of compressible text in one frame (many blocks). */
static void make_big_frame(bytes_t *c, bytes_t *z, int checksum)
{
    for (int i = 0; i < 3000; i++) {
        b_put(c, "{\"text\": \"", 10);
        b_words(c, 200 + (size_t)(rnd() % 2000));
        b_put(c, "\"}\n", 3);
    }
    add_frame(z, c->p, c->n, 1, checksum);
}

START_TEST(test_truncated_zst)
{
    bytes_t c = {0}, z = {0};
    make_big_frame(&c, &z, 0);
    size_t nw;
    want_line_t *w = split_lines(&c, &nw);
    size_t cuts[] = {z.n / 2, z.n - 1, 5, 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        write_file(tpath("t.jsonl.zst"), z.p, cuts[k]);
        got_t g = read_all(tpath("t.jsonl.zst"), PM_FORMAT_JSONL_ZST, 1u << 20);
        ck_assert_int_eq(g.rc, PM_EDATA);
        ck_assert_msg(strstr(g.err.msg, "truncated"), "%s", g.err.msg);
        ck_assert_int_eq(g.err.offset, (int64_t)cuts[k]);
        ck_assert_str_eq(g.err.file, "display.name");
        /* What came before the error is a correct prefix. */
        ck_assert_uint_lt(g.n, nw);
        for (size_t i = 0; i < g.n; i++)
            ck_assert(g.lines[i].len == w[i].len && g.lines[i].offset == w[i].offset &&
                      memcmp(g.lines[i].data, w[i].data, w[i].len) == 0);
        got_free(&g);
    }
    /* Cut after a whole frame plus part of the next one. */
    bytes_t z2 = {0};
    b_put(&z2, z.p, z.n);
    b_put(&z2, z.p, z.n / 3);
    write_file(tpath("t2.jsonl.zst"), z2.p, z2.n);
    got_t g = read_all(tpath("t2.jsonl.zst"), PM_FORMAT_JSONL_ZST, 1u << 20);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_int_eq(g.err.offset, (int64_t)z2.n);
    ck_assert_uint_ge(g.n, nw);
    got_free(&g);
    free(w);
    free(c.p);
    free(z.p);
    free(z2.p);
}
END_TEST

START_TEST(test_corrupt_zst)
{
    for (int trial = 0; trial < 8; trial++) {
        bytes_t c = {0}, z = {0};
        make_big_frame(&c, &z, trial % 2);
        /* Flip a few bytes in the middle of the frame. */
        size_t at = z.n / 2 + (size_t)(rnd() % (z.n / 4));
        for (int k = 0; k < 4; k++)
            z.p[at + (size_t)k * 7] ^= (char)(1 + rnd() % 255);
        write_file(tpath("c.jsonl.zst"), z.p, z.n);
        got_t g = read_all(tpath("c.jsonl.zst"), PM_FORMAT_JSONL_ZST, 1u << 20);
        printf("test_corrupt_zst: trial %d (checksum %d), flip at %zu of %zu: %s (byte %lld)\n",
               trial, trial % 2, at, z.n, g.rc ? g.err.msg : "decoded without error",
               (long long)g.err.offset);
        if (g.rc == 0) {
            /* Without a checksum a flip can decode to other bytes; with one it
             * cannot. Either way it must never end early silently. */
            ck_assert_msg(trial % 2 == 0, "corruption not detected despite checksum");
            got_free(&g);
            free(c.p);
            free(z.p);
            continue;
        }
        ck_assert_int_eq(g.rc, PM_EDATA);
        ck_assert_msg(strstr(g.err.msg, "corrupt zstd stream: "), "%s", g.err.msg);
        /* A bad block is reported at its start (at most one block, 128 KiB,
         * before the flip); a checksum mismatch at the end of the frame. */
        ck_assert_int_ge(g.err.offset, 0);
        ck_assert_int_le(g.err.offset, (int64_t)z.n);
        if (!strstr(g.err.msg, "checksum")) {
            ck_assert_int_le(g.err.offset, (int64_t)at);
            ck_assert_int_le((int64_t)at - g.err.offset, 128 * 1024 + 3);
        }
        /* Lines before the bad block are returned, and they are right. */
        size_t nw;
        want_line_t *w = split_lines(&c, &nw);
        for (size_t i = 0; i < g.n; i++)
            ck_assert(g.lines[i].len == w[i].len &&
                      memcmp(g.lines[i].data, w[i].data, w[i].len) == 0);
        ck_assert_uint_gt(g.n, 0);
        free(w);
        got_free(&g);
        free(c.p);
        free(z.p);
    }
}
END_TEST

START_TEST(test_not_zstd)
{
    static const char text[] = "{\"text\": \"plain text, not zstd\"}\n";
    write_file(tpath("n.jsonl.zst"), text, sizeof text - 1);
    got_t g = read_all(tpath("n.jsonl.zst"), PM_FORMAT_JSONL_ZST, 100);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "corrupt zstd stream"), "%s", g.err.msg);
    ck_assert_int_eq(g.err.offset, 0);
    ck_assert_uint_eq(g.n, 0);
    got_free(&g);

    /* Valid frame followed by garbage. */
    bytes_t z = {0};
    add_frame(&z, "{\"text\": \"a\"}\n", 14, 3, 0);
    size_t first = z.n;
    b_put(&z, text, sizeof text - 1);
    write_file(tpath("n2.jsonl.zst"), z.p, z.n);
    g = read_all(tpath("n2.jsonl.zst"), PM_FORMAT_JSONL_ZST, 100);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_uint_eq(g.n, 1);
    ck_assert_int_le(g.err.offset, (int64_t)first);
    got_free(&g);
    free(z.p);
}
END_TEST

START_TEST(test_window_too_large)
{
    /* A frame that declares a 256 MiB window (as `zstd --long=28` writes
     * for a stream of unknown size). */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 28);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    static const char text[] = "{\"text\": \"needs a big window\"}\n";
    char out[4096];
    ZSTD_outBuffer ob = {out, sizeof out, 0};
    ZSTD_inBuffer ib = {text, sizeof text - 1, 0};
    ck_assert(!ZSTD_isError(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue)));
    ZSTD_inBuffer empty = {NULL, 0, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cctx, &ob, &empty, ZSTD_e_end);
        ck_assert(!ZSTD_isError(left));
    } while (left);
    ZSTD_freeCCtx(cctx);
    write_file(tpath("w.jsonl.zst"), out, ob.pos);
    got_t g = read_all(tpath("w.jsonl.zst"), PM_FORMAT_JSONL_ZST, 100);
    ck_assert_int_eq(g.rc, PM_EDATA);
    ck_assert_msg(strstr(g.err.msg, "window > 128 MiB"), "%s", g.err.msg);
    got_free(&g);
}
END_TEST

START_TEST(test_unlimited_max_line)
{
    bytes_t c = {0};
    b_fill(&c, 'q', 3u << 20);
    b_put(&c, "\nx", 2);
    write_file(tpath("u.jsonl"), c.p, c.n);
    got_t g = read_all(tpath("u.jsonl"), PM_FORMAT_JSONL, 0);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.n, 2);
    ck_assert(!g.lines[0].too_long);
    ck_assert_uint_eq(g.lines[0].len, 3u << 20);
    got_free(&g);
    free(c.p);
}
END_TEST

static Suite *reader_suite(void)
{
    Suite *s = suite_create("reader");
    TCase *tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_plain_small);
    tcase_add_test(tc, test_empty_files);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_plain_and_zst_agree);
    tcase_add_test(tc, test_too_long);
    tcase_add_test(tc, test_truncated_zst);
    tcase_add_test(tc, test_corrupt_zst);
    tcase_add_test(tc, test_not_zstd);
    tcase_add_test(tc, test_window_too_large);
    tcase_add_test(tc, test_unlimited_max_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pm_test_run(reader_suite()); }
