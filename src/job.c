#include "pilemix/job.h"

#include "pilemix/dedup.h"

#include "pilemix/fsutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_task_stats_add(pm_task_stats_t *into, const pm_task_stats_t *s)
{
    uint64_t *a = (uint64_t *)into;
    const uint64_t *b = (const uint64_t *)s;
    for (size_t i = 0; i < PM_TASK_STATS_WORDS; i++)
        a[i] += b[i];
}

int pm_job_init(pm_job_t *job, const pm_config_t *cfg, const pm_plan_t *plan,
                const pm_layout_t *layout, pm_error_t *err)
{
    memset(job, 0, sizeof *job);
    job->cfg = cfg;
    job->plan = plan;
    job->layout = *layout;
    pm_mix_init(&job->mix, cfg->seed, cfg->val_fraction, cfg->test_fraction);
    job->file_hash = calloc(plan->n_files + 1, sizeof(uint64_t));
    job->members = calloc(plan->n_files + 1, sizeof *job->members);
    job->n_members = calloc(plan->n_files + 1, sizeof *job->n_members);
    job->spill_dir = pm_path_join(cfg->work_dir, "spill");
    job->rejects_dir = pm_path_join(cfg->work_dir, "rejects");
    job->results_dir = pm_path_join(cfg->work_dir, "results");
    if (!job->file_hash || !job->members || !job->n_members || !job->spill_dir ||
        !job->rejects_dir || !job->results_dir) {
        pm_job_close(job);
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    }
    for (size_t i = 0; i < plan->n_files; i++)
        job->file_hash[i] =
            pm_file_hash(cfg->components[plan->files[i].component].name, plan->files[i].relpath);
    if (cfg->canaries) {
        int rc = pm_canaries_derive(&job->canaries, cfg->canaries->secret, cfg->canaries->count,
                                    cfg->n_components, err);
        if (rc < 0) {
            pm_job_close(job);
            return rc;
        }
    }
    return 0;
}

void pm_job_file_canaries(const pm_job_t *job, uint32_t file, size_t *first, size_t *count)
{
    *first = *count = 0;
    if (!job->canaries.n || pm_layout_file_split(&job->layout, file) != PM_SPLIT_TRAIN)
        return;
    uint64_t lo, hi;
    pm_key_range(job->layout.train_shards, file, &lo, &hi);
    pm_canaries_range(&job->canaries, lo, hi, first, count);
}

static void free_members(pm_job_t *job, size_t f)
{
    for (uint32_t m = 0; m < job->n_members[f]; m++)
        free(job->members[f][m]);
    free(job->members[f]);
    job->members[f] = NULL;
    job->n_members[f] = 0;
}

void pm_job_close(pm_job_t *job)
{
    if (job->members)
        for (size_t f = 0; f < job->plan->n_files; f++)
            free_members(job, f);
    free(job->members);
    free(job->n_members);
    free(job->file_hash);
    pm_canaries_free(&job->canaries);
    free(job->spill_dir);
    free(job->rejects_dir);
    free(job->results_dir);
    memset(job, 0, sizeof *job);
}

int pm_job_spill_path(const pm_job_t *job, uint32_t task, pm_buf_t *out)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/task-%07u.spill", job->spill_dir, task);
}

int pm_job_rejects_path(const pm_job_t *job, uint32_t task, pm_buf_t *out)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/task-%07u.jsonl", job->rejects_dir, task);
}

int pm_job_output_name(const pm_job_t *job, uint32_t file, pm_buf_t *out)
{
    pm_split_t split = pm_layout_file_split(&job->layout, file);
    pm_buf_reset(out);
    if (split != PM_SPLIT_TRAIN)
        return pm_buf_printf(out, "%s.jsonl.zst", pm_split_name(split));
    int width = snprintf(NULL, 0, "%u", job->layout.train_shards - 1);
    return pm_buf_printf(out, "train/%0*u.jsonl.zst", width, file);
}

