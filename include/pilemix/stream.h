/* pm_stream_t: a readable byte stream, the bottom of every input format.
 *
 * A stream is one of: a file (read(2) on a descriptor), the data of the
 * current member of an archive (archive.h), or a decompression filter
 * (gzip, xz, bzip2; libarchive's "raw" format) over another stream. zstd is
 * not a filter here: reader.c decodes it itself over a stream, because it
 * reports the compressed offset of a corrupt block exactly.
 *
 * pm_stream_read() returns bytes, 0 at the end, or a negative PM_E* code
 * with err filled (message only; the caller names the file). Errors are
 * sticky. A filter owns the stream below it and closes it; a member stream
 * belongs to its archive (it is only valid until the archive moves on).
 *
 * Never a silent short read: a truncated or corrupt compressed stream is
 * PM_EDATA, never an early end of data. */
#ifndef PILEMIX_STREAM_H
#define PILEMIX_STREAM_H

#include "pilemix/error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pm_stream pm_stream_t;

/* Decompression a file or member goes through, decided by its name. */
typedef enum {
    PM_CODEC_NONE = 0,
    PM_CODEC_ZSTD,
    PM_CODEC_GZIP,
    PM_CODEC_XZ,
    PM_CODEC_BZIP2,
} pm_codec_t;

/* "gzip", "xz", ...: for messages. */
const char *pm_codec_name(pm_codec_t codec);

/* The implementation behind a stream: read, close (frees what the stream
 * owns, not the pm_stream_t itself) and seek (NULL when it cannot: only
 * files seek, which lets libarchive read a zip's central directory). */
typedef struct pm_stream_ops {
    ssize_t (*read)(pm_stream_t *s, void *buf, size_t n, pm_error_t *err);
    void (*close)(pm_stream_t *s);
    int64_t (*seek)(pm_stream_t *s, int64_t offset, int whence); /* new position or < 0 */
} pm_stream_ops_t;

struct pm_stream {
    const pm_stream_ops_t *ops;
    void *impl;
    uint64_t bytes; /* bytes returned so far: the offset of the next byte */
    int error;      /* sticky */
    pm_error_t saved;
};

/* A file opened for reading. PM_EIO when it cannot be opened. */
int pm_stream_open_file(pm_stream_t **out, const char *path, pm_error_t *err);

/* A stream over ops/impl (for archive members and tests); never fails but
 * for memory. */
int pm_stream_wrap(pm_stream_t **out, const pm_stream_ops_t *ops, void *impl, pm_error_t *err);

/* Decompress below with codec (XZ or BZIP2: libarchive's filters).
 * Takes below (closed with the filter, also when this fails). PM_EDATA
 * when the data is not that codec, is corrupt or truncated, or has bytes
 * after the compressed stream. */
int pm_stream_open_filter(pm_stream_t **out, pm_stream_t *below, pm_codec_t codec, pm_error_t *err);

/* Decompress below with any codec (NONE: below itself; ZSTD: zstd_stream.h;
 * GZIP: gzip_stream.h; XZ, BZIP2: the filter above). Takes below. */
int pm_stream_open_codec(pm_stream_t **out, pm_stream_t *below, pm_codec_t codec, pm_error_t *err);

/* A stream that reads inner and leaves it open when closed: to put a
 * decompressor (which owns what is below it) over an archive member. */
int pm_stream_borrow(pm_stream_t **out, pm_stream_t *inner, pm_error_t *err);

/* Read up to n bytes: > 0 bytes read (possibly fewer than n), 0 only at the
 * end of the data, < 0 an error (sticky). */
ssize_t pm_stream_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err);

/* The codec whose magic bytes start p[0..n), or PM_CODEC_NONE; for hints
 * ("this .jsonl file holds gzip data") and plan-time checks. */
pm_codec_t pm_codec_sniff(const void *p, size_t n);

void pm_stream_close(pm_stream_t *s); /* accepts NULL */

#endif
