/* Scatter: one task = one input file streamed into the rank's spill stream.
 *
 * pm_scatter_task() reads the file, parses each line, decides split and
 * copies (mix.h), and appends each copy to its bucket in the stream
 * (spill.h). Bad records follow the config: in fail mode the first one fails
 * the task with file:line and reason; in skip mode it is counted by reason
 * and written with file:line, reason and a capped raw prefix to the task's
 * rejects file. When the file is done the rejects file is renamed into place
 * and the task's commit is queued in the stream with the task's blob (its
 * counters, see pm_scatter_blob_stats); the stream writes it after the run
 * holding the task's last records, and only then is the task committed (a
 * resumed run skips it). On error the task's records are dropped from the
 * stream and nothing of it is committed.
 *
 * A UTF-8 BOM at the very start of a file is skipped (the identity offset of
 * that line stays 0). Blank lines are counted and ignored. An empty text is
 * counted and skipped, not rejected.
 *
 * poll is called every few thousand records or every MiB, with the bytes
 * read so far; a negative return aborts the task with that code (the MPI
 * layer uses it to serve other ranks and to stop early when another rank
 * failed). */
#ifndef PILEMIX_SCATTER_H
#define PILEMIX_SCATTER_H

#include "pilemix/job.h"
#include "pilemix/spill.h"

typedef int (*pm_poll_fn)(void *ctx, uint64_t progress_bytes);

/* stream: the rank's open spill stream (records of earlier tasks may still
 * be staged in it). */
int pm_scatter_task(const pm_job_t *job, pm_spill_stream_t *stream, uint32_t task,
                    pm_task_stats_t *stats, pm_poll_fn poll, void *poll_ctx, pm_error_t *err);

/* A task's commit blob is opaque to the spill stream. It starts with the
 * task's pm_task_stats_t; later fields may follow. Copy the counters out:
 * PM_ESTATE when the blob is too short to hold them. */
int pm_scatter_blob_stats(const void *blob, size_t len, pm_task_stats_t *stats, pm_error_t *err);

#endif
