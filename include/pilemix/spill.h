/* Spill streams: the scatter's output, one append-only file per rank and run
 * attempt (WORK/spill/a<attempt>-r<rank>.spill), whatever the number of
 * input files.
 *
 * Writing. A rank stages the records of consecutive tasks in one arena (kept
 * across tasks) and, when it is full, writes them as a "run": the records
 * grouped by bucket (all of bucket 0, then bucket 1, ...), each bucket's
 * range stored raw or as one zstd frame, then a table of every bucket's end
 * offset, raw size and record count. A run may hold records of several tasks
 * and part of a task. When a task ends its commit is queued; it is appended
 * (a commit record: the task, the runs that may hold its records, an opaque
 * blob of the caller's, the hash of every byte before it, and a checksum of
 * its own) right after the run that holds the task's last records. A task
 * is committed exactly when its commit record is in the stream: records of a
 * task that has no commit record in the stream (a rank killed mid-task, a
 * task dropped by on_bad_file) are ignored by readers, so a partial task is
 * harmless and nothing ever needs truncating. Streams are not fsynced: the
 * commits carry a running data hash that a resume verifies
 * (pm_spill_verify_stream) before it trusts them.
 *
 * Reading. pm_spill_set_t takes every stream of the job, keeps, per task,
 * the commit of the first stream (in the caller's order: attempt, then rank)
 * that committed it, and reads a bucket as the bucket's range of every run
 * of every stream: one pread per (run, bucket), whatever the number of
 * tasks. A record is returned only when its task is committed in the stream
 * it was read from, in a run the commit covers. At most PM_SPILL_MAX_OPEN
 * stream files are open at once (least recently used are closed), so a rank
 * holds a small constant number of files whatever the input count.
 *
 * Records are stored in host byte order (spills never leave the job). Only
 * spill.c reads and writes the format (spill_format.h describes it). */
#ifndef PILEMIX_SPILL_H
#define PILEMIX_SPILL_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pm_spill_rec {
    uint64_t key;    /* shuffle key (train) or text key (val/test) */
    uint64_t offset; /* identity: byte offset of the document in its file or member */
    uint32_t file;   /* identity: plan file index, which is the task index */
    uint32_t copy;   /* copy index (0 for val/test) */
    uint32_t text_len;
    uint32_t meta_len;
    uint32_t member;   /* identity: 0, or the 1-based archive member (job.h: members) */
    uint32_t reserved; /* 0; keeps the header 8-byte aligned */
} pm_spill_rec_t;      /* followed by text_len + meta_len bytes */

#define PM_SPILL_REC_HEADER ((size_t)sizeof(pm_spill_rec_t))

/* Stream files a set holds open at most. */
#define PM_SPILL_MAX_OPEN 64

/* Spill compression: none, or a zstd level (negative: zstd's fast levels). */
#define PM_SPILL_COMPRESS_NONE 0

/* Memory a stream stages records in, kept by the caller across streams (a
 * fresh arena would be faulted in, and zeroed by the kernel, again). Start it
 * zeroed ({0}); pm_spill_arena_free releases it. */
typedef struct pm_spill_arena {
    char *data;
    size_t cap;
} pm_spill_arena_t;

void pm_spill_arena_free(pm_spill_arena_t *a);

/* ---- writing ---- */

typedef struct pm_spill_stream pm_spill_stream_t;

/* Called after each commit record is written, in commit order. A negative
 * return stops the stream's flush with that code (err filled by the callee). */
typedef int (*pm_spill_commit_fn)(void *ctx, uint32_t task, pm_error_t *err);

/* Create path (which must not exist: a stream is never reopened). arena_bytes
 * bounds what the stream holds in memory: staged records, their index and
 * queued commits. arena: where to stage records (grown to arena_bytes if
 * smaller; never freed by the stream), or NULL for memory of its own.
 * compression: PM_SPILL_COMPRESS_NONE or a zstd level. */
int pm_spill_stream_open(pm_spill_stream_t **out, const char *path, uint32_t n_buckets,
                         size_t arena_bytes, pm_spill_arena_t *arena, int compression,
                         pm_error_t *err);
void pm_spill_stream_on_commit(pm_spill_stream_t *s, pm_spill_commit_fn fn, void *ctx);

/* Records of task follow (one task at a time). */
int pm_spill_stream_begin_task(pm_spill_stream_t *s, uint32_t task, pm_error_t *err);
int pm_spill_stream_add(pm_spill_stream_t *s, uint32_t bucket, const pm_spill_rec_t *rec,
                        const char *text, const char *meta, pm_error_t *err);
/* Forget the current task's records: staged ones are removed, ones already
 * in written runs are left out by its commit, if it gets one. */
