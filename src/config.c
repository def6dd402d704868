/* Config loading and validation (config.h, DESIGN 1.2).
 *
 * One table per JSON object lists its allowed keys; everything else is an
 * unknown key with a did-you-mean. Values are checked in document order and the
 * first problem is reported with its key path. The canonical JSON is rebuilt
 * from the validated values (never copied from the input), so formatting, key
 * order and explicit defaults cannot change the hash. */
#include "pilemix/config.h"

#include "pilemix/buf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DEF_TRAIN_SHARDS 30
#define MAX_TRAIN_SHARDS 100000
#define DEF_ZSTD_LEVEL 3
#define DEF_MEM_PER_RANK (2ULL << 30)
#define MIN_MEM_PER_RANK (16ULL << 20)
#define DEF_MAX_BAD_RECORDS 1000
#define DEF_MAX_RECORD_BYTES (64ULL << 20)
#define MIN_MAX_RECORD_BYTES (1ULL << 10)
#define LIM_MAX_RECORD_BYTES (4ULL << 30) /* exclusive: lengths stay in 32 bits */

#define SIZE_HINT "(use e.g. 512M, 2GiB or bytes)"

static const char *const top_keys[] = {"name", "seed", "components", "output", "run", NULL};
static const char *const comp_keys[] = {"name", "paths", "epochs", NULL};
static const char *const output_keys[] = {
    "dir", "train_shards", "val_fraction", "test_fraction", "zstd_level", "keep_meta", NULL};
static const char *const run_keys[] = {"work_dir",    "mem_per_rank",    "on_bad_record",
                                       "on_bad_file", "max_bad_records", "max_record_bytes",
                                       NULL};

/* Parsing state: the error sink and the file that messages name. */
typedef struct ctx {
    pm_error_t *err;
    const char *file;
} ctx_t;

