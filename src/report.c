#include "pilemix/report.h"

#include "pilemix/fsutil.h"
#include "pilemix/job.h"
#include "pilemix/manifest.h"
#include "pilemix/svg.h"
#include "pilemix/table.h"
#include "pilemix/width.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_COLORS 10
#define CHART_W 960.0
#define FONT_COL 7.0  /* SVG user units per display column at the 12px font */
#define NAME_COLS 30u /* names longer than this are cut (with "…") in charts */

/* ---- the manifest, as the page needs it ---- */

typedef struct comp {
    const char *name;
    double epochs, realized;
    double share_asked; /* a "share" component's asked share (0..1), or NAN */
    uint64_t docs, text_bytes, blank, empty, rejected, skipped_files, sampled_out;
    uint64_t split_docs[PM_SPLIT_COUNT];
    uint64_t split_bytes[PM_SPLIT_COUNT];
    uint64_t emitted[PM_SPLIT_COUNT], dups[PM_SPLIT_COUNT];
    uint64_t train_copy_bytes, input_bytes, input_files;
    uint64_t hist[PM_LEN_BUCKETS];
    bool have_split_bytes, have_hist;
    json_t *by_reason; /* borrowed: bad records by reason */
    json_t *inputs;    /* borrowed: input_files */
    json_t *comp;      /* borrowed: the whole entry, for optional members */
} comp_t;

typedef struct file {
    const char *path, *split;
    uint64_t docs, text_bytes, raw_bytes, zst_bytes;
} file_t;

typedef struct report {
    json_t *m;
    const char *source;
    comp_t *comps;
    size_t nc;
    file_t *files;
    size_t nf;
    pm_markup_t *out;
    pm_buf_t tip; /* the last tooltip text (tipf) */
} report_t;

