#include "pilemix/state.h"

#include "pilemix/fsutil.h"
#include "pilemix/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define STATE_FORMAT 1
#define RESULT_MAGIC 0x3153455255534d50ull /* "PMRESUL1" */

void pm_state_init(pm_state_t *st)
{
    st->lock_fd = -1;
    st->out_lock_fd = -1;
    st->work_dir = NULL;
    st->out_lock = NULL;
    st->resume = PM_RESUME_NO;
    st->complete_files = 0;
}

void pm_state_close(pm_state_t *st)
{
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* drops the fcntl lock */
    if (st->out_lock_fd >= 0) {
        /* Ours while held (lock_path checks the name after locking): the
         * output directory holds no lock file once a run has ended, only
         * after one was killed. */
        unlink(st->out_lock);
        close(st->out_lock_fd);
    }
    st->lock_fd = st->out_lock_fd = -1;
    free(st->work_dir);
    free(st->out_lock);
    st->work_dir = st->out_lock = NULL;
}

/* The census cache (census.h) outlives runs: a work directory holding only
 * it counts as empty, and neither --force nor success removes it. */
#define CENSUS_CACHE "census.json"

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, CENSUS_CACHE)) {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}

static bool is_temp_of_ours(const char *name)
{
    size_t n = strlen(name);
    return (name[0] == '.' && n > 5 && !strcmp(name + n - 4, ".tmp")) ||
           !strcmp(name, PM_STATE_OUT_LOCK);
}

/* A train shard name ("07.jsonl.zst") or its temp. */
static bool is_shard_name(const char *name)
{
    if (is_temp_of_ours(name))
        return true;
    size_t digits = strspn(name, "0123456789");
    return digits > 0 && !strcmp(name + digits, ".jsonl.zst");
}

/* What pilemix writes in OUTDIR. Subdirectories count only when everything
 * in them is pilemix's too, so --force never deletes a user's file. */
static bool is_our_output(const char *dir, const char *name, char *foreign, size_t foreign_size)
{
    snprintf(foreign, foreign_size, "%s", name);
    static const char *files[] = {"val.jsonl.zst", "test.jsonl.zst", "manifest.json", "XXH128SUMS"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!strcmp(name, files[i]))
            return true;
    if (is_temp_of_ours(name))
        return true;
    bool train = !strcmp(name, "train"), rejects = !strcmp(name, "rejects");
    if (!train && !rejects)
        return false;
    char *sub = pm_path_join(dir, name);
    DIR *d = sub ? opendir(sub) : NULL;
    free(sub);
    if (!d)
        return false;
    bool ours = true;
    struct dirent *e;
    while (ours && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        ours = train ? is_shard_name(e->d_name)
                     : !strcmp(e->d_name, "rejects.jsonl") || is_temp_of_ours(e->d_name);
        if (!ours)
            snprintf(foreign, foreign_size, "%s/%s", name, e->d_name);
    }
    closedir(d);
    return ours;
}

/* Before anything is created: may this run write into out_dir? started:
 * --resume found nothing to resume, and why the output there is not a
 * complete one of this config ("" when there is no manifest). */
static int check_output_dir(const char *out_dir, bool force, const char *started, pm_error_t *err)
{
    DIR *d = opendir(out_dir);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        /* The lock file is no output: a directory holding only it is empty. */
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, PM_STATE_OUT_LOCK))
            continue;
        char foreign[600];
        if (!is_our_output(out_dir, e->d_name, foreign, sizeof foreign))
            rc = pm_error_set(err, PM_ESTATE, out_dir, 0,
                              "output directory holds \"%s\", which pilemix did not write; "
                              "choose an empty or new output.dir",
                              foreign);
        else if (!force && started)
            rc = pm_error_set(err, PM_ESTATE, out_dir, 0,
                              "nothing to resume (no interrupted run's state in the work "
                              "directory) and the output directory holds a pilemix output that "
                              "is not complete for this config%s%s; use --force to start over",
                              *started ? ": " : "", started);
        else if (!force)
            rc = pm_error_set(err, PM_ESTATE, out_dir, 0,
                              "output directory already holds a pilemix output (use --force to "
                              "replace it, or --resume to continue an interrupted run)");
    }
    closedir(d);
    return rc;
}

