/* The config schema engine (config_schema.h): parsing, canonical form, wire
 * form, freeing, comparison and documentation, each generic over a table.
 *
 * The messages are those of the hand-written loader this replaced, byte for
 * byte (tests/data/config_known/invalid_messages.tsv pins them): keep their
 * wording when touching a type's parser. */
#include "pilemix/config_schema.h"

#include "pilemix/buf.h"
#include "pilemix/config.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE_HINT "(use e.g. 512M, 2GiB or bytes)"
#define DURATION_HINT "(use e.g. 90s, 5m, 2h, 1d or seconds)"
#define MAX_SECTION_KEYS 64 /* rows plus child sections of one section */
#define KEYPATH_MAX 256

int pm_cfg_error(pm_cfg_ctx_t *c, const char *keypath, const char *fmt, ...)
{
    char msg[PM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pm_error_set(c->err, PM_ECONFIG, c->file, 0, "%s: %s", keypath, msg);
}

int pm_cfg_nomem(pm_cfg_ctx_t *c)
{
    return pm_error_set(c->err, PM_ENOMEM, c->file, 0, "out of memory");
}

/* Messages show what the user wrote ("0.1", not "0.10000000000000001"). */
void pm_cfg_fmt_double(char *out, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

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

/* ---- field access ------------------------------------------------------ */

static void *field(const void *obj, size_t off) { return (char *)obj + off; }
static char **str_field(const void *obj, size_t off) { return (char **)field(obj, off); }
static char ***list_field(const void *obj, size_t off) { return (char ***)field(obj, off); }

/* INT and ENUM fields have the width of their C type; a row whose lower
 * bound is negative is signed. Values are within the row's bounds, so they
 * fit the field. */
static bool int_signed(const pm_cfg_key_t *k) { return k->type == PM_CFG_INT && k->imin < 0; }

static long long int_load(const pm_cfg_key_t *k, const void *obj)
{
    const void *f = field(obj, k->offset);
    bool s = int_signed(k);
    switch (k->width) {
    case 1: return s ? *(const int8_t *)f : *(const uint8_t *)f;
    case 2: return s ? *(const int16_t *)f : *(const uint16_t *)f;
    case 4: return s ? *(const int32_t *)f : (long long)*(const uint32_t *)f;
    default: return (long long)*(const int64_t *)f;
    }
}

/* Unsigned conversion is modular, so this stores the same bits whether the
 * field is signed or not. */
static void int_store(const pm_cfg_key_t *k, void *obj, long long x)
{
    void *f = field(obj, k->offset);
    switch (k->width) {
    case 1: *(uint8_t *)f = (uint8_t)x; break;
    case 2: *(uint16_t *)f = (uint16_t)x; break;
    case 4: *(uint32_t *)f = (uint32_t)x; break;
    default: *(uint64_t *)f = (uint64_t)x; break;
    }
}

static double *dbl_field(const pm_cfg_key_t *k, const void *obj)
{
    return (double *)field(obj, k->offset);
}

static size_t *count_field(const pm_cfg_key_t *k, const void *obj)
{
    return (size_t *)field(obj, k->count_offset);
}

static bool has_raw(const pm_cfg_key_t *k) { return k->raw_offset != PM_CFG_NONE; }

static long long enum_count(const pm_cfg_key_t *k)
{
    long long n = 0;
    while (k->enum_names && k->enum_names[n])
        n++;
    return n;
}

static bool is_array_section(const pm_cfg_schema_t *s, unsigned sec)
{
    return (s->sections[sec].flags & PM_CFG_SEC_ARRAY) != 0;
}

void *pm_cfg_obj(const pm_cfg_schema_t *s, const pm_cfg_key_t *k, void *top, size_t index)
{
    const pm_cfg_section_t *sec = &s->sections[k->section];
    if (!(sec->flags & PM_CFG_SEC_ARRAY))
        return top;
    char *elems = *(char **)field(top, sec->array_offset);
    size_t n = *(size_t *)field(top, sec->count_offset);
    return elems && index < n ? elems + index * sec->elem_size : NULL;
}

/* ---- freeing ----------------------------------------------------------- */

static void free_list(char ***v, size_t n)
{
    for (size_t i = 0; *v && i < n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
}

static void free_value(const pm_cfg_key_t *k, void *obj)
{
    switch (k->type) {
    case PM_CFG_STRING:
    case PM_CFG_PATH:
        free(*str_field(obj, k->offset));
        *str_field(obj, k->offset) = NULL;
        if (has_raw(k)) {
            free(*str_field(obj, k->raw_offset));
            *str_field(obj, k->raw_offset) = NULL;
        }
        break;
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: {
        size_t n = *count_field(k, obj);
        free_list(list_field(obj, k->offset), n);
        if (has_raw(k))
            free_list(list_field(obj, k->raw_offset), n);
        *count_field(k, obj) = 0;
        break;
    }
    case PM_CFG_CUSTOM: {
        void **p = (void **)field(obj, k->offset);
        if (*p)
            k->custom->free(*p);
        *p = NULL;
        break;
    }
    default: break;
    }
}

static void free_section_rows(const pm_cfg_schema_t *s, unsigned sec, void *obj)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (s->keys[i].section == sec)
            free_value(&s->keys[i], obj);
}

void pm_cfg_free(const pm_cfg_schema_t *s, void *top)
{
    for (unsigned sec = 0; sec < s->n_sections; sec++) {
        const pm_cfg_section_t *d = &s->sections[sec];
        if (!(d->flags & PM_CFG_SEC_ARRAY)) {
            free_section_rows(s, sec, top);
            continue;
        }
        char **elems = (char **)field(top, d->array_offset);
        size_t *n = (size_t *)field(top, d->count_offset);
        for (size_t i = 0; *elems && i < *n; i++)
            free_section_rows(s, sec, *elems + i * d->elem_size);
        free(*elems);
        *elems = NULL;
        *n = 0;
    }
}

/* ---- defaults ---------------------------------------------------------- */

static int resolve_path(pm_cfg_ctx_t *c, const char *key, const char *raw, char **out);

static int set_default(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, void *obj)
{
    switch (k->type) {
    case PM_CFG_STRING:
        if (k->def_s && !(*str_field(obj, k->offset) = strdup(k->def_s)))
            return pm_cfg_nomem(c);
        return 0;
    case PM_CFG_PATH: /* a default path means what it would mean written in the file */
        if (!k->def_s)
            return 0;
        if (has_raw(k) && !(*str_field(obj, k->raw_offset) = strdup(k->def_s)))
            return pm_cfg_nomem(c);
        return resolve_path(c, k->name, k->def_s, str_field(obj, k->offset));
    case PM_CFG_INT:
    case PM_CFG_ENUM: int_store(k, obj, k->def_i); return 0;
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION: *dbl_field(k, obj) = k->def_d; return 0;
    case PM_CFG_BOOL: *(bool *)field(obj, k->offset) = k->def_b; return 0;
    case PM_CFG_SIZE: *(uint64_t *)field(obj, k->offset) = k->def_u; return 0;
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST:
    case PM_CFG_CUSTOM: return 0; /* empty / NULL: the struct is zeroed */
    }
    return 0;
}

static int set_section_defaults(pm_cfg_ctx_t *c, const pm_cfg_schema_t *s, unsigned sec, void *obj)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (s->keys[i].section == sec)
            PM_TRY(set_default(c, &s->keys[i], obj));
    return 0;
}

/* ---- parsing: one function per type ------------------------------------ */

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

static void key_path(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

/* The keys a section allows, in table order; the top level also allows its
 * child sections, after its own rows. */
static size_t allowed_keys(const pm_cfg_schema_t *s, unsigned sec, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_keys && n < MAX_SECTION_KEYS; i++)
        if (s->keys[i].section == sec)
            out[n++] = s->keys[i].name;
    for (unsigned j = 1; sec == 0 && j < s->n_sections && n < MAX_SECTION_KEYS; j++)
        out[n++] = s->sections[j].name;
    return n;
}

/* Reject keys the section does not allow, suggesting the closest one. */
static int check_keys(pm_cfg_ctx_t *c, const pm_cfg_schema_t *s, unsigned sec, const json_t *obj,
                      const char *prefix)
{
    const char *allowed[MAX_SECTION_KEYS];
    size_t n_allowed = allowed_keys(s, sec, allowed);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        int known = 0;
        for (size_t i = 0; i < n_allowed; i++) {
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
        char path[KEYPATH_MAX];
        key_path(path, sizeof path, prefix, key);
        /* Short keys are one or two edits from anything; require the key to
         * keep most of its letters before suggesting. */
        if (best && best_d <= 2 && best_d < strlen(key))
            return pm_cfg_error(c, path, "unknown key (did you mean \"%s\"?)", best);
        char list[512] = "";
        size_t len = 0;
        for (size_t i = 0; i < n_allowed && len < sizeof list; i++)
            len +=
                (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", allowed[i]);
        return pm_cfg_error(c, path, "unknown key (allowed: %s)", list);
    }
    return 0;
}

static int get_string(pm_cfg_ctx_t *c, const json_t *v, const char *path, const char **out)
{
    if (!json_is_string(v))
        return pm_cfg_error(c, path, "must be a string (got %s)", type_name(v));
    if (json_string_length(v) == 0)
        return pm_cfg_error(c, path, "must not be empty");
    *out = json_string_value(v);
    return 0;
}

static int get_int(pm_cfg_ctx_t *c, const json_t *v, const char *path, long long lo, long long hi,
                   long long *out)
{
    if (!json_is_integer(v))
        return pm_cfg_error(c, path, "must be an integer (got %s)", type_name(v));
    long long x = (long long)json_integer_value(v);
    if (x < lo)
        return pm_cfg_error(c, path, "must be >= %lld (got %lld)", lo, x);
    if (x > hi)
        return pm_cfg_error(c, path, "must be <= %lld (got %lld)", hi, x);
    *out = x;
    return 0;
}

/* x against the row's dmin/dmax, "got" being how x is shown. */
static int check_dbounds(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const char *path, double x,
                         const char *got)
{
    char b[40];
    bool lo_ok = k->flags & PM_CFG_MIN_EXCL ? x > k->dmin : x >= k->dmin;
    if (!lo_ok) {
        pm_cfg_fmt_double(b, sizeof b, k->dmin);
        return pm_cfg_error(c, path, "must be %s %s (got %s)",
                            k->flags & PM_CFG_MIN_EXCL ? ">" : ">=", b, got);
    }
    bool hi_ok = k->flags & PM_CFG_MAX_EXCL ? x < k->dmax : x <= k->dmax;
    if (!hi_ok) {
        pm_cfg_fmt_double(b, sizeof b, k->dmax);
        return pm_cfg_error(c, path, "must be %s %s (got %s)",
                            k->flags & PM_CFG_MAX_EXCL ? "<" : "<=", b, got);
    }
    return 0;
}

static int get_number(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const json_t *v, const char *path,
                      double *out)
{
    if (!json_is_number(v))
        return pm_cfg_error(c, path, "must be a number (got %s)", type_name(v));
    double x = json_number_value(v);
    char got[40];
    pm_cfg_fmt_double(got, sizeof got, x);
    PM_TRY(check_dbounds(c, k, path, x, got));
    *out = x == 0.0 ? 0.0 : x; /* -0.0 means 0: one canonical form, one hash */
    return 0;
}

static int get_fraction(pm_cfg_ctx_t *c, const json_t *v, const char *path, double *out)
{
    if (!json_is_number(v))
        return pm_cfg_error(c, path, "must be a number (got %s)", type_name(v));
    double x = json_number_value(v);
    char got[40];
    pm_cfg_fmt_double(got, sizeof got, x);
    if (!(x >= 0.0 && x < 1.0))
        return pm_cfg_error(c, path, "must be >= 0 and < 1 (got %s)", got);
    *out = x == 0.0 ? 0.0 : x; /* -0.0 means 0: one canonical form, one hash */
    return 0;
}

/* "\"fail\" or \"skip\"", "\"a\", \"b\" or \"c\"". */
static void enum_alternatives(const char *const *names, char *out, size_t n)
{
    size_t len = 0, count = 0;
    while (names[count])
        count++;
    out[0] = '\0';
    for (size_t i = 0; i < count && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s\"%s\"",
                                i == 0           ? ""
                                : i + 1 == count ? " or "
                                                 : ", ",
                                names[i]);
}

static int get_enum(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const json_t *v, const char *path,
                    long long *out)
{
    char alts[256];
    enum_alternatives(k->enum_names, alts, sizeof alts);
    if (!json_is_string(v))
        return pm_cfg_error(c, path, "must be %s (got %s)", alts, type_name(v));
    const char *s = json_string_value(v);
    for (long long i = 0; k->enum_names[i]; i++)
        if (!strcmp(s, k->enum_names[i])) {
            *out = i;
            return 0;
        }
    return pm_cfg_error(c, path, "must be %s (got \"%s\")", alts, s);
}

/* "2 GiB": error messages. */
static void fmt_size(char *out, size_t n, uint64_t x, const char *sep)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof *units && x >= 1024 && x % 1024 == 0) {
        x /= 1024;
        u++;
    }
    snprintf(out, n, "%llu%s%s", (unsigned long long)x, sep, units[u]);
}

