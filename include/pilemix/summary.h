/* The run summary: one row per component (documents read, epochs asked and
 * realized, copies written per split, text bytes, rejected records), a total
 * row and a line about the output files.
 *
 * `pilemix run` prints it from its totals (totals.c) and `pilemix stats`
 * from the manifest (pm_summary_from_manifest): both fill a pm_summary_t and
 * print it with pm_summary_print, so the two print the same table for the
 * same run. Names are borrowed from the totals' config or the manifest. */
#ifndef PILEMIX_SUMMARY_H
#define PILEMIX_SUMMARY_H

#include "pilemix/error.h"
#include "pilemix/filter.h"
#include "pilemix/mix.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pm_summary_row {
    const char *name; /* borrowed */
    uint64_t docs;    /* documents read */
    uint64_t text_bytes;
    uint64_t emitted[PM_SPLIT_COUNT]; /* copies written per split */
    uint64_t rejected;
    uint64_t empty_docs, blank_lines;
    double epochs, realized;
    double share_asked;    /* a share config's; NAN when weighed by epochs */
    double share_realized; /* train text written (copies) / the train total */
    /* optional stages (DESIGN 1.7): shown below the table when used */
    bool has_filter;
    uint64_t filtered, filtered_by[PM_FILTER_REASONS]; /* by pm_filter_reason_t */
    uint64_t dedup_dups; /* documents dropped as exact duplicates (output.dedup) */
} pm_summary_row_t;

typedef struct pm_summary {
    pm_summary_row_t *rows;
    size_t n_rows;
    uint64_t n_files; /* output data files (train, val, test; not rejects) */
    uint64_t zst_bytes, raw_bytes;
    bool shares;       /* the config weighs by share: the table shows them */
    bool dedup;        /* output.dedup is "exact" */
    uint64_t canaries; /* canary documents in train (output.canaries) */
} pm_summary_t;

/* Rows for n components, zeroed. 0 or PM_ENOMEM. */
int pm_summary_init(pm_summary_t *s, size_t n);
void pm_summary_free(pm_summary_t *s); /* accepts zeroed */

/* From a loaded manifest (borrowing its strings): PM_EDATA with err filled
 * when a member it needs is missing or of the wrong type. */
int pm_summary_from_manifest(pm_summary_t *s, json_t *manifest, pm_error_t *err);

void pm_summary_print(const pm_summary_t *s, FILE *out);

#endif