static int cfg_error(ctx_t *c, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int cfg_error(ctx_t *c, const char *key, const char *fmt, ...)
{
    char msg[PM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pm_error_set(c->err, PM_ECONFIG, c->file, 0, "%s: %s", key, msg);
}

static int nomem(ctx_t *c) { return pm_error_set(c->err, PM_ENOMEM, c->file, 0, "out of memory"); }

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Shortest "%g" form that reads back to the same double, so messages show
 * what the user wrote ("0.1", not "0.10000000000000001"). */
static void fmt_double(char *out, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1; /* no key is that long; not worth a suggestion */
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Reject keys outside `allowed`, suggesting the closest allowed key. */
static int check_keys(ctx_t *c, const json_t *obj, const char *prefix, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        int known = 0;
        for (size_t i = 0; allowed[i]; i++) {
            if (!strcmp(key, allowed[i])) {
                known = 1;
                break;
            }
            size_t d = edit_distance(key, allowed[i]);
            if (d < best_d) {
                best_d = d;
                best = allowed[i];
            }
        }
        if (known)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        /* Short keys are one or two edits from anything; require the key to
         * keep most of its letters before suggesting. */
        if (best && best_d <= 2 && best_d < strlen(key))
            return cfg_error(c, path, "unknown key (did you mean \"%s\"?)", best);
        char list[512] = "";
        size_t n = 0;
        for (size_t i = 0; allowed[i] && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
        return cfg_error(c, path, "unknown key (allowed: %s)", list);
    }
    return 0;
}

static void key_path(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

/* Fetch obj[key]; *out = NULL when absent (an error if required). */
static int get_key(ctx_t *c, const json_t *obj, const char *prefix, const char *key, int required,
                   json_t **out)
{
    *out = json_object_get(obj, key);
    if (!*out && required) {
        char path[256];
        key_path(path, sizeof path, prefix, key);
        return cfg_error(c, path, "missing required key");
    }
    return 0;
}

static int get_string(ctx_t *c, const json_t *v, const char *path, const char **out)
{
    if (!json_is_string(v))
        return cfg_error(c, path, "must be a string (got %s)", type_name(v));
    if (json_string_length(v) == 0)
        return cfg_error(c, path, "must not be empty");
    *out = json_string_value(v);
    return 0;
}

static int get_int(ctx_t *c, const json_t *v, const char *path, long long lo, long long hi,
                   long long *out)
{
    if (!json_is_integer(v))
        return cfg_error(c, path, "must be an integer (got %s)", type_name(v));
    long long x = (long long)json_integer_value(v);
    if (x < lo)
        return cfg_error(c, path, "must be >= %lld (got %lld)", lo, x);
    if (x > hi)
        return cfg_error(c, path, "must be <= %lld (got %lld)", hi, x);
    *out = x;
    return 0;
}

static int get_fraction(ctx_t *c, const json_t *v, const char *path, double *out)
{
    if (!json_is_number(v))
        return cfg_error(c, path, "must be a number (got %s)", type_name(v));
    double x = json_number_value(v);
    char got[40];
    fmt_double(got, sizeof got, x);
    if (!(x >= 0.0 && x < 1.0))
        return cfg_error(c, path, "must be >= 0 and < 1 (got %s)", got);
    *out = x == 0.0 ? 0.0 : x; /* -0.0 means 0: one canonical form, one hash */
    return 0;
}

/* "fail" or "skip": what to do with a bad record or a bad input file. */
static int get_on_bad(ctx_t *c, const json_t *v, const char *path, pm_on_bad_t *out)
{
    if (!json_is_string(v))
        return cfg_error(c, path, "must be \"fail\" or \"skip\" (got %s)", type_name(v));
    const char *s = json_string_value(v);
    if (!strcmp(s, "fail"))
        *out = PM_ON_BAD_FAIL;
    else if (!strcmp(s, "skip"))
        *out = PM_ON_BAD_SKIP;
    else
        return cfg_error(c, path, "must be \"fail\" or \"skip\" (got \"%s\")", s);
    return 0;
}

static void fmt_size(char *out, size_t n, uint64_t x)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof *units && x >= 1024 && x % 1024 == 0) {
        x /= 1024;
        u++;
    }
    snprintf(out, n, "%llu %s", (unsigned long long)x, units[u]);
}

/* A size key: a size string or a positive integer number of bytes, in
 * [lo, hi) (hi = 0: no upper bound). */
static int get_size(ctx_t *c, const json_t *v, const char *path, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
    uint64_t x;
    if (json_is_integer(v)) {
        long long i = (long long)json_integer_value(v);
        if (i <= 0)
            return cfg_error(c, path, "bad size %lld " SIZE_HINT, i);
        x = (uint64_t)i;
    } else if (json_is_string(v)) {
        if (pm_size_parse(json_string_value(v), &x) < 0)
            return cfg_error(c, path, "bad size \"%s\" " SIZE_HINT, json_string_value(v));
    } else {
        return cfg_error(c, path, "must be a size string or an integer (got %s)", type_name(v));
    }
    char bound[40];
    if (x < lo) {
        fmt_size(bound, sizeof bound, lo);
        return cfg_error(c, path, "must be >= %s (got %llu bytes)", bound, (unsigned long long)x);
    }
    if (hi && x >= hi) {
        fmt_size(bound, sizeof bound, hi);
        return cfg_error(c, path, "must be < %s (got %llu bytes)", bound, (unsigned long long)x);
    }
    *out = x;
    return 0;
}

/* Substitute ${NAME} from the environment into b. Only that form: "$" not
 * followed by "{" is literal, so paths with a "$" in them still work. */
static int expand_vars(ctx_t *c, const char *path, const char *s, pm_buf_t *b)
{
    pm_buf_reset(b);
    if (pm_buf_reserve(b, strlen(s)) < 0)
        return nomem(c);
    for (const char *p = s; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            if (pm_buf_append_char(b, *p++) < 0)
                return nomem(c);
            continue;
        }
        const char *name = p + 2;
        size_t n = 0;
        if ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
            name[0] == '_') {
            n = 1;
            while ((name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= 'a' && name[n] <= 'z') ||
                   (name[n] >= '0' && name[n] <= '9') || name[n] == '_')
                n++;
        }
        if (n == 0 || name[n] != '}') {
            const char *end = strchr(name, '}');
            int shown = end ? (int)(end - p + 1) : (int)strlen(p);
            return cfg_error(c, path,
                             "bad variable reference \"%.*s\" (use ${NAME}, NAME of "
                             "letters, digits and _)",
                             shown, p);
        }
        char var[256];
        if (n >= sizeof var)
            return cfg_error(c, path, "variable name too long");
        memcpy(var, name, n);
        var[n] = '\0';
        const char *val = getenv(var);
        if (!val)
            return cfg_error(c, path, "environment variable %s is not set", var);
        /* An empty value would silently turn "${DATA}/x" into "/x". */
        if (!val[0])
            return cfg_error(c, path, "environment variable %s is empty", var);
        if (pm_buf_append_str(b, val) < 0)
            return nomem(c);
        p = name + n + 1;
    }
    return 0;
}

