/* The MPI job: rank 0 prepares (config, plan, directories, lock), every rank
 * scatters tasks and gathers output files handed out by dispatch.c, rank 0
 * finishes (accounting check, manifest, sums, summary). See DESIGN 2. */
#include "run.h"

#include "dispatch.h"
#include "progress.h"
#include "pilemix/fault.h"
#include "pilemix/state.h"

#include "pilemix/config_wire.h"
#include "pilemix/fsutil.h"
#include "pilemix/gather.h"
#include "pilemix/job.h"
#include "pilemix/manifest.h"
#include "pilemix/scatter.h"
#include "pilemix/totals.h"

#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void report(int rank, const pm_error_t *err)
{
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(err, line, sizeof line);
    if (rank == 0)
        fprintf(stderr, "pilemix: error: %s\n", line);
    else
        fprintf(stderr, "pilemix: error (rank %d): %s\n", rank, line);
    fflush(stderr);
}

/* ---- broadcast helpers ---- */

static int bcast_string(char **s, int root, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    long long len = (rank == root && *s) ? (long long)strlen(*s) : -1;
    MPI_Bcast(&len, 1, MPI_LONG_LONG, root, comm);
    if (len < 0)
        return PM_EINTERNAL;
    if (rank != root) {
        *s = malloc((size_t)len + 1);
        if (!*s) {
            /* Returning would leave the other ranks in the broadcast. */
            fprintf(stderr, "pilemix: error (rank %d): out of memory receiving the plan\n", rank);
            MPI_Abort(comm, 1);
        }
        (*s)[len] = '\0';
    }
    /* Large plans may pass 2 GiB; send in chunks that fit an int count. */
    for (long long off = 0; off < len; off += 1 << 30) {
        long long n = len - off < (1 << 30) ? len - off : (1 << 30);
        MPI_Bcast(*s + off, (int)n, MPI_CHAR, root, comm);
    }
    return 0;
}

/* ---- the run ---- */

typedef struct run {
    const pm_run_opts_t *opts;
    int rank, size;
    pm_config_t cfg;
    pm_plan_t plan;
    pm_layout_t layout;
    pm_job_t job;
    bool have_cfg, have_plan, have_job;
    pm_state_t state;   /* rank 0 */
    pm_totals_t totals; /* per rank, reduced to rank 0 at the end */
    pm_spill_reader_t **spills;
    uint64_t *bucket_records, *bucket_bytes;
    pm_dispatch_t dispatch;
    pm_progress_t progress;
    bool aborted; /* this rank stopped because another one failed */
    double t_start, t_scatter, t_gather;
} run_t;

/* Rank 0: load, validate, plan, prepare directories. */
static int prepare(run_t *r, pm_error_t *err)
{
    const pm_run_opts_t *o = r->opts;
    PM_TRY(pm_config_load(&r->cfg, o->config_path, err));
    r->have_cfg = true;
    if (o->work_dir) {
        free(r->cfg.work_dir);
        r->cfg.work_dir = strdup(o->work_dir);
        if (!r->cfg.work_dir)
            return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    }
    if (o->mem_per_rank)
        r->cfg.mem_per_rank = o->mem_per_rank;
    PM_TRY(pm_plan_build(&r->plan, &r->cfg, err));
    r->have_plan = true;
    pm_job_choose_layout(&r->cfg, &r->plan, r->cfg.mem_per_rank, &r->layout);
    return pm_state_prepare(&r->state, &r->cfg, &r->plan, &r->layout, o->resume, o->force, err);
}

