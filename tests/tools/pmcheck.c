/* pmcheck: an independent checker (test oracle) for a finished pilemix output.
 *
 *   pmcheck CONFIG               check the output directory of CONFIG
 *   pmcheck --first-frame FILE   check one .jsonl.zst output file, print its line count
 *
 * It re-derives the whole expected output from the inputs and the config,
 * using only the config, plan, reader and record modules and the mix
 * decision functions (mix.h), and compares it with what the job wrote, line
 * by line: nothing lost, nothing invented, exact order (DESIGN 1.3-1.5).
 * It deliberately shares no code with the job's scatter/spill/gather/shard
 * writer, reads the output with its own first-frame zstd decoder (the way
 * lm_dataformat reads) and parses output lines with jansson, not with the
 * pilemix record parser (that one is only used for the canonical meta
 * string, and to cross-check the text both parsers see).
 *
 * Memory is proportional to the number of documents: per expected line it
 * keeps a 64-byte struct (key, identity, 128-bit text hash, meta hash), never
 * the texts.
 *
 * Exit status: 0 when everything holds; 1 with one line per problem on stderr
 * (the first MAX_PRINTED, then a count); 2 for a usage or config error. */

#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/mix.h"
#include "pilemix/plan.h"
#include "pilemix/reader.h"
#include "pilemix/record.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>

/* ------------------------------------------------------------------------ */
/* Problems                                                                   */

#define MAX_PRINTED 20
#define MAX_MISMATCHES_PER_FILE 3

static uint64_t n_problems;

static void problem(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void problem(const char *fmt, ...)
{
    n_problems++;
    if (n_problems > MAX_PRINTED)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pmcheck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "pmcheck: out of memory\n");
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "pmcheck: out of memory\n");
        exit(1);
    }
    return p;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Line-level checks (b)                                                     */

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), and no
 * raw control characters: C0, DEL and the C1 range U+0080-U+009F, which the
 * job must escape. Returns the 0-based byte index of the first problem, or
 * len when the line is fine; *what says which problem. */
static size_t scan_line_bytes(const unsigned char *s, size_t len, const char **what)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                *what = "raw control character";
                return i;
            }
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            if (c == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) {
                *what = "raw C1 control character";
                return i;
            }
        } else if (c == 0xE0) {
            need = 2, lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            need = 2;
        } else if (c == 0xED) {
            need = 2, hi = 0x9F; /* no UTF-16 surrogates */
        } else if (c == 0xF0) {
            need = 3, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3, hi = 0x8F;
        } else {
            *what = "invalid UTF-8";
            return i;
        }
        if (len - i <= need) {
            *what = "truncated UTF-8 sequence";
            return i;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            *what = "invalid UTF-8";
            return i;
        }
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                *what = "invalid UTF-8";
                return i;
            }
        i += need + 1;
    }
    return len;
}

typedef struct {
    bool ok;
    const char *text; /* borrowed from root */
    size_t text_len;
    const char *psn;  /* meta.pile_set_name, borrowed */
    size_t meta_size; /* members in meta */
    json_t *root;     /* owned; json_decref when done */
} out_line_t;

/* Checks one output line (without its '\n') as lm_dataformat readers need it:
 * bytes, then structure. Reports problems as "name:lineno: ...". */
static void check_line(const char *name, uint64_t lineno, const char *line, size_t len,
                       out_line_t *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0) {
        problem("%s:%" PRIu64 ": blank line", name, lineno);
        return;
    }
    const char *what = NULL;
    size_t bad = scan_line_bytes((const unsigned char *)line, len, &what);
    if (bad < len) {
        problem("%s:%" PRIu64 ":%zu: %s (byte 0x%02x)", name, lineno, bad + 1, what,
                (unsigned char)line[bad]);
        return;
    }
    static const char prefix[] = "{\"text\": ";
    if (len < sizeof prefix - 1 || memcmp(line, prefix, sizeof prefix - 1) != 0) {
        problem("%s:%" PRIu64 ": line does not start with '{\"text\": '", name, lineno);
        return;
    }
    /* JSON_DECODE_INT_AS_REAL: meta numbers are kept as written, and integers
     * beyond int64 (ids, hashes) are valid JSON that jansson would otherwise
     * refuse. (A number beyond the double range would still be refused.) */
    json_error_t jerr;
    const size_t flags = JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL;
    json_t *root = json_loadb(line, len, flags | JSON_REJECT_DUPLICATES, &jerr);
    if (!root && strstr(jerr.text, "duplicate object key")) {
        /* Duplicate members an input meta had are kept as written (and are
         * compared with the input's canonical meta); duplicate top-level keys
         * are caught by the record parser in compare_line(). What may never
         * be doubled is the pile_set_name the job writes. */
        if (strstr(jerr.text, "\"pile_set_name\"")) {
            problem("%s:%" PRIu64 ":%d: pile_set_name given twice", name, lineno, jerr.column);
            return;
        }
        root = json_loadb(line, len, flags, &jerr);
    }
    if (!root) {
        problem("%s:%" PRIu64 ":%d: not valid JSON: %s", name, lineno, jerr.column, jerr.text);
        return;
    }
    out->root = root;
    json_t *text = json_object_get(root, "text"), *meta = json_object_get(root, "meta");
    if (!json_is_object(root) || json_object_size(root) != 2 || !json_is_string(text) ||
        !json_is_object(meta)) {
        problem("%s:%" PRIu64 ": not an object with exactly \"text\" (string) and \"meta\" "
                "(object)",
                name, lineno);
        return;
    }
    json_t *psn = json_object_get(meta, "pile_set_name");
    if (!json_is_string(psn)) {
        problem("%s:%" PRIu64 ": meta has no string \"pile_set_name\"", name, lineno);
        return;
    }
    out->text = json_string_value(text);
    out->text_len = json_string_length(text);
    out->psn = json_string_value(psn);
    out->meta_size = json_object_size(meta);
    out->ok = true;
}

