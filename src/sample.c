#include "pilemix/sample.h"

#include "pilemix/manifest.h"
#include "pilemix/reader.h"
#include "pilemix/record.h"
#include "pilemix/table.h"
#include "pilemix/width.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* One chosen document, kept in display form only (bounded by the width). */
typedef struct cand {
    uint64_t key;
    uint32_t file; /* index in the manifest's files */
    uint64_t lineno;
    uint64_t text_bytes;
    char *component, *meta, *text;
} cand_t;

/* The sample order: key, then file, then line. */
static bool before(const cand_t *a, const cand_t *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    if (a->file != b->file)
        return a->file < b->file;
    return a->lineno < b->lineno;
}

/* A max-heap on the sample order: the root is the candidate to beat. */
typedef struct heap {
    cand_t *v;
    size_t n, cap;
} heap_t;

static void cand_free(cand_t *c)
{
    free(c->component);
    free(c->meta);
    free(c->text);
}

static void sift_down(heap_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(&h->v[m], &h->v[l]))
            m = l;
        if (r < h->n && before(&h->v[m], &h->v[r]))
            m = r;
        if (m == i)
            return;
        cand_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

static void sift_up(heap_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&h->v[p], &h->v[i]))
            return;
        cand_t t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
}

/* Would c enter the sample? */
static bool wanted(const heap_t *h, const cand_t *c)
{
    return h->n < h->cap || before(c, &h->v[0]);
}

/* Add c (owned by the heap from here), dropping the root when full. */
static void heap_add(heap_t *h, cand_t *c)
{
    if (h->n < h->cap) {
        h->v[h->n] = *c;
        sift_up(h, h->n++);
    } else {
        cand_free(&h->v[0]);
        h->v[0] = *c;
        sift_down(h, 0);
    }
}

static int by_order(const void *a, const void *b)
{
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

int pm_sample_oneline(pm_buf_t *b, const char *s, size_t n, size_t width)
{
    pm_buf_t line;
    pm_buf_init(&line);
    size_t w = 0;
    int rc = 0;
    /* Stop one character past the width: enough to know it must be cut. */
    for (size_t i = 0; i < n && (width == 0 || w <= width) && rc == 0;) {
        uint32_t cp;
        size_t len = pm_utf8_next(s + i, n - i, &cp);
        const char *rep = NULL;
        if (cp == '\n')
            rep = "\xE2\x8F\x8E"; /* U+23CE RETURN SYMBOL */
        else if (cp == '\t')
            rep = "\xE2\x90\x89"; /* U+2409 SYMBOL FOR HORIZONTAL TABULATION */
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFD)
            rep = "\xEF\xBF\xBD"; /* U+FFFD: a control character or broken byte */
        if (rep) {
            rc = pm_buf_append_str(&line, rep);
            w += 1;
        } else {
            rc = pm_buf_append(&line, s + i, len);
            w += (size_t)pm_width_cp(cp);
        }
        i += len;
    }
    if (rc == 0)
        rc = pm_width_fit(b, line.data ? line.data : "", line.len, width);
    pm_buf_free(&line);
    return rc < 0 ? PM_ENOMEM : 0;
}

static char *oneline_dup(const char *s, size_t n, size_t width)
{
    pm_buf_t b;
    pm_buf_init(&b);
    if (pm_sample_oneline(&b, s, n, width) < 0) {
        pm_buf_free(&b);
        return NULL;
    }
    return b.data ? b.data : strdup("");
}

/* Parse a candidate line into c's display strings; *match is false when
 * its component is not the one asked for. The text and meta come from the
 * project's parser (meta numbers as written, whatever their size); the
 * component from jansson. */
