/* pm_archive_t: the members of a tar or zip archive, one after the other.
 *
 * libarchive reads the archive from a pm_stream_t (stream.h), so a .tar.gz
 * goes through the same checked gzip stream as a .jsonl.gz. Members come in
 * archive order with their path (a leading "./" or "/" removed) and their
 * data as a stream that is valid until the next call. Directory entries are
 * skipped; any other entry that is not a regular file (a link, a device) is
 * an error naming it: it holds no data, and skipping it would lose what the
 * user meant to be there. A damaged or truncated archive is PM_EDATA.
 *
 * Memory: libarchive's buffers (a block or a zip entry's window), never a
 * member's whole data. */
#ifndef PILEMIX_ARCHIVE_H
#define PILEMIX_ARCHIVE_H

#include "pilemix/stream.h"

#include <stdbool.h>

typedef struct pm_archive pm_archive_t;

/* Takes src (closed with the archive). zip: a zip archive, else tar (of any
 * flavour libarchive reads: ustar, pax, GNU). */
int pm_archive_open(pm_archive_t **out, pm_stream_t *src, bool zip, pm_error_t *err);

/* 1: the next member, *path (borrowed, valid until the next call) and
 * *data (borrowed, likewise); 0: no more members; < 0 error (err->msg says
 * what, and names the member when it is about one). */
int pm_archive_next(pm_archive_t *a, const char **path, pm_stream_t **data, pm_error_t *err);

/* After the last member: read the rest of the stream below (libarchive
 * stops at the end-of-archive marker), so a compressed archive's checksum
 * is checked and the bytes read are the whole file. */
int pm_archive_drain(pm_archive_t *a, pm_error_t *err);

void pm_archive_close(pm_archive_t *a); /* accepts NULL */

#endif
