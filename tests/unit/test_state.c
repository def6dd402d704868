/* state.h: the work directory's life cycle and the commit points a resume
 * trusts. */
#include "pilemix/state.h"
#include "pilemix/config.h"
#include "pilemix/plan.h"
#include "pilemix/spill.h"
#include "test_util.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sfx {
    char *dir;
    char in_a[1024], in_b[1024], origin[1024];
    pm_config_t cfg;
    pm_plan_t plan;
    pm_layout_t layout;
} sfx_t;

static void write_path(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void load(sfx_t *x, uint64_t seed)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"st\", \"seed\": %llu, \"components\": [{\"name\": \"A\", \"paths\": "
             "[\"in/a.jsonl\"], \"epochs\": 1}, {\"name\": \"B\", \"paths\": [\"in/b.jsonl\"], "
             "\"epochs\": 2}],"
             " \"output\": {\"dir\": \"out\", \"train_shards\": 2, \"val_fraction\": 0.1,"
             " \"test_fraction\": 0.1}, \"run\": {\"work_dir\": \"work\"}}",
             (unsigned long long)seed);
    pm_error_t err;
    int rc = pm_config_load_string(&x->cfg, json, x->origin, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    rc = pm_plan_build(&x->plan, &x->cfg, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    x->layout = (pm_layout_t){2, 3, 2, 1, 0};
}

static void unload(sfx_t *x)
{
    pm_plan_close(&x->plan);
    pm_config_close(&x->cfg);
}

static void sfx_init(sfx_t *x)
{
    memset(x, 0, sizeof *x);
    x->dir = pm_test_tmpdir();
    char in[1024];
    snprintf(in, sizeof in, "%s/in", x->dir);
    ck_assert_int_eq(pm_mkdir_p(in, NULL), 0);
    snprintf(x->in_a, sizeof x->in_a, "%s/in/a.jsonl", x->dir);
    snprintf(x->in_b, sizeof x->in_b, "%s/in/b.jsonl", x->dir);
    snprintf(x->origin, sizeof x->origin, "%s/cfg.json", x->dir);
    write_path(x->in_a, "{\"text\": \"a\"}\n");
    write_path(x->in_b, "{\"text\": \"b\"}\n{\"text\": \"bb\"}\n");
    load(x, 1);
}

static void sfx_free(sfx_t *x)
{
    unload(x);
    pm_test_rmdir(x->dir);
}

static int prepare(sfx_t *x, bool resume, bool force, pm_error_t *err)
{
    pm_state_t st;
    pm_state_init(&st);
    pm_error_clear(err);
    int rc = pm_state_prepare(&st, &x->cfg, &x->plan, &x->layout, resume, force, err);
    pm_state_close(&st);
    pm_state_close(&st); /* idempotent */
    return rc;
}

static bool exists_in(const char *dir, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return pm_path_exists(p);
}

START_TEST(test_fresh_prepare)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    int rc = prepare(&x, false, false, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(exists_in(x.cfg.work_dir, "state.json"));
    ck_assert(exists_in(x.cfg.work_dir, "spill"));
    ck_assert(exists_in(x.cfg.work_dir, "rejects"));
    ck_assert(exists_in(x.cfg.work_dir, "results"));
    ck_assert(exists_in(x.cfg.out_dir, "train"));
    /* state.json records the config hash, the layout and every input. */
    char p[1024];
    snprintf(p, sizeof p, "%s/state.json", x.cfg.work_dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    ck_assert_ptr_nonnull(j);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)x.cfg.canonical_hash);
    ck_assert_str_eq(json_string_value(json_object_get(j, "config_hash")), hash);
    json_t *l = json_object_get(j, "layout");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "per_shard")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "val_buckets")), 2);
    json_t *inputs = json_object_get(j, "inputs");
    ck_assert_uint_eq(json_array_size(inputs), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(inputs, 1), "size")), 29);
    json_decref(j);
    sfx_free(&x);
}
END_TEST