static uint64_t ju(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static const char *js(json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static int load(report_t *r, pm_error_t *err)
{
    json_t *comps = json_object_get(r->m, "components"), *files = json_object_get(r->m, "files");
    if (!json_is_array(comps) || !json_is_array(files))
        return pm_error_set(err, PM_EDATA, "manifest.json", 0,
                            "not a pilemix manifest (no components or files)");
    r->nc = json_array_size(comps);
    r->nf = json_array_size(files);
    r->comps = calloc(r->nc ? r->nc : 1, sizeof *r->comps);
    r->files = calloc(r->nf ? r->nf : 1, sizeof *r->files);
    if (!r->comps || !r->files)
        return pm_error_nomem(err);
    for (size_t i = 0; i < r->nc; i++) {
        json_t *o = json_array_get(comps, i);
        comp_t *c = &r->comps[i];
        c->comp = o;
        c->name = js(o, "name", NULL);
        if (!c->name)
            return pm_error_set(err, PM_EDATA, "manifest.json", 0, "components[%zu] has no name",
                                i);
        c->epochs = json_number_value(json_object_get(o, "epochs"));
        c->realized = json_number_value(json_object_get(o, "realized_epochs"));
        json_t *sa = json_object_get(o, "share_asked");
        c->share_asked = json_is_number(sa) ? json_number_value(sa) : NAN;
        c->docs = ju(o, "documents");
        c->text_bytes = ju(o, "text_bytes");
        c->blank = ju(o, "blank_lines");
        c->empty = ju(o, "empty_documents");
        c->rejected = ju(json_object_get(o, "bad_records"), "total");
        c->by_reason = json_object_get(json_object_get(o, "bad_records"), "by_reason");
        c->skipped_files = ju(o, "skipped_files");
        c->sampled_out = ju(o, "train_documents_sampled_out");
        c->train_copy_bytes = ju(o, "emitted_text_bytes_train");
        c->input_bytes = ju(o, "input_bytes");
        c->inputs = json_object_get(o, "input_files");
        c->input_files = json_array_size(c->inputs);
        json_t *sb = json_object_get(o, "split_text_bytes");
        json_t *hist = json_object_get(o, "doc_length_log2");
        c->have_split_bytes = json_is_object(sb);
        c->have_hist = json_is_object(hist);
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
            const char *sn = pm_split_name(sp);
            char key[32];
            snprintf(key, sizeof key, "%s_documents", sn);
            c->split_docs[sp] = ju(o, key);
            c->split_bytes[sp] = ju(sb, sn);
            c->emitted[sp] = ju(json_object_get(o, "emitted"), sn);
            c->dups[sp] = ju(json_object_get(o, "holdout_duplicates"), sn);
            json_t *a = json_object_get(hist, sn);
            for (size_t k = 0; k < json_array_size(a) && k < PM_LEN_BUCKETS; k++) {
                json_t *v = json_array_get(a, k);
                if (json_is_integer(v) && json_integer_value(v) > 0)
                    c->hist[k] += (uint64_t)json_integer_value(v);
            }
        }
    }
    for (size_t i = 0; i < r->nf; i++) {
        json_t *o = json_array_get(files, i);
        file_t *f = &r->files[i];
        f->path = js(o, "path", "?");
        f->split = js(o, "split", "?");
        f->docs = ju(o, "documents");
        f->text_bytes = ju(o, "text_bytes");
        f->raw_bytes = ju(o, "uncompressed_bytes");
        f->zst_bytes = ju(o, "compressed_bytes");
    }
    return 0;
}

/* ---- small formatting helpers ---- */

/* A tooltip: formatted into r->tip, valid until the next call (never cut,
 * so never a broken UTF-8 sequence). */
static const char *tipf(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *tipf(report_t *r, const char *fmt, ...)
{
    pm_buf_reset(&r->tip);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pm_buf_reserve(&r->tip, (size_t)n) < 0) {
        r->out->err = PM_ENOMEM;
        return "";
    }
    va_start(ap, fmt);
    vsnprintf(r->tip.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->tip.len = (size_t)n;
    return r->tip.data;
}

static const char *color(size_t i)
{
    static const char *const cls[N_COLORS] = {"c0", "c1", "c2", "c3", "c4",
                                              "c5", "c6", "c7", "c8", "c9"};
    return cls[i % N_COLORS];
}

/* A name for a chart label: cut to NAME_COLS columns. */
static const char *short_name(const char *name, char *out, size_t size)
{
    pm_buf_t b;
    pm_buf_init(&b);
    if (pm_width_fit(&b, name, strlen(name), NAME_COLS) < 0 || !b.data)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "%s", b.data);
    pm_buf_free(&b);
    return out;
}

static const char *pct(double frac, char *out)
{
    double p = 100 * frac;
    snprintf(out, PM_FMT_MAX,
             p == 0    ? "0%%"
             : p < 0.1 ? "<0.1%%"
             : p < 10  ? "%.2f%%"
                       : "%.1f%%",
             p);
    return out;
}

static void td_num(pm_markup_t *m, const char *s)
{
    pm_mk_raw(m, "<td class=\"n\">");
    pm_mk_text(m, s);
    pm_mk_raw(m, "</td>");
}

static void td_count(pm_markup_t *m, uint64_t n)
{
    char b[PM_FMT_MAX];
    td_num(m, pm_fmt_count(n, b));
}

static void td_bytes(pm_markup_t *m, uint64_t n)
{
    char b[PM_FMT_MAX];
    td_num(m, pm_fmt_bytes((double)n, b));
}

static void td_name(pm_markup_t *m, size_t i, const char *name)
{
    pm_mk_printf(m, "<td><span class=\"sw %s\"></span>", color(i));
    pm_mk_text(m, name);
    pm_mk_raw(m, "</td>");
}

static void th_row(pm_markup_t *m, const char *const *heads, size_t n, size_t first_num)
{
    pm_mk_raw(m, "<tr>");
    for (size_t k = 0; k < n; k++) {
        pm_mk_raw(m, k >= first_num ? "<th class=\"n\">" : "<th>");
        pm_mk_text(m, heads[k]);
        pm_mk_raw(m, "</th>");
    }
    pm_mk_raw(m, "</tr>\n");
}

static void legend(report_t *r)
{
    pm_mk_raw(r->out, "<div class=\"legend\">");
    for (size_t i = 0; i < r->nc; i++) {
        pm_mk_printf(r->out, "<span><span class=\"sw %s\"></span>", color(i));
        pm_mk_text(r->out, r->comps[i].name);
        pm_mk_raw(r->out, "</span>");
    }
    pm_mk_raw(r->out, "</div>\n");
}

/* Label column width (SVG units) for the component names in a chart. */
static double label_width(const report_t *r, double min)
{
    double w = min;
    for (size_t i = 0; i < r->nc; i++) {
        char name[256];
        double nw =
            (double)pm_width_str(short_name(r->comps[i].name, name, sizeof name)) * FONT_COL + 14;
        if (nw > w)
            w = nw;
    }
    return w;
}

/* Vertical grid lines and labels of a linear x axis from x0 (value 0) to
 * x1 (value top), under a plot ending at y. */
static void x_axis(pm_markup_t *m, double x0, double x1, double y_top, double y, double step,
                   double top, char *(*label)(double, char *))
{
    for (double v = 0; v <= top * (1 + 1e-9); v += step) {
        double x = x0 + (x1 - x0) * v / top;
        char b[PM_FMT_MAX];
        pm_svg_line(m, x, y_top, x, y, v == 0 ? "axis" : "grid");
        pm_svg_text(m, x, y + 15, "middle", "muted", label(v, b));
    }
}

static char *label_pct(double v, char *out)
{
    snprintf(out, PM_FMT_MAX, "%g%%", v);
    return out;
}

/* A linear axis of whole counts: steps of at least 1. */
static void count_axis(double max, int max_ticks, double *step, double *top)
{
    pm_axis_linear(max, max_ticks, step, top);
    if (*step < 1) {
        *step = 1;
        *top = ceil(max) > 0 ? ceil(max) : 1;
    }
}

static char *label_count(double v, char *out) { return pm_fmt_count((uint64_t)llround(v), out); }

/* ---- sections ---- */

static void css(pm_markup_t *m)
{
    static const char *const light[N_COLORS] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                "#9c755f", "#bab0ac"};
    static const char *const dark[N_COLORS] = {"#74a3d9", "#f7a55b", "#f07a7c", "#8fd3cc",
                                               "#7cc56f", "#f0d266", "#c99bc0", "#ffb3bb",
                                               "#c49c80", "#cfc6c2"};
    static const char base_light[] = "--bg:#ffffff;--fg:#1c2430;--muted:#5d6877;--grid:#e4e8ef;"
                                     "--axis:#98a2b0;--card:#f4f6f9;--accent:#4e79a7;";
    static const char base_dark[] = "--bg:#14171c;--fg:#e3e7ed;--muted:#9aa5b3;--grid:#2b313a;"
                                    "--axis:#5f6a78;--card:#1d2128;--accent:#74a3d9;";
    pm_mk_raw(m, "<style>\n:root{color-scheme:light dark;");
    pm_mk_raw(m, base_light);
    for (int i = 0; i < N_COLORS; i++)
        pm_mk_printf(m, "--c%d:%s;", i, light[i]);
    pm_mk_raw(m, "}\n@media (prefers-color-scheme:dark){:root{");
    pm_mk_raw(m, base_dark);
    for (int i = 0; i < N_COLORS; i++)
        pm_mk_printf(m, "--c%d:%s;", i, dark[i]);
    pm_mk_raw(m, "}}\n");
    pm_mk_raw(
        m, "body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,"
           "-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Helvetica Neue\",Arial,sans-serif}\n"
           "main{max-width:1040px;margin:0 auto;padding:26px 28px 48px}\n"
           "h1{font-size:27px;margin:0 0 2px;letter-spacing:-.01em}\n"
           "h2{font-size:19px;margin:38px 0 4px;padding-bottom:5px;border-bottom:1px solid "
           "var(--grid)}\n"
           "h3{font-size:14px;margin:12px 0 0}\n"
           "p{margin:6px 0}.sub,.note{color:var(--muted)}.note{font-size:13px}\n"
           "code{font-size:13px}\n"
           ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;"
           "margin:18px 0 6px}\n"
           ".card{background:var(--card);border-radius:8px;padding:10px 14px}\n"
           ".card b{display:block;font-size:21px;font-weight:650;font-variant-numeric:tabular-nums}"
           "\n.card span{color:var(--muted);font-size:12.5px}\n"
           "table{border-collapse:collapse;width:100%;font-size:13.5px;margin:12px 0}\n"
           "th,td{padding:4px 10px;border-bottom:1px solid var(--grid);text-align:left;"
           "white-space:nowrap}\n"
           "th{color:var(--muted);font-weight:600}tr.total td{font-weight:600}\n"
           ".n{text-align:right;font-variant-numeric:tabular-nums}\n"
           ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:7px;"
           "vertical-align:-1px}\n"
           ".legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:13px;margin:8px 0}\n"
           ".legend .req{opacity:.35}\n"
           "svg{width:100%;height:auto;display:block;margin:4px 0;overflow:visible}\n"
           "svg text{fill:var(--fg);font-size:12px;font-variant-numeric:tabular-nums}\n"
           "svg text.muted{fill:var(--muted)}svg text.in{fill:#fff;font-size:11px}\n"
           "svg text.on-light{fill:#1c2430}\n"
           "@media (prefers-color-scheme:dark){svg text.in{fill:#14171c}}\n"
           "svg text.title{font-weight:600}\n"
           "svg text.halo{paint-order:stroke;stroke:var(--bg);stroke-width:4px;"
           "stroke-linejoin:round}\n"
           "svg .grid{stroke:var(--grid);stroke-width:1}svg .axis{stroke:var(--axis);"
           "stroke-width:1}\n"
           "svg .mean{stroke:var(--fg);stroke-width:1.2;stroke-dasharray:5 4}\n"
           ".bar{stroke-width:0}.bar.req{fill-opacity:.3;stroke-width:1.2}\n"
           ".bar.neutral{fill:var(--accent)}\n"
           ".small{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));"
           "gap:4px 22px}\n"
           ".small p{margin:0;color:var(--muted);font-size:12.5px;min-height:2.9em}\n"
           "pre{background:var(--card);padding:12px 14px;border-radius:8px;overflow:auto;"
           "font-size:12.5px;line-height:1.35}\n"
           "details{margin:8px 0}summary{cursor:pointer;color:var(--muted)}\n"
           "footer{margin-top:42px;color:var(--muted);font-size:12.5px}\n");
    for (int i = 0; i < N_COLORS; i++)
        pm_mk_printf(m, ".c%d{fill:var(--c%d);stroke:var(--c%d);background:var(--c%d)}\n", i, i, i,
                     i);
    /* Print on white whatever the screen's scheme, in colour, no card fills. */
    pm_mk_raw(m, "@media print{:root{");
    pm_mk_raw(m, base_light);
    for (int i = 0; i < N_COLORS; i++)
        pm_mk_printf(m, "--c%d:%s;", i, light[i]);
    pm_mk_raw(m, "}body{font-size:10.5pt}main{max-width:none;padding:0}"
                 "section{break-inside:avoid}h2{break-after:avoid;margin-top:22px}"
                 ".card{border:1px solid var(--grid)}"
                 "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n"
                 "</style>\n");
}