/* ------------------------------------------------------------------------ */
/* First-frame reader                                                         */

/* 1: a zstd data frame starts at p; 2: a skippable frame; 0: neither. */
static int frame_magic(const void *p, size_t n)
{
    if (n < 4)
        return 0;
    const unsigned char *b = p;
    uint32_t m = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (m == ZSTD_MAGICNUMBER)
        return 1;
    return (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START ? 2 : 0;
}

typedef void (*line_fn)(void *ctx, const char *line, size_t len, uint64_t lineno);

/* Reads path as lm_dataformat does: one zstd frame, decoded to its end;
 * whatever follows the frame would be silently ignored by such readers, so
 * anything there is a problem. Calls fn for each line (without '\n').
 * Returns the number of lines, or -1 when the file could not be read as one
 * frame (problems reported). */
static int64_t read_first_frame(const char *path, const char *name, line_fn fn, void *ctx)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        problem("%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    char *inb = xmalloc(in_cap), *outb = xmalloc(out_cap);
    pm_buf_t line;
    pm_buf_init(&line);
    int64_t lines = 0;
    uint64_t consumed = 0; /* compressed bytes before in.pos */
    bool done = false, failed = false, need_flush = false;
    ZSTD_inBuffer in = {inb, 0, 0};

    if (!dctx) {
        fprintf(stderr, "pmcheck: out of memory\n");
        exit(1);
    }
    /* Skippable frames would be skipped by the zstd API, but the output must
     * be exactly one data frame: insist on the magic number up front. */
    in.size = fread(inb, 1, in_cap, f);
    if (frame_magic(inb, in.size) != 1) {
        problem("%s: does not start with a zstd frame (%s)", name,
                in.size < 4                      ? "file too short"
                : frame_magic(inb, in.size) == 2 ? "a skippable frame"
                                                 : "bad magic number");
        failed = true;
        goto out;
    }
    while (!done) {
        if (in.pos == in.size && !need_flush) {
            consumed += in.size;
            in.size = fread(inb, 1, in_cap, f);
            in.pos = 0;
            if (in.size == 0) {
                problem("%s: zstd frame truncated at byte %" PRIu64 "%s", name, consumed,
                        ferror(f) ? " (read error)" : "");
                failed = true;
                goto out;
            }
        }
        ZSTD_outBuffer out = {outb, out_cap, 0};
        size_t ret = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(ret)) {
            problem("%s: corrupt zstd data near byte %" PRIu64 ": %s", name, consumed + in.pos,
                    ZSTD_getErrorName(ret));
            failed = true;
            goto out;
        }
        /* Split into lines; a line may span many output chunks. */
        const char *p = outb, *end = outb + out.pos;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                if (pm_buf_append(&line, p, (size_t)(end - p)) < 0) {
                    fprintf(stderr, "pmcheck: out of memory\n");
                    exit(1);
                }
                break;
            }
            lines++;
            if (line.len) {
                if (pm_buf_append(&line, p, (size_t)(nl - p)) < 0) {
                    fprintf(stderr, "pmcheck: out of memory\n");
                    exit(1);
                }
                fn(ctx, line.data, line.len, (uint64_t)lines);
                pm_buf_reset(&line);
            } else {
                fn(ctx, p, (size_t)(nl - p), (uint64_t)lines);
            }
            p = nl + 1;
        }
        done = ret == 0; /* frame fully decoded and flushed */
        need_flush = out.pos == out.size;
    }
    if (line.len) {
        lines++;
        problem("%s:%" PRId64 ": last line has no terminating newline", name, lines);
        fn(ctx, line.data, line.len, (uint64_t)lines);
    }
    /* Nothing may follow the frame: not a second frame, not padding. */
    uint64_t trailing = in.size - in.pos;
    bool second_frame = frame_magic((const char *)in.src + in.pos, trailing) != 0;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        trailing += n;
    if (trailing) {
        problem("%s: %" PRIu64 " bytes after the first zstd frame%s (lm_dataformat ignores them)",
                name, trailing, second_frame ? ", starting with another frame" : "");
        failed = true;
    }
