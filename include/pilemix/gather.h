/* Gather: write one output file from the committed records of every spill
 * stream.
 *
 * For each bucket of the file in key order, the records of that bucket are
 * read from every run of every stream (pm_spill_set_t), sorted, and streamed into the file's shard writer.
 * Train files sort by (key, component name, identity path, offset, copy);
 * val and test sort by (key = text hash, text, identity) and write each
 * distinct text once: the first, i.e. the smallest identity, is kept, the
 * others are counted as duplicates of their component.
 *
 * Memory: a bucket whose records (plus sort entries) exceed budget_bytes is
 * read in several passes, each over a key sub-range, so no bucket size can
 * break the budget; the cost is re-reading the bucket's spill ranges.
 *
 * poll (may be NULL) is called after every MiB of text written and after
 * every pass; a negative return aborts the file with that code. */
#ifndef PILEMIX_GATHER_H
#define PILEMIX_GATHER_H

#include "pilemix/dedup.h"
#include "pilemix/job.h"
#include "pilemix/keysort.h"
#include "pilemix/scatter.h"
#include "pilemix/shard_writer.h"
#include "pilemix/spill.h"

/* A pass's memory (records and sort entries), kept by the caller from file
 * to file so it is not faulted in again for every output file. Start it
 * zeroed; pm_gather_mem_free releases it. */
typedef struct pm_gather_mem {
    pm_buf_t arena;
    pm_keyed_t *entries, *scratch;
    size_t cap; /* entries (and scratch) allocated */
} pm_gather_mem_t;

void pm_gather_mem_free(pm_gather_mem_t *m);

typedef struct pm_gather_in {
    const pm_job_t *job;
    pm_spill_set_t *set;            /* every stream's committed records */
    const uint64_t *bucket_records; /* global per-bucket totals over all streams */
    const uint64_t *bucket_bytes;
    uint64_t budget_bytes; /* memory for one bucket pass */
    int zstd_workers;
    ZSTD_CCtx *cctx;        /* reused across files; NULL: one per file */
    pm_gather_mem_t *mem;   /* reused across files; NULL: freed per file */
    pm_tomb_index_t *tombs; /* output.dedup: the records to drop (dedup.h); NULL: none */
} pm_gather_in_t;

/* Per-file outcome beside pm_file_result_t: per component, documents written
 * and holdout duplicates dropped (arrays of cfg->n_components, added to). */
typedef struct pm_gather_out {
    pm_file_result_t result;
    uint64_t *comp_docs;
    uint64_t *comp_dups;
    uint64_t passes;     /* bucket passes made (> buckets when some overflowed) */
    uint64_t peak_bytes; /* the most a pass held: records and sort entries (added to: max) */
    /* output.canaries: canaries written to this file (added to), and their
     * 1-based lines, stored at their index in job->canaries (an array of
     * job->canaries.n the caller owns; NULL when the job has none) */
    uint64_t canaries;
    uint64_t *canary_lines;
} pm_gather_out_t;

int pm_gather_file(const pm_gather_in_t *in, uint32_t file, pm_gather_out_t *out, pm_poll_fn poll,
                   void *poll_ctx, pm_error_t *err);

#endif