static void header(report_t *r)
{
    pm_markup_t *m = r->out;
    json_t *mf = r->m;
    pm_mk_raw(m, "<header>\n<h1>");
    pm_mk_text(m, js(mf, "name", "(unnamed dataset)"));
    pm_mk_raw(m, "</h1>\n<p class=\"sub\">pilemix dataset report &middot; config hash <code>");
    pm_mk_text(m, js(mf, "config_hash", "?"));
    pm_mk_printf(m, "</code> &middot; seed %lld &middot; ",
                 (long long)json_integer_value(json_object_get(mf, "seed")));
    pm_mk_text(m, r->source);
    json_t *out = json_object_get(json_object_get(mf, "config"), "output");
    pm_mk_printf(m,
                 "<br>%zu component%s &middot; %lld train shards &middot; val %g%% &middot; "
                 "test %g%% of distinct texts",
                 r->nc, r->nc == 1 ? "" : "s",
                 (long long)json_integer_value(json_object_get(out, "train_shards")),
                 100 * json_number_value(json_object_get(out, "val_fraction")),
                 100 * json_number_value(json_object_get(out, "test_fraction")));
    pm_mk_raw(m, "</p>\n</header>\n");

    uint64_t docs = 0, copies = 0, train_bytes = 0, held = 0, left_out = 0, zst = 0, nfiles = 0;
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        docs += c->docs;
        copies += c->emitted[PM_SPLIT_TRAIN];
        train_bytes += c->train_copy_bytes;
        held += c->emitted[PM_SPLIT_VAL] + c->emitted[PM_SPLIT_TEST];
        left_out += c->rejected + c->empty;
    }
    for (size_t f = 0; f < r->nf; f++)
        if (strcmp(r->files[f].split, "rejects")) {
            zst += r->files[f].zst_bytes;
            nfiles++;
        }
    char a[PM_FMT_MAX];
    struct {
        const char *label;
        const char *value;
        char buf[PM_FMT_MAX];
    } cards[6];
    snprintf(cards[0].buf, PM_FMT_MAX, "%s", pm_fmt_count(docs, a));
    cards[0].label = "documents read";
    snprintf(cards[1].buf, PM_FMT_MAX, "%s", pm_fmt_count(copies, a));
    cards[1].label = "train copies written";
    snprintf(cards[2].buf, PM_FMT_MAX, "%s", pm_fmt_bytes((double)train_bytes, a));
    cards[2].label = "train text";
    snprintf(cards[3].buf, PM_FMT_MAX, "%s", pm_fmt_count(held, a));
    cards[3].label = "val + test documents";
    snprintf(cards[4].buf, PM_FMT_MAX, "%s", pm_fmt_bytes((double)zst, a));
    cards[4].label = nfiles == 1 ? "on disk, 1 file" : "on disk (zstd)";
    snprintf(cards[5].buf, PM_FMT_MAX, "%s", pm_fmt_count(left_out, a));
    cards[5].label = "bad or empty records";
    pm_mk_raw(m, "<div class=\"cards\">\n");
    for (size_t k = 0; k < 6; k++) {
        pm_mk_raw(m, "<div class=\"card\"><b>");
        pm_mk_text(m, cards[k].buf);
        pm_mk_raw(m, "</b><span>");
        pm_mk_text(m, cards[k].label);
        pm_mk_raw(m, "</span></div>\n");
    }
    pm_mk_raw(m, "</div>\n");
}

/* Requested share of the train text: a "share" component's own figure, else
 * epochs x the text bytes of its train documents (format 1 manifests: of
 * all its documents), normalised. */
