/* pm_shard_writer_t: writes one output file as exactly one zstd frame.
 *
 * Lines are `{"text": ..., "meta": {"pile_set_name": ..., <meta members>}}`
 * followed by '\n' (json.dumps style, as the Pile's own files), streamed
 * through one ZSTD_CCtx so the file is a single frame whatever its size
 * (lm_dataformat stops reading after the first frame). The frame carries a
 * content checksum. The compressor always runs in zstd's multi-threaded mode
 * (nbWorkers >= 1): its output does not depend on the worker count, so
 * giving a writer more threads never changes bytes.
 *
 * The file is written under a temp name and renamed by finish(); the result
 * holds counts, sizes and XXH3-128 of the uncompressed and compressed bytes
 * (canonical big-endian, as xxh128sum prints them). */
#ifndef PILEMIX_SHARD_WRITER_H
#define PILEMIX_SHARD_WRITER_H

#include "pilemix/error.h"

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

typedef struct pm_file_result {
    uint64_t docs;
    uint64_t text_bytes;
    uint64_t raw_bytes; /* uncompressed */
    uint64_t zst_bytes; /* on disk */
    unsigned char raw_xxh128[16];
    unsigned char zst_xxh128[16];
} pm_file_result_t;

typedef struct pm_shard_writer pm_shard_writer_t;

/* cctx: NULL, or a compression context the caller owns and lends for the
 * writer's life (reset here). Reusing one per rank across files keeps zstd's
 * buffers and worker threads instead of rebuilding them for every file;
 * output bytes are the same either way. */
int pm_shard_writer_open(pm_shard_writer_t **out, const char *final_path, int level, int workers,
                         ZSTD_CCtx *cctx, pm_error_t *err);
int pm_shard_writer_add(pm_shard_writer_t *w, const char *component, const char *text,
                        size_t text_len, const char *meta, size_t meta_len, pm_error_t *err);
/* A line already serialized (without its '\n'), as another pilemix output
 * file holds it; text_len is its text's byte count for the result. Used to
 * cut subsets (subset.h) without re-encoding a line. */
int pm_shard_writer_add_line(pm_shard_writer_t *w, const char *line, size_t len, uint64_t text_len,
                             pm_error_t *err);
/* End the frame, fsync, rename into place, fill res. Frees w in every case. */
int pm_shard_writer_finish(pm_shard_writer_t *w, pm_file_result_t *res, pm_error_t *err);
void pm_shard_writer_abort(pm_shard_writer_t *w); /* accepts NULL */

/* Lowercase hex of a 16-byte digest into out[33]. */
void pm_hex128(const unsigned char digest[16], char out[33]);

#endif
