/* The census (DESIGN 1.3a): documents and text bytes of every input file,
 * the Pile paper's Table 1 computed from them, and shares turned into epochs.
 *
 * A file's census is what the scatter would count reading it: the same
 * document source (source.h) and record parser, the same rules for blank
 * lines, empty texts, bad records and the split (the split is a keyed hash
 * of the text, so the census knows each split's text bytes exactly; shares
 * are fractions of the train split's). While reading, it computes the
 * XXH3-64 of the file's bytes on disk, which the manifest records and
 * `pilemix reproduce` checks.
 *
 * Cache: WORK/census.json keeps each file's census under its key: the
 * component and identity path, the path opened, size, mtime (ns) and a hash
 * of the settings that change the counts (pm_census_settings). A file whose
 * key matches is never read again, by `plan --count` or by `run`. The file
 * starts with a line holding the XXH3-64 of the rest; a damaged or foreign
 * cache is ignored (and rewritten), never trusted. It is kept when a run
 * starts over or completes: after a successful run the work directory holds
 * only the cache.
 *
 * pm_census_file_t is a flat array of uint64_t so the MPI layer can move it
 * as words. Everything here is rank-local; src/mpi/census.c hands files out. */
#ifndef PILEMIX_CENSUS_H
#define PILEMIX_CENSUS_H

#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/job.h"
#include "pilemix/mix.h"
#include "pilemix/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One file. Identities: docs = bad_records + empty_docs + filtered +
 * kept_docs; kept_docs = the split_docs summed; text_bytes = the
 * split_text_bytes summed. New counters go at the end (the cache names
 * each field, so an older cache is simply not used for a missing one). */
typedef struct pm_census_file {
    uint64_t valid;    /* 1 when filled (from the cache or a read) */
    uint64_t size;     /* bytes on disk, as read */
    uint64_t mtime_ns; /* as planned (int64 bits) */
    uint64_t settings; /* pm_census_settings of its component */
    uint64_t xxh3;     /* XXH3-64 (seed 0) of the bytes on disk */
    uint64_t lines;    /* every line or element, blank ones included */
    uint64_t blank_lines;
    uint64_t docs;        /* non-blank: documents read */
    uint64_t bad_records; /* would be rejected (or fail the run) */
    uint64_t empty_docs;  /* valid with an empty text: skipped */
    uint64_t filtered;    /* left out by the component's filter (filter.h) */
    uint64_t kept_docs;   /* the rest: what the mix weighs */
    uint64_t text_bytes;  /* UTF-8 bytes of the kept texts */
    uint64_t split_docs[PM_SPLIT_COUNT];
    uint64_t split_text_bytes[PM_SPLIT_COUNT];
    uint64_t bad_file; /* 1: corrupt or truncated, skipped by on_bad_file "skip" */
} pm_census_file_t;

#define PM_CENSUS_FILE_WORDS (sizeof(pm_census_file_t) / sizeof(uint64_t))

/* The census of a plan: files[i] is plan file i's. */
typedef struct pm_census {
    pm_census_file_t *files;
    size_t n_files;
} pm_census_t;

int pm_census_init(pm_census_t *c, size_t n_files);
void pm_census_close(pm_census_t *c); /* accepts zeroed */

/* Hash of what changes a component's counts: text_key, meta_key, exclude,
 * max_record_bytes, the seed and the holdout fractions (the train split),
 * and the census's own version. */
uint64_t pm_census_settings(const pm_config_t *cfg, uint32_t component);

/* Read plan file `file` and fill *out. A bad record is counted, never an
 * error; a corrupt file is an error naming it (PM_EDATA), or with
 * on_bad_file "skip" an entry with bad_file = 1 and no documents. poll
 * (may be NULL) is called every MiB or so with the bytes read; a negative
 * return stops the read with that code. */
int pm_census_count_file(const pm_config_t *cfg, const pm_mix_t *mix, const pm_plan_t *plan,
                         uint32_t file, pm_census_file_t *out,
                         int (*poll)(void *ctx, uint64_t bytes), void *poll_ctx, pm_error_t *err);

/* A file's census from the counters the scatter kept reading it (the run
 * fills the cache and the manifest's input entries so). */
void pm_census_from_stats(pm_census_file_t *out, const pm_config_t *cfg, const pm_plan_t *plan,
                          uint32_t file, const pm_task_stats_t *st);

/* WORK/census.json (malloc'd; NULL = out of memory). */
char *pm_census_cache_path(const pm_config_t *cfg);

/* Fill the entries of c whose key matches the cache; *hits counts them.
 * A missing cache is no error; a damaged one is ignored with a one-line
 * note in warn (empty otherwise). Only PM_ENOMEM fails. */
int pm_census_cache_load(pm_census_t *c, const pm_config_t *cfg, const pm_plan_t *plan,
                         size_t *hits, char *warn, size_t warn_size, pm_error_t *err);

/* Write every valid entry of c, and the entries of the old cache for files
 * not in this plan, atomically (creating the work directory if needed). */
int pm_census_cache_save(const pm_census_t *c, const pm_config_t *cfg, const pm_plan_t *plan,
                         pm_error_t *err);

/* Per component sums (docs, text bytes, splits, ...) into comp[n_components]. */
void pm_census_components(const pm_census_t *c, const pm_plan_t *plan, size_t n_components,
                          pm_census_file_t *comp);

/* Shares into epochs (DESIGN 1.3a), from each component's train text bytes:
 * T = output.train_bytes, or without it the largest total for which no
 * component needs more than its max_epochs; epochs_c = share_c * T /
 * train_c. A share that would need more than max_epochs (or a component
 * with no train text) is PM_ECONFIG naming the component and the epochs
 * it would need. *total gets T. Configs without shares: their epochs. */
int pm_shares_solve(const pm_config_t *cfg, const pm_census_file_t *comp, double *epochs,
                    double *total, pm_error_t *err);

/* The Pile paper's Table 1 for the config: component, documents, size (text
 * bytes), mean document, epochs, effective size (size x epochs), share of
 * the mix (effective / total), then totals. epochs[] as pm_shares_solve
 * gave them. */
void pm_census_print_table(const pm_config_t *cfg, const pm_census_file_t *comp,
                           const double *epochs, FILE *out);

/* The same as JSON (a new reference; NULL = out of memory): exact bytes,
 * train text bytes, shares asked where there are. */
json_t *pm_census_table_json(const pm_config_t *cfg, const pm_census_file_t *comp,
                             const double *epochs, double total);

#endif
