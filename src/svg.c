#include "pilemix/svg.h"

#include "pilemix/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pm_mk_init(pm_markup_t *m)
{
    pm_buf_init(&m->buf);
    m->err = 0;
}

void pm_mk_free(pm_markup_t *m)
{
    pm_buf_free(&m->buf);
    m->err = 0;
}

static void append(pm_markup_t *m, const char *s, size_t n)
{
    if (!m->err && pm_buf_append(&m->buf, s, n) < 0)
        m->err = PM_ENOMEM;
}

void pm_mk_raw(pm_markup_t *m, const char *s) { append(m, s, strlen(s)); }

void pm_mk_printf(pm_markup_t *m, const char *fmt, ...)
{
    if (m->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pm_buf_reserve(&m->buf, (size_t)n) < 0) {
        m->err = PM_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(m->buf.data + m->buf.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->buf.len += (size_t)n;
}

void pm_mk_textn(pm_markup_t *m, const char *s, size_t n)
{
    size_t run = 0; /* bytes since the last escaped one, appended at once */
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\0': rep = "\xEF\xBF\xBD"; break; /* NUL is not allowed in HTML text */
        default: run++; continue;
        }
        append(m, s + i - run, run);
        run = 0;
        pm_mk_raw(m, rep);
    }
    append(m, s + n - run, run);
}

void pm_mk_text(pm_markup_t *m, const char *s) { pm_mk_textn(m, s, strlen(s)); }

void pm_svg_begin(pm_markup_t *m, double width, double height, const char *cls, const char *label)
{
    pm_mk_printf(m, "<svg class=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", cls,
                 width, height);
    pm_mk_text(m, label);
    pm_mk_raw(m, "\" preserveAspectRatio=\"xMinYMin meet\">\n");
}

void pm_svg_end(pm_markup_t *m) { pm_mk_raw(m, "</svg>\n"); }

static double nonneg(double v) { return v > 0 ? v : 0; }

void pm_svg_bar(pm_markup_t *m, double x, double y, double w, double h, const char *cls,
                const char *chart, const char *tooltip)
{
    pm_mk_printf(m,
                 "<rect class=\"bar %s\" data-chart=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                 "height=\"%.1f\">",
                 cls, chart, x, y, nonneg(w), nonneg(h));
    if (tooltip) {
        pm_mk_raw(m, "<title>");
        pm_mk_text(m, tooltip);
        pm_mk_raw(m, "</title>");
    }
    pm_mk_raw(m, "</rect>\n");
}

void pm_svg_rect(pm_markup_t *m, double x, double y, double w, double h, const char *cls)
{
    pm_mk_printf(m, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
                 cls, x, y, nonneg(w), nonneg(h));
}

void pm_svg_line(pm_markup_t *m, double x1, double y1, double x2, double y2, const char *cls)
{
    pm_mk_printf(m, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls,
                 x1, y1, x2, y2);
}

void pm_svg_text(pm_markup_t *m, double x, double y, const char *anchor, const char *cls,
                 const char *text)
{
    pm_mk_printf(m, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor,
                 cls);
    pm_mk_text(m, text);
    pm_mk_raw(m, "</text>\n");
}

void pm_axis_linear(double max, int max_ticks, double *step, double *top)
{
    if (!(max > 0) || max_ticks < 1) {
        *step = 1;
        *top = max_ticks < 1 ? 1 : max_ticks;
        return;
    }
    double raw = max / max_ticks;
    double p = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    double s = p * 10;
    for (size_t i = 0; i < 4; i++)
        if (p * mult[i] >= raw * (1 - 1e-9)) {
            s = p * mult[i];
            break;
        }
    *step = s;
    *top = ceil(max / s - 1e-9) * s;
}

int pm_axis_log2_step(int lo, int hi, int max_labels)
{
    if (max_labels < 1)
        max_labels = 1;
    /* Steps that divide 10, so the KiB/MiB/GiB powers are among the labels. */
    static const int steps[] = {1, 2, 5, 10, 20, 40};
    int span = hi - lo + 1;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if ((span + steps[i] - 1) / steps[i] <= max_labels)
            return steps[i];
    return 40;
}

char *pm_fmt_pow2(int k, char *out)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (k < 0)
        k = 0;
    int u = k / 10 < 6 ? k / 10 : 6;
    snprintf(out, PM_POW2_MAX, "%llu %s", 1ull << (k - 10 * u), units[u]);
    return out;
}