static int share_setup(run_t *r, int status, pm_error_t *err)
{
    MPI_Request req;
    MPI_Ibcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_quiet_wait(&req); /* rank 0 may spend a while planning */
    if (status < 0)
        return status;
    char *cfg_json = r->rank == 0 ? pm_config_pack(&r->cfg) : NULL;
    char *plan_json = r->rank == 0 ? pm_plan_to_json(&r->plan) : NULL;
    int rc = bcast_string(&cfg_json, 0, MPI_COMM_WORLD);
    rc = rc ? rc : bcast_string(&plan_json, 0, MPI_COMM_WORLD);
    MPI_Bcast(&r->layout, sizeof r->layout, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc == 0 && r->rank != 0) {
        rc = pm_config_unpack(&r->cfg, cfg_json, err);
        r->have_cfg = rc == 0;
        if (rc == 0) {
            rc = pm_plan_from_json(&r->plan, plan_json, err);
            r->have_plan = rc == 0;
        }
    }
    free(cfg_json);
    free(plan_json);
    if (rc == 0) {
        rc = pm_job_init(&r->job, &r->cfg, &r->plan, &r->layout, err);
        r->have_job = rc == 0;
    }
    if (rc == 0 && pm_totals_init(&r->totals, r->cfg.n_components, pm_layout_files(&r->layout)) < 0)
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    if (rc < 0)
        report(r->rank, err);
    /* Every rank goes on to the scatter, or none does. */
    int agreed;
    MPI_Iallreduce(&rc, &agreed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    pm_mpi_quiet_wait(&req);
    return agreed;
}

static int poll_cb(void *ctx, uint64_t bytes_in_task)
{
    run_t *r = ctx;
    if (r->rank != 0)
        return 0;
    if (pm_dispatch_poll(&r->dispatch)) {
        r->aborted = true;
        return PM_EINTERNAL;
    }
    pm_progress_update(&r->progress, r->dispatch.items_done,
                       r->dispatch.bytes_done + bytes_in_task);
    return 0;
}

/* Order by size, largest first (ties by index, so the queue is stable). */
static const uint64_t *sort_sizes;
static int by_size_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sort_sizes[x] != sort_sizes[y])
        return sort_sizes[x] > sort_sizes[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static uint32_t *make_queue(const uint64_t *sizes, const bool *skip, size_t n, size_t *n_queue)
{
    uint32_t *q = malloc((n + 1) * sizeof *q);
    if (!q)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            q[k++] = (uint32_t)i;
    sort_sizes = sizes;
    qsort(q, k, sizeof *q, by_size_desc);
    *n_queue = k;
    return q;
}

static int scatter(run_t *r, pm_error_t *err)
{
    size_t n_tasks = r->plan.n_files, n_queue = 0;
    uint32_t *queue = NULL;
    uint64_t total_bytes = 0;
    /* On resume, which tasks are committed: every rank verifies its share of
     * the spills (a full read each), then all agree. */
    unsigned char *done = calloc(n_tasks + 1, 1);
    if (!done)
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    if (r->opts->resume) {
        for (size_t i = (size_t)r->rank; i < n_tasks; i += (size_t)r->size)
            done[i] = pm_state_task_done(&r->job, (uint32_t)i);
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, done, (int)n_tasks, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD,
                       &req);
        pm_mpi_quiet_wait(&req);
    }
    if (r->rank == 0) {
        uint64_t *sizes = malloc((n_tasks + 1) * sizeof *sizes);
        bool *skip = calloc(n_tasks + 1, sizeof *skip);
        if (!sizes || !skip) {
            free(sizes);
            free(skip);
            free(done);
            return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
        }
        for (size_t i = 0; i < n_tasks; i++) {
            /* Largest first by the text a file holds, not its size on disk:
             * a .zst holds ~3-4x its size, so a big one handed out late
             * would leave the other ranks idle at the end. */
            sizes[i] = pm_job_estimate_bytes(&r->plan.files[i]);
            skip[i] = done[i];
            if (done[i])
                (*r->totals.tasks_reused)++;
            else
                total_bytes += r->plan.files[i].size; /* progress counts bytes read */
        }
        queue = make_queue(sizes, skip, n_tasks, &n_queue);
        free(sizes);
        free(skip);
        if (!queue) {
            free(done);
            return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
        }
        pm_progress_begin(&r->progress, "scatter", "files", n_queue, total_bytes,
                          r->opts->progress_secs);
    }
    free(done);
    uint64_t max_rej = r->cfg.on_bad_record == PM_ON_BAD_SKIP ? r->cfg.max_bad_records : UINT64_MAX;
    pm_dispatch_begin(&r->dispatch, MPI_COMM_WORLD, queue, n_queue, max_rej);
    uint64_t arena = pm_job_spill_arena(r->cfg.mem_per_rank, r->cfg.max_record_bytes);
    pm_spill_arena_t staging = {0}; /* kept from task to task, freed before the gather */
    pm_item_report_t last = {0, -1, 0, 0};
    uint32_t task;
    int rc = 0;
    while (pm_dispatch_next(&r->dispatch, &last, &task) > 0) {
        pm_task_stats_t st;
        rc = pm_scatter_task(&r->job, task, arena, &staging, &st, poll_cb, r, err);
        if (rc < 0)
            break;
        last = (pm_item_report_t){0, task, (int64_t)st.bytes_in, (int64_t)st.rejected_total};
        pm_fault_hit("scatter-task");
    }
    pm_spill_arena_free(&staging);
    if (rc < 0 && !r->aborted)
        report(r->rank, err);
    int agreed = pm_dispatch_finish(&r->dispatch, r->aborted ? 0 : rc);
    if (r->rank == 0 && r->dispatch.over_rejected) {
        fprintf(stderr,
                "pilemix: error: more than %llu bad records in the job "
                "(run.max_bad_records); see the counts above and %s/rejects/\n",
                (unsigned long long)r->cfg.max_bad_records, r->cfg.work_dir);
    }
    free(queue);
    return agreed;
}

