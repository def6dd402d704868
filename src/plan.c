/* Input expansion (plan.h): config paths -> the ordered task list.
 *
 * Every problem that would otherwise surface hours into a run (a typo in a
 * glob, a dangling symlink, an unreadable file, two files claiming one
 * identity) is found here, before any rank starts, and reported naming the
 * component and the path. Nothing is read but directory entries and inodes. */
#include "pilemix/plan.h"

#include "pilemix/buf.h"
#include "pilemix/record.h"
#include "pilemix/table.h"
#include "pilemix/source.h"

#include <dirent.h>
#include <fnmatch.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUPPORTED_HINT "(see README, Inputs)"
#define UNRECOGNISED_SHOWN 5 /* files named in the message; the count says the rest */

/* Which inode a plan entry is, to catch one file listed twice. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    size_t idx;    /* into plan->files before the sort */
    uint32_t comp; /* its component */
    char *path;    /* borrowed from the plan entry */
} file_id_t;

/* Expansion state for one component path. */
typedef struct expand {
    pm_plan_t *plan;
    size_t cap;
    const pm_config_t *cfg;
    uint32_t comp;
    size_t path_idx;
    pm_error_t *err;
    dev_t *dir_dev; /* directories being walked, to refuse symlink cycles */
    ino_t *dir_ino;
    size_t depth, depth_cap;
    file_id_t *ids; /* parallel to plan->files until the final sort */
    /* Regular files under a directory path that are no input and match no
     * exclude glob: the component fails listing them. */
    size_t n_unrec;
    pm_buf_t unrec;
} expand_t;

static bool excluded(const expand_t *e, const char *relpath)
{
    const pm_component_cfg_t *cc = &e->cfg->components[e->comp];
    for (size_t i = 0; i < cc->n_exclude; i++)
        if (fnmatch(cc->exclude[i], relpath, FNM_PATHNAME) == 0)
            return true;
    return false;
}

/* The usual reason a data file has a name pilemix does not read. */
static const char *name_hint(const char *name)
{
    size_t n = strlen(name);
#define ENDS(sfx) (n >= sizeof sfx - 1 && !strcmp(name + n - (sizeof sfx - 1), sfx))
    if (ENDS(".json"))
        return " (JSON lines? name it .jsonl; an array of strings? compress it as .json.zst)";
    if (ENDS(".zst") || ENDS(".gz") || ENDS(".xz") || ENDS(".bz2") || ENDS(".zstd"))
        return " (compressed what? name it .jsonl.gz, .txt.zst, ...)";
    if (ENDS(".parquet") || ENDS(".arrow"))
        return " (columnar files are not read: export JSON lines)";
#undef ENDS
    return "";
}

static const char *comp_name(const expand_t *e) { return e->cfg->components[e->comp].name; }

static int nomem(expand_t *e) { return pm_error_nomem(e->err); }

static int note_unrecognised(expand_t *e, const char *relpath, const char *name)
{
    if (e->n_unrec++ >= UNRECOGNISED_SHOWN)
        return 0;
    pm_buf_t shown;
    pm_buf_init(&shown);
    int rc = pm_escape_bytes(&shown, relpath, strlen(relpath));
    if (rc == 0)
        rc = pm_buf_printf(&e->unrec, "%s\"%s\"%s", e->unrec.len ? ", " : "",
                           shown.data ? shown.data : "", name_hint(name));
    pm_buf_free(&shown);
    return rc < 0 ? nomem(e) : 0;
}

/* "component "C": path "P" <what>", plus the path as written when ${VAR} or
 * the config directory changed it, so the user can find the line. */
