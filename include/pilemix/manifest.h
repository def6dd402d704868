/* The finish step's files: OUTDIR/manifest.json, OUTDIR/XXH128SUMS and
 * OUTDIR/rejects/rejects.jsonl. Rank 0 only.
 *
 * The manifest is itself deterministic (no times, ranks, hosts or absolute
 * paths): versions, the config's canonical form and hash, per-component
 * counters and per-file sizes and checksums. XXH128SUMS lists every output
 * file (and the rejects file) in `xxh128sum -c` format, relative to OUTDIR. */
#ifndef PILEMIX_MANIFEST_H
#define PILEMIX_MANIFEST_H

#include "pilemix/census.h"
#include "pilemix/job.h"
#include "pilemix/totals.h"

#include <jansson.h>

/* Concatenate the tasks' rejects files in task order into
 * OUTDIR/rejects/rejects.jsonl (only when any exist). *written is set to
 * whether the file was made, res to its size and checksums. */
int pm_rejects_merge(const pm_job_t *job, bool *written, pm_file_result_t *res, pm_error_t *err);

/* inputs (may be NULL): the census of the plan's files as the run read
 * them (their XXH3-64, documents and text bytes go in each input entry). */
int pm_manifest_write(const pm_job_t *job, const pm_totals_t *t, bool has_rejects,
                      const pm_file_result_t *rejects, const pm_census_t *inputs, pm_error_t *err);

/* output.canaries: the list of the canaries, `<output.dir>.canaries.jsonl`
 * next to the output (never inside it: the dataset must not give them
 * away), mode 0600, written atomically. One line per canary by index:
 * {"index", "xxh128" (of the text), "shard", "line" (1-based),
 * "pile_set_name", "text"}. The lines come from the train files' result
 * records (state.h), so a resumed run lists the reused files' canaries too. */
int pm_canary_list_write(const pm_job_t *job, pm_error_t *err);

/* "<output.dir>.canaries.jsonl" (trailing slashes of the dir dropped). */
int pm_canary_list_path(const char *out_dir, pm_buf_t *out);

/* Load OUTDIR dir's manifest.json (a new reference), or NULL with err
 * filled (PM_EDATA: missing, not JSON, no files/components arrays). */
json_t *pm_manifest_load(const char *dir, pm_error_t *err);

/* 1: first release. 2: adds per component "split_text_bytes" (text bytes
 * of the documents each split got) and "doc_length_log2" (per split, the
 * documents by text length: element k counts texts of 2^k .. 2^(k+1)-1
 * bytes). Readers accept both; a format 1 manifest has no histogram. */
/* 3: each component's input_files entries gain "xxh3" (XXH3-64 of the
 * file's bytes on disk, 16 hex digits), "documents" (kept) and "text_bytes",
 * which `pilemix reproduce` checks; a config weighed by shares adds per
 * component "share_asked" and "share_realized" (its fraction of the train
 * text written), and "epochs" holds the epochs the census gave. */
#define PM_MANIFEST_FORMAT 3

#endif