START_TEST(test_second_prepare_needs_force_or_resume)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(prepare(&x, false, false, &err), 0);
    /* Leave traces of the first run that force must clear. */
    char spill[1024];
    snprintf(spill, sizeof spill, "%s/spill/task-0000000.spill", x.cfg.work_dir);
    write_path(spill, "x");
    char out[1024];
    snprintf(out, sizeof out, "%s/manifest.json", x.cfg.out_dir);
    write_path(out, "{}");

    ck_assert_int_eq(prepare(&x, false, false, &err), PM_ESTATE);
    ck_assert_int_eq(err.code, PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "--resume"));
    ck_assert(pm_path_exists(spill)); /* refused: nothing touched */

    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    ck_assert(!pm_path_exists(spill));
    ck_assert(!pm_path_exists(out));
    ck_assert(exists_in(x.cfg.work_dir, "state.json"));
    ck_assert(exists_in(x.cfg.work_dir, "spill"));

    /* Resume of an unchanged run is fine and keeps what the run made. */
    write_path(spill, "x");
    ck_assert_int_eq(prepare(&x, true, false, &err), 0);
    ck_assert(pm_path_exists(spill));
    sfx_free(&x);
}
END_TEST

START_TEST(test_resume_uses_saved_layout)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(prepare(&x, false, false, &err), 0);
    x.layout = (pm_layout_t){2, 77, 5, 6, 0};
    ck_assert_int_eq(prepare(&x, true, false, &err), 0);
    ck_assert_uint_eq(x.layout.train_shards, 2);
    ck_assert_uint_eq(x.layout.per_shard, 3);
    ck_assert_uint_eq(x.layout.val_buckets, 2);
    ck_assert_uint_eq(x.layout.test_buckets, 1);
    sfx_free(&x);
}
END_TEST

START_TEST(test_resume_refuses_changes)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    /* Nothing to resume yet: --resume starts the run (see
     * test_resume_is_idempotent). */
    ck_assert_int_eq(prepare(&x, true, false, &err), 0);

    /* Input size changed. */
    write_path(x.in_b, "{\"text\": \"b\"}\n{\"text\": \"bb\"}\n{\"text\": \"new\"}\n");
    unload(&x);
    load(&x, 1);
    ck_assert_int_eq(prepare(&x, true, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.file, "b.jsonl"));
    ck_assert_ptr_nonnull(strstr(err.msg, "changed"));

    /* Same size, other mtime. */
    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 123}};
    ck_assert_int_eq(utimensat(AT_FDCWD, x.in_a, ts, 0), 0);
    unload(&x);
    load(&x, 1);
    ck_assert_int_eq(prepare(&x, true, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.file, "a.jsonl"));
    ck_assert_ptr_nonnull(strstr(err.msg, "mtime changed"));

    /* The config changed (another seed). */
    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    unload(&x);
    load(&x, 2);
    ck_assert_int_eq(prepare(&x, true, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "config changed"));

    /* A damaged state file. */
    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/state.json", x.cfg.work_dir);
    write_path(p, "{\"format\": 1,\n \"config_hash\":\n\n oops");
    ck_assert_int_eq(prepare(&x, true, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot read the interrupted run's state"));
    ck_assert_uint_eq(err.line, 4); /* where jansson stopped */
    ck_assert_uint_ge(err.column, 1);
    /* One jansson cannot open says line -1: no position, never 2^64-1. */
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(symlink("nowhere", p), 0);
    ck_assert_int_eq(prepare(&x, true, false, &err), PM_ESTATE);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(&err, line, sizeof line);
    ck_assert_msg(strstr(line, "state.json: cannot read") != NULL, "%s", line);
    sfx_free(&x);
}
END_TEST

/* What a finished run leaves in OUTDIR, as far as the --resume check looks:
 * the manifest's hash, inputs and file list, the files with their sizes,
 * XXH128SUMS. */
static void write_complete_output(sfx_t *x)
{
    const char *names[] = {"train/0.jsonl.zst", "train/1.jsonl.zst", "val.jsonl.zst",
                           "test.jsonl.zst"};
    const char *splits[] = {"train", "train", "val", "test"};
    char p[1024];
    snprintf(p, sizeof p, "%s/train", x->cfg.out_dir);
    ck_assert_int_eq(pm_mkdir_p(p, NULL), 0);
    json_t *files = json_array(), *comps = json_array();
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", x->cfg.out_dir, names[i]);
        write_path(p, i % 2 ? "abc" : "defgh");
        json_array_append_new(files, json_pack("{s:s, s:s, s:i}", "path", names[i], "split",
                                               splits[i], "compressed_bytes", i % 2 ? 3 : 5));
    }
    for (size_t c = 0; c < x->cfg.n_components; c++) {
        json_t *in = json_array();
        for (size_t i = 0; i < x->plan.n_files; i++)
            if (x->plan.files[i].component == c)
                json_array_append_new(in, json_pack("{s:s, s:I}", "path", x->plan.files[i].relpath,
                                                    "bytes", (json_int_t)x->plan.files[i].size));
        json_array_append_new(
            comps, json_pack("{s:s, s:o}", "name", x->cfg.components[c].name, "input_files", in));
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)x->cfg.canonical_hash);
    json_t *m =
        json_pack("{s:s, s:o, s:o}", "config_hash", hash, "components", comps, "files", files);
    snprintf(p, sizeof p, "%s/manifest.json", x->cfg.out_dir);
    ck_assert_int_eq(json_dump_file(m, p, 0), 0);
    json_decref(m);
    snprintf(p, sizeof p, "%s/XXH128SUMS", x->cfg.out_dir);
    write_path(p, "sums\n");
}

