/* The census under MPI (census.h): `pilemix plan --count` and the census a
 * run with shares needs before its scatter.
 *
 * pm_count_census is collective: every rank holds the config and the plan.
 * Rank 0 loads the cache; the files it does not cover are handed out
 * largest first by dispatch.c (rank 0 counts too); every rank then holds
 * the whole census, and rank 0 writes the cache back. The status is agreed
 * (an error on any rank is an error on all). */
#ifndef PILEMIX_MPI_COUNT_H
#define PILEMIX_MPI_COUNT_H

#include "pilemix/census.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct pm_count_stats {
    uint64_t cached, counted; /* files from the cache, files read */
    uint64_t bytes_read;      /* bytes on disk of the files read */
    double seconds;           /* wall time of the census */
} pm_count_stats_t;

int pm_count_census(const pm_config_t *cfg, const pm_plan_t *plan, pm_census_t *census,
                    double progress_secs, pm_count_stats_t *stats, pm_error_t *err);

/* Collective: rank 0 loads the config (from config_json when not NULL,
 * config_path then naming it and giving the directory relative paths start
 * from; else from the file config_path), builds the plan (printing the
 * plain plan table when print_plan), and every rank gets both. The status
 * is rank 0's; on failure cfg and plan are left closed. */
int pm_count_setup(const char *config_path, const char *config_json, bool print_plan,
                   pm_config_t *cfg, pm_plan_t *plan, pm_error_t *err);

/* `pilemix plan CONFIG [--count] [--json]` (collective when --count). */
int pm_plan_main(int argc, char **argv);

#endif