/* Expand variables, then make a relative result relative to the config
 * file's directory. A relative config path keeps the result relative. */
static int resolve_path(ctx_t *c, const char *key, const char *raw, const char *cfg_path,
                        char **out)
{
    pm_buf_t b, r;
    pm_buf_init(&b);
    pm_buf_init(&r);
    int rc = expand_vars(c, key, raw, &b);
    if (rc < 0)
        goto done;
    const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
    if (b.data[0] != '/' && slash) {
        /* Keep the config's directory with its slash: "a/b/x.json" -> "a/b/",
         * "/x.json" -> "/". No slash at all: the cwd, leave the path alone. */
        size_t dlen = (size_t)(slash - cfg_path) + 1;
        if (pm_buf_append(&r, cfg_path, dlen) < 0 || pm_buf_append_str(&r, b.data) < 0) {
            rc = nomem(c);
            goto done;
        }
        *out = r.data;
        pm_buf_init(&r);
    } else {
        *out = b.data;
        pm_buf_init(&b);
    }
done:
    pm_buf_free(&b);
    pm_buf_free(&r);
    return rc;
}

static int check_component_name(ctx_t *c, const char *path, const char *name)
{
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return cfg_error(c, path, "must not be \"%s\"", name);
    if (strchr(name, '/'))
        return cfg_error(c, path, "must not contain '/' (got \"%s\")", name);
    /* C0, DEL and C1 (U+0080-U+009F, UTF-8 C2 80..C2 9F): names go to
     * terminals in the summary table and into every output line's meta. */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return cfg_error(c, path, "must not contain control characters");
    return 0;
}

static int parse_component(ctx_t *c, pm_config_t *cfg, size_t idx, const json_t *v)
{
    char prefix[64], path[128];
    snprintf(prefix, sizeof prefix, "components[%zu]", idx);
    pm_component_cfg_t *comp = &cfg->components[idx];
    if (!json_is_object(v))
        return cfg_error(c, prefix, "must be an object (got %s)", type_name(v));
    PM_TRY(check_keys(c, v, prefix, comp_keys));

    json_t *jname, *jpaths, *jepochs;
    const char *s;
    PM_TRY(get_key(c, v, prefix, "name", 1, &jname));
    key_path(path, sizeof path, prefix, "name");
    PM_TRY(get_string(c, jname, path, &s));
    PM_TRY(check_component_name(c, path, s));
    for (size_t j = 0; j < idx; j++)
        if (!strcmp(cfg->components[j].name, s))
            return cfg_error(c, path, "duplicate component name \"%s\" (also components[%zu])", s,
                             j);
    if (!(comp->name = strdup(s)))
        return nomem(c);

    PM_TRY(get_key(c, v, prefix, "paths", 1, &jpaths));
    key_path(path, sizeof path, prefix, "paths");
    if (!json_is_array(jpaths))
        return cfg_error(c, path, "must be an array of strings (got %s)", type_name(jpaths));
    size_t n = json_array_size(jpaths);
    if (n == 0)
        return cfg_error(c, path, "must not be empty");
    comp->paths = calloc(n, sizeof *comp->paths);
    comp->raw_paths = calloc(n, sizeof *comp->raw_paths);
    if (!comp->paths || !comp->raw_paths)
        return nomem(c);
    comp->n_paths = n;
    for (size_t i = 0; i < n; i++) {
        char ppath[160];
        snprintf(ppath, sizeof ppath, "%s.paths[%zu]", prefix, i);
        PM_TRY(get_string(c, json_array_get(jpaths, i), ppath, &s));
        if (!(comp->raw_paths[i] = strdup(s)))
            return nomem(c);
        PM_TRY(resolve_path(c, ppath, s, cfg->path, &comp->paths[i]));
    }

    PM_TRY(get_key(c, v, prefix, "epochs", 1, &jepochs));
    key_path(path, sizeof path, prefix, "epochs");
    if (!json_is_number(jepochs))
        return cfg_error(c, path, "must be a number (got %s)", type_name(jepochs));
    double e = json_number_value(jepochs);
    char got[40];
    fmt_double(got, sizeof got, e);
    if (!(e > 0.0))
        return cfg_error(c, path, "must be > 0 (got %s)", got);
    if (!(e <= PM_MAX_EPOCHS))
        return cfg_error(c, path, "must be <= %g (got %s)", PM_MAX_EPOCHS, got);
    comp->epochs = e;
    return 0;
}

