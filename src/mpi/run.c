/* The MPI job: rank 0 prepares (config, plan, directories, lock), every rank
 * scatters tasks and gathers output files handed out by dispatch.c, rank 0
 * finishes (accounting check, manifest, sums, summary). See DESIGN 2. */
#include "run.h"

#include "agree.h"
#include "count.h"
#include "dispatch.h"
#include "interrupt.h"
#include "peers.h"
#include "progress.h"
#include "pilemix/fault.h"
#include "pilemix/state.h"

#include "pilemix/config_wire.h"
#include "pilemix/fsutil.h"
#include "pilemix/gather.h"
#include "pilemix/job.h"
#include "pilemix/manifest.h"
#include "pilemix/scatter.h"
#include "pilemix/table.h"
#include "pilemix/totals.h"

#include <errno.h>
#include <malloc.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Print this rank's error: rc is the code the failing call returned, and
 * PM_ERROR_CHECK holds it to having filled err. An interruption is no
 * error: rank 0 prints the hint once, at the end. On a multi-host run every
 * error names its rank and host. */
static void report(int rank, int rc, pm_error_t *err) { pm_peers_report(rank, rc, err); }

/* This rank stops because another one failed (and said why): code is the
 * status the ranks agreed on. */
static int peer_failed(pm_error_t *err, int code)
{
    return pm_error_set(err, code, NULL, 0, "stopped: another rank failed");
}

/* Out of memory for a buffer a collective call needs on every rank:
 * returning would leave the other ranks waiting in that call. */
static _Noreturn void collective_nomem(int rank, const char *what)
{
    fprintf(stderr, "pilemix: error (rank %d): out of memory (%s)\n", rank, what);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    abort(); /* not reached */
}

/* ---- broadcast helpers ---- */