void pm_spill_stream_drop_task(pm_spill_stream_t *s);
/* The current task is complete: queue its commit with blob (copied). */
int pm_spill_stream_end_task(pm_spill_stream_t *s, const void *blob, size_t blob_len,
                             pm_error_t *err);
/* Write the staged records as a run, then the queued commits. */
int pm_spill_stream_flush(pm_spill_stream_t *s, pm_error_t *err);
/* Flush, close and free (also on error). Accepts NULL. */
int pm_spill_stream_close(pm_spill_stream_t *s, pm_error_t *err);
/* Close without flushing: what was committed stays. Accepts NULL. */
void pm_spill_stream_abort(pm_spill_stream_t *s);
uint64_t pm_spill_stream_bytes(const pm_spill_stream_t *s); /* written so far */

/* ---- reading ---- */

/* A stream of the job: its name's attempt and rank, and up to where it may
 * be trusted (UINT64_MAX: every well-formed commit, for streams this run
 * wrote; else what pm_spill_verify_stream found). */
typedef struct pm_spill_stream_id {
    uint32_t attempt, rank;
    uint64_t valid_end;
} pm_spill_stream_id_t;

/* "DIR/a<attempt>-r<rank>.spill" into out (reset first). */
int pm_spill_stream_path(pm_buf_t *out, const char *dir, uint32_t attempt, uint32_t rank);
/* Parse a directory entry name as a stream's; false when it is not one. */
bool pm_spill_stream_name(const char *name, uint32_t *attempt, uint32_t *rank);

/* A committed task: its index and the blob given at commit (valid during the
 * call). Return < 0 to stop (the value is returned). */
typedef int (*pm_spill_task_fn)(void *ctx, uint32_t task, const void *blob, size_t blob_len);

/* Read the whole stream, checking every commit's data hash and checksum:
 * *valid_end is the end of the last commit that holds (0: none), and fn (may
 * be NULL) sees each of those commits. A damaged, cut or foreign file is not
 * an error (it just commits less); one that cannot be read is. */
int pm_spill_verify_stream(const char *path, uint32_t n_buckets, uint64_t *valid_end,
                           pm_spill_task_fn fn, void *ctx, pm_error_t *err);

typedef struct pm_spill_set pm_spill_set_t;

/* Open the streams ids[0..n) of dir (the caller's order decides which
 * commit of a task committed twice counts: the first). fn (may be NULL) sees
 * each task's counting commit once. */
int pm_spill_set_open(pm_spill_set_t **out, const char *dir, const pm_spill_stream_id_t *ids,
                      size_t n, uint32_t n_tasks, uint32_t n_buckets, pm_spill_task_fn fn,
                      void *ctx, pm_error_t *err);
void pm_spill_set_close(pm_spill_set_t *set); /* accepts NULL */

/* Whether task has a counting commit. */
bool pm_spill_set_has_task(const pm_spill_set_t *set, uint32_t task);

/* Add the per-bucket totals (records, and raw bytes including record
 * headers) of streams first, first + step, ... into the caller's arrays of
 * n_buckets entries. An upper bound: runs may hold records of tasks that
 * never committed. */
int pm_spill_set_add_totals(pm_spill_set_t *set, size_t first, size_t step, uint64_t *records,
                            uint64_t *bytes, pm_error_t *err);

/* Append the committed records of a bucket (header, text, meta, back to
 * back; stream by stream, run by run) to out: the whole-bucket fast path,
 * one pread per run. */
int pm_spill_set_append_bucket(pm_spill_set_t *set, uint32_t bucket, pm_buf_t *out,
                               pm_error_t *err);

/* Called for every committed record of the bucket with lo <= key <= hi, in
 * the order above; text/meta point into a buffer valid only during the
 * call. Return < 0 to stop (the value is returned). */
typedef int (*pm_spill_visit_fn)(void *ctx, const pm_spill_rec_t *rec, const char *text,
                                 const char *meta);
int pm_spill_set_visit(pm_spill_set_t *set, uint32_t bucket, uint64_t lo, uint64_t hi,
                       pm_spill_visit_fn fn, void *ctx, pm_error_t *err);

/* What reading cost so far (for measurements). */
typedef struct pm_spill_io {
    uint64_t streams, runs;     /* in the set */
    uint64_t disk_bytes;        /* stream files' sizes */
    uint64_t opens;             /* open() calls */
    uint64_t reads, read_bytes; /* pread calls and bytes */
    uint64_t max_open;          /* most files open at once */
} pm_spill_io_t;
void pm_spill_set_io(const pm_spill_set_t *set, pm_spill_io_t *io);

#endif
