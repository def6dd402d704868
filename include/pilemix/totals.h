/* pm_totals_t: the counters of a whole run, summed over tasks and ranks.
 *
 * Filled by the MPI layer from the spills' stats (scatter) and the gather
 * outcomes, then used for the accounting check, the manifest and the
 * summary. Stored as one flat uint64_t array so it can be reduced at once:
 *   comp[c]          scatter counters of component c (pm_task_stats_t)
 *   emitted[c][s]    documents written to split s
 *   dups[c][s]       holdout duplicates dropped from split s
 *   files[f]         per output file result (pm_file_result_t as words)
 *   passes           gather bucket passes
 *   canary_docs      canaries written (no component's; train files hold them)
 *   dedup            exact dedup: documents lost per component and split, their
 *                    train copies, and per pair (loser's, winner's component) */
#ifndef PILEMIX_TOTALS_H
#define PILEMIX_TOTALS_H

#include "pilemix/dedup.h"
#include "pilemix/gather.h"
#include "pilemix/job.h"
#include "pilemix/shard_writer.h"

#include <stdio.h>

#define PM_FILE_RESULT_WORDS (sizeof(pm_file_result_t) / sizeof(uint64_t))

typedef struct pm_totals {
    size_t n_components, n_files;
    uint64_t *words; /* the flat array, pm_totals_words() long */
    pm_task_stats_t *comp;
    uint64_t (*emitted)[PM_SPLIT_COUNT];
    uint64_t (*dups)[PM_SPLIT_COUNT];
    pm_file_result_t *files;
    uint64_t *passes;
    uint64_t *files_reused;  /* output files a resumed run did not rewrite */
    uint64_t *tasks_reused;  /* tasks a resumed run did not redo */
    uint64_t *canary_docs;   /* canaries written to train (output.canaries) */
    pm_dedup_counts_t dedup; /* exact dedup's counters (dedup.h), over its words */
} pm_totals_t;

int pm_totals_init(pm_totals_t *t, size_t n_components, size_t n_files);
void pm_totals_free(pm_totals_t *t);
size_t pm_totals_words(const pm_totals_t *t);

/* Add output file f's gather outcome: its result, its per-component
 * documents and holdout duplicates (to f's split) and its passes. The gather
 * and a resume's reused result records both count a file through here. */
void pm_totals_add_file(pm_totals_t *t, const pm_layout_t *layout, uint32_t file,
                        const pm_gather_out_t *out);

/* Nothing lost, nothing invented: per component, documents read = rejected
 * + empty + train + val + test documents; copies written to train = the
 * copies the epochs decided; val/test written + duplicates = held out; and
 * the files' document counts add up to the components'. A mismatch is a
 * pilemix bug: PM_EINTERNAL with what did not add up. */
int pm_totals_check(const pm_job_t *job, const pm_totals_t *t, pm_error_t *err);

/* Guards against an empty success (DESIGN 1.4), from the scatter counters
 * per component (comp[n_components], summed over every task), before any
 * output file is written:
 * a component that yields no document at all, or one whose bad records
 * exceed run.max_bad_fraction of its documents (with on_bad_record
 * "skip"), fails the job: PM_EDATA naming the component, its main reject
 * reason and a hint (a missing text usually means another text_key). */
int pm_totals_check_inputs(const pm_job_t *job, const pm_task_stats_t *comp, pm_error_t *err);

/* Realized epochs of a component: train copies / train documents. */
double pm_totals_realized_epochs(const pm_totals_t *t, size_t comp);

/* Component c's share of the train text written (copies counted). */
double pm_totals_realized_share(const pm_totals_t *t, size_t c);

/* Human summary table (one row per component, plus totals). */
void pm_totals_print_summary(const pm_job_t *job, const pm_totals_t *t, FILE *out);

#endif
