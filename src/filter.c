/* Filter conditions on meta (filter.h). */
#include "pilemix/filter.h"

#include "pilemix/buf.h"

#include <jansson.h>
#include <string.h>

const char *pm_filter_reason_name(pm_filter_reason_t r)
{
    static const char *const names[] = {"kept",      "missing", "below_min",
                                        "above_max", "not_in",  "wrong_type"};
    return (unsigned)r < PM_FILTER_REASONS ? names[r] : "?";
}

static pm_filter_reason_t test(const pm_filter_cond_t *fc, json_t *meta)
{
    json_t *v = meta;
    for (size_t i = 0; i < fc->n_path && v; i++)
        v = json_is_object(v) ? json_object_get(v, fc->path[i]) : NULL;
    if (!v || json_is_null(v))
        return fc->missing == PM_MISSING_KEEP ? PM_FILTER_KEEP : PM_FILTER_MISSING;
    if (fc->has_min || fc->has_max) {
        if (!json_is_number(v))
            return PM_FILTER_WRONG_TYPE;
        double x = json_number_value(v);
        if (fc->has_min && !(x >= fc->min))
            return PM_FILTER_BELOW_MIN;
        if (fc->has_max && !(x <= fc->max))
            return PM_FILTER_ABOVE_MAX;
    }
    if (fc->n_in) {
        if (!json_is_string(v))
            return PM_FILTER_WRONG_TYPE;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < fc->n_in; i++)
            if (strlen(fc->in[i]) == n && !memcmp(fc->in[i], s, n))
                return PM_FILTER_KEEP;
        return PM_FILTER_NOT_IN;
    }
    return PM_FILTER_KEEP;
}

pm_filter_reason_t pm_filter_eval(const pm_filter_t *f, const char *meta, size_t len)
{
    /* The members without braces: wrap them. Large integers load as reals
     * (comparisons only need their magnitude). */
    pm_buf_t b;
    pm_buf_init(&b);
    json_t *o = NULL;
    if (pm_buf_append_char(&b, '{') == 0 && pm_buf_append(&b, meta, len) == 0 &&
        pm_buf_append_char(&b, '}') == 0)
        o = json_loadb(b.data, b.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    pm_buf_free(&b);
    pm_filter_reason_t r = PM_FILTER_KEEP;
    for (size_t i = 0; i < f->n_conds && r == PM_FILTER_KEEP; i++)
        r = test(&f->conds[i], o);
    json_decref(o);
    return r;
}
