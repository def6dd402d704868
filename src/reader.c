/* Streaming line reader for .jsonl and .jsonl.zst.
 *
 * Data flows file -> (zstd) -> chunk buffer -> lines. A line that lies inside
 * the current chunk is returned in place (no copy); only a line that spans
 * chunks is assembled in `carry`, and only up to max_line bytes: past that the
 * line is known to be too long, carry is cut to the reject prefix and the rest
 * is counted, not stored. Memory is therefore bounded by the chunk buffers
 * plus max_line (plus zstd's window, at most 128 MiB by zstd's default
 * windowLogMax, which we deliberately keep).
 *
 * Errors are sticky: after one, pm_reader_next keeps returning it, so a caller
 * cannot mistake a broken file for a shorter one.
 *
 * max_line == 0 means "no limit". */
#include "pilemix/reader.h"

#include "pilemix/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#define PM_READ_CHUNK (1u << 20)  /* plain reads, and zstd output per call */
#define PM_REJECT_PREFIX_MAX 4096 /* bytes of a too-long line kept for rejects */

struct pm_reader {
    int fd;
    char *name;
    pm_format_t format;
    size_t max_line;
    size_t prefix_cap; /* min(max_line, PM_REJECT_PREFIX_MAX) */

    /* Uncompressed chunk: buf[pos..len) not yet returned; buf[0] is at
     * uncompressed offset buf_off. */
    uint8_t *buf;
    size_t pos, len;
    uint64_t buf_off;

    /* zstd input: in[in_pos..in_len) not yet consumed; in[0] is at file
     * offset in_off. */
    ZSTD_DCtx *dctx;
    uint8_t *in;
    size_t in_cap, in_pos, in_len;
    uint64_t in_off;
    size_t last_hint;  /* last ZSTD_decompressStream result: 0 = at a frame boundary */
    bool out_was_full; /* zstd may hold more output even without new input */
    bool in_eof;

    uint64_t bytes_in;
    uint64_t lineno; /* lines returned so far */
    bool eof;        /* no more uncompressed data */
    int error;       /* sticky error code */
    int deferred;    /* error found while decoding data not yet returned */
    pm_error_t saved_err;

    /* A line spanning chunks. */
    pm_buf_t carry;
    bool in_line;       /* carry holds the start of a line */
    uint64_t line_off;  /* its offset */
    uint64_t line_full; /* its length so far (all bytes, stored or not) */
};

