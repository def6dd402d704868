/* Config loading (config.h, DESIGN 1.2): the table of config keys and the
 * rules that are not one key's (config_schema.h does the rest from the table).
 *
 * The canonical JSON is rebuilt from the validated values (never copied from
 * the input), so formatting, key order and explicit defaults cannot change the
 * hash. */
#include "pilemix/config.h"

#include "pilemix/buf.h"
#include "pilemix/config_schema.h"

#include <errno.h>
#include <math.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DEF_MEM_PER_RANK (2ULL << 30)
#define MIN_MEM_PER_RANK (16ULL << 20)
#define DEF_MAX_RECORD_BYTES (64ULL << 20)
#define MIN_MAX_RECORD_BYTES (1ULL << 10)
#define LIM_MAX_RECORD_BYTES (4ULL << 30) /* exclusive: lengths stay in 32 bits */

/* Sections: the order is that of parsing and of the top level's "allowed:" list. */
enum { SEC_TOP, SEC_COMPONENTS, SEC_OUTPUT, SEC_RUN };

static int check_component_name(pm_cfg_ctx_t *c, const char *path, const void *obj)
{
    const char *name = ((const pm_component_cfg_t *)obj)->name;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return pm_cfg_error(c, path, "must not be \"%s\"", name);
    if (strchr(name, '/'))
        return pm_cfg_error(c, path, "must not contain '/' (got \"%s\")", name);
    /* C0, DEL and C1 (U+0080-U+009F, UTF-8 C2 80..C2 9F): names go to
     * terminals in the summary table and into every output line's meta. */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return pm_cfg_error(c, path, "must not contain control characters");
    return 0;
}

static int check_meta_key(pm_cfg_ctx_t *c, const char *path, const void *obj)
{
    const pm_component_cfg_t *comp = obj;
    if (comp->text_key && !strcmp(comp->text_key, comp->meta_key))
        return pm_cfg_error(c, path, "must differ from text_key (both are \"%s\")", comp->meta_key);
    return 0;
}

/* Names become directory-free labels in the output: unique. */
static int validate_component(pm_cfg_ctx_t *c, void *top, void *obj, size_t index,
                              const char *prefix)
{
    const pm_config_t *cfg = top;
    const pm_component_cfg_t *comp = obj;
    for (size_t j = 0; j < index; j++)
        if (!strcmp(cfg->components[j].name, comp->name)) {
            char path[256];
            snprintf(path, sizeof path, "%s.name", prefix);
            return pm_cfg_error(c, path, "duplicate component name \"%s\" (also components[%zu])",
                                comp->name, j);
        }
    return 0;
}

/* Weights: each component has epochs or a share, never both; a config uses
 * one kind for all of them. Mixing is refused rather than given a meaning:
 * "share" is a fraction of a total that epochs components would change
 * with the data, so neither reading of a mix would stay what was written. */
static int validate_weights(pm_cfg_ctx_t *c, const pm_config_t *cfg)
{
    char path[64];
    bool shares = cfg->components[0].share > 0;
    double sum = 0;
    for (size_t i = 0; i < cfg->n_components; i++) {
        const pm_component_cfg_t *cc = &cfg->components[i];
        snprintf(path, sizeof path, "components[%zu]", i);
        if (cc->epochs > 0 && cc->share > 0)
            return pm_cfg_error(c, path, "has both \"epochs\" and \"share\": give one");
        if (!(cc->epochs > 0) && !(cc->share > 0))
            return pm_cfg_error(c, path, "needs \"epochs\" or \"share\" (its weight in the mix)");
        if ((cc->share > 0) != shares) {
            snprintf(path, sizeof path, "components[%zu].%s", i, shares ? "epochs" : "share");
            return pm_cfg_error(c, path,
                                "shares and epochs cannot be mixed in one config (components[0] "
                                "has %s): give every component a share, or every one epochs",
                                shares ? "a share" : "epochs");
        }
        if (!shares && cc->max_epochs != 1.0) {
            snprintf(path, sizeof path, "components[%zu].max_epochs", i);
            return pm_cfg_error(c, path, "applies only with \"share\" (this component has epochs)");
        }
        sum += cc->share;
    }
    if (!shares && cfg->train_bytes)
        return pm_cfg_error(c, "output.train_bytes",
                            "applies only when the components have a \"share\"");
    if (shares && fabs(sum - 1.0) > PM_SHARE_SUM_TOLERANCE) {
        char s[40];
        pm_cfg_fmt_double(s, sizeof s, sum);
        return pm_cfg_error(c, "components", "the shares must sum to 1 (they sum to %s)", s);
    }
    return 0;
}

