/* pilemix command line: parses arguments, runs a subcommand, maps the result
 * to an exit status (0 ok, 1 the job failed, 2 usage or config error). The
 * only place that exits. */
#include "run.h"
#include "verify.h"

#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/job.h"
#include "pilemix/plan.h"

#include <malloc.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char usage_text[] =
    "pilemix " PM_VERSION " - assemble a shuffled, sharded Pile from lm_dataformat corpora\n"
    "\n"
    "usage:\n"
    "  pilemix plan   CONFIG              expand the inputs, print the mix table and the disk\n"
    "                                     space the run needs (no MPI)\n"
    "  pilemix run    CONFIG [options]    build the dataset; launch with mpirun -np N\n"
    "  pilemix verify OUTDIR              re-read every output file against the manifest\n"
    "  pilemix stats  OUTDIR [--json]     per-component and per-file tables from the manifest\n"
    "  pilemix --help | --version\n"
    "\n"
    "run options:\n"
    "  --resume             continue an interrupted run from its work directory; the output\n"
    "                       is byte-identical to an uninterrupted run (any rank count)\n"
    "  --force              start over: replace an earlier output and work directory\n"
    "  --keep-work          keep the work directory (spills) after success\n"
    "  --no-space-check     run even when the work directory's file system looks too small\n"
    "                       for the spills (by the estimate `plan` prints)\n"
    "  --work-dir DIR       override run.work_dir\n"
    "  --mem-per-rank SIZE  override run.mem_per_rank (e.g. 512M, 2GiB)\n"
    "  --progress SECS      progress line interval on stderr (default 10, 0 = off)\n"
    "\n"
    "The output is a pure function of the config, the seed and the input files: the\n"
    "number of ranks, the memory budget and resumes never change a byte.\n"
    "Exit status: 0 success, 1 the job failed (data or I/O), 2 usage or config error.\n"
    "Docs: README.md (config reference, output layout, guarantees).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pilemix: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'pilemix --help'.\n");
    return 2;
}

static int exit_status(int rc)
{
    switch (rc) {
    case 0: return 0;
    case PM_ECONFIG:
    case PM_EUSAGE:
    case PM_ESTATE: return 2;
    default: return 1;
    }
}

static int cmd_plan(int argc, char **argv)
{
    if (argc != 1)
        return usage_error("plan takes exactly one CONFIG%s", "");
    pm_config_t cfg;
    pm_plan_t plan;
    pm_error_t err;
    pm_error_clear(&err);
    memset(&plan, 0, sizeof plan);
    int rc = pm_config_load(&cfg, argv[0], &err);
    if (rc == 0) {
        rc = pm_plan_build(&plan, &cfg, &err);
        if (rc == 0) {
            pm_plan_print_table(&plan, &cfg, stdout);
            pm_job_space_t sp;
            rc = pm_job_estimate_space(&cfg, &plan, &sp, &err);
            if (rc == 0)
                pm_job_print_space(&cfg, &sp, stdout);
        }
        pm_plan_close(&plan);
        pm_config_close(&cfg);
    }
    if (rc < 0) {
        PM_ERROR_CHECK(&err, rc);
        char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
        pm_error_format(&err, line, sizeof line);
        fprintf(stderr, "pilemix: error: %s\n", line);
    }
    return exit_status(rc);
}

static int parse_run(int argc, char **argv, pm_run_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->progress_secs = 10;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--resume")) {
            o->resume = true;
        } else if (!strcmp(a, "--force")) {
            o->force = true;
        } else if (!strcmp(a, "--keep-work")) {
            o->keep_work = true;
        } else if (!strcmp(a, "--no-space-check")) {
            o->no_space_check = true;
        } else if (!strcmp(a, "--work-dir") || !strcmp(a, "--mem-per-rank") ||
                   !strcmp(a, "--progress")) {
            if (!val)
                return usage_error("%s needs a value", a);
            i++;
            if (!strcmp(a, "--work-dir")) {
                o->work_dir = val;
            } else if (!strcmp(a, "--mem-per-rank")) {
                if (pm_size_parse(val, &o->mem_per_rank) < 0 || o->mem_per_rank < (16u << 20))
                    return usage_error("--mem-per-rank: bad size \"%s\" (use e.g. 512M, 2GiB; "
                                       "at least 16M)",
                                       val);
            } else {
                char *end;
                o->progress_secs = strtod(val, &end);
                if (*end || end == val || o->progress_secs < 0)
                    return usage_error("--progress: bad number of seconds \"%s\"", val);
            }
        } else if (a[0] == '-') {
            return usage_error("run: unknown option %s", a);
        } else if (!o->config_path) {
            o->config_path = a;
        } else {
            return usage_error("run: unexpected argument %s", a);
        }
    }
    if (!o->config_path)
        return usage_error("run needs a CONFIG%s", "");
    if (o->resume && o->force)
        return usage_error("--resume and --force exclude each other%s", "");
    return 0;
}

int main(int argc, char **argv)
{
    /* Past RLIMIT_FSIZE a write should fail with EFBIG and be reported like
     * a full disk, not kill the rank. */
    signal(SIGXFSZ, SIG_IGN);
#ifdef M_MMAP_THRESHOLD
    /* Arenas of tens of MiB are freed and allocated again for every bucket;
     * by default glibc maps and unmaps them each time, and the kernel zeroes
     * every page again. Keep them in the heap instead (the budget bounds
     * the peak either way). */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
    if (argc < 2)
        return usage_error("missing command%s", "");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("pilemix %s (zstd %s)\n", PM_VERSION, ZSTD_versionString());
        return 0;
    }
    if (!strcmp(cmd, "plan"))
        return cmd_plan(argc - 2, argv + 2);
    if (!strcmp(cmd, "stats"))
        return exit_status(pm_stats_main(argc - 2, argv + 2));
    if (!strcmp(cmd, "run") || !strcmp(cmd, "verify")) {
        pm_run_opts_t opts;
        if (!strcmp(cmd, "run") && parse_run(argc - 2, argv + 2, &opts) != 0)
            return 2;
        MPI_Init(&argc, &argv);
        int rc = !strcmp(cmd, "run") ? pm_run(&opts) : pm_verify_main(argc - 2, argv + 2);
        MPI_Finalize();
        return exit_status(rc);
    }
    return usage_error("unknown command \"%s\"", cmd);
}
