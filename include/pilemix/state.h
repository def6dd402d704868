/* pm_state_t: the work directory's life cycle, and what makes resume exact.
 *
 * WORK/state.json records the config hash, the bucket layout and every input
 * file's identity, size and mtime. A fresh run refuses an existing work or
 * non-empty output directory unless --force (which removes only what pilemix
 * writes). A resumed run requires state.json, refuses when the config hash or
 * any input changed (naming what), and reuses the saved layout: the spills it
 * finds were cut with it. WORK/lock is held with an fcntl lock by rank 0 for
 * the whole run, so two runs on one work directory are refused; the kernel
 * drops the lock when the process dies, so a killed run never blocks its
 * resume. The output directory is locked the same way (OUTDIR/.pilemix.lock,
 * taken first), so two runs never write one output, whatever their work
 * directories and flags: --force never deletes files from under a running
 * job. A refusal names the holder: each lock file holds "PID HOST" of the
 * run that holds it. The output's lock file is removed when the run ends
 * (pm_state_close), and a stale one (left by a killed run) when --resume
 * finds the output complete, so a finished output holds only its files.
 *
 * --resume is idempotent (DESIGN 1.1), so a requeued job can always pass it:
 * when the output is already complete for this config (manifest.json with
 * the same config hash and input files, every file it lists present with its
 * size) nothing is touched and pm_state_t.resume says so; when there is no
 * interrupted run's state it starts a new run (refusing, as a plain run
 * would, an output directory holding something else); otherwise it
 * continues the interrupted run.
 *
 * Commit points a resume trusts: a task's commit record in a spill stream
 * (spill.h; its data hash is verified before the resume trusts it), and an
 * output file's result record in WORK/results (written after the file was
 * renamed into place and checked against it on load). Each run attempt
 * writes new streams, numbered one past the highest attempt found in
 * WORK/spill, and never touches an earlier attempt's.
 * Rank 0 only, except the result helpers, which any rank may call. */
#ifndef PILEMIX_STATE_H
#define PILEMIX_STATE_H

#include "pilemix/config.h"
#include "pilemix/gather.h"
#include "pilemix/layout.h"
#include "pilemix/plan.h"
#include "pilemix/spill.h"
#include "pilemix/totals.h"

#include <stdbool.h>

/* What pm_state_prepare() did with --resume. */
typedef enum pm_resume {
    PM_RESUME_NO,       /* not asked to resume */
    PM_RESUME_CONTINUE, /* continues an interrupted run */
    PM_RESUME_STARTED,  /* there was none: a new run was started */
    PM_RESUME_COMPLETE, /* the output is complete for this config: nothing to do, no lock taken */
} pm_resume_t;

typedef struct pm_state {
    int lock_fd;     /* WORK/lock */
    int out_lock_fd; /* OUTDIR/.pilemix.lock */
    char *work_dir;
    char *out_lock; /* its path */
    pm_resume_t resume;
    size_t complete_files; /* PM_RESUME_COMPLETE: files checked */
} pm_state_t;

void pm_state_init(pm_state_t *st);

/* Check and set up the directories; on resume replace *layout by the saved
 * one (when continuing) and set st->resume. */
int pm_state_prepare(pm_state_t *st, const pm_config_t *cfg, const pm_plan_t *plan,
                     pm_layout_t *layout, bool resume, bool force, pm_error_t *err);

/* The output directory's lock file, which pilemix keeps in it while a run
 * writes there (verify and --force know it as pilemix's own). */
#define PM_STATE_OUT_LOCK ".pilemix.lock"

/* Remove the work directory (unless keep) and release the locks. */
int pm_state_complete(pm_state_t *st, bool keep, pm_error_t *err);

/* Release the locks (removing the output's lock file); idempotent. */
void pm_state_close(pm_state_t *st);

/* The spill streams of earlier attempts in WORK/spill, sorted by attempt
 * then rank (the order in which a task committed twice counts), with
 * valid_end 0 (for the caller's verification to fill), and the attempt
 * number this run's streams take. *ids is malloc'd (free it). */
int pm_state_list_streams(const pm_job_t *job, pm_spill_stream_id_t **ids, size_t *n,
                          uint32_t *next_attempt, pm_error_t *err);

int pm_state_save_file_result(const pm_job_t *job, uint32_t file, const pm_gather_out_t *out,
                              pm_error_t *err);

/* If a valid result for file exists and matches the file on disk, add it to
 * totals and set *done. A missing or stale record is not an error. */
int pm_state_load_file_result(const pm_job_t *job, uint32_t file, pm_totals_t *totals, bool *done,
                              pm_error_t *err);
/* The same, also filling canary_lines (indexed like job->canaries.v) with
 * the lines of the file's canaries; t may be NULL (nothing added). */
int pm_state_load_file_result_lines(const pm_job_t *job, uint32_t file, pm_totals_t *t,
                                    uint64_t *canary_lines, bool *done, pm_error_t *err);

#endif