static int prepare_resume(sfx_t *x, pm_resume_t *what, pm_error_t *err)
{
    pm_state_t st;
    pm_state_init(&st);
    pm_error_clear(err);
    int rc = pm_state_prepare(&st, &x->cfg, &x->plan, &x->layout, true, false, err);
    *what = st.resume;
    pm_state_close(&st);
    return rc;
}

START_TEST(test_resume_is_idempotent)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    pm_resume_t what;
    char p[1024];

    /* Nothing there: --resume starts a run. */
    ck_assert_int_eq(prepare_resume(&x, &what, &err), 0);
    ck_assert_int_eq(what, PM_RESUME_STARTED);
    ck_assert(exists_in(x.cfg.work_dir, "state.json"));
    /* Now there is one to continue. */
    ck_assert_int_eq(prepare_resume(&x, &what, &err), 0);
    ck_assert_int_eq(what, PM_RESUME_CONTINUE);

    /* A run killed before it wrote its state left only the lock file: a
     * resume starts over in that work directory. */
    pm_remove_tree(x.cfg.work_dir, NULL);
    pm_remove_tree(x.cfg.out_dir, NULL);
    ck_assert_int_eq(pm_mkdir_p(x.cfg.work_dir, NULL), 0);
    snprintf(p, sizeof p, "%s/lock", x.cfg.work_dir);
    write_path(p, "1\n");
    ck_assert_int_eq(prepare_resume(&x, &what, &err), 0);
    ck_assert_int_eq(what, PM_RESUME_STARTED);

    /* Complete output of this config: nothing to do, nothing touched (no
     * work directory made), even twice. */
    pm_remove_tree(x.cfg.work_dir, NULL);
    write_complete_output(&x);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(prepare_resume(&x, &what, &err), 0);
        ck_assert_int_eq(what, PM_RESUME_COMPLETE);
        ck_assert(!pm_path_exists(x.cfg.work_dir));
    }
    /* Also when a work directory was kept (--keep-work). */
    ck_assert_int_eq(pm_mkdir_p(x.cfg.work_dir, NULL), 0);
    ck_assert_int_eq(prepare_resume(&x, &what, &err), 0);
    ck_assert_int_eq(what, PM_RESUME_COMPLETE);
    pm_remove_tree(x.cfg.work_dir, NULL);

    /* One file of the wrong size: not complete; with no state to continue,
     * the output is refused, naming the file, and left alone. */
    snprintf(p, sizeof p, "%s/train/1.jsonl.zst", x.cfg.out_dir);
    write_path(p, "abcd");
    ck_assert_int_eq(prepare_resume(&x, &what, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "train/1.jsonl.zst"));
    ck_assert_ptr_nonnull(strstr(err.msg, "--force"));
    ck_assert(pm_path_exists(p));
    write_path(p, "abc");

    /* Another config's output (another seed) is not this one's. */
    unload(&x);
    load(&x, 2);
    ck_assert_int_eq(prepare_resume(&x, &what, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "another config"));
    unload(&x);
    load(&x, 1);

    /* Changed input: not complete for these inputs. */
    write_path(x.in_a, "{\"text\": \"a changed\"}\n");
    unload(&x);
    load(&x, 1);
    ck_assert_int_eq(prepare_resume(&x, &what, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "input files changed"));
    ck_assert_ptr_nonnull(strstr(err.msg, "a.jsonl"));
    sfx_free(&x);
}
END_TEST

