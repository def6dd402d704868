/* zstd decompression as a pm_stream_t (stream.h), over any stream.
 *
 * Any number of frames (skippable ones ignored). A corrupt or truncated
 * stream, or one that is not zstd at all, is PM_EDATA with err->offset the
 * compressed offset where the bad block starts (or where the data ends);
 * what was decoded before a bad block is returned first. The filter owns
 * the stream below. libzstd, not libarchive: it reports that offset. */
#ifndef PILEMIX_ZSTD_STREAM_H
#define PILEMIX_ZSTD_STREAM_H

#include "pilemix/stream.h"

int pm_stream_open_zstd(pm_stream_t **out, pm_stream_t *below, pm_error_t *err);

#endif