static int make_cand(const pm_sample_opts_t *o, const char *file, const pm_line_t *line,
                     pm_record_t *rec, cand_t *c, bool *match, pm_error_t *err)
{
    *match = false;
    json_error_t je;
    json_t *j = json_loadb(line->data, line->len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    const char *comp =
        json_string_value(json_object_get(json_object_get(j, "meta"), "pile_set_name"));
    int st = comp ? pm_record_parse(rec, line->data, line->len) : PM_REC_BAD_JSON;
    if (st < 0) {
        json_decref(j);
        return pm_error_nomem(err);
    }
    if (st != PM_REC_OK) {
        pm_error_set(err, PM_EDATA, file, line->lineno,
                     "not a pilemix output line (%s; pilemix verify checks every line)",
                     !j      ? je.text
                     : !comp ? "no meta.pile_set_name"
                             : pm_record_status_name(st));
        json_decref(j);
        return PM_EDATA;
    }
    if (o->component && strcmp(comp, o->component)) {
        json_decref(j);
        return 0;
    }
    *match = true;
    pm_buf_t meta;
    pm_buf_init(&meta);
    int rc = pm_buf_append_str(&meta, "{\"pile_set_name\": ");
    rc = rc ? rc : pm_json_escape(&meta, comp, strlen(comp));
    if (rc == 0 && rec->meta.len)
        rc = pm_buf_printf(&meta, ", %.*s", (int)rec->meta.len, rec->meta.data);
    rc = rc ? rc : pm_buf_append_char(&meta, '}');
    c->text_bytes = rec->text.len;
    c->component = strdup(comp);
    c->meta = rc == 0 ? oneline_dup(meta.data, meta.len, o->width) : NULL;
    c->text = oneline_dup(rec->text.data ? rec->text.data : "", rec->text.len, o->width);
    pm_buf_free(&meta);
    json_decref(j);
    if (!c->component || !c->meta || !c->text) {
        cand_free(c);
        return pm_error_nomem(err);
    }
    return 0;
}

/* Is a line with this key in the sample already? Equal lines (the copies
 * of a train document) have equal keys: the sample holds each once. */
static bool has_key(const heap_t *h, uint64_t key)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].key == key)
            return true;
    return false;
}

/* Stream one output file through the heap. */
static int scan_file(const pm_sample_opts_t *o, const char *rel, uint32_t file_index,
                     const pm_buf_t *pattern, pm_record_t *rec, heap_t *h, pm_error_t *err)
{
    pm_buf_t path;
    pm_buf_init(&path);
    if (pm_buf_printf(&path, "%s/%s", o->outdir, rel) < 0)
        return pm_error_nomem(err);
    pm_reader_t *r = NULL;
    int rc = pm_reader_open(&r, path.data, path.data, PM_FORMAT_JSONL_ZST, 0, err);
    pm_line_t line;
    while (rc == 0 && (rc = pm_reader_next(r, &line, err)) == 1) {
        rc = 0;
        cand_t c = {XXH3_64bits_withSeed(line.data, line.len, o->seed),
                    file_index,
                    line.lineno,
                    0,
                    NULL,
                    NULL,
                    NULL};
        if (!wanted(h, &c) || has_key(h, c.key))
            continue;
        /* Cheap pre-filter: a line of component X holds X's name as a JSON
         * string, written by pilemix as pm_json_escape writes it. */
        if (pattern->len && !memmem(line.data, line.len, pattern->data, pattern->len))
            continue;
        bool match;
        rc = make_cand(o, path.data, &line, rec, &c, &match, err);
        if (rc == 0 && match)
            heap_add(h, &c);
    }
    pm_reader_close(r);
    pm_buf_free(&path);
    return rc < 0 ? rc : 0;
}

/* Is name one of the manifest components? If not, say which there are. */
static int check_component(json_t *comps, const char *name, pm_error_t *err)
{
    size_t i;
    json_t *c;
    pm_buf_t list;
    pm_buf_init(&list);
    json_array_foreach(comps, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && !strcmp(n, name)) {
            pm_buf_free(&list);
            return 0;
        }
        pm_buf_printf(&list, "%s\"%s\"", i ? ", " : "", n ? n : "?");
    }
    pm_error_set(err, PM_EUSAGE, NULL, 0, "--component: no component \"%s\" in this dataset (%s)",
                 name, list.data ? list.data : "none");
    pm_buf_free(&list);
    return PM_EUSAGE;
}

