/* pm_job_t: what every rank knows about a run, and the counters it keeps.
 *
 * A job is built from the loaded config, the plan (the same on every rank:
 * rank 0 builds it and broadcasts it) and the bucket layout. It derives the
 * per-file identity hashes and the work-directory paths. It is read-only
 * once initialised, so the scatter and gather steps can share it.
 *
 * pm_task_stats_t and pm_comp_stats_t are flat arrays of uint64_t so the MPI
 * layer can sum them with one reduction. */
#ifndef PILEMIX_JOB_H
#define PILEMIX_JOB_H

#include "pilemix/buf.h"
#include "pilemix/canary.h"
#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/filter.h"
#include "pilemix/layout.h"
#include "pilemix/mix.h"
#include "pilemix/plan.h"
#include "pilemix/record.h"

#include <stdint.h>
#include <stdio.h>

/* Document length histogram: bucket k counts texts of 2^k .. 2^(k+1)-1
 * bytes (k = floor(log2(bytes)); texts are never empty here), the last
 * bucket everything longer. 40 buckets reach 1 TiB, far past the 4 GiB
 * record limit. */
#define PM_LEN_BUCKETS 40

static inline unsigned pm_len_bucket(uint64_t bytes)
{
    unsigned k = 0;
    while (bytes > 1 && k + 1 < PM_LEN_BUCKETS) {
        bytes >>= 1;
        k++;
    }
    return k;
}

/* Counters of one scatter task (one input file). Identities that must hold:
 * docs = rejected_total + empty_docs + filtered_total + split_docs[train] +
 * split_docs[val] + split_docs[test]; for each split s, the len_log2[s] buckets sum to
 * split_docs[s]. */
typedef struct pm_task_stats {
    uint64_t bytes_in;                      /* file size on disk */
    uint64_t lines;                         /* every line, blank ones included */
    uint64_t blank_lines;                   /* empty or whitespace-only: ignored */
    uint64_t docs;                          /* non-blank lines: documents read */
    uint64_t rejected[PM_REC_STATUS_COUNT]; /* by pm_record_status_t (slot 0 unused) */
    uint64_t rejected_total;
    uint64_t empty_docs; /* valid records with an empty text: skipped */
    uint64_t text_bytes; /* text bytes of the documents kept (any split) */
    uint64_t split_docs[PM_SPLIT_COUNT];
    uint64_t split_text_bytes[PM_SPLIT_COUNT];
    uint64_t train_copies;      /* copies of train documents emitted */
    uint64_t train_copy_bytes;  /* their text bytes */
    uint64_t train_zero_copies; /* train documents sampled to 0 copies (epochs < 1) */
    uint64_t skipped_files;     /* 1 when on_bad_file "skip" skipped this file whole */
    /* documents per split by text length (PM_LEN_BUCKETS above): held-out
     * documents before holdout duplicates are dropped, train documents
     * once each (not per copy) */
    uint64_t len_log2[PM_SPLIT_COUNT][PM_LEN_BUCKETS];
    /* documents the component's filter dropped (filter.h), by reason (slot 0,
     * "kept", unused), and in all; they are neither in a split nor copied */
    uint64_t filtered[PM_FILTER_REASONS];
    uint64_t filtered_total;
    /* Last, and not summed by pm_task_stats_add: the XXH3-64 of the input
     * file's bytes on disk, computed while reading it (the manifest records
     * it, `pilemix reproduce` checks it, the census cache keeps it). */
    uint64_t file_xxh3;
} pm_task_stats_t;

#define PM_TASK_STATS_WORDS (sizeof(pm_task_stats_t) / sizeof(uint64_t))

/* Sum the counters (every word but file_xxh3). */
void pm_task_stats_add(pm_task_stats_t *into, const pm_task_stats_t *s);

/* The opaque blob a task commits with its spill: pm_task_stats_t, then,
 * when the task read an archive, its member names in the order met (the
 * spill records' member index - 1): u32 count, then per name u32 length
 * and the bytes. A blob of exactly sizeof(pm_task_stats_t) has no members.
 * Host byte order, as the spills. */
int pm_task_blob_encode(pm_buf_t *out, const pm_task_stats_t *st, char *const *members,
                        uint32_t n_members);

typedef struct pm_job {
    const pm_config_t *cfg;
    const pm_plan_t *plan;
    pm_mix_t mix;
    pm_layout_t layout;
    uint64_t *file_hash; /* per plan file: pm_file_hash(component, relpath) */
    /* Per plan file, the member names of an archive (from its task's blob;
     * pm_job_load_task_blob): members[f][m - 1] is member m's path, and
     * member_order[f][m - 1] its rank (1..n) among them by path. */
    char ***members;
    uint32_t *n_members;
    uint32_t **member_order;
    /* per plan file: its rank in identity order (component name, then
     * identity path, byte-wise, an archive's as relpath + "/"): identities
     * compare as (file_order, member rank, offset, copy) without touching
     * the strings */
    uint32_t *file_order;
    char *spill_dir;        /* WORK/spill: the spill streams */
    char *rejects_dir;      /* WORK/rejects */
    char *results_dir;      /* WORK/results: per-output-file gather results */
    pm_canaries_t canaries; /* output.canaries, derived once (sorted by key); empty: none */
} pm_job_t;