START_TEST(test_lock_refuses_second_run)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    pm_state_t st;
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, false, &err), 0);
    ck_assert_int_ge(st.lock_fd, 0);
    /* fcntl locks belong to a process: ask from another one. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pm_state_t other;
        pm_state_init(&other);
        pm_error_t e;
        int rc = pm_state_prepare(&other, &x.cfg, &x.plan, &x.layout, true, false, &e);
        _exit(rc == PM_ESTATE && strstr(e.msg, "another pilemix run") ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    pm_state_close(&st);
    /* Released: a resume from another process now works. */
    pid = fork();
    if (pid == 0) {
        pm_state_t other;
        pm_state_init(&other);
        pm_error_t e;
        int rc = pm_state_prepare(&other, &x.cfg, &x.plan, &x.layout, true, false, &e);
        _exit(rc == 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    sfx_free(&x);
}
END_TEST

/* Two runs never share an output directory: a second one, with another work
 * directory and --force, is refused naming the holder (pid and host), and
 * deletes nothing of the first's. */
START_TEST(test_output_lock_refuses_second_run)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    pm_state_t st;
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, false, &err), 0);
    ck_assert_int_ge(st.out_lock_fd, 0);
    char shard[1024], lock[1024], host[256] = "";
    snprintf(shard, sizeof shard, "%s/train/0.jsonl.zst", x.cfg.out_dir);
    snprintf(lock, sizeof lock, "%s/" PM_STATE_OUT_LOCK, x.cfg.out_dir);
    write_path(shard, "being written");
    ck_assert_int_eq(gethostname(host, sizeof host - 1), 0);
    char want[512];
    snprintf(want, sizeof want, "another pilemix run (pid %ld on host %s) is using this output",
             (long)getpid(), host);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Another work directory, and --force. */
        free(x.cfg.work_dir);
        char w2[1024];
        snprintf(w2, sizeof w2, "%s/work2", x.dir);
        x.cfg.work_dir = strdup(w2);
        pm_state_t other;
        pm_state_init(&other);
        pm_error_t e;
        int rc = pm_state_prepare(&other, &x.cfg, &x.plan, &x.layout, false, true, &e);
        if (rc != PM_ESTATE || !strstr(e.msg, want)) {
            fprintf(stderr, "got %d: %s\nwanted: %s\n", rc, e.msg, want);
            _exit(1);
        }
        _exit(pm_path_exists(w2) ? 2 : 0); /* refused before creating anything */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert(pm_path_exists(shard)); /* nothing deleted from under us */
    /* Completed: the lock file is gone, the output holds only output. */
    ck_assert_int_eq(pm_state_complete(&st, false, &err), 0);
    ck_assert(!pm_path_exists(lock));
    sfx_free(&x);
}
END_TEST

