/* Filters (DESIGN 1.7; components[].filter, config.h): keep a document when
 * its meta passes every condition of its component's filter.
 *
 * A condition looks up a dotted path in the meta object ("score",
 * "reddit.score"). A field that is absent, null, or under a non-object is
 * missing: the condition's `missing` says whether that keeps or drops the
 * document (default drop). A present value is tested: min/max need a number
 * (inclusive bounds), equals/in need a string equal to one of the listed;
 * a value of the other type fails the condition ("wrong_type"). A condition
 * with no test keeps any present value. Conditions are tried in order; the
 * first that fails gives the reason counted for the document.
 *
 * Only components with a filter pay for it: their meta (the record parser's
 * canonical member text) is parsed once per document. */
#ifndef PILEMIX_FILTER_H
#define PILEMIX_FILTER_H

#include "pilemix/config.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    PM_FILTER_KEEP = 0,
    PM_FILTER_MISSING = 1,    /* the field is missing and the condition drops such */
    PM_FILTER_BELOW_MIN = 2,  /* a number below min */
    PM_FILTER_ABOVE_MAX = 3,  /* a number above max */
    PM_FILTER_NOT_IN = 4,     /* a string not equal to any of the listed */
    PM_FILTER_WRONG_TYPE = 5, /* a number test on a non-number or the other way */
    PM_FILTER_REASONS = 6
} pm_filter_reason_t;

/* "missing", "below_min", ... as the manifest and summary name them. */
const char *pm_filter_reason_name(pm_filter_reason_t r);

/* The verdict on a document whose meta members (without braces, as in
 * pm_record_t.meta) are meta[0..len). PM_FILTER_KEEP keeps it. Meta that
 * cannot be parsed (never, for the record parser's output) counts as
 * missing every field. */
pm_filter_reason_t pm_filter_eval(const pm_filter_t *f, const char *meta, size_t len);

#endif
