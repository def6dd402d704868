/* gzip decompression as a pm_stream_t (stream.h), with zlib.
 *
 * Any number of concatenated gzip members (as pigz and `cat a.gz b.gz`
 * write). Every member's CRC-32 and length are checked; a corrupt or
 * truncated stream, bytes after the last member that are not another
 * member, or data that is not gzip at all is PM_EDATA with err->offset the
 * compressed offset. zlib rather than libarchive's gzip filter: libarchive
 * (3.6) does not check the gzip trailer, so a flipped bit inside a deflate
 * block came out as silently different text in our tests; zlib was also as
 * fast (README, "Input formats"). The filter owns the stream below. */
#ifndef PILEMIX_GZIP_STREAM_H
#define PILEMIX_GZIP_STREAM_H

#include "pilemix/stream.h"

int pm_stream_open_gzip(pm_stream_t **out, pm_stream_t *below, pm_error_t *err);

#endif
