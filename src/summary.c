#include "pilemix/summary.h"

#include "pilemix/table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pm_summary_init(pm_summary_t *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->rows = calloc(n ? n : 1, sizeof *s->rows);
    if (!s->rows)
        return PM_ENOMEM;
    s->n_rows = n;
    return 0;
}

void pm_summary_free(pm_summary_t *s)
{
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* An unsigned integer member, or false. */
static bool get_u64(json_t *o, const char *k, uint64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

static int missing(pm_error_t *err, const char *what, size_t i, const char *key)
{
    return pm_error_set(err, PM_EDATA, "manifest.json", 0,
                        "%s[%zu]: \"%s\" missing or not of the expected type", what, i, key);
}

int pm_summary_from_manifest(pm_summary_t *s, json_t *m, pm_error_t *err)
{
    json_t *comps = json_object_get(m, "components"), *files = json_object_get(m, "files");
    if (!json_is_array(comps) || !json_is_array(files))
        return pm_error_set(err, PM_EDATA, "manifest.json", 0, "no components or files array");
    if (pm_summary_init(s, json_array_size(comps)) < 0)
        return pm_error_nomem(err);
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        pm_summary_row_t *r = &s->rows[i];
        json_t *em = json_object_get(c, "emitted");
        json_t *bad = json_object_get(c, "bad_records");
        r->name = json_string_value(json_object_get(c, "name"));
        if (!r->name)
            return missing(err, "components", i, "name");
        static const char *const keys[] = {"documents", "text_bytes", "empty_documents",
                                           "blank_lines"};
        uint64_t *dst[] = {&r->docs, &r->text_bytes, &r->empty_docs, &r->blank_lines};
        for (size_t k = 0; k < 4; k++)
            if (!get_u64(c, keys[k], dst[k]))
                return missing(err, "components", i, keys[k]);
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
            if (!get_u64(em, pm_split_name(sp), &r->emitted[sp]))
                return missing(err, "components", i, "emitted");
        if (!get_u64(bad, "total", &r->rejected))
            return missing(err, "components", i, "bad_records");
        json_t *ep = json_object_get(c, "epochs"), *re = json_object_get(c, "realized_epochs");
        if (!json_is_number(ep) || !json_is_number(re))
            return missing(err, "components", i, "epochs");
        r->epochs = json_number_value(ep);
        r->realized = json_number_value(re);
        json_t *sa = json_object_get(c, "share_asked"), *sr = json_object_get(c, "share_realized");
        r->share_asked = json_is_number(sa) ? json_number_value(sa) : NAN;
        r->share_realized = json_is_number(sr) ? json_number_value(sr) : NAN;
        s->shares |= json_is_number(sa);
        json_t *fl = json_object_get(c, "filtered");
        if (fl) {
            r->has_filter = true;
            if (!get_u64(fl, "total", &r->filtered))
                return missing(err, "components", i, "filtered");
            json_t *by = json_object_get(fl, "by_reason");
            for (int k = 1; k < PM_FILTER_REASONS; k++)
                get_u64(by, pm_filter_reason_name(k), &r->filtered_by[k]);
        }
        json_t *dd = json_object_get(c, "exact_duplicates");
        if (dd) {
            s->dedup = true;
            if (!get_u64(dd, "total", &r->dedup_dups))
                return missing(err, "components", i, "exact_duplicates");
        }
    }
    get_u64(json_object_get(m, "canaries"), "count", &s->canaries);
    json_array_foreach(files, i, c) {
        const char *split = json_string_value(json_object_get(c, "split"));
        if (split && !strcmp(split, "rejects"))
            continue;
        uint64_t zst, raw;
        if (!get_u64(c, "compressed_bytes", &zst) || !get_u64(c, "uncompressed_bytes", &raw))
            return missing(err, "files", i, "compressed_bytes");
        s->n_files++;
        s->zst_bytes += zst;
        s->raw_bytes += raw;
    }
    return 0;
}

enum {
    COL_NAME,
    COL_DOCS,
    COL_EPOCHS,
    COL_REAL,
    COL_TRAIN,
    COL_VAL,
    COL_TEST,
    COL_TEXT,
    COL_REJ,
    COL_SHARE,
    COL_SHARE_REAL,
    N_COLS
};

/* The optional stages' figures, one line each, only when a stage is used:
 * a summary of a run without them is what it always was. */
static void print_stages(const pm_summary_t *s, FILE *out)
{
    char a[PM_FMT_MAX], b[PM_FMT_MAX];
    for (size_t i = 0; i < s->n_rows; i++) {
        const pm_summary_row_t *r = &s->rows[i];
        if (!r->has_filter)
            continue;
        fprintf(out, "filtered: %s: %s of %s documents", r->name, pm_fmt_count(r->filtered, a),
                pm_fmt_count(r->docs, b));
        const char *sep = " (";
        for (int k = 1; k < PM_FILTER_REASONS; k++)
            if (r->filtered_by[k]) {
                fprintf(out, "%s%s %s", sep, pm_filter_reason_name(k),
                        pm_fmt_count(r->filtered_by[k], a));
                sep = ", ";
            }
        fprintf(out, "%s\n", sep[0] == ',' ? ")" : "");
    }
    if (s->dedup) {
        uint64_t all = 0;
        fprintf(out, "exact duplicates dropped (output.dedup):");
        for (size_t i = 0; i < s->n_rows; i++) {
            all += s->rows[i].dedup_dups;
            fprintf(out, "%s %s %s", i ? "," : "", s->rows[i].name,
                    pm_fmt_count(s->rows[i].dedup_dups, a));
        }
        fprintf(out, "; %s in all\n", pm_fmt_count(all, a));
    }
    if (s->canaries)
        fprintf(out, "canaries: %s documents in train (output.canaries), not in the table\n",
                pm_fmt_count(s->canaries, a));
}

void pm_summary_print(const pm_summary_t *s, FILE *out)
{
    static const char *const head[N_COLS] = {"Component", "documents", "epochs",        "realized",
                                             "train",     "val",       "test",          "text",
                                             "rejected",  "share",     "realized share"};
    pm_align_t align[N_COLS];
    for (size_t k = 0; k < N_COLS; k++)
        align[k] = k == COL_NAME ? PM_ALIGN_LEFT : PM_ALIGN_RIGHT;
    /* Share columns only for a config weighed by shares: an epochs table
     * stays as it always was. */
    size_t n_cols = s->shares ? N_COLS : COL_SHARE;
    pm_table_t t;
    pm_table_init(&t, n_cols, head, align);
    pm_summary_row_t all;
    memset(&all, 0, sizeof all);
    all.name = "Total";
    char cell[N_COLS][PM_FMT_MAX];
    for (size_t i = 0; i <= s->n_rows; i++) {
        const pm_summary_row_t *r = i < s->n_rows ? &s->rows[i] : &all;
        const char *cells[N_COLS];
        for (size_t k = 0; k < N_COLS; k++)
            cells[k] = cell[k];
        cells[COL_NAME] = r->name;
        pm_fmt_count(r->docs, cell[COL_DOCS]);
        pm_fmt_count(r->emitted[PM_SPLIT_TRAIN], cell[COL_TRAIN]);
        pm_fmt_count(r->emitted[PM_SPLIT_VAL], cell[COL_VAL]);
        pm_fmt_count(r->emitted[PM_SPLIT_TEST], cell[COL_TEST]);
        pm_fmt_bytes((double)r->text_bytes, cell[COL_TEXT]);
        pm_fmt_count(r->rejected, cell[COL_REJ]);
        if (i < s->n_rows) {
            if (s->shares)
                snprintf(cell[COL_EPOCHS], PM_FMT_MAX, "%.4f", r->epochs);
            else
                pm_fmt_epochs(r->epochs, cell[COL_EPOCHS]);
            snprintf(cell[COL_REAL], PM_FMT_MAX, "%.4f", r->realized);
            snprintf(cell[COL_SHARE], PM_FMT_MAX, "%.2f%%", 100 * r->share_asked);
            snprintf(cell[COL_SHARE_REAL], PM_FMT_MAX, "%.2f%%", 100 * r->share_realized);
            all.docs += r->docs;
            all.text_bytes += r->text_bytes;
            for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
                all.emitted[sp] += r->emitted[sp];
            all.rejected += r->rejected;
            all.empty_docs += r->empty_docs;
            all.blank_lines += r->blank_lines;
        } else {
            cells[COL_EPOCHS] = cells[COL_REAL] = "";
            snprintf(cell[COL_SHARE], PM_FMT_MAX, "100%%");
            snprintf(cell[COL_SHARE_REAL], PM_FMT_MAX, "100%%");
            pm_table_rule(&t);
        }
        pm_table_add(&t, cells);
    }
    pm_table_print(&t, out);
    pm_table_close(&t);
    char zs[PM_FMT_MAX], rs[PM_FMT_MAX], n[PM_FMT_MAX];
    fprintf(out, "train/val/test: copies written; val/test hold each distinct text once.\n");
    if (s->shares)
        fprintf(out, "share: of the train text bytes (copies counted), asked and realized; epochs "
                     "computed from the census.\n");
    fprintf(out, "%s output files: %s compressed, %s uncompressed", pm_fmt_count(s->n_files, n),
            pm_fmt_bytes((double)s->zst_bytes, zs), pm_fmt_bytes((double)s->raw_bytes, rs));
    if (all.empty_docs || all.blank_lines) {
        char e[PM_FMT_MAX], b[PM_FMT_MAX];
        fprintf(out, "; %s empty texts and %s blank lines skipped", pm_fmt_count(all.empty_docs, e),
                pm_fmt_count(all.blank_lines, b));
    }
    fprintf(out, ".\n");
    print_stages(s, out);
}