/* Remove an earlier output; check_output_dir() vouched for every entry. */
static int clear_output_dir(const char *out_dir, pm_error_t *err)
{
    DIR *d = opendir(out_dir);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, PM_STATE_OUT_LOCK)) /* ours, held */
            continue;
        char *p = pm_path_join(out_dir, e->d_name);
        rc = p ? pm_remove_tree(p, err) : pm_error_nomem(err);
        free(p);
    }
    closedir(d);
    return rc;
}

/* Who holds the lock on fd: "pid P on host H" as the holder wrote it, or
 * the pid the kernel reports. */
static void lock_holder(int fd, char *out, size_t size)
{
    char text[300];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    long pid = -1;
    char host[256] = "";
    if (n > 0) {
        text[n] = '\0';
        if (sscanf(text, "%ld %255s", &pid, host) < 1)
            pid = -1;
    }
    if (pid < 0) {
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        pid = fcntl(fd, F_GETLK, &who) == 0 ? (long)who.l_pid : -1;
    }
    if (host[0])
        snprintf(out, size, "pid %ld on host %s", pid, host);
    else
        snprintf(out, size, "pid %ld", pid);
}

/* Lock path (an fcntl write lock, held until *fd is closed) and write our
 * pid and host into it. create: make the file if missing (else a missing
 * file is no lock: 0 with *fd = -1). what names the directory in a refusal. */
static int lock_path(const char *path, const char *dir, const char *what, bool create, int *fd_out,
                     pm_error_t *err)
{
    *fd_out = -1;
    /* A run that completes unlinks the output's lock file while holding it:
     * after locking, check the name still leads to the file we locked. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
        if (fd < 0) {
            if (errno == ENOENT && !create)
                return 0;
            return pm_error_set(err, PM_EIO, path, 0, "cannot open lock file: %s", strerror(errno));
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            char holder[400];
            lock_holder(fd, holder, sizeof holder);
            close(fd);
            return pm_error_set(err, PM_ESTATE, dir, 0,
                                "another pilemix run (%s) is using this %s; two runs never share "
                                "one (wait for it to end, or choose another)",
                                holder, what);
        }
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev) {
            close(fd); /* unlinked under us: lock the new one */
            continue;
        }
        char host[256] = "?", text[320];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "?");
        host[sizeof host - 1] = '\0';
        int n = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), host);
        if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) < 0) {
            /* the holder's name is informational only */
        }
        *fd_out = fd;
        return 0;
    }
    return pm_error_set(err, PM_ESTATE, path, 0, "lock file keeps being replaced");
}

static int take_lock(pm_state_t *st, pm_error_t *err)
{
    char *lock = pm_path_join(st->work_dir, "lock");
    if (!lock)
        return pm_error_nomem(err);
    int rc = lock_path(lock, st->work_dir, "work directory", true, &st->lock_fd, err);
    free(lock);
    return rc;
}

/* Before any refusal about what the directories hold: is another run using
 * them? Its name is the better answer. Probes only (creates nothing). */
static int probe_locks(const pm_config_t *cfg, pm_error_t *err)
{
    char *paths[2] = {pm_path_join(cfg->out_dir, PM_STATE_OUT_LOCK),
                      pm_path_join(cfg->work_dir, "lock")};
    const char *dirs[2] = {cfg->out_dir, cfg->work_dir};
    const char *what[2] = {"output directory", "work directory"};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        int fd = -1;
        rc =
            paths[i] ? lock_path(paths[i], dirs[i], what[i], false, &fd, err) : pm_error_nomem(err);
        if (fd >= 0)
            close(fd); /* nobody held it: let go at once */
    }
    free(paths[0]);
    free(paths[1]);
    return rc;
}

/* --resume found the output complete: a lock file a killed run left behind
 * (after its manifest, before its clean-up) goes, unless someone holds it. */
static void remove_stale_out_lock(const char *out_dir)
{
    char *path = pm_path_join(out_dir, PM_STATE_OUT_LOCK);
    int fd = -1;
    if (path && lock_path(path, out_dir, "output directory", false, &fd, NULL) == 0 && fd >= 0)
        unlink(path);
    if (fd >= 0)
        close(fd);
    free(path);
}

/* The state file's text: config hash, layout and every input's identity,
 * size and mtime. Every builder call is checked: an input missing from it
 * would make a later --resume refuse ("the inputs changed"). */