static int path_error(expand_t *e, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int path_error(expand_t *e, const char *path, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const pm_component_cfg_t *cc = &e->cfg->components[e->comp];
    const char *raw = cc->raw_paths ? cc->raw_paths[e->path_idx] : NULL;
    const char *arg = cc->paths[e->path_idx];
    char written[300] = "";
    if (raw && strcmp(raw, arg))
        snprintf(written, sizeof written, " (components[%" PRIu32 "].paths[%zu] is \"%s\")",
                 e->comp, e->path_idx, raw);
    /* Names come from the file system: show any byte that is not UTF-8
     * text (or is a control character) escaped, so the message is one
     * readable line that names the file exactly. */
    pm_buf_t shown;
    pm_buf_init(&shown);
    if (pm_escape_bytes(&shown, path, strlen(path)) < 0 || !shown.data) {
        pm_buf_free(&shown);
        return nomem(e);
    }
    int rc = pm_error_set(e->err, PM_ECONFIG, e->cfg->path, 0, "component \"%s\": path \"%s\" %s%s",
                          comp_name(e), shown.data, what, written);
    pm_buf_free(&shown);
    return rc;
}

/* A file the user named or that a walk found: check it and append it. */
static int add_file(expand_t *e, const char *path, const char *relpath, const struct stat *st,
                    int fmt)
{
    /* Identity paths are text: they go into the manifest, the state file,
     * the plan sent to the other ranks and messages, all UTF-8. A name in
     * another encoding (a Latin-1 "caf\xE9.jsonl") is refused here, before
     * anything is created, rather than half-way through a run. */
    if (pm_utf8_valid_prefix(path, strlen(path)) != strlen(path) ||
        pm_utf8_valid_prefix(relpath, strlen(relpath)) != strlen(relpath))
        return path_error(e, path,
                          "is not valid UTF-8 (pilemix records input paths as UTF-8 text); "
                          "rename it, or keep it out of the component's paths");
    /* access() alone is not enough (ACLs, root squash on NFS): try to open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || access(path, R_OK) != 0) {
        int en = errno;
        if (fd >= 0)
            close(fd);
        return path_error(e, path, "is not readable: %s", strerror(en));
    }
    close(fd);
    /* Its first bytes: a wrong name (gzip in a .jsonl, UTF-16 text) is
     * always refused; a damaged compressed file only when on_bad_file is
     * "fail" (under "skip" the run skips it and lists it). */
    pm_error_t probe;
    pm_error_clear(&probe);
    int prc = pm_source_probe(path, (pm_format_t)fmt, &probe);
    if (prc == PM_ENOMEM)
        return nomem(e);
    if (prc < 0 && (prc != PM_EDATA || e->cfg->on_bad_file == PM_ON_BAD_FAIL)) {
        path_error(e, path, "%s%s", prc == PM_EDATA ? "is a bad file: " : "", probe.msg);
        /* Damaged data fails the job (exit 1) as it would at run time; a
         * name that lies about the content is the config's (exit 2). */
        if (prc == PM_EDATA && e->err) {
            e->err->code = PM_EDATA;
            e->err->offset = probe.offset;
        }
        return prc == PM_EDATA ? PM_EDATA : PM_ECONFIG;
    }
    pm_plan_t *p = e->plan;
    if (p->n_files == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        pm_input_file_t *f = realloc(p->files, cap * sizeof *f);
        if (!f)
            return nomem(e);
        p->files = f;
        file_id_t *ids = realloc(e->ids, cap * sizeof *ids);
        if (!ids)
            return nomem(e);
        e->ids = ids;
        e->cap = cap;
    }
    pm_input_file_t *f = &p->files[p->n_files];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->relpath = strdup(relpath);
    if (!f->path || !f->relpath) {
        free(f->path);
        free(f->relpath);
        return nomem(e);
    }
    f->component = e->comp;
    f->format = (pm_format_t)fmt;
    f->size = (uint64_t)st->st_size;
    f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    e->ids[p->n_files] = (file_id_t){st->st_dev, st->st_ino, p->n_files, e->comp, f->path};
    p->n_files++;
    return 0;
}

/* stat() following links; a dangling link gets its own message. */
static int stat_entry(expand_t *e, const char *path, struct stat *st)
{
    if (stat(path, st) == 0)
        return 0;
    int en = errno;
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        return path_error(e, path, "is a broken symbolic link: %s", strerror(en));
    if (en == ENOENT)
        return path_error(e, path, "matches no file");
    return path_error(e, path, "cannot be read: %s", strerror(en));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the supported files under dir (recursively). relprefix is the identity
 * path of dir itself ("" for the directory the user named). */
static int walk_dir(expand_t *e, const char *dir, const char *relprefix, const struct stat *dst)
{
    for (size_t i = 0; i < e->depth; i++)
        if (e->dir_dev[i] == dst->st_dev && e->dir_ino[i] == dst->st_ino)
            return path_error(e, dir, "is part of a directory cycle (symbolic link loop)");
    if (e->depth == e->depth_cap) {
        size_t cap = e->depth_cap ? e->depth_cap * 2 : 16;
        dev_t *d = realloc(e->dir_dev, cap * sizeof *d);
        if (!d)
            return nomem(e);
        e->dir_dev = d;
        ino_t *i = realloc(e->dir_ino, cap * sizeof *i);
        if (!i)
            return nomem(e);
        e->dir_ino = i;
        e->depth_cap = cap;
    }
    e->dir_dev[e->depth] = dst->st_dev;
    e->dir_ino[e->depth] = dst->st_ino;
    e->depth++;

    int rc = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    pm_buf_t path, rel;
    pm_buf_init(&path);
    pm_buf_init(&rel);
    DIR *d = opendir(dir);
    if (!d) {
        rc = path_error(e, dir, "cannot be read: %s", strerror(errno));
        goto done;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = path_error(e, dir, "cannot be read: %s", strerror(errno));
            break;
        }
        if (de->d_name[0] == '.') /* hidden, ".", ".." */
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = nomem(e);
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = nomem(e);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc < 0)
        goto done;
    /* Sorted only to make error reports deterministic; the plan is sorted
     * by identity path at the end. */
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    size_t dlen = strlen(dir);
    int dir_slash = dlen > 0 && dir[dlen - 1] == '/';
    for (size_t i = 0; i < n && rc == 0; i++) {
        pm_buf_reset(&path);
        pm_buf_reset(&rel);
        if (pm_buf_printf(&path, "%s%s%s", dir, dir_slash ? "" : "/", names[i]) < 0 ||
            pm_buf_printf(&rel, "%s%s%s", relprefix, relprefix[0] ? "/" : "", names[i]) < 0) {
            rc = nomem(e);
            break;
        }
        struct stat st;
        if ((rc = stat_entry(e, path.data, &st)) < 0)
            break;
        if (excluded(e, rel.data))
            continue; /* a file or a whole directory the user left out */
        if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(e, path.data, rel.data, &st);
        } else {
            int fmt = pm_format_from_name(names[i]);
            /* A fifo or socket named like an input would otherwise vanish
             * from the mix without a word. */
            if (fmt >= 0 && !S_ISREG(st.st_mode))
                rc = path_error(e, path.data, "is not a regular file");
            else if (fmt >= 0)
                rc = add_file(e, path.data, rel.data, &st, fmt);
            else if (S_ISREG(st.st_mode)) /* never skipped silently */
                rc = note_unrecognised(e, rel.data, names[i]);
        }
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    pm_buf_free(&path);
    pm_buf_free(&rel);
    e->depth--;
    return rc;
}

/* A path the user named or a glob matched, with its identity path. */
static int expand_one(expand_t *e, const char *path, const char *relpath, int from_glob)
{
    struct stat st;
    PM_TRY(stat_entry(e, path, &st));
    if (S_ISDIR(st.st_mode))
        return walk_dir(e, path, relpath, &st);
    if (!S_ISREG(st.st_mode))
        return path_error(e, path, "is not a regular file or directory");
    if (from_glob && excluded(e, relpath))
        return 0;
    const char *base = strrchr(path, '/');
    int fmt = pm_format_from_name(base ? base + 1 : path);
    if (fmt < 0)
        /* A glob like "data/x*" may catch a README; a file named on purpose
         * must be an input. */
        return from_glob ? 0
                         : path_error(e, path, "is not a supported input file (%s)%s",
                                      pm_format_list(), name_hint(base ? base + 1 : path));
    return add_file(e, path, relpath, &st, fmt);
}

static int has_glob_meta(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* Number of path components of pat after its non-glob prefix: the identity
 * path of a match is its last that many components. Counting components
 * (rather than stripping a string prefix) survives "a//b" and "./" forms
 * glob(3) may or may not normalise. */
static size_t glob_depth(const char *pat)
{
    size_t total = 0, first_meta = 0;
    int found = 0;
    const char *p = pat;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int meta = 0;
        for (size_t i = 0; i < len; i++)
            if (p[i] == '*' || p[i] == '?' || p[i] == '[')
                meta = 1;
        if (meta && !found) {
            found = 1;
            first_meta = total;
        }
        total++;
        p += len;
    }
    return found ? total - first_meta : 0;
}

/* The last k components of path, joined by single slashes. */
static int last_components(const char *path, size_t k, pm_buf_t *out)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    for (size_t got = 0; got < k && start > 0;) {
        size_t end = start;
        while (end > 0 && path[end - 1] == '/')
            end--;
        start = end;
        while (start > 0 && path[start - 1] != '/')
            start--;
        if (end > start)
            got++;
    }
    pm_buf_reset(out);
    if (pm_buf_append(out, "", 0) < 0)
        return PM_ENOMEM;
    for (size_t i = start; i < len; i++) {
        if (path[i] == '/' && (out->len == 0 || out->data[out->len - 1] == '/'))
            continue;
        PM_TRY(pm_buf_append_char(out, path[i]));
    }
    return 0;
}

