/* Display width of UTF-8 text in a terminal column grid, independent of the
 * locale (wcwidth(3) needs a UTF-8 locale set, which a batch job often has
 * not).
 *
 * A code point is 0 columns wide (combining marks, format characters such as
 * ZERO WIDTH JOINER and variation selectors), 2 (East Asian Wide and
 * Fullwidth: CJK, Hangul syllables, kana, and emoji with emoji presentation)
 * or 1 (the rest). Tables come from tools/gen_width_table.py (Unicode 14).
 * Bytes that are not valid UTF-8 count 1 column each, as terminals show them
 * as one replacement character. Emoji ZWJ sequences count as the sum of
 * their parts (as glibc's wcwidth does); most terminals draw them narrower.
 *
 * Control characters are the caller's business: they count 1 here, and
 * callers that print data (sample) escape them first. */
#ifndef PILEMIX_WIDTH_H
#define PILEMIX_WIDTH_H

#include "pilemix/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Columns of one code point: 0, 1 or 2. */
int pm_width_cp(uint32_t cp);

/* Decode the UTF-8 sequence at s (n > 0 bytes available): its code point in
 * *cp and its length; an invalid or truncated sequence is 1 byte with *cp =
 * U+FFFD. Never reads past n. */
size_t pm_utf8_next(const char *s, size_t n, uint32_t *cp);

/* Columns of the n bytes at s / of the NUL-terminated s. */
size_t pm_width(const char *s, size_t n);
size_t pm_width_str(const char *s);

/* Bytes of the longest prefix of s[0..n) at most max columns wide, never
 * cutting a UTF-8 sequence, and keeping zero-width code points (combining
 * marks) with the character before them. Its width goes to *width if
 * non-NULL. */
size_t pm_width_prefix(const char *s, size_t n, size_t max, size_t *width);

/* Append s[0..n) to out, cut to at most max columns: when it does not fit,
 * the longest prefix that fits with "…" (1 column) after it. max 0 means no
 * limit. Returns 0 or PM_ENOMEM. */
int pm_width_fit(pm_buf_t *out, const char *s, size_t n, size_t max);

#endif
