#include "pilemix/job.h"

#include "pilemix/fsutil.h"

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

static int by_identity(const void *pa, const void *pb, void *ctx)
{
    const pm_job_t *order_job = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    int r = strcmp(pm_job_file_component(order_job, a), pm_job_file_component(order_job, b));
    if (r == 0)
        r = strcmp(order_job->plan->files[a].relpath, order_job->plan->files[b].relpath);
    return r ? r : (a < b ? -1 : a > b);
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
    job->file_order = calloc(plan->n_files + 1, sizeof(uint32_t));
    uint32_t *by = calloc(plan->n_files + 1, sizeof(uint32_t));
    job->spill_dir = pm_path_join(cfg->work_dir, "spill");
    job->rejects_dir = pm_path_join(cfg->work_dir, "rejects");
    job->results_dir = pm_path_join(cfg->work_dir, "results");
    if (!job->file_hash || !job->file_order || !by || !job->spill_dir || !job->rejects_dir ||
        !job->results_dir) {
        free(by);
        pm_job_close(job);
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    }
    for (size_t i = 0; i < plan->n_files; i++) {
        job->file_hash[i] =
            pm_file_hash(cfg->components[plan->files[i].component].name, plan->files[i].relpath);
        by[i] = (uint32_t)i;
    }
    qsort_r(by, plan->n_files, sizeof *by, by_identity, job);
    for (size_t i = 0; i < plan->n_files; i++)
        job->file_order[by[i]] = (uint32_t)i;
    free(by);
    return 0;
}

void pm_job_close(pm_job_t *job)
{
    free(job->file_hash);
    free(job->file_order);
    free(job->spill_dir);
    free(job->rejects_dir);
    free(job->results_dir);
    memset(job, 0, sizeof *job);
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
    return f->format == PM_FORMAT_JSONL_ZST ? f->size * 4 : f->size;
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
}