static int glob_errno;
static char glob_errpath[PATH_MAX];

static int on_glob_error(const char *epath, int eerrno)
{
    /* glob(3) gives no user pointer; plan building is single-threaded. */
    glob_errno = eerrno;
    snprintf(glob_errpath, sizeof glob_errpath, "%s", epath);
    return 1;
}

static int expand_glob(expand_t *e, const char *pat)
{
    glob_t g;
    glob_errno = 0;
    glob_errpath[0] = '\0';
    int grc = glob(pat, GLOB_ERR, on_glob_error, &g);
    /* GLOB_ERR also aborts when a directory of the pattern is missing:
     * for the user that is the same as no match. */
    if (grc == GLOB_NOMATCH ||
        (grc == GLOB_ABORTED && (glob_errno == ENOENT || glob_errno == ENOTDIR))) {
        globfree(&g);
        return path_error(e, pat, "matches no file");
    }
    if (grc == GLOB_NOSPACE) {
        globfree(&g);
        return nomem(e);
    }
    if (grc != 0) {
        globfree(&g);
        return path_error(e, pat, "cannot be expanded: \"%s\": %s", glob_errpath,
                          glob_errno ? strerror(glob_errno) : "read error");
    }
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
    size_t k = glob_depth(pat);
    size_t before = e->plan->n_files;
    pm_buf_t rel;
    pm_buf_init(&rel);
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        if ((rc = last_components(g.gl_pathv[i], k, &rel)) < 0) {
            rc = nomem(e);
            break;
        }
        rc = expand_one(e, g.gl_pathv[i], rel.data, 1);
    }
    pm_buf_free(&rel);
    globfree(&g);
    if (rc == 0 && e->plan->n_files == before)
        rc = path_error(e, pat, "matches no supported input file " SUPPORTED_HINT);
    return rc;
}