/* A size string or a positive integer number of bytes, in [lo, hi) (hi = 0:
 * no upper bound). */
static int get_size(pm_cfg_ctx_t *c, const json_t *v, const char *path, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
    uint64_t x;
    if (json_is_integer(v)) {
        long long i = (long long)json_integer_value(v);
        if (i <= 0)
            return pm_cfg_error(c, path, "bad size %lld " SIZE_HINT, i);
        x = (uint64_t)i;
    } else if (json_is_string(v)) {
        if (pm_size_parse(json_string_value(v), &x) < 0)
            return pm_cfg_error(c, path, "bad size \"%s\" " SIZE_HINT, json_string_value(v));
    } else {
        return pm_cfg_error(c, path, "must be a size string or an integer (got %s)", type_name(v));
    }
    char bound[40];
    if (x < lo) {
        fmt_size(bound, sizeof bound, lo, " ");
        return pm_cfg_error(c, path, "must be >= %s (got %llu bytes)", bound,
                            (unsigned long long)x);
    }
    if (hi && x >= hi) {
        fmt_size(bound, sizeof bound, hi, " ");
        return pm_cfg_error(c, path, "must be < %s (got %llu bytes)", bound, (unsigned long long)x);
    }
    *out = x;
    return 0;
}

/* A number of seconds, or a string: digits with an optional fraction and one
 * unit of s, m, h or d ("90s", "1.5h"). Checked by hand first: strtod alone
 * would also take "inf", "0x1p3" and leading spaces. */
