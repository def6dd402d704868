/* `pilemix reproduce` (reproduce.h). */
#include "reproduce.h"

#include "count.h"
#include "peers.h"
#include "run.h"

#include "pilemix/buf.h"
#include "pilemix/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The config names itself so in messages; having no '/', it makes relative
 * paths start from the current directory (config.h). */
#define ORIGIN "manifest.json"

typedef struct opts {
    const char *outdir, *into, *work_dir;
    uint64_t mem_per_rank;
    double progress_secs;
    bool resume, keep_work;
} opts_t;

static int usage(int rank, const char *fmt, const char *arg)
{
    if (rank == 0) {
        fprintf(stderr, "pilemix: reproduce: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\nTry 'pilemix --help'.\n");
    }
    return PM_EUSAGE;
}

static int parse(int argc, char **argv, int rank, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->progress_secs = 10;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--into") || !strcmp(a, "--work-dir") ||
                     !strcmp(a, "--mem-per-rank") || !strcmp(a, "--progress");
        if (takes && !val)
            return usage(rank, "%s needs a value", a);
        if (!strcmp(a, "--into")) {
            o->into = val;
        } else if (!strcmp(a, "--work-dir")) {
            o->work_dir = val;
        } else if (!strcmp(a, "--mem-per-rank")) {
            if (pm_size_parse(val, &o->mem_per_rank) < 0 || o->mem_per_rank < (16u << 20))
                return usage(rank, "--mem-per-rank: bad size \"%s\" (at least 16M)", val);
        } else if (!strcmp(a, "--progress")) {
            char *end;
            o->progress_secs = strtod(val, &end);
            if (*end || end == val || o->progress_secs < 0)
                return usage(rank, "--progress: bad number of seconds \"%s\"", val);
        } else if (!strcmp(a, "--resume")) {
            o->resume = true;
        } else if (!strcmp(a, "--keep-work")) {
            o->keep_work = true;
        } else if (a[0] == '-' && a[1]) {
            return usage(rank, "unknown option %s", a);
        } else if (!o->outdir) {
            o->outdir = a;
        } else {
            return usage(rank, "unexpected argument %s", a);
        }
        i += takes;
    }
    if (!o->outdir || !o->into)
        return usage(rank, "%s", "needs OUTDIR and --into DIR");
    return 0;
}