static int reader_fail(pm_reader_t *r, pm_error_t *err, int code, int64_t offset, const char *fmt,
                       ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int reader_fail(pm_reader_t *r, pm_error_t *err, int code, int64_t offset, const char *fmt,
                       ...)
{
    char msg[PM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->error = code;
    pm_error_set(&r->saved_err, code, r->name, 0, "%s", msg);
    /* pm_error_set resets the offset: set it after. */
    r->saved_err.offset = offset;
    if (err)
        *err = r->saved_err;
    return code;
}

/* read(2) until n bytes or EOF; returns bytes read or -errno. On an error returns -errno and leaves in *partial
 * how many bytes came before it (for the error's offset); the error is never
 * deferred, since a transient one would not come back and the rest of the
 * file would silently read as end of file. */
static ssize_t read_full(int fd, uint8_t *p, size_t n, size_t *partial)
{
    size_t got = 0;
    *partial = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *partial = got;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static int refill_plain(pm_reader_t *r, pm_error_t *err)
{
    size_t partial;
    ssize_t k = read_full(r->fd, r->buf, PM_READ_CHUNK, &partial);
    if (k < 0)
        return reader_fail(r, err, PM_EIO, (int64_t)(r->bytes_in + partial), "read error: %s",
                           strerror((int)-k));
    r->buf_off += r->len;
    r->pos = 0;
    r->len = (size_t)k;
    r->bytes_in += (uint64_t)k;
    if (k == 0)
        r->eof = true;
    return 0;
}

/* Decompresses the next piece of the stream into buf.
 *
 * We feed zstd exactly its input hint (the rest of the current block plus
 * the next block header; 5 bytes at a frame start), and keep a whole block
 * contiguous in `in` (compacting and reading more when needed), so zstd
 * decodes each block straight from our buffer. zstd does not advance in.pos
 * on error, so the offset we report for a corrupt block is where that block
 * starts in the file, not just somewhere in a 1 MiB read. */
static int refill_zstd(pm_reader_t *r, pm_error_t *err)
{
    if (r->deferred) {
        r->error = r->deferred;
        if (err)
            *err = r->saved_err;
        return r->error;
    }
    ZSTD_outBuffer out = {r->buf, PM_READ_CHUNK, 0};
    for (;;) {
        size_t want = r->last_hint ? r->last_hint : 5; /* ZSTD_FRAMEHEADERSIZE_PREFIX */
        size_t avail = r->in_len - r->in_pos;
        if (avail < want && !r->in_eof) {
            if (out.pos)
                break; /* hand over what we have before blocking on a read */
            memmove(r->in, r->in + r->in_pos, avail);
            r->in_off += r->in_pos;
            r->in_pos = 0;
            r->in_len = avail;
            size_t partial;
            ssize_t k = read_full(r->fd, r->in + avail, r->in_cap - avail, &partial);
            if (k < 0)
                return reader_fail(r, err, PM_EIO, (int64_t)(r->bytes_in + partial),
                                   "read error: %s", strerror((int)-k));
            r->in_len += (size_t)k;
            r->bytes_in += (uint64_t)k;
            if (k == 0 || r->in_len < r->in_cap)
                r->in_eof = true; /* read_full stops short only at EOF */
            avail = r->in_len;
        }
        if (avail == 0 && r->in_eof && !r->out_was_full) {
            if (out.pos)
                break;
            if (r->bytes_in == 0)
                return reader_fail(r, err, PM_EDATA, 0, "%s", "empty file is not a zstd stream");
            if (r->last_hint != 0)
                return reader_fail(r, err, PM_EDATA, (int64_t)r->bytes_in, "%s",
                                   "truncated zstd stream (file ends inside a frame)");
            r->buf_off += r->len;
            r->pos = r->len = 0;
            r->eof = true;
            return 0;
        }
        size_t feed = avail < want ? avail : want;
        ZSTD_inBuffer in = {r->in + r->in_pos, feed, 0};
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
        if (ZSTD_isError(ret)) {
            int64_t at = (int64_t)(r->in_off + r->in_pos);
            /* Lines decoded before the bad block are still returned first. */
            pm_error_t *e = out.pos ? NULL : err;
            int rc;
            if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
                rc = reader_fail(r, e, PM_EDATA, at, "%s",
                                 "zstd frame needs a window > 128 MiB; recompress without --long");
            else
                rc = reader_fail(r, e, PM_EDATA, at, "corrupt zstd stream: %s",
                                 ZSTD_getErrorName(ret));
            if (!out.pos)
                return rc;
            r->error = 0;
            r->deferred = rc;
            break;
        }
        r->in_pos += in.pos;
        r->last_hint = ret;
        r->out_was_full = out.pos == out.size;
        if (r->out_was_full)
            break;
    }
    r->buf_off += r->len;
    r->pos = 0;
    r->len = out.pos;
    return 0;
}

int pm_reader_open(pm_reader_t **out, const char *path, const char *display_name,
                   pm_format_t format, size_t max_line, pm_error_t *err)
{
    *out = NULL;
    const char *name = display_name ? display_name : path;
    pm_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return pm_error_set(err, PM_ENOMEM, name, 0, "out of memory opening the file");
    r->fd = -1;
    r->format = format;
    r->max_line = max_line ? max_line : SIZE_MAX;
    r->prefix_cap = r->max_line < PM_REJECT_PREFIX_MAX ? r->max_line : PM_REJECT_PREFIX_MAX;
    pm_buf_init(&r->carry);
    pm_error_clear(&r->saved_err);
    r->name = strdup(name);
    r->buf = malloc(PM_READ_CHUNK);
    if (!r->name || !r->buf)
        goto nomem;
    if (format == PM_FORMAT_JSONL_ZST) {
        r->in_cap = ZSTD_DStreamInSize() > PM_READ_CHUNK ? ZSTD_DStreamInSize() : PM_READ_CHUNK;
        r->in = malloc(r->in_cap);
        r->dctx = ZSTD_createDCtx();
        if (!r->in || !r->dctx)
            goto nomem;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        pm_error_set(err, PM_EIO, name, 0, "cannot open %s: %s", path, strerror(e));
        pm_reader_close(r);
        return PM_EIO;
    }
    /* Advisory only: a failure changes nothing. */
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = r;
    return 0;
nomem:
    pm_reader_close(r);
    return pm_error_set(err, PM_ENOMEM, name, 0, "out of memory opening the file");
}

/* Appends buf[a..b) to the spanning line, storing at most max_line bytes:
 * once the line is longer than that it is too long and only the reject
 * prefix is kept. */
static int carry_append(pm_reader_t *r, const uint8_t *p, size_t n)
{
    uint64_t before = r->line_full;
    r->line_full += n;
    if (before >= r->max_line)
        return 0; /* already too long: count only */
    if (r->line_full > r->max_line) {
        if (r->carry.len > r->prefix_cap)
            r->carry.len = r->prefix_cap;
        size_t room = r->prefix_cap - r->carry.len;
        return pm_buf_append(&r->carry, p, n < room ? n : room);
    }
    return pm_buf_append(&r->carry, p, n);
}

static void emit(pm_reader_t *r, pm_line_t *line, const char *data, size_t len, uint64_t off,
                 uint64_t full)
{
    line->data = data;
    line->offset = off;
    line->full_len = full;
    line->lineno = ++r->lineno;
    line->too_long = full > r->max_line;
    line->len = line->too_long ? (len < r->prefix_cap ? len : r->prefix_cap) : len;
}

int pm_reader_next(pm_reader_t *r, pm_line_t *line, pm_error_t *err)
{
    if (r->error) {
        if (err)
            *err = r->saved_err;
        return r->error;
    }
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            int rc = r->format == PM_FORMAT_JSONL_ZST ? refill_zstd(r, err) : refill_plain(r, err);
            if (rc < 0)
                return rc;
            continue;
        }
        const uint8_t *p = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        const uint8_t *nl = memchr(p, '\n', avail);
        if (!nl) {
            if (!r->in_line) {
                r->in_line = true;
                r->line_off = r->buf_off + r->pos;
                r->line_full = 0;
                pm_buf_reset(&r->carry);
            }
            if (carry_append(r, p, avail) < 0)
                return reader_fail(r, err, PM_ENOMEM, -1, "%s", "out of memory buffering a line");
            r->pos = r->len;
            continue;
        }
        size_t n = (size_t)(nl - p);
        r->pos += n + 1;
        if (!r->in_line) {
            emit(r, line, (const char *)p, n, r->buf_off + (r->pos - n - 1), n);
            return 1;
        }
        if (carry_append(r, p, n) < 0)
            return reader_fail(r, err, PM_ENOMEM, -1, "%s", "out of memory buffering a line");
        r->in_line = false;
        emit(r, line, r->carry.data, r->carry.len, r->line_off, r->line_full);
        return 1;
    }
    /* End of data: a last line without '\n' is still a line. */
    if (r->in_line) {
        r->in_line = false;
        emit(r, line, r->carry.data, r->carry.len, r->line_off, r->line_full);
        return 1;
    }
    return 0;
}

uint64_t pm_reader_bytes_in(const pm_reader_t *r) { return r ? r->bytes_in : 0; }

void pm_reader_close(pm_reader_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->in);
    free(r->buf);
    free(r->name);
    pm_buf_free(&r->carry);
    free(r);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

int pm_format_from_name(const char *name)
{
    if (ends_with(name, ".jsonl.zst"))
        return PM_FORMAT_JSONL_ZST;
    if (ends_with(name, ".jsonl"))
        return PM_FORMAT_JSONL;
    return -1;
}
