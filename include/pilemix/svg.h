/* Markup into a buffer: HTML text with escaping, and the few SVG elements
 * the report draws its charts with (rectangles, lines, text), plus axis
 * tick choice for linear and log2 axes.
 *
 * pm_markup_t collects text in a pm_buf_t with a sticky error: after the
 * first failed append every call is a no-op and err holds PM_ENOMEM, so a
 * page can be written without checking each call, and checked once at the
 * end. Every string that comes from data (component names, the config, file
 * names) goes through pm_mk_text or an argument documented as escaped; raw
 * strings are for markup the code itself writes.
 *
 * Coordinates are in SVG user units, written with one decimal: the output
 * is a pure function of the input (no locale: numbers always use '.'). The
 * SVG is inline in HTML, so it needs no xmlns and references nothing. */
#ifndef PILEMIX_SVG_H
#define PILEMIX_SVG_H

#include "pilemix/buf.h"

#include <stddef.h>

typedef struct pm_markup {
    pm_buf_t buf;
    int err; /* 0, or PM_ENOMEM after a failed append */
} pm_markup_t;

void pm_mk_init(pm_markup_t *m);
void pm_mk_free(pm_markup_t *m);

/* Markup written as is. */
void pm_mk_raw(pm_markup_t *m, const char *s);
void pm_mk_printf(pm_markup_t *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Text escaped for HTML and SVG content and attribute values (& < > " '). */
void pm_mk_text(pm_markup_t *m, const char *s);
void pm_mk_textn(pm_markup_t *m, const char *s, size_t n);

/* <svg> of width x height user units, scaling to its container's width;
 * label is its accessible name (escaped). */
void pm_svg_begin(pm_markup_t *m, double width, double height, const char *cls, const char *label);
void pm_svg_end(pm_markup_t *m);

/* A bar: <rect class="bar CLS" data-chart="CHART"> with a tooltip (title,
 * escaped; NULL for none). Negative sizes are drawn as 0. */
void pm_svg_bar(pm_markup_t *m, double x, double y, double w, double h, const char *cls,
                const char *chart, const char *tooltip);
/* Any other rectangle (legend swatches, backgrounds): not a bar. */
void pm_svg_rect(pm_markup_t *m, double x, double y, double w, double h, const char *cls);
void pm_svg_line(pm_markup_t *m, double x1, double y1, double x2, double y2, const char *cls);
/* anchor: "start", "middle" or "end"; text escaped. */
void pm_svg_text(pm_markup_t *m, double x, double y, const char *anchor, const char *cls,
                 const char *text);

/* A linear axis from 0: the tick step (1, 2 or 5 times a power of ten) that
 * gives at most max_ticks intervals up to a top >= max, and that top. */
void pm_axis_linear(double max, int max_ticks, double *step, double *top);

/* A log2 axis of byte sizes from bucket lo to hi: label the powers 2^k
 * with k % step == 0, step the smallest of 1, 2, 5, 10, 20, 40 that shows
 * at most max_labels labels (so 1 KiB, 1 MiB, ... are always labelled). */
int pm_axis_log2_step(int lo, int hi, int max_labels);
/* "1 B", "32 B", "1 KiB", "512 MiB": 2^k bytes exactly (out has at least
 * PM_POW2_MAX bytes). */
#define PM_POW2_MAX 32
char *pm_fmt_pow2(int k, char *out);

#endif