static int expand_path(expand_t *e, const char *path)
{
    if (has_glob_meta(path))
        return expand_glob(e, path);
    size_t before = e->plan->n_files;
    struct stat st;
    PM_TRY(stat_entry(e, path, &st));
    const char *rel;
    if (S_ISDIR(st.st_mode)) {
        rel = "";
    } else {
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
            len--;
        rel = path + len;
        while (rel > path && rel[-1] != '/')
            rel--;
    }
    PM_TRY(expand_one(e, path, rel, 0));
    if (S_ISDIR(st.st_mode) && e->plan->n_files == before && !e->n_unrec)
        return path_error(e, path, "is a directory with no supported input files " SUPPORTED_HINT);
    return 0;
}

/* By inode, then by order of appearance so the message is deterministic. */
static int cmp_id(const void *a, const void *b)
{
    const file_id_t *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_file(const void *a, const void *b)
{
    const pm_input_file_t *x = a, *y = b;
    if (x->component != y->component)
        return x->component < y->component ? -1 : 1;
    return strcmp(x->relpath, y->relpath);
}

/* realpath() of a path that may not exist yet: its deepest existing
 * ancestor resolved, the rest appended. NULL when nothing resolves. */
static char *resolve(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    const char *slash = strrchr(path, '/');
    char *parent = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!parent)
        return NULL;
    char *pr = !strcmp(parent, path) ? NULL : resolve(parent);
    free(parent);
    if (!pr)
        return NULL;
    const char *leaf = slash ? slash + 1 : path;
    size_t n = strlen(pr) + strlen(leaf) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", pr, pr[strlen(pr) - 1] == '/' ? "" : "/", leaf);
    free(pr);
    return out;
}