bool pm_config_has_shares(const pm_config_t *cfg)
{
    return cfg->n_components > 0 && cfg->components[0].share > 0;
}

static int validate_output(pm_cfg_ctx_t *c, void *top, void *obj, size_t index, const char *prefix)
{
    (void)obj, (void)index, (void)prefix;
    const pm_config_t *cfg = top;
    PM_TRY(validate_weights(c, cfg));
    if (!(cfg->val_fraction + cfg->test_fraction < 1.0)) {
        char a[40], b[40];
        pm_cfg_fmt_double(a, sizeof a, cfg->val_fraction);
        pm_cfg_fmt_double(b, sizeof b, cfg->test_fraction);
        return pm_cfg_error(c, "output.test_fraction",
                            "val_fraction + test_fraction must be < 1 (got %s + %s)", a, b);
    }
    return 0;
}

/* work_dir defaults to output.dir + ".work" (also when "run" is absent). */
static int validate_run(pm_cfg_ctx_t *c, void *top, void *obj, size_t index, const char *prefix)
{
    (void)obj, (void)index, (void)prefix;
    pm_config_t *cfg = top;
    if (cfg->work_dir)
        return 0;
    /* Strip trailing slashes: "out/" + ".work" must not land inside out. */
    size_t len = strlen(cfg->out_dir);
    while (len > 1 && cfg->out_dir[len - 1] == '/')
        len--;
    if (!(cfg->work_dir = malloc(len + sizeof ".work")))
        return pm_cfg_nomem(c);
    memcpy(cfg->work_dir, cfg->out_dir, len);
    memcpy(cfg->work_dir + len, ".work", sizeof ".work");
    return 0;
}

static const pm_cfg_section_t sections[] = {
    [SEC_TOP] = {.name = ""},
    [SEC_COMPONENTS] = {.name = "components",
                        .flags = PM_CFG_SEC_REQUIRED | PM_CFG_SEC_ARRAY,
                        .array_offset = offsetof(pm_config_t, components),
                        .count_offset = offsetof(pm_config_t, n_components),
                        .elem_size = sizeof(pm_component_cfg_t),
                        .validate = validate_component},
    [SEC_OUTPUT] = {.name = "output", .flags = PM_CFG_SEC_REQUIRED, .validate = validate_output},
    [SEC_RUN] = {.name = "run", .validate = validate_run},
};

/* ---- output.canaries: {"count": N, "secret": "${VAR}"} ---------------- */

/* The canonical form carries this keyed digest, never the secret: another
 * secret is another config hash, and the manifest does not give it away.
 * XXH3 is not a cryptographic hash; what keeps the canaries unguessable is
 * the secret's length (at least PM_MIN_CANARY_SECRET bytes), so that no one
 * can try secrets against the digest. */
