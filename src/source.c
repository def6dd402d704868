/* Documents of one input file (source.h): the format back-ends behind one
 * interface. One "unit" is read at a time: the file itself, or the current
 * archive member; its back-end is the line reader (reader.h), the array
 * scanner (jsonarray.h) or a whole-text read (here). */
#include "pilemix/source.h"

#include "pilemix/archive.h"
#include "pilemix/buf.h"
#include "pilemix/jsonarray.h"
#include "pilemix/record.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#define TEXT_CHUNK (1u << 20)
#define TEXT_PREFIX_MAX 4096u

struct pm_source {
    pm_format_t format;
    pm_source_opts_t opts;
    char *name;
    pm_stream_t *disk;   /* the file: owned by the chain above it; NULL once closed */
    uint64_t disk_final; /* its byte count when it was closed */
    pm_stream_t *top;    /* non-archives: the decoded stream (until a unit takes it) */
    pm_archive_t *ar;
    bool unit_open, file_done;

    /* The current unit. */
    pm_content_t content;
    pm_reader_t *reader;
    pm_jsonarray_t *ja;
    pm_stream_t *text_src;
    uint64_t text_hint; /* expected text bytes (a plain .txt's size), or 0 */
    pm_buf_t text;
    bool text_done;

    /* Members met, and a hash set of their names (indices + 1; 0 = empty). */
    char **members;
    uint32_t n_members, members_cap;
    uint32_t *slots;
    size_t n_slots;
    uint32_t cur_member;
    pm_buf_t where, ident;

    int error;
    pm_error_t saved;
};