/* Whether child is parent or below it (both resolved). */
static bool is_under(const char *child, const char *parent)
{
    size_t n = strlen(parent);
    if (n == 1 && parent[0] == '/')
        return true;
    return !strncmp(child, parent, n) && (child[n] == '\0' || child[n] == '/');
}

/* The directory a component path reads from: itself, or a glob's
 * non-glob prefix. */
static char *input_root(const char *path)
{
    const char *meta = strpbrk(path, "*?[");
    if (!meta)
        return strdup(path);
    const char *slash = meta;
    while (slash > path && slash[-1] != '/')
        slash--;
    return slash == path ? strdup(".") : strndup(path, (size_t)(slash - path));
}

/* A rerun must never read its own output: refuse output.dir or
 * run.work_dir inside an input directory, and an input inside them. */
static int check_containment(const pm_config_t *cfg, const pm_plan_t *plan, pm_error_t *err)
{
    const char *keys[2] = {"output.dir", "run.work_dir"};
    const char *dirs[2] = {cfg->out_dir, cfg->work_dir};
    char *real[2] = {NULL, NULL};
    int rc = 0;
    for (int k = 0; k < 2; k++)
        if (dirs[k] && !(real[k] = resolve(dirs[k])))
            real[k] = NULL; /* cannot resolve: nothing to compare */
    for (size_t c = 0; c < cfg->n_components && rc == 0; c++)
        for (size_t i = 0; i < cfg->components[c].n_paths && rc == 0; i++) {
            char *root = input_root(cfg->components[c].paths[i]);
            char *rr = root ? realpath(root, NULL) : NULL;
            struct stat st;
            if (rr && stat(rr, &st) == 0 && S_ISDIR(st.st_mode))
                for (int k = 0; k < 2 && rc == 0; k++)
                    if (real[k] && is_under(real[k], rr))
                        rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                          "%s: \"%s\" is inside the input path \"%s\" of "
                                          "component \"%s\": a rerun would read its own output; "
                                          "put it outside the inputs",
                                          keys[k], dirs[k], cfg->components[c].paths[i],
                                          cfg->components[c].name);
            free(root);
            free(rr);
        }
    for (size_t f = 0; f < plan->n_files && rc == 0; f++) {
        char *fr = realpath(plan->files[f].path, NULL);
        for (int k = 0; fr && k < 2 && rc == 0; k++)
            if (real[k] && is_under(fr, real[k]))
                rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                  "input \"%s\" of component \"%s\" is inside %s (\"%s\"): "
                                  "pilemix does not read what it writes; move it out",
                                  plan->files[f].path,
                                  cfg->components[plan->files[f].component].name, keys[k], dirs[k]);
        free(fr);
    }
    free(real[0]);
    free(real[1]);
    return rc;
}