START_TEST(test_foreign_output_refused_even_with_force)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(pm_mkdir_p(x.cfg.out_dir, NULL), 0);
    char foreign[1024];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", x.cfg.out_dir);
    write_path(foreign, "mine");
    ck_assert_int_eq(prepare(&x, false, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "notes.txt"));
    ck_assert_int_eq(prepare(&x, false, true, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "notes.txt"));
    ck_assert(pm_path_exists(foreign));
    /* Even beside pilemix's own files. */
    char val[1024];
    snprintf(val, sizeof val, "%s/val.jsonl.zst", x.cfg.out_dir);
    write_path(val, "v");
    ck_assert_int_eq(prepare(&x, false, true, &err), PM_ESTATE);
    ck_assert(pm_path_exists(foreign));
    ck_assert(pm_path_exists(val));
    sfx_free(&x);
}
END_TEST

START_TEST(test_force_removes_only_pilemix_files)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(prepare(&x, false, false, &err), 0);
    char shard[1024], tmp[1024], sums[1024], foreign[1024];
    snprintf(shard, sizeof shard, "%s/train/0.jsonl.zst", x.cfg.out_dir);
    snprintf(tmp, sizeof tmp, "%s/.val.jsonl.zst.tmp", x.cfg.out_dir);
    snprintf(sums, sizeof sums, "%s/XXH128SUMS", x.cfg.out_dir);
    snprintf(foreign, sizeof foreign, "%s/train/README.md", x.cfg.out_dir);
    write_path(shard, "s");
    write_path(tmp, "t");
    write_path(sums, "x");
    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    ck_assert(!pm_path_exists(shard));
    ck_assert(!pm_path_exists(tmp));
    ck_assert(!pm_path_exists(sums));
    ck_assert(exists_in(x.cfg.out_dir, "train"));

    /* A file pilemix never writes, inside train/: --force "removes only what
     * pilemix writes" (state.h), so it must be refused or kept. */
    write_path(shard, "s");
    write_path(foreign, "keep me");
    /* --force never deletes a file pilemix did not write: refused, kept. */
    ck_assert_int_eq(prepare(&x, false, true, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "train"));
    ck_assert(pm_path_exists(foreign));
    sfx_free(&x);
}
END_TEST

START_TEST(test_refused_fresh_run_is_repeatable)
{
    /* An earlier pilemix output, no work directory: a fresh run without
     * --force is refused, and asking again gives the same answer. */
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(pm_mkdir_p(x.cfg.out_dir, NULL), 0);
    char manifest[1024];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", x.cfg.out_dir);
    write_path(manifest, "{}");
    ck_assert_int_eq(prepare(&x, false, false, &err), PM_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "already holds a pilemix output"));
    ck_assert(pm_path_exists(manifest));
    ck_assert_int_eq(prepare(&x, false, false, &err), PM_ESTATE);
    /* A refused run leaves nothing behind: the same refusal again. */
    ck_assert_ptr_nonnull(strstr(err.msg, "already holds a pilemix output"));
    ck_assert_int_eq(prepare(&x, false, true, &err), 0);
    ck_assert(!pm_path_exists(manifest));
    sfx_free(&x);
}
END_TEST

START_TEST(test_foreign_work_dir_refused_even_with_force)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    ck_assert_int_eq(pm_mkdir_p(x.cfg.work_dir, NULL), 0);
    char mine[1024];
    snprintf(mine, sizeof mine, "%s/thesis.tex", x.cfg.work_dir);
    write_path(mine, "precious");
    ck_assert_int_eq(prepare(&x, false, false, &err), PM_ESTATE);
    ck_assert_int_eq(prepare(&x, false, true, &err), PM_ESTATE);
    ck_assert(pm_path_exists(mine));
    sfx_free(&x);
}
END_TEST