static int parse_output(ctx_t *c, pm_config_t *cfg, const json_t *out, const char **raw_dir)
{
    json_t *v;
    long long i;
    if (!json_is_object(out))
        return cfg_error(c, "output", "must be an object (got %s)", type_name(out));
    PM_TRY(check_keys(c, out, "output", output_keys));

    PM_TRY(get_key(c, out, "output", "dir", 1, &v));
    PM_TRY(get_string(c, v, "output.dir", raw_dir));
    PM_TRY(resolve_path(c, "output.dir", *raw_dir, cfg->path, &cfg->out_dir));

    PM_TRY(get_key(c, out, "output", "train_shards", 0, &v));
    if (v) {
        PM_TRY(get_int(c, v, "output.train_shards", 1, MAX_TRAIN_SHARDS, &i));
        cfg->train_shards = (uint32_t)i;
    }
    PM_TRY(get_key(c, out, "output", "val_fraction", 0, &v));
    if (v)
        PM_TRY(get_fraction(c, v, "output.val_fraction", &cfg->val_fraction));
    PM_TRY(get_key(c, out, "output", "test_fraction", 0, &v));
    if (v)
        PM_TRY(get_fraction(c, v, "output.test_fraction", &cfg->test_fraction));
    if (!(cfg->val_fraction + cfg->test_fraction < 1.0)) {
        char a[40], b[40];
        fmt_double(a, sizeof a, cfg->val_fraction);
        fmt_double(b, sizeof b, cfg->test_fraction);
        return cfg_error(c, "output.test_fraction",
                         "val_fraction + test_fraction must be < 1 (got %s + %s)", a, b);
    }
    PM_TRY(get_key(c, out, "output", "zstd_level", 0, &v));
    if (v) {
        PM_TRY(get_int(c, v, "output.zstd_level", 1, 19, &i));
        cfg->zstd_level = (int)i;
    }
    PM_TRY(get_key(c, out, "output", "keep_meta", 0, &v));
    if (v) {
        if (!json_is_boolean(v))
            return cfg_error(c, "output.keep_meta", "must be true or false (got %s)", type_name(v));
        cfg->keep_meta = json_is_true(v);
    }
    return 0;
}

static int parse_run(ctx_t *c, pm_config_t *cfg, const json_t *run)
{
    json_t *v;
    const char *s;
    long long i;
    if (!json_is_object(run))
        return cfg_error(c, "run", "must be an object (got %s)", type_name(run));
    PM_TRY(check_keys(c, run, "run", run_keys));

    PM_TRY(get_key(c, run, "run", "work_dir", 0, &v));
    if (v) {
        PM_TRY(get_string(c, v, "run.work_dir", &s));
        PM_TRY(resolve_path(c, "run.work_dir", s, cfg->path, &cfg->work_dir));
    }
    PM_TRY(get_key(c, run, "run", "mem_per_rank", 0, &v));
    if (v)
        PM_TRY(get_size(c, v, "run.mem_per_rank", MIN_MEM_PER_RANK, 0, &cfg->mem_per_rank));
    PM_TRY(get_key(c, run, "run", "on_bad_record", 0, &v));
    if (v)
        PM_TRY(get_on_bad(c, v, "run.on_bad_record", &cfg->on_bad_record));
    PM_TRY(get_key(c, run, "run", "on_bad_file", 0, &v));
    if (v)
        PM_TRY(get_on_bad(c, v, "run.on_bad_file", &cfg->on_bad_file));
    PM_TRY(get_key(c, run, "run", "max_bad_records", 0, &v));
    if (v) {
        PM_TRY(get_int(c, v, "run.max_bad_records", 0, INT64_MAX, &i));
        cfg->max_bad_records = (uint64_t)i;
    }
    PM_TRY(get_key(c, run, "run", "max_record_bytes", 0, &v));
    if (v)
        PM_TRY(get_size(c, v, "run.max_record_bytes", MIN_MAX_RECORD_BYTES, LIM_MAX_RECORD_BYTES,
                        &cfg->max_record_bytes));
    return 0;
}