static int src_fail(pm_source_t *s, pm_error_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int src_fail(pm_source_t *s, pm_error_t *err, int code, const char *fmt, ...)
{
    char msg[PM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->error = code;
    pm_error_set(&s->saved, code, s->where.len ? s->where.data : s->name, 0, "%s", msg);
    if (err)
        *err = s->saved;
    return code;
}

/* Keep an error some layer below filled: name where it happened. */
static int keep_error(pm_source_t *s, pm_error_t *err, int code)
{
    s->error = code;
    if (err) {
        if (!err->file[0])
            snprintf(err->file, sizeof err->file, "%s", s->where.len ? s->where.data : s->name);
        s->saved = *err;
    }
    return code;
}

int pm_source_open(pm_source_t **out, const char *path, const char *name, pm_format_t format,
                   const pm_source_opts_t *opts, pm_error_t *err)
{
    *out = NULL;
    pm_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return pm_error_nomem(err);
    s->format = format;
    if (opts)
        s->opts = *opts;
    pm_buf_init(&s->text);
    pm_buf_init(&s->where);
    pm_buf_init(&s->ident);
    pm_error_clear(&s->saved);
    s->name = strdup(name ? name : path);
    int rc = s->name ? 0 : pm_error_nomem(err);
    if (rc == 0)
        rc = pm_stream_open_file(&s->disk, path, err);
    if (rc == 0 && pm_format_content(format) == PM_CONTENT_TEXT &&
        pm_format_codec(format) == PM_CODEC_NONE) {
        struct stat st;
        if (stat(path, &st) == 0)
            s->text_hint = (uint64_t)st.st_size;
    }
    pm_stream_t *chain = NULL;
    /* The chain takes the file stream, and the archive the chain: on a
     * failure they are closed already. */
    if (rc == 0)
        rc = pm_stream_open_codec(&chain, s->disk, pm_format_codec(format), err);
    if (rc == 0 && pm_format_content(format) == PM_CONTENT_ARCHIVE)
        rc = pm_archive_open(&s->ar, chain, format == PM_FORMAT_ZIP, err);
    else if (rc == 0)
        s->top = chain;
    if (rc < 0) {
        if (err && !err->file[0])
            snprintf(err->file, sizeof err->file, "%s", s->name);
        s->disk = NULL;
        pm_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Open the unit for stream st (taken) of the given format. */
static int open_unit(pm_source_t *s, pm_stream_t *st, pm_format_t fmt, pm_error_t *err)
{
    s->content = pm_format_content(fmt);
    s->unit_open = true;
    const char *where = s->where.len ? s->where.data : s->name;
    switch (s->content) {
    case PM_CONTENT_LINES:
        return pm_reader_open_stream(&s->reader, st, true, where, s->opts.max_record, err);
    case PM_CONTENT_ARRAY:
        return pm_jsonarray_open(&s->ja, st, true, where, s->opts.max_record, err);
    default: s->text_src = st; return 0;
    }
}

static void close_unit(pm_source_t *s)
{
    if (!s->ar && s->unit_open && s->disk) {
        /* The unit's chain holds the file: keep its count. */
        s->disk_final = s->disk->bytes;
        s->disk = NULL;
    }
    pm_reader_close(s->reader);
    pm_jsonarray_close(s->ja);
    pm_stream_close(s->text_src);
    s->reader = NULL;
    s->ja = NULL;
    s->text_src = NULL;
    s->text_done = false;
    s->unit_open = false;
}

/* The whole unit as one document: at most max_record bytes are kept, then
 * only a prefix for the rejects, and the rest is counted. */
static int read_text(pm_source_t *s, pm_doc_t *doc, pm_error_t *err)
{
    size_t max = s->opts.max_record ? s->opts.max_record : SIZE_MAX;
    size_t prefix = max < TEXT_PREFIX_MAX ? max : TEXT_PREFIX_MAX;
    uint64_t full = 0;
    pm_buf_reset(&s->text);
    if (s->text_hint && s->text_hint <= max && pm_buf_reserve(&s->text, (size_t)s->text_hint) < 0)
        return src_fail(s, err, PM_ENOMEM, "out of memory reading a text of %llu bytes",
                        (unsigned long long)s->text_hint);
    s->text_hint = 0;
    for (;;) {
        if (full < max && pm_buf_reserve(&s->text, TEXT_CHUNK) < 0)
            return src_fail(s, err, PM_ENOMEM, "out of memory reading a text");
        char small[64 << 10];
        char *dst = full < max ? s->text.data + s->text.len : small;
        size_t room = full < max ? TEXT_CHUNK : sizeof small;
        ssize_t k = pm_stream_read(s->text_src, dst, room, err);
        if (k < 0)
            return keep_error(s, err, (int)k);
        if (k == 0)
            break;
        if (full < max) {
            s->text.len += (size_t)k;
            if (full + (uint64_t)k > max && s->text.len > prefix)
                s->text.len = prefix; /* too long: keep the reject prefix only */
        }
        full += (uint64_t)k;
    }
    if (s->text.data)
        s->text.data[s->text.len] = '\0';
    doc->kind = PM_DOC_TEXT;
    doc->line = (pm_line_t){.data = s->text.data ? s->text.data : "",
                            .len = s->text.len,
                            .full_len = full,
                            .offset = 0,
                            .lineno = 1,
                            .too_long = full > max};
    doc->column = 1;
    return 1;
}

static bool is_excluded(const pm_source_t *s, const char *ident)
{
    for (size_t i = 0; i < s->opts.n_exclude; i++)
        if (fnmatch(s->opts.exclude[i], ident, FNM_PATHNAME) == 0)
            return true;
    return false;
}

/* Remember a member's name; 0, or PM_EDATA when it was met before. */
static int add_member(pm_source_t *s, const char *path, pm_error_t *err)
{
    if ((size_t)s->n_members * 2 + 2 > s->n_slots) {
        size_t n = s->n_slots ? s->n_slots * 2 : 64;
        uint32_t *slots = calloc(n, sizeof *slots);
        if (!slots)
            return src_fail(s, err, PM_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < s->n_members; i++) {
            size_t h = (size_t)XXH3_64bits(s->members[i], strlen(s->members[i])) & (n - 1);
            while (slots[h])
                h = (h + 1) & (n - 1);
            slots[h] = i + 1;
        }
        free(s->slots);
        s->slots = slots;
        s->n_slots = n;
    }
    size_t h = (size_t)XXH3_64bits(path, strlen(path)) & (s->n_slots - 1);
    while (s->slots[h]) {
        if (!strcmp(s->members[s->slots[h] - 1], path))
            return src_fail(s, err, PM_EDATA,
                            "member \"%s\" appears twice in the archive (its documents would "
                            "share one identity); keep one copy",
                            path);
        h = (h + 1) & (s->n_slots - 1);
    }
    if (s->n_members == s->members_cap) {
        uint32_t cap = s->members_cap ? s->members_cap * 2 : 16;
        char **m = realloc(s->members, cap * sizeof *m);
        if (!m)
            return src_fail(s, err, PM_ENOMEM, "out of memory");
        s->members = m;
        s->members_cap = cap;
    }
    if (!(s->members[s->n_members] = strdup(path)))
        return src_fail(s, err, PM_ENOMEM, "out of memory");
    s->n_members++;
    s->slots[h] = s->n_members;
    return 0;
}

bool pm_source_member_supported(const char *name)
{
    int f = pm_format_from_name(name);
    return f >= 0 && pm_format_content((pm_format_t)f) != PM_CONTENT_ARCHIVE;
}

/* Move to the next member with documents to read: 1, 0 at the end, < 0. */
static int next_member(pm_source_t *s, pm_error_t *err)
{
    for (;;) {
        const char *path;
        pm_stream_t *data;
        pm_buf_reset(&s->where);
        int rc = pm_archive_next(s->ar, &path, &data, err);
        if (rc < 0)
            return keep_error(s, err, rc);
        if (rc == 0) {
            if ((rc = pm_archive_drain(s->ar, err)) < 0)
                return keep_error(s, err, rc);
            return 0;
        }
        pm_buf_reset(&s->ident);
        if (pm_buf_printf(&s->where, "%s:%s", s->name, path) < 0 ||
            pm_buf_printf(&s->ident, "%s/%s", s->opts.relpath ? s->opts.relpath : "", path) < 0)
            return src_fail(s, err, PM_ENOMEM, "out of memory");
        if (pm_utf8_valid_prefix(path, strlen(path)) != strlen(path)) {
            pm_buf_t shown;
            pm_buf_init(&shown);
            pm_escape_bytes(&shown, path, strlen(path));
            pm_buf_reset(&s->where);
            pm_buf_printf(&s->where, "%s", s->name);
            rc = src_fail(s, err, PM_EDATA,
                          "member \"%s\" has a name that is not valid UTF-8 (identity paths are "
                          "UTF-8 text)",
                          shown.data ? shown.data : "");
            pm_buf_free(&shown);
            return rc;
        }
        if (is_excluded(s, s->ident.data))
            continue; /* the user's exclude globs see members too */
        int fmt = pm_format_from_name(path);
        if (fmt < 0 || pm_format_content((pm_format_t)fmt) == PM_CONTENT_ARCHIVE)
            return src_fail(s, err, PM_EDATA,
                            fmt < 0 ? "member is not a supported input (%s); exclude it with "
                                      "the component's \"exclude\" globs if it is not data"
                                    : "member is an archive inside an archive (%s), which is "
                                      "not read; unpack it",
                            fmt < 0 ? pm_format_list() : pm_format_name((pm_format_t)fmt));
        if ((rc = add_member(s, path, err)) < 0)
            return rc;
        s->cur_member = s->n_members;
        pm_stream_t *b, *chain;
        if ((rc = pm_stream_borrow(&b, data, err)) < 0 ||
            (rc = pm_stream_open_codec(&chain, b, pm_format_codec((pm_format_t)fmt), err)) < 0 ||
            (rc = open_unit(s, chain, (pm_format_t)fmt, err)) < 0)
            return keep_error(s, err, rc);
        return 1;
    }
}

int pm_source_next(pm_source_t *s, pm_doc_t *doc, pm_error_t *err)
{
    if (s->error) {
        if (err)
            *err = s->saved;
        return s->error;
    }
    for (;;) {
        if (!s->unit_open) {
            if (s->file_done)
                return 0;
            int rc;
            if (s->ar) {
                rc = next_member(s, err);
                if (rc <= 0) {
                    s->file_done = rc == 0;
                    return rc;
                }
            } else {
                pm_stream_t *t = s->top;
                s->top = NULL;
                s->file_done = true; /* one unit: the file */
                if ((rc = open_unit(s, t, s->format, err)) < 0)
                    return keep_error(s, err, rc);
            }
        }
        int rc;
        doc->member = s->ar ? s->cur_member : 0;
        doc->member_path = s->ar ? s->members[s->cur_member - 1] : NULL;
        doc->where = s->where.len ? s->where.data : s->name;
        if (s->content == PM_CONTENT_LINES) {
            rc = pm_reader_next(s->reader, &doc->line, err);
            doc->kind = PM_DOC_JSON;
            doc->column = 1;
        } else if (s->content == PM_CONTENT_ARRAY) {
            rc = pm_jsonarray_next(s->ja, &doc->line, &doc->column, err);
            doc->kind = PM_DOC_JSON;
        } else if (!s->text_done) {
            rc = read_text(s, doc, err);
            if (rc > 0) {
                s->text_done = true; /* one document; the stream closes with the unit */
                return rc;
            }
        } else {
            rc = 0;
        }
        if (rc < 0)
            return keep_error(s, err, rc);
        if (rc > 0)
            return rc;
        close_unit(s);
    }
}

uint64_t pm_source_bytes_in(const pm_source_t *s)
{
    return !s ? 0 : s->disk ? s->disk->bytes : s->disk_final;
}

uint32_t pm_source_members(const pm_source_t *s) { return s->n_members; }

const char *pm_source_member(const pm_source_t *s, uint32_t i)
{
    return i >= 1 && i <= s->n_members ? s->members[i - 1] : NULL;
}

void pm_source_close(pm_source_t *s)
{
    if (!s)
        return;
    close_unit(s);
    pm_archive_close(s->ar);
    pm_stream_close(s->top);
    for (uint32_t i = 0; i < s->n_members; i++)
        free(s->members[i]);
    free(s->members);
    free(s->slots);
    free(s->name);
    pm_buf_free(&s->text);
    pm_buf_free(&s->where);
    pm_buf_free(&s->ident);
    free(s);
}

/* ---- the plan's look at a file ---- */

static const char *codec_ext(pm_codec_t c)
{
    switch (c) {
    case PM_CODEC_ZSTD: return ".zst";
    case PM_CODEC_GZIP: return ".gz";
    case PM_CODEC_XZ: return ".xz";
    case PM_CODEC_BZIP2: return ".bz2";
    default: return "";
    }
}

static bool looks_like_text(const unsigned char *p, size_t n)
{
    if (n == 0)
        return false;
    size_t ok = pm_utf8_valid_prefix((const char *)p, n);
    if (ok + 4 < n) /* a sequence cut by the read is fine */
        return false;
    for (size_t i = 0; i < ok; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
            return false;
    return true;
}

int pm_source_probe(const char *path, pm_format_t format, pm_error_t *err)
{
    unsigned char head[512];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pm_error_set(err, PM_EIO, NULL, 0, "cannot open: %s", strerror(errno));
    n = fread(head, 1, sizeof head, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr)
        return pm_error_set(err, PM_EIO, NULL, 0, "read error");
    pm_codec_t codec = pm_format_codec(format);
    pm_content_t content = pm_format_content(format);
    pm_codec_t sniff = pm_codec_sniff(head, n);
    const char *fname = pm_format_name(format);
    if (codec == PM_CODEC_NONE && content != PM_CONTENT_ARCHIVE) {
        if (n == 0)
            return 0; /* zero documents, counted */
        if (sniff != PM_CODEC_NONE)
            return pm_error_set(err, PM_ECONFIG, NULL, 0,
                                "holds %s-compressed data but is named .%s: rename it .%s%s",
                                pm_codec_name(sniff), fname, fname, codec_ext(sniff));
        if (n >= 2 &&
            ((head[0] == 0xff && head[1] == 0xfe) || (head[0] == 0xfe && head[1] == 0xff)))
            return pm_error_set(err, PM_ECONFIG, NULL, 0,
                                "is UTF-16 text (byte-order mark 0x%02X 0x%02X); pilemix reads "
                                "UTF-8: convert it (iconv -f UTF-16 -t UTF-8)",
                                head[0], head[1]);
        if (content == PM_CONTENT_LINES) {
            size_t i = n >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3) ? 3 : 0;
            while (i < n &&
                   (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
                i++;
            /* One big array: its first line does not end within the first
             * bytes, or is a lone "[" (pretty-printed). A short first line
             * "[1, 2]" is only a bad record. */
            const unsigned char *nl = i < n ? memchr(head + i, '\n', n - i) : NULL;
            size_t lone = i + 1;
            while (nl && lone < (size_t)(nl - head) && (head[lone] == ' ' || head[lone] == '\r'))
                lone++;
            if (i < n && head[i] == '[' && (!nl || lone == (size_t)(nl - head)))
                return pm_error_set(err, PM_ECONFIG, NULL, 0,
                                    "starts with '[': one JSON array is not JSON lines; write one "
                                    "document per line, or, for an array of strings as "
                                    "lm_dataformat writes, compress it as .json.zst");
        }
        return 0;
    }
    const char *what = content == PM_CONTENT_ARCHIVE
                           ? (format == PM_FORMAT_ZIP ? "zip archive" : "tar archive")
                           : NULL;
    if (n == 0)
        return pm_error_set(err, PM_EDATA, NULL, 0, "empty file (0 bytes) is not a %s%s",
                            what ? what : pm_codec_name(codec), what ? "" : " stream");
    if (codec != PM_CODEC_NONE && sniff != codec) {
        if (sniff != PM_CODEC_NONE)
            return pm_error_set(err, PM_ECONFIG, NULL, 0,
                                "is named .%s but holds %s data, not %s: rename it", fname,
                                pm_codec_name(sniff), pm_codec_name(codec));
        if (looks_like_text(head, n)) /* a bad file, with the likely reason */
            return pm_error_set(err, PM_EDATA, NULL, 0,
                                "is named .%s but is not %s-compressed (it looks like plain "
                                "text): rename it without \"%s\"",
                                fname, pm_codec_name(codec), codec_ext(codec));
        return pm_error_set(err, PM_EDATA, NULL, 0, "not a %s stream (no %s magic bytes)",
                            pm_codec_name(codec), pm_codec_name(codec));
    }
    if (codec == PM_CODEC_NONE && sniff != PM_CODEC_NONE)
        return pm_error_set(err, PM_ECONFIG, NULL, 0,
                            "holds %s-compressed data but is named .%s: rename it .%s%s",
                            pm_codec_name(sniff), fname, fname, codec_ext(sniff));
    if (format == PM_FORMAT_ZIP) {
        if (n < 4 || head[0] != 'P' || head[1] != 'K')
            return pm_error_set(err, PM_EDATA, NULL, 0, "not a zip archive (no PK signature)");
        return 0;
    }
    /* The first decoded block: a compressed stream or a tar header. */
    unsigned char block[64 << 10];
    size_t got = 0;
    if (codec == PM_CODEC_NONE) {
        memcpy(block, head, n);
        got = n;
    } else {
        pm_stream_t *s;
        PM_TRY(pm_format_open_stream(&s, NULL, path, codec, err));
        while (got < sizeof block) {
            ssize_t k = pm_stream_read(s, block + got, sizeof block - got, err);
            if (k < 0) {
                pm_stream_close(s);
                return (int)k;
            }
            if (k == 0)
                break;
            got += (size_t)k;
        }
        pm_stream_close(s);
    }
    bool zero = got >= 512;
    for (size_t i = 0; zero && i < 512; i++)
        zero = block[i] == 0;
    /* An all-zero first block is an empty archive: nothing to read. */
    if (content == PM_CONTENT_ARCHIVE && !zero &&
        (got < 262 || memcmp(block + 257, "ustar", 5) != 0))
        return pm_error_set(err, PM_EDATA, NULL, 0, "not a tar archive (no ustar header)");
    return 0;
}
