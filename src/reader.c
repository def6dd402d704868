/* Streaming line reader over a pm_stream_t (stream.h).
 *
 * Data flows stream -> chunk buffer -> lines. A line that lies inside the
 * current chunk is returned in place (no copy); only a line that spans
 * chunks is assembled in `carry`, and only up to max_line bytes: past that the
 * line is known to be too long, carry is cut to the reject prefix and the rest
 * is counted, not stored. Memory is therefore bounded by the chunk buffer
 * plus max_line, plus what the stream below holds (a zstd window, a
 * libarchive filter's buffers).
 *
 * Errors are sticky: after one, pm_reader_next keeps returning it, so a caller
 * cannot mistake a broken file for a shorter one.
 *
 * max_line == 0 means "no limit". */
#include "pilemix/reader.h"

#include "pilemix/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PM_READ_CHUNK (1u << 20)  /* bytes taken from the stream per refill */
#define PM_REJECT_PREFIX_MAX 4096 /* bytes of a too-long line kept for rejects */

struct pm_reader {
    pm_stream_t *src;  /* the top of the chain, owned when own_src */
    pm_stream_t *disk; /* the bottom of the chain (for pm_reader_bytes_in), or NULL */
    bool own_src;
    char *name;
    size_t max_line;
    size_t prefix_cap; /* min(max_line, PM_REJECT_PREFIX_MAX) */

    /* Chunk: buf[pos..len) not yet returned; buf[0] is at stream offset buf_off. */
    uint8_t *buf;
    size_t pos, len;
    uint64_t buf_off;

    uint64_t lineno; /* lines returned so far */
    bool eof;        /* no more data */
    int error;       /* sticky error code */
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

static int refill(pm_reader_t *r, pm_error_t *err)
{
    pm_error_t e;
    pm_error_clear(&e);
    ssize_t k = pm_stream_read(r->src, r->buf, PM_READ_CHUNK, &e);
    if (k < 0)
        return reader_fail(r, err, (int)k, e.offset, "%s", e.msg);
    r->buf_off += r->len;
    r->pos = 0;
    r->len = (size_t)k;
    if (k == 0)
        r->eof = true;
    return 0;
}

int pm_reader_open_stream(pm_reader_t **out, pm_stream_t *src, bool own, const char *name,
                          size_t max_line, pm_error_t *err)
{
    *out = NULL;
    pm_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        if (own)
            pm_stream_close(src);
        return pm_error_set(err, PM_ENOMEM, name, 0, "out of memory opening the file");
    }
    r->src = src;
    r->own_src = own;
    r->max_line = max_line ? max_line : SIZE_MAX;
    r->prefix_cap = r->max_line < PM_REJECT_PREFIX_MAX ? r->max_line : PM_REJECT_PREFIX_MAX;
    pm_buf_init(&r->carry);
    pm_error_clear(&r->saved_err);
    r->name = strdup(name ? name : "");
    r->buf = malloc(PM_READ_CHUNK);
    if (!r->name || !r->buf) {
        pm_reader_close(r);
        return pm_error_set(err, PM_ENOMEM, name, 0, "out of memory opening the file");
    }
    *out = r;
    return 0;
}

int pm_format_open_stream(pm_stream_t **out, pm_stream_t **disk, const char *path, pm_codec_t codec,
                          pm_error_t *err)
{
    *out = NULL;
    pm_stream_t *s;
    PM_TRY(pm_stream_open_file(&s, path, err));
    if (disk)
        *disk = s;
    return pm_stream_open_codec(out, s, codec, err);
}

int pm_reader_open(pm_reader_t **out, const char *path, const char *display_name,
                   pm_format_t format, size_t max_line, pm_error_t *err)
{
    *out = NULL;
    const char *name = display_name ? display_name : path;
    pm_stream_t *s, *disk;
    int rc = pm_format_open_stream(&s, &disk, path, pm_format_codec(format), err);
    if (rc < 0) {
        if (err)
            snprintf(err->file, sizeof err->file, "%s", name);
        return rc;
    }
    PM_TRY(pm_reader_open_stream(out, s, true, name, max_line, err));
    (*out)->disk = disk;
    return 0;
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
            int rc = refill(r, err);
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

uint64_t pm_reader_bytes_in(const pm_reader_t *r)
{
    return r ? (r->disk ? r->disk->bytes : r->src->bytes) : 0;
}

void pm_reader_close(pm_reader_t *r)
{
    if (!r)
        return;
    if (r->own_src)
        pm_stream_close(r->src);
    free(r->buf);
    free(r->name);
    pm_buf_free(&r->carry);
    free(r);
}
