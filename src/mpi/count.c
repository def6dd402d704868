/* The census under MPI (count.h) and the `plan` command. */
#include "count.h"

#include "dispatch.h"
#include "interrupt.h"
#include "peers.h"
#include "progress.h"

#include "pilemix/config_wire.h"
#include "pilemix/job.h"
#include "pilemix/table.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say_error(int rank, int rc, pm_error_t *err) { pm_peers_report(rank, rc, err); }

typedef struct count_ctx {
    int rank;
    pm_dispatch_t *d;
    pm_progress_t *progress;
    pm_error_t *err;
    bool aborted;
} count_ctx_t;

/* Between MiB of input: heartbeats, a signal, and on rank 0 the requests. */
static int poll_cb(void *ctx, uint64_t bytes)
{
    count_ctx_t *c = ctx;
    pm_peers_tick();
    PM_TRY(pm_interrupt_check(c->rank, c->err));
    pm_progress_item(c->progress, bytes);
    if (c->rank != 0)
        return 0;
    if (pm_dispatch_poll(c->d)) {
        c->aborted = true;
        return pm_error_set(c->err, PM_EINTERNAL, NULL, 0, "stopped: another rank failed");
    }
    pm_progress_update(c->progress, c->d->items_done);
    return 0;
}

int pm_count_census(const pm_config_t *cfg, const pm_plan_t *plan, pm_census_t *census,
                    double progress_secs, pm_count_stats_t *stats, pm_error_t *err)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    memset(stats, 0, sizeof *stats);
    double t0 = pm_now();
    size_t n = plan->n_files;
    pm_census_file_t *mine = calloc(n + 1, sizeof *mine);
    uint64_t *sizes = calloc(n + 1, sizeof *sizes);
    uint32_t *queue = calloc(n + 1, sizeof *queue);
    if (!mine || !sizes || !queue) {
        fprintf(stderr, "pilemix: error (rank %d): out of memory (the census)\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int status = 0;
    size_t n_queue = 0;
    uint64_t to_read = 0;
    if (rank == 0) {
        char warn[PM_ERROR_MSG_MAX];
        size_t hits = 0;
        status = pm_census_cache_load(census, cfg, plan, &hits, warn, sizeof warn, err);
        if (warn[0])
            fprintf(stderr, "pilemix: note: %s\n", warn);
        for (size_t i = 0; status == 0 && i < n; i++) {
            /* Largest first by the text a file holds: a .zst holds 3-4x its size. */
            sizes[i] = pm_format_compressed(plan->files[i].format) ? 4 * plan->files[i].size
                                                                   : plan->files[i].size;
            if (!census->files[i].valid) {
                queue[n_queue++] = (uint32_t)i;
                to_read += plan->files[i].size;
            }
        }
        pm_dispatch_sort_by_size(queue, n_queue, sizes);
        stats->cached = hits;
        stats->counted = n_queue;
        stats->bytes_read = to_read;
        if (status < 0)
            say_error(0, status, err);
    }
    pm_peers_set_activity("census");
    MPI_Request req;
    MPI_Ibcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (status < 0) {
        free(mine);
        free(sizes);
        free(queue);
        return rank == 0 ? status : pm_error_set(err, status, NULL, 0, "stopped: rank 0 failed");
    }
    pm_mix_t mix;
    pm_mix_init(&mix, cfg->seed, cfg->val_fraction, cfg->test_fraction);
    pm_dispatch_t d;
    pm_progress_t progress;
    pm_progress_init(&progress, MPI_COMM_WORLD, progress_secs);
    pm_progress_begin(&progress, "census", "files", n_queue, to_read);
    count_ctx_t ctx = {rank, &d, &progress, err, false};
    pm_dispatch_begin(&d, MPI_COMM_WORLD, queue, n_queue, UINT64_MAX);
    pm_item_report_t last = {0, -1, 0, 0};
    uint32_t item;
    int rc = 0;
    while (rc == 0 && (rc = pm_interrupt_check(rank, err)) == 0 &&
           pm_dispatch_next(&d, &last, &item) > 0) {
        rc = pm_census_count_file(cfg, &mix, plan, item, &mine[item], poll_cb, &ctx, err);
        last = (pm_item_report_t){0, item, (int64_t)plan->files[item].size, 0};
        pm_progress_item_done(&progress, plan->files[item].size);
    }
    if (rc < 0 && !ctx.aborted)
        say_error(rank, rc, err);
    int agreed = pm_dispatch_finish(&d, ctx.aborted ? 0 : rc);
    pm_progress_end(&progress, agreed == 0);
    pm_progress_free(&progress);
    if (agreed < 0) {
        if (rc == 0)
            pm_error_set(err, agreed, NULL, 0, "stopped: another rank failed");
        free(mine);
        free(sizes);
        free(queue);
        return agreed;
    }
    /* Every rank gets every count: each entry was filled by one rank. */
    MPI_Iallreduce(MPI_IN_PLACE, mine, (int)(n * PM_CENSUS_FILE_WORDS), MPI_UINT64_T, MPI_SUM,
                   MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    /* And rank 0's cache hits. */
    MPI_Ibcast(census->files, (int)(n * PM_CENSUS_FILE_WORDS), MPI_UINT64_T, 0, MPI_COMM_WORLD,
               &req);
    pm_mpi_wait(&req);
    for (size_t i = 0; i < n; i++)
        if (mine[i].valid)
            census->files[i] = mine[i];
    rc = 0;
    if (rank == 0 && n_queue > 0 && (rc = pm_census_cache_save(census, cfg, plan, err)) < 0) {
        /* The census is complete; only the cache failed: say so, go on. */
        char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
        pm_error_format(err, line, sizeof line);
        fprintf(stderr, "pilemix: warning: census cache not written: %s\n", line);
        pm_error_clear(err);
        rc = 0;
    }
    stats->seconds = pm_now() - t0;
    free(mine);
    free(sizes);
    free(queue);
    return 0;
}

/* ---- pilemix plan ---------------------------------------------------------- */

static int bcast_text(char **s, int rank)
{
    long long len = rank == 0 && *s ? (long long)strlen(*s) : -1;
    MPI_Request req;
    MPI_Ibcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (len < 0)
        return -1;
    if (rank != 0 && !(*s = calloc((size_t)len + 1, 1))) {
        fprintf(stderr, "pilemix: error (rank %d): out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (long long off = 0; off < len; off += 1 << 30) {
        long long k = len - off < (1 << 30) ? len - off : (1 << 30);
        MPI_Ibcast(*s + off, (int)k, MPI_CHAR, 0, MPI_COMM_WORLD, &req);
        pm_mpi_wait(&req);
    }
    return 0;
}

/* The census table of cfg (all ranks hold cfg and plan); rank 0 prints. */
static int count_and_print(const pm_config_t *cfg, const pm_plan_t *plan, bool json,
                           pm_error_t *err)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    pm_census_t census;
    if (pm_census_init(&census, plan->n_files) < 0) {
        fprintf(stderr, "pilemix: error (rank %d): out of memory (the census)\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    pm_count_stats_t st;
    int rc = pm_count_census(cfg, plan, &census, json ? 0 : 10, &st, err);
    if (rc == 0 && rank == 0) {
        size_t nc = cfg->n_components;
        pm_census_file_t *comp = calloc(nc + 1, sizeof *comp);
        double *epochs = calloc(nc + 1, sizeof *epochs), total = 0;
        if (!comp || !epochs)
            rc = pm_error_nomem(err);
        if (rc == 0) {
            pm_census_components(&census, plan, nc, comp);
            rc = pm_shares_solve(cfg, comp, epochs, &total, err);
            if (rc < 0)
                say_error(0, rc, err);
        }
        if (rc == 0 && json) {
            json_t *doc = pm_census_table_json(cfg, comp, epochs, total);
            json_t *cs = json_pack("{s:I, s:I, s:I, s:i}", "files_cached", (json_int_t)st.cached,
                                   "files_read", (json_int_t)st.counted, "bytes_read",
                                   (json_int_t)st.bytes_read, "ranks", size);
            if (doc && cs)
                json_object_set_new(doc, "census", cs);
            else
                json_decref(cs);
            char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
            if (s)
                printf("%s\n", s);
            else
                rc = pm_error_nomem(err);
            free(s);
            json_decref(doc);
        } else if (rc == 0) {
            pm_census_print_table(cfg, comp, epochs, stdout);
            char b[PM_FMT_MAX];
            char *cache = pm_census_cache_path(cfg);
            printf("Census: %llu files read (%s on disk) in %.1f s on %d rank%s, %llu from the "
                   "cache (%s).\n",
                   (unsigned long long)st.counted, pm_fmt_bytes((double)st.bytes_read, b),
                   st.seconds, size, size == 1 ? "" : "s", (unsigned long long)st.cached,
                   cache ? cache : "run.work_dir/census.json");
            free(cache);
        }
        free(comp);
        free(epochs);
        fflush(stdout);
    }
    pm_census_close(&census);
    MPI_Request req;
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    return rc;
}

int pm_count_setup(const char *config_path, const char *config_json, bool print_plan,
                   pm_config_t *cfg, pm_plan_t *plan, pm_error_t *err)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    memset(cfg, 0, sizeof *cfg);
    memset(plan, 0, sizeof *plan);
    int rc = 0;
    char *cfg_json = NULL, *plan_json = NULL;
    if (rank == 0) {
        rc = config_json ? pm_config_load_string(cfg, config_json, config_path, err)
                         : pm_config_load(cfg, config_path, err);
        if (rc == 0)
            rc = pm_plan_build(plan, cfg, err);
        if (rc == 0 && print_plan)
            pm_plan_print_table(plan, cfg, stdout);
        if (rc == 0 && !(cfg_json = pm_config_pack(cfg)))
            rc = pm_error_nomem(err);
        if (rc == 0)
            rc = pm_plan_to_json(plan, &plan_json, err);
        if (rc < 0)
            say_error(0, rc, err);
    }
    MPI_Request req;
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (rc == 0 && (bcast_text(&cfg_json, rank) < 0 || bcast_text(&plan_json, rank) < 0))
        rc = pm_error_set(err, PM_EINTERNAL, NULL, 0, "rank 0 sent no plan (a pilemix bug)");
    if (rc == 0 && rank != 0) {
        rc = pm_config_unpack(cfg, cfg_json, err);
        if (rc == 0)
            rc = pm_plan_from_json(plan, plan_json, err);
        if (rc < 0) { /* a bug or no memory: the whole job stops */
            say_error(rank, rc, err);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    if (rc == 0)
        pm_peers_set_timeout(cfg->peer_timeout);
    if (rc < 0 && rank != 0)
        pm_error_set(err, rc, NULL, 0, "stopped: rank 0 failed");
    free(cfg_json);
    free(plan_json);
    if (rc < 0) {
        pm_plan_close(plan);
        pm_config_close(cfg);
    }
    return rc;
}

int pm_plan_main(int argc, char **argv)
{
    const char *path = NULL;
    bool count = false, json = false;
    int rank = 0, mpi = 0;
    MPI_Initialized(&mpi);
    if (mpi)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--count")) {
            count = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            if (rank == 0)
                fprintf(stderr, "pilemix: plan: unknown option %s\nTry 'pilemix --help'.\n",
                        argv[i]);
            return PM_EUSAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            if (rank == 0)
                fprintf(stderr, "pilemix: plan takes exactly one CONFIG\nTry 'pilemix --help'.\n");
            return PM_EUSAGE;
        }
    }
    if (!path || (json && !count)) {
        if (rank == 0)
            fprintf(stderr, "pilemix: plan %s\nTry 'pilemix --help'.\n",
                    !path ? "needs a CONFIG" : "--json needs --count");
        return PM_EUSAGE;
    }
    pm_config_t cfg;
    pm_plan_t plan;
    memset(&cfg, 0, sizeof cfg);
    memset(&plan, 0, sizeof plan);
    pm_error_t err;
    pm_error_clear(&err);
    int rc;
    if (!count) {
        rc = pm_config_load(&cfg, path, &err);
        if (rc == 0 && (rc = pm_plan_build(&plan, &cfg, &err)) == 0) {
            pm_plan_print_table(&plan, &cfg, stdout);
            /* Shares: epochs need the census; each component's max_epochs
             * bounds them, so the space estimate is an upper bound. */
            for (size_t c = 0; pm_config_has_shares(&cfg) && c < cfg.n_components; c++)
                cfg.components[c].epochs = cfg.components[c].max_epochs;
            if (pm_config_has_shares(&cfg))
                printf("(shares: the space below takes every component at its max_epochs, an "
                       "upper bound)\n");
            pm_job_space_t sp;
            if ((rc = pm_job_estimate_space(&cfg, &plan, &sp, &err)) == 0)
                pm_job_print_space(&cfg, &sp, stdout);
        }
        if (rc < 0)
            say_error(0, rc, &err);
    } else {
        rc = pm_count_setup(path, NULL, false, &cfg, &plan, &err);
        if (rc == 0)
            rc = count_and_print(&cfg, &plan, json, &err);
    }
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    return rc;
}