static int parse_duration_string(const char *s, double *out)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return -1;
    if (*p == '.') {
        const char *frac = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == frac)
            return -1;
    }
    double unit = 0;
    switch (*p) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    }
    if (unit == 0 || p[1])
        return -1;
    double x = strtod(s, NULL) * unit;
    if (!isfinite(x))
        return -1;
    *out = x;
    return 0;
}

static int get_duration(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const json_t *v, const char *path,
                        double *out)
{
    double x;
    char got[64];
    if (json_is_number(v)) {
        x = json_number_value(v);
        pm_cfg_fmt_double(got, sizeof got, x);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (parse_duration_string(s, &x) < 0)
            return pm_cfg_error(c, path, "bad duration \"%s\" " DURATION_HINT, s);
        snprintf(got, sizeof got, "\"%.40s\"", s);
    } else {
        return pm_cfg_error(c, path, "must be a duration string or a number of seconds (got %s)",
                            type_name(v));
    }
    PM_TRY(check_dbounds(c, k, path, x, got));
    *out = x == 0.0 ? 0.0 : x;
    return 0;
}

/* Substitute ${NAME} from the environment into b. Only that form: "$" not
 * followed by "{" is literal, so paths with a "$" in them still work. */
int pm_cfg_expand_vars(pm_cfg_ctx_t *c, const char *path, const char *s, pm_buf_t *b)
{
    pm_buf_reset(b);
    if (pm_buf_reserve(b, strlen(s)) < 0)
        return pm_cfg_nomem(c);
    for (const char *p = s; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            if (pm_buf_append_char(b, *p++) < 0)
                return pm_cfg_nomem(c);
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
            return pm_cfg_error(c, path,
                                "bad variable reference \"%.*s\" (use ${NAME}, NAME of "
                                "letters, digits and _)",
                                shown, p);
        }
        char var[256];
        if (n >= sizeof var)
            return pm_cfg_error(c, path, "variable name too long");
        memcpy(var, name, n);
        var[n] = '\0';
        const char *val = getenv(var);
        if (!val)
            return pm_cfg_error(c, path, "environment variable %s is not set", var);
        /* An empty value would silently turn "${DATA}/x" into "/x". */
        if (!val[0])
            return pm_cfg_error(c, path, "environment variable %s is empty", var);
        if (pm_buf_append_str(b, val) < 0)
            return pm_cfg_nomem(c);
        p = name + n + 1;
    }
    return 0;
}

/* Expand variables, then make a relative result relative to the config
 * file's directory. A relative config path keeps the result relative. */
