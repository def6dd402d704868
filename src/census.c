/* The census (census.h): counting files as the scatter would, the cache,
 * Table 1 and shares into epochs. */
#include "pilemix/census.h"

#include "pilemix/filter.h"

#include "pilemix/buf.h"
#include "pilemix/config_schema.h"
#include "pilemix/fsutil.h"
#include "pilemix/record.h"
#include "pilemix/source.h"
#include "pilemix/table.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

/* Bump when the counting rules change: every cached entry is then stale. */
#define CENSUS_VERSION "pilemix-census/2" /* 2: filters count */
#define CACHE_MAGIC "pilemix-census 1 "
#define POLL_EVERY_BYTES (1u << 20)

int pm_census_init(pm_census_t *c, size_t n_files)
{
    c->n_files = n_files;
    c->files = calloc(n_files ? n_files : 1, sizeof *c->files);
    return c->files ? 0 : PM_ENOMEM;
}

void pm_census_close(pm_census_t *c)
{
    if (!c)
        return;
    free(c->files);
    c->files = NULL;
    c->n_files = 0;
}

static void hash_str(XXH3_state_t *h, const char *s)
{
    s = s ? s : "";
    XXH3_64bits_update(h, s, strlen(s) + 1);
}

static void hash_u64(XXH3_state_t *h, uint64_t x)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(x >> (8 * i));
    XXH3_64bits_update(h, b, sizeof b);
}