/* Rebuilt from validated values: every key present, numbers in one type
 * (fractions and epochs always real), paths as written. */
static json_t *canonical(const pm_config_t *cfg, const char *raw_dir)
{
    json_t *comps = json_array();
    json_t *doc = json_pack(
        "{s:s, s:I, s:o, s:{s:s, s:I, s:f, s:f, s:i, s:b}, s:{s:s, s:s, s:I, s:I}}", "name",
        cfg->name, "seed", (json_int_t)cfg->seed, "components", comps, "output", "dir", raw_dir,
        "train_shards", (json_int_t)cfg->train_shards, "val_fraction", cfg->val_fraction,
        "test_fraction", cfg->test_fraction, "zstd_level", cfg->zstd_level, "keep_meta",
        (int)cfg->keep_meta, "run", "on_bad_record",
        cfg->on_bad_record == PM_ON_BAD_SKIP ? "skip" : "fail", "on_bad_file",
        cfg->on_bad_file == PM_ON_BAD_SKIP ? "skip" : "fail", "max_bad_records",
        (json_int_t)cfg->max_bad_records, "max_record_bytes", (json_int_t)cfg->max_record_bytes);
    if (!doc)
        return NULL; /* json_pack's "o" stole comps even on failure */
    for (size_t i = 0; i < cfg->n_components; i++) {
        const pm_component_cfg_t *cc = &cfg->components[i];
        json_t *paths = json_array();
        for (size_t j = 0; paths && j < cc->n_paths; j++)
            if (json_array_append_new(paths, json_string(cc->raw_paths[j])) < 0) {
                json_decref(paths);
                paths = NULL;
            }
        json_t *o =
            json_pack("{s:s, s:o, s:f}", "name", cc->name, "paths", paths, "epochs", cc->epochs);
        if (!o || json_array_append_new(comps, o) < 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

static int parse_root(ctx_t *c, pm_config_t *cfg, const json_t *root)
{
    json_t *v;
    const char *s;
    const char *raw_dir = NULL;
    if (!json_is_object(root))
        return cfg_error(c, "(top level)", "must be an object (got %s)", type_name(root));
    PM_TRY(check_keys(c, root, "", top_keys));

    PM_TRY(get_key(c, root, "", "name", 1, &v));
    PM_TRY(get_string(c, v, "name", &s));
    if (!(cfg->name = strdup(s)))
        return nomem(c);

    PM_TRY(get_key(c, root, "", "seed", 0, &v));
    if (v) {
        long long i;
        PM_TRY(get_int(c, v, "seed", 0, INT64_MAX, &i));
        cfg->seed = (uint64_t)i;
    }

    PM_TRY(get_key(c, root, "", "components", 1, &v));
    if (!json_is_array(v))
        return cfg_error(c, "components", "must be an array of objects (got %s)", type_name(v));
    size_t n = json_array_size(v);
    if (n == 0)
        return cfg_error(c, "components", "must not be empty");
    if (n > UINT32_MAX)
        return cfg_error(c, "components", "too many components");
    if (!(cfg->components = calloc(n, sizeof *cfg->components)))
        return nomem(c);
    cfg->n_components = n;
    for (size_t i = 0; i < n; i++)
        PM_TRY(parse_component(c, cfg, i, json_array_get(v, i)));

    PM_TRY(get_key(c, root, "", "output", 1, &v));
    PM_TRY(parse_output(c, cfg, v, &raw_dir));

    PM_TRY(get_key(c, root, "", "run", 0, &v));
    if (v)
        PM_TRY(parse_run(c, cfg, v));
    if (!cfg->work_dir) {
        /* Strip trailing slashes: "out/" + ".work" must not land inside out. */
        size_t len = strlen(cfg->out_dir);
        while (len > 1 && cfg->out_dir[len - 1] == '/')
            len--;
        if (!(cfg->work_dir = malloc(len + sizeof ".work")))
            return nomem(c);
        memcpy(cfg->work_dir, cfg->out_dir, len);
        memcpy(cfg->work_dir + len, ".work", sizeof ".work");
    }

    json_t *doc = canonical(cfg, raw_dir);
    if (!doc)
        return nomem(c);
    cfg->canonical_json = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!cfg->canonical_json)
        return nomem(c);
    cfg->canonical_hash = XXH3_64bits(cfg->canonical_json, strlen(cfg->canonical_json));
    return 0;
}

int pm_config_load_string(pm_config_t *cfg, const char *json, const char *origin_path,
                          pm_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    ctx_t c = {err, origin_path ? origin_path : ""};
    pm_error_clear(err);
    if (origin_path && !(cfg->path = strdup(origin_path)))
        return nomem(&c);
    cfg->train_shards = DEF_TRAIN_SHARDS;
    cfg->zstd_level = DEF_ZSTD_LEVEL;
    cfg->keep_meta = true;
    cfg->mem_per_rank = DEF_MEM_PER_RANK;
    cfg->on_bad_record = PM_ON_BAD_FAIL;
    cfg->on_bad_file = PM_ON_BAD_FAIL;
    cfg->max_bad_records = DEF_MAX_BAD_RECORDS;
    cfg->max_record_bytes = DEF_MAX_RECORD_BYTES;

    json_error_t jerr;
    /* Duplicate keys are rejected: with jansson's default the last one would
     * silently win, and a config must mean one thing. */
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    if (!root) {
        rc = pm_error_set(err, PM_ECONFIG, c.file, jerr.line > 0 ? (uint64_t)jerr.line : 0,
                          "invalid JSON: %s", jerr.text);
        if (err && jerr.column > 0)
            err->column = (uint64_t)jerr.column;
    } else {
        rc = parse_root(&c, cfg, root);
        json_decref(root);
    }
    if (rc < 0)
        pm_config_close(cfg);
    return rc;
}

int pm_config_load(pm_config_t *cfg, const char *path, pm_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pm_error_set(err, PM_EIO, path, 0, "cannot open config: %s", strerror(errno));
    pm_buf_t b;
    pm_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (pm_buf_append(&b, chunk, n) < 0) {
            rc = pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
            break;
        }
    if (!rc && ferror(f))
        rc = pm_error_set(err, PM_EIO, path, 0, "cannot read config: %s", strerror(errno));
    fclose(f);
    if (!rc && b.len != strlen(b.data ? b.data : ""))
        rc = pm_error_set(err, PM_ECONFIG, path, 0, "invalid JSON: contains a NUL byte");
    if (!rc)
        rc = pm_config_load_string(cfg, b.data ? b.data : "", path, err);
    pm_buf_free(&b);
    return rc;
}

void pm_config_close(pm_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->components && i < cfg->n_components; i++) {
        pm_component_cfg_t *cc = &cfg->components[i];
        for (size_t j = 0; j < cc->n_paths; j++) {
            if (cc->paths)
                free(cc->paths[j]);
            if (cc->raw_paths)
                free(cc->raw_paths[j]);
        }
        free(cc->paths);
        free(cc->raw_paths);
        free(cc->name);
    }
    free(cfg->components);
    free(cfg->path);
    free(cfg->name);
    free(cfg->out_dir);
    free(cfg->work_dir);
    free(cfg->canonical_json);
    memset(cfg, 0, sizeof *cfg);
}

int pm_size_parse(const char *s, uint64_t *out)
{
    if (!s || !(*s >= '0' && *s <= '9'))
        return PM_ECONFIG; /* no sign, no space, no ".5" */
    uint64_t x = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return PM_ECONFIG;
        x = x * 10 + d;
    }
    /* Suffix: "" or "B" (bytes); K M G T P alone or with "iB" (1024^n), with
     * "B" (1000^n). Fractions like "1.5G" fall through to garbage. */
    static const char units[] = "kmgtp";
    uint64_t mult = 1;
    if (*p) {
        char u = (char)(*p | 0x20);
        const char *hit = u == 'b' ? NULL : strchr(units, u);
        if (u == 'b') {
            if (p[1])
                return PM_ECONFIG;
        } else if (!hit || !*hit) {
            return PM_ECONFIG;
        } else {
            int pow = (int)(hit - units) + 1;
            const char *rest = p + 1;
            uint64_t base = 1024;
            if (!*rest) {
                /* "512M" */
            } else if ((rest[0] | 0x20) == 'i' && (rest[1] | 0x20) == 'b' && !rest[2]) {
                /* "2GiB" */
            } else if ((rest[0] | 0x20) == 'b' && !rest[1]) {
                base = 1000;
            } else {
                return PM_ECONFIG;
            }
            while (pow--)
                mult *= base;
        }
    }
    if (x == 0 || x > UINT64_MAX / mult)
        return PM_ECONFIG;
    *out = x * mult;
    return 0;
}
