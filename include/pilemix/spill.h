/* Spill files: one per scatter task, records grouped by bucket.
 *
 * A worker streams one input file and appends every emitted copy to the
 * bucket its key selects (buckets are key ranges of an output file; see
 * layout.h). Records collect in a bounded arena; when it fills, they are
 * written as a "run": all records of bucket 0, then bucket 1, ... followed by
 * the run's bucket end offsets. The footer lists the runs, per-bucket record
 * and byte totals, and an opaque stats blob (the task's counters), and is
 * checksummed, and it carries a hash of all the data before it. The file is
 * built under a temp name and renamed into place (without fsync: a resume
 * verifies the data hash of every spill it reuses) by
 * pm_spill_writer_commit(): a committed spill *is* the commit of its task,
 * which is what lets a resumed run skip it. One file per task keeps the number
 * of files independent of the number of buckets.
 *
 * A reader returns the records of one bucket, optionally only those whose key
 * lies in a sub-range, streaming through a small buffer so a bucket larger
 * than memory can be read in several passes.
 *
 * Records are stored in host byte order (spills never leave the job). */
#ifndef PILEMIX_SPILL_H
#define PILEMIX_SPILL_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pm_spill_rec {
    uint64_t key;    /* shuffle key (train) or text key (val/test) */
    uint64_t offset; /* identity: byte offset of the document in its file or member */
    uint32_t file;   /* identity: plan file index */
    uint32_t copy;   /* copy index (0 for val/test) */
    uint32_t text_len;
    uint32_t meta_len;
    uint32_t member;   /* identity: 0, or the 1-based archive member (job.h: members) */
    uint32_t reserved; /* 0; keeps the header 8-byte aligned */
} pm_spill_rec_t;      /* followed by text_len + meta_len bytes */

#define PM_SPILL_REC_HEADER ((size_t)sizeof(pm_spill_rec_t))

typedef struct pm_spill_writer pm_spill_writer_t;

/* Memory a writer stages records in, kept by the caller across writers: a
 * rank scatters file after file, and a fresh arena per file would be faulted
 * in (and zeroed by the kernel) again for every byte spilled. Start it
 * zeroed ({0}); pm_spill_arena_free releases it. */
typedef struct pm_spill_arena {
    char *data;
    size_t cap;
} pm_spill_arena_t;

void pm_spill_arena_free(pm_spill_arena_t *a);

/* arena_bytes bounds the memory the writer holds (records + index). arena:
 * where to stage records (grown to arena_bytes if smaller; not freed by the
 * writer), or NULL for memory of the writer's own. */
int pm_spill_writer_open(pm_spill_writer_t **out, const char *final_path, uint32_t n_buckets,
                         size_t arena_bytes, pm_spill_arena_t *arena, pm_error_t *err);
int pm_spill_writer_add(pm_spill_writer_t *w, uint32_t bucket, const pm_spill_rec_t *rec,
                        const char *text, const char *meta, pm_error_t *err);
/* Write the last run and footer (with stats blob), fsync, rename. Frees w. */
int pm_spill_writer_commit(pm_spill_writer_t *w, const void *stats, size_t stats_len,
                           pm_error_t *err);
/* Discard: close and unlink the temp file. Frees w. Accepts NULL. */
void pm_spill_writer_abort(pm_spill_writer_t *w);

typedef struct pm_spill_reader pm_spill_reader_t;

/* Read the whole data section and check it against the footer's data hash:
 * PM_EIO when the file is damaged (e.g. a node crash lost unsynced data). */
int pm_spill_verify(const char *path, pm_error_t *err);

/* Opens and validates the footer (checksum, bucket count). */
int pm_spill_reader_open(pm_spill_reader_t **out, const char *path, pm_error_t *err);
void pm_spill_reader_close(pm_spill_reader_t *r); /* accepts NULL */
uint32_t pm_spill_reader_buckets(const pm_spill_reader_t *r);
/* Add this spill's per-bucket totals (records, and bytes including record
 * headers) into the caller's arrays of pm_spill_reader_buckets() entries. */
int pm_spill_reader_add_totals(pm_spill_reader_t *r, uint64_t *records, uint64_t *bytes,
                               pm_error_t *err);
/* The stats blob given at commit (borrowed). */
const void *pm_spill_reader_stats(const pm_spill_reader_t *r, size_t *len);

/* Called for every record of the bucket with lo <= key <= hi, in file order.
 * text/meta point into a buffer valid only during the call. Return < 0 to stop
 * (the value is returned). */
typedef int (*pm_spill_visit_fn)(void *ctx, const pm_spill_rec_t *rec, const char *text,
                                 const char *meta);
int pm_spill_reader_visit(pm_spill_reader_t *r, uint32_t bucket, uint64_t lo, uint64_t hi,
                          pm_spill_visit_fn fn, void *ctx, pm_error_t *err);

/* Append the raw records of a bucket (header, text, meta, back to back; all
 * runs in order) to out: the whole-bucket fast path, one pread per run. */
int pm_spill_reader_append_bucket(pm_spill_reader_t *r, uint32_t bucket, pm_buf_t *out,
                                  pm_error_t *err);

#endif