uint64_t pm_census_settings(const pm_config_t *cfg, uint32_t component)
{
    const pm_component_cfg_t *cc = &cfg->components[component];
    XXH3_state_t *h = XXH3_createState();
    if (!h)
        return 0; /* matches no entry: the file is read again */
    XXH3_64bits_reset(h);
    hash_str(h, CENSUS_VERSION);
    hash_str(h, cc->text_key ? cc->text_key : "text");
    hash_str(h, cc->meta_key ? cc->meta_key : "meta");
    hash_u64(h, cc->n_exclude);
    for (size_t i = 0; i < cc->n_exclude; i++)
        hash_str(h, cc->exclude[i]);
    hash_u64(h, cfg->max_record_bytes);
    hash_u64(h, cfg->on_bad_file);
    /* The filter, condition by condition (none: zero conditions). */
    hash_u64(h, cc->filter ? cc->filter->n_conds : 0);
    for (size_t i = 0; cc->filter && i < cc->filter->n_conds; i++) {
        const pm_filter_cond_t *fc = &cc->filter->conds[i];
        hash_str(h, fc->field);
        hash_u64(h, (uint64_t)fc->has_min << 1 | (uint64_t)fc->has_max);
        uint64_t lo, hi;
        memcpy(&lo, &fc->min, sizeof lo);
        memcpy(&hi, &fc->max, sizeof hi);
        hash_u64(h, fc->has_min ? lo : 0);
        hash_u64(h, fc->has_max ? hi : 0);
        hash_u64(h, fc->n_in);
        for (size_t k = 0; k < fc->n_in; k++)
            hash_str(h, fc->in[k]);
        hash_u64(h, (uint64_t)fc->missing);
    }
    /* The split: the seed and the thresholds exactly as the mix uses them. */
    hash_u64(h, cfg->seed);
    hash_u64(h, pm_fraction_to_u64(cfg->val_fraction));
    hash_u64(h, pm_fraction_to_u64(cfg->val_fraction + cfg->test_fraction));
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

/* ---- counting ---------------------------------------------------------- */

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static void keep(pm_census_file_t *o, const pm_mix_t *mix, const char *text, size_t len)
{
    pm_split_t s = pm_mix_split(mix, text, len);
    o->kept_docs++;
    o->text_bytes += len;
    o->split_docs[s]++;
    o->split_text_bytes[s] += len;
}

/* The component's filter first, as the scatter's emit applies it (a text
 * document has no meta: the filter sees none). */
static void keep_if(pm_census_file_t *o, const pm_mix_t *mix, const pm_filter_t *filter,
                    const char *text, size_t len, const char *meta, size_t meta_len)
{
    if (filter && pm_filter_eval(filter, meta ? meta : "", meta ? meta_len : 0) != PM_FILTER_KEEP)
        o->filtered++;
    else
        keep(o, mix, text, len);
}

/* The scatter's rules (scatter.c, process_docs), without emitting. */
static int count_docs(pm_source_t *src, const pm_record_keys_t *keys, const pm_mix_t *mix,
                      const pm_filter_t *filter, pm_census_file_t *o, int (*poll)(void *, uint64_t),
                      void *poll_ctx, bool *file_fault, pm_error_t *err)
{
    pm_record_t rec;
    pm_record_init(&rec);
    pm_doc_t doc;
    size_t since_poll = 0;
    int rc;
    for (;;) {
        rc = pm_source_next(src, &doc, err);
        if (rc <= 0) {
            *file_fault = rc < 0;
            break;
        }
        const pm_line_t *line = &doc.line;
        o->lines++;
        since_poll += line->len + 1;
        if (poll && since_poll >= POLL_EVERY_BYTES) {
            since_poll = 0;
            if ((rc = poll(poll_ctx, pm_source_bytes_in(src))) < 0)
                break;
        }
        const char *data = line->data;
        size_t len = line->len;
        if (line->offset == 0 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3;
            len -= 3;
        }
        if (doc.kind == PM_DOC_JSON && !line->too_long && is_blank(data, len)) {
            o->blank_lines++;
            continue;
        }
        o->docs++;
        if (line->too_long) {
            o->bad_records++;
            continue;
        }
        if (doc.kind == PM_DOC_TEXT) {
            if (pm_utf8_valid_prefix(data, len) < len)
                o->bad_records++;
            else if (len == 0)
                o->empty_docs++;
            else
                keep_if(o, mix, filter, data, len, NULL, 0);
            continue;
        }
        int status = pm_record_parse_keys(&rec, data, len, keys);
        if (status < 0) {
            rc = pm_error_set(err, status, doc.where, line->lineno, "out of memory");
            break;
        }
        if (status != PM_REC_OK)
            o->bad_records++;
        else if (rec.text.len == 0)
            o->empty_docs++;
        else
            keep_if(o, mix, filter, rec.text.data, rec.text.len, rec.meta.data, rec.meta.len);
    }
    pm_record_free(&rec);
    return rc;
}

static int changed(const pm_input_file_t *f, pm_error_t *err)
{
    struct stat st;
    if (stat(f->path, &st) != 0)
        return pm_error_set(err, PM_EIO, f->path, 0, "cannot stat (vanished while counted?)");
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t)st.st_size != f->size || mtime != f->mtime_ns)
        return pm_error_set(err, PM_EDATA, f->path, 0,
                            "file changed since it was planned (size %llu -> %llu bytes%s)",
                            (unsigned long long)f->size, (unsigned long long)st.st_size,
                            mtime != f->mtime_ns ? ", modification time changed" : "");
    return 0;
}