/* Documents the filters select, from the manifest's counts. */
static uint64_t selected_docs(json_t *m, const pm_sample_opts_t *o)
{
    uint64_t n = 0;
    size_t i;
    json_t *c;
    static const char *const splits[] = {"train", "val", "test"};
    json_array_foreach(json_object_get(m, "components"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (o->component && (!name || strcmp(name, o->component)))
            continue;
        for (size_t s = 0; s < 3; s++)
            if (!o->split || !strcmp(o->split, splits[s]))
                n += (uint64_t)json_integer_value(
                    json_object_get(json_object_get(c, "emitted"), splits[s]));
    }
    return n;
}

int pm_sample_print(const pm_sample_opts_t *o, FILE *out, pm_error_t *err)
{
    if (o->split && strcmp(o->split, "train") && strcmp(o->split, "val") &&
        strcmp(o->split, "test"))
        return pm_error_set(err, PM_EUSAGE, NULL, 0,
                            "--split: \"%s\" is not a split (train, val or test)", o->split);
    if (o->n == 0)
        return pm_error_set(err, PM_EUSAGE, NULL, 0, "-n: at least 1 document");
    json_t *m = pm_manifest_load(o->outdir, err);
    if (!m)
        return PM_EDATA;
    heap_t h = {NULL, 0, 0};
    pm_buf_t pattern;
    pm_buf_init(&pattern);
    pm_record_t rec;
    pm_record_init(&rec);
    int rc = 0;
    if (o->component &&
        (rc = check_component(json_object_get(m, "components"), o->component, err)) < 0)
        goto done;
    if (o->component && pm_json_escape(&pattern, o->component, strlen(o->component)) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    /* n is the user's: hold at most what the dataset can fill. */
    uint64_t avail = selected_docs(m, o);
    h.cap = (size_t)(o->n < avail ? o->n : avail);
    h.v = calloc(h.cap ? h.cap : 1, sizeof *h.v);
    if (!h.v) {
        rc = pm_error_nomem(err);
        goto done;
    }
    json_t *files = json_object_get(m, "files");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *rel = json_string_value(json_object_get(f, "path"));
        const char *split = json_string_value(json_object_get(f, "split"));
        if (!rel || !split || !strcmp(split, "rejects") || (o->split && strcmp(split, o->split)))
            continue;
        if (h.cap && (rc = scan_file(o, rel, (uint32_t)i, &pattern, &rec, &h, err)) < 0)
            goto done;
    }
    qsort(h.v, h.n, sizeof *h.v, by_order);
    char a[PM_FMT_MAX], b[PM_FMT_MAX];
    fprintf(out, "%s distinct documents from %s lines", pm_fmt_count(h.n, a),
            pm_fmt_count(avail, b));
    if (o->component || o->split)
        fprintf(out, " of %s%s%s", o->component ? o->component : "",
                o->component && o->split ? ", " : "", o->split ? o->split : "");
    fprintf(out, " (seed %llu)\n", (unsigned long long)o->seed);
    for (size_t k = 0; k < h.n; k++) {
        const cand_t *c = &h.v[k];
        const char *rel =
            json_string_value(json_object_get(json_array_get(files, c->file), "path"));
        fprintf(out, "\n[%zu] %s  %s:%llu  %s bytes of text\n", k + 1, c->component, rel,
                (unsigned long long)c->lineno, pm_fmt_count(c->text_bytes, a));
        fprintf(out, "    meta: %s\n    text: %s\n", c->meta, c->text);
    }
    if (h.n < o->n)
        fprintf(out, "\n(only %s distinct documents match)\n", pm_fmt_count(h.n, a));
    if (fflush(out) != 0 || ferror(out))
        rc = pm_error_set(err, PM_EIO, "stdout", 0, "cannot write the sample");
done:
    for (size_t k = 0; k < h.n; k++)
        cand_free(&h.v[k]);
    free(h.v);
    pm_buf_free(&pattern);
    pm_record_free(&rec);
    json_decref(m);
    return rc;
}