uint64_t pm_job_estimate_bytes(const pm_input_file_t *f)
{
    /* Text compresses about 3-4x with zstd; over-estimating only makes
     * buckets smaller, under-estimating makes gather take extra passes. */
    if (f->format == PM_FORMAT_JSONL || f->format == PM_FORMAT_JSONL_ZST)
        return f->format == PM_FORMAT_JSONL_ZST ? f->size * 4 : f->size; /* as always */
    /* gzip ~3-4x on text, xz and bzip2 more; an archive may hold either. */
    return pm_format_compressed(f->format) ? f->size * 5 : f->size;
}

/* Test-only overrides (documented in README, "Testing"): force tiny buckets
 * or tiny gather passes on a small corpus, to exercise the paths a large
 * corpus takes. They change how work is cut, never the output. */
static uint64_t test_override(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : 0;
}

uint64_t pm_job_bucket_budget(uint64_t mem)
{
    uint64_t forced = test_override("PILEMIX_TEST_GATHER_BYTES");
    if (forced)
        return forced;
    /* Records plus a 24-byte sort entry each, beside the compressor and the
     * spill read buffers. */
    uint64_t b = mem / 4;
    return b < (1u << 20) ? (1u << 20) : b;
}

uint64_t pm_job_spill_arena(uint64_t mem, uint64_t max_record_bytes)
{
    /* Half the budget, less what the reader, the parsed record and the line
     * may hold when a record is as long as allowed (they are rarely that big,
     * so the reserve never takes the arena below a useful size). */
    uint64_t reserve = 3 * max_record_bytes + (16u << 20);
    uint64_t a = mem / 2;
    if (mem > reserve && mem - reserve < a)
        a = mem - reserve;
    return a < (4u << 20) ? (4u << 20) : a;
}

int pm_job_zstd_workers(long online_cores, long ranks_on_node, long usable_cores,
                        uint64_t mem_per_rank)
{
    long share =
        online_cores > ranks_on_node && ranks_on_node > 0 ? online_cores / ranks_on_node : 1;
    /* More threads than cores only contend (measured: 2 workers on a 2-core
     * node cost more CPU and wall than 1). */
    if (usable_cores > 0 && usable_cores < share)
        share = usable_cores;
    long w = share - 1;
    /* Each worker holds ~12 MiB of job buffers at level 3 (measured). */
    uint64_t by_memory = mem_per_rank / 8 / (16u << 20);
    if ((uint64_t)w > by_memory)
        w = (long)by_memory;
    if (w > 64)
        w = 64;
    return w < 1 ? 1 : (int)w;
}

void pm_job_choose_layout(const pm_config_t *cfg, const pm_plan_t *plan, uint64_t mem_per_rank,
                          pm_layout_t *layout)
{
    long double train = 0, val = 0, test = 0;
    double keep = 1.0 - cfg->val_fraction - cfg->test_fraction;
    for (size_t i = 0; i < plan->n_files; i++) {
        long double est = (long double)pm_job_estimate_bytes(&plan->files[i]);
        train += est * cfg->components[plan->files[i].component].epochs * keep;
        val += est * cfg->val_fraction;
        test += est * cfg->test_fraction;
    }
    uint64_t bucket = test_override("PILEMIX_TEST_LAYOUT_BYTES");
    pm_layout_choose(layout, cfg->train_shards, (uint64_t)train, (uint64_t)val, (uint64_t)test,
                     bucket ? bucket : pm_job_bucket_budget(mem_per_rank));
    layout->dedup_buckets = 0;
    if (cfg->dedup == PM_DEDUP_EXACT) {
        /* One digest record per document: guess documents of 512 bytes (a
         * bucket that turns out bigger is read in digest sub-ranges). */
        long double docs = (train / 2 + val + test) / 512 + 1;
        uint64_t per = bucket ? bucket : pm_job_bucket_budget(mem_per_rank);
        long double n = docs * PM_DEDUP_REC_BYTES / (long double)(per ? per : 1) + 1;
        layout->dedup_buckets = n > PM_MAX_BUCKETS_PER_FILE ? PM_MAX_BUCKETS_PER_FILE : (uint32_t)n;
    }
}