int pm_census_count_file(const pm_config_t *cfg, const pm_mix_t *mix, const pm_plan_t *plan,
                         uint32_t file, pm_census_file_t *out,
                         int (*poll)(void *ctx, uint64_t bytes), void *poll_ctx, pm_error_t *err)
{
    const pm_input_file_t *f = &plan->files[file];
    const pm_component_cfg_t *cc = &cfg->components[f->component];
    memset(out, 0, sizeof *out);
    pm_record_keys_t keys = {
        cc->text_key ? cc->text_key : "text", cc->text_key ? strlen(cc->text_key) : 4,
        cc->meta_key ? cc->meta_key : "meta", cc->meta_key ? strlen(cc->meta_key) : 4};
    pm_source_opts_t so = {(size_t)cfg->max_record_bytes, f->relpath, cc->exclude, cc->n_exclude,
                           true};
    pm_source_t *src = NULL;
    bool fault = true;
    int rc = changed(f, err);
    if (rc == 0)
        rc = pm_source_open(&src, f->path, f->path, f->format, &so, err);
    if (rc == 0)
        rc = count_docs(src, &keys, mix, cc->filter, out, poll, poll_ctx, &fault, err);
    if (rc == 0 && pm_source_bytes_in(src) != f->size) {
        fault = true;
        rc = pm_error_set(err, PM_EDATA, f->path, 0,
                          "file changed while being read (%llu bytes read, %llu planned)",
                          (unsigned long long)pm_source_bytes_in(src), (unsigned long long)f->size);
    }
    if (rc == 0 && (rc = changed(f, err)) < 0)
        fault = true;
    if (rc == 0 && !pm_source_file_hash(src, f->size, &out->xxh3)) {
        /* Read out of order (a zip): hash the bytes in a pass of their own. */
        uint64_t size = 0;
        rc = pm_file_xxh3(f->path, &out->xxh3, &size, err);
        if (rc == 0 && size != f->size)
            rc = pm_error_set(err, PM_EDATA, f->path, 0, "file changed while being read");
    }
    pm_source_close(src);
    if (rc < 0 && fault && rc != PM_ENOMEM && rc != PM_EINTR &&
        cfg->on_bad_file == PM_ON_BAD_SKIP) {
        /* As the scatter does: the whole file is left out, and counted. */
        memset(out, 0, sizeof *out);
        out->bad_file = 1;
        pm_error_clear(err);
        rc = 0;
    }
    if (rc < 0)
        return rc;
    out->valid = 1;
    out->size = f->size;
    out->mtime_ns = (uint64_t)f->mtime_ns;
    out->settings = pm_census_settings(cfg, f->component);
    return 0;
}

void pm_census_from_stats(pm_census_file_t *out, const pm_config_t *cfg, const pm_plan_t *plan,
                          uint32_t file, const pm_task_stats_t *st)
{
    const pm_input_file_t *f = &plan->files[file];
    memset(out, 0, sizeof *out);
    out->valid = 1;
    out->size = f->size;
    out->mtime_ns = (uint64_t)f->mtime_ns;
    out->settings = pm_census_settings(cfg, f->component);
    out->xxh3 = st->file_xxh3;
    out->lines = st->lines;
    out->blank_lines = st->blank_lines;
    out->docs = st->docs;
    out->bad_records = st->rejected_total;
    out->empty_docs = st->empty_docs;
    out->text_bytes = st->text_bytes;
    for (int s = 0; s < PM_SPLIT_COUNT; s++) {
        out->split_docs[s] = st->split_docs[s];
        out->split_text_bytes[s] = st->split_text_bytes[s];
        out->kept_docs += st->split_docs[s];
    }
    out->bad_file = st->skipped_files;
    out->filtered = st->filtered_total;
}

/* ---- the cache --------------------------------------------------------- */

typedef struct field {
    const char *name;
    size_t offset, count; /* count > 1: an array */
} field_t;

#define FIELD(m)                                                                                   \
    {                                                                                              \
#m, offsetof(pm_census_file_t, m), 1                                                       \
    }
#define FIELDS(m)                                                                                  \
    {                                                                                              \
#m, offsetof(pm_census_file_t, m), PM_SPLIT_COUNT                                          \
    }
static const field_t fields[] = {
    FIELD(lines),       FIELD(blank_lines),       FIELD(docs),      FIELD(bad_records),
    FIELD(empty_docs),  FIELD(filtered),          FIELD(kept_docs), FIELD(text_bytes),
    FIELDS(split_docs), FIELDS(split_text_bytes), FIELD(bad_file),
};

static uint64_t *word(pm_census_file_t *e, size_t off) { return (uint64_t *)((char *)e + off); }

char *pm_census_cache_path(const pm_config_t *cfg)
{
    return pm_path_join(cfg->work_dir, "census.json");
}