static void canary_digest(const char *secret, char hex[33])
{
    static const char tag[] = "pilemix/canary-digest";
    XXH128_hash_t h =
        XXH3_128bits_withSeed(secret, strlen(secret), XXH3_64bits(tag, sizeof tag - 1));
    snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

static bool is_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* {"count", "secret"}, or {"count", "secret_digest"}: the canonical form
 * must load again (a manifest's config, `pilemix reproduce`), so the digest
 * alone is accepted; such a config has the same hash but no secret, and a
 * run refuses it (job.c: it cannot make the canaries). */
static int canaries_parse(pm_cfg_ctx_t *c, const char *keypath, const json_t *v, void **out)
{
    char path[256];
    if (!json_is_object(v))
        return pm_cfg_error(c, keypath, "must be an object {\"count\": N, \"secret\": \"${VAR}\"}");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (strcmp(key, "count") && strcmp(key, "secret") && strcmp(key, "secret_digest")) {
            snprintf(path, sizeof path, "%s.%s", keypath, key);
            return pm_cfg_error(c, path, "unknown key (allowed: count, secret)");
        }
    }
    json_t *count = json_object_get(v, "count"), *secret = json_object_get(v, "secret");
    json_t *digest = json_object_get(v, "secret_digest");
    snprintf(path, sizeof path, "%s.count", keypath);
    if (!count)
        return pm_cfg_error(c, path, "missing");
    if (!json_is_integer(count) || json_integer_value(count) < 1 ||
        json_integer_value(count) > PM_MAX_CANARIES)
        return pm_cfg_error(c, path, "must be an integer 1..%d", PM_MAX_CANARIES);
    pm_canaries_cfg_t *cc = calloc(1, sizeof *cc);
    if (!cc)
        return pm_cfg_nomem(c);
    cc->count = (uint32_t)json_integer_value(count);
    int rc = 0;
    if (digest && !secret) {
        snprintf(path, sizeof path, "%s.secret_digest", keypath);
        if (!is_hex32(json_string_value(digest)))
            rc = pm_cfg_error(c, path,
                              "must be 32 lowercase hex digits (as the canonical form "
                              "has it); give \"secret\" instead");
        else
            memcpy(cc->digest, json_string_value(digest), 33);
    } else {
        snprintf(path, sizeof path, "%s.secret", keypath);
        pm_buf_t b;
        pm_buf_init(&b);
        if (digest)
            rc = pm_cfg_error(c, path, "give secret or secret_digest, not both");
        else if (!secret)
            rc = pm_cfg_error(c, path, "missing");
        else if (!json_is_string(secret))
            rc = pm_cfg_error(c, path, "must be a string (best \"${VAR}\", from the environment)");
        else
            rc = pm_cfg_expand_vars(c, path, json_string_value(secret), &b);
        if (rc == 0 && b.len < PM_MIN_CANARY_SECRET)
            rc = pm_cfg_error(c, path,
                              "too short: at least %d bytes (the secret is what keeps "
                              "the canaries unguessable)",
                              PM_MIN_CANARY_SECRET);
        if (rc == 0 && strlen(b.data) != b.len)
            rc = pm_cfg_error(c, path, "must not contain a NUL byte");
        if (rc == 0) {
            cc->secret = b.data; /* the buffer's string, now owned here */
            canary_digest(cc->secret, cc->digest);
        } else {
            pm_buf_free(&b);
        }
    }
    if (rc < 0) {
        free(cc);
        return rc;
    }
    *out = cc;
    return 0;
}

static json_t *canaries_canonical(const void *val)
{
    const pm_canaries_cfg_t *cc = val;
    return json_pack("{s:i, s:s}", "count", (int)cc->count, "secret_digest", cc->digest);
}

static json_t *canaries_pack(const void *val)
{
    const pm_canaries_cfg_t *cc = val;
    if (!cc->secret)
        return canaries_canonical(val);
    return json_pack("{s:i, s:o}", "count", (int)cc->count, "secret",
                     pm_cfg_wire_string(cc->secret));
}

static int canaries_unpack(const json_t *j, void **out)
{
    json_t *count = json_object_get(j, "count");
    if (!json_is_integer(count))
        return PM_EINTERNAL;
    pm_canaries_cfg_t *cc = calloc(1, sizeof *cc);
    if (!cc)
        return PM_ENOMEM;
    cc->count = (uint32_t)json_integer_value(count);
    const char *digest = json_string_value(json_object_get(j, "secret_digest"));
    if (digest) {
        if (!is_hex32(digest)) {
            free(cc);
            return PM_EINTERNAL;
        }
        memcpy(cc->digest, digest, 33);
    } else {
        int rc = pm_cfg_wire_string_value(json_object_get(j, "secret"), &cc->secret);
        if (rc < 0) {
            free(cc);
            return rc;
        }
        canary_digest(cc->secret, cc->digest);
    }
    *out = cc;
    return 0;
}

static void canaries_free(void *val)
{
    pm_canaries_cfg_t *cc = val;
    if (!cc)
        return;
    if (cc->secret) /* wipe: the secret should not linger in freed memory */
        memset(cc->secret, 0, strlen(cc->secret));
    free(cc->secret);
    free(cc);
}

/* Equal meaning: the same count and digest (a config that has the secret
 * and one that has only its digest mean the same output). */
static bool canaries_equal(const void *a, const void *b)
{
    const pm_canaries_cfg_t *x = a, *y = b;
    return x->count == y->count && !strcmp(x->digest, y->digest);
}

static const pm_cfg_custom_t canaries_custom = {
    canaries_parse, canaries_canonical, canaries_pack,           canaries_unpack,
    canaries_free,  canaries_equal,     "object {count, secret}"};

/* ---- components[].filter: one condition or an array of them ------------ */

static void filter_free(void *val)
{
    pm_filter_t *f = val;
    if (!f)
        return;
    for (size_t i = 0; i < f->n_conds; i++) {
        pm_filter_cond_t *fc = &f->conds[i];
        free(fc->field);
        for (size_t k = 0; k < fc->n_path; k++)
            free(fc->path[k]);
        free(fc->path);
        for (size_t k = 0; k < fc->n_in; k++)
            free(fc->in[k]);
        free(fc->in);
    }
    free(f->conds);
    free(f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int filter_cond_parse(pm_cfg_ctx_t *c, const char *kp, const json_t *v, pm_filter_cond_t *fc)
{
    char path[320]; /* kp is at most 256 */
    if (!json_is_object(v))
        return pm_cfg_error(c, kp, "must be an object like {\"field\": \"score\", \"min\": 3}");
    static const char *const allowed[] = {"field", "min", "max", "equals", "in", "missing"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        bool ok = false;
        for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
            ok |= !strcmp(key, allowed[i]);
        if (!ok) {
            snprintf(path, sizeof path, "%s.%s", kp, key);
            return pm_cfg_error(c, path,
                                "unknown key (allowed: field, min, max, equals, in, missing)");
        }
    }
    json_t *field = json_object_get(v, "field");
    snprintf(path, sizeof path, "%s.field", kp);
    if (!field)
        return pm_cfg_error(c, path, "missing");
    const char *fs = json_string_value(field);
    if (!fs || !fs[0])
        return pm_cfg_error(c, path, "must be a non-empty string (a dotted path into meta)");
    if (!(fc->field = strdup(fs)))
        return pm_cfg_nomem(c);
    for (const char *p = fs;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0)
            return pm_cfg_error(c, path, "\"%s\" has an empty part", fs);
        char **np = realloc(fc->path, (fc->n_path + 1) * sizeof *np);
        if (!np)
            return pm_cfg_nomem(c);
        fc->path = np;
        if (!(fc->path[fc->n_path] = strndup(p, n)))
            return pm_cfg_nomem(c);
        fc->n_path++;
        if (!dot)
            break;
        p = dot + 1;
    }
    json_t *mn = json_object_get(v, "min"), *mx = json_object_get(v, "max");
    json_t *eq = json_object_get(v, "equals"), *in = json_object_get(v, "in");
    if (mn) {
        snprintf(path, sizeof path, "%s.min", kp);
        if (!json_is_number(mn))
            return pm_cfg_error(c, path, "must be a number");
        fc->has_min = true;
        fc->min = json_number_value(mn);
    }
    if (mx) {
        snprintf(path, sizeof path, "%s.max", kp);
        if (!json_is_number(mx))
            return pm_cfg_error(c, path, "must be a number");
        fc->has_max = true;
        fc->max = json_number_value(mx);
        if (fc->has_min && fc->max < fc->min)
            return pm_cfg_error(c, path, "is below min");
    }
    if (eq && in) {
        snprintf(path, sizeof path, "%s.in", kp);
        return pm_cfg_error(c, path, "give equals or in, not both");
    }
    if ((eq || in) && (mn || mx)) {
        snprintf(path, sizeof path, "%s.%s", kp, eq ? "equals" : "in");
        return pm_cfg_error(c, path,
                            "a condition tests numbers (min, max) or strings "
                            "(equals, in), not both: give two conditions");
    }
    if (eq) {
        snprintf(path, sizeof path, "%s.equals", kp);
        if (!json_is_string(eq))
            return pm_cfg_error(c, path, "must be a string");
        if (!(fc->in = calloc(1, sizeof *fc->in)) || !(fc->in[0] = strdup(json_string_value(eq))))
            return pm_cfg_nomem(c);
        fc->n_in = 1;
    }
    if (in) {
        snprintf(path, sizeof path, "%s.in", kp);
        if (!json_is_array(in) || json_array_size(in) == 0)
            return pm_cfg_error(c, path, "must be a non-empty array of strings");
        if (!(fc->in = calloc(json_array_size(in), sizeof *fc->in)))
            return pm_cfg_nomem(c);
        size_t i;
        json_t *e;
        json_array_foreach(in, i, e) {
            if (!json_is_string(e)) {
                snprintf(path, sizeof path, "%s.in[%zu]", kp, i);
                return pm_cfg_error(c, path, "must be a string");
            }
            if (!(fc->in[fc->n_in] = strdup(json_string_value(e))))
                return pm_cfg_nomem(c);
            fc->n_in++;
        }
        /* Membership ignores order and repeats: sorted and unique, so the
         * canonical form (the hash) does too. */
        qsort(fc->in, fc->n_in, sizeof *fc->in, cmp_str);
        size_t w = 0;
        for (size_t r = 0; r < fc->n_in; r++) {
            if (w && !strcmp(fc->in[w - 1], fc->in[r]))
                free(fc->in[r]);
            else
                fc->in[w++] = fc->in[r];
        }
        fc->n_in = w;
    }
    json_t *ms = json_object_get(v, "missing");
    if (ms) {
        snprintf(path, sizeof path, "%s.missing", kp);
        const char *m = json_string_value(ms);
        if (!m || (strcmp(m, "keep") && strcmp(m, "drop")))
            return pm_cfg_error(c, path, "must be \"keep\" or \"drop\"");
        fc->missing = !strcmp(m, "keep") ? PM_MISSING_KEEP : PM_MISSING_DROP;
    }
    return 0;
}

static int filter_parse(pm_cfg_ctx_t *c, const char *keypath, const json_t *v, void **out)
{
    bool many = json_is_array(v);
    size_t n = many ? json_array_size(v) : 1;
    if (many && n == 0)
        return pm_cfg_error(c, keypath, "must not be empty");
    pm_filter_t *f = calloc(1, sizeof *f);
    if (!f || !(f->conds = calloc(n, sizeof *f->conds))) {
        free(f);
        return pm_cfg_nomem(c);
    }
    f->n_conds = n;
    for (size_t i = 0; i < n; i++) {
        char kp[256];
        if (many)
            snprintf(kp, sizeof kp, "%s[%zu]", keypath, i);
        else
            snprintf(kp, sizeof kp, "%s", keypath);
        int rc = filter_cond_parse(c, kp, many ? json_array_get(v, i) : v, &f->conds[i]);
        if (rc < 0) {
            filter_free(f);
            return rc;
        }
    }
    *out = f;
    return 0;
}

/* Always an array of conditions, each with its tests and "missing". */
static json_t *filter_canonical(const void *val)
{
    const pm_filter_t *f = val;
    json_t *a = json_array();
    for (size_t i = 0; a && i < f->n_conds; i++) {
        const pm_filter_cond_t *fc = &f->conds[i];
        json_t *o = json_pack("{s:s, s:s}", "field", fc->field, "missing",
                              fc->missing == PM_MISSING_KEEP ? "keep" : "drop");
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
        if (fc->has_min && json_object_set_new(o, "min", json_real(fc->min)) < 0)
            goto fail;
        if (fc->has_max && json_object_set_new(o, "max", json_real(fc->max)) < 0)
            goto fail;
        if (fc->n_in) {
            json_t *in = json_array();
            if (!in || json_object_set_new(o, "in", in) < 0)
                goto fail;
            for (size_t k = 0; k < fc->n_in; k++)
                if (json_array_append_new(in, json_string(fc->in[k])) < 0)
                    goto fail;
        }
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

static int filter_unpack(const json_t *j, void **out)
{
    pm_error_t err;
    pm_error_clear(&err);
    pm_cfg_ctx_t c = {&err, "", NULL};
    int rc = filter_parse(&c, "filter", j, out);
    return rc == PM_ENOMEM ? PM_ENOMEM : rc < 0 ? PM_EINTERNAL : 0;
}

static bool filter_equal(const void *a, const void *b)
{
    json_t *x = filter_canonical(a), *y = filter_canonical(b);
    bool eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static const pm_cfg_custom_t filter_custom = {filter_parse,
                                              filter_canonical,
                                              filter_canonical,
                                              filter_unpack,
                                              filter_free,
                                              filter_equal,
                                              "object or array of objects"};

static const char *const dedup_names[] = {
    [PM_DEDUP_NONE] = "none", [PM_DEDUP_EXACT] = "exact", NULL};
static const char *const spill_comp_names[] = {
    [PM_SPILL_NONE] = "none", [PM_SPILL_FAST] = "fast", [PM_SPILL_ZSTD1] = "1",
    [PM_SPILL_ZSTD2] = "2",   [PM_SPILL_ZSTD3] = "3",   NULL};

static const char *const on_bad_names[] = {
    [PM_ON_BAD_FAIL] = "fail", [PM_ON_BAD_SKIP] = "skip", NULL};

#define CFG(m) PM_CFG_FIELD(pm_config_t, m)
#define COMP(m) PM_CFG_FIELD(pm_component_cfg_t, m)
#define NO_RAW .raw_offset = PM_CFG_NONE, .count_offset = PM_CFG_NONE
#define F1 .format = PM_CFG_FORMAT_1
#define F2 .format = PM_CFG_FORMAT_2

/* THE table. Rows of a section are in the order of parsing and of the
 * "allowed:" list in unknown-key errors. See config_schema.h for the fields
 * and the canonical form rule (a key added later gets .format = 2 and then
 * enters the hash only when set to a non-default value). */
static const pm_cfg_key_t keys[] = {
    {SEC_TOP, "name", PM_CFG_STRING, PM_CFG_REQUIRED | PM_CFG_OUTPUT, F1, CFG(name), NO_RAW,
     .doc = "dataset name, recorded in the manifest", .example = "\"other-name\""},
    {SEC_TOP, "seed", PM_CFG_INT, PM_CFG_OUTPUT, F1, CFG(seed), NO_RAW, .imin = 0,
     .imax = INT64_MAX, .def_i = 0, .doc = "all randomness derives from it",
     .example = "9007199254740993"},

    {SEC_COMPONENTS, "name", PM_CFG_STRING, PM_CFG_REQUIRED | PM_CFG_OUTPUT, F1, COMP(name), NO_RAW,
     .check = check_component_name,
     .doc = "unique; becomes `meta.pile_set_name`; no `/` or control characters, not `.` or `..`",
     .example = "\"Wikipedia (en)\""},
    {SEC_COMPONENTS, "paths", PM_CFG_PATH_LIST, PM_CFG_REQUIRED | PM_CFG_OUTPUT, F1, COMP(paths),
     .raw_offset = offsetof(pm_component_cfg_t, raw_paths),
     .count_offset = offsetof(pm_component_cfg_t, n_paths), .imin = 1,
     .doc = "files, directories (every regular file under them, recursively, sorted by name: "
            "each must be an input format of *Inputs* below or match `exclude`) or globs (their "
            "matches in the input formats). A path matching nothing is an error.",
     .example = "[\"${PM_EXAMPLE_DATA}/a/*.jsonl.zst\", \"rel/b\"]"},
    {SEC_COMPONENTS, "epochs", PM_CFG_NUMBER,
     PM_CFG_OUTPUT | PM_CFG_MIN_EXCL | PM_CFG_UNSET_OMITTED, F1, COMP(epochs), NO_RAW, .dmin = 0.0,
     .dmax = PM_MAX_EPOCHS, .def_d = 0.0,
     .doc_default = "none: each component has `epochs` or `share`",
     .doc = "copies of each document in train; fractional part f: one extra copy with "
            "probability f",
     .example = "2.5"},
    {SEC_COMPONENTS, "share", PM_CFG_NUMBER, PM_CFG_OUTPUT | PM_CFG_MIN_EXCL, F2, COMP(share),
     NO_RAW, .dmin = 0.0, .dmax = 1.0, .def_d = 0.0,
     .doc_default = "none: each component has `epochs` or `share`",
     .doc = "instead of `epochs`: the component's fraction of the train split's text bytes (UTF-8 "
            "bytes of the texts, as the Pile counted them); the shares of a config sum to 1 and "
            "every component has one (no mixing with `epochs`). `run` turns them into exact "
            "epochs from a census of the inputs (`plan --count`)",
     .example = "1"},
    {SEC_COMPONENTS, "max_epochs", PM_CFG_NUMBER, PM_CFG_OUTPUT | PM_CFG_MIN_EXCL, F2,
     COMP(max_epochs), NO_RAW, .dmin = 0.0, .dmax = PM_MAX_EPOCHS, .def_d = 1.0,
     .doc = "with `share`: the most epochs the share may need; a share needing more is a "
            "config error that says how many",
     .example = "3"},
    {SEC_COMPONENTS, "text_key", PM_CFG_STRING, PM_CFG_OUTPUT, F2, COMP(text_key), NO_RAW,
     .def_s = "text",
     .doc = "the key of a JSON object's text (a string or a list of strings, joined with "
            "`\\n\\n`): `\"content\"` for The Stack, `\"raw_content\"` for RedPajama",
     .example = "\"content\""},
    {SEC_COMPONENTS, "meta_key", PM_CFG_STRING, PM_CFG_OUTPUT, F2, COMP(meta_key), NO_RAW,
     .def_s = "meta", .check = check_meta_key,
     .doc = "the key of a JSON object's meta object (optional in each document)",
     .example = "\"metadata\""},
    {SEC_COMPONENTS, "exclude", PM_CFG_STRING_LIST, PM_CFG_OUTPUT, F2, COMP(exclude),
     .raw_offset = PM_CFG_NONE, .count_offset = offsetof(pm_component_cfg_t, n_exclude), .imin = 0,
     .doc = "globs (fnmatch, `*` stops at `/`) over identity paths, archive members' included "
            "(`\"*/README*\"`, `\"*.md\"`): matching files and members are not read; any other "
            "file under a directory path must be an input",
     .example = "[\"*.md\", \"docs/*\"]"},
    {SEC_COMPONENTS, "filter", PM_CFG_CUSTOM, PM_CFG_OUTPUT, F2, COMP(filter), NO_RAW,
     .custom = &filter_custom,
     .doc = "keep only documents whose meta passes every condition: `{\"field\": \"score\", "
            "\"min\": 3}` (`field` a dotted path into meta; `min`/`max` numbers, inclusive; "
            "`equals` a string or `in` a list of strings; `missing`: `\"drop\"` (default) or "
            "`\"keep\"` a document without the field); an array of conditions must all hold. "
            "Filtered documents are counted per component and reason",
     .example = "[{\"field\": \"score\", \"min\": 3}, {\"field\": \"lang\", \"in\": [\"en\", "
                "\"de\"], \"missing\": \"keep\"}]"},

    {SEC_OUTPUT, "dir", PM_CFG_PATH, PM_CFG_REQUIRED | PM_CFG_OUTPUT, F1, CFG(out_dir),
     .raw_offset = offsetof(pm_config_t, raw_out_dir), .count_offset = PM_CFG_NONE,
     .doc = "output directory", .example = "\"${PM_EXAMPLE_DATA}/out\""},
    {SEC_OUTPUT, "train_shards", PM_CFG_INT, PM_CFG_OUTPUT, F1, CFG(train_shards), NO_RAW,
     .imin = 1, .imax = 100000, .def_i = 30, .doc = "number of train files", .example = "7"},
    {SEC_OUTPUT, "val_fraction", PM_CFG_FRACTION, PM_CFG_OUTPUT, F1, CFG(val_fraction), NO_RAW,
     .def_d = 0.0,
     .doc = "share of *distinct texts* held out for `val.jsonl.zst`; "
            "`val_fraction + test_fraction` must be < 1",
     .example = "0.125"},
    {SEC_OUTPUT, "test_fraction", PM_CFG_FRACTION, PM_CFG_OUTPUT, F1, CFG(test_fraction), NO_RAW,
     .def_d = 0.0, .doc = "the same for `test.jsonl.zst`", .example = "0.0625"},
    {SEC_OUTPUT, "zstd_level", PM_CFG_INT, PM_CFG_OUTPUT, F1, CFG(zstd_level), NO_RAW, .imin = 1,
     .imax = 19, .def_i = 3, .doc = "output compression level", .example = "9"},
    {SEC_OUTPUT, "keep_meta", PM_CFG_BOOL, PM_CFG_OUTPUT, F1, CFG(keep_meta), NO_RAW, .def_b = true,
     .doc = "copy each input's `meta` members after `pile_set_name`", .example = "false"},
    {SEC_OUTPUT, "train_bytes", PM_CFG_SIZE, PM_CFG_OUTPUT, F2, CFG(train_bytes), NO_RAW, .umin = 1,
     .ulim = (uint64_t)INT64_MAX + 1, .def_u = 0,
     .doc_default = "none: the largest total within every `max_epochs`",
     .doc = "with shares: the train split's total text bytes (copies counted); each component's "
            "epochs = share x train_bytes / its train text bytes",
     .example = "\"40GiB\""},
    {SEC_OUTPUT, "dedup", PM_CFG_ENUM, PM_CFG_OUTPUT, F2, CFG(dedup), NO_RAW,
     .enum_names = dedup_names, .def_i = PM_DEDUP_NONE,
     .doc = "`\"exact\"`: each distinct text once in the whole mix, before epochs (the copy "
            "with the smallest identity is kept; the others are counted as duplicates)",
     .example = "\"exact\""},
    {SEC_OUTPUT, "canaries", PM_CFG_CUSTOM, PM_CFG_OUTPUT, F2, CFG(canaries), NO_RAW,
     .custom = &canaries_custom,
     .doc = "`{\"count\": N, \"secret\": \"${VAR}\"}`: insert N documents derived from the "
            "secret (at least 16 bytes) into train; their list goes to "
            "`<output.dir>.canaries.jsonl` (mode 0600); only a keyed digest of the secret enters "
            "the config hash",
     .example = "{\"count\": 3, \"secret\": \"an-example-secret-of-some-length\"}"},

    {SEC_RUN, "work_dir", PM_CFG_PATH, 0, F1, CFG(work_dir), NO_RAW, .cli = "--work-dir",
     .doc_default = "`<output.dir>.work`",
     .doc = "spills, resume state and the census cache; after success only the cache "
            "(`census.json`) stays",
     .example = "\"/scratch/w\""},
    {SEC_RUN, "mem_per_rank", PM_CFG_SIZE, 0, F1, CFG(mem_per_rank), NO_RAW,
     .umin = MIN_MEM_PER_RANK, .def_u = DEF_MEM_PER_RANK, .cli = "--mem-per-rank",
     .doc = "memory budget per rank", .example = "\"3GiB\""},
    {SEC_RUN, "on_bad_record", PM_CFG_ENUM, PM_CFG_OUTPUT, F1, CFG(on_bad_record), NO_RAW,
     .enum_names = on_bad_names, .def_i = PM_ON_BAD_FAIL,
     .doc = "what a bad record (see *Bad input* below) does; `\"skip\"` leaves it out, counts "
            "it and writes it to `rejects/`",
     .example = "\"skip\""},
    {SEC_RUN, "on_bad_file", PM_CFG_ENUM, PM_CFG_OUTPUT, F1, CFG(on_bad_file), NO_RAW,
     .enum_names = on_bad_names, .def_i = PM_ON_BAD_FAIL,
     .doc = "what a corrupt, truncated, empty or changed input file does; `\"skip\"` skips the "
            "whole file (nothing of it is emitted), lists it in `rejects/` with the reason and "
            "counts it as `skipped_files`",
     .example = "\"skip\""},
    {SEC_RUN, "max_bad_records", PM_CFG_INT, PM_CFG_OUTPUT, F1, CFG(max_bad_records), NO_RAW,
     .imin = 0, .imax = INT64_MAX, .def_i = 1000,
     .doc = "with `on_bad_record: \"skip\"`, the job fails past this many", .example = "77"},
    {SEC_RUN, "max_record_bytes", PM_CFG_SIZE, PM_CFG_OUTPUT, F1, CFG(max_record_bytes), NO_RAW,
     .umin = MIN_MAX_RECORD_BYTES, .ulim = LIM_MAX_RECORD_BYTES, .def_u = DEF_MAX_RECORD_BYTES,
     .doc = "a longer line is a bad record", .example = "\"5M\""},
    {SEC_RUN, "peer_timeout", PM_CFG_DURATION, PM_CFG_MIN_EXCL, F1, CFG(peer_timeout), NO_RAW,
     .dmin = 0.0, .dmax = 7 * 86400.0, .def_d = 300.0,
     .doc = "a rank (or host) that has not answered for this long ends the job with an error "
            "naming it; keep it well above a file system's worst stall",
     .example = "\"90s\""},
    {SEC_RUN, "max_bad_fraction", PM_CFG_NUMBER, PM_CFG_OUTPUT, F2, CFG(max_bad_fraction), NO_RAW,
     .dmin = 0.0, .dmax = 1.0, .def_d = 0.05,
     .doc = "the job fails when more than this share of one component's documents are bad "
            "records (with `on_bad_record: \"skip\"`), even under `max_bad_records`; 1 turns "
            "it off",
     .example = "0.25"},
    {SEC_RUN, "spill_compression", PM_CFG_ENUM, 0, F1, CFG(spill_compression), NO_RAW,
     .enum_names = spill_comp_names, .def_i = PM_SPILL_NONE,
     .doc = "`\"none\"`, `\"fast\"` or a zstd level `\"1\"`..`\"3\"`: compress each "
            "bucket range of the spills (for file systems where bandwidth, not CPU, is the "
            "limit; see BENCHMARKS.md); cannot change the output, so not in the config hash",
     .example = "\"fast\""},
};

const pm_cfg_schema_t pm_config_schema = {sections, sizeof sections / sizeof *sections, keys,
                                          sizeof keys / sizeof *keys};

static int parse_root(pm_cfg_ctx_t *c, pm_config_t *cfg, const json_t *root)
{
    PM_TRY(pm_cfg_parse(&pm_config_schema, cfg, root, c));
    json_t *doc = pm_cfg_canonical(&pm_config_schema, cfg);
    if (!doc)
        return pm_cfg_nomem(c);
    cfg->canonical_json = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!cfg->canonical_json)
        return pm_cfg_nomem(c);
    cfg->canonical_hash = XXH3_64bits(cfg->canonical_json, strlen(cfg->canonical_json));
    return 0;
}

int pm_config_load_string(pm_config_t *cfg, const char *json, const char *origin_path,
                          pm_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    pm_cfg_ctx_t c = {err, origin_path ? origin_path : "", NULL};
    pm_error_clear(err);
    if (origin_path && !(cfg->path = strdup(origin_path)))
        return pm_cfg_nomem(&c);
    c.origin = cfg->path;

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
    pm_cfg_free(&pm_config_schema, cfg);
    free(cfg->path);
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
