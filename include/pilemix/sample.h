/* `pilemix sample`: a few documents of a finished dataset, chosen at random
 * but reproducibly, printed for eyeballing quality.
 *
 * The choice is a bottom-k sample: every output line gets a key, the XXH3
 * hash of its bytes keyed by the seed, and the n distinct lines with the
 * smallest keys are the sample. Equal lines (the epoch copies of a train
 * document) share a key and are shown once, so this is a uniform sample of
 * the distinct documents, without replacement; the same for the same seed
 * and dataset whatever order the files are read in. It takes one streaming
 * pass (zstd, never a whole file in memory) holding only the n candidates;
 * only a line whose key beats the current n-th is parsed.
 *
 * Filters: a split (the files of train, val or test) and a component
 * (meta.pile_set_name). Each document is shown with its file and line, its
 * text length, its meta (compact JSON) and its text on one line: newlines
 * shown as U+23CE, tabs as U+2409, other control characters as U+FFFD, cut
 * to width display columns with an ellipsis (width.h: never inside a UTF-8
 * sequence). Output is deterministic for a dataset, seed and options. */
#ifndef PILEMIX_SAMPLE_H
#define PILEMIX_SAMPLE_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <stdint.h>
#include <stdio.h>

typedef struct pm_sample_opts {
    const char *outdir;
    uint64_t n;            /* documents to show, >= 1 */
    const char *component; /* NULL: any */
    const char *split;     /* "train", "val", "test"; NULL: all */
    uint64_t seed;
    size_t width; /* display columns of text and meta; 0: no limit */
} pm_sample_opts_t;

#define PM_SAMPLE_DEFAULT_N 5
#define PM_SAMPLE_DEFAULT_WIDTH 160

/* Print the sample to out. PM_EUSAGE for an unknown split or component
 * (the message lists the valid ones), PM_EDATA for a missing manifest or a
 * corrupt file, PM_EIO, PM_ENOMEM; err filled. */
int pm_sample_print(const pm_sample_opts_t *opts, FILE *out, pm_error_t *err);

/* Append the one-line display form of text s[0..n) (see above) to b, cut
 * to width columns (0: no limit). 0 or PM_ENOMEM. */
int pm_sample_oneline(pm_buf_t *b, const char *s, size_t n, size_t width);

#endif