/* The key's path: absolute where it can be, so the cwd does not matter. */
static char *key_path(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : strdup(path);
}

static json_t *hex64(uint64_t x)
{
    char s[17];
    snprintf(s, sizeof s, "%016" PRIx64, x);
    return json_string(s);
}

static bool parse_hex64(const json_t *j, uint64_t *out)
{
    const char *s = json_string_value(j);
    if (!s || strlen(s) != 16)
        return false;
    char *end;
    *out = strtoull(s, &end, 16);
    return *end == '\0';
}

static bool get_u64(const json_t *o, const char *k, uint64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* The cache's entries by key path (a new reference), or NULL when there is
 * none or it is damaged (warn says which). */
static json_t *cache_read(const pm_config_t *cfg, char *warn, size_t warn_size, int *nomem)
{
    *nomem = 0;
    char *path = pm_census_cache_path(cfg);
    if (!path) {
        *nomem = 1;
        return NULL;
    }
    pm_buf_t b;
    pm_buf_init(&b);
    json_t *files = NULL;
    pm_error_t e;
    if (!pm_path_exists(path) || pm_read_file(path, &b, &e) < 0 || !b.data)
        goto done;
    size_t magic = strlen(CACHE_MAGIC);
    uint64_t want = 0;
    char *nl = b.len > magic + 16 ? memchr(b.data, '\n', b.len) : NULL;
    char hex[17];
    bool ok = nl && (size_t)(nl - b.data) == magic + 16 && !memcmp(b.data, CACHE_MAGIC, magic);
    if (ok) {
        memcpy(hex, b.data + magic, 16);
        hex[16] = '\0';
        json_t *h = json_string(hex);
        ok = h && parse_hex64(h, &want);
        json_decref(h);
    }
    const char *body = nl ? nl + 1 : "";
    size_t body_len = nl ? b.len - (size_t)(body - b.data) : 0;
    if (ok && XXH3_64bits(body, body_len) != want)
        ok = false;
    json_t *doc = ok ? json_loadb(body, body_len, 0, NULL) : NULL;
    files = doc ? json_incref(json_object_get(doc, "files")) : NULL;
    json_decref(doc);
    if (!json_is_object(files)) {
        json_decref(files);
        files = NULL;
        snprintf(warn, warn_size,
                 "%s is damaged (checksum or format): ignored, every file is counted again", path);
    }
done:
    pm_buf_free(&b);
    free(path);
    return files;
}

static bool entry_matches(const json_t *o, const pm_config_t *cfg, const pm_input_file_t *f,
                          uint64_t settings)
{
    uint64_t size, mtime, st;
    const char *comp = json_string_value(json_object_get(o, "component"));
    const char *ident = json_string_value(json_object_get(o, "identity"));
    return comp && ident && !strcmp(comp, cfg->components[f->component].name) &&
           !strcmp(ident, f->relpath) && get_u64(o, "size", &size) && size == f->size &&
           json_is_integer(json_object_get(o, "mtime_ns")) &&
           (mtime = (uint64_t)json_integer_value(json_object_get(o, "mtime_ns"))) ==
               (uint64_t)f->mtime_ns &&
           parse_hex64(json_object_get(o, "settings"), &st) && st == settings;
}

static bool entry_load(const json_t *o, pm_census_file_t *e)
{
    memset(e, 0, sizeof *e);
    if (!parse_hex64(json_object_get(o, "xxh3"), &e->xxh3))
        return false;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const field_t *fd = &fields[i];
        if (fd->count == 1) {
            if (!get_u64(o, fd->name, word(e, fd->offset)))
                return false;
            continue;
        }
        const json_t *a = json_object_get(o, fd->name);
        if (json_array_size(a) != fd->count)
            return false;
        for (size_t k = 0; k < fd->count; k++) {
            const json_t *v = json_array_get(a, k);
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
            word(e, fd->offset)[k] = (uint64_t)json_integer_value(v);
        }
    }
    return true;
}