int pm_plan_build(pm_plan_t *plan, const pm_config_t *cfg, pm_error_t *err)
{
    memset(plan, 0, sizeof *plan);
    pm_error_clear(err);
    expand_t e;
    memset(&e, 0, sizeof e);
    e.plan = plan;
    e.cfg = cfg;
    e.err = err;
    int rc = 0;
    for (size_t c = 0; c < cfg->n_components && rc == 0; c++) {
        e.comp = (uint32_t)c;
        e.n_unrec = 0;
        pm_buf_reset(&e.unrec);
        for (size_t i = 0; i < cfg->components[c].n_paths && rc == 0; i++) {
            e.path_idx = i;
            rc = expand_path(&e, cfg->components[c].paths[i]);
        }
        if (rc == 0 && e.n_unrec) {
            rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                              "component \"%s\": %zu file%s under its paths %s not input%s "
                              "(%s): %s%s; list %s in the component's \"exclude\" globs (e.g. "
                              "\"*.md\") or move %s away",
                              cfg->components[c].name, e.n_unrec, e.n_unrec == 1 ? "" : "s",
                              e.n_unrec == 1 ? "is" : "are", e.n_unrec == 1 ? "" : "s",
                              pm_format_list(), e.unrec.data,
                              e.n_unrec > UNRECOGNISED_SHOWN ? ", ..." : "",
                              e.n_unrec == 1 ? "it" : "them", e.n_unrec == 1 ? "it" : "them");
        }
    }
    /* One physical file reached twice (overlapping paths, a symlink next to
     * its target, two components over one directory) would be read twice
     * under two identities. */
    if (rc == 0 && plan->n_files > 1) {
        file_id_t *ids = e.ids;
        size_t n = plan->n_files;
        qsort(ids, n, sizeof *ids, cmp_id);
        for (size_t i = 1; i < n; i++)
            if (ids[i].dev == ids[i - 1].dev && ids[i].ino == ids[i - 1].ino) {
                if (ids[i].comp == ids[i - 1].comp)
                    rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                      "component \"%s\": file \"%s\" is listed twice (also as "
                                      "\"%s\")",
                                      cfg->components[ids[i].comp].name, ids[i].path,
                                      ids[i - 1].path);
                else
                    rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                      "file \"%s\" of component \"%s\" is the same file as "
                                      "\"%s\" of component \"%s\" (one device and inode): its "
                                      "documents would be mixed twice",
                                      ids[i].path, cfg->components[ids[i].comp].name,
                                      ids[i - 1].path, cfg->components[ids[i - 1].comp].name);
                break;
            }
    }
    if (rc == 0)
        rc = check_containment(cfg, plan, err);
    free(e.dir_dev);
    free(e.dir_ino);
    free(e.ids);
    pm_buf_free(&e.unrec);
    if (rc == 0) {
        if (plan->n_files)
            qsort(plan->files, plan->n_files, sizeof *plan->files, cmp_file);
        for (size_t i = 1; i < plan->n_files; i++) {
            const pm_input_file_t *a = &plan->files[i - 1], *b = &plan->files[i];
            if (a->component == b->component && !strcmp(a->relpath, b->relpath)) {
                rc = pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                  "component \"%s\": identity path \"%s\" is claimed by both "
                                  "\"%s\" and \"%s\" (give them different directories or "
                                  "split the component)",
                                  cfg->components[a->component].name, a->relpath, a->path, b->path);
                break;
            }
        }
    }
    if (rc < 0)
        pm_plan_close(plan);
    return rc;
}