out:
    pm_buf_free(&line);
    free(inb);
    free(outb);
    ZSTD_freeDCtx(dctx);
    fclose(f);
    return failed ? -1 : lines;
}

/* ------------------------------------------------------------------------ */
/* Expected output (c)                                                        */

/* One expected output line: a train copy or a held-out document. */
typedef struct {
    uint64_t key;
    uint64_t offset;           /* identity: byte offset of the input line */
    uint64_t lineno;           /* input line, for messages */
    uint64_t text_lo, text_hi; /* XXH3-128 of the text */
    uint64_t meta_hash;        /* XXH3-64 of the canonical meta members */
    uint32_t text_len;         /* < 4 GiB: config caps lines below that */
    uint32_t file;             /* plan index */
    uint32_t copy;
    uint32_t split; /* pm_split_t; holdout entries only */
} expect_t;

typedef struct {
    expect_t *v;
    size_t n, cap;
} expect_vec_t;

static void vec_push(expect_vec_t *a, const expect_t *e)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4096;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = *e;
}

typedef struct {
    uint64_t lines, blank, rejected, empty, docs;
    uint64_t train_docs, train_copies, val, test, dup_val, dup_test;
    uint64_t by_reason[PM_REC_STATUS_COUNT];
    uint64_t len_hist[PM_SPLIT_COUNT][64]; /* documents by floor(log2(text bytes)) */
    uint64_t split_bytes[PM_SPLIT_COUNT];
} comp_stats_t;

/* The comparators need the names behind plan indices; a CLI can afford a
 * file-scope pointer (qsort_r is not portable). */
static const pm_plan_t *g_plan;
static const pm_config_t *g_cfg;

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

/* Identity order: component name bytes, identity path bytes, offset. */
static int cmp_identity(const expect_t *a, const expect_t *b)
{
    if (a->file != b->file) {
        const pm_input_file_t *fa = &g_plan->files[a->file], *fb = &g_plan->files[b->file];
        int c =
            strcmp(g_cfg->components[fa->component].name, g_cfg->components[fb->component].name);
        if (c)
            return c;
        c = strcmp(fa->relpath, fb->relpath);
        if (c)
            return c;
    }
    return cmp_u64(a->offset, b->offset);
}

/* Train: by key (the shard is monotone in the key, so this also groups
 * shards), ties by identity and copy index. */
static int cmp_train(const void *pa, const void *pb)
{
    const expect_t *a = pa, *b = pb;
    int c = cmp_u64(a->key, b->key);
    if (c)
        return c;
    c = cmp_identity(a, b);
    return c ? c : cmp_u64(a->copy, b->copy);
}

/* Holdout: by key, then text bytes, then identity. We keep hashes, not
 * texts, so between *different* texts with the same 64-bit key the true
 * byte order is unknown; such a pair is a 2^-64 event and is reported as a
 * note by the caller. Equal texts sort together, smallest identity first,
 * which is all deduplication needs. */
static int cmp_same_text(const expect_t *a, const expect_t *b)
{
    int c = cmp_u64(a->text_len, b->text_len);
    if (c)
        return c;
    c = cmp_u64(a->text_hi, b->text_hi);
    return c ? c : cmp_u64(a->text_lo, b->text_lo);
}

