/* pilemix command line: parses arguments, runs a subcommand, maps the result
 * to an exit status (0 ok, 1 the job failed, 2 usage or config error, 128+n
 * interrupted by signal n). The only place that exits. */
#include "count.h"
#include "interrupt.h"
#include "peers.h"
#include "reproduce.h"
#include "run.h"
#include "verify.h"

#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/job.h"
#include "pilemix/plan.h"
#include "pilemix/report.h"
#include "pilemix/sample.h"
#include "pilemix/subset.h"
#include "pilemix/canary_find.h"

#include <errno.h>
#include <malloc.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>

static const char usage_text[] =
    "pilemix " PM_VERSION " - assemble a shuffled, sharded Pile from lm_dataformat corpora\n"
    "\n"
    "usage:\n"
    "  pilemix plan   CONFIG              expand the inputs, print the files, epochs and the\n"
    "                                     disk space the run needs (no MPI)\n"
    "  pilemix plan   CONFIG --count [--json]\n"
    "                                     read the data (in parallel under mpirun): the Pile\n"
    "                                     paper's Table 1 (documents, text size, mean document,\n"
    "                                     epochs, effective size, share of the mix); cached\n"
    "                                     per file in run.work_dir/census.json\n"
    "  pilemix run    CONFIG [options]    build the dataset; launch with mpirun -np N\n"
    "  pilemix verify OUTDIR              re-read every output file against the manifest\n"
    "  pilemix reproduce OUTDIR --into DIR [--resume] [--work-dir DIR] [--mem-per-rank SIZE]\n"
    "                                     rerun OUTDIR's config into DIR (inputs checked by\n"
    "                                     size and XXH3-64 first) and compare every file;\n"
    "                                     exit 0 only when all match\n"
    "  pilemix stats  OUTDIR [--json]     per-component and per-file tables from the manifest\n"
    "  pilemix report OUTDIR [-o FILE]    one self-contained HTML page with plots (default\n"
    "                                     FILE: OUTDIR.report.html; - for stdout)\n"
    "  pilemix sample OUTDIR [options]    a few documents, chosen reproducibly, to eyeball\n"
    "  pilemix subset OUTDIR (--fraction P | --bytes B) --into DIR\n"
    "                                     a nested subset: the first P of the train order\n"
    "                                     (or B bytes of train text), val and test whole\n"
    "  pilemix canary [--secret S] [--count N] OUTDIR\n"
    "                                     re-derive the canaries (output.canaries) from the\n"
    "                                     secret (or $PILEMIX_CANARY_SECRET) and find them\n"
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
    "sample options:\n"
    "  -n N                 documents to show (default 5)\n"
    "  --component NAME     only this component's documents\n"
    "  --split S            only train, val or test (default: all)\n"
    "  --seed K             another seed, another sample (default 0)\n"
    "  --width W            cut text and meta to W columns (default 160, 0 = whole)\n"
    "\n"
    "The output is a pure function of the config, the seed and the input files: the\n"
    "number of ranks, the memory budget and resumes never change a byte.\n"
    "Exit status: 0 success, 1 the job failed (data, I/O, a lost rank), 2 usage or config\n"
    "error, 130/143 interrupted by SIGINT/SIGTERM (committed work kept: run --resume).\n"
    "Docs: README.md (config reference, output layout, guarantees).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pilemix: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'pilemix --help'.\n");
    return 2;
}

/* The libraries pilemix was built with (their headers' macros) and the ones
 * it runs with (their own calls): a mismatch explains many a surprise on a
 * cluster. MPI_Get_library_version may be called before MPI_Init (MPI 3.0,
 * 8.1.1), so --version needs no launcher. */
static int print_version(void)
{
    printf("pilemix %s\n", PM_VERSION);
    printf("  %-8s built with %s, running %s\n", "zstd", ZSTD_VERSION_STRING, ZSTD_versionString());
#if JANSSON_VERSION_HEX >= 0x020d00
    const char *jansson_running = jansson_version_str();
#else
    const char *jansson_running = "(unknown: jansson < 2.13)";
#endif
    printf("  %-8s built with %s, running %s\n", "jansson", JANSSON_VERSION, jansson_running);
    unsigned xv = XXH_versionNumber();
    char xb[32], xr[32];
    snprintf(xb, sizeof xb, "%d.%d.%d", XXH_VERSION_MAJOR, XXH_VERSION_MINOR, XXH_VERSION_RELEASE);
    snprintf(xr, sizeof xr, "%u.%u.%u", xv / 10000, xv / 100 % 100, xv % 100);
    printf("  %-8s built with %s, running %s\n", "xxHash", xb, xr);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0, ver = 0, sub = 0;
    MPI_Get_library_version(lib, &len);
    MPI_Get_version(&ver, &sub);
    lib[strcspn(lib, "\n,")] = '\0'; /* "Open MPI v4.1.4, package: ..." */
#ifdef OPEN_MPI
    char mb[64];
    snprintf(mb, sizeof mb, "Open MPI %d.%d.%d", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION,
             OMPI_RELEASE_VERSION);
#else
    const char *mb = "MPI";
#endif
    printf("  %-8s built with %s (MPI %d.%d), running %s (MPI %d.%d)\n", "MPI", mb, MPI_VERSION,
           MPI_SUBVERSION, lib, ver, sub);
    return 0;
}

