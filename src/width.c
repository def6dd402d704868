#include "pilemix/width.h"

#include "pilemix/error.h"

#include <stdbool.h>
#include <string.h>

typedef struct pm_width_range {
    uint32_t first, last;
} pm_width_range_t;

#include "width_table.inc"

static bool in_table(const pm_width_range_t *t, size_t n, uint32_t cp)
{
    if (cp < t[0].first || cp > t[n - 1].last)
        return false;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp > t[mid].last)
            lo = mid + 1;
        else if (cp < t[mid].first)
            hi = mid;
        else
            return true;
    }
    return false;
}

int pm_width_cp(uint32_t cp)
{
    if (cp < 0x300)
        return 1; /* ASCII and Latin-1: the common case, no lookup */
    if (in_table(zero_width, sizeof zero_width / sizeof *zero_width, cp))
        return 0;
    if (in_table(double_width, sizeof double_width / sizeof *double_width, cp))
        return 2;
    return 1;
}

size_t pm_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

size_t pm_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += pm_utf8_next(s + i, n - i, &cp);
        w += (size_t)pm_width_cp(cp);
    }
    return w;
}

size_t pm_width_str(const char *s) { return pm_width(s, strlen(s)); }

size_t pm_width_prefix(const char *s, size_t n, size_t max, size_t *width)
{
    size_t i = 0, w = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = pm_utf8_next(s + i, n - i, &cp);
        size_t cw = (size_t)pm_width_cp(cp);
        if (w + cw > max)
            break;
        w += cw;
        i += len;
    }
    if (width)
        *width = w;
    return i;
}

int pm_width_fit(pm_buf_t *out, const char *s, size_t n, size_t max)
{
    if (max == 0 || pm_width(s, n) <= max)
        return pm_buf_append(out, s, n);
    size_t keep = pm_width_prefix(s, n, max - 1, NULL);
    if (pm_buf_append(out, s, keep) < 0 || pm_buf_append_str(out, "\xE2\x80\xA6") < 0)
        return PM_ENOMEM;
    return 0;
}