static int resolve_path(pm_cfg_ctx_t *c, const char *key, const char *raw, char **out)
{
    const char *cfg_path = c->origin;
    pm_buf_t b, r;
    pm_buf_init(&b);
    pm_buf_init(&r);
    int rc = pm_cfg_expand_vars(c, key, raw, &b);
    if (rc < 0)
        goto done;
    const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
    if (b.data[0] != '/' && slash) {
        /* Keep the config's directory with its slash: "a/b/x.json" -> "a/b/",
         * "/x.json" -> "/". No slash at all: the cwd, leave the path alone. */
        size_t dlen = (size_t)(slash - cfg_path) + 1;
        if (pm_buf_append(&r, cfg_path, dlen) < 0 || pm_buf_append_str(&r, b.data) < 0) {
            rc = pm_cfg_nomem(c);
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

/* One path: the raw text kept (if the row keeps it), then the resolved one. */
static int parse_path(pm_cfg_ctx_t *c, const json_t *v, const char *path, char **raw_out,
                      char **out)
{
    const char *s = NULL; /* gcc -O3 cannot see get_string sets it on success */
    PM_TRY(get_string(c, v, path, &s));
    if (raw_out && !(*raw_out = strdup(s)))
        return pm_cfg_nomem(c);
    return resolve_path(c, path, s, out);
}

static int parse_list(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const json_t *v, const char *path,
                      void *obj)
{
    if (!json_is_array(v))
        return pm_cfg_error(c, path, "must be an array of strings (got %s)", type_name(v));
    size_t n = json_array_size(v);
    if ((long long)n < k->imin) {
        if (k->imin == 1)
            return pm_cfg_error(c, path, "must not be empty");
        return pm_cfg_error(c, path, "must have at least %lld items", k->imin);
    }
    free_value(k, obj);
    if (n == 0)
        return 0;
    char ***vals = list_field(obj, k->offset);
    char ***raws = has_raw(k) ? list_field(obj, k->raw_offset) : NULL;
    *vals = calloc(n, sizeof **vals);
    if (raws)
        *raws = calloc(n, sizeof **raws);
    if (!*vals || (raws && !*raws))
        return pm_cfg_nomem(c);
    *count_field(k, obj) = n;
    for (size_t i = 0; i < n; i++) {
        char epath[KEYPATH_MAX + 24];
        snprintf(epath, sizeof epath, "%s[%zu]", path, i);
        const json_t *e = json_array_get(v, i);
        if (k->type == PM_CFG_PATH_LIST) {
            PM_TRY(parse_path(c, e, epath, raws ? &(*raws)[i] : NULL, &(*vals)[i]));
        } else {
            const char *s;
            PM_TRY(get_string(c, e, epath, &s));
            if (!((*vals)[i] = strdup(s)))
                return pm_cfg_nomem(c);
        }
    }
    return 0;
}

static int parse_value(pm_cfg_ctx_t *c, const pm_cfg_key_t *k, const json_t *v, const char *path,
                       void *obj)
{
    long long i = 0;
    const char *s;
    switch (k->type) {
    case PM_CFG_STRING: {
        PM_TRY(get_string(c, v, path, &s));
        char *copy = strdup(s);
        if (!copy)
            return pm_cfg_nomem(c);
        free_value(k, obj);
        *str_field(obj, k->offset) = copy;
        return 0;
    }
    case PM_CFG_PATH:
        free_value(k, obj);
        return parse_path(c, v, path, has_raw(k) ? str_field(obj, k->raw_offset) : NULL,
                          str_field(obj, k->offset));
    case PM_CFG_INT:
        PM_TRY(get_int(c, v, path, k->imin, k->imax, &i));
        int_store(k, obj, i);
        return 0;
    case PM_CFG_ENUM:
        PM_TRY(get_enum(c, k, v, path, &i));
        int_store(k, obj, i);
        return 0;
    case PM_CFG_NUMBER: return get_number(c, k, v, path, dbl_field(k, obj));
    case PM_CFG_FRACTION: return get_fraction(c, v, path, dbl_field(k, obj));
    case PM_CFG_DURATION: return get_duration(c, k, v, path, dbl_field(k, obj));
    case PM_CFG_BOOL:
        if (!json_is_boolean(v))
            return pm_cfg_error(c, path, "must be true or false (got %s)", type_name(v));
        *(bool *)field(obj, k->offset) = json_is_true(v);
        return 0;
    case PM_CFG_SIZE:
        return get_size(c, v, path, k->umin, k->ulim, (uint64_t *)field(obj, k->offset));
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: return parse_list(c, k, v, path, obj);
    case PM_CFG_CUSTOM:
        free_value(k, obj);
        return k->custom->parse(c, path, v, (void **)field(obj, k->offset));
    }
    return pm_error_set(c->err, PM_EINTERNAL, c->file, 0, "%s: unknown key type", path);
}

static int parse_section(pm_cfg_ctx_t *c, const pm_cfg_schema_t *s, unsigned sec, void *top,
                         void *obj, size_t index, const json_t *v, const char *prefix);

/* A child section of the top level: an object filling top, or an array of
 * objects each filling one element. */
static int parse_child(pm_cfg_ctx_t *c, const pm_cfg_schema_t *s, unsigned sec, void *top,
                       const json_t *doc)
{
    const pm_cfg_section_t *d = &s->sections[sec];
    const json_t *v = json_object_get(doc, d->name);
    if (!v) {
        if (d->flags & PM_CFG_SEC_REQUIRED)
            return pm_cfg_error(c, d->name, "missing required key");
        /* An absent object still gets its computed defaults. */
        if (!(d->flags & PM_CFG_SEC_ARRAY) && d->validate)
            return d->validate(c, top, top, 0, d->name);
        return 0;
    }
    if (!(d->flags & PM_CFG_SEC_ARRAY))
        return parse_section(c, s, sec, top, top, 0, v, d->name);

    if (!json_is_array(v))
        return pm_cfg_error(c, d->name, "must be an array of objects (got %s)", type_name(v));
    size_t n = json_array_size(v);
    if (n == 0 && (d->flags & PM_CFG_SEC_REQUIRED))
        return pm_cfg_error(c, d->name, "must not be empty");
    if (n > UINT32_MAX)
        return pm_cfg_error(c, d->name, "too many %s", d->name);
    if (n == 0)
        return 0;
    char *elems = calloc(n, d->elem_size);
    if (!elems)
        return pm_cfg_nomem(c);
    *(char **)field(top, d->array_offset) = elems;
    *(size_t *)field(top, d->count_offset) = n;
    for (size_t i = 0; i < n; i++) {
        char prefix[KEYPATH_MAX];
        snprintf(prefix, sizeof prefix, "%s[%zu]", d->name, i);
        void *elem = elems + i * d->elem_size;
        PM_TRY(set_section_defaults(c, s, sec, elem));
        PM_TRY(parse_section(c, s, sec, top, elem, i, json_array_get(v, i), prefix));
    }
    return 0;
}

/* One object: unknown keys first, then each row in table order (the first
 * problem found is the one reported), then the child sections (top level),
 * then the section's cross-key rules. */
static int parse_section(pm_cfg_ctx_t *c, const pm_cfg_schema_t *s, unsigned sec, void *top,
                         void *obj, size_t index, const json_t *v, const char *prefix)
{
    if (!json_is_object(v))
        return pm_cfg_error(c, prefix[0] ? prefix : "(top level)", "must be an object (got %s)",
                            type_name(v));
    PM_TRY(check_keys(c, s, sec, v, prefix));
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        if (k->section != sec)
            continue;
        char path[KEYPATH_MAX];
        key_path(path, sizeof path, prefix, k->name);
        const json_t *jv = json_object_get(v, k->name);
        if (!jv) {
            if (k->flags & PM_CFG_REQUIRED)
                return pm_cfg_error(c, path, "missing required key");
            continue;
        }
        PM_TRY(parse_value(c, k, jv, path, obj));
        if (k->check)
            PM_TRY(k->check(c, path, obj));
    }
    for (unsigned j = 1; sec == 0 && j < s->n_sections; j++)
        PM_TRY(parse_child(c, s, j, top, v));
    if (s->sections[sec].validate)
        PM_TRY(s->sections[sec].validate(c, top, obj, index, prefix));
    return 0;
}

int pm_cfg_parse(const pm_cfg_schema_t *s, void *top, const json_t *doc, pm_cfg_ctx_t *c)
{
    for (unsigned sec = 0; sec < s->n_sections; sec++)
        if (!is_array_section(s, sec))
            PM_TRY(set_section_defaults(c, s, sec, top));
    return parse_section(c, s, 0, top, top, 0, doc, "");
}

/* ---- canonical and wire forms ------------------------------------------ */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* Paths are bytes: a string that is not UTF-8 (a Latin-1 file name, an
 * environment value) travels as {"hex": "..."} instead of failing the pack. */
json_t *pm_cfg_wire_string(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    j = json_pack("{s:s}", "hex", hex);
    free(hex);
    return j;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int pm_cfg_wire_string_value(const json_t *j, char **out)
{
    *out = NULL;
    if (json_is_null(j))
        return 0;
    if (json_is_string(j))
        return (*out = strdup(json_string_value(j))) ? 0 : PM_ENOMEM;
    const char *hex = json_string_value(json_object_get(j, "hex"));
    size_t n = hex ? strlen(hex) : 1;
    if (n % 2)
        return PM_EINTERNAL;
    char *s = malloc(n / 2 + 1);
    if (!s)
        return PM_ENOMEM;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) { /* a NUL would cut the C string */
            free(s);
            return PM_EINTERNAL;
        }
        s[i] = (char)(hi << 4 | lo);
    }
    s[n / 2] = '\0';
    *out = s;
    return 0;
}

static json_t *str_array(char **v, size_t n, bool canonical)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, canonical ? str_or_null(v[i]) : pm_cfg_wire_string(v[i])) <
            0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* {"value": v, "raw": raw}, stealing both; NULL (and both released) on failure. */