static int exit_status(int rc)
{
    switch (rc) {
    case 0: return 0;
    case PM_ECONFIG:
    case PM_EUSAGE:
    case PM_ESTATE: return 2;
    case PM_EINTR: return 128 + pm_interrupt_job_signal();
    default: return 1;
    }
}

/* A failed command's error line: "pilemix: CMD: file:line:col: message". */
static void print_error(const char *cmd, pm_error_t *err, int rc)
{
    PM_ERROR_CHECK(err, rc);
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(err, line, sizeof line);
    fprintf(stderr, "pilemix: %s: %s\n", cmd, line);
}

static int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc)
                return usage_error("report: %s needs a FILE", argv[i]);
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_error("report: unknown option %s", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return usage_error("report: unexpected argument %s", argv[i]);
        }
    }
    if (!dir)
        return usage_error("report needs an OUTDIR%s", "");
    pm_buf_t path;
    pm_buf_init(&path);
    pm_error_t err;
    pm_error_clear(&err);
    int rc = 0;
    if (!out) {
        if (pm_report_default_path(dir, &path) < 0)
            rc = pm_error_nomem(&err);
        out = path.data;
    }
    if (rc == 0)
        rc = pm_report_write(dir, out, &err);
    if (rc < 0)
        print_error("report", &err, rc);
    else if (strcmp(out, "-"))
        printf("pilemix: report: wrote %s\n", out);
    pm_buf_free(&path);
    return exit_status(rc);
}

/* A whole number argument of option opt, or a usage error. */
static int parse_u64(const char *opt, const char *val, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (!*val || *end || errno || val[0] == '-')
        return usage_error("%s needs a whole number", opt);
    *out = v;
    return 0;
}

static int cmd_sample(int argc, char **argv)
{
    pm_sample_opts_t o = {NULL, PM_SAMPLE_DEFAULT_N, NULL, NULL, 0, PM_SAMPLE_DEFAULT_WIDTH};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "-n") || !strcmp(a, "--component") || !strcmp(a, "--split") ||
                     !strcmp(a, "--seed") || !strcmp(a, "--width");
        if (takes && !val)
            return usage_error("sample: %s needs a value", a);
        uint64_t v;
        int rc = 0;
        if (!strcmp(a, "-n")) {
            if (!(rc = parse_u64(a, val, &v)))
                o.n = v;
        } else if (!strcmp(a, "--seed")) {
            rc = parse_u64(a, val, &o.seed);
        } else if (!strcmp(a, "--width")) {
            if (!(rc = parse_u64(a, val, &v)))
                o.width = (size_t)v;
        } else if (!strcmp(a, "--component")) {
            o.component = val;
        } else if (!strcmp(a, "--split")) {
            o.split = val;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("sample: unknown option %s", a);
        } else if (!o.outdir) {
            o.outdir = a;
        } else {
            return usage_error("sample: unexpected argument %s", a);
        }
        if (rc)
            return rc;
        i += takes;
    }
    if (!o.outdir)
        return usage_error("sample needs an OUTDIR%s", "");
    pm_error_t err;
    pm_error_clear(&err);
    int rc = pm_sample_print(&o, stdout, &err);
    if (rc == PM_EUSAGE)
        return usage_error("sample: %s", err.msg);
    if (rc < 0)
        print_error("sample", &err, rc);
    return exit_status(rc);
}

static int cmd_subset(int argc, char **argv)
{
    pm_subset_opts_t o;
    memset(&o, 0, sizeof o);
    bool have_fraction = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--fraction") || !strcmp(a, "--bytes") || !strcmp(a, "--into");
        if (takes && !val)
            return usage_error("subset: %s needs a value", a);
        if (!strcmp(a, "--fraction")) {
            char *end;
            o.fraction = strtod(val, &end);
            if (*end || end == val || !(o.fraction > 0.0 && o.fraction <= 1.0))
                return usage_error("subset: --fraction needs a number in (0, 1], got \"%s\"", val);
            have_fraction = true;
        } else if (!strcmp(a, "--bytes")) {
            if (pm_size_parse(val, &o.bytes) < 0)
                return usage_error("subset: --bytes: bad size \"%s\" (use e.g. 512M, 2GiB)", val);
            o.by_bytes = true;
        } else if (!strcmp(a, "--into")) {
            o.into = val;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("subset: unknown option %s", a);
        } else if (!o.src) {
            o.src = a;
        } else {
            return usage_error("subset: unexpected argument %s", a);
        }
        i += takes;
    }
    if (!o.src || !o.into)
        return usage_error("subset needs an OUTDIR and --into DIR%s", "");
    if (have_fraction == o.by_bytes)
        return usage_error("subset needs one of --fraction and --bytes%s", "");
    pm_error_t err;
    pm_error_clear(&err);
    pm_subset_result_t r;
    int rc = pm_subset_write(&o, &r, &err);
    if (rc < 0) {
        print_error("subset", &err, rc);
        return exit_status(rc);
    }
    printf("pilemix: subset: %s: %u of %u train shards whole", o.into, r.whole_shards,
           r.train_shards);
    if (r.partial)
        printf(" and %llu of %llu lines of the next", (unsigned long long)r.partial_lines,
               (unsigned long long)r.partial_of);
    printf(": %llu train documents, fraction %.6f; val and test whole\n",
           (unsigned long long)r.train_docs, r.fraction);
    return 0;
}