/* The census cache outlives runs: a work directory holding only it is no
 * earlier run (a fresh run starts without --force), --force keeps it, and
 * success removes everything else (the whole directory when it is not
 * there). */
START_TEST(test_census_cache_kept)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/census.json", x.cfg.work_dir);
    ck_assert_int_eq(pm_mkdir_p(x.cfg.work_dir, NULL), 0);
    write_path(cache, "cache");
    ck_assert_msg(prepare(&x, false, false, &err) == 0, "%s", err.msg);
    ck_assert(exists_in(x.cfg.work_dir, "state.json"));
    ck_assert(pm_path_exists(cache));
    /* --force starts over and keeps it. */
    ck_assert_msg(prepare(&x, false, true, &err) == 0, "%s", err.msg);
    ck_assert(pm_path_exists(cache));
    /* Success: only the cache is left. */
    pm_state_t st;
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, true, &err), 0);
    ck_assert_int_eq(pm_state_complete(&st, false, &err), 0);
    ck_assert(pm_path_exists(cache));
    ck_assert(!exists_in(x.cfg.work_dir, "state.json"));
    ck_assert(!exists_in(x.cfg.work_dir, "spill"));
    ck_assert(!exists_in(x.cfg.work_dir, "lock"));
    /* Without a cache the directory goes. */
    unlink(cache);
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, true, &err), 0);
    ck_assert_int_eq(pm_state_complete(&st, false, &err), 0);
    ck_assert(!pm_path_exists(x.cfg.work_dir));
    sfx_free(&x);
}
END_TEST

START_TEST(test_complete_and_streams)
{
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    pm_state_t st;
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, false, &err), 0);
    pm_job_t job;
    ck_assert_int_eq(pm_job_init(&job, &x.cfg, &x.plan, &x.layout, &err), 0);
    /* The streams of earlier attempts, in (attempt, rank) order whatever
     * the directory order; other names (an older pilemix's task spills,
     * temps) are not streams; this run's attempt is one past the highest. */
    pm_spill_stream_id_t *ids;
    size_t n;
    uint32_t next;
    ck_assert_int_eq(pm_state_list_streams(&job, &ids, &n, &next, &err), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(next, 1);
    free(ids);
    pm_buf_t p;
    pm_buf_init(&p);
    static const uint32_t made[][2] = {{2, 1}, {10, 0}, {2, 0}, {1, 3}};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(pm_spill_stream_path(&p, job.spill_dir, made[i][0], made[i][1]), 0);
        write_path(p.data, "stream");
    }
    static const char *others[] = {"task-0000001.spill", ".a3-r0.spill.tmp", "a3-r0.spill.x",
                                   "ax-r0.spill", "a-r0.spill"};
    for (size_t i = 0; i < 5; i++) {
        char *q = pm_path_join(job.spill_dir, others[i]);
        write_path(q, "other");
        free(q);
    }
    ck_assert_int_eq(pm_state_list_streams(&job, &ids, &n, &next, &err), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(next, 11);
    static const uint32_t want[][2] = {{1, 3}, {2, 0}, {2, 1}, {10, 0}};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(ids[i].attempt, want[i][0]);
        ck_assert_uint_eq(ids[i].rank, want[i][1]);
        ck_assert_uint_eq(ids[i].valid_end, 0);
    }
    free(ids);
    ck_assert_int_eq(pm_state_complete(&st, true, &err), 0);
    ck_assert(pm_path_exists(x.cfg.work_dir)); /* kept */
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, true, false, &err), 0);
    ck_assert_int_eq(pm_state_complete(&st, false, &err), 0);
    ck_assert(!pm_path_exists(x.cfg.work_dir));
    ck_assert_int_eq(st.lock_fd, -1);
    pm_buf_free(&p);
    pm_job_close(&job);
    sfx_free(&x);
}
END_TEST