static void shares(const report_t *r, double *req, double *real, bool *approx)
{
    double sum_req = 0, sum_real = 0, sum_asked = 0;
    size_t n_asked = 0;
    *approx = false;
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        uint64_t base = c->have_split_bytes ? c->split_bytes[PM_SPLIT_TRAIN] : c->text_bytes;
        *approx |= !c->have_split_bytes;
        req[i] = c->epochs * (double)base;
        real[i] = (double)c->train_copy_bytes;
        sum_req += req[i];
        sum_real += real[i];
        if (!isnan(c->share_asked)) {
            sum_asked += c->share_asked;
            n_asked++;
        }
    }
    for (size_t i = 0; i < r->nc; i++) {
        req[i] = sum_req > 0 ? req[i] / sum_req : 0;
        real[i] = sum_real > 0 ? real[i] / sum_real : 0;
    }
    /* Hook for share weights: components with "share_asked" keep their own
     * figure; the epochs components share what is left in their ratio. */
    if (n_asked) {
        double rest = 0;
        for (size_t i = 0; i < r->nc; i++)
            if (isnan(r->comps[i].share_asked))
                rest += req[i];
        for (size_t i = 0; i < r->nc; i++)
            req[i] = !isnan(r->comps[i].share_asked)
                         ? r->comps[i].share_asked
                         : (rest > 0 ? req[i] / rest * (1 - sum_asked) : 0);
    }
}

static void mix_section(report_t *r)
{
    pm_markup_t *m = r->out;
    double *req = calloc(r->nc ? r->nc : 1, sizeof *req);
    double *real = calloc(r->nc ? r->nc : 1, sizeof *real);
    if (!req || !real) {
        m->err = PM_ENOMEM;
        free(req);
        free(real);
        return;
    }
    bool approx;
    shares(r, req, real, &approx);
    pm_mk_raw(m, "<section id=\"mix\">\n<h2>Mix: requested vs realized share of train text</h2>\n"
                 "<p class=\"note\">Requested: each component's text bytes in train &times; its "
                 "epochs, as a share of the sum (or the share asked for). Realized: the text "
                 "bytes of the copies written to train.");
    if (approx)
        pm_mk_raw(m, " This manifest (format 1) has no per-split text bytes: the requested "
                     "share uses all of a component's text, an approximation.");
    pm_mk_raw(m, "</p>\n<div class=\"legend\"><span><span class=\"sw c0 req\"></span>requested"
                 "</span><span><span class=\"sw c0\"></span>realized</span></div>\n");
    double max = 0;
    for (size_t i = 0; i < r->nc; i++)
        max = fmax(max, fmax(req[i], real[i]));
    double step, top;
    pm_axis_linear(100 * max, 5, &step, &top);
    double lw = label_width(r, 120), x0 = lw, x1 = CHART_W - 70;
    double row = 36, y0 = 8, h = y0 + row * (double)r->nc + 24;
    pm_svg_begin(m, CHART_W, h, "chart",
                 "Requested and realized share of train text per component");
    x_axis(m, x0, x1, y0 - 4, y0 + row * (double)r->nc, step, top, label_pct);
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        char name[256], a[PM_FMT_MAX], b[PM_FMT_MAX];
        double y = y0 + row * (double)i + 4;
        pm_svg_text(m, x0 - 10, y + 18, "end", "", short_name(c->name, name, sizeof name));
        double wq = (x1 - x0) * 100 * req[i] / top, wr = (x1 - x0) * 100 * real[i] / top;
        const char *tip = tipf(r, "%s: requested %s of train text (epochs %g)", c->name,
                               pct(req[i], a), c->epochs);
        pm_svg_bar(m, x0, y, wq, 12, color(i), "mix", tip);
        pm_svg_text(m, x0 + wq + 6, y + 10, "start", "muted", pct(req[i], a));
        tip = tipf(r, "%s: realized %s of train text (%.4f epochs)", c->name, pct(real[i], b),
                   c->realized);
        pm_svg_bar(m, x0, y + 14, wr, 14, color(i), "mix", tip);
        pm_svg_text(m, x0 + wr + 6, y + 25, "start", "title", pct(real[i], b));
    }
    pm_svg_end(m);

    static const char *const head[] = {"Component",       "epochs asked",   "realized",
                                       "requested share", "realized share", "train documents",
                                       "train copies",    "train text"};
    pm_mk_raw(m, "<table>\n");
    th_row(m, head, 8, 1);
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        char a[PM_FMT_MAX];
        pm_mk_raw(m, "<tr>");
        td_name(m, i, c->name);
        td_num(m, pm_fmt_epochs(c->epochs, a));
        snprintf(a, sizeof a, "%.4f", c->realized);
        td_num(m, a);
        td_num(m, pct(req[i], a));
        td_num(m, pct(real[i], a));
        td_count(m, c->split_docs[PM_SPLIT_TRAIN]);
        td_count(m, c->emitted[PM_SPLIT_TRAIN]);
        td_bytes(m, c->train_copy_bytes);
        pm_mk_raw(m, "</tr>\n");
    }
    pm_mk_raw(m, "</table>\n</section>\n");
    free(req);
    free(real);
}

