/* SIGINT and SIGTERM during `pilemix run`: stop at the next record
 * boundary, keep what was committed, exit 128 + the signal's number.
 *
 * The handler only notes the signal. The MPI layer looks at the note where
 * stopping is safe: in the core's poll callback (every few thousand records
 * or MiB), which makes the task or output file in progress fail with
 * PM_EINTR, so it is discarded, never committed (its temp files are
 * removed); before each work item; and before each phase and the finish.
 * The ranks then agree on the status as for any error (agree.h), with
 * PM_EINTR the least severe code: a real error met on the way out is what
 * the job reports.
 *
 * Who gets the signal: under srun and scancel every rank does; under mpirun
 * a SIGTERM or SIGINT to mpirun is forwarded to every rank by Open MPI; a
 * signal sent to one rank stops that rank, which reports PM_EINTR to the
 * others at the next agreement. The ranks agree on the signal's number too
 * (the highest), so every rank exits with the same status.
 *
 * The handler stays installed: Slurm may deliver SIGTERM twice (scancel to
 * the step, and the job script forwarding it), and a second one must not
 * kill a rank that is stopping cleanly. SA_RESTART keeps interrupted reads
 * and writes going. */
#ifndef PILEMIX_MPI_INTERRUPT_H
#define PILEMIX_MPI_INTERRUPT_H

#include "pilemix/error.h"

/* Install the SIGINT and SIGTERM handlers (main.c, for `run`). */
void pm_interrupt_install(void);

/* The first signal this rank received, or 0. */
int pm_interrupt_signal(void);

/* 0, or PM_EINTR with err filled ("interrupted by SIGTERM"). The first
 * time on rank 0 it also says on stderr that the ranks are stopping. */
int pm_interrupt_check(int rank, pm_error_t *err);

/* The job's signal (what the ranks agreed on, else this rank's own): what
 * the exit status of a PM_EINTR is made of. */
void pm_interrupt_agreed(int sig);
int pm_interrupt_job_signal(void);

#endif