/* ---- per-file results ------------------------------------------------- */

static void output_file(const pm_job_t *job, uint32_t f, char *path, size_t n)
{
    pm_buf_t name;
    pm_buf_init(&name);
    ck_assert_int_eq(pm_job_output_name(job, f, &name), 0);
    snprintf(path, n, "%s/%s", job->cfg->out_dir, name.data);
    pm_buf_free(&name);
}

static void result_file(const pm_job_t *job, uint32_t f, char *path, size_t n)
{
    snprintf(path, n, "%s/file-%06u.bin", job->results_dir, f);
}

START_TEST(test_file_result_round_trip)
{
    uint64_t s = pm_test_seed();
    sfx_t x;
    sfx_init(&x);
    pm_error_t err;
    pm_state_t st;
    pm_state_init(&st);
    ck_assert_int_eq(pm_state_prepare(&st, &x.cfg, &x.plan, &x.layout, false, false, &err), 0);
    pm_job_t job;
    ck_assert_int_eq(pm_job_init(&job, &x.cfg, &x.plan, &x.layout, &err), 0);
    size_t nc = x.cfg.n_components;
    uint32_t nf = pm_layout_files(&x.layout);
    ck_assert_uint_eq(nc, 2);
    ck_assert_uint_eq(nf, 4);

    uint64_t docs[4][2], dups[4][2];
    pm_gather_out_t outs[4];
    for (uint32_t f = 0; f < nf; f++) {
        pm_gather_out_t *o = &outs[f];
        memset(o, 0, sizeof *o);
        o->comp_docs = docs[f];
        o->comp_dups = dups[f];
        for (size_t c = 0; c < nc; c++) {
            docs[f][c] = pm_test_rand(&s) % 1000;
            dups[f][c] = f >= 2 ? pm_test_rand(&s) % 10 : 0;
        }
        o->passes = 1 + pm_test_rand(&s) % 9;
        o->result.docs = docs[f][0] + docs[f][1];
        o->result.text_bytes = pm_test_rand(&s) % 100000;
        o->result.raw_bytes = pm_test_rand(&s) % 100000;
        o->result.zst_bytes = 10 + f;
        for (int k = 0; k < 16; k++) {
            o->result.raw_xxh128[k] = (unsigned char)pm_test_rand(&s);
            o->result.zst_xxh128[k] = (unsigned char)pm_test_rand(&s);
        }
        /* The output file, with the recorded size, as gather leaves it. */
        char path[1024];
        output_file(&job, f, path, sizeof path);
        char bytes[32];
        memset(bytes, 'z', sizeof bytes);
        bytes[10 + f] = '\0';
        write_path(path, bytes);
        ck_assert_int_eq(pm_state_save_file_result(&job, f, o, &err), 0);
    }

    pm_totals_t t;
    ck_assert_int_eq(pm_totals_init(&t, nc, nf), 0);
    for (uint32_t f = 0; f < nf; f++) {
        bool done = false;
        ck_assert_int_eq(pm_state_load_file_result(&job, f, &t, &done, &err), 0);
        ck_assert(done);
        ck_assert(memcmp(&t.files[f], &outs[f].result, sizeof(pm_file_result_t)) == 0);
    }
    uint64_t passes = 0;
    for (uint32_t f = 0; f < nf; f++)
        passes += outs[f].passes;
    ck_assert_uint_eq(*t.passes, passes);
    for (size_t c = 0; c < nc; c++) {
        ck_assert_uint_eq(t.emitted[c][PM_SPLIT_TRAIN], docs[0][c] + docs[1][c]);
        ck_assert_uint_eq(t.emitted[c][PM_SPLIT_VAL], docs[2][c]);
        ck_assert_uint_eq(t.emitted[c][PM_SPLIT_TEST], docs[3][c]);
        ck_assert_uint_eq(t.dups[c][PM_SPLIT_TRAIN], 0);
        ck_assert_uint_eq(t.dups[c][PM_SPLIT_VAL], dups[2][c]);
        ck_assert_uint_eq(t.dups[c][PM_SPLIT_TEST], dups[3][c]);
    }
    pm_totals_free(&t);

    /* Each way a record can be stale or damaged: ignored, not an error,
     * and nothing added to the totals. */
    for (int damage = 0; damage < 6; damage++) {
        uint32_t f = (uint32_t)damage % nf;
        char rpath[1024], opath[1024];
        result_file(&job, f, rpath, sizeof rpath);
        output_file(&job, f, opath, sizeof opath);
        ck_assert_int_eq(pm_state_save_file_result(&job, f, &outs[f], &err), 0);
        pm_buf_t data;
        pm_buf_init(&data);
        ck_assert_int_eq(pm_read_file(rpath, &data, NULL), 0);
        switch (damage) {
        case 0: data.data[20] ^= 1; break;                 /* a flipped bit */
        case 1: data.len -= 1; break;                      /* truncated */
        case 2: data.data[data.len - 1] ^= 0x80; break;    /* checksum */
        case 3: write_path(opath, "size differs"); break;  /* output changed */
        case 4: ck_assert_int_eq(unlink(opath), 0); break; /* output gone */
        case 5: ck_assert_int_eq(unlink(rpath), 0); break; /* no record */
        }
        if (damage < 3)
            ck_assert_int_eq(pm_write_file_atomic(rpath, data.data, data.len, NULL), 0);
        pm_buf_free(&data);
        ck_assert_int_eq(pm_totals_init(&t, nc, nf), 0);
        bool done = true;
        ck_assert_int_eq(pm_state_load_file_result(&job, f, &t, &done, &err), 0);
        ck_assert_msg(!done, "damage %d accepted", damage);
        for (size_t w = 0; w < pm_totals_words(&t); w++)
            ck_assert_uint_eq(t.words[w], 0);
        pm_totals_free(&t);
        /* Restore the output for the next round. */
        char bytes[32];
        memset(bytes, 'z', sizeof bytes);
        bytes[10 + f] = '\0';
        write_path(opath, bytes);
    }

    /* A record saved for one file does not count for another. */
    char r1[1024], r2[1024];
    outs[1].result.zst_bytes = 12; /* even with the size of file 2's output */
    ck_assert_int_eq(pm_state_save_file_result(&job, 1, &outs[1], &err), 0);
    result_file(&job, 1, r1, sizeof r1);
    result_file(&job, 2, r2, sizeof r2);
    ck_assert_int_eq(rename(r1, r2), 0);
    ck_assert_int_eq(pm_totals_init(&t, nc, nf), 0);
    bool done = true;
    ck_assert_int_eq(pm_state_load_file_result(&job, 2, &t, &done, &err), 0);
    ck_assert(!done);
    pm_totals_free(&t);

    pm_job_close(&job);
    pm_state_close(&st);
    sfx_free(&x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fresh_prepare);
    tcase_add_test(tc, test_second_prepare_needs_force_or_resume);
    tcase_add_test(tc, test_resume_uses_saved_layout);
    tcase_add_test(tc, test_resume_refuses_changes);
    tcase_add_test(tc, test_resume_is_idempotent);
    tcase_add_test(tc, test_lock_refuses_second_run);
    tcase_add_test(tc, test_output_lock_refuses_second_run);
    tcase_add_test(tc, test_foreign_output_refused_even_with_force);
    tcase_add_test(tc, test_force_removes_only_pilemix_files);
    tcase_add_test(tc, test_foreign_work_dir_refused_even_with_force);
    tcase_add_test(tc, test_refused_fresh_run_is_repeatable);
    tcase_add_test(tc, test_complete_and_streams);
    tcase_add_test(tc, test_census_cache_kept);
    tcase_add_test(tc, test_file_result_round_trip);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