void pm_plan_close(pm_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; plan->files && i < plan->n_files; i++) {
        free(plan->files[i].path);
        free(plan->files[i].relpath);
    }
    free(plan->files);
    plan->files = NULL;
    plan->n_files = 0;
}

/* ---- table ---- */

typedef struct row {
    uint64_t files, size, zst_files;
    double effective;
} row_t;

void pm_plan_print_table(const pm_plan_t *plan, const pm_config_t *cfg, FILE *out)
{
    size_t nc = cfg->n_components;
    row_t *rows = calloc(nc ? nc : 1, sizeof *rows);
    if (!rows) {
        fputs("(out of memory printing the plan table)\n", out);
        return;
    }
    row_t tot = {0, 0, 0, 0.0};
    for (size_t i = 0; i < plan->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        if (f->component >= nc)
            continue;
        row_t *r = &rows[f->component];
        r->files++;
        r->size += f->size;
        r->zst_files += pm_format_compressed(f->format);
    }
    for (size_t c = 0; c < nc; c++) {
        rows[c].effective = (double)rows[c].size * cfg->components[c].epochs;
        tot.files += rows[c].files;
        tot.size += rows[c].size;
        tot.zst_files += rows[c].zst_files;
        tot.effective += rows[c].effective;
    }

    fprintf(out, "config \"%s\"  seed %" PRIu64 "  hash %016" PRIx64 "\n", cfg->name, cfg->seed,
            cfg->canonical_hash);
    fprintf(out, "output %s  train shards %" PRIu32 "  val %g  test %g\n\n", cfg->out_dir,
            cfg->train_shards, cfg->val_fraction, cfg->test_fraction);

    static const char *const head[] = {"Component", "Files",          "Size",
                                       "Epochs",    "Effective size", "Mix %"};
    static const pm_align_t align[] = {PM_ALIGN_LEFT,  PM_ALIGN_RIGHT, PM_ALIGN_RIGHT,
                                       PM_ALIGN_RIGHT, PM_ALIGN_RIGHT, PM_ALIGN_RIGHT};
    pm_table_t t;
    pm_table_init(&t, 6, head, align);
    for (size_t c = 0; c <= nc; c++) {
        const row_t *r = c < nc ? &rows[c] : &tot;
        char cell[6][PM_FMT_MAX + 8], sz[PM_FMT_MAX];
        const char *cells[6] = {c < nc ? cfg->components[c].name : "Total",
                                cell[1],
                                cell[2],
                                cell[3],
                                cell[4],
                                cell[5]};
        /* '*' all compressed, '+' partly: on-disk bytes understate text. */
        const char *mark = r->zst_files == 0 ? " " : r->zst_files == r->files ? "*" : "+";
        pm_fmt_count(r->files, cell[1]);
        snprintf(cell[2], sizeof cell[2], "%s%s", pm_fmt_bytes((double)r->size, sz), mark);
        if (c < nc)
            pm_fmt_epochs(cfg->components[c].epochs, cell[3]);
        else
            cell[3][0] = '\0';
        snprintf(cell[4], sizeof cell[4], "%s%s", pm_fmt_bytes(r->effective, sz), mark);
        if (tot.effective > 0)
            snprintf(cell[5], sizeof cell[5], "%.2f%%", 100.0 * r->effective / tot.effective);
        else
            snprintf(cell[5], sizeof cell[5], "-");
        if (c == nc)
            pm_table_rule(&t);
        pm_table_add(&t, cells);
    }
    pm_table_print(&t, out);
    pm_table_close(&t);
    if (tot.zst_files == tot.files && tot.files)
        fputs("\n* compressed bytes on disk (or archives); uncompressed text is larger.\n", out);
    else if (tot.zst_files)
        fputs("\n* compressed bytes on disk (or archives); + partly compressed; uncompressed "
              "text is larger.\n",
              out);
    fputs("Mix % = share of effective size (size x epochs, on-disk bytes). Document counts\n"
          "need the data read: the run summary has them.\n",
          out);
    free(rows);
}

