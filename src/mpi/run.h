/* `pilemix run`: the whole MPI job (plan, scatter, gather, finish).
 *
 * Collective: every rank of MPI_COMM_WORLD calls pm_run() with the same
 * options after MPI_Init; all ranks return the same status. Errors are
 * printed by the rank that meets them, one line each, on stderr. */
#ifndef PILEMIX_MPI_RUN_H
#define PILEMIX_MPI_RUN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pm_run_opts {
    const char *config_path;
    const char *work_dir;  /* NULL: from the config */
    uint64_t mem_per_rank; /* 0: from the config */
    double progress_secs;  /* default 10; 0 = off */
    bool resume, force, keep_work;
    bool no_space_check; /* run even when the work directory looks too small */
} pm_run_opts_t;

/* Returns 0 or a negative PM_E* code (the same on every rank). */
int pm_run(const pm_run_opts_t *opts);

#endif