static int state_text(const pm_config_t *cfg, const pm_plan_t *plan, const pm_layout_t *l,
                      char **out, pm_error_t *err)
{
    *out = NULL;
    int rc = 0;
    json_error_t je;
    json_t *inputs = json_array(), *root = NULL;
    if (!inputs) {
        rc = pm_error_nomem(err);
        goto done;
    }
    for (size_t i = 0; i < plan->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        json_t *o = json_pack_ex(&je, 0, "{s:s, s:s, s:I, s:I}", "component",
                                 cfg->components[f->component].name, "relpath", f->relpath, "size",
                                 (json_int_t)f->size, "mtime_ns", (json_int_t)f->mtime_ns);
        if (!o) {
            rc = pm_error_set(err, PM_EINTERNAL, f->path, 0,
                              "cannot record this input in the state file: %s", je.text);
            goto done;
        }
        if (json_array_append_new(inputs, o) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->canonical_hash);
    root =
        json_pack_ex(&je, 0, "{s:i, s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:O}", "format", STATE_FORMAT,
                     "pilemix_version", PM_VERSION, "config_hash", hash, "layout", "train_shards",
                     (int)l->train_shards, "per_shard", (int)l->per_shard, "val_buckets",
                     (int)l->val_buckets, "test_buckets", (int)l->test_buckets, "inputs", inputs);
    if (!root) {
        rc = pm_error_set(err, PM_EINTERNAL, NULL, 0, "cannot build the state file: %s", je.text);
        goto done;
    }
    /* Only with dedup: a state file without it reads as it always did. */
    if (l->dedup_buckets && json_object_set_new(json_object_get(root, "layout"), "dedup_buckets",
                                                json_integer((json_int_t)l->dedup_buckets)) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if (!(*out = json_dumps(root, JSON_INDENT(1))))
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory writing the state file");
done:
    json_decref(inputs);
    json_decref(root);
    return rc;
}

static int check_resume(const char *state_path, const pm_config_t *cfg, const pm_plan_t *plan,
                        pm_layout_t *layout, pm_error_t *err)
{
    json_error_t je;
    json_t *saved = json_load_file(state_path, 0, &je);
    if (!saved) {
        pm_error_set(err, PM_ESTATE, state_path, 0, "cannot read the interrupted run's state: %s",
                     je.text);
        pm_error_set_position(err, je.line, je.column);
        return PM_ESTATE;
    }
    int rc = 0;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->canonical_hash);
    const char *old_hash = json_string_value(json_object_get(saved, "config_hash"));
    const char *old_version = json_string_value(json_object_get(saved, "pilemix_version"));
    json_t *inputs = json_object_get(saved, "inputs");
    json_t *jl = json_object_get(saved, "layout");
    if (!old_hash || !old_version || !json_is_array(inputs) || !json_is_object(jl)) {
        rc = pm_error_set(err, PM_ESTATE, state_path, 0, "damaged state file");
    } else if (strcmp(old_version, PM_VERSION) != 0) {
        rc = pm_error_set(err, PM_ESTATE, state_path, 0,
                          "cannot resume: the interrupted run used pilemix %s, this is %s",
                          old_version, PM_VERSION);
    } else if (strcmp(old_hash, hash) != 0) {
        rc = pm_error_set(err, PM_ESTATE, cfg->path, 0,
                          "cannot resume: the config changed (config hash %s, the interrupted "
                          "run used %s); start over with --force",
                          hash, old_hash);
    } else if (json_array_size(inputs) != plan->n_files) {
        rc = pm_error_set(err, PM_ESTATE, cfg->path, 0,
                          "cannot resume: the inputs changed (%zu files now, %zu in the "
                          "interrupted run); start over with --force",
                          plan->n_files, json_array_size(inputs));
    }
    for (size_t i = 0; rc == 0 && i < plan->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        json_t *o = json_array_get(inputs, i);
        const char *comp = json_string_value(json_object_get(o, "component"));
        const char *rel = json_string_value(json_object_get(o, "relpath"));
        json_int_t size = json_integer_value(json_object_get(o, "size"));
        json_int_t mtime = json_integer_value(json_object_get(o, "mtime_ns"));
        if (!comp || !rel || strcmp(comp, cfg->components[f->component].name) ||
            strcmp(rel, f->relpath))
            rc = pm_error_set(err, PM_ESTATE, f->path, 0,
                              "cannot resume: the input file list changed here (the interrupted "
                              "run had %s/%s); start over with --force",
                              comp ? comp : "?", rel ? rel : "?");
        else if ((uint64_t)size != f->size || mtime != f->mtime_ns)
            rc = pm_error_set(err, PM_ESTATE, f->path, 0,
                              "cannot resume: input file changed since the interrupted run "
                              "(size %lld -> %llu bytes, mtime %s); start over with --force",
                              (long long)size, (unsigned long long)f->size,
                              mtime != f->mtime_ns ? "changed" : "same");
    }
    if (rc == 0) {
        layout->train_shards = (uint32_t)json_integer_value(json_object_get(jl, "train_shards"));
        layout->per_shard = (uint32_t)json_integer_value(json_object_get(jl, "per_shard"));
        layout->val_buckets = (uint32_t)json_integer_value(json_object_get(jl, "val_buckets"));
        layout->test_buckets = (uint32_t)json_integer_value(json_object_get(jl, "test_buckets"));
        layout->dedup_buckets = (uint32_t)json_integer_value(json_object_get(jl, "dedup_buckets"));
        if (layout->train_shards != cfg->train_shards || !layout->per_shard ||
            (cfg->dedup == PM_DEDUP_EXACT) != (layout->dedup_buckets > 0) || !layout->val_buckets ||
            !layout->test_buckets)
            rc = pm_error_set(err, PM_ESTATE, state_path, 0, "damaged state file (layout)");
    }
    json_decref(saved);
    return rc;
}

/* mkdir -p, then insist on a real directory: a symlink planted at a path
 * pilemix creates (OUTDIR/train, WORK/spill, ...) would send writes outside
 * the output and work directories. The two roots themselves may be
 * symlinks: the user chose them. */
static int make_own_dir(const char *root, const char *sub, pm_error_t *err)
{
    char *p = pm_path_join(root, sub);
    if (!p)
        return pm_error_nomem(err);
    int rc = pm_mkdir_p(p, err);
    struct stat st;
    if (rc == 0 && (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = pm_error_set(err, PM_ESTATE, p, 0,
                          "is not a plain directory (a symlink?); refusing to write through it");
    free(p);
    return rc;
}

static int make_dirs(const pm_config_t *cfg, pm_error_t *err)
{
    static const char *subdirs[] = {"spill", "rejects", "results"};
    for (size_t i = 0; i < 3; i++)
        PM_TRY(make_own_dir(cfg->work_dir, subdirs[i], err));
    return make_own_dir(cfg->out_dir, "train", err);
}

/* Is out_dir a complete output of this config? Its manifest names this
 * config hash and the same input files (path and size, per component), and
 * every file it lists is there with its compressed size: a cheap check by
 * stat, `pilemix verify` reads the bytes. When the answer is no but a
 * manifest is there, why says what differs. */
static bool output_complete(const pm_config_t *cfg, const pm_plan_t *plan, size_t *n_checked,
                            char *why, size_t why_size)
{
    why[0] = '\0';
    char *path = pm_path_join(cfg->out_dir, "manifest.json");
    json_t *m = path && pm_path_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    if (!m)
        return false;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->canonical_hash);
    const char *old_hash = json_string_value(json_object_get(m, "config_hash"));
    json_t *comps = json_object_get(m, "components");
    json_t *files = json_object_get(m, "files");
    bool ok = false;
    if (!old_hash || !json_is_array(comps) || !json_is_array(files) ||
        json_array_size(comps) != cfg->n_components) {
        snprintf(why, why_size, "its manifest.json is damaged");
        goto done;
    }
    if (strcmp(old_hash, hash) != 0) {
        snprintf(why, why_size, "it was made from another config (hash %s, this one is %s)",
                 old_hash, hash);
        goto done;
    }
    /* The plan lists files by component, in the manifest's order. */
    size_t i = 0;
    for (size_t c = 0; c < cfg->n_components; c++) {
        json_t *in = json_object_get(json_array_get(comps, c), "input_files");
        for (size_t k = 0; k < json_array_size(in); k++, i++) {
            json_t *o = json_array_get(in, k);
            const char *rel = json_string_value(json_object_get(o, "path"));
            json_int_t bytes = json_integer_value(json_object_get(o, "bytes"));
            const pm_input_file_t *f = i < plan->n_files ? &plan->files[i] : NULL;
            if (!f || f->component != c || !rel || strcmp(rel, f->relpath) ||
                (uint64_t)bytes != f->size) {
                snprintf(why, why_size, "the input files changed since it was made (%s/%s)",
                         cfg->components[c].name, rel ? rel : "?");
                goto done;
            }
        }
    }
    if (i != plan->n_files) {
        snprintf(why, why_size,
                 "the input files changed since it was made (%zu files now, %zu then)",
                 plan->n_files, i);
        goto done;
    }
    size_t data_files = 0;
    for (size_t k = 0; k < json_array_size(files); k++) {
        json_t *o = json_array_get(files, k);
        const char *rel = json_string_value(json_object_get(o, "path"));
        const char *split = json_string_value(json_object_get(o, "split"));
        json_int_t bytes = json_integer_value(json_object_get(o, "compressed_bytes"));
        char *p = rel ? pm_path_join(cfg->out_dir, rel) : NULL;
        struct stat sb;
        bool there = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
        free(p);
        if (!there || (uint64_t)sb.st_size != (uint64_t)bytes) {
            snprintf(why, why_size, "%s is %s", rel ? rel : "a file",
                     there ? "not the size its manifest says" : "missing");
            goto done;
        }
        if (!split || strcmp(split, "rejects"))
            data_files++;
    }
    char *sums = pm_path_join(cfg->out_dir, "XXH128SUMS");
    bool have_sums = sums && pm_path_exists(sums);
    free(sums);
    if (data_files != (size_t)cfg->train_shards + 2 || !have_sums) {
        snprintf(why, why_size, "its file list is incomplete");
        goto done;
    }
    *n_checked = json_array_size(files);
    ok = true;
done:
    json_decref(m);
    return ok;
}

int pm_state_prepare(pm_state_t *st, const pm_config_t *cfg, const pm_plan_t *plan,
                     pm_layout_t *layout, bool resume, bool force, pm_error_t *err)
{
    st->work_dir = strdup(cfg->work_dir);
    char *state_path = pm_path_join(cfg->work_dir, "state.json");
    if (!st->work_dir || !state_path) {
        free(state_path);
        return pm_error_nomem(err);
    }
    int rc = 0;
    bool work_exists = pm_path_exists(cfg->work_dir);
    /* --resume is idempotent: done already, or nothing to resume (then a
     * new run, which may clear a work directory of ours without state: it
     * holds nothing a resume could trust). */
    char why[PM_ERROR_MSG_MAX / 2];
    why[0] = '\0';
    if (resume) {
        st->resume = PM_RESUME_CONTINUE;
        if (output_complete(cfg, plan, &st->complete_files, why, sizeof why)) {
            st->resume = PM_RESUME_COMPLETE;
            remove_stale_out_lock(cfg->out_dir);
            free(state_path);
            return 0; /* nothing created, nothing locked */
        }
        if (!pm_path_exists(state_path)) {
            st->resume = PM_RESUME_STARTED;
            resume = false;
        }
    }
    bool started = st->resume == PM_RESUME_STARTED;
    rc = probe_locks(cfg, err);
    if (rc < 0) {
        /* refused: another run holds a directory */
    } else if (resume) {
        /* continue: check_resume() below, under the lock */
    } else if (work_exists && !force && !started && !dir_is_empty(cfg->work_dir)) {
        rc = pm_error_set(err, PM_ESTATE, cfg->work_dir, 0,
                          "work directory exists: an earlier run did not finish (use --resume to "
                          "continue it, or --force to start over)");
    } else if (work_exists && (force || started) && !dir_is_empty(cfg->work_dir) &&
               !pm_path_exists(state_path)) {
        char *lock = pm_path_join(cfg->work_dir, "lock");
        bool ours = lock && pm_path_exists(lock);
        free(lock);
        if (!ours)
            rc = pm_error_set(err, PM_ESTATE, cfg->work_dir, 0,
                              "work directory is not empty and is not a pilemix work directory; "
                              "refusing to delete it even with --force");
    }
    /* Every refusal comes before anything is created, so a refused run can
     * be repeated and gives the same message. */
    if (rc == 0 && !resume)
        rc = check_output_dir(cfg->out_dir, force, started ? why : NULL, err);
    /* The output's lock first: a second run on this output, whatever its
     * work directory, stops here before it touches anything. */
    if (rc == 0)
        rc = pm_mkdir_p(cfg->out_dir, err);
    if (rc == 0 && !(st->out_lock = pm_path_join(cfg->out_dir, PM_STATE_OUT_LOCK)))
        rc = pm_error_nomem(err);
    if (rc == 0)
        rc = lock_path(st->out_lock, cfg->out_dir, "output directory", true, &st->out_lock_fd, err);
    if (rc == 0)
        rc = pm_mkdir_p(cfg->work_dir, err);
    if (rc == 0)
        rc = take_lock(st, err);
    if (rc == 0 && resume)
        rc = check_resume(state_path, cfg, plan, layout, err);
    if (rc == 0 && !resume) {
        /* Start over: clear the old work (keeping the lock we hold) and the
         * old output. */
        static const char *subdirs[] = {"spill", "rejects", "results", "state.json"};
        for (size_t i = 0; i < 4 && rc == 0; i++) {
            char *p = pm_path_join(cfg->work_dir, subdirs[i]);
            rc = p ? pm_remove_tree(p, err) : pm_error_nomem(err);
            free(p);
        }
        if (rc == 0) /* again, under the lock */
            rc = check_output_dir(cfg->out_dir, force, started ? why : NULL, err);
        if (rc == 0)
            rc = clear_output_dir(cfg->out_dir, err);
        if (rc == 0) {
            char *text = NULL;
            rc = state_text(cfg, plan, layout, &text, err);
            if (rc == 0)
                rc = pm_write_file_atomic(state_path, text, strlen(text), err);
            free(text);
        }
    }
    if (rc == 0)
        rc = make_dirs(cfg, err);
    free(state_path);
    return rc;
}

/* Remove the work directory but the census cache (then the directory too
 * when the cache is not there). */
static int remove_work(const char *work, pm_error_t *err)
{
    DIR *d = opendir(work);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    bool cache = false;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strcmp(e->d_name, CENSUS_CACHE)) {
            cache = true;
            continue;
        }
        char *p = pm_path_join(work, e->d_name);
        rc = p ? pm_remove_tree(p, err) : pm_error_nomem(err);
        free(p);
    }
    closedir(d);
    if (rc == 0 && !cache && rmdir(work) != 0 && errno != ENOENT)
        rc = pm_error_set(err, PM_EIO, work, 0, "cannot remove: %s", strerror(errno));
    return rc;
}