static json_t *with_raw(json_t *v, json_t *raw)
{
    json_t *o = json_object();
    if (!o || !v || !raw) {
        json_decref(o);
        json_decref(v);
        json_decref(raw);
        return NULL;
    }
    /* json_object_set_new takes the value even when it fails: call both. */
    int rc = json_object_set_new(o, "value", v);
    rc |= json_object_set_new(o, "raw", raw);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A row's value as JSON (new reference, NULL = out of memory). The canonical
 * form shows paths as written; the wire form carries both. */
static json_t *value_json(const pm_cfg_key_t *k, const void *obj, bool canonical)
{
    /* Canonical strings come from the config's JSON text: always UTF-8. */
    json_t *(*str)(const char *) = canonical ? str_or_null : pm_cfg_wire_string;
    switch (k->type) {
    case PM_CFG_STRING: return str(*str_field(obj, k->offset));
    case PM_CFG_PATH:
        if (!has_raw(k))
            return str(*str_field(obj, k->offset));
        if (canonical)
            return str(*str_field(obj, k->raw_offset));
        return with_raw(str(*str_field(obj, k->offset)), str(*str_field(obj, k->raw_offset)));
    case PM_CFG_INT: return json_integer((json_int_t)int_load(k, obj));
    case PM_CFG_ENUM:
        if (canonical)
            return json_string(k->enum_names[int_load(k, obj)]);
        return json_integer((json_int_t)int_load(k, obj));
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION: return json_real(*dbl_field(k, obj));
    case PM_CFG_BOOL: return json_boolean(*(const bool *)field(obj, k->offset));
    case PM_CFG_SIZE: /* > INT64_MAX wraps; pm_cfg_schema_check keeps output sizes below */
        return json_integer((json_int_t) * (const uint64_t *)field(obj, k->offset));
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: {
        size_t n = *count_field(k, obj);
        if (!has_raw(k))
            return str_array(*list_field(obj, k->offset), n, canonical);
        if (canonical)
            return str_array(*list_field(obj, k->raw_offset), n, true);
        return with_raw(str_array(*list_field(obj, k->offset), n, false),
                        str_array(*list_field(obj, k->raw_offset), n, false));
    }
    case PM_CFG_CUSTOM: {
        const void *p = *(void *const *)field(obj, k->offset);
        if (!p)
            return json_null();
        return canonical ? k->custom->canonical(p) : k->custom->pack(p);
    }
    }
    return NULL;
}

static bool in_canonical(const pm_cfg_key_t *k, const void *obj)
{
    if (!(k->flags & PM_CFG_OUTPUT))
        return false;
    if (k->flags & PM_CFG_UNSET_OMITTED)
        return !pm_cfg_is_default(k, obj);
    return k->format == PM_CFG_FORMAT_1 || !pm_cfg_is_default(k, obj);
}

/* The rows of one section, into a new object (NULL = out of memory). */
static json_t *section_json(const pm_cfg_schema_t *s, unsigned sec, const void *obj, bool canonical)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        if (k->section != sec || (canonical && !in_canonical(k, obj)))
            continue;
        if (json_object_set_new(o, k->name, value_json(k, obj, canonical)) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *array_json(const pm_cfg_schema_t *s, unsigned sec, const void *top, bool canonical)
{
    const pm_cfg_section_t *d = &s->sections[sec];
    const char *elems = *(char *const *)field(top, d->array_offset);
    size_t n = *(const size_t *)field(top, d->count_offset);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, section_json(s, sec, elems + i * d->elem_size, canonical)) <
            0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *pm_cfg_canonical(const pm_cfg_schema_t *s, const void *top)
{
    json_t *doc = section_json(s, 0, top, true);
    for (unsigned sec = 1; doc && sec < s->n_sections; sec++) {
        const pm_cfg_section_t *d = &s->sections[sec];
        json_t *v = is_array_section(s, sec) ? array_json(s, sec, top, true)
                                             : section_json(s, sec, top, true);
        /* A section with nothing in the canonical form is left out, so a new
         * optional section does not change the hash of configs without it. */
        bool empty = v && (json_is_object(v) ? json_object_size(v) : json_array_size(v)) == 0;
        if (empty && !(d->flags & PM_CFG_SEC_REQUIRED)) {
            json_decref(v);
            continue;
        }
        if (json_object_set_new(doc, d->name, v) < 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

/* {"": {top rows}, "components": [{...}, ...], "output": {...}, ...} */
json_t *pm_cfg_pack(const pm_cfg_schema_t *s, const void *top)
{
    json_t *doc = json_object();
    for (unsigned sec = 0; doc && sec < s->n_sections; sec++) {
        json_t *v = is_array_section(s, sec) ? array_json(s, sec, top, false)
                                             : section_json(s, sec, top, false);
        if (json_object_set_new(doc, s->sections[sec].name, v) < 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

static int bad_pack(pm_error_t *err, const char *what)
{
    return pm_error_set(err, PM_EINTERNAL, NULL, 0, "bad packed config: %s", what);
}

static int nomem_pack(pm_error_t *err)
{
    return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
}

static int unpack_str(const json_t *j, char **out) { return pm_cfg_wire_string_value(j, out); }

static int unpack_strs(const json_t *a, size_t n, char ***out)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return PM_EINTERNAL;
    if (n == 0)
        return 0;
    if (!(*out = calloc(n, sizeof **out)))
        return PM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        PM_TRY(unpack_str(json_array_get(a, i), &(*out)[i]));
    return 0;
}

static int unpack_value(const pm_cfg_key_t *k, void *obj, const json_t *j)
{
    switch (k->type) {
    case PM_CFG_STRING: return unpack_str(j, str_field(obj, k->offset));
    case PM_CFG_PATH:
        if (!has_raw(k))
            return unpack_str(j, str_field(obj, k->offset));
        if (!json_is_object(j))
            return PM_EINTERNAL;
        PM_TRY(unpack_str(json_object_get(j, "value"), str_field(obj, k->offset)));
        return unpack_str(json_object_get(j, "raw"), str_field(obj, k->raw_offset));
    case PM_CFG_INT:
    case PM_CFG_ENUM: {
        /* Bounds again: an enum index out of range would be read past its names. */
        long long x = json_is_integer(j) ? (long long)json_integer_value(j) : -1;
        long long lo = k->type == PM_CFG_INT ? k->imin : 0;
        long long hi = k->type == PM_CFG_INT ? k->imax : enum_count(k) - 1;
        if (!json_is_integer(j) || x < lo || x > hi)
            return PM_EINTERNAL;
        int_store(k, obj, x);
        return 0;
    }
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION:
        if (!json_is_number(j))
            return PM_EINTERNAL;
        *dbl_field(k, obj) = json_number_value(j);
        return 0;
    case PM_CFG_BOOL:
        if (!json_is_boolean(j))
            return PM_EINTERNAL;
        *(bool *)field(obj, k->offset) = json_is_true(j);
        return 0;
    case PM_CFG_SIZE:
        if (!json_is_integer(j))
            return PM_EINTERNAL;
        *(uint64_t *)field(obj, k->offset) = (uint64_t)json_integer_value(j);
        return 0;
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: {
        const json_t *vals = has_raw(k) ? json_object_get(j, "value") : j;
        if (!json_is_array(vals))
            return PM_EINTERNAL;
        size_t n = json_array_size(vals);
        *count_field(k, obj) = n;
        PM_TRY(unpack_strs(vals, n, list_field(obj, k->offset)));
        if (has_raw(k))
            PM_TRY(unpack_strs(json_object_get(j, "raw"), n, list_field(obj, k->raw_offset)));
        return 0;
    }
    case PM_CFG_CUSTOM:
        if (json_is_null(j))
            return 0;
        return k->custom->unpack(j, (void **)field(obj, k->offset));
    }
    return PM_EINTERNAL;
}

static int unpack_section(const pm_cfg_schema_t *s, unsigned sec, void *obj, const json_t *o,
                          const char *prefix, pm_error_t *err)
{
    if (!json_is_object(o))
        return bad_pack(err, prefix[0] ? prefix : "(top level)");
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        if (k->section != sec)
            continue;
        char path[KEYPATH_MAX];
        key_path(path, sizeof path, prefix, k->name);
        const json_t *j = json_object_get(o, k->name);
        int rc = j ? unpack_value(k, obj, j) : PM_EINTERNAL;
        if (rc == PM_ENOMEM)
            return nomem_pack(err);
        if (rc < 0)
            return bad_pack(err, path);
    }
    return 0;
}

int pm_cfg_unpack(const pm_cfg_schema_t *s, void *top, const json_t *j, pm_error_t *err)
{
    if (!json_is_object(j))
        return bad_pack(err, "not an object");
    for (unsigned sec = 0; sec < s->n_sections; sec++) {
        const pm_cfg_section_t *d = &s->sections[sec];
        const json_t *v = json_object_get(j, d->name);
        if (!is_array_section(s, sec)) {
            PM_TRY(unpack_section(s, sec, top, v, d->name, err));
            continue;
        }
        if (!json_is_array(v))
            return bad_pack(err, d->name);
        size_t n = json_array_size(v);
        if (n == 0)
            continue;
        char *elems = calloc(n, d->elem_size);
        if (!elems)
            return nomem_pack(err);
        *(char **)field(top, d->array_offset) = elems;
        *(size_t *)field(top, d->count_offset) = n;
        for (size_t i = 0; i < n; i++) {
            char prefix[KEYPATH_MAX];
            snprintf(prefix, sizeof prefix, "%s[%zu]", d->name, i);
            PM_TRY(unpack_section(s, sec, elems + i * d->elem_size, json_array_get(v, i), prefix,
                                  err));
        }
    }
    return 0;
}

/* ---- comparison -------------------------------------------------------- */

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool list_eq(char **a, char **b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

bool pm_cfg_equal(const pm_cfg_key_t *k, const void *a, const void *b)
{
    switch (k->type) {
    case PM_CFG_STRING:
    case PM_CFG_PATH:
        return str_eq(*str_field(a, k->offset), *str_field(b, k->offset)) &&
               (!has_raw(k) || str_eq(*str_field(a, k->raw_offset), *str_field(b, k->raw_offset)));
    case PM_CFG_INT:
    case PM_CFG_ENUM: return int_load(k, a) == int_load(k, b);
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION: return *dbl_field(k, a) == *dbl_field(k, b);
    case PM_CFG_BOOL:
        return *(const bool *)field(a, k->offset) == *(const bool *)field(b, k->offset);
    case PM_CFG_SIZE:
        return *(const uint64_t *)field(a, k->offset) == *(const uint64_t *)field(b, k->offset);
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: {
        size_t n = *count_field(k, a);
        return n == *count_field(k, b) &&
               list_eq(*list_field(a, k->offset), *list_field(b, k->offset), n) &&
               (!has_raw(k) ||
                list_eq(*list_field(a, k->raw_offset), *list_field(b, k->raw_offset), n));
    }
    case PM_CFG_CUSTOM: {
        const void *pa = *(void *const *)field(a, k->offset);
        const void *pb = *(void *const *)field(b, k->offset);
        return pa == pb || (pa && pb && k->custom->equal(pa, pb));
    }
    }
    return false;
}

bool pm_cfg_is_default(const pm_cfg_key_t *k, const void *obj)
{
    switch (k->type) {
    case PM_CFG_STRING:
    case PM_CFG_PATH: /* as written: the default is a text, not a resolved path */
        return str_eq(*str_field(obj, has_raw(k) ? k->raw_offset : k->offset), k->def_s);
    case PM_CFG_INT:
    case PM_CFG_ENUM: return int_load(k, obj) == k->def_i;
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION: return *dbl_field(k, obj) == k->def_d;
    case PM_CFG_BOOL: return *(const bool *)field(obj, k->offset) == k->def_b;
    case PM_CFG_SIZE: return *(const uint64_t *)field(obj, k->offset) == k->def_u;
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: return *count_field(k, obj) == 0;
    case PM_CFG_CUSTOM: return *(void *const *)field(obj, k->offset) == NULL;
    }
    return false;
}

/* ---- documentation ----------------------------------------------------- */

void pm_cfg_key_doc_path(const pm_cfg_schema_t *s, const pm_cfg_key_t *k, char *out, size_t n)
{
    const pm_cfg_section_t *d = &s->sections[k->section];
    snprintf(out, n, "%s%s%s", d->name,
             d->name[0] ? (is_array_section(s, k->section) ? "[]." : ".") : "", k->name);
}

static void doc_dbounds(const pm_cfg_key_t *k, pm_buf_t *b)
{
    char x[40];
    const char *sep = " ";
    if (k->dmin > -HUGE_VAL) {
        pm_cfg_fmt_double(x, sizeof x, k->dmin);
        pm_buf_printf(b, " %s %s", k->flags & PM_CFG_MIN_EXCL ? ">" : "≥", x);
        sep = ", ";
    }
    if (k->dmax < HUGE_VAL) {
        pm_cfg_fmt_double(x, sizeof x, k->dmax);
        pm_buf_printf(b, "%s%s %s", sep, k->flags & PM_CFG_MAX_EXCL ? "<" : "≤", x);
    }
}

void pm_cfg_key_doc_type(const pm_cfg_key_t *k, char *out, size_t n)
{
    pm_buf_t b;
    pm_buf_init(&b);
    char x[64];
    switch (k->type) {
    case PM_CFG_STRING: pm_buf_append_str(&b, "string"); break;
    case PM_CFG_PATH: pm_buf_append_str(&b, "path"); break;
    case PM_CFG_INT:
        if (k->imax == LLONG_MAX)
            pm_buf_printf(&b, "integer ≥ %lld", k->imin);
        else
            pm_buf_printf(&b, "integer %lld..%lld", k->imin, k->imax);
        break;
    case PM_CFG_NUMBER:
        pm_buf_append_str(&b, "number");
        doc_dbounds(k, &b);
        break;
    case PM_CFG_FRACTION: pm_buf_append_str(&b, "number in [0,1)"); break;
    case PM_CFG_DURATION:
        pm_buf_append_str(&b, "duration (seconds or `90s`, `5m`, `2h`, `1d`)");
        doc_dbounds(k, &b);
        break;
    case PM_CFG_BOOL: pm_buf_append_str(&b, "bool"); break;
    case PM_CFG_SIZE:
        fmt_size(x, sizeof x, k->umin, " ");
        pm_buf_printf(&b, "size ≥ %s", x);
        if (k->ulim) {
            fmt_size(x, sizeof x, k->ulim, " ");
            pm_buf_printf(&b, ", < %s", x);
        }
        break;
    case PM_CFG_ENUM:
        /* `"fail"` (default) or `"skip"`: the default is named in place */
        for (long long i = 0; k->enum_names[i]; i++)
            pm_buf_printf(&b, "%s`\"%s\"`%s",
                          i == 0                 ? ""
                          : k->enum_names[i + 1] ? ", "
                                                 : " or ",
                          k->enum_names[i], i == k->def_i ? " (default)" : "");
        break;
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST:
        pm_buf_printf(&b, "%sarray of %s", k->imin > 0 ? "non-empty " : "",
                      k->type == PM_CFG_PATH_LIST ? "paths" : "strings");
        break;
    case PM_CFG_CUSTOM: pm_buf_append_str(&b, k->custom->doc_type); break;
    }
    if (k->flags & PM_CFG_REQUIRED) {
        pm_buf_append_str(&b, ", required");
    } else if (k->doc_default) {
        pm_buf_printf(&b, ", default %s", k->doc_default);
    } else {
        switch (k->type) {
        case PM_CFG_STRING:
        case PM_CFG_PATH:
            if (k->def_s)
                pm_buf_printf(&b, ", default `%s`", k->def_s);
            else
                pm_buf_append_str(&b, ", optional");
            break;
        case PM_CFG_INT: pm_buf_printf(&b, ", default %lld", k->def_i); break;
        case PM_CFG_NUMBER:
        case PM_CFG_FRACTION:
            pm_cfg_fmt_double(x, sizeof x, k->def_d);
            pm_buf_printf(&b, ", default %s", x);
            break;
        case PM_CFG_DURATION:
            pm_cfg_fmt_double(x, sizeof x, k->def_d);
            pm_buf_printf(&b, ", default %s s", x);
            break;
        case PM_CFG_BOOL: pm_buf_printf(&b, ", default %s", k->def_b ? "true" : "false"); break;
        case PM_CFG_SIZE:
            fmt_size(x, sizeof x, k->def_u, "");
            pm_buf_printf(&b, ", default `%s`", x);
            break;
        case PM_CFG_STRING_LIST:
        case PM_CFG_PATH_LIST: pm_buf_append_str(&b, ", default empty"); break;
        case PM_CFG_CUSTOM: pm_buf_append_str(&b, ", optional"); break;
        case PM_CFG_ENUM: break;
        }
    }
    snprintf(out, n, "%s", b.data ? b.data : "");
    pm_buf_free(&b);
}

/* ---- self-check -------------------------------------------------------- */

static int bad_row(pm_error_t *err, const pm_cfg_schema_t *s, const pm_cfg_key_t *k,
                   const char *why)
{
    char path[KEYPATH_MAX];
    pm_cfg_key_doc_path(s, k, path, sizeof path);
    return pm_error_set(err, PM_EINTERNAL, NULL, 0, "config schema: %s: %s", path, why);
}

static bool width_ok(const pm_cfg_key_t *k)
{
    switch (k->type) {
    case PM_CFG_STRING:
    case PM_CFG_PATH: return k->width == sizeof(char *);
    case PM_CFG_INT:
    case PM_CFG_ENUM: return k->width == 1 || k->width == 2 || k->width == 4 || k->width == 8;
    case PM_CFG_NUMBER:
    case PM_CFG_FRACTION:
    case PM_CFG_DURATION: return k->width == sizeof(double);
    case PM_CFG_BOOL: return k->width == sizeof(bool);
    case PM_CFG_SIZE: return k->width == sizeof(uint64_t);
    case PM_CFG_STRING_LIST:
    case PM_CFG_PATH_LIST: return k->width == sizeof(char **) && k->count_offset != PM_CFG_NONE;
    case PM_CFG_CUSTOM: return k->width == sizeof(void *);
    }
    return false;
}

int pm_cfg_schema_check(const pm_cfg_schema_t *s, pm_error_t *err)
{
    if (s->n_sections == 0 || s->sections[0].name[0] || is_array_section(s, 0))
        return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                            "config schema: sections[0] must be the top level");
    for (unsigned i = 1; i < s->n_sections; i++) {
        if (!s->sections[i].name[0])
            return pm_error_set(err, PM_EINTERNAL, NULL, 0, "config schema: unnamed section");
        for (unsigned j = 1; j < i; j++)
            if (!strcmp(s->sections[i].name, s->sections[j].name))
                return pm_error_set(err, PM_EINTERNAL, NULL, 0, "config schema: section %s twice",
                                    s->sections[i].name);
    }
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        if (k->section >= s->n_sections || !k->name || !k->name[0] || strlen(k->name) > 64)
            return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                                "config schema: row %zu: bad name or section", i);
        const char *allowed[MAX_SECTION_KEYS];
        size_t n = allowed_keys(s, k->section, allowed), same = 0;
        if (n >= MAX_SECTION_KEYS)
            return bad_row(err, s, k, "too many keys in the section");
        for (size_t j = 0; j < n; j++)
            same += !strcmp(allowed[j], k->name);
        if (same != 1)
            return bad_row(err, s, k, "name not unique in its section");
        if (!width_ok(k))
            return bad_row(err, s, k, "field width does not fit the type");
        if (k->format < PM_CFG_FORMAT_1)
            return bad_row(err, s, k, "no format");
        if (!k->doc || !k->example)
            return bad_row(err, s, k, "no description or no example value");
        bool paths = k->type == PM_CFG_PATH || k->type == PM_CFG_PATH_LIST;
        if (paths && (k->flags & PM_CFG_OUTPUT) && !has_raw(k))
            return bad_row(err, s, k, "a path in the canonical form must keep its raw text");
        if (k->type == PM_CFG_PATH && k->def_s && !has_raw(k)) /* pm_cfg_is_default needs it */
            return bad_row(err, s, k, "a path with a default must keep its raw text");
        if (k->type == PM_CFG_ENUM) {
            long long count = enum_count(k);
            if (count < 2 || k->def_i < 0 || k->def_i >= count)
                return bad_row(err, s, k, "enum needs two names and a default among them");
        }
        if (k->type == PM_CFG_INT && !(k->flags & PM_CFG_REQUIRED) &&
            (k->def_i < k->imin || k->def_i > k->imax))
            return bad_row(err, s, k, "default out of bounds");
        if (k->type == PM_CFG_SIZE && (k->flags & PM_CFG_OUTPUT) &&
            (k->ulim == 0 || k->ulim > (uint64_t)INT64_MAX + 1))
            return bad_row(err, s, k, "a size in the canonical form needs a limit <= 2^63");
        if ((k->type == PM_CFG_NUMBER || k->type == PM_CFG_DURATION) && !(k->dmin < k->dmax))
            return bad_row(err, s, k, "bounds dmin < dmax needed (-HUGE_VAL, HUGE_VAL: none)");
        if (k->type == PM_CFG_CUSTOM &&
            (!k->custom || !k->custom->parse || !k->custom->canonical || !k->custom->pack ||
             !k->custom->unpack || !k->custom->free || !k->custom->equal || !k->custom->doc_type))
            return bad_row(err, s, k, "custom row without all its callbacks");
    }
    return 0;
}
