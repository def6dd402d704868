/* The spill stream's blocks, for code that builds or patches stream images
 * outside the writer: the fuzz harness (fuzz/fuzz_spill.c) and its seed and
 * regression generator (fuzz/gen_spill_seeds.c). They take the layout from
 * here, so when the format changes they change with it at their next build.
 *
 * A stream is a sequence of blocks, each a pm_spill_block_t header and len
 * bytes of payload (host byte order):
 *   HEAD    once, first: pm_spill_head_t.
 *   RUN     pm_spill_run_head_t, the records grouped by bucket (each
 *           bucket's range raw, or one zstd frame when codec is
 *           PM_SPILL_CODEC_ZSTD), then n_buckets pm_spill_range_t; the data
 *           is len - sizeof head - n_buckets * sizeof range bytes. The writer
 *           streams a run and fills its block header's len in afterwards.
 *   COMMIT  pm_spill_commit_t, blob_len bytes of blob, then a u64 checksum:
 *           XXH3-64 of the block header, the commit and the blob.
 * A commit's data_hash is the state of a running XXH3-64 over the blocks
 * before it: a HEAD or COMMIT block enters it as its bytes, a RUN block as
 * its header followed by the XXH3-64 of its payload (8 bytes; the header is
 * only known once the payload is written). So each commit vouches for all
 * that precedes it. spill.c is the only writer
 * and reader; everything else goes through spill.h. */
#ifndef PILEMIX_SPILL_FORMAT_H
#define PILEMIX_SPILL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_SPILL_MAGIC 0x334c4c4950534d50ull /* "PMSPILL3": the head's */
#define PM_SPILL_VERSION 4u                  /* 4: records carry an archive member */
#define PM_SPILL_BLOCK_MAGIC 0x4b4c4253u     /* "SBLK" */

enum { PM_SPILL_HEAD = 1, PM_SPILL_RUN = 2, PM_SPILL_COMMIT = 3 };
enum { PM_SPILL_CODEC_RAW = 0, PM_SPILL_CODEC_ZSTD = 1 };

typedef struct pm_spill_block {
    uint32_t magic; /* PM_SPILL_BLOCK_MAGIC */
    uint32_t type;
    uint64_t len; /* payload bytes after this header */
} pm_spill_block_t;

typedef struct pm_spill_head {
    uint64_t magic; /* PM_SPILL_MAGIC */
    uint32_t version;
    uint32_t n_buckets;
    uint32_t attempt, rank;
} pm_spill_head_t;

typedef struct pm_spill_run_head {
    uint32_t n_buckets;
    uint32_t codec;
} pm_spill_run_head_t;

/* One bucket of a run: its data ends at end (relative to the run's data),
 * and starts where the previous bucket's ends (0 for bucket 0). */
typedef struct pm_spill_range {
    uint64_t end;
    uint64_t raw; /* bytes once decoded (records with their headers) */
    uint64_t records;
} pm_spill_range_t;

typedef struct pm_spill_commit {
    uint64_t seq;       /* 0, 1, 2, ... within the stream */
    uint64_t data_hash; /* the running hash of every block before this one */
    uint32_t task;
    uint32_t first_run; /* the task's records are in runs first_run.. n_runs-1 */
    uint32_t n_runs;    /* runs in the stream before this commit */
    uint32_t blob_len;
} pm_spill_commit_t;

/* Recompute the checksum of every commit block and the data hash of every
 * commit in a stream image in memory, as the writer computes them, after
 * bytes were patched. Returns false (and stops) at the first block that does
 * not parse. */
bool pm_spill_image_fix_checksums(unsigned char *image, size_t len);

#endif