int pm_state_complete(pm_state_t *st, bool keep, pm_error_t *err)
{
    int rc = 0;
    if (!keep && st->work_dir)
        rc = remove_work(st->work_dir, err);
    pm_state_close(st);
    return rc;
}

static int cmp_stream_id(const void *pa, const void *pb)
{
    const pm_spill_stream_id_t *a = pa, *b = pb;
    if (a->attempt != b->attempt)
        return a->attempt < b->attempt ? -1 : 1;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

int pm_state_list_streams(const pm_job_t *job, pm_spill_stream_id_t **ids, size_t *n,
                          uint32_t *next_attempt, pm_error_t *err)
{
    *ids = NULL;
    *n = 0;
    *next_attempt = 1;
    DIR *d = opendir(job->spill_dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return pm_error_set(err, PM_EIO, job->spill_dir, 0, "cannot list: %s", strerror(errno));
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t attempt, rank;
        if (!pm_spill_stream_name(e->d_name, &attempt, &rank))
            continue; /* a spill file of an older pilemix, say: never trusted */
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            pm_spill_stream_id_t *p = realloc(*ids, cap * sizeof *p);
            if (!p) {
                rc = pm_error_nomem(err);
                break;
            }
            *ids = p;
        }
        (*ids)[(*n)++] = (pm_spill_stream_id_t){attempt, rank, 0};
        if (attempt >= *next_attempt)
            *next_attempt = attempt + 1;
    }
    closedir(d);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(*ids, *n, sizeof **ids, cmp_stream_id);
    return 0;
}