static void split_section(report_t *r)
{
    pm_markup_t *m = r->out;
    uint64_t files[PM_SPLIT_COUNT] = {0}, docs[PM_SPLIT_COUNT] = {0}, text[PM_SPLIT_COUNT] = {0},
             raw[PM_SPLIT_COUNT] = {0}, zst[PM_SPLIT_COUNT] = {0};
    for (size_t f = 0; f < r->nf; f++)
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
            if (!strcmp(r->files[f].split, pm_split_name(sp))) {
                files[sp]++;
                docs[sp] += r->files[f].docs;
                text[sp] += r->files[f].text_bytes;
                raw[sp] += r->files[f].raw_bytes;
                zst[sp] += r->files[f].zst_bytes;
            }
    pm_mk_raw(m, "<section id=\"splits\">\n<h2>Splits: documents and bytes</h2>\n");
    static const char *const head[] = {"Split",        "files",      "documents",         "text",
                                       "uncompressed", "compressed", "share of documents"};
    uint64_t all_docs = docs[0] + docs[1] + docs[2];
    pm_mk_raw(m, "<table>\n");
    th_row(m, head, 7, 1);
    for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
        char a[PM_FMT_MAX];
        pm_mk_printf(m, "<tr><td>%s</td>", pm_split_name(sp));
        td_count(m, files[sp]);
        td_count(m, docs[sp]);
        td_bytes(m, text[sp]);
        td_bytes(m, raw[sp]);
        td_bytes(m, zst[sp]);
        td_num(m, pct(all_docs ? (double)docs[sp] / (double)all_docs : 0, a));
        pm_mk_raw(m, "</tr>\n");
    }
    pm_mk_raw(m, "</table>\n<h3>What each split is made of (documents written)</h3>\n");
    legend(r);
    double x0 = 150, x1 = CHART_W - 10, row = 40, y0 = 6;
    pm_svg_begin(m, CHART_W, y0 + row * 3 + 4, "chart",
                 "Share of each split's documents by component");
    for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
        uint64_t total = 0;
        for (size_t i = 0; i < r->nc; i++)
            total += r->comps[i].emitted[sp];
        double y = y0 + row * sp;
        char a[PM_FMT_MAX], label[64];
        snprintf(label, sizeof label, "%s", pm_split_name(sp));
        pm_svg_text(m, x0 - 12, y + 15, "end", "title", label);
        snprintf(label, sizeof label, "%s docs", pm_fmt_count(total, a));
        pm_svg_text(m, x0 - 12, y + 29, "end", "muted", label);
        double x = x0;
        for (size_t i = 0; i < r->nc; i++) {
            const comp_t *c = &r->comps[i];
            double frac = total ? (double)c->emitted[sp] / (double)total : 0;
            double w = (x1 - x0) * frac;
            char p[PM_FMT_MAX];
            const char *tip = tipf(r, "%s: %s of %s (%s documents)", c->name, pct(frac, p),
                                   pm_split_name(sp), pm_fmt_count(c->emitted[sp], a));
            pm_svg_bar(m, x, y, w, 30, color(i), "split", tip);
            if (w >= 46)
                pm_svg_text(m, x + w / 2, y + 19, "middle", i % 2 ? "in on-light" : "in",
                            pct(frac, p));
            x += w;
        }
        if (!total)
            pm_svg_text(m, x0 + 4, y + 19, "start", "muted", "(empty)");
    }
    pm_svg_end(m);
    pm_mk_raw(m, "<p class=\"note\">Train counts copies (a document with 3 epochs is 3 "
                 "documents here); val and test hold each distinct text once.</p>\n</section>\n");
}

/* The bucket holding the median document, or -1. */
static int median_bucket(const uint64_t *h)
{
    uint64_t n = 0, acc = 0;
    for (int k = 0; k < PM_LEN_BUCKETS; k++)
        n += h[k];
    for (int k = 0; k < PM_LEN_BUCKETS; k++) {
        acc += h[k];
        if (n && 2 * acc >= n)
            return k;
    }
    return -1;
}

static void length_section(report_t *r)
{
    pm_markup_t *m = r->out;
    pm_mk_raw(m, "<section id=\"lengths\">\n<h2>Document length by component</h2>\n");
    int lo = PM_LEN_BUCKETS, hi = -1;
    double max_frac = 0;
    bool any = false;
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        uint64_t n = 0;
        for (int k = 0; k < PM_LEN_BUCKETS; k++)
            n += c->hist[k];
        for (int k = 0; k < PM_LEN_BUCKETS; k++)
            if (c->hist[k]) {
                lo = k < lo ? k : lo;
                hi = k > hi ? k : hi;
                max_frac = fmax(max_frac, (double)c->hist[k] / (double)n);
                any = true;
            }
    }
    if (!any) {
        pm_mk_raw(m, "<p class=\"note\">This manifest has no length histogram (pilemix before "
                     "manifest format 2, or no documents).</p>\n</section>\n");
        return;
    }
    pm_mk_raw(m, "<p class=\"note\">Share of each component's documents (all splits, each "
                 "document once) by text length in UTF-8 bytes; each bar is a doubling "
                 "(2<sup>k</sup> to 2<sup>k+1</sup> bytes), so the x axis is logarithmic. One "
                 "scale for all components.</p>\n<div class=\"small\">\n");
    double step, top;
    pm_axis_linear(100 * max_frac, 4, &step, &top);
    int lstep = pm_axis_log2_step(lo, hi + 1, 6);
    const double W = 330, H = 168, x0 = 40, x1 = W - 8, yt = 8, yb = H - 26;
    double bw = (x1 - x0) / (hi - lo + 1);
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        uint64_t n = 0, bytes = 0;
        for (int k = 0; k < PM_LEN_BUCKETS; k++)
            n += c->hist[k];
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
            bytes += c->split_bytes[sp];
        char a[PM_FMT_MAX], b[PM_FMT_MAX], d[PM_POW2_MAX], e[PM_POW2_MAX];
        pm_mk_raw(m, "<div>\n<h3>");
        pm_mk_printf(m, "<span class=\"sw %s\"></span>", color(i));
        pm_mk_text(m, c->name);
        pm_mk_raw(m, "</h3>\n<p>");
        int med = median_bucket(c->hist);
        pm_mk_printf(m, "%s docs", pm_fmt_count(n, a));
        if (n && med >= 0) {
            /* "2–4 KiB", "512 B–1 KiB": the unit once when both share it */
            pm_fmt_pow2(med, d);
            pm_fmt_pow2(med + 1, e);
            char *du = strchr(d, ' '), *eu = strchr(e, ' ');
            if (du && eu && !strcmp(du, eu))
                *du = '\0';
            pm_mk_printf(m, " &middot; mean %s &middot; median %s&ndash;%s",
                         pm_fmt_bytes((double)bytes / (double)n, b), d, e);
        }
        pm_mk_raw(m, "</p>\n");
        char label[300];
        snprintf(label, sizeof label, "Document length histogram of %s", c->name);
        pm_svg_begin(m, W, H, "chart small-chart", label);
        for (double v = 0; v <= top * (1 + 1e-9); v += step) {
            double y = yb - (yb - yt) * v / top;
            pm_svg_line(m, x0, y, x1, y, v == 0 ? "axis" : "grid");
            pm_svg_text(m, x0 - 5, y + 4, "end", "muted", label_pct(v, a));
        }
        for (int k = lo; k <= hi; k++) {
            double frac = n ? (double)c->hist[k] / (double)n : 0;
            double h = (yb - yt) * 100 * frac / top;
            double x = x0 + bw * (k - lo);
            const char *tip =
                tipf(r, "%s: %s documents of %s to %s (%s)", c->name, pm_fmt_count(c->hist[k], a),
                     pm_fmt_pow2(k, d), pm_fmt_pow2(k + 1, e), pct(frac, b));
            pm_svg_bar(m, x + 0.5, yb - h, bw - 1, h, color(i), "length", tip);
        }
        for (int k = lo; k <= hi + 1; k++)
            if (k % lstep == 0) {
                double x = x0 + bw * (k - lo);
                pm_svg_line(m, x, yb, x, yb + 4, "axis");
                pm_svg_text(m, x, yb + 16, "middle", "muted", pm_fmt_pow2(k, d));
            }
        pm_svg_end(m);
        pm_mk_raw(m, "</div>\n");
    }
    pm_mk_raw(m, "</div>\n</section>\n");
}