static void say(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "pilemix: reproduce: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Rank 0: the manifest's config with output.dir (and run.work_dir) set, as
 * JSON text in *text. */
static int rerun_config(const opts_t *o, json_t *m, char **text, pm_error_t *err)
{
    const char *dir = o->outdir;
    /* A subset's manifest carries its parent's config: rerunning that
     * would make the parent, never this dataset. */
    if (json_object_get(m, "subset"))
        return pm_error_set(err, PM_EUSAGE, dir, 0,
                            "a subset (pilemix subset) cannot be reproduced by a run: reproduce "
                            "its parent, then take the same subset of it");
    json_t *cfg = json_deep_copy(json_object_get(m, "config"));
    json_t *output = json_object_get(cfg, "output");
    if (!json_is_object(output))
        return pm_error_set(err, PM_EDATA, dir, 0, "manifest.json has no config with an output");
    char *a = realpath(o->outdir, NULL), *b = realpath(o->into, NULL);
    bool same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    if (same) {
        json_decref(cfg);
        return pm_error_set(err, PM_EUSAGE, o->into, 0,
                            "is OUTDIR itself: reproduce into another directory");
    }
    json_object_set_new(output, "dir", json_string(o->into));
    json_t *run = json_object_get(cfg, "run");
    if (!json_is_object(run)) {
        run = json_object();
        json_object_set_new(cfg, "run", run);
    }
    if (o->work_dir)
        json_object_set_new(run, "work_dir", json_string(o->work_dir));
    *text = json_dumps(cfg, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(cfg);
    return *text ? 0 : pm_error_nomem(err);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Rank 0: every input against the manifest's list. Returns the number of
 * differences (each said), or -1 when the manifest has no hashes. */
static int check_inputs(const json_t *m, const pm_config_t *cfg, const pm_plan_t *plan,
                        const pm_census_t *census)
{
    json_t *seen = json_object(); /* "component\nidentity" -> the manifest's entry */
    const json_t *comps = json_object_get(m, "components");
    size_t ci;
    const json_t *c;
    bool hashes = true;
    json_array_foreach(comps, ci, c) {
        size_t fi;
        const json_t *f;
        json_array_foreach(json_object_get(c, "input_files"), fi, f) {
            pm_buf_t k;
            pm_buf_init(&k);
            pm_buf_printf(&k, "%s\n%s", jstr(c, "name"), jstr(f, "path"));
            if (k.data)
                json_object_set(seen, k.data, (json_t *)f);
            hashes &= json_is_string(json_object_get(f, "xxh3"));
            pm_buf_free(&k);
        }
    }
    int bad = 0;
    char line[1024];
    for (size_t i = 0; i < plan->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        const char *comp = cfg->components[f->component].name;
        pm_buf_t k;
        pm_buf_init(&k);
        pm_buf_printf(&k, "%s\n%s", comp, f->relpath);
        json_t *e = k.data ? json_object_get(seen, k.data) : NULL;
        char have[17];
        snprintf(have, sizeof have, "%016" PRIx64, census->files[i].xxh3);
        if (!e) {
            snprintf(line, sizeof line, "%s: %s", comp, f->relpath);
            say("input not in the manifest (a new file): %s%s", line, "");
            bad++;
        } else {
            uint64_t was = (uint64_t)json_integer_value(json_object_get(e, "bytes"));
            const char *wash = jstr(e, "xxh3");
            if (was != f->size || (wash[0] && strcmp(wash, have))) {
                snprintf(line, sizeof line,
                         "%s: %s: size %" PRIu64 " -> %" PRIu64 " bytes, XXH3-64 %s -> %s", comp,
                         f->relpath, was, f->size, wash[0] ? wash : "?", have);
                say("input changed: %s%s", line, "");
                bad++;
            }
            json_object_del(seen, k.data);
        }
        pm_buf_free(&k);
    }
    const char *key;
    json_t *v;
    json_object_foreach(seen, key, v) {
        const char *nl = strchr(key, '\n');
        snprintf(line, sizeof line, "%.*s: %s", nl ? (int)(nl - key) : 0, key, nl ? nl + 1 : key);
        say("input gone (in the manifest, not found now): %s%s", line, "");
        bad++;
    }
    json_decref(seen);
    return !hashes && !bad ? -1 : bad;
}

/* Rank 0: DIR's files against OUTDIR's, by the XXH3-128 of their
 * uncompressed bytes. Returns the number of differences (each said). */
static int compare_outputs(const json_t *m, const char *into, size_t *n_files, bool *zst_same)
{
    pm_error_t err;
    json_t *n = pm_manifest_load(into, &err);
    if (!n) {
        say("cannot read the new manifest: %s%s", err.msg, "");
        return 1;
    }
    json_t *by_path = json_object();
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(n, "files"), i, f)
        json_object_set(by_path, jstr(f, "path"), (json_t *)f);
    int bad = 0;
    *n_files = 0;
    *zst_same = true;
    json_array_foreach(json_object_get(m, "files"), i, f) {
        const char *p = jstr(f, "path");
        const json_t *g = json_object_get(by_path, p);
        (*n_files)++;
        if (!g) {
            say("%s: missing from the rerun%s", p, "");
            bad++;
            continue;
        }
        const char *a = jstr(f, "xxh128_uncompressed"), *b = jstr(g, "xxh128_uncompressed");
        if (strcmp(a, b)) {
            char detail[160];
            snprintf(detail, sizeof detail, "uncompressed XXH3-128 %s, rerun %s", a, b);
            say("%s differs: %s", p, detail);
            bad++;
        }
        *zst_same &= !strcmp(jstr(f, "xxh128_compressed"), jstr(g, "xxh128_compressed"));
        json_object_del(by_path, p);
    }
    const char *key;
    json_t *v;
    json_object_foreach(by_path, key, v) {
        say("%s: in the rerun only%s", key, "");
        bad++;
    }
    json_decref(by_path);
    json_decref(n);
    return bad;
}

int pm_reproduce_main(int argc, char **argv)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    opts_t o;
    int rc = parse(argc, argv, rank, &o);
    if (rc < 0)
        return rc;
    pm_error_t err;
    pm_error_clear(&err);
    json_t *m = NULL;
    char *text = NULL;
    if (rank == 0) {
        m = pm_manifest_load(o.outdir, &err);
        rc = m ? 0 : PM_EDATA;
        if (rc == 0)
            rc = rerun_config(&o, m, &text, &err);
        if (rc == 0) {
            const char *was = jstr(m, "pilemix_version");
            if (strcmp(was, PM_VERSION)) {
                fprintf(stderr,
                        "pilemix: reproduce: warning: %s was made by pilemix %s, this is %s: "
                        "the same bytes need the same version (the comparison below says "
                        "whether they match)\n",
                        o.outdir, was[0] ? was : "(unknown)", PM_VERSION);
            }
            fprintf(stderr,
                    "pilemix: reproduce: %s (config hash %s, pilemix %s): checking the inputs, "
                    "then rerunning into %s\n",
                    o.outdir, jstr(m, "config_hash"), was, o.into);
        }
        if (rc < 0) {
            char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
            pm_error_format(&err, line, sizeof line);
            fprintf(stderr, "pilemix: reproduce: error: %s\n", line);
        }
    }
    MPI_Request req;
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    if (rc < 0) {
        json_decref(m);
        free(text);
        return rc;
    }
    /* The inputs first: a changed one makes the rerun pointless. */
    pm_config_t cfg;
    pm_plan_t plan;
    rc = pm_count_setup(ORIGIN, text, false, &cfg, &plan, &err);
    pm_census_t census = {0};
    if (rc == 0) {
        if (pm_census_init(&census, plan.n_files) < 0) {
            fprintf(stderr, "pilemix: error (rank %d): out of memory (the census)\n", rank);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        pm_count_stats_t st;
        rc = pm_count_census(&cfg, &plan, &census, o.progress_secs, &st, &err);
    }
    if (rc == 0 && rank == 0) {
        int bad = check_inputs(m, &cfg, &plan, &census);
        if (bad > 0) {
            fprintf(stderr,
                    "pilemix: reproduce: %d input%s differ from the manifest: not rerunning "
                    "(the output could not match)\n",
                    bad, bad == 1 ? "" : "s");
            rc = PM_EDATA;
        } else if (bad < 0) {
            fprintf(stderr,
                    "pilemix: reproduce: warning: the manifest has no input hashes (an older "
                    "pilemix): inputs checked by size only\n");
        } else {
            fprintf(stderr,
                    "pilemix: reproduce: all %zu input files match the manifest (size and "
                    "XXH3-64)\n",
                    plan.n_files);
        }
    }
    pm_census_close(&census);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    char hint[4096];
    snprintf(hint, sizeof hint, "pilemix reproduce %s --into %s --resume%s%s", o.outdir, o.into,
             o.work_dir ? " --work-dir " : "", o.work_dir ? o.work_dir : "");
    if (rc == 0) {
        pm_run_opts_t ro = {.config_path = ORIGIN,
                            .resume_hint = hint,
                            .config_json = text,
                            .work_dir = o.work_dir,
                            .mem_per_rank = o.mem_per_rank,
                            .progress_secs = o.progress_secs,
                            .resume = o.resume,
                            .keep_work = o.keep_work};
        rc = pm_run(&ro);
    }
    if (rc == 0 && rank == 0) {
        size_t n = 0;
        bool zst_same = false;
        int bad = compare_outputs(m, o.into, &n, &zst_same);
        if (bad) {
            fprintf(stderr, "pilemix: reproduce: %d of %zu output files differ from %s\n", bad, n,
                    o.outdir);
            rc = PM_EDATA;
        } else {
            printf("pilemix: reproduce: all %zu output files match %s (uncompressed XXH3-128%s)\n",
                   n, o.outdir,
                   zst_same ? "; the compressed bytes too"
                            : "; the compressed bytes differ: "
                              "another zstd version");
            fflush(stdout);
        }
    }
    MPI_Ibcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    json_decref(m);
    free(text);
    return rc;
}
