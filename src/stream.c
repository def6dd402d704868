/* Byte streams (stream.h): files, and libarchive's decompression filters.
 *
 * A filter is a libarchive reader with only the one filter and the "raw"
 * format enabled, fed through callbacks from the stream below, so the same
 * code decompresses a file on disk and a member of a tar. That a filter
 * was really detected is checked (libarchive otherwise passes unknown data
 * through as is): a file named .gz that is not gzip is an error, not a
 * stream of compressed bytes read as text. */
#include "pilemix/stream.h"

#include "pilemix/gzip_stream.h"
#include "pilemix/zstd_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILTER_CHUNK (1u << 20) /* compressed bytes handed to libarchive per call */

const char *pm_codec_name(pm_codec_t codec)
{
    switch (codec) {
    case PM_CODEC_ZSTD: return "zstd";
    case PM_CODEC_GZIP: return "gzip";
    case PM_CODEC_XZ: return "xz";
    case PM_CODEC_BZIP2: return "bzip2";
    default: return "uncompressed";
    }
}

pm_codec_t pm_codec_sniff(const void *data, size_t n)
{
    const unsigned char *p = data;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return PM_CODEC_ZSTD;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return PM_CODEC_GZIP;
    if (n >= 6 && !memcmp(p,
                          "\xfd"
                          "7zXZ\0",
                          6))
        return PM_CODEC_XZ;
    if (n >= 3 && !memcmp(p, "BZh", 3))
        return PM_CODEC_BZIP2;
    return PM_CODEC_NONE;
}

int pm_stream_wrap(pm_stream_t **out, const pm_stream_ops_t *ops, void *impl, pm_error_t *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return pm_error_nomem(err);
    (*out)->ops = ops;
    (*out)->impl = impl;
    pm_error_clear(&(*out)->saved);
    return 0;
}

ssize_t pm_stream_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    if (s->error) {
        if (err)
            *err = s->saved;
        return s->error;
    }
    ssize_t k = s->ops->read(s, buf, n, &s->saved);
    if (k < 0) {
        s->error = (int)k;
        if (err)
            *err = s->saved;
        return k;
    }
    s->bytes += (uint64_t)k;
    return k;
}

void pm_stream_close(pm_stream_t *s)
{
    if (!s)
        return;
    if (s->ops->close)
        s->ops->close(s);
    free(s);
}

/* ---- files ---- */

typedef struct file_impl {
    int fd;
} file_impl_t;

static ssize_t file_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    file_impl_t *f = s->impl;
    for (;;) {
        ssize_t k = read(f->fd, buf, n);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        int e = errno;
        pm_error_set(err, PM_EIO, NULL, 0, "read error: %s", strerror(e));
        err->offset = (int64_t)s->bytes;
        return PM_EIO;
    }
}

static void file_close(pm_stream_t *s)
{
    file_impl_t *f = s->impl;
    if (f && f->fd >= 0)
        close(f->fd);
    free(f);
}

static int64_t file_seek(pm_stream_t *s, int64_t offset, int whence)
{
    file_impl_t *f = s->impl;
    off_t at = lseek(f->fd, (off_t)offset, whence);
    if (at >= 0)
        s->bytes = (uint64_t)at;
    return (int64_t)at;
}

static const pm_stream_ops_t file_ops = {file_read, file_close, file_seek};

int pm_stream_open_file(pm_stream_t **out, const char *path, pm_error_t *err)
{
    *out = NULL;
    file_impl_t *f = malloc(sizeof *f);
    if (!f)
        return pm_error_nomem(err);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int e = errno;
        free(f);
        return pm_error_set(err, PM_EIO, NULL, 0, "cannot open %s: %s", path, strerror(e));
    }
    /* Advisory only: a failure changes nothing. */
    (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int rc = pm_stream_wrap(out, &file_ops, f, err);
    if (rc < 0)
        file_close(&(pm_stream_t){.impl = f});
    return rc;
}

/* ---- libarchive filters ---- */

typedef struct filter_impl {
    struct archive *a;
    pm_stream_t *below;
    pm_codec_t codec;
    char *chunk;
    bool below_failed; /* the error is below's, not the codec's */
} filter_impl_t;

static la_ssize_t filter_feed(struct archive *a, void *ctx, const void **buffer)
{
    filter_impl_t *f = ctx;
    ssize_t k = pm_stream_read(f->below, f->chunk, FILTER_CHUNK, NULL);
    if (k < 0) {
        f->below_failed = true;
        archive_set_error(a, EIO, "%s", f->below->saved.msg);
        return -1;
    }
    *buffer = f->chunk;
    return k;
}

static int filter_fail(pm_stream_t *s, filter_impl_t *f, pm_error_t *err)
{
    if (f->below_failed) {
        *err = f->below->saved;
        return err->code ? err->code : PM_EIO;
    }
    const char *why = archive_error_string(f->a);
    pm_error_set(err, PM_EDATA, NULL, 0, "corrupt or truncated %s stream: %s",
                 pm_codec_name(f->codec), why ? why : "unknown error");
    /* Where the damage is, as closely as we know it: the compressed bytes
     * consumed so far (libarchive reads ahead by up to a chunk). */
    err->offset = (int64_t)f->below->bytes;
    (void)s;
    return PM_EDATA;
}