static void shard_section(report_t *r)
{
    pm_markup_t *m = r->out;
    size_t n = 0;
    double sum = 0, mn = INFINITY, mx = 0;
    for (size_t f = 0; f < r->nf; f++)
        if (!strcmp(r->files[f].split, "train")) {
            double z = (double)r->files[f].zst_bytes;
            n++;
            sum += z;
            mn = fmin(mn, z);
            mx = fmax(mx, z);
        }
    pm_mk_raw(m, "<section id=\"shards\">\n<h2>Train shards</h2>\n");
    if (!n) {
        pm_mk_raw(m, "<p class=\"note\">No train shards.</p>\n</section>\n");
        return;
    }
    double mean = sum / (double)n;
    char a[PM_FMT_MAX], b[PM_FMT_MAX], c[PM_FMT_MAX], d[PM_FMT_MAX];
    pm_mk_printf(m,
                 "<p class=\"note\">Compressed size of each train shard (zstd, as on disk). %zu "
                 "shards, %s in all, mean %s; smallest %s (%+.0f%%), largest %s (%+.0f%%). "
                 "Shards are uniform random key ranges: sizes vary with the documents that "
                 "fall in each.</p>\n",
                 n, pm_fmt_bytes(sum, a), pm_fmt_bytes(mean, b), pm_fmt_bytes(mn, c),
                 mean > 0 ? 100 * (mn / mean - 1) : 0, pm_fmt_bytes(mx, d),
                 mean > 0 ? 100 * (mx / mean - 1) : 0);
    const double x0 = 80, x1 = CHART_W - 10, yt = 10, yb = 220;
    if (n <= PM_REPORT_MAX_SHARD_BARS) {
        /* Ticks at round numbers of the unit of the largest shard. */
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        size_t u = 0;
        double unit = 1, step, top;
        while (mx / unit >= 1024 && u + 1 < sizeof units / sizeof *units) {
            unit *= 1024;
            u++;
        }
        pm_axis_linear(mx / unit, 5, &step, &top);
        step *= unit;
        top *= unit;
        pm_svg_begin(m, CHART_W, yb + 36, "chart", "Compressed size of each train shard");
        for (double v = 0; v <= top * (1 + 1e-9); v += step) {
            double y = yb - (yb - yt) * v / top;
            pm_svg_line(m, x0, y, x1, y, v == 0 ? "axis" : "grid");
            snprintf(a, sizeof a, v == 0 ? "0" : "%g %s", v / unit, units[u]);
            pm_svg_text(m, x0 - 6, y + 4, "end", "muted", a);
        }
        double bw = (x1 - x0) / (double)n, gap = bw > 6 ? bw * 0.18 : 0;
        size_t k = 0, lstep = n <= 16 ? 1 : n <= 40 ? 5 : n <= 120 ? 10 : 25;
        for (size_t f = 0; f < r->nf; f++) {
            if (strcmp(r->files[f].split, "train"))
                continue;
            double z = (double)r->files[f].zst_bytes, h = (yb - yt) * z / top;
            const char *tip =
                tipf(r, "%s: %s compressed, %s uncompressed, %s documents", r->files[f].path,
                     pm_fmt_bytes(z, a), pm_fmt_bytes((double)r->files[f].raw_bytes, b),
                     pm_fmt_count(r->files[f].docs, c));
            double x = x0 + bw * (double)k;
            pm_svg_bar(m, x + gap / 2, yb - h, bw - gap, h, "neutral", "shard", tip);
            if (k % lstep == 0) {
                snprintf(a, sizeof a, "%zu", k);
                pm_svg_text(m, x + bw / 2, yb + 15, "middle", "muted", a);
            }
            k++;
        }
        double ym = yb - (yb - yt) * mean / top;
        pm_svg_line(m, x0, ym, x1, ym, "mean");
        snprintf(c, sizeof c, "mean %s", pm_fmt_bytes(mean, a));
        pm_svg_text(m, x1, ym - 5, "end", "halo", c);
        pm_svg_text(m, (x0 + x1) / 2, yb + 32, "middle", "muted", "shard");
        pm_svg_end(m);
    } else {
        /* Too many shards for a bar each: how many shards have each size. */
        uint64_t bins[PM_REPORT_SHARD_BINS] = {0};
        double span = mx - mn > 0 ? mx - mn : 1;
        for (size_t f = 0; f < r->nf; f++)
            if (!strcmp(r->files[f].split, "train")) {
                int b2 = (int)((double)(r->files[f].zst_bytes - (uint64_t)mn) / span *
                               PM_REPORT_SHARD_BINS);
                bins[b2 >= PM_REPORT_SHARD_BINS ? PM_REPORT_SHARD_BINS - 1 : b2]++;
            }
        uint64_t bmax = 0;
        for (int k = 0; k < PM_REPORT_SHARD_BINS; k++)
            bmax = bins[k] > bmax ? bins[k] : bmax;
        double step, top;
        count_axis((double)bmax, 5, &step, &top);
        pm_svg_begin(m, CHART_W, yb + 36, "chart", "How many train shards have each size");
        for (double v = 0; v <= top * (1 + 1e-9); v += step) {
            double y = yb - (yb - yt) * v / top;
            pm_svg_line(m, x0, y, x1, y, v == 0 ? "axis" : "grid");
            pm_svg_text(m, x0 - 6, y + 4, "end", "muted", label_count(v, a));
        }
        double bw = (x1 - x0) / PM_REPORT_SHARD_BINS;
        for (int k = 0; k < PM_REPORT_SHARD_BINS; k++) {
            double lo = mn + span * k / PM_REPORT_SHARD_BINS, h = (yb - yt) * (double)bins[k] / top;
            const char *tip =
                tipf(r, "%s shards of %s to %s", pm_fmt_count(bins[k], a), pm_fmt_bytes(lo, b),
                     pm_fmt_bytes(lo + span / PM_REPORT_SHARD_BINS, c));
            pm_svg_bar(m, x0 + bw * k + 1, yb - h, bw - 2, h, "neutral", "shard", tip);
            if (k % 5 == 0)
                pm_svg_text(m, x0 + bw * k, yb + 15, "middle", "muted", pm_fmt_bytes(lo, a));
        }
        pm_svg_text(m, (x0 + x1) / 2, yb + 32, "middle", "muted", "compressed shard size");
        pm_svg_end(m);
    }
    pm_mk_raw(m, "</section>\n");
}