int pm_task_blob_encode(pm_buf_t *out, const pm_task_stats_t *st, char *const *members,
                        uint32_t n_members)
{
    pm_buf_reset(out);
    PM_TRY(pm_buf_append(out, st, sizeof *st));
    if (n_members == 0)
        return 0;
    PM_TRY(pm_buf_append(out, &n_members, sizeof n_members));
    for (uint32_t i = 0; i < n_members; i++) {
        uint32_t len = (uint32_t)strlen(members[i]);
        PM_TRY(pm_buf_append(out, &len, sizeof len));
        PM_TRY(pm_buf_append(out, members[i], len));
    }
    return 0;
}

int pm_job_load_task_blob(pm_job_t *job, uint32_t task, const void *blob, size_t len,
                          pm_task_stats_t *st, pm_error_t *err)
{
    const char *p = blob, *end = p + len;
    if (len < sizeof *st)
        return pm_error_set(err, PM_ESTATE, NULL, 0, "task %u: commit record too short", task);
    memcpy(st, p, sizeof *st);
    p += sizeof *st;
    free_members(job, task);
    if (p == end)
        return 0;
    uint32_t n;
    if (end - p < (ptrdiff_t)sizeof n)
        goto bad;
    memcpy(&n, p, sizeof n);
    p += sizeof n;
    if (n > (size_t)(end - p) / sizeof(uint32_t))
        goto bad;
    if (!(job->members[task] = calloc(n, sizeof(char *))))
        return pm_error_nomem(err);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        if (end - p < (ptrdiff_t)sizeof l)
            goto bad;
        memcpy(&l, p, sizeof l);
        p += sizeof l;
        if ((size_t)(end - p) < l)
            goto bad;
        if (!(job->members[task][i] = strndup(p, l)))
            return pm_error_nomem(err);
        job->n_members[task] = i + 1;
        p += l;
    }
    if (p == end)
        return 0;
bad:
    free_members(job, task);
    return pm_error_set(err, PM_ESTATE, NULL, 0, "task %u: damaged member list in its commit",
                        task);
}

int pm_job_identity_path(const pm_job_t *job, uint32_t file, uint32_t member, pm_buf_t *out)
{
    const char *rel = job->plan->files[file].relpath;
    if (member == 0)
        return pm_buf_append_str(out, rel);
    if (member > job->n_members[file])
        return PM_EINTERNAL;
    return pm_buf_printf(out, "%s/%s", rel, job->members[file][member - 1]);
}

/* The bytes of relpath [+ "/" + member] one at a time: 0 past the end
 * (identity paths hold no NUL). */
typedef struct ident_iter {
    const char *parts[3];
    int k;
} ident_iter_t;

static void ident_init(ident_iter_t *it, const pm_job_t *job, uint32_t f, uint32_t m)
{
    it->parts[0] = job->plan->files[f].relpath;
    it->parts[1] = m && m <= job->n_members[f] ? "/" : "";
    it->parts[2] = m && m <= job->n_members[f] ? job->members[f][m - 1] : "";
    it->k = 0;
}

static unsigned char ident_next(ident_iter_t *it)
{
    while (it->k < 3 && !*it->parts[it->k])
        it->k++;
    return it->k < 3 ? (unsigned char)*it->parts[it->k]++ : 0;
}

int pm_job_cmp_identity_path(const pm_job_t *job, uint32_t fa, uint32_t ma, uint32_t fb,
                             uint32_t mb)
{
    if (fa == fb && ma == mb)
        return 0;
    ident_iter_t a, b;
    ident_init(&a, job, fa, ma);
    ident_init(&b, job, fb, mb);
    for (;;) {
        unsigned char x = ident_next(&a), y = ident_next(&b);
        if (x != y)
            return x < y ? -1 : 1;
        if (!x)
            return 0;
    }
}