int pm_census_cache_load(pm_census_t *c, const pm_config_t *cfg, const pm_plan_t *plan,
                         size_t *hits, char *warn, size_t warn_size, pm_error_t *err)
{
    *hits = 0;
    if (warn_size)
        warn[0] = '\0';
    int nomem;
    json_t *files = cache_read(cfg, warn, warn_size, &nomem);
    if (nomem)
        return pm_error_nomem(err);
    if (!files)
        return 0;
    uint64_t *settings = calloc(cfg->n_components + 1, sizeof *settings);
    if (!settings) {
        json_decref(files);
        return pm_error_nomem(err);
    }
    for (size_t k = 0; k < cfg->n_components; k++)
        settings[k] = pm_census_settings(cfg, (uint32_t)k);
    for (size_t i = 0; i < plan->n_files && i < c->n_files; i++) {
        const pm_input_file_t *f = &plan->files[i];
        char *kp = key_path(f->path);
        if (!kp) {
            free(settings);
            json_decref(files);
            return pm_error_nomem(err);
        }
        const json_t *o = json_object_get(files, kp);
        free(kp);
        pm_census_file_t e;
        if (!o || !entry_matches(o, cfg, f, settings[f->component]) || !entry_load(o, &e))
            continue;
        e.valid = 1;
        e.size = f->size;
        e.mtime_ns = (uint64_t)f->mtime_ns;
        e.settings = settings[f->component];
        c->files[i] = e;
        (*hits)++;
    }
    free(settings);
    json_decref(files);
    return 0;
}