int pm_job_init(pm_job_t *job, const pm_config_t *cfg, const pm_plan_t *plan,
                const pm_layout_t *layout, pm_error_t *err);
void pm_job_close(pm_job_t *job);

/* WORK/rejects/task-NNNNNNN.jsonl (spill streams: pm_spill_stream_path in
 * job->spill_dir) */
int pm_job_rejects_path(const pm_job_t *job, uint32_t task, pm_buf_t *out);

/* Output file names relative to OUTDIR: "train/07.jsonl.zst", "val.jsonl.zst". */
int pm_job_output_name(const pm_job_t *job, uint32_t file, pm_buf_t *out);

/* Decode a task's committed blob into *st, and keep its member names in
 * the job (the gather's identity order and messages need them on every
 * rank). PM_ESTATE when the blob is malformed. */
int pm_job_load_task_blob(pm_job_t *job, uint32_t task, const void *blob, size_t len,
                          pm_task_stats_t *st, pm_error_t *err);

/* Identity path of (file, member): relpath, or relpath + "/" + member path
 * (DESIGN 1.4). Appended to out; < 0 only for lack of memory or a member
 * the job does not know (PM_EINTERNAL). */
int pm_job_identity_path(const pm_job_t *job, uint32_t file, uint32_t member, pm_buf_t *out);

/* A member's rank among its file's members by path (0 for member 0, a
 * plain file's documents): with file_order, the identity order as numbers.
 * The member must be known (m <= n_members[f], checked by the reader). */
static inline uint32_t pm_job_member_rank(const pm_job_t *job, uint32_t f, uint32_t m)
{
    return m ? job->member_order[f][m - 1] : 0;
}

/* Component name of a plan file. */
static inline const char *pm_job_file_component(const pm_job_t *job, uint32_t file)
{
    return job->cfg->components[job->plan->files[file].component].name;
}

/* The canaries train file f holds: job->canaries.v[*first .. *first + *count)
 * (none for val and test). */
void pm_job_file_canaries(const pm_job_t *job, uint32_t file, size_t *first, size_t *count);

/* Estimated uncompressed bytes a plan file holds (for layout and ordering). */
uint64_t pm_job_estimate_bytes(const pm_input_file_t *f);

/* Bytes the gather may hold per bucket pass for a budget of mem bytes. */
uint64_t pm_job_bucket_budget(uint64_t mem_per_rank);

/* Bytes of the scatter spill arena for a budget of mem bytes. */
uint64_t pm_job_spill_arena(uint64_t mem_per_rank, uint64_t max_record_bytes);

/* zstd worker threads for a rank's shard writer: its share of the node's
 * cores (online_cores / ranks_on_node, and no more than the usable_cores of
 * its affinity mask when mpirun binds it) less the one its own thread uses,
 * at most an eighth of the budget at 16 MiB each, and at least 1 (output
 * bytes are the same for any count >= 1, not for 0). */
int pm_job_zstd_workers(long online_cores, long ranks_on_node, long usable_cores,
                        uint64_t mem_per_rank);

/* What a run will need on disk, estimated before it starts (`plan` prints
 * it, `run` checks the work directory's file system against it). Files are
 * sampled (the first MiB of each, at most ~1000 files spread over the plan:
 * compression ratio, the spill record bytes per input byte, the output
 * line bytes and their compression at output.zstd_level); unsampled files
 * take their component's and format's average. Expected copies follow the
 * epochs and fractions, so the figures are for the whole corpus. */
typedef struct pm_job_space {
    uint64_t input_bytes;  /* uncompressed input */
    uint64_t spill_bytes;  /* the work directory's spill streams */
    uint64_t output_bytes; /* the output files, compressed */
    size_t sampled_files;
} pm_job_space_t;

int pm_job_estimate_space(const pm_config_t *cfg, const pm_plan_t *plan, pm_job_space_t *sp,
                          pm_error_t *err);

/* Free bytes (for an unprivileged user) of the file system that holds path,
 * or its nearest existing parent when path does not exist yet. */
int pm_job_fs_free(const char *path, uint64_t *free_bytes, pm_error_t *err);

/* "12.3 GiB" into buf. */
void pm_job_format_size(uint64_t bytes, char *buf, size_t n);

/* The space lines of `plan`: what the work directory and the output will
 * need, and what their file systems have free. */
void pm_job_print_space(const pm_config_t *cfg, const pm_job_space_t *sp, FILE *out);

/* Choose the layout from the plan and budget. */
void pm_job_choose_layout(const pm_config_t *cfg, const pm_plan_t *plan, uint64_t mem_per_rank,
                          pm_layout_t *layout);

#endif