/* Result record: header, file result, per-component docs and dups, checksum. */
typedef struct result_header {
    uint64_t magic;
    uint64_t file;
    uint64_t n_components;
    uint64_t passes;
} result_header_t;

static int result_path(const pm_job_t *job, uint32_t file, pm_buf_t *out)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/file-%06u.bin", job->results_dir, file);
}

int pm_state_save_file_result(const pm_job_t *job, uint32_t file, const pm_gather_out_t *out,
                              pm_error_t *err)
{
    size_t nc = job->cfg->n_components;
    pm_buf_t data, path;
    pm_buf_init(&data);
    pm_buf_init(&path);
    int rc = 0;
    result_header_t h = {RESULT_MAGIC, file, nc, out->passes};
    if (pm_buf_append(&data, &h, sizeof h) < 0 ||
        pm_buf_append(&data, &out->result, sizeof out->result) < 0 ||
        pm_buf_append(&data, out->comp_docs, nc * sizeof(uint64_t)) < 0 ||
        pm_buf_append(&data, out->comp_dups, nc * sizeof(uint64_t)) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    /* The file's canaries' lines, for the list the finish step writes. */
    size_t can_first, can_count;
    pm_job_file_canaries(job, file, &can_first, &can_count);
    for (size_t i = can_first; i < can_first + can_count; i++) {
        uint64_t line = out->canary_lines ? out->canary_lines[i] : 0;
        if (pm_buf_append(&data, &line, sizeof line) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    uint64_t sum = XXH3_64bits(data.data, data.len);
    if (pm_buf_append(&data, &sum, sizeof sum) < 0 || result_path(job, file, &path) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    rc = pm_write_file_atomic(path.data, data.data, data.len, err);
done:
    pm_buf_free(&data);
    pm_buf_free(&path);
    return rc;
}

int pm_state_load_file_result(const pm_job_t *job, uint32_t file, pm_totals_t *t, bool *done,
                              pm_error_t *err)
{
    return pm_state_load_file_result_lines(job, file, t, NULL, done, err);
}

int pm_state_load_file_result_lines(const pm_job_t *job, uint32_t file, pm_totals_t *t,
                                    uint64_t *canary_lines, bool *done, pm_error_t *err)
{
    *done = false;
    size_t can_first, can_count;
    pm_job_file_canaries(job, file, &can_first, &can_count);
    size_t nc = job->cfg->n_components;
    pm_buf_t data, path, name;
    pm_buf_init(&data);
    pm_buf_init(&path);
    pm_buf_init(&name);
    pm_gather_out_t out = {.comp_docs = calloc(nc + 1, sizeof(uint64_t)),
                           .comp_dups = calloc(nc + 1, sizeof(uint64_t))};
    int rc = 0;
    if (!out.comp_docs || !out.comp_dups || result_path(job, file, &path) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if (!pm_path_exists(path.data))
        goto done;
    if ((rc = pm_read_file(path.data, &data, err)) < 0)
        goto done;
    size_t want =
        sizeof(result_header_t) + sizeof(pm_file_result_t) + 2 * nc * 8 + can_count * 8 + 8;
    result_header_t h;
    uint64_t sum;
    if (data.len != want)
        goto done; /* stale or damaged: redo the file */
    memcpy(&h, data.data, sizeof h);
    memcpy(&sum, data.data + data.len - 8, 8);
    if (h.magic != RESULT_MAGIC || h.file != file || h.n_components != nc ||
        XXH3_64bits(data.data, data.len - 8) != sum)
        goto done;
    memcpy(&out.result, data.data + sizeof h, sizeof out.result);
    const char *p = data.data + sizeof h + sizeof out.result;
    memcpy(out.comp_docs, p, nc * 8);
    memcpy(out.comp_dups, p + nc * 8, nc * 8);
    out.passes = h.passes;
    out.canaries = can_count;
    if (canary_lines)
        memcpy(canary_lines + can_first, p + 2 * nc * 8, can_count * 8);
    /* The record is written after the rename; still check the file is there
     * with the recorded size. */
    pm_buf_reset(&path);
    if (pm_job_output_name(job, file, &name) < 0 ||
        pm_buf_printf(&path, "%s/%s", job->cfg->out_dir, name.data) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    struct stat sb;
    if (stat(path.data, &sb) != 0 || (uint64_t)sb.st_size != out.result.zst_bytes)
        goto done;
    if (t)
        pm_totals_add_file(t, &job->layout, file, &out);
    *done = true;
done:
    free(out.comp_docs);
    free(out.comp_dups);
    pm_buf_free(&data);
    pm_buf_free(&path);
    pm_buf_free(&name);
    return rc;
}