static ssize_t filter_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    filter_impl_t *f = s->impl;
    for (;;) {
        la_ssize_t k = archive_read_data(f->a, buf, n);
        if (k > 0)
            return (ssize_t)k;
        if (k == 0) {
            /* libarchive stops at the end of the compressed stream and
             * ignores what follows: drain below and compare with what it
             * consumed, so appended garbage is an error, not lost data. */
            int64_t used = archive_filter_bytes(f->a, -1);
            for (;;) {
                ssize_t r = pm_stream_read(f->below, f->chunk, FILTER_CHUNK, err);
                if (r < 0)
                    return r;
                if (r == 0)
                    break;
            }
            if (used >= 0 && (uint64_t)used != f->below->bytes) {
                pm_error_set(err, PM_EDATA, NULL, 0, "trailing data after the %s stream",
                             pm_codec_name(f->codec));
                err->offset = used;
                return PM_EDATA;
            }
            return 0;
        }
        if (k == ARCHIVE_RETRY)
            continue;
        return filter_fail(s, f, err);
    }
}

static void filter_close(pm_stream_t *s)
{
    filter_impl_t *f = s->impl;
    if (!f)
        return;
    if (f->a)
        archive_read_free(f->a);
    pm_stream_close(f->below);
    free(f->chunk);
    free(f);
}

static const pm_stream_ops_t filter_ops = {filter_read, filter_close, NULL};

static int expected_filter_code(pm_codec_t codec)
{
    switch (codec) {
    case PM_CODEC_XZ: return ARCHIVE_FILTER_XZ;
    case PM_CODEC_BZIP2: return ARCHIVE_FILTER_BZIP2;
    default: return -1;
    }
}

int pm_stream_open_filter(pm_stream_t **out, pm_stream_t *below, pm_codec_t codec, pm_error_t *err)
{
    *out = NULL;
    filter_impl_t *f = calloc(1, sizeof *f);
    if (!f) {
        pm_stream_close(below);
        return pm_error_nomem(err);
    }
    f->below = below;
    f->codec = codec;
    f->chunk = malloc(FILTER_CHUNK);
    f->a = archive_read_new();
    pm_stream_t tmp = {.impl = f};
    if (!f->chunk || !f->a) {
        filter_close(&tmp);
        return pm_error_nomem(err);
    }
    int lrc;
    switch (codec) {
    case PM_CODEC_XZ: lrc = archive_read_support_filter_xz(f->a); break;
    case PM_CODEC_BZIP2: lrc = archive_read_support_filter_bzip2(f->a); break;
    default: lrc = ARCHIVE_FATAL; break;
    }
    /* ARCHIVE_WARN: libarchive would use an external program; refuse that. */
    if (lrc != ARCHIVE_OK) {
        pm_error_set(err, PM_EINTERNAL, NULL, 0, "libarchive cannot decode %s in-process",
                     pm_codec_name(codec));
        filter_close(&tmp);
        return PM_EINTERNAL;
    }
    archive_read_support_format_raw(f->a);
    struct archive_entry *entry;
    int rc = 0;
    bool opened = archive_read_open2(f->a, f, NULL, filter_feed, NULL, NULL) == ARCHIVE_OK;
    if (opened)
        lrc = archive_read_next_header(f->a, &entry);
    if (f->below_failed || (opened && lrc == ARCHIVE_FATAL && below->bytes > 0 &&
                            archive_filter_code(f->a, 0) == expected_filter_code(codec))) {
        rc = filter_fail(&tmp, f, err);
    } else if (!opened || lrc != ARCHIVE_OK ||
               archive_filter_code(f->a, 0) != expected_filter_code(codec)) {
        /* Empty input (raw sees no entry) or data of another kind. */
        pm_error_set(err, PM_EDATA, NULL, 0, "%s", "");
        if (below->bytes == 0)
            snprintf(err->msg, sizeof err->msg, "empty file is not a %s stream",
                     pm_codec_name(codec));
        else
            snprintf(err->msg, sizeof err->msg, "not a %s stream (no %s magic bytes)",
                     pm_codec_name(codec), pm_codec_name(codec));
        err->offset = 0;
        rc = PM_EDATA;
    }
    if (rc < 0) {
        filter_close(&tmp);
        return rc;
    }
    rc = pm_stream_wrap(out, &filter_ops, f, err);
    if (rc < 0)
        filter_close(&tmp);
    return rc;
}

int pm_stream_open_codec(pm_stream_t **out, pm_stream_t *below, pm_codec_t codec, pm_error_t *err)
{
    switch (codec) {
    case PM_CODEC_NONE: *out = below; return 0;
    case PM_CODEC_ZSTD: return pm_stream_open_zstd(out, below, err);
    case PM_CODEC_GZIP: return pm_stream_open_gzip(out, below, err);
    default: return pm_stream_open_filter(out, below, codec, err);
    }
}

/* ---- borrowed streams ---- */

static ssize_t borrow_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    return pm_stream_read(s->impl, buf, n, err);
}

static const pm_stream_ops_t borrow_ops = {borrow_read, NULL, NULL};

int pm_stream_borrow(pm_stream_t **out, pm_stream_t *inner, pm_error_t *err)
{
    return pm_stream_wrap(out, &borrow_ops, inner, err);
}