static int bcast_string(char **s, int root, MPI_Comm comm, pm_error_t *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    long long len = (rank == root && *s) ? (long long)strlen(*s) : -1;
    MPI_Request req;
    MPI_Ibcast(&len, 1, MPI_LONG_LONG, root, comm, &req);
    pm_mpi_wait(&req);
    if (len < 0) /* the root encodes before the status broadcast: a bug */
        return pm_error_set(err, PM_EINTERNAL, NULL, 0, "rank %d sent no data (a pilemix bug)",
                            root);
    if (rank != root) {
        *s = malloc((size_t)len + 1);
        if (!*s)
            collective_nomem(rank, "receiving the plan");
        (*s)[len] = '\0';
    }
    /* Large plans may pass 2 GiB; send in chunks that fit an int count. */
    for (long long off = 0; off < len; off += 1 << 30) {
        long long n = len - off < (1 << 30) ? len - off : (1 << 30);
        MPI_Ibcast(*s + off, (int)n, MPI_CHAR, root, comm, &req);
        pm_mpi_wait(&req);
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
    char *cfg_json, *plan_json;    /* rank 0: what share_setup sends */
    pm_state_t state;              /* rank 0 */
    pm_job_space_t space;          /* rank 0: the disk space estimate */
    pm_totals_t totals;            /* per rank, reduced to rank 0 at the end */
    uint32_t attempt;              /* this run's spill streams: WORK/spill/a<attempt>-r<rank> */
    pm_spill_stream_id_t *old_ids; /* earlier attempts' streams (resume), verified */
    size_t n_old;
    bool wrote_stream; /* this rank created its stream */
    pm_spill_set_t *set;
    uint64_t *bucket_records, *bucket_bytes;
    pm_dispatch_t dispatch;
    pm_progress_t progress;
    pm_error_t *err; /* the run's error record, for poll_cb */
    bool aborted;    /* this rank stopped because another one failed */
    double t_start, t_scatter, t_gather, t_dedup;
    /* the gather's reading, summed over ranks on rank 0 for the summary:
     * emitted bytes, pread calls, bytes read, opens, most files open */
    uint64_t io[5];
    double *share_epochs; /* a config with shares: the epochs its census gave */
    pm_census_t inputs;   /* rank 0: each input as the scatter counted it */
} run_t;

/* Rank 0, as soon as the config is loaded: the first line of the job's
 * story in its log (the summary, or the errors and the hint, end it). */
static void say_start(const run_t *r)
{
    char hosts[512], when[32];
    pm_peers_describe(hosts, sizeof hosts);
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(when, sizeof when, "?");
    double mib = (double)r->cfg.mem_per_rank / (1024.0 * 1024.0);
    fprintf(stderr,
            "pilemix: run %s (%s, config hash %016llx, pilemix %s) on %d rank%s, %d host%s: %s; "
            "mem_per_rank %.*f %s; peer_timeout %g s; output %s; work %s; started %s\n",
            r->opts->config_path, r->cfg.name, (unsigned long long)r->cfg.canonical_hash,
            PM_VERSION, r->size, r->size == 1 ? "" : "s", pm_peers_hosts(),
            pm_peers_hosts() == 1 ? "" : "s", hosts, mib < 1024 ? 0 : 2,
            mib < 1024 ? mib : mib / 1024, mib < 1024 ? "MiB" : "GiB", r->cfg.peer_timeout,
            r->cfg.out_dir, r->cfg.work_dir, when);
    fflush(stderr);
}

/* Rank 0: load, validate, plan, encode what the other ranks get, then
 * prepare the directories. Every refusal comes before anything is created. */
static int prepare(run_t *r, pm_error_t *err)
{
    const pm_run_opts_t *o = r->opts;
    PM_TRY(o->config_json ? pm_config_load_string(&r->cfg, o->config_json, o->config_path, err)
                          : pm_config_load(&r->cfg, o->config_path, err));
    r->have_cfg = true;
    if (o->work_dir) {
        free(r->cfg.work_dir);
        r->cfg.work_dir = strdup(o->work_dir);
        if (!r->cfg.work_dir)
            return pm_error_nomem(err);
    }
    if (o->mem_per_rank)
        r->cfg.mem_per_rank = o->mem_per_rank;
    say_start(r);
    for (size_t c = 0; r->share_epochs && c < r->cfg.n_components; c++)
        r->cfg.components[c].epochs = r->share_epochs[c];
    PM_TRY(pm_plan_build(&r->plan, &r->cfg, err));
    r->have_plan = true;
    r->cfg_json = pm_config_pack(&r->cfg);
    if (!r->cfg_json)
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory encoding the config");
    PM_TRY(pm_plan_to_json(&r->plan, &r->plan_json, err));
    pm_job_choose_layout(&r->cfg, &r->plan, r->cfg.mem_per_rank, &r->layout);
    PM_TRY(pm_job_estimate_space(&r->cfg, &r->plan, &r->space, err));
    if (!o->resume && !o->no_space_check) {
        /* Refuse, before anything is created, a work directory that clearly
         * cannot hold the spills (the estimate is within ~10%). A resume is
         * not checked: part of its spills are there already. */
        uint64_t free_bytes;
        PM_TRY(pm_job_fs_free(r->cfg.work_dir, &free_bytes, err));
        if (r->space.spill_bytes / 10 * 9 > free_bytes) {
            char need[32], have[32];
            pm_job_format_size(r->space.spill_bytes, need, sizeof need);
            pm_job_format_size(free_bytes, have, sizeof have);
            return pm_error_set(err, PM_ESTATE, r->cfg.work_dir, 0,
                                "the spills need about %s and the work directory's file system "
                                "has %s free (set run.work_dir or --work-dir elsewhere, or pass "
                                "--no-space-check to run anyway)",
                                need, have);
        }
    }
    return pm_state_prepare(&r->state, &r->cfg, &r->plan, &r->layout, o->resume, o->force, err);
}

/* Collective, before anything is prepared: a config weighed by shares gets
 * its epochs from a census of the inputs (cached in the work directory, so
 * a resumed or repeated run reads nothing again), and a share that needs
 * more than max_epochs is refused before any directory is touched. The
 * epochs go to rank 0's prepare(), which ships them with the config. */
static int shares_first(run_t *r, pm_error_t *err)
{
    const pm_run_opts_t *o = r->opts;
    int shares = 0, rc = 0;
    if (r->rank == 0) {
        pm_config_t cfg;
        rc = o->config_json ? pm_config_load_string(&cfg, o->config_json, o->config_path, err)
                            : pm_config_load(&cfg, o->config_path, err);
        shares = rc == 0 && pm_config_has_shares(&cfg);
        if (rc == 0)
            pm_config_close(&cfg);
        pm_error_clear(err); /* prepare() loads it again and says what is wrong */
    }
    MPI_Request req;
    MPI_Ibcast(&shares, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (!shares)
        return 0;
    pm_config_t cfg;
    pm_plan_t plan;
    PM_TRY(pm_count_setup(o->config_path, o->config_json, false, &cfg, &plan, err));
    if (o->work_dir) {
        free(cfg.work_dir);
        if (!(cfg.work_dir = strdup(o->work_dir)))
            collective_nomem(r->rank, "the census");
    }
    pm_census_t census;
    size_t nc = cfg.n_components;
    if (pm_census_init(&census, plan.n_files) < 0 ||
        !(r->share_epochs = calloc(nc + 1, sizeof *r->share_epochs)))
        collective_nomem(r->rank, "the census");
    pm_count_stats_t st;
    rc = pm_count_census(&cfg, &plan, &census, o->progress_secs, &st, err);
    if (rc == 0 && r->rank == 0) {
        pm_census_file_t *comp = calloc(nc + 1, sizeof *comp);
        double total = 0;
        rc = comp ? 0 : pm_error_nomem(err);
        if (rc == 0) {
            pm_census_components(&census, &plan, nc, comp);
            rc = pm_shares_solve(&cfg, comp, r->share_epochs, &total, err);
        }
        if (rc == 0) {
            char t[PM_FMT_MAX];
            fprintf(stderr,
                    "pilemix: shares: %s of train text in all; epochs from the census (%llu files "
                    "read, %llu from the cache):",
                    pm_fmt_bytes(total, t), (unsigned long long)st.counted,
                    (unsigned long long)st.cached);
            for (size_t c = 0; c < nc; c++)
                fprintf(stderr, "%s %s %.4f", c ? "," : "", cfg.components[c].name,
                        r->share_epochs[c]);
            fputc('\n', stderr);
            fflush(stderr);
        }
        if (rc < 0)
            report(0, rc, err);
        free(comp);
    }
    pm_census_close(&census);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (rc < 0 && r->rank != 0)
        pm_error_set(err, rc, NULL, 0, "stopped: rank 0 failed");
    return rc;
}

/* Rank 0, after prepare(): say what --resume found. Returns 1 when the
 * output is already complete (the job has nothing to do), else 0. */
static int say_resume(const run_t *r)
{
    if (r->state.resume == PM_RESUME_STARTED)
        fprintf(stderr, "pilemix: --resume: no interrupted run in %s: starting a new run\n",
                r->cfg.work_dir);
    if (r->state.resume != PM_RESUME_COMPLETE)
        return 0;
    printf("pilemix: %s: %s is already complete for this config (hash %016llx; %zu files "
           "checked by size, `pilemix verify` reads them): nothing to do\n",
           r->cfg.name, r->cfg.out_dir, (unsigned long long)r->cfg.canonical_hash,
           r->state.complete_files);
    fflush(stdout);
    return 1;
}

/* A rank other than 0: can it see what rank 0 planned (the directories it
 * prepared, an input of each component)? If not, the paths are not on a
 * shared file system, and every later error would only say "no such file". */
static int check_shared(const run_t *r, pm_error_t *err)
{
    const char *paths[2] = {r->cfg.work_dir, r->cfg.out_dir};
    size_t n_paths = r->plan.n_files + 2;
    for (size_t i = 0, c = (size_t)-1; i < n_paths; i++) {
        const char *p;
        if (i < 2) {
            p = paths[i];
        } else {
            const pm_input_file_t *f = &r->plan.files[i - 2];
            if (f->component == c)
                continue; /* one input per component: a stat each, on every rank */
            c = f->component;
            p = f->path;
        }
        struct stat st;
        if (stat(p, &st) == 0 || errno != ENOENT)
            continue;
        char root[MPI_MAX_PROCESSOR_NAME + 32];
        pm_peers_name(0, root, sizeof root);
        return pm_error_set(err, PM_ESTATE, p, 0,
                            "cannot see this path, which %s planned: inputs, output.dir and "
                            "run.work_dir must be on a shared file system every rank sees, at "
                            "the same paths",
                            root);
    }
    return 0;
}

/* Rank 0, once the job is set up: the work ahead (a progress line,
 * so only with progress on), and a warning when ranks would idle. */
static void say_work(run_t *r)
{
    uint64_t disk = 0;
    for (size_t i = 0; i < r->plan.n_files; i++)
        disk += r->plan.files[i].size;
    uint32_t files = pm_layout_files(&r->layout);
    char d[32], unc[32], mem[32], need[32];
    pm_job_format_size(disk, d, sizeof d);
    pm_job_format_size(r->space.input_bytes, unc, sizeof unc);
    pm_job_format_size(r->cfg.mem_per_rank, mem, sizeof mem);
    pm_job_format_size(r->space.spill_bytes, need, sizeof need);
    if (r->opts->progress_secs > 0)
        pm_progress_say(&r->progress,
                        "pilemix: start: %zu input files (%s on disk, ~%s uncompressed), %d rank%s "
                        "at mem_per_rank %s, %u output files (%u train shards, val, test), the "
                        "work directory needs ~%s for spills\n",
                        r->plan.n_files, d, unc, r->size, r->size == 1 ? "" : "s", mem, files,
                        r->cfg.train_shards, need);
    if ((uint32_t)r->size > files)
        pm_progress_say(&r->progress,
                        "pilemix: warning: %d ranks but %u output files: %u ranks will idle in "
                        "the gather, which writes each file on one rank (raise "
                        "output.train_shards to at least %u, or use fewer ranks)\n",
                        r->size, files, (uint32_t)r->size - files, (uint32_t)r->size - 2);
}

/* status from rank 0: < 0 failed, 1 nothing to do (returned as is), 0 go on. */
static int share_setup(run_t *r, int status, pm_error_t *err)
{
    pm_peers_set_activity("set-up (rank 0 plans)");
    MPI_Request req;
    MPI_Ibcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req); /* rank 0 may spend a while planning */
    if (status < 0)
        return r->rank == 0 ? status : peer_failed(err, status);
    if (status > 0)
        return status; /* nothing to do (rank 0's run_close frees what it packed) */
    char *cfg_json = r->cfg_json, *plan_json = r->plan_json; /* NULL but on rank 0 */
    r->cfg_json = r->plan_json = NULL;
    int rc = bcast_string(&cfg_json, 0, MPI_COMM_WORLD, err);
    rc = rc ? rc : bcast_string(&plan_json, 0, MPI_COMM_WORLD, err);
    MPI_Ibcast(&r->layout, sizeof r->layout, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
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
        rc = pm_error_nomem(err);
    if (r->have_cfg) /* every rank now has the config's timeout (the same) */
        pm_peers_set_timeout(r->cfg.peer_timeout);
    if (rc == 0 && r->rank != 0)
        rc = check_shared(r, err);
    rc = rc ? rc : pm_fault_hit("setup", PM_FAULT_NOWHERE, err);
    rc = rc ? rc : pm_interrupt_check(r->rank, err);
    if (rc < 0)
        report(r->rank, rc, err);
    /* Every rank goes on to the scatter, or none does. */
    int agreed = pm_mpi_agree(rc, MPI_COMM_WORLD);
    if (agreed < 0 && rc == 0)
        peer_failed(err, agreed);
    return agreed;
}

/* Between records (scatter) and between MiB of output (gather): heartbeats,
 * a signal, progress, and on rank 0 the other ranks' requests.
 * bytes_in_item: how far this rank is into its current item (scatter: file
 * bytes read; gather: spill bytes written out). */
static int poll_cb(void *ctx, uint64_t bytes_in_item)
{
    run_t *r = ctx;
    pm_peers_tick();
    PM_TRY(pm_interrupt_check(r->rank, r->err));
    pm_progress_item(&r->progress, bytes_in_item);
    if (r->rank != 0)
        return 0;
    if (pm_dispatch_poll(&r->dispatch)) {
        r->aborted = true;
        return peer_failed(r->err, PM_EINTERNAL);
    }
    pm_progress_update(&r->progress, r->dispatch.items_done);
    return 0;
}

/* ---- the two work phases ---- */

static uint32_t *make_queue(const uint64_t *sizes, const bool *skip, size_t n, size_t *n_queue)
{
    uint32_t *q = malloc((n + 1) * sizeof *q);
    if (!q)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            q[k++] = (uint32_t)i;
    pm_dispatch_sort_by_size(q, k, sizes);
    *n_queue = k;
    return q;
}

/* A phase: items (scatter tasks, output files) handed out by rank 0 through
 * dispatch.c, largest first. */
typedef struct phase {
    const char *name; /* for progress lines */
    size_t n_items;
    /* rank 0 only */
    const uint64_t *sizes;   /* queue order: largest first */
    const bool *skip;        /* done by an interrupted run (NULL: none) */
    uint64_t progress_bytes; /* what progress counts, over the items to do */
    uint64_t max_rejected;   /* bad records the job may skip (UINT64_MAX: no limit) */
    /* Do one item; on success fill *rep, what the coordinator learns. */
    int (*work)(run_t *r, void *ctx, uint32_t item, pm_item_report_t *rep, pm_error_t *err);
    /* After this rank's last item (rc: how it went), before the ranks agree:
     * returns the new status (may be NULL). */
    int (*done)(run_t *r, void *ctx, int rc, pm_error_t *err);
    void *ctx;
} phase_t;

/* Collective: run a phase on every rank and agree on its status. status is
 * this rank's set-up: on rank 0 a failure (or one building the queue) ends
 * the phase everywhere before any item; on another rank that rank does no
 * item but still takes part, so nobody waits for it. */
static int work_phase(run_t *r, const phase_t *ph, int status, pm_error_t *err)
{
    uint32_t *queue = NULL;
    size_t n_queue = 0;
    int root_status = 0;
    if (r->rank == 0) {
        root_status = status;
        if (root_status == 0 && !(queue = make_queue(ph->sizes, ph->skip, ph->n_items, &n_queue)))
            root_status = pm_error_nomem(err);
        if (root_status == 0)
            root_status = pm_interrupt_check(0, err);
        if (root_status < 0)
            report(0, root_status, err);
    }
    pm_peers_set_activity(ph->name);
    MPI_Request req;
    MPI_Ibcast(&root_status, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (root_status < 0) {
        free(queue);
        return r->rank == 0 ? root_status : peer_failed(err, root_status);
    }
    pm_progress_begin(&r->progress, ph->name, "files", n_queue, ph->progress_bytes);
    pm_dispatch_begin(&r->dispatch, MPI_COMM_WORLD, queue, n_queue, ph->max_rejected);
    int rc = r->rank == 0 ? 0 : status;
    if (rc == 0) { /* "scatter-start", "gather-start" */
        char point[32];
        snprintf(point, sizeof point, "%s-start", ph->name);
        rc = pm_fault_hit(point, PM_FAULT_NOWHERE, err);
    }
    pm_item_report_t last = {0, -1, 0, 0};
    uint32_t item;
    while (rc == 0 && (rc = pm_interrupt_check(r->rank, err)) == 0 &&
           pm_dispatch_next(&r->dispatch, &last, &item) > 0)
        rc = ph->work(r, ph->ctx, item, &last, err);
    if (ph->done)
        rc = ph->done(r, ph->ctx, rc, err);
    if (rc < 0 && !r->aborted)
        report(r->rank, rc, err);
    int agreed = pm_dispatch_finish(&r->dispatch, r->aborted ? 0 : rc);
    pm_progress_end(&r->progress, agreed == 0);
    free(queue);
    if (agreed < 0 && rc == 0)
        peer_failed(err, agreed);
    return agreed;
}

typedef struct scatter_ctx {
    uint64_t arena;
    pm_spill_arena_t staging;  /* the stream's arena, freed before the gather */
    pm_spill_stream_t *stream; /* this rank's, created at its first task */
} scatter_ctx_t;

/* A task's commit record is in the stream (spill.h): the "scatter-task"
 * fault point. */
static int on_commit(void *ctx, uint32_t task, pm_error_t *err)
{
    (void)ctx;
    return pm_fault_hit("scatter-task", task, err);
}

static int scatter_item(run_t *r, void *ctx, uint32_t task, pm_item_report_t *rep, pm_error_t *err)
{
    scatter_ctx_t *c = ctx;
    if (!c->stream) {
        pm_buf_t path;
        pm_buf_init(&path);
        int rc = pm_spill_stream_path(&path, r->job.spill_dir, r->attempt, (uint32_t)r->rank) < 0
                     ? pm_error_nomem(err)
                     : pm_spill_stream_open(
                           &c->stream, path.data, pm_layout_total_buckets(&r->layout), c->arena,
                           &c->staging, pm_config_spill_level(r->cfg.spill_compression), err);
        pm_buf_free(&path);
        PM_TRY(rc);
        r->wrote_stream = true;
        pm_spill_stream_on_commit(c->stream, on_commit, r);
    }
    pm_task_stats_t st;
    PM_TRY(pm_scatter_task(&r->job, c->stream, task, &st, poll_cb, r, err));
    pm_progress_item_done(&r->progress, st.bytes_in);
    *rep = (pm_item_report_t){0, task, (int64_t)st.bytes_in, (int64_t)st.rejected_total};
    return 0;
}

/* After the last task: write the staged records and the commits they hold
 * back. Also when the phase failed: what was committed helps a resume. */
static int scatter_done(run_t *r, void *ctx, int rc, pm_error_t *err)
{
    (void)r;
    scatter_ctx_t *c = ctx;
    pm_error_t ignored;
    int crc = pm_spill_stream_close(c->stream, rc == 0 ? err : &ignored);
    c->stream = NULL;
    return rc ? rc : crc;
}

/* A commit of an earlier attempt's stream that verified: its task is done. */
typedef struct done_ctx {
    bool *done;
    size_t n_tasks;
} done_ctx_t;

static int mark_done(void *ctx, uint32_t task, const void *blob, size_t len)
{
    (void)blob;
    (void)len;
    done_ctx_t *d = ctx;
    pm_peers_tick(); /* a check reads a whole stream */
    if (task >= d->n_tasks)
        return PM_ESTATE; /* not this plan's stream: trusted for nothing */
    d->done[task] = true;
    return 0;
}

/* Resume: rank 0 lists the earlier attempts' streams and picks this run's
 * attempt number; every rank verifies its share of the streams (a full
 * read each), then all agree on how far each can be trusted and which tasks
 * they commit. Returns rank 0's listing status. */
static int find_old_streams(run_t *r, bool *done, pm_error_t *err)
{
    size_t n_tasks = r->plan.n_files;
    long long n = 0;
    int status = 0;
    r->attempt = 1;
    pm_peers_set_activity("check of the committed scatter tasks");
    if (r->rank == 0 && r->opts->resume) {
        status = pm_state_list_streams(&r->job, &r->old_ids, &r->n_old, &r->attempt, err);
        n = status < 0 ? -1 : (long long)r->n_old;
    }
    unsigned long long hdr[2] = {(unsigned long long)n, r->attempt};
    MPI_Request breq;
    MPI_Ibcast(hdr, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD, &breq);
    pm_mpi_wait(&breq);
    n = (long long)hdr[0];
    r->attempt = (uint32_t)hdr[1];
    if (n <= 0)
        return status;
    if (r->rank != 0) {
        r->n_old = (size_t)n;
        r->old_ids = calloc(r->n_old, sizeof *r->old_ids);
        if (!r->old_ids)
            collective_nomem(r->rank, "the spill stream list");
    }
    MPI_Ibcast(r->old_ids, (int)(r->n_old * sizeof *r->old_ids), MPI_BYTE, 0, MPI_COMM_WORLD,
               &breq);
    pm_mpi_wait(&breq);
    uint64_t *ends = calloc(r->n_old, sizeof *ends);
    bool *mine = calloc(n_tasks + 1, sizeof *mine);
    if (!ends || !mine)
        collective_nomem(r->rank, "the spill stream list");
    uint32_t nb = pm_layout_total_buckets(&r->layout);
    pm_buf_t path;
    pm_buf_init(&path);
    done_ctx_t dc = {mine, n_tasks};
    for (size_t i = (size_t)r->rank; i < r->n_old; i += (size_t)r->size) {
        const pm_spill_stream_id_t *id = &r->old_ids[i];
        memset(mine, 0, (n_tasks + 1) * sizeof *mine);
        pm_error_t ignored;
        uint64_t end = 0;
        /* A stream that cannot be read, or commits a task the plan does not
         * have, is trusted for nothing: its tasks are redone. */
        if (pm_spill_stream_path(&path, r->job.spill_dir, id->attempt, id->rank) == 0 &&
            pm_spill_verify_stream(path.data, nb, &end, mark_done, &dc, &ignored) == 0 && end > 0) {
            ends[i] = end;
            for (size_t t = 0; t < n_tasks; t++)
                done[t] |= mine[t];
        }
    }
    pm_buf_free(&path);
    free(mine);
    MPI_Request req[2];
    MPI_Iallreduce(MPI_IN_PLACE, ends, (int)r->n_old, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD,
                   &req[0]);
    pm_mpi_wait(&req[0]);
    MPI_Iallreduce(MPI_IN_PLACE, done, (int)n_tasks, MPI_C_BOOL, MPI_LOR, MPI_COMM_WORLD, &req[1]);
    pm_mpi_wait(&req[1]);
    /* Keep the streams that commit something, in order. */
    size_t k = 0;
    for (size_t i = 0; i < r->n_old; i++)
        if (ends[i] > 0) {
            r->old_ids[k] = r->old_ids[i];
            r->old_ids[k++].valid_end = ends[i];
        }
    r->n_old = k;
    free(ends);
    return status;
}

static int scatter(run_t *r, pm_error_t *err)
{
    size_t n_tasks = r->plan.n_files;
    bool *done = calloc(n_tasks + 1, sizeof *done);
    if (!done)
        collective_nomem(r->rank, "the task list");
    int status = find_old_streams(r, done, err);
    uint64_t *sizes = NULL, progress_bytes = 0;
    if (r->rank == 0 && status == 0) {
        sizes = malloc((n_tasks + 1) * sizeof *sizes);
        if (!sizes)
            status = pm_error_nomem(err);
        for (size_t i = 0; sizes && i < n_tasks; i++) {
            /* Largest first by the text a file holds, not its size on disk:
             * a .zst holds ~3-4x its size, so a big one handed out late
             * would leave the other ranks idle at the end. */
            sizes[i] = pm_job_estimate_bytes(&r->plan.files[i]);
            if (done[i])
                (*r->totals.tasks_reused)++;
            else
                progress_bytes += r->plan.files[i].size; /* progress counts bytes read */
        }
    }
    scatter_ctx_t c = {.arena = pm_job_spill_arena(r->cfg.mem_per_rank, r->cfg.max_record_bytes)};
    phase_t ph = {.name = "scatter",
                  .n_items = n_tasks,
                  .sizes = sizes,
                  .skip = done,
                  .progress_bytes = progress_bytes,
                  .max_rejected =
                      r->cfg.on_bad_record == PM_ON_BAD_SKIP ? r->cfg.max_bad_records : UINT64_MAX,
                  .work = scatter_item,
                  .done = scatter_done,
                  .ctx = &c};
    int rc = work_phase(r, &ph, status, err);
    pm_spill_stream_abort(c.stream); /* closed by scatter_done unless work_phase stopped early */
    pm_spill_arena_free(&c.staging);
    free(sizes);
    free(done);
    if (r->rank == 0 && r->dispatch.over_rejected) {
        /* Each rank stayed under the limit; the job as a whole did not. */
        rc = pm_error_set(err, PM_EDATA, NULL, 0,
                          "more than %llu bad records in the job (run.max_bad_records); see the "
                          "counts above and %s/rejects/",
                          (unsigned long long)r->cfg.max_bad_records, r->cfg.work_dir);
        report(0, rc, err);
    }
    return rc;
}

/* A task's counting commit, on every rank as it opens the streams: the
 * "spill-open" fault point; and this rank adds the counters of its share of
 * the tasks. */
static int take_task(void *ctx, uint32_t task, const void *blob, size_t len)
{
    run_t *r = ctx;
    pm_peers_tick();
    PM_TRY(pm_fault_hit("spill-open", task, r->err));
    /* Every rank keeps every task's archive member names (the gather's
     * identity order needs them); counters from its share. */
    pm_task_stats_t st;
    PM_TRY(pm_job_load_task_blob(&r->job, task, blob, len, &st, r->err));
    if (r->rank == 0 && r->inputs.files) /* the manifest's input entries, the census cache */
        pm_census_from_stats(&r->inputs.files[task], &r->cfg, &r->plan, task, &st);
    if ((int)(task % (uint32_t)r->size) != r->rank)
        return 0;
    pm_task_stats_add(&r->totals.comp[r->plan.files[task].component], &st);
    return 0;
}

/* Open every spill stream (earlier attempts' that verified, then this
 * run's); sum per-bucket totals and the task counters of this rank's share. */
static int open_spills(run_t *r, pm_error_t *err)
{
    size_t n_tasks = r->plan.n_files;
    uint32_t nb = pm_layout_total_buckets(&r->layout);
    if (r->rank == 0 && pm_census_init(&r->inputs, n_tasks) < 0)
        collective_nomem(r->rank, "the input census");
    r->bucket_records = calloc(nb, sizeof(uint64_t));
    r->bucket_bytes = calloc(nb, sizeof(uint64_t));
    int *wrote = calloc((size_t)r->size, sizeof *wrote);
    pm_spill_stream_id_t *ids = calloc(r->n_old + (size_t)r->size, sizeof *ids);
    if (!r->bucket_records || !r->bucket_bytes || !wrote || !ids)
        collective_nomem(r->rank, "the bucket totals");
    int me = r->wrote_stream;
    MPI_Request greq;
    MPI_Iallgather(&me, 1, MPI_INT, wrote, 1, MPI_INT, MPI_COMM_WORLD, &greq);
    pm_mpi_wait(&greq);
    size_t n = r->n_old;
    if (n) /* old_ids is NULL when nothing was resumed */
        memcpy(ids, r->old_ids, n * sizeof *ids);
    for (int k = 0; k < r->size; k++)
        if (wrote[k])
            ids[n++] = (pm_spill_stream_id_t){r->attempt, (uint32_t)k, UINT64_MAX};
    free(wrote);
    int rc = pm_spill_set_open(&r->set, r->job.spill_dir, ids, n, (uint32_t)n_tasks, nb, take_task,
                               r, err);
    free(ids);
    for (size_t t = 0; rc == 0 && t < n_tasks; t++)
        if (!pm_spill_set_has_task(r->set, (uint32_t)t))
            rc = pm_error_set(err, PM_ESTATE, r->plan.files[t].path, 0,
                              "no spill stream in %s commits this input's task (a stream "
                              "removed or not visible from this rank?)",
                              r->job.spill_dir);
    if (rc == 0)
        rc = pm_spill_set_add_totals(r->set, (size_t)r->rank, (size_t)r->size, r->bucket_records,
                                     r->bucket_bytes, err);
    if (rc < 0)
        report(r->rank, rc, err);
    int agreed = pm_mpi_agree(rc, MPI_COMM_WORLD);
    if (agreed < 0)
        return rc < 0 ? agreed : peer_failed(err, agreed);
    MPI_Request req[2];
    MPI_Iallreduce(MPI_IN_PLACE, r->bucket_records, (int)nb, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD,
                   &req[0]);
    MPI_Iallreduce(MPI_IN_PLACE, r->bucket_bytes, (int)nb, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD,
                   &req[1]);
    pm_mpi_wait(&req[0]);
    pm_mpi_wait(&req[1]);
    return 0;
}

/* Before any output file: every rank sums the components' scatter counters
 * and applies the same guards (a component with no document, too many bad
 * records), so all agree without another round; rank 0 says why. */
static int check_inputs(run_t *r, pm_error_t *err)
{
    size_t words = r->cfg.n_components * PM_TASK_STATS_WORDS;
    pm_task_stats_t *sum = malloc(r->cfg.n_components * sizeof *sum);
    if (!sum)
        collective_nomem(r->rank, "the component counters");
    memcpy(sum, r->totals.comp, r->cfg.n_components * sizeof *sum);
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, sum, (int)words, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    int rc = pm_totals_check_inputs(&r->job, sum, err);
    free(sum);
    if (rc < 0 && r->rank == 0)
        report(0, rc, err);
    return rc;
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

/* zstd threads per shard writer: see pm_job_zstd_workers. Ranks per node
 * from the host names peers.c gathered (MPI_Comm_split_type would be a
 * blocking collective, without the deadline every wait has). */
static int zstd_workers(const run_t *r)
{
    return pm_job_zstd_workers(sysconf(_SC_NPROCESSORS_ONLN), pm_peers_on_host(r->rank),
                               usable_cores(), r->cfg.mem_per_rank);
}

/* main.c keeps big buffers in the heap (M_MMAP_THRESHOLD) so they are not
 * zeroed again at every bucket; between phases and output files, hand the
 * free pages back, so what a phase freed does not stay resident under the
 * next one's (the budget is about the resident peak). */
static void give_back_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Spill bytes (records with their headers) of output file f's buckets. */
static uint64_t file_spill_bytes(const run_t *r, uint32_t f)
{
    uint32_t first, count, base;
    uint64_t mult, sum = 0;
    pm_layout_file_buckets(&r->layout, f, &first, &count, &mult, &base);
    for (uint32_t b = first; b < first + count; b++)
        sum += r->bucket_bytes[b];
    return sum;
}

typedef struct gather_ctx {
    pm_gather_in_t in;
    pm_gather_mem_t mem;             /* kept from file to file */
    uint64_t *comp_docs, *comp_dups; /* per component, for one file */
    uint64_t *canary_lines;          /* per canary (output.canaries) */
} gather_ctx_t;

static int gather_item(run_t *r, void *ctx, uint32_t file, pm_item_report_t *rep, pm_error_t *err)
{
    gather_ctx_t *c = ctx;
    size_t nc = r->cfg.n_components;
    memset(c->comp_docs, 0, nc * sizeof(uint64_t));
    memset(c->comp_dups, 0, nc * sizeof(uint64_t));
    pm_gather_out_t out = {
        .comp_docs = c->comp_docs, .comp_dups = c->comp_dups, .canary_lines = c->canary_lines};
    PM_TRY(pm_gather_file(&c->in, file, &out, poll_cb, r, err));
    PM_TRY(pm_state_save_file_result(&r->job, file, &out, err));
    PM_TRY(pm_fault_hit("gather-file", file, err));
    pm_totals_add_file(&r->totals, &r->layout, file, &out);
    r->io[0] += out.result.raw_bytes;
    give_back_memory();
    /* Progress counts the file's spill bytes, as its partial reports do. */
    uint64_t size = file_spill_bytes(r, file);
    pm_progress_item_done(&r->progress, size);
    *rep = (pm_item_report_t){0, file, (int64_t)size, 0};
    return 0;
}

/* ---- exact dedup (output.dedup): between scatter and gather ---- */

typedef struct dedup_ctx {
    pm_dedup_doc_t *docs;
    size_t n, cap;
    pm_tombstone_t *tombs;
    size_t n_tombs, cap_tombs;
    pm_error_t *err;
} dedup_ctx_t;

static int collect_digest(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    (void)meta;
    dedup_ctx_t *c = vctx;
    pm_dedup_payload_t pl;
    if (rec->text_len != sizeof pl)
        return pm_error_set(c->err, PM_EIO, NULL, 0, "damaged spill: a digest record of %u bytes",
                            rec->text_len);
    memcpy(&pl, text, sizeof pl);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        pm_dedup_doc_t *d = realloc(c->docs, cap * sizeof *d);
        if (!d)
            return pm_error_nomem(c->err);
        c->docs = d;
        c->cap = cap;
    }
    c->docs[c->n++] =
        (pm_dedup_doc_t){rec->key, pl.lo, pl.aux, rec->offset, rec->file, pl.member, pl.split};
    return 0;
}

static int add_tomb(void *vctx, const pm_tombstone_t *t, pm_error_t *err)
{
    dedup_ctx_t *c = vctx;
    if (c->n_tombs == c->cap_tombs) {
        size_t cap = c->cap_tombs ? c->cap_tombs * 2 : 4096;
        pm_tombstone_t *x = realloc(c->tombs, cap * sizeof *x);
        if (!x)
            return pm_error_nomem(err);
        c->tombs = x;
        c->cap_tombs = cap;
    }
    c->tombs[c->n_tombs++] = *t;
    return 0;
}

/* One dedup bucket: its digests in passes over digest sub-ranges that fit
 * the budget (a text's digests share the key, so a group never straddles
 * two passes), the winners decided, the tombstones and counters saved. */
static int dedup_item(run_t *r, void *ctx, uint32_t d, pm_item_report_t *rep, pm_error_t *err)
{
    dedup_ctx_t *c = ctx;
    size_t nc = r->cfg.n_components;
    uint64_t *words = calloc(pm_dedup_counts_words(nc) + 1, sizeof *words);
    if (!words)
        return pm_error_nomem(err);
    pm_dedup_counts_t counts = {nc, words};
    const pm_layout_t *l = &r->layout;
    uint32_t b = l->train_shards * l->per_shard + l->val_buckets + l->test_buckets + d;
    uint64_t lo, hi;
    pm_key_range(l->dedup_buckets, d, &lo, &hi);
    uint64_t budget = pm_job_bucket_budget(r->cfg.mem_per_rank);
    uint64_t need = r->bucket_records[b] * (sizeof(pm_dedup_doc_t) + PM_DEDUP_REC_BYTES);
    uint64_t passes = need / (budget ? budget : 1) + 1, span = hi - lo;
    uint64_t step = passes == 1 ? 0 : span / passes + 1;
    int rc = 0;
    c->n_tombs = 0;
    for (uint64_t p = 0; p < passes && rc == 0; p++) {
        uint64_t sub_lo = lo, sub_hi = hi;
        if (passes > 1) {
            if (p * step > span)
                break;
            sub_lo = lo + p * step;
            sub_hi = (hi - sub_lo < step - 1) ? hi : sub_lo + step - 1;
        }
        c->n = 0;
        rc = pm_spill_set_visit(r->set, b, sub_lo, sub_hi, collect_digest, c, err);
        if (rc == 0)
            rc = pm_dedup_docs(&r->job, c->docs, c->n, &counts, add_tomb, c, err);
        if (rc == 0)
            rc = poll_cb(r, 0);
    }
    if (rc == 0)
        rc = pm_dedup_save(&r->job, d, c->tombs, c->n_tombs, &counts, err);
    free(words);
    PM_TRY(rc);
    PM_TRY(pm_fault_hit("dedup-bucket", d, err));
    *rep = (pm_item_report_t){0, d, (int64_t)r->bucket_bytes[b], 0};
    return 0;
}

static int dedup(run_t *r, pm_error_t *err)
{
    uint32_t nd = r->layout.dedup_buckets;
    const pm_layout_t *l = &r->layout;
    uint32_t base = l->train_shards * l->per_shard + l->val_buckets + l->test_buckets;
    uint64_t *sizes = NULL, progress_bytes = 0;
    bool *done = NULL;
    int status = 0;
    if (r->rank == 0) {
        sizes = calloc(nd + 1, sizeof *sizes);
        done = calloc(nd + 1, sizeof *done);
        uint64_t *scratch = calloc(pm_dedup_counts_words(r->cfg.n_components) + 1, sizeof *scratch);
        if (!sizes || !done || !scratch)
            status = pm_error_nomem(err);
        for (uint32_t d = 0; status == 0 && d < nd; d++) {
            sizes[d] = r->bucket_bytes[base + d];
            /* A resumed run keeps the dedup buckets whose results check. */
            pm_dedup_counts_t cc = {r->cfg.n_components, scratch};
            if (r->opts->resume)
                status = pm_dedup_load_counts(&r->job, d, &cc, &done[d], err);
            if (!done[d])
                progress_bytes += sizes[d];
        }
        free(scratch);
    }
    dedup_ctx_t c = {.err = err};
    phase_t ph = {.name = "dedup",
                  .n_items = nd,
                  .sizes = sizes,
                  .skip = done,
                  .progress_bytes = progress_bytes,
                  .max_rejected = UINT64_MAX,
                  .work = dedup_item,
                  .ctx = &c};
    int rc = work_phase(r, &ph, status, err);
    free(c.docs);
    free(c.tombs);
    free(sizes);
    free(done);
    return rc;
}

static int gather(run_t *r, pm_error_t *err)
{
    uint32_t n_files = pm_layout_files(&r->layout);
    int status = 0;
    uint64_t *sizes = NULL, progress_bytes = 0;
    bool *done = NULL;
    if (r->rank == 0) {
        /* On resume, the output files whose result records still match. */
        sizes = calloc(n_files, sizeof *sizes);
        done = calloc(n_files, sizeof *done);
        if (!sizes || !done)
            status = pm_error_nomem(err);
        for (uint32_t f = 0; status == 0 && f < n_files; f++) {
            sizes[f] = file_spill_bytes(r, f);
            if (r->opts->resume) {
                status = pm_state_load_file_result(&r->job, f, &r->totals, &done[f], err);
                if (done[f])
                    (*r->totals.files_reused)++;
            }
            if (!done[f])
                progress_bytes += sizes[f];
        }
    }
    size_t nc = r->cfg.n_components;
    gather_ctx_t c = {.in = {.job = &r->job,
                             .set = r->set,
                             .bucket_records = r->bucket_records,
                             .bucket_bytes = r->bucket_bytes,
                             .budget_bytes = pm_job_bucket_budget(r->cfg.mem_per_rank),
                             .zstd_workers = zstd_workers(r),
                             .cctx = ZSTD_createCCtx()},
                      .comp_docs = calloc(nc + 1, sizeof(uint64_t)),
                      .comp_dups = calloc(nc + 1, sizeof(uint64_t)),
                      .canary_lines = calloc(r->job.canaries.n + 1, sizeof(uint64_t))};
    c.in.mem = &c.mem;
    if (status == 0 && (!c.comp_docs || !c.comp_dups || !c.canary_lines))
        status = pm_error_nomem(err);
    if (status == 0 && r->layout.dedup_buckets)
        status = pm_tomb_index_open(&c.in.tombs, &r->job, err);
    phase_t ph = {.name = "gather",
                  .n_items = n_files,
                  .sizes = sizes,
                  .skip = done,
                  .progress_bytes = progress_bytes,
                  .max_rejected = UINT64_MAX,
                  .work = gather_item,
                  .ctx = &c};
    int rc = work_phase(r, &ph, status, err);
    free(c.comp_docs);
    free(c.comp_dups);
    free(c.canary_lines);
    pm_tomb_index_close(c.in.tombs);
    ZSTD_freeCCtx(c.in.cctx);
    pm_gather_mem_free(&c.mem);
    free(sizes);
    free(done);
    return rc;
}

static int finish(run_t *r, pm_error_t *err)
{
    PM_TRY(pm_fault_hit("finish", PM_FAULT_NOWHERE, err));
    pm_task_stats_t all;
    memset(&all, 0, sizeof all);
    for (size_t c = 0; c < r->cfg.n_components; c++)
        pm_task_stats_add(&all, &r->totals.comp[c]);
    if (r->cfg.on_bad_record == PM_ON_BAD_SKIP && all.rejected_total > r->cfg.max_bad_records)
        return pm_error_set(err, PM_EDATA, NULL, 0,
                            "%llu bad records in the job, more than run.max_bad_records (%llu)",
                            (unsigned long long)all.rejected_total,
                            (unsigned long long)r->cfg.max_bad_records);
    for (uint32_t d = 0; d < r->layout.dedup_buckets; d++) {
        bool ok = false;
        PM_TRY(pm_dedup_load_counts(&r->job, d, &r->totals.dedup, &ok, err));
        if (!ok)
            return pm_error_set(err, PM_EINTERNAL, NULL, 0, "dedup bucket %u has no result", d);
    }
    PM_TRY(pm_totals_check(&r->job, &r->totals, err));
    bool has_rejects = false;
    pm_file_result_t rej;
    PM_TRY(pm_rejects_merge(&r->job, &has_rejects, &rej, err));
    /* Before the manifest: a complete output has its canary list. */
    if (r->job.canaries.n)
        PM_TRY(pm_canary_list_write(&r->job, err));
    PM_TRY(pm_manifest_write(&r->job, &r->totals, has_rejects, &rej, &r->inputs, err));
    /* What the scatter counted is the census: cache it, so that plan --count
     * and a run with shares never read these files again. */
    if (pm_census_cache_save(&r->inputs, &r->cfg, &r->plan, err) < 0) {
        char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
        pm_error_format(err, line, sizeof line);
        fprintf(stderr, "pilemix: warning: census cache not written: %s\n", line);
        pm_error_clear(err);
    }
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
    if (r->layout.dedup_buckets)
        printf("dedup: %.1f s over %u dedup buckets\n", r->t_dedup, r->layout.dedup_buckets);
    printf("time: %.1f s (scatter %.1f s, gather %.1f s) on %d rank%s; %llu gather passes over "
           "%u buckets\n",
           now - r->t_start, r->t_scatter, r->t_gather, r->size, r->size == 1 ? "" : "s",
           (unsigned long long)*r->totals.passes, pm_layout_total_buckets(&r->layout));
    /* What the gather's reading cost: the scale rule is that none of it
     * grows with the number of input files (DESIGN 2). */
    pm_spill_io_t io;
    pm_spill_set_io(r->set, &io);
    double gb = (double)r->io[0] / 1e9;
    printf("spill: %.1f MB in %llu stream%s, %llu runs; gather read %llu calls (%.0f per GB "
           "emitted), %.1f MB, at most %llu spill files open per rank\n",
           (double)io.disk_bytes / 1e6, (unsigned long long)io.streams, io.streams == 1 ? "" : "s",
           (unsigned long long)io.runs, (unsigned long long)r->io[1],
           gb > 0 ? (double)r->io[1] / gb : 0.0, (double)r->io[2] / 1e6,
           (unsigned long long)r->io[4]);
    fflush(stdout);
    return pm_state_complete(&r->state, r->opts->keep_work, err);
}

static void run_close(run_t *r)
{
    pm_spill_set_close(r->set);
    free(r->old_ids);
    free(r->bucket_records);
    free(r->bucket_bytes);
    free(r->cfg_json);
    free(r->plan_json);
    free(r->share_epochs);
    pm_census_close(&r->inputs);
    pm_totals_free(&r->totals);
    if (r->have_job)
        pm_job_close(&r->job);
    if (r->have_plan)
        pm_plan_close(&r->plan);
    if (r->have_cfg)
        pm_config_close(&r->cfg);
    pm_state_close(&r->state);
}

/* Rank 0, once, when the ranks agreed that a signal stopped the job. */
static void say_interrupted(const pm_run_opts_t *o)
{
    if (o->resume_hint)
        fprintf(stderr, "pilemix: interrupted: continue with %s\n", o->resume_hint);
    else
        fprintf(stderr, "pilemix: interrupted: continue with pilemix run --resume %s%s%s\n",
                o->config_path, o->work_dir ? " --work-dir " : "", o->work_dir ? o->work_dir : "");
    fflush(stderr);
}

/* Test-only (README, "Testing"): PILEMIX_TEST_REPORT_HWM=1 makes every rank
 * print its peak resident set (VmHWM) at the end, so a job test can check
 * the memory bound per rank. */
static void report_hwm(int rank)
{
    const char *v = getenv("PILEMIX_TEST_REPORT_HWM");
    if (!v || !*v)
        return;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) {
            fprintf(stderr, "pilemix: rank %d peak RSS %ld kB\n", rank, strtol(line + 6, NULL, 10));
            fflush(stderr);
        }
    if (f)
        fclose(f);
}

int pm_run(const pm_run_opts_t *opts)
{
    run_t r;
    memset(&r, 0, sizeof r);
    r.opts = opts;
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.size);
    pm_state_init(&r.state);
    pm_progress_init(&r.progress, MPI_COMM_WORLD, opts->progress_secs);
    r.t_start = pm_now();
    pm_error_t err;
    pm_error_clear(&err);
    r.err = &err;
    /* Every rank reads the same PILEMIX_FAULT; rank 0 reports a bad one. */
    int rc = pm_fault_init(r.rank, &err);
    MPI_Request sreq;
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &sreq);
    pm_mpi_wait(&sreq);
    if (rc == 0 && (rc = shares_first(&r, &err)) < 0)
        goto done; /* said by rank 0; the same status on every rank */
    if (r.rank == 0) {
        rc = rc ? rc : prepare(&r, &err);
        if (rc < 0)
            report(0, rc, &err);
        else
            rc = say_resume(&r);
    }
    rc = share_setup(&r, rc, &err);
    if (rc != 0) {
        rc = rc > 0 ? 0 : rc; /* > 0: --resume found the output complete */
        goto done;
    }
    if (r.rank == 0)
        say_work(&r);
    double t0 = pm_now();
    rc = scatter(&r, &err);
    r.t_scatter = pm_now() - t0;
    give_back_memory();
    if (rc < 0)
        goto done;
    rc = open_spills(&r, &err);
    if (rc < 0)
        goto done;
    rc = check_inputs(&r, &err);
    if (rc < 0)
        goto done;
    if (r.layout.dedup_buckets) {
        t0 = pm_now();
        rc = dedup(&r, &err);
        r.t_dedup = pm_now() - t0;
        if (rc < 0)
            goto done;
    }
    t0 = pm_now();
    rc = gather(&r, &err);
    r.t_gather = pm_now() - t0;
    if (rc < 0)
        goto done;
    /* Sum every rank's share into rank 0's totals. */
    size_t words = pm_totals_words(&r.totals);
    MPI_Request req;
    pm_spill_io_t io;
    pm_spill_set_io(r.set, &io);
    r.io[1] = io.reads;
    r.io[2] = io.read_bytes;
    r.io[3] = io.opens;
    MPI_Reduce(r.rank == 0 ? MPI_IN_PLACE : r.io, r.io, 4, MPI_UINT64_T, MPI_SUM, 0,
               MPI_COMM_WORLD);
    uint64_t most = io.max_open;
    MPI_Reduce(r.rank == 0 ? MPI_IN_PLACE : &most, &most, 1, MPI_UINT64_T, MPI_MAX, 0,
               MPI_COMM_WORLD);
    r.io[4] = most;
    if (r.rank == 0)
        MPI_Ireduce(MPI_IN_PLACE, r.totals.words, (int)words, MPI_UINT64_T, MPI_SUM, 0,
                    MPI_COMM_WORLD, &req);
    else
        MPI_Ireduce(r.totals.words, NULL, (int)words, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD,
                    &req);
    pm_mpi_wait(&req);
    if (r.rank == 0) {
        pm_peers_set_activity("finish (rank 0 writes the manifest)");
        /* The last place a signal stops the job: after it, finishing is
         * quicker than stopping. */
        rc = pm_interrupt_check(0, &err);
        rc = rc ? rc : finish(&r, &err);
        if (rc < 0)
            report(0, rc, &err);
    }
    int end[2] = {rc, pm_interrupt_signal()};
    MPI_Ibcast(end, 2, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    rc = end[0];
    if (rc == PM_EINTR)
        pm_interrupt_agreed(end[1]);
done:
    if (rc == PM_EINTR && r.rank == 0)
        say_interrupted(opts);
    run_close(&r);
    pm_progress_free(&r.progress);
    report_hwm(r.rank);
    return rc;
}
