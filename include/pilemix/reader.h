/* pm_reader_t: streams the lines of a byte stream, never the whole stream.
 *
 * The stream (stream.h) is a file, an archive member, or either through a
 * decompressor (zstd: any number of frames, skippable frames ignored; gzip,
 * xz, bzip2 through libarchive). Each line comes with the byte offset of its first byte in the
 * uncompressed stream and its 1-based line number; the '\n' is not included
 * (a last line without '\n' is still a line). A line longer than max_line is
 * returned with too_long set, len capped to a prefix (for reject files), and
 * full_len the real length; the reader skips the rest without buffering it.
 *
 * A corrupt or truncated zstd stream, a read error or a file that is not zstd
 * is an error (PM_EDATA / PM_EIO) naming the file and the compressed byte
 * offset: the reader never silently stops early.
 *
 * A line's data pointer is valid until the next call. */
#ifndef PILEMIX_READER_H
#define PILEMIX_READER_H

#include "pilemix/error.h"
#include "pilemix/format.h"
#include "pilemix/stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pm_reader pm_reader_t;

typedef struct pm_line {
    const char *data;
    size_t len; /* bytes in data (capped when too_long) */
    uint64_t full_len;
    uint64_t offset; /* offset of the line's first byte in the uncompressed stream */
    uint64_t lineno; /* 1-based */
    bool too_long;
} pm_line_t;

/* Open path through the decompressor of codec (none, zstd, gzip, xz,
 * bzip2): *out is the top of the chain, *disk (may be NULL) its bottom, the
 * file itself, whose byte count is what was read from disk. */
int pm_format_open_stream(pm_stream_t **out, pm_stream_t **disk, const char *path, pm_codec_t codec,
                          pm_error_t *err);

/* Lines of src; the reader closes src when own is set. name is used in
 * error messages. */
int pm_reader_open_stream(pm_reader_t **out, pm_stream_t *src, bool own, const char *name,
                          size_t max_line, pm_error_t *err);

/* Lines of the file at path, decompressed as its format says (a JSON lines
 * or text format). display_name is used in error messages (usually the path). */
int pm_reader_open(pm_reader_t **out, const char *path, const char *display_name,
                   pm_format_t format, size_t max_line, pm_error_t *err);

/* 1: a line is in *line; 0: end of file; < 0: error (err filled). */
int pm_reader_next(pm_reader_t *r, pm_line_t *line, pm_error_t *err);

/* Bytes read from disk so far (compressed bytes for compressed formats):
 * for progress. For a reader over a stream: the bytes the stream gave. */
uint64_t pm_reader_bytes_in(const pm_reader_t *r);

void pm_reader_close(pm_reader_t *r); /* accepts NULL */

#endif
