/* The spill file's trailer, for code that builds or patches spill images
 * outside the writer: the fuzz harness (fuzz/fuzz_spill.c) and its seed and
 * regression generator (fuzz/gen_spill_seeds.c). They take the layout from
 * here, so when the format changes they change with it at their next build
 * instead of silently fuzzing a format nobody writes any more.
 *
 * A spill ends with this trailer (host byte order). footer_start locates the
 * footer (run table, per-bucket totals, stats blob), which runs up to the
 * trailer; data_hash covers every byte before footer_start; checksum covers
 * the footer and then the trailer fields before it. spill.c is the only
 * writer and reader; everything else goes through spill.h. */
#ifndef PILEMIX_SPILL_FORMAT_H
#define PILEMIX_SPILL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_SPILL_MAGIC 0x314c4c4950534d50ull /* "PMSPILL1" */
#define PM_SPILL_VERSION 3u                  /* 3: records carry an archive member */

typedef struct pm_spill_trailer {
    uint64_t magic;
    uint32_t version;
    uint32_t n_buckets;
    uint64_t n_runs;
    uint64_t stats_len;
    uint64_t footer_start;
    uint64_t data_hash; /* XXH3-64 of every byte before footer_start */
    uint64_t checksum;  /* XXH3-64 of the footer and the trailer fields above */
} pm_spill_trailer_t;

/* One run-table entry of the footer (n_runs of them, first in the footer). */
typedef struct pm_spill_run {
    uint64_t start;     /* file offset of the run's first record */
    uint64_t index_pos; /* file offset of its bucket end offsets */
} pm_spill_run_t;

/* Recompute the trailer checksum of a whole spill image in memory, as the
 * writer computes it, after fields were patched. Returns false (and changes
 * nothing) when the image is shorter than a trailer or its footer_start
 * points outside it. */
bool pm_spill_image_fix_checksum(unsigned char *image, size_t len);

#endif