/* Open every task's spill; sum per-bucket totals and the task counters of
 * this rank's share of the spills. */
static int open_spills(run_t *r, pm_error_t *err)
{
    size_t n_tasks = r->plan.n_files;
    uint32_t nb = pm_layout_total_buckets(&r->layout);
    r->spills = calloc(n_tasks + 1, sizeof *r->spills);
    r->bucket_records = calloc(nb, sizeof(uint64_t));
    r->bucket_bytes = calloc(nb, sizeof(uint64_t));
    if (!r->spills || !r->bucket_records || !r->bucket_bytes)
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    pm_buf_t path;
    pm_buf_init(&path);
    int rc = 0;
    for (size_t t = 0; t < n_tasks && rc == 0; t++) {
        rc = pm_job_spill_path(&r->job, (uint32_t)t, &path);
        rc = rc ? rc : pm_spill_reader_open(&r->spills[t], path.data, err);
        if (rc < 0)
            break;
        if (pm_spill_reader_buckets(r->spills[t]) != nb) {
            rc = pm_error_set(err, PM_ESTATE, path.data, 0,
                              "spill has %u buckets, the run expects %u (stale work directory?)",
                              pm_spill_reader_buckets(r->spills[t]), nb);
            break;
        }
        if ((int)(t % (size_t)r->size) != r->rank)
            continue;
        rc = pm_spill_reader_add_totals(r->spills[t], r->bucket_records, r->bucket_bytes, err);
        size_t len;
        const void *blob = pm_spill_reader_stats(r->spills[t], &len);
        if (rc == 0 && len != sizeof(pm_task_stats_t))
            rc = pm_error_set(err, PM_ESTATE, path.data, 0, "spill stats of unexpected size");
        if (rc == 0) {
            pm_task_stats_t st;
            memcpy(&st, blob, sizeof st);
            pm_task_stats_add(&r->totals.comp[r->plan.files[t].component], &st);
        }
    }
    pm_buf_free(&path);
    int agreed = 0;
    if (rc < 0)
        report(r->rank, err);
    MPI_Request req;
    MPI_Iallreduce(&rc, &agreed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    pm_mpi_quiet_wait(&req);
    if (agreed < 0)
        return agreed;
    MPI_Allreduce(MPI_IN_PLACE, r->bucket_records, (int)nb, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, r->bucket_bytes, (int)nb, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    return 0;
}

/* Cores this rank may run on (its affinity mask: mpirun binds ranks to a
 * core or a socket by default), or 0 when unknown. */
static long usable_cores(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    return 0;
}

/* zstd threads per shard writer: see pm_job_zstd_workers. */
static int zstd_workers(const run_t *r)
{
    MPI_Comm node;
    int on_node = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &on_node);
    MPI_Comm_free(&node);
    return pm_job_zstd_workers(sysconf(_SC_NPROCESSORS_ONLN), on_node, usable_cores(),
                               r->cfg.mem_per_rank);
}

static int gather(run_t *r, pm_error_t *err)
{
    uint32_t n_files = pm_layout_files(&r->layout);
    uint32_t *queue = NULL;
    size_t n_queue = 0;
    uint64_t total_bytes = 0;
    if (r->rank == 0) {
        uint64_t *sizes = calloc(n_files, sizeof *sizes);
        bool *done = calloc(n_files, sizeof *done);
        if (!sizes || !done) {
            free(sizes);
            free(done);
            return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
        }
        int rc = 0;
        for (uint32_t f = 0; f < n_files && rc == 0; f++) {
            uint32_t first, count, base;
            uint64_t mult;
            pm_layout_file_buckets(&r->layout, f, &first, &count, &mult, &base);
            for (uint32_t b = first; b < first + count; b++)
                sizes[f] += r->bucket_bytes[b];
            if (r->opts->resume) {
                rc = pm_state_load_file_result(&r->job, f, &r->totals, &done[f], err);
                if (done[f])
                    (*r->totals.files_reused)++;
            }
            if (!done[f])
                total_bytes += sizes[f];
        }
        if (rc == 0)
            queue = make_queue(sizes, done, n_files, &n_queue);
        free(sizes);
        free(done);
        if (rc < 0)
            report(0, err);
        else if (!queue)
            rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
        MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (rc < 0)
            return rc;
        pm_progress_begin(&r->progress, "gather", "files", n_queue, total_bytes,
                          r->opts->progress_secs);
    } else {
        int rc;
        MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (rc < 0)
            return rc;
    }
    pm_gather_mem_t mem = {0}; /* kept from file to file */
    pm_gather_in_t in = {.job = &r->job,
                         .spills = r->spills,
                         .n_spills = r->plan.n_files,
                         .bucket_records = r->bucket_records,
                         .bucket_bytes = r->bucket_bytes,
                         .budget_bytes = pm_job_bucket_budget(r->cfg.mem_per_rank),
                         .zstd_workers = zstd_workers(r),
                         .cctx = ZSTD_createCCtx(),
                         .mem = &mem};
    pm_dispatch_begin(&r->dispatch, MPI_COMM_WORLD, queue, n_queue, UINT64_MAX);
    size_t nc = r->cfg.n_components;
    uint64_t *comp_docs = calloc(nc, sizeof(uint64_t)), *comp_dups = calloc(nc, sizeof(uint64_t));
    int rc = comp_docs && comp_dups ? 0 : pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    pm_item_report_t last = {0, -1, 0, 0};
    uint32_t file;
    while (rc == 0 && pm_dispatch_next(&r->dispatch, &last, &file) > 0) {
        memset(comp_docs, 0, nc * sizeof(uint64_t));
        memset(comp_dups, 0, nc * sizeof(uint64_t));
        pm_gather_out_t out = {.comp_docs = comp_docs, .comp_dups = comp_dups};

        rc = pm_gather_file(&in, file, &out, poll_cb, r, err);
        if (rc < 0)
            break;
        rc = pm_state_save_file_result(&r->job, file, &out, err);
        if (rc < 0)
            break;
        pm_fault_hit("gather-file");
        pm_split_t split = file < r->layout.train_shards    ? PM_SPLIT_TRAIN
                           : file == r->layout.train_shards ? PM_SPLIT_VAL
                                                            : PM_SPLIT_TEST;
        r->totals.files[file] = out.result;
        for (size_t c = 0; c < nc; c++) {
            r->totals.emitted[c][split] += comp_docs[c];
            r->totals.dups[c][split] += comp_dups[c];
        }
        *r->totals.passes += out.passes;
        last = (pm_item_report_t){0, file, (int64_t)out.result.raw_bytes, 0};
    }
    free(comp_docs);
    free(comp_dups);
    ZSTD_freeCCtx(in.cctx);
    pm_gather_mem_free(&mem);
    if (rc < 0 && !r->aborted)
        report(r->rank, err);
    int agreed = pm_dispatch_finish(&r->dispatch, r->aborted ? 0 : rc);
    free(queue);
    return agreed;
}

static int finish(run_t *r, pm_error_t *err)
{
    pm_fault_hit("finish");
    pm_task_stats_t all;
    memset(&all, 0, sizeof all);
    for (size_t c = 0; c < r->cfg.n_components; c++)
        pm_task_stats_add(&all, &r->totals.comp[c]);
    if (r->cfg.on_bad_record == PM_ON_BAD_SKIP && all.rejected_total > r->cfg.max_bad_records)
        return pm_error_set(err, PM_EDATA, NULL, 0,
                            "%llu bad records in the job, more than run.max_bad_records (%llu)",
                            (unsigned long long)all.rejected_total,
                            (unsigned long long)r->cfg.max_bad_records);
    PM_TRY(pm_totals_check(&r->job, &r->totals, err));
    bool has_rejects = false;
    pm_file_result_t rej;
    PM_TRY(pm_rejects_merge(&r->job, &has_rejects, &rej, err));
    PM_TRY(pm_manifest_write(&r->job, &r->totals, has_rejects, &rej, err));
    double now = pm_now();
    printf("pilemix: %s: %zu input files -> %s\n", r->cfg.name, r->plan.n_files, r->cfg.out_dir);
    pm_totals_print_summary(&r->job, &r->totals, stdout);
    if (has_rejects)
        printf("%llu bad records and %llu bad files skipped: see %s/rejects/rejects.jsonl\n",
               (unsigned long long)all.rejected_total, (unsigned long long)all.skipped_files,
               r->cfg.out_dir);
    if (*r->totals.tasks_reused || *r->totals.files_reused)
        printf("resumed: reused %llu of %zu scatter tasks and %llu of %u output files\n",
               (unsigned long long)*r->totals.tasks_reused, r->plan.n_files,
               (unsigned long long)*r->totals.files_reused, pm_layout_files(&r->layout));
    printf("time: %.1f s (scatter %.1f s, gather %.1f s) on %d rank%s; %llu gather passes over "
           "%u buckets\n",
           now - r->t_start, r->t_scatter, r->t_gather, r->size, r->size == 1 ? "" : "s",
           (unsigned long long)*r->totals.passes, pm_layout_total_buckets(&r->layout));
    fflush(stdout);
    return pm_state_complete(&r->state, r->opts->keep_work, err);
}

static void run_close(run_t *r)
{
    if (r->spills)
        for (size_t t = 0; t < r->plan.n_files; t++)
            pm_spill_reader_close(r->spills[t]);
    free(r->spills);
    free(r->bucket_records);
    free(r->bucket_bytes);
    pm_totals_free(&r->totals);
    if (r->have_job)
        pm_job_close(&r->job);
    if (r->have_plan)
        pm_plan_close(&r->plan);
    if (r->have_cfg)
        pm_config_close(&r->cfg);
    pm_state_close(&r->state);
}

static void raise_fd_limit(void)
{
    /* Gather keeps every task's spill open. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int pm_run(const pm_run_opts_t *opts)
{
    run_t r;
    memset(&r, 0, sizeof r);
    r.opts = opts;
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.size);
    pm_state_init(&r.state);
    pm_fault_init(r.rank);
    raise_fd_limit();
    r.t_start = pm_now();
    pm_error_t err;
    pm_error_clear(&err);
    int rc = 0;
    if (r.rank == 0) {
        rc = prepare(&r, &err);
        if (rc < 0)
            report(0, &err);
    }
    rc = share_setup(&r, rc, &err);
    if (rc < 0)
        goto done;
    double t0 = pm_now();
    rc = scatter(&r, &err);
    r.t_scatter = pm_now() - t0;
    if (rc < 0)
        goto done;
    rc = open_spills(&r, &err);
    if (rc < 0)
        goto done;
    t0 = pm_now();
    rc = gather(&r, &err);
    r.t_gather = pm_now() - t0;
    if (rc < 0)
        goto done;
    /* Sum every rank's share into rank 0's totals. */
    size_t words = pm_totals_words(&r.totals);
    MPI_Request req;
    if (r.rank == 0)
        MPI_Ireduce(MPI_IN_PLACE, r.totals.words, (int)words, MPI_UINT64_T, MPI_SUM, 0,
                    MPI_COMM_WORLD, &req);
    else
        MPI_Ireduce(r.totals.words, NULL, (int)words, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD,
                    &req);
    pm_mpi_quiet_wait(&req);
    if (r.rank == 0) {
        rc = finish(&r, &err);
        if (rc < 0)
            report(0, &err);
    }
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_quiet_wait(&req);
done:
    run_close(&r);
    return rc;
}
