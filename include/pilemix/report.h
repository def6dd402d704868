/* `pilemix report`: one self-contained HTML page about a finished dataset,
 * drawn from its manifest alone (no data file is read).
 *
 * Sections: key figures; requested vs realized share of the train text per
 * component with epochs asked and realized; documents and bytes per split
 * and each split's make-up by component; the document length distribution
 * per component (the manifest's log2 histograms); train shard sizes;
 * records left out by reason (bad records, holdout duplicates, empty texts,
 * blank lines; filtered and deduplicated records when the manifest has
 * them); versions, inputs and the canonical config.
 *
 * The page is inline CSS and SVG: no script, font, image or link to
 * anything, so it reads offline and from an archive years later. Light and
 * dark (prefers-color-scheme) and print styles. Each component keeps one
 * colour in every chart. Every string from the manifest is escaped. Each
 * chart's bars are <rect class="bar ..." data-chart="NAME"> so tests can
 * count them: "mix" 2 per component, "split" 3 per component, "length" one
 * per component and log2 bucket of the common range, "shard" one per train
 * shard (up to PM_REPORT_MAX_SHARD_BARS; beyond, a histogram of shard sizes
 * in PM_REPORT_SHARD_BINS bins), "removed" one per component and reason
 * with a non-zero total.
 *
 * The bytes are a pure function of the manifest, the source label and the
 * pilemix version: no times, hosts or locale. */
#ifndef PILEMIX_REPORT_H
#define PILEMIX_REPORT_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <jansson.h>

#define PM_REPORT_MAX_SHARD_BARS 240
#define PM_REPORT_SHARD_BINS 30

/* Render the page for manifest (borrowed) into html (appended). source
 * names where the manifest came from, shown in the page (escaped). 0,
 * PM_ENOMEM, or PM_EDATA when the manifest lacks what the page needs. */
int pm_report_render(json_t *manifest, const char *source, pm_buf_t *html, pm_error_t *err);

/* The default report path for OUTDIR: "OUTDIR.report.html" next to it
 * (trailing slashes dropped), outside the output directory so `verify`
 * sees no unexpected file. 0 or PM_ENOMEM. */
int pm_report_default_path(const char *outdir, pm_buf_t *path);

/* Load OUTDIR's manifest and write the page to path atomically ("-":
 * stdout). 0 or a negative PM_E* code with err filled. */
int pm_report_write(const char *outdir, const char *path, pm_error_t *err);

#endif
