/* Scatter: one task = one input file streamed into one spill file.
 *
 * pm_scatter_task() reads the file, parses each line, decides split and
 * copies (mix.h), and appends each copy to its bucket's spill. Bad records
 * follow the config: in fail mode the first one fails the task with
 * file:line and reason; in skip mode it is counted by reason and written with
 * file:line, reason and a capped raw prefix to the task's rejects file. The
 * task commits by renaming its rejects file and then its spill file into
 * place; the spill carries the task's counters, so a committed task never
 * needs to be read again. On error nothing is committed.
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

/* arena (may be NULL) is the spill staging memory to reuse from task to
 * task (spill.h); arena_bytes bounds what the task's spill writer holds. */
int pm_scatter_task(const pm_job_t *job, uint32_t task, uint64_t arena_bytes,
                    pm_spill_arena_t *arena, pm_task_stats_t *stats, pm_poll_fn poll,
                    void *poll_ctx, pm_error_t *err);

#endif