/* Why records are not in the output. */
typedef struct reason {
    char name[64];
    const char *what;
    uint64_t *by_comp; /* per component */
    uint64_t total;
} reason_t;

static void add_reason(reason_t *rs, size_t *n, size_t cap, size_t nc, const char *name,
                       const char *what, size_t comp, uint64_t count)
{
    if (!count)
        return;
    size_t k = 0;
    while (k < *n && strcmp(rs[k].name, name))
        k++;
    if (k == *n) {
        if (*n == cap)
            return;
        snprintf(rs[k].name, sizeof rs[k].name, "%s", name);
        rs[k].what = what;
        rs[k].by_comp = calloc(nc ? nc : 1, sizeof *rs[k].by_comp);
        rs[k].total = 0;
        if (!rs[k].by_comp)
            return;
        (*n)++;
    }
    rs[k].by_comp[comp] += count;
    rs[k].total += count;
}

/* A count that may be an integer or an object of integers (summed). */
static uint64_t count_of(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
    uint64_t n = 0;
    const char *k;
    json_t *x;
    if (json_is_object(v))
        json_object_foreach(v, k, x)
            n += count_of(x);
    return n;
}

static void removed_section(report_t *r)
{
    pm_markup_t *m = r->out;
    enum { CAP = 64 };
    reason_t rs[CAP];
    size_t n = 0;
    uint64_t skipped = 0, sampled = 0;
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        const char *k;
        json_t *v;
        json_object_foreach(c->by_reason, k, v) {
            char name[64];
            snprintf(name, sizeof name, "bad record: %s", k);
            add_reason(rs, &n, CAP, r->nc, name, "left out (rejects/rejects.jsonl)", i,
                       count_of(v));
        }
        /* Filters and exact dedup (optional stages): counted under these
         * members when the manifest has them. */
        add_reason(rs, &n, CAP, r->nc, "filtered", "left out by the component's filter", i,
                   count_of(json_object_get(c->comp, "filtered")));
        add_reason(rs, &n, CAP, r->nc, "exact duplicate", "left out by output.dedup", i,
                   count_of(json_object_get(c->comp, "dedup_duplicates")));
        add_reason(rs, &n, CAP, r->nc, "holdout duplicate",
                   "a val/test text seen before: written once", i,
                   c->dups[PM_SPLIT_VAL] + c->dups[PM_SPLIT_TEST]);
        add_reason(rs, &n, CAP, r->nc, "empty text", "a valid record with an empty text", i,
                   c->empty);
        add_reason(rs, &n, CAP, r->nc, "blank line", "an empty or whitespace-only line", i,
                   c->blank);
        skipped += c->skipped_files;
        sampled += c->sampled_out;
    }
    pm_mk_raw(m, "<section id=\"removed\">\n<h2>Records left out, by reason</h2>\n");
    if (!n) {
        pm_mk_raw(m, "<p class=\"note\">Nothing was rejected, filtered or deduplicated: every "
                     "line read is in the output.</p>\n");
    } else {
        uint64_t max = 0;
        for (size_t k = 0; k < n; k++)
            max = rs[k].total > max ? rs[k].total : max;
        double step, top;
        count_axis((double)max, 5, &step, &top);
        double x0 = 200, x1 = CHART_W - 80, row = 30, y0 = 6;
        legend(r);
        pm_svg_begin(m, CHART_W, y0 + row * (double)n + 22, "chart",
                     "Records left out of the output by reason and component");
        x_axis(m, x0, x1, y0 - 4, y0 + row * (double)n, step, top, label_count);
        for (size_t k = 0; k < n; k++) {
            double y = y0 + row * (double)k + 5, x = x0;
            char a[PM_FMT_MAX];
            pm_svg_text(m, x0 - 10, y + 14, "end", "", rs[k].name);
            for (size_t i = 0; i < r->nc; i++) {
                double w = (x1 - x0) * (double)rs[k].by_comp[i] / top;
                const char *tip = tipf(r, "%s: %s %s (%s)", r->comps[i].name,
                                       pm_fmt_count(rs[k].by_comp[i], a), rs[k].name, rs[k].what);
                pm_svg_bar(m, x, y, w, 20, color(i), "removed", tip);
                x += w;
            }
            pm_svg_text(m, x + 6, y + 14, "start", "title", pm_fmt_count(rs[k].total, a));
        }
        pm_svg_end(m);
        pm_mk_raw(m, "<table>\n<tr><th>Component</th>");
        for (size_t k = 0; k < n; k++) {
            pm_mk_raw(m, "<th class=\"n\">");
            pm_mk_text(m, rs[k].name);
            pm_mk_raw(m, "</th>");
        }
        pm_mk_raw(m, "</tr>\n");
        for (size_t i = 0; i < r->nc; i++) {
            pm_mk_raw(m, "<tr>");
            td_name(m, i, r->comps[i].name);
            for (size_t k = 0; k < n; k++)
                td_count(m, rs[k].by_comp[i]);
            pm_mk_raw(m, "</tr>\n");
        }
        pm_mk_raw(m, "</table>\n");
    }
    char a[PM_FMT_MAX], b[PM_FMT_MAX];
    pm_mk_printf(m,
                 "<p class=\"note\">Whole input files skipped (run.on_bad_file \"skip\"): %s. "
                 "Train documents given no copy by a fractional epoch (not lost: epochs &lt; 1 "
                 "asks for that): %s.</p>\n</section>\n",
                 pm_fmt_count(skipped, a), pm_fmt_count(sampled, b));
    for (size_t k = 0; k < n; k++)
        free(rs[k].by_comp);
}