/* ---- JSON ---- */

int pm_plan_to_json(const pm_plan_t *plan, char **out, pm_error_t *err)
{
    *out = NULL;
    int rc = 0;
    json_error_t je;
    json_t *files = json_array(), *doc = NULL;
    if (!files) {
        rc = pm_error_nomem(err);
        goto done;
    }
    for (size_t i = 0; i < plan->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        json_t *o = json_pack_ex(&je, 0, "{s:s, s:s, s:I, s:s, s:I, s:I}", "path", f->path,
                                 "relpath", f->relpath, "component", (json_int_t)f->component,
                                 "format", pm_format_name(f->format), "size", (json_int_t)f->size,
                                 "mtime_ns", (json_int_t)f->mtime_ns);
        if (!o) {
            /* pm_plan_build refuses what JSON cannot carry: a bug if here. */
            rc = pm_error_set(err, PM_EINTERNAL, f->path, 0, "cannot encode the plan entry: %s",
                              je.text);
            goto done;
        }
        if (json_array_append_new(files, o) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    doc = json_pack_ex(&je, 0, "{s:i, s:O}", "version", 1, "files", files);
    if (!doc || !(*out = json_dumps(doc, JSON_COMPACT)))
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory encoding the plan");
done:
    json_decref(files);
    json_decref(doc);
    return rc;
}

int pm_plan_from_json(pm_plan_t *plan, const char *json, pm_error_t *err)
{
    memset(plan, 0, sizeof *plan);
    pm_error_clear(err);
    json_error_t jerr;
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        pm_error_set(err, PM_EDATA, NULL, 0, "plan JSON: %s", jerr.text);
        pm_error_set_position(err, jerr.line, jerr.column);
        return PM_EDATA;
    }
    int rc = 0;
    json_t *files = NULL;
    json_int_t version = 0;
    if (json_unpack(doc, "{s:I, s:o}", "version", &version, "files", &files) < 0 || version != 1 ||
        !json_is_array(files)) {
        rc = pm_error_set(err, PM_EDATA, NULL, 0, "plan JSON: not a version 1 plan");
        goto done;
    }
    size_t n = json_array_size(files);
    if (n && !(plan->files = calloc(n, sizeof *plan->files))) {
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *path, *relpath, *format;
        json_int_t comp, size, mtime;
        json_error_t uerr;
        if (json_unpack_ex(json_array_get(files, i), &uerr, JSON_STRICT,
                           "{s:s, s:s, s:I, s:s, s:I, s:I}", "path", &path, "relpath", &relpath,
                           "component", &comp, "format", &format, "size", &size, "mtime_ns",
                           &mtime) < 0) {
            rc = pm_error_set(err, PM_EDATA, NULL, 0, "plan JSON: files[%zu]: %s", i, uerr.text);
            goto done;
        }
        int fmt = pm_format_from_string(format);
        if (fmt < 0 || comp < 0 || comp > (json_int_t)UINT32_MAX || size < 0) {
            rc = pm_error_set(err, PM_EDATA, NULL, 0, "plan JSON: files[%zu]: bad value", i);
            goto done;
        }
        pm_input_file_t *f = &plan->files[i];
        f->path = strdup(path);
        f->relpath = strdup(relpath);
        plan->n_files = i + 1; /* so close frees this entry even on failure */
        if (!f->path || !f->relpath) {
            rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
            goto done;
        }
        f->component = (uint32_t)comp;
        f->format = (pm_format_t)fmt;
        f->size = (uint64_t)size;
        f->mtime_ns = (int64_t)mtime;
    }
done:
    json_decref(doc);
    if (rc < 0)
        pm_plan_close(plan);
    return rc;
}