static int cmp_holdout(const void *pa, const void *pb)
{
    const expect_t *a = pa, *b = pb;
    int c = cmp_u64(a->key, b->key);
    if (c)
        return c;
    c = cmp_same_text(a, b);
    return c ? c : cmp_identity(a, b);
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Reads every input exactly as the job must treat it and fills the expected
 * train and holdout entries. Returns false when an input cannot be read (then
 * the job cannot have succeeded either, and nothing can be compared). */
static bool derive_expected(const pm_config_t *cfg, const pm_plan_t *plan, const pm_mix_t *mix,
                            expect_vec_t *train, expect_vec_t *holdout, comp_stats_t *cs)
{
    pm_record_t rec;
    pm_record_init(&rec);
    bool ok = true;
    for (size_t fi = 0; fi < plan->n_files && ok; fi++) {
        const pm_input_file_t *f = &plan->files[fi];
        const pm_component_cfg_t *comp = &cfg->components[f->component];
        comp_stats_t *st = &cs[f->component];
        uint64_t file_hash = pm_file_hash(comp->name, f->relpath);
        pm_error_t err;
        pm_error_clear(&err);
        pm_reader_t *r = NULL;
        int rc =
            pm_reader_open(&r, f->path, f->path, f->format, (size_t)cfg->max_record_bytes, &err);
        pm_line_t line;
        while (rc >= 0 && (rc = pm_reader_next(r, &line, &err)) == 1) {
            const char *data = line.data;
            size_t len = line.len;
            if (line.offset == 0 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
                data += 3; /* a UTF-8 BOM at the start of the file */
                len -= 3;
            }
            if (!line.too_long && blank_line(data, len)) {
                st->blank++;
                continue;
            }
            st->lines++;
            int status = line.too_long ? PM_REC_TOO_LONG : pm_record_parse(&rec, data, len);
            if (status < 0) {
                fprintf(stderr, "pmcheck: out of memory\n");
                exit(1);
            }
            if (status != PM_REC_OK) {
                st->rejected++;
                st->by_reason[status]++;
                continue;
            }
            if (rec.text.len == 0) {
                st->empty++;
                continue;
            }
            st->docs++;
            XXH128_hash_t th = XXH3_128bits(rec.text.data, rec.text.len);
            expect_t e = {
                .offset = line.offset,
                .lineno = line.lineno,
                .text_lo = th.low64,
                .text_hi = th.high64,
                .meta_hash = XXH3_64bits(rec.meta.data ? rec.meta.data : "", rec.meta.len),
                .text_len = (uint32_t)rec.text.len,
                .file = (uint32_t)fi,
            };
            pm_split_t split = pm_mix_split(mix, rec.text.data, rec.text.len);
            st->len_hist[split][63 - __builtin_clzll((unsigned long long)rec.text.len)]++;
            st->split_bytes[split] += rec.text.len;
            if (split == PM_SPLIT_TRAIN) {
                st->train_docs++;
                uint32_t copies = pm_mix_copies(mix, file_hash, line.offset, comp->epochs);
                for (uint32_t c = 0; c < copies; c++) {
                    e.copy = c;
                    e.key = pm_mix_train_key(mix, file_hash, line.offset, c);
                    vec_push(train, &e);
                }
                st->train_copies += copies;
            } else {
                e.split = split;
                e.key = pm_mix_holdout_key(mix, rec.text.data, rec.text.len);
                vec_push(holdout, &e);
            }
        }
        if (rc < 0) {
            char msg[2048];
            pm_error_format(&err, msg, sizeof msg);
            problem("cannot read input %s: %s (the job cannot have succeeded)", f->path, msg);
            ok = false;
        }
        pm_reader_close(r);
    }
    pm_record_free(&rec);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Comparing an output file with its expected lines                          */

typedef struct {
    const char *name;    /* as shown: "train/3.jsonl.zst" */
    const expect_t *exp; /* expected lines, in order */
    size_t n_exp;
    bool keep_meta;
    uint64_t mismatches;
    pm_record_t rec;
    /* text hashes of this file's lines, for the leak check (d) */
    XXH128_hash_t *seen;
    size_t n_seen, cap_seen;
} cmp_ctx_t;

static void describe_expected(const expect_t *e, char *out, size_t n)
{
    const pm_input_file_t *f = &g_plan->files[e->file];
    snprintf(out, n, "%s %s:%" PRIu64 " (offset %" PRIu64 ", copy %" PRIu32 ")",
             g_cfg->components[f->component].name, f->relpath, e->lineno, e->offset, e->copy);
}

static void mismatch(cmp_ctx_t *c, uint64_t lineno, const expect_t *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void mismatch(cmp_ctx_t *c, uint64_t lineno, const expect_t *e, const char *fmt, ...)
{
    c->mismatches++;
    if (c->mismatches > MAX_MISMATCHES_PER_FILE) {
        n_problems++; /* counted, not printed: the first few tell the story */
        return;
    }
    char what[512], who[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    describe_expected(e, who, sizeof who);
    problem("%s:%" PRIu64 ": %s; expected the document %s", c->name, lineno, what, who);
}

static void compare_line(void *vctx, const char *line, size_t len, uint64_t lineno)
{
    cmp_ctx_t *c = vctx;
    out_line_t ol;
    check_line(c->name, lineno, line, len, &ol);
    if (ol.ok) {
        if (c->n_seen == c->cap_seen) {
            c->cap_seen = c->cap_seen ? c->cap_seen * 2 : 1024;
            c->seen = xrealloc(c->seen, c->cap_seen * sizeof *c->seen);
        }
        c->seen[c->n_seen++] = XXH3_128bits(ol.text, ol.text_len);
    }
    if (lineno > c->n_exp) {
        if (lineno == c->n_exp + 1)
            problem("%s:%" PRIu64 ": more lines than the %zu expected", c->name, lineno, c->n_exp);
        else
            n_problems++;
        json_decref(ol.root);
        return;
    }
    const expect_t *e = &c->exp[lineno - 1];
    if (!ol.ok) {
        json_decref(ol.root);
        return; /* already reported */
    }
    const pm_input_file_t *f = &g_plan->files[e->file];
    const char *comp = g_cfg->components[f->component].name;

    XXH128_hash_t th = c->seen[c->n_seen - 1];
    if (ol.text_len != e->text_len || th.low64 != e->text_lo || th.high64 != e->text_hi) {
        mismatch(c, lineno, e, "text differs (%zu bytes, expected %" PRIu32 ")", ol.text_len,
                 e->text_len);
        json_decref(ol.root);
        return;
    }
    if (strcmp(ol.psn, comp) != 0) {
        mismatch(c, lineno, e, "pile_set_name is \"%s\", expected \"%s\"", ol.psn, comp);
        json_decref(ol.root);
        return;
    }
    /* The record parser gives the canonical meta members (without
     * pile_set_name) to compare with the input's, and refuses duplicate
     * top-level keys, which jansson would silently merge. Both parsers see
     * the text, so they are cross-checked here too. */
    int st = pm_record_parse(&c->rec, line, len);
    if (st < 0) {
        fprintf(stderr, "pmcheck: out of memory\n");
        exit(1);
    }
    if (st != PM_REC_OK) {
        problem("%s:%" PRIu64 ": the line is not a valid record (%s)", c->name, lineno,
                pm_record_status_name(st));
    } else if (c->rec.text.len != ol.text_len ||
               memcmp(c->rec.text.data, ol.text, ol.text_len) != 0) {
        problem("%s:%" PRIu64 ": jansson and the pilemix record parser disagree on the text",
                c->name, lineno);
    } else if (!c->keep_meta) {
        if (ol.meta_size != 1)
            mismatch(c, lineno, e, "keep_meta is false but meta has %zu members", ol.meta_size);
    } else if (XXH3_64bits(c->rec.meta.data ? c->rec.meta.data : "", c->rec.meta.len) !=
               e->meta_hash) {
        mismatch(c, lineno, e, "meta differs from the input's (output meta: {%.200s})",
                 c->rec.meta.data ? c->rec.meta.data : "");
    }
    json_decref(ol.root);
}

/* Checks one output file against exp[0..n); collects its text hashes into
 * *seen (caller frees). */
static void check_output_file(const char *outdir, const char *rel, const expect_t *exp, size_t n,
                              bool keep_meta, XXH128_hash_t **seen, size_t *n_seen)
{
    cmp_ctx_t c = {.name = rel, .exp = exp, .n_exp = n, .keep_meta = keep_meta};
    pm_record_init(&c.rec);
    char *path = path_join(outdir, rel);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        /* Reported by the layout check; say how much is missing. */
        if (n)
            problem("%s: missing, %zu lines expected", rel, n);
    } else {
        int64_t lines = read_first_frame(path, rel, compare_line, &c);
        if (lines >= 0 && (uint64_t)lines < n)
            problem("%s: %" PRId64 " lines, expected %zu (missing from line %" PRId64 ")", rel,
                    lines, n, lines + 1);
    }
    if (c.mismatches > MAX_MISMATCHES_PER_FILE)
        problem("%s: %" PRIu64 " mismatching lines in all (first %d shown)", rel, c.mismatches,
                MAX_MISMATCHES_PER_FILE);
    pm_record_free(&c.rec);
    free(path);
    *seen = c.seen;
    *n_seen = c.n_seen;
}

/* ------------------------------------------------------------------------ */
/* Layout (a) and XXH128SUMS                                                 */

static int digits(uint32_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static char *shard_name(uint32_t s, uint32_t shards)
{
    char *name;
    if (asprintf(&name, "train/%0*" PRIu32 ".jsonl.zst", digits(shards - 1), s) < 0) {
        fprintf(stderr, "pmcheck: out of memory\n");
        exit(1);
    }
    return name;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void check_layout(const char *outdir, uint32_t shards, uint64_t rejected)
{
    if (!is_dir(outdir)) {
        problem("%s: output directory missing", outdir);
        return;
    }
    static const char *const top[] = {"train", "val.jsonl.zst", "test.jsonl.zst", "manifest.json",
                                      "XXH128SUMS"};
    bool have_rejects = false;
    DIR *d = opendir(outdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
            known |= !strcmp(e->d_name, top[i]);
        if (!strcmp(e->d_name, "rejects")) {
            char *p = path_join(outdir, "rejects");
            known = have_rejects = is_dir(p);
            free(p);
        }
        if (!known)
            problem("%s: unexpected entry '%s' in the output directory", outdir, e->d_name);
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        char *p = path_join(outdir, top[i]);
        struct stat sb;
        if (stat(p, &sb) != 0)
            problem("%s: missing", top[i]);
        else if (!strcmp(top[i], "train") != !!S_ISDIR(sb.st_mode))
            problem("%s: wrong file type", top[i]);
        free(p);
    }
    /* DESIGN 1.4/1.5: rejects/ exists exactly when records were rejected. */
    if (rejected && !have_rejects)
        problem("rejects/: missing, but %" PRIu64 " input records are bad", rejected);
    if (!rejected && have_rejects)
        problem("rejects/: present, but no input record is bad");

    char *train = path_join(outdir, "train");
    d = opendir(train);
    if (d) {
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            bool known = false;
            for (uint32_t s = 0; s < shards && !known; s++) {
                char *name = shard_name(s, shards);
                known = !strcmp(name + 6, e->d_name);
                free(name);
            }
            if (!known) {
                char *first = shard_name(0, shards), *last = shard_name(shards - 1, shards);
                problem("train/%s: unexpected file (shards are %s..%s)", e->d_name, first, last);
                free(first);
                free(last);
            }
        }
        closedir(d);
    }
    free(train);
}

static bool hash_file(const char *path, XXH128_hash_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        XXH3_128bits_update(st, buf, n);
    bool ok = !ferror(f);
    fclose(f);
    *out = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    return ok;
}

/* The manifest's per-split text bytes and document length histograms (format
 * 2) against the figures counted here from the inputs. */
static void check_manifest_figures(const char *outdir, const pm_config_t *cfg,
                                   const comp_stats_t *cs)
{
    char *mpath = path_join(outdir, "manifest.json");
    json_t *m = json_load_file(mpath, 0, NULL);
    free(mpath);
    json_t *comps = json_object_get(m, "components");
    if (json_array_size(comps) != cfg->n_components) {
        problem("manifest.json: not one component entry per config component");
        json_decref(m);
        return;
    }
    for (size_t c = 0; c < cfg->n_components; c++) {
        json_t *o = json_array_get(comps, c);
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            const char *sn = pm_split_name(sp);
            json_t *b = json_object_get(json_object_get(o, "split_text_bytes"), sn);
            if (!json_is_integer(b) || (uint64_t)json_integer_value(b) != cs[c].split_bytes[sp])
                problem("manifest.json: %s: split_text_bytes.%s is not %" PRIu64,
                        cfg->components[c].name, sn, cs[c].split_bytes[sp]);
            json_t *h = json_object_get(json_object_get(o, "doc_length_log2"), sn);
            size_t n = 64;
            while (n > 0 && cs[c].len_hist[sp][n - 1] == 0)
                n--;
            bool same = json_is_array(h) && json_array_size(h) == n;
            for (size_t k = 0; same && k < n; k++)
                same = (uint64_t)json_integer_value(json_array_get(h, k)) == cs[c].len_hist[sp][k];
            if (!same)
                problem("manifest.json: %s: doc_length_log2.%s differs from the inputs' lengths",
                        cfg->components[c].name, sn);
        }
    }
    json_decref(m);
}

/* XXH128SUMS must be checkable with `xxh128sum -c` from OUTDIR: lines
 * "<32 hex>  <path>" (GNU style, optional '*' binary marker), covering every
 * data file. manifest.json must at least be a JSON object. */
static void check_sums(const char *outdir, char *const *data_files, size_t n_data)
{
    char *mpath = path_join(outdir, "manifest.json");
    json_error_t jerr;
    json_t *m = json_load_file(mpath, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!m)
        problem("manifest.json:%d: not valid JSON: %s", jerr.line, jerr.text);
    else if (!json_is_object(m))
        problem("manifest.json: not a JSON object");
    json_decref(m);
    free(mpath);

    char *spath = path_join(outdir, "XXH128SUMS");
    FILE *f = fopen(spath, "r");
    free(spath);
    if (!f)
        return; /* reported by the layout check */
    bool *listed = calloc(n_data ? n_data : 1, sizeof *listed);
    char *ln = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0;
    while ((got = getline(&ln, &cap, f)) > 0) {
        lineno++;
        if (ln[got - 1] == '\n')
            ln[--got] = '\0';
        unsigned char want[16];
        bool ok = got > 34 && ln[32] == ' ' && (ln[33] == ' ' || ln[33] == '*');
        for (int i = 0; ok && i < 16; i++)
            ok = sscanf(ln + 2 * i, "%2hhx", &want[i]) == 1;
        if (!ok) {
            problem("XXH128SUMS:%" PRIu64 ": not a '<32 hex>  <path>' line", lineno);
            continue;
        }
        const char *name = ln + 34;
        char *p = path_join(outdir, name);
        XXH128_hash_t h;
        if (!hash_file(p, &h)) {
            problem("XXH128SUMS:%" PRIu64 ": cannot read %s", lineno, name);
        } else {
            XXH128_canonical_t can;
            XXH128_canonicalFromHash(&can, h);
            if (memcmp(can.digest, want, 16) != 0)
                problem("XXH128SUMS:%" PRIu64 ": %s: checksum mismatch", lineno, name);
        }
        free(p);
        for (size_t i = 0; i < n_data; i++)
            if (!strcmp(data_files[i], name))
                listed[i] = true;
    }
    free(ln);
    fclose(f);
    for (size_t i = 0; i < n_data; i++)
        if (!listed[i])
            problem("XXH128SUMS: %s is not listed", data_files[i]);
    free(listed);
}

/* ------------------------------------------------------------------------ */
/* Leak check (d)                                                             */

static int cmp_h128(const void *pa, const void *pb)
{
    const XXH128_hash_t *a = pa, *b = pb;
    int c = cmp_u64(a->high64, b->high64);
    return c ? c : cmp_u64(a->low64, b->low64);
}

static bool h128_in(const XXH128_hash_t *v, size_t n, XXH128_hash_t h)
{
    return n && bsearch(&h, v, n, sizeof *v, cmp_h128) != NULL;
}

/* ------------------------------------------------------------------------ */
/* Main check                                                                 */

static int check_run(const char *config_path)
{
    pm_config_t cfg;
    pm_plan_t plan = {0};
    pm_error_t err;
    pm_error_clear(&err);
    int rc = pm_config_load(&cfg, config_path, &err);
    if (rc == 0) {
        rc = pm_plan_build(&plan, &cfg, &err);
        if (rc < 0)
            pm_config_close(&cfg);
    }
    if (rc < 0) {
        char msg[2048];
        pm_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "pmcheck: %s\n", msg);
        return 2;
    }
    g_plan = &plan;
    g_cfg = &cfg;
    const uint32_t S = cfg.train_shards;
    pm_mix_t mix;
    pm_mix_init(&mix, cfg.seed, cfg.val_fraction, cfg.test_fraction);

    comp_stats_t *cs = calloc(cfg.n_components, sizeof *cs);
    expect_vec_t train = {0}, holdout = {0};
    printf("pmcheck: %s -> %s (%zu input files, %" PRIu32 " train shards, seed %" PRIu64 ")\n",
           config_path, cfg.out_dir, plan.n_files, S, cfg.seed);
    bool inputs_ok = derive_expected(&cfg, &plan, &mix, &train, &holdout, cs);

    uint64_t rejected = 0;
    for (size_t i = 0; i < cfg.n_components; i++)
        rejected += cs[i].rejected;
    check_layout(cfg.out_dir, S, rejected);

    if (inputs_ok) {
        qsort(train.v, train.n, sizeof *train.v, cmp_train);
        qsort(holdout.v, holdout.n, sizeof *holdout.v, cmp_holdout);

        /* Holdout deduplication: equal texts are adjacent, smallest identity
         * first; keep that one. Split val and test into their own lists. */
        expect_vec_t hsplit[PM_SPLIT_COUNT] = {{0}};
        uint64_t collisions = 0;
        for (size_t i = 0; i < holdout.n; i++) {
            const expect_t *e = &holdout.v[i];
            if (i > 0 && holdout.v[i - 1].key == e->key) {
                if (cmp_same_text(&holdout.v[i - 1], e) == 0) {
                    comp_stats_t *st = &cs[plan.files[e->file].component];
                    if (e->split == PM_SPLIT_VAL)
                        st->dup_val++;
                    else
                        st->dup_test++;
                    continue;
                }
                collisions++;
            }
            cs[plan.files[e->file].component].val += e->split == PM_SPLIT_VAL;
            cs[plan.files[e->file].component].test += e->split == PM_SPLIT_TEST;
            vec_push(&hsplit[e->split], e);
        }
        if (collisions)
            printf("pmcheck: note: %" PRIu64 " holdout key collisions between different texts; "
                   "their relative order is not verified exactly\n",
                   collisions);

        /* Val and test first: their texts are what train must not contain. */
        XXH128_hash_t *seen[PM_SPLIT_COUNT] = {0};
        size_t n_seen[PM_SPLIT_COUNT] = {0};
        static const char *const hnames[PM_SPLIT_COUNT] = {NULL, "val.jsonl.zst", "test.jsonl.zst"};
        for (int sp = PM_SPLIT_VAL; sp <= PM_SPLIT_TEST; sp++) {
            check_output_file(cfg.out_dir, hnames[sp], hsplit[sp].v, hsplit[sp].n, cfg.keep_meta,
                              &seen[sp], &n_seen[sp]);
            if (n_seen[sp]) /* seen[sp] is NULL when the split is empty */
                qsort(seen[sp], n_seen[sp], sizeof *seen[sp], cmp_h128);
        }
        for (size_t i = 0; i < n_seen[PM_SPLIT_TEST]; i++)
            if (h128_in(seen[PM_SPLIT_VAL], n_seen[PM_SPLIT_VAL], seen[PM_SPLIT_TEST][i])) {
                problem("a text is in both val and test");
                break;
            }
        for (int sp = PM_SPLIT_VAL; sp <= PM_SPLIT_TEST; sp++)
            for (size_t i = 1; i < n_seen[sp]; i++)
                if (cmp_h128(&seen[sp][i - 1], &seen[sp][i]) == 0) {
                    problem("%s: a text appears more than once", hnames[sp]);
                    break;
                }

        char **data_files = xmalloc((S + 2) * sizeof *data_files);
        size_t n_data = 0;
        data_files[n_data++] = strdup("val.jsonl.zst");
        data_files[n_data++] = strdup("test.jsonl.zst");
        size_t lo = 0;
        uint64_t leaks = 0;
        for (uint32_t s = 0; s < S; s++) {
            size_t hi = lo;
            while (hi < train.n && pm_mix_shard(train.v[hi].key, S) == s)
                hi++;
            char *name = shard_name(s, S);
            XXH128_hash_t *ts = NULL;
            size_t nts = 0;
            check_output_file(cfg.out_dir, name, train.v + lo, hi - lo, cfg.keep_meta, &ts, &nts);
            for (size_t i = 0; i < nts; i++)
                for (int sp = PM_SPLIT_VAL; sp <= PM_SPLIT_TEST; sp++)
                    if (h128_in(seen[sp], n_seen[sp], ts[i]) && leaks++ < 3)
                        problem("%s: a text of %s is also in train (line %zu)", name, hnames[sp],
                                i + 1);
            free(ts);
            data_files[n_data++] = name;
            lo = hi;
        }
        if (leaks > 3)
            problem("%" PRIu64 " train lines in all have a held-out text", leaks);
        check_sums(cfg.out_dir, data_files, n_data);
        for (size_t i = 0; i < n_data; i++)
            free(data_files[i]);
        free(data_files);
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            free(seen[sp]);
            free(hsplit[sp].v);
        }
    }

    /* Summary (e), and the realized epochs against their distribution: with
     * n train documents and epochs e, copies = n*floor(e) + Binomial(n, frac(e)). */
    printf("%-20s %8s %7s %6s %8s %8s %9s %7s %7s %6s %7s %9s\n", "component", "lines", "rejected",
           "empty", "docs", "train", "copies", "val", "test", "dups", "epochs", "realized");
    for (size_t i = 0; i < cfg.n_components; i++) {
        const comp_stats_t *st = &cs[i];
        double e = cfg.components[i].epochs;
        double realized = st->train_docs ? (double)st->train_copies / (double)st->train_docs : 0;
        printf("%-20.20s %8" PRIu64 " %7" PRIu64 " %6" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9" PRIu64
               " %7" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7.3f %9.4f\n",
               cfg.components[i].name, st->lines, st->rejected, st->empty, st->docs, st->train_docs,
               st->train_copies, st->val, st->test, st->dup_val + st->dup_test, e, realized);
        for (int r = 1; r < PM_REC_STATUS_COUNT; r++)
            if (st->by_reason[r])
                printf("    rejected %-16s %" PRIu64 "\n", pm_record_status_name(r),
                       st->by_reason[r]);
        double whole = floor(e), frac = e - whole, n = (double)st->train_docs;
        double extra = (double)st->train_copies - n * whole;
        double mean = n * frac, sd = sqrt(n * frac * (1 - frac));
        if (extra < 0 || extra > n || fabs(extra - mean) > 6 * sd + 1e-9)
            problem("%s: %" PRIu64 " train copies of %" PRIu64 " documents at epochs %g: %.0f "
                    "extra copies, expected %.1f +- %.1f",
                    cfg.components[i].name, st->train_copies, st->train_docs, e, extra, mean, sd);
    }
    check_manifest_figures(cfg.out_dir, &cfg, cs);
    uint64_t tot_copies = 0;
    for (size_t i = 0; i < cfg.n_components; i++)
        tot_copies += cs[i].train_copies;
    printf("expected lines: train %" PRIu64 ", val+test %zu before dedupe\n", tot_copies,
           holdout.n);

    free(train.v);
    free(holdout.v);
    free(cs);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    return 0;
}

/* --first-frame: (b) alone, for one file. */
static void first_frame_line(void *ctx, const char *line, size_t len, uint64_t lineno)
{
    out_line_t ol;
    check_line(ctx, lineno, line, len, &ol);
    json_decref(ol.root);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--first-frame")) {
        int64_t lines = read_first_frame(argv[2], argv[2], first_frame_line, argv[2]);
        if (lines >= 0)
            printf("%" PRId64 "\n", lines);
    } else if (argc == 2 && argv[1][0] != '-') {
        int rc = check_run(argv[1]);
        if (rc)
            return rc;
    } else {
        fprintf(stderr, "usage: pmcheck CONFIG\n"
                        "       pmcheck --first-frame FILE.jsonl.zst\n");
        return 2;
    }
    if (n_problems) {
        if (n_problems > MAX_PRINTED)
            fprintf(stderr, "pmcheck: ... %" PRIu64 " more\n", n_problems - MAX_PRINTED);
        fprintf(stderr, "pmcheck: FAILED: %" PRIu64 " problem%s\n", n_problems,
                n_problems == 1 ? "" : "s");
        return 1;
    }
    printf("pmcheck: OK\n");
    return 0;
}