static json_t *entry_json(const pm_config_t *cfg, const pm_input_file_t *f,
                          const pm_census_file_t *e)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "component", cfg->components[f->component].name,
                  "identity", f->relpath, "size", (json_int_t)f->size, "mtime_ns",
                  (json_int_t)f->mtime_ns, "settings", hex64(e->settings), "xxh3", hex64(e->xxh3));
    for (size_t i = 0; o && i < sizeof fields / sizeof *fields; i++) {
        const field_t *fd = &fields[i];
        const uint64_t *w = (const uint64_t *)((const char *)e + fd->offset);
        json_t *v;
        if (fd->count == 1) {
            v = json_integer((json_int_t)w[0]);
        } else {
            v = json_array();
            for (size_t k = 0; v && k < fd->count; k++)
                json_array_append_new(v, json_integer((json_int_t)w[k]));
        }
        if (!v || json_object_set_new(o, fd->name, v) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

int pm_census_cache_save(const pm_census_t *c, const pm_config_t *cfg, const pm_plan_t *plan,
                         pm_error_t *err)
{
    char warn[8];
    int nomem;
    json_t *files = cache_read(cfg, warn, sizeof warn, &nomem);
    if (nomem)
        return pm_error_nomem(err);
    if (!files && !(files = json_object()))
        return pm_error_nomem(err);
    int rc = 0;
    for (size_t i = 0; i < plan->n_files && i < c->n_files && rc == 0; i++) {
        if (!c->files[i].valid)
            continue;
        char *kp = key_path(plan->files[i].path);
        json_t *o = kp ? entry_json(cfg, &plan->files[i], &c->files[i]) : NULL;
        if (!o || json_object_set_new(files, kp, o) < 0)
            rc = pm_error_nomem(err);
        free(kp);
    }
    json_t *doc = rc == 0 ? json_pack("{s:i, s:O}", "format", 1, "files", files) : NULL;
    char *body = doc ? json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
    char *path = pm_census_cache_path(cfg);
    pm_buf_t b;
    pm_buf_init(&b);
    if (rc == 0 && (!doc || !body || !path ||
                    pm_buf_printf(&b, "%s%016" PRIx64 "\n%s", CACHE_MAGIC,
                                  XXH3_64bits(body, strlen(body)), body) < 0))
        rc = pm_error_nomem(err);
    if (rc == 0)
        rc = pm_mkdir_p(cfg->work_dir, err);
    if (rc == 0)
        rc = pm_write_file_atomic(path, b.data, b.len, err);
    pm_buf_free(&b);
    free(path);
    free(body);
    json_decref(doc);
    json_decref(files);
    return rc;
}

/* ---- components, shares, Table 1 --------------------------------------- */

void pm_census_components(const pm_census_t *c, const pm_plan_t *plan, size_t n_components,
                          pm_census_file_t *comp)
{
    memset(comp, 0, n_components * sizeof *comp);
    for (size_t i = 0; i < plan->n_files && i < c->n_files; i++) {
        const pm_census_file_t *e = &c->files[i];
        uint32_t k = plan->files[i].component;
        if (k >= n_components)
            continue;
        pm_census_file_t *t = &comp[k];
        t->valid++; /* files */
        t->size += plan->files[i].size;
        for (size_t w = 0; w < sizeof fields / sizeof *fields; w++)
            for (size_t j = 0; j < fields[w].count; j++)
                word(t, fields[w].offset)[j] +=
                    ((const uint64_t *)((const char *)e + fields[w].offset))[j];
    }
}

int pm_shares_solve(const pm_config_t *cfg, const pm_census_file_t *comp, double *epochs,
                    double *total, pm_error_t *err)
{
    size_t nc = cfg->n_components;
    *total = 0;
    if (!pm_config_has_shares(cfg)) {
        for (size_t c = 0; c < nc; c++) {
            epochs[c] = cfg->components[c].epochs;
            *total += epochs[c] * (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN];
        }
        return 0;
    }
    for (size_t c = 0; c < nc; c++)
        if (comp[c].split_text_bytes[PM_SPLIT_TRAIN] == 0)
            return pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                "components[%zu].share: \"%s\" has no train text (%llu documents "
                                "kept), so no number of epochs gives it a share",
                                c, cfg->components[c].name, (unsigned long long)comp[c].kept_docs);
    double t;
    if (cfg->train_bytes) {
        t = (double)cfg->train_bytes;
    } else {
        /* The largest total within every max_epochs: the tightest component. */
        t = HUGE_VAL;
        for (size_t c = 0; c < nc; c++) {
            const pm_component_cfg_t *cc = &cfg->components[c];
            double tc =
                cc->max_epochs * (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN] / cc->share;
            t = tc < t ? tc : t;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        const pm_component_cfg_t *cc = &cfg->components[c];
        double train = (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN];
        double e = cc->share * t / train;
        /* The tightest component's epochs come out as max_epochs up to rounding. */
        if (!cfg->train_bytes && e > cc->max_epochs && e <= cc->max_epochs * (1 + 1e-12))
            e = cc->max_epochs;
        if (e > cc->max_epochs || e > PM_MAX_EPOCHS) {
            char need[32], tb[PM_FMT_MAX], cb[PM_FMT_MAX], sh[40], mx[40];
            snprintf(need, sizeof need, "%.4g", e);
            pm_cfg_fmt_double(sh, sizeof sh, cc->share);
            pm_cfg_fmt_double(mx, sizeof mx, cc->max_epochs);
            return pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                                "components[%zu].share: \"%s\" would need %s epochs (share %s of "
                                "%s of train text, from its %s) but max_epochs is %s: raise "
                                "max_epochs, lower the share or output.train_bytes",
                                c, cc->name, need, sh, pm_fmt_bytes(t, tb), pm_fmt_bytes(train, cb),
                                mx);
        }
        epochs[c] = e;
    }
    *total = t;
    return 0;
}

typedef struct row {
    uint64_t docs, text, files;
    double effective;
} row_t;

void pm_census_print_table(const pm_config_t *cfg, const pm_census_file_t *comp,
                           const double *epochs, FILE *out)
{
    size_t nc = cfg->n_components;
    bool shares = pm_config_has_shares(cfg);
    double total_eff = 0, total_train = 0;
    uint64_t docs = 0, text = 0, bad = 0, blank = 0, empty = 0, held = 0, bad_files = 0;
    for (size_t c = 0; c < nc; c++) {
        total_eff += (double)comp[c].text_bytes * epochs[c];
        total_train += (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN] * epochs[c];
        docs += comp[c].kept_docs;
        text += comp[c].text_bytes;
        bad += comp[c].bad_records;
        blank += comp[c].blank_lines;
        empty += comp[c].empty_docs;
        held += comp[c].split_docs[PM_SPLIT_VAL] + comp[c].split_docs[PM_SPLIT_TEST];
        bad_files += comp[c].bad_file;
    }
    fprintf(out, "config \"%s\"  seed %" PRIu64 "  hash %016" PRIx64 "\n", cfg->name, cfg->seed,
            cfg->canonical_hash);
    enum { NAME, DOCS, SIZE, MEAN, EPOCHS, EFF, MIX, TRAIN, ASKED, NCOL };
    static const char *const head[NCOL] = {"Component",     "Documents",   "Size",
                                           "Mean document", "Epochs",      "Effective size",
                                           "Mix %",         "Train share", "Share asked"};
    pm_align_t align[NCOL];
    for (size_t k = 0; k < NCOL; k++)
        align[k] = k == NAME ? PM_ALIGN_LEFT : PM_ALIGN_RIGHT;
    pm_table_t t;
    pm_table_init(&t, shares ? NCOL : ASKED, head, align);
    for (size_t c = 0; c <= nc; c++) {
        bool tot = c == nc;
        uint64_t d = tot ? docs : comp[c].kept_docs, x = tot ? text : comp[c].text_bytes;
        double eff = tot ? total_eff : (double)x * epochs[c];
        double train =
            tot ? total_train : (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN] * epochs[c];
        char cell[NCOL][PM_FMT_MAX + 8];
        const char *cells[NCOL];
        for (size_t k = 0; k < NCOL; k++)
            cells[k] = cell[k];
        cells[NAME] = tot ? "Total" : cfg->components[c].name;
        pm_fmt_count(d, cell[DOCS]);
        pm_fmt_bytes((double)x, cell[SIZE]);
        if (d)
            pm_fmt_bytes((double)x / (double)d, cell[MEAN]);
        else
            snprintf(cell[MEAN], sizeof cell[MEAN], "-");
        if (tot)
            cell[EPOCHS][0] = '\0';
        else if (shares)
            snprintf(cell[EPOCHS], sizeof cell[EPOCHS], "%.4f", epochs[c]);
        else
            pm_fmt_epochs(epochs[c], cell[EPOCHS]);
        pm_fmt_bytes(eff, cell[EFF]);
        snprintf(cell[MIX], sizeof cell[MIX], total_eff > 0 ? "%.2f%%" : "-",
                 total_eff > 0 ? 100.0 * eff / total_eff : 0.0);
        snprintf(cell[TRAIN], sizeof cell[TRAIN], total_train > 0 ? "%.2f%%" : "-",
                 total_train > 0 ? 100.0 * train / total_train : 0.0);
        snprintf(cell[ASKED], sizeof cell[ASKED], "%.2f%%",
                 tot ? 100.0 : 100.0 * cfg->components[c].share);
        if (tot)
            pm_table_rule(&t);
        pm_table_add(&t, cells);
    }
    pm_table_print(&t, out);
    pm_table_close(&t);
    char a[PM_FMT_MAX], b[PM_FMT_MAX], e[PM_FMT_MAX], f[PM_FMT_MAX];
    fprintf(out,
            "\nSize: UTF-8 bytes of the texts, as the Pile paper's Table 1 counts them (not bytes "
            "on disk).\nEffective size = size x epochs; Mix %% = its share of the total, as in "
            "the paper.\nTrain share: of the train split's text with epochs (val/test texts "
            "held out), what\nthe run writes to train and what shares ask for.\n");
    if (shares && cfg->train_bytes)
        fprintf(out,
                "Epochs from the shares: share x %s (output.train_bytes) / the component's "
                "train text.\n",
                pm_fmt_bytes((double)cfg->train_bytes, a));
    else if (shares)
        fprintf(out, "Epochs from the shares: the largest train total within every max_epochs, "
                     "x share / the component's train text.\n");
    fprintf(out,
            "Left out: %s blank lines, %s empty texts, %s bad records, %" PRIu64
            " bad files; held out for val/test: %s documents.\n",
            pm_fmt_count(blank, a), pm_fmt_count(empty, b), pm_fmt_count(bad, e), bad_files,
            pm_fmt_count(held, f));
    /* What each filter keeps (components[].filter): the table counts what
     * passes it. */
    for (size_t c = 0; c < cfg->n_components; c++)
        if (cfg->components[c].filter)
            fprintf(out, "Filter of %s: keeps %s of %s documents (%s left out).\n",
                    cfg->components[c].name, pm_fmt_count(comp[c].kept_docs, a),
                    pm_fmt_count(comp[c].kept_docs + comp[c].filtered, b),
                    pm_fmt_count(comp[c].filtered, e));
}

json_t *pm_census_table_json(const pm_config_t *cfg, const pm_census_file_t *comp,
                             const double *epochs, double total)
{
    size_t nc = cfg->n_components;
    double total_eff = 0, total_train = 0;
    for (size_t c = 0; c < nc; c++) {
        total_eff += (double)comp[c].text_bytes * epochs[c];
        total_train += (double)comp[c].split_text_bytes[PM_SPLIT_TRAIN] * epochs[c];
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, cfg->canonical_hash);
    json_t *arr = json_array();
    json_t *root = json_pack("{s:s, s:s, s:f, s:f}", "config", cfg->name, "config_hash", hash,
                             "effective_bytes", total_eff, "train_effective_bytes", total);
    if (!arr || !root) {
        json_decref(arr);
        json_decref(root);
        return NULL;
    }
    uint64_t sum[6] = {0};
    for (size_t c = 0; c < nc; c++) {
        const pm_census_file_t *k = &comp[c];
        double eff = (double)k->text_bytes * epochs[c];
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I}", "name",
            cfg->components[c].name, "files", (json_int_t)k->valid, "bytes_on_disk",
            (json_int_t)k->size, "documents", (json_int_t)k->kept_docs, "text_bytes",
            (json_int_t)k->text_bytes, "train_text_bytes",
            (json_int_t)k->split_text_bytes[PM_SPLIT_TRAIN], "mean_document_bytes",
            k->kept_docs ? (double)k->text_bytes / (double)k->kept_docs : 0.0, "epochs", epochs[c],
            "effective_bytes", eff, "share", total_eff > 0 ? eff / total_eff : 0.0, "blank_lines",
            (json_int_t)k->blank_lines, "empty_documents", (json_int_t)k->empty_docs, "bad_records",
            (json_int_t)k->bad_records, "bad_files", (json_int_t)k->bad_file);
        double tr = (double)k->split_text_bytes[PM_SPLIT_TRAIN] * epochs[c];
        if (o)
            json_object_set_new(o, "train_share",
                                json_real(total_train > 0 ? tr / total_train : 0));
        if (o && pm_config_has_shares(cfg))
            json_object_set_new(o, "share_asked", json_real(cfg->components[c].share));
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            json_decref(root);
            return NULL;
        }
        sum[0] += k->kept_docs;
        sum[1] += k->text_bytes;
        sum[2] += k->split_text_bytes[PM_SPLIT_TRAIN];
        sum[3] += k->valid;
        sum[4] += k->size;
    }
    json_object_set_new(root, "components", arr);
    json_object_set_new(root, "totals",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "files", (json_int_t)sum[3],
                                  "bytes_on_disk", (json_int_t)sum[4], "documents",
                                  (json_int_t)sum[0], "text_bytes", (json_int_t)sum[1],
                                  "train_text_bytes", (json_int_t)sum[2]));
    return root;
}