static void config_section(report_t *r)
{
    pm_markup_t *m = r->out;
    json_t *mf = r->m;
    pm_mk_raw(m, "<section id=\"config\">\n<h2>Config, inputs and versions</h2>\n<table>\n");
    const char *rows[][2] = {
        {"dataset", js(mf, "name", "?")},
        {"config hash", js(mf, "config_hash", "?")},
        {"pilemix that built it", js(mf, "pilemix_version", "?")},
        {"zstd that built it", js(mf, "zstd_version", "?")},
        {"report written by", "pilemix " PM_VERSION},
    };
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        pm_mk_raw(m, "<tr><th>");
        pm_mk_text(m, rows[k][0]);
        pm_mk_raw(m, "</th><td>");
        pm_mk_text(m, rows[k][1]);
        pm_mk_raw(m, "</td></tr>\n");
    }
    pm_mk_printf(m, "<tr><th>seed</th><td>%lld</td></tr>\n",
                 (long long)json_integer_value(json_object_get(mf, "seed")));
    pm_mk_printf(m, "<tr><th>manifest format</th><td>%lld</td></tr>\n</table>\n",
                 (long long)json_integer_value(json_object_get(mf, "format")));

    static const char *const head[] = {"Component", "input files", "on disk", "documents", "text"};
    pm_mk_raw(m, "<table>\n");
    th_row(m, head, 5, 1);
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        pm_mk_raw(m, "<tr>");
        td_name(m, i, c->name);
        td_count(m, c->input_files);
        td_bytes(m, c->input_bytes);
        td_count(m, c->docs);
        td_bytes(m, c->text_bytes);
        pm_mk_raw(m, "</tr>\n");
    }
    pm_mk_raw(m, "</table>\n");
    for (size_t i = 0; i < r->nc; i++) {
        const comp_t *c = &r->comps[i];
        char a[PM_FMT_MAX];
        pm_mk_raw(m, "<details><summary>Input files of ");
        pm_mk_text(m, c->name);
        pm_mk_printf(m, " (%s)</summary>\n<table>\n", pm_fmt_count(c->input_files, a));
        size_t k;
        json_t *f;
        json_array_foreach(c->inputs, k, f) {
            pm_mk_raw(m, "<tr><td>");
            pm_mk_text(m, js(f, "path", "?"));
            pm_mk_raw(m, "</td>");
            td_bytes(m, ju(f, "bytes"));
            pm_mk_raw(m, "</tr>\n");
        }
        pm_mk_raw(m, "</table></details>\n");
    }
    char *cfg = json_dumps(json_object_get(mf, "config"),
                           JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    pm_mk_raw(m, "<h3>Config (canonical form)</h3>\n<pre>");
    if (cfg)
        pm_mk_text(m, cfg);
    else
        pm_mk_raw(m, "(not in the manifest)");
    pm_mk_raw(m, "</pre>\n</section>\n");
    free(cfg);
}

int pm_report_render(json_t *manifest, const char *source, pm_buf_t *html, pm_error_t *err)
{
    report_t r;
    memset(&r, 0, sizeof r);
    r.m = manifest;
    r.source = source;
    pm_markup_t m;
    pm_mk_init(&m);
    r.out = &m;
    int rc = load(&r, err);
    if (rc == 0) {
        pm_mk_raw(&m, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<meta name=\"color-scheme\" content=\"light dark\">\n<title>");
        pm_mk_text(&m, js(manifest, "name", "dataset"));
        pm_mk_raw(&m, " &middot; pilemix report</title>\n");
        css(&m);
        pm_mk_raw(&m, "</head>\n<body>\n<main>\n");
        header(&r);
        mix_section(&r);
        split_section(&r);
        length_section(&r);
        shard_section(&r);
        removed_section(&r);
        config_section(&r);
        pm_mk_raw(&m, "<footer>Written by pilemix " PM_VERSION " from ");
        pm_mk_text(&m, source);
        pm_mk_raw(&m, ". Self-contained: no scripts, fonts or network; hover a bar for its "
                      "figures.</footer>\n</main>\n</body>\n</html>\n");
        if (m.err)
            rc = pm_error_nomem(err);
        else if (pm_buf_append(html, m.buf.data, m.buf.len) < 0)
            rc = pm_error_nomem(err);
    }
    pm_mk_free(&m);
    free(r.comps);
    free(r.files);
    pm_buf_free(&r.tip);
    return rc;
}

int pm_report_default_path(const char *outdir, pm_buf_t *path)
{
    size_t n = strlen(outdir);
    while (n > 1 && outdir[n - 1] == '/')
        n--;
    pm_buf_reset(path);
    if (pm_buf_append(path, outdir, n) < 0 || pm_buf_append_str(path, ".report.html") < 0)
        return PM_ENOMEM;
    return 0;
}

int pm_report_write(const char *outdir, const char *path, pm_error_t *err)
{
    json_t *m = pm_manifest_load(outdir, err);
    if (!m)
        return PM_EDATA;
    pm_buf_t html, src;
    pm_buf_init(&html);
    pm_buf_init(&src);
    /* "out/" and "out" name the same page */
    size_t n = strlen(outdir);
    while (n > 1 && outdir[n - 1] == '/')
        n--;
    int rc =
        pm_buf_printf(&src, "%.*s/manifest.json", (int)n, outdir) < 0 ? pm_error_nomem(err) : 0;
    if (rc == 0)
        rc = pm_report_render(m, src.data, &html, err);
    if (rc == 0) {
        if (!strcmp(path, "-")) {
            if (fwrite(html.data, 1, html.len, stdout) != html.len || fflush(stdout) != 0)
                rc = pm_error_set(err, PM_EIO, "stdout", 0, "cannot write the report");
        } else {
            rc = pm_write_file_atomic(path, html.data, html.len, err);
        }
    }
    json_decref(m);
    pm_buf_free(&html);
    pm_buf_free(&src);
    return rc;
}