static int cmd_canary(int argc, char **argv)
{
    const char *dir = NULL, *secret = getenv("PILEMIX_CANARY_SECRET");
    uint64_t count = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--secret") || !strcmp(a, "--count")) {
            if (!val)
                return usage_error("canary: %s needs a value", a);
            if (!strcmp(a, "--secret")) {
                secret = val;
            } else {
                int rc = parse_u64(a, val, &count);
                if (rc)
                    return rc;
            }
            i++;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("canary: unknown option %s", a);
        } else if (!dir) {
            dir = a;
        } else {
            return usage_error("canary: unexpected argument %s", a);
        }
    }
    if (!dir)
        return usage_error("canary needs an OUTDIR%s", "");
    if (!secret || !secret[0])
        return usage_error("canary needs the secret: --secret S or PILEMIX_CANARY_SECRET%s", "");
    if (count > PM_MAX_CANARIES)
        return usage_error("canary: --count is at most %s", "100000");
    pm_error_t err;
    pm_error_clear(&err);
    pm_canary_report_t r;
    int rc = pm_canary_find(dir, secret, (uint32_t)count, &r, &err);
    if (rc < 0) {
        print_error("canary", &err, rc);
        return exit_status(rc);
    }
    uint32_t absent = 0;
    for (uint32_t i = 0; i < r.n; i++) {
        const pm_canary_hit_t *h = &r.hits[i];
        if (h->found)
            printf("canary %u: found %s:%llu\n", h->index, h->shard_path,
                   (unsigned long long)h->line);
        else if (!h->in_dataset)
            printf("canary %u: not in this subset (its place in %s is outside the subset)\n",
                   h->index, h->shard_path);
        else
            printf("canary %u: missing (expected in %s)\n", h->index, h->shard_path);
        absent += !h->in_dataset;
    }
    printf("pilemix: canary: %s: %u of %u canaries found", dir, r.found, r.n);
    if (absent)
        printf(" (%u outside this subset)", absent);
    printf("\n");
    bool all = r.found + absent == r.n;
    pm_canary_report_free(&r);
    return all ? 0 : 1;
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
    if (!strcmp(cmd, "--version"))
        return print_version();
    if (!strcmp(cmd, "plan")) {
        /* Only the census needs MPI (it reads the data on every rank). */
        bool count = false;
        for (int i = 2; i < argc; i++)
            count |= !strcmp(argv[i], "--count");
        if (!count)
            return exit_status(pm_plan_main(argc - 2, argv + 2));
        MPI_Init(&argc, &argv);
        pm_peers_init();
        int rc = pm_plan_main(argc - 2, argv + 2);
        pm_peers_close();
        MPI_Finalize();
        return exit_status(rc);
    }
    if (!strcmp(cmd, "stats"))
        return exit_status(pm_stats_main(argc - 2, argv + 2));
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "sample"))
        return cmd_sample(argc - 2, argv + 2);
    if (!strcmp(cmd, "canary"))
        return cmd_canary(argc - 2, argv + 2);
    if (!strcmp(cmd, "subset"))
        return cmd_subset(argc - 2, argv + 2);
    if (!strcmp(cmd, "run") || !strcmp(cmd, "verify") || !strcmp(cmd, "reproduce")) {
        pm_run_opts_t opts;
        if (!strcmp(cmd, "run") && parse_run(argc - 2, argv + 2, &opts) != 0)
            return 2;
        MPI_Init(&argc, &argv);
        /* After MPI_Init, so that nothing in it replaces them. Only `run`
         * (and reproduce, which runs) stops cleanly; verify and the rest keep
         * the default (exit at once). */
        if (strcmp(cmd, "verify"))
            pm_interrupt_install();
        pm_peers_init();
        int rc = !strcmp(cmd, "run")         ? pm_run(&opts)
                 : !strcmp(cmd, "reproduce") ? pm_reproduce_main(argc - 2, argv + 2)
                                             : pm_verify_main(argc - 2, argv + 2);
        pm_peers_close();
        MPI_Finalize();
        return exit_status(rc);
    }
    return usage_error("unknown command \"%s\"", cmd);
}
