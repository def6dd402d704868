/* One lm_dataformat JSON line -> text + canonical meta, in one pass.
 *
 * The scanner is iterative (an explicit container stack, no recursion) so a
 * hostile line cannot overflow the C stack, and it never builds a DOM: "text"
 * is unescaped straight into rec->text, "meta" is re-serialized straight into
 * rec->meta, every other value is only validated.
 *
 * Status precedence. The line must first be valid JSON: the first lexical or
 * syntax problem left to right (invalid_json, invalid_utf8, lone_surrogate)
 * wins over everything else, because a line that is not JSON has no
 * meaningful "text" (and the header defines not_object as "valid JSON but not
 * an object"). Only for a valid JSON line do the semantic problems count:
 * the first of not_object / text_not_string / meta_not_object /
 * duplicate_key / missing_text ("text": null) left to right, and finally
 * missing_text when there is no "text" key at all.
 *
 * Bytes outside strings that cannot start a token (including any non-ASCII
 * byte, valid UTF-8 or not) are invalid_json: invalid_utf8 is about the
 * contents of strings.
 *
 * Keys are compared after unescaping ("t\u0065xt" is "text"). Duplicate keys
 * inside meta are legal JSON and are kept as written, in order (readers that
 * keep the last one, as Python and jansson do, see the same meta). */
#include "pilemix/record.h"

#include "pilemix/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Containers open at once, the top-level object included. Deeper lines are
 * invalid_json ("nesting too deep"); jansson's own limit is 2048. */
#define PM_JSON_MAX_DEPTH 512

/* ---------------------------------------------------------------------- */
/* Character classes                                                       */

/* Byte classes for the string scanner: 0 = plain byte copied as is. */
enum { SC_PLAIN = 0, SC_QUOTE, SC_BSLASH, SC_CTRL, SC_HIGH };

/* clang-format off */
static const uint8_t str_class[256] = {
    [0x00] = SC_CTRL, [0x01] = SC_CTRL, [0x02] = SC_CTRL, [0x03] = SC_CTRL,
    [0x04] = SC_CTRL, [0x05] = SC_CTRL, [0x06] = SC_CTRL, [0x07] = SC_CTRL,
    [0x08] = SC_CTRL, [0x09] = SC_CTRL, [0x0a] = SC_CTRL, [0x0b] = SC_CTRL,
    [0x0c] = SC_CTRL, [0x0d] = SC_CTRL, [0x0e] = SC_CTRL, [0x0f] = SC_CTRL,
    [0x10] = SC_CTRL, [0x11] = SC_CTRL, [0x12] = SC_CTRL, [0x13] = SC_CTRL,
    [0x14] = SC_CTRL, [0x15] = SC_CTRL, [0x16] = SC_CTRL, [0x17] = SC_CTRL,
    [0x18] = SC_CTRL, [0x19] = SC_CTRL, [0x1a] = SC_CTRL, [0x1b] = SC_CTRL,
    [0x1c] = SC_CTRL, [0x1d] = SC_CTRL, [0x1e] = SC_CTRL, [0x1f] = SC_CTRL,
    ['"'] = SC_QUOTE, ['\\'] = SC_BSLASH,
#define H8(b) [b] = SC_HIGH, [b + 1] = SC_HIGH, [b + 2] = SC_HIGH, [b + 3] = SC_HIGH, \
              [b + 4] = SC_HIGH, [b + 5] = SC_HIGH, [b + 6] = SC_HIGH, [b + 7] = SC_HIGH
    H8(0x80), H8(0x88), H8(0x90), H8(0x98), H8(0xa0), H8(0xa8), H8(0xb0), H8(0xb8),
    H8(0xc0), H8(0xc8), H8(0xd0), H8(0xd8), H8(0xe0), H8(0xe8), H8(0xf0), H8(0xf8),
#undef H8
};
/* clang-format on */

static inline int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static inline int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The string scanner's hot loop works on blocks: text strings are mostly
 * long runs of plain ASCII. block_special(p) is the index of the first byte
 * of p[0..PM_BLOCK) that is '"', '\\', < 0x20 or >= 0x80, or PM_BLOCK when
 * there is none. Loads are unaligned-safe (intrinsic or memcpy); callers
 * guarantee PM_BLOCK readable bytes. */
#if defined(__SSE2__)
#define PM_BLOCK 16
static inline size_t block_special(const uint8_t *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too. */
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
        _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    return mask ? (size_t)__builtin_ctz(mask) : PM_BLOCK;
}
#else
#define PM_BLOCK 8
static inline size_t block_special(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t xq = w ^ (ones * '"'), xb = w ^ (ones * '\\');
    /* "has a zero byte" / "has a byte < n" tricks: exact about whether some
     * byte matches, so when they fire the byte loop below finds one. */
    uint64_t t = ((xq - ones) & ~xq) | ((xb - ones) & ~xb) | ((w - ones * 0x20) & ~w) | w;
    if (!(t & highs))
        return PM_BLOCK;
    size_t i = 0;
    while (str_class[p[i]] == SC_PLAIN)
        i++;
    return i;
}
#endif

static inline int is_cont(uint8_t c) { return (c & 0xc0) == 0x80; }

/* ---------------------------------------------------------------------- */
/* UTF-8                                                                   */

/* Checks the multi-byte sequence starting at p (p[0] >= 0x80, p < end),
 * following Unicode Table 3-7 (no overlongs, no surrogates, <= U+10FFFF).
 * Returns its length (2..4) when well-formed; otherwise 0 and *bad_len = the
 * length of its maximal ill-formed subpart (1..3), *why = reason. */
enum { U8_BAD_LEAD = 1, U8_TRUNCATED, U8_OVERLONG, U8_SURROGATE, U8_TOO_BIG };

static int utf8_seq(const uint8_t *p, const uint8_t *end, int *bad_len, int *why)
{
    uint8_t c = p[0];
    int n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    int why2 = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;
            why2 = U8_OVERLONG;
        } else if (c == 0xed) {
            hi = 0x9f;
            why2 = U8_SURROGATE;
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
            why2 = U8_OVERLONG;
        } else if (c == 0xf4) {
            hi = 0x8f;
            why2 = U8_TOO_BIG;
        }
    } else {
        *bad_len = 1;
        *why = U8_BAD_LEAD;
        return 0;
    }
    if (end - p < 2 || p[1] < lo || p[1] > hi) {
        *bad_len = 1;
        *why = (end - p >= 2 && p[1] >= 0x80 && p[1] <= 0xbf && why2) ? why2 : U8_TRUNCATED;
        return 0;
    }
    for (int k = 2; k < n; k++) {
        if (end - p <= k || (p[k] & 0xc0) != 0x80) {
            *bad_len = k;
            *why = U8_TRUNCATED;
            return 0;
        }
    }
    return n;
}

static const char *utf8_why(int why)
{
    switch (why) {
    case U8_TRUNCATED: return "truncated UTF-8 sequence";
    case U8_OVERLONG: return "overlong UTF-8 sequence";
    case U8_SURROGATE: return "UTF-8-encoded surrogate";
    case U8_TOO_BIG: return "UTF-8 sequence above U+10FFFF";
    default: return "invalid UTF-8 byte";
    }
}

static inline uint8_t *put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *o++ = (uint8_t)(0xc0 | (cp >> 6));
        *o++ = (uint8_t)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (uint8_t)(0xe0 | (cp >> 12));
        *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (uint8_t)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (uint8_t)(0xf0 | (cp >> 18));
        *o++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (uint8_t)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* ---------------------------------------------------------------------- */
/* Scanner                                                                 */

typedef struct scanner {
    const uint8_t *begin, *p, *end;
    pm_record_t *rec;
    const pm_record_keys_t *keys;
    int status; /* first lexical/syntax problem, PM_REC_OK while none */
    int nomem;  /* an allocation failed */
    /* First semantic problem, reported only when the line is valid JSON. */
    int sem_status;
    size_t sem_col;
    char sem_msg[sizeof((pm_record_t *)0)->error_msg];
} scanner_t;

#if defined(__GNUC__)
#define PM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PM_PRINTF(a, b)
#endif

/* Records a syntax-class problem at byte `at` and returns 0 (= stop). */
static int PM_PRINTF(4, 5) fail(scanner_t *sc, int status, const uint8_t *at, const char *fmt, ...)
{
    sc->status = status;
    sc->rec->error_column = (size_t)(at - sc->begin) + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->rec->error_msg, sizeof sc->rec->error_msg, fmt, ap);
    va_end(ap);
    return 0;
}

static void semantic(scanner_t *sc, int status, const uint8_t *at, const char *msg)
{
    if (sc->sem_status != PM_REC_OK)
        return; /* the first one left to right is the one reported */
    sc->sem_status = status;
    sc->sem_col = (size_t)(at - sc->begin) + 1;
    snprintf(sc->sem_msg, sizeof sc->sem_msg, "%s", msg);
}

static int oom(scanner_t *sc)
{
    sc->nomem = 1;
    return 0;
}

static inline void skip_ws(scanner_t *sc)
{
    const uint8_t *p = sc->p, *end = sc->end;
    while (p < end && is_ws(*p))
        p++;
    sc->p = p;
}

static int fail_unexpected(scanner_t *sc, const char *what)
{
    if (sc->p >= sc->end)
        return fail(sc, PM_REC_BAD_JSON, sc->p, "%s, found end of line", what);
    uint8_t c = *sc->p;
    if (c >= 0x21 && c < 0x7f)
        return fail(sc, PM_REC_BAD_JSON, sc->p, "%s, found '%c'", what, c);
    return fail(sc, PM_REC_BAD_JSON, sc->p, "%s, found byte 0x%02x", what, c);
}

/* Reads the 4 hex digits after "\u" at p (p points at the 'u'). */
static int read_u4(const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
    if (end - p < 5)
        return 0;
    uint32_t v = 0;
    for (int k = 1; k <= 4; k++) {
        int h = hexval(p[k]);
        if (h < 0)
            return 0;
        v = v << 4 | (uint32_t)h;
    }
    *cp = v;
    return 1;
}

/* Scans the string literal at sc->p (which is '"'), appending its unescaped
 * UTF-8 to out. Unescaping never makes a string longer than its literal, so
 * one reservation up front (plus one block of slack for the block copies)
 * lets the loop write without bound checks. */
static int scan_string(scanner_t *sc, pm_buf_t *out)
{
    const uint8_t *p = sc->p + 1, *end = sc->end;
    if (pm_buf_reserve(out, (size_t)(end - p) + PM_BLOCK) < 0)
        return oom(sc);
    uint8_t *o = (uint8_t *)out->data + out->len;
    for (;;) {
        /* Copy whole blocks first and look after: the copy is cheaper than
         * finding the run length, and the slack makes it safe. */
        while ((size_t)(end - p) >= PM_BLOCK) {
            memcpy(o, p, PM_BLOCK);
            size_t k = block_special(p);
            p += k;
            o += k;
            if (k < PM_BLOCK)
                goto special;
        }
        while (p < end && str_class[*p] == SC_PLAIN)
            *o++ = *p++;
        if (p >= end) {
            fail(sc, PM_REC_BAD_JSON, p, "unterminated string");
            break;
        }
    special:;
        uint8_t c = *p;
        if (c == '"') {
            sc->p = p + 1;
            out->len = (size_t)(o - (uint8_t *)out->data);
            out->data[out->len] = '\0';
            return 1;
        }
        if (c >= 0x80) {
            /* Inline the common 2- and 3-byte forms, and stay here while
             * non-ASCII text continues (CJK, Cyrillic...); the rest (E0, ED,
             * 4-byte and all errors) takes the table-driven path. */
            for (;;) {
                if (c >= 0xc2 && c <= 0xdf && end - p >= 2 && is_cont(p[1])) {
                    o[0] = c;
                    o[1] = p[1];
                    o += 2;
                    p += 2;
                } else if (c >= 0xe1 && c <= 0xef && c != 0xed && end - p >= 3 && is_cont(p[1]) &&
                           is_cont(p[2])) {
                    o[0] = c;
                    o[1] = p[1];
                    o[2] = p[2];
                    o += 3;
                    p += 3;
                } else {
                    break;
                }
                if (p >= end || *p < 0x80)
                    break;
                c = *p;
            }
            if (p >= end || *p < 0x80)
                continue;
            c = *p;
            int bad_len, why;
            int n = utf8_seq(p, end, &bad_len, &why);
            if (!n) {
                if (why == U8_BAD_LEAD)
                    fail(sc, PM_REC_BAD_UTF8, p, "invalid UTF-8 byte 0x%02x", c);
                else
                    fail(sc, PM_REC_BAD_UTF8, p, "%s", utf8_why(why));
                break;
            }
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
            continue;
        }
        if (c < 0x20) {
            fail(sc, PM_REC_BAD_JSON, p, "raw control character 0x%02x in string", c);
            break;
        }
        /* backslash */
        if (end - p < 2) {
            fail(sc, PM_REC_BAD_JSON, p, "unterminated string");
            break;
        }
        uint8_t e = p[1];
        switch (e) {
        case '"':
            *o++ = '"';
            p += 2;
            continue;
        case '\\':
            *o++ = '\\';
            p += 2;
            continue;
        case '/':
            *o++ = '/';
            p += 2;
            continue;
        case 'b':
            *o++ = '\b';
            p += 2;
            continue;
        case 'f':
            *o++ = '\f';
            p += 2;
            continue;
        case 'n':
            *o++ = '\n';
            p += 2;
            continue;
        case 'r':
            *o++ = '\r';
            p += 2;
            continue;
        case 't':
            *o++ = '\t';
            p += 2;
            continue;
        case 'u': break;
        default:
            if (e >= 0x21 && e < 0x7f)
                fail(sc, PM_REC_BAD_JSON, p, "invalid escape '\\%c'", e);
            else
                fail(sc, PM_REC_BAD_JSON, p, "invalid escape (byte 0x%02x after '\\')", e);
            goto done;
        }
        uint32_t cp;
        if (!read_u4(p + 1, end, &cp)) {
            fail(sc, PM_REC_BAD_JSON, p, "invalid \\u escape (need 4 hex digits)");
            break;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' && read_u4(p + 7, end, &lo) &&
                lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                o = put_utf8(o, cp);
                p += 12;
                continue;
            }
            fail(sc, PM_REC_LONE_SURROGATE, p, "lone surrogate \\u%.4s", (const char *)p + 2);
            break;
        }
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail(sc, PM_REC_LONE_SURROGATE, p, "lone surrogate \\u%.4s", (const char *)p + 2);
            break;
        }
        o = put_utf8(o, cp);
        p += 6;
    }
done:
    /* Keep out consistent (valid len, NUL-terminated) even on failure. */
    out->len = (size_t)(o - (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Scans a number; when out is set, appends it verbatim. */
static int scan_number(scanner_t *sc, pm_buf_t *out)
{
    const uint8_t *start = sc->p, *p = sc->p, *end = sc->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9') {
        sc->p = p;
        return fail_unexpected(sc, "expected a digit");
    }
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(sc, PM_REC_BAD_JSON, p - 1, "leading zero in number");
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            sc->p = p;
            return fail_unexpected(sc, "expected a digit after '.'");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9') {
            sc->p = p;
            return fail_unexpected(sc, "expected a digit in exponent");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    sc->p = p;
    if (out && pm_buf_append(out, start, (size_t)(p - start)) < 0)
        return oom(sc);
    return 1;
}

static int scan_literal(scanner_t *sc, pm_buf_t *out)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(lits[k]);
        if (*sc->p != (uint8_t)lits[k][0])
            continue;
        for (size_t j = 1; j < n; j++) {
            if (sc->p + j >= sc->end || sc->p[j] != (uint8_t)lits[k][j])
                return fail(sc, PM_REC_BAD_JSON, sc->p, "invalid literal (expected '%s')", lits[k]);
        }
        sc->p += n;
        if (out && pm_buf_append(out, lits[k], n) < 0)
            return oom(sc);
        return 1;
    }
    return fail_unexpected(sc, "expected a JSON value");
}

/* Appends a string's unescaped bytes, re-escaped canonically, to out. */
static int emit_string(scanner_t *sc, pm_buf_t *out)
{
    pm_buf_t *tmp = &sc->rec->scratch;
    pm_buf_reset(tmp);
    if (!scan_string(sc, tmp))
        return 0;
    if (pm_json_escape(out, tmp->data, tmp->len) < 0)
        return oom(sc);
    return 1;
}

/* Scans one JSON value of any kind at sc->p (after whitespace). out NULL:
 * validate only; else append it canonically (", " and ": " separators,
 * strings re-escaped, scalars verbatim). depth = containers already open
 * around this value. Iterative: stack[] remembers only which closer each open
 * container needs. */
static int scan_value(scanner_t *sc, pm_buf_t *out, int depth)
{
    uint8_t stack[PM_JSON_MAX_DEPTH];
    int top = 0; /* containers opened by this call */
    pm_buf_t *sink = out ? out : &sc->rec->scratch;

value:
    if (sc->p >= sc->end)
        return fail_unexpected(sc, "expected a JSON value");
    switch (*sc->p) {
    case '"':
        if (out ? !emit_string(sc, out) : (pm_buf_reset(sink), !scan_string(sc, sink)))
            return 0;
        break;
    case '{':
    case '[': {
        uint8_t open = *sc->p;
        if (depth + top >= PM_JSON_MAX_DEPTH)
            return fail(sc, PM_REC_BAD_JSON, sc->p, "nesting too deep (more than %d levels)",
                        PM_JSON_MAX_DEPTH);
        stack[top++] = open == '{' ? '}' : ']';
        if (out && pm_buf_append_char(out, (char)open) < 0)
            return oom(sc);
        sc->p++;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == stack[top - 1]) {
            /* empty container */
            sc->p++;
            top--;
            if (out && pm_buf_append_char(out, (char)(open == '{' ? '}' : ']')) < 0)
                return oom(sc);
            break;
        }
        if (open == '{')
            goto member;
        goto value;
    }
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if (!scan_number(sc, out))
            return 0;
        break;
    default:
        if (!scan_literal(sc, out))
            return 0;
        break;
    }

    /* After a value: close containers or move to the next element. */
    for (;;) {
        if (top == 0)
            return 1;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            if (out && pm_buf_append(out, ", ", 2) < 0)
                return oom(sc);
            skip_ws(sc);
            if (stack[top - 1] == '}')
                goto member;
            goto value;
        }
        if (sc->p < sc->end && *sc->p == stack[top - 1]) {
            if (out && pm_buf_append_char(out, (char)*sc->p) < 0)
                return oom(sc);
            sc->p++;
            top--;
            continue;
        }
        return fail_unexpected(sc, stack[top - 1] == '}'
                                       ? "expected ',' or '}' after object member"
                                       : "expected ',' or ']' after array element");
    }

member:
    /* At a member's key, whitespace already skipped. */
    if (sc->p >= sc->end || *sc->p != '"')
        return fail_unexpected(sc, "expected a string key");
    if (out ? !emit_string(sc, out) : (pm_buf_reset(sink), !scan_string(sc, sink)))
        return 0;
    skip_ws(sc);
    if (sc->p >= sc->end || *sc->p != ':')
        return fail_unexpected(sc, "expected ':' after object key");
    sc->p++;
    if (out && pm_buf_append(out, ": ", 2) < 0)
        return oom(sc);
    skip_ws(sc);
    goto value;
}

/* "meta": {...} at sc->p. Writes the members into rec->meta without braces
 * and without top-level "pile_set_name" members. */
static int scan_meta(scanner_t *sc, pm_buf_t *meta)
{
    pm_buf_t *key = &sc->rec->scratch;
    sc->p++; /* '{' */
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        sc->p++;
        return 1;
    }
    for (;;) {
        if (sc->p >= sc->end || *sc->p != '"')
            return fail_unexpected(sc, "expected a string key");
        pm_buf_reset(key);
        if (!scan_string(sc, key))
            return 0;
        /* The output adds its own pile_set_name; the input's is dropped. */
        int keep = !(key->len == 13 && memcmp(key->data, "pile_set_name", 13) == 0);
        if (keep) {
            if (meta->len && pm_buf_append(meta, ", ", 2) < 0)
                return oom(sc);
            if (pm_json_escape(meta, key->data, key->len) < 0 || pm_buf_append(meta, ": ", 2) < 0)
                return oom(sc);
        }
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return fail_unexpected(sc, "expected ':' after object key");
        sc->p++;
        skip_ws(sc);
        if (!scan_value(sc, keep ? meta : NULL, 2))
            return 0;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            skip_ws(sc);
            continue;
        }
        if (sc->p < sc->end && *sc->p == '}') {
            sc->p++;
            return 1;
        }
        return fail_unexpected(sc, "expected ',' or '}' after object member");
    }
}

/* "text": [...] at sc->p: strings joined with "\n\n" into rec->text. */
static int scan_text_list(scanner_t *sc, pm_buf_t *text)
{
    int n = 0;
    sc->p++; /* '[' */
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return 1;
    }
    for (;;) {
        if (sc->p < sc->end && *sc->p == '"') {
            if (n++ && pm_buf_append(text, "\n\n", 2) < 0)
                return oom(sc);
            if (!scan_string(sc, text))
                return 0;
        } else {
            if (sc->p < sc->end) {
                char msg[96];
                snprintf(msg, sizeof msg, "\"%.40s\" list holds a non-string", sc->keys->text);
                semantic(sc, PM_REC_TEXT_TYPE, sc->p, msg);
            }
            if (!scan_value(sc, NULL, 2))
                return 0;
        }
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            skip_ws(sc);
            continue;
        }
        if (sc->p < sc->end && *sc->p == ']') {
            sc->p++;
            return 1;
        }
        return fail_unexpected(sc, "expected ',' or ']' after array element");
    }
}

static int is_null(const scanner_t *sc)
{
    return sc->end - sc->p >= 4 && memcmp(sc->p, "null", 4) == 0;
}

/* The top-level object. */
static int scan_record(scanner_t *sc)
{
    pm_record_t *rec = sc->rec;
    pm_buf_t *key = &rec->scratch;
    const pm_record_keys_t *k = sc->keys;
    char msg[96];
    int have_text = 0, have_meta = 0;
    sc->p++; /* '{' */
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == '}') {
        snprintf(msg, sizeof msg, "no \"%.40s\" key", k->text);
        semantic(sc, PM_REC_NO_TEXT, sc->p, msg);
        sc->p++;
        return 1;
    }
    for (;;) {
        if (sc->p >= sc->end || *sc->p != '"')
            return fail_unexpected(sc, "expected a string key");
        const uint8_t *key_at = sc->p;
        pm_buf_reset(key);
        if (!scan_string(sc, key))
            return 0;
        /* Keys are compared unescaped: "t\u0065xt" is "text" to any JSON reader. */
        int which = 0;
        if (key->len == k->text_len && memcmp(key->data, k->text, k->text_len) == 0)
            which = 1;
        else if (key->len == k->meta_len && memcmp(key->data, k->meta, k->meta_len) == 0)
            which = 2;
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != ':')
            return fail_unexpected(sc, "expected ':' after object key");
        sc->p++;
        skip_ws(sc);
        if (sc->p >= sc->end)
            return fail_unexpected(sc, "expected a JSON value");

        if (which == 1 && have_text++) {
            snprintf(msg, sizeof msg, "duplicate \"%.40s\" key", k->text);
            semantic(sc, PM_REC_DUPLICATE_KEY, key_at, msg);
            which = 0;
        } else if (which == 2 && have_meta++) {
            snprintf(msg, sizeof msg, "duplicate \"%.40s\" key", k->meta);
            semantic(sc, PM_REC_DUPLICATE_KEY, key_at, msg);
            which = 0;
        }

        int ok;
        if (which == 1 && *sc->p == '"') {
            ok = scan_string(sc, &rec->text);
        } else if (which == 1 && *sc->p == '[') {
            ok = scan_text_list(sc, &rec->text);
        } else if (which == 2 && *sc->p == '{') {
            ok = scan_meta(sc, &rec->meta);
        } else {
            if (which == 1) {
                snprintf(msg, sizeof msg,
                         is_null(sc) ? "\"%.40s\" is null"
                                     : "\"%.40s\" is not a string or a list of strings",
                         k->text);
                semantic(sc, is_null(sc) ? PM_REC_NO_TEXT : PM_REC_TEXT_TYPE, sc->p, msg);
            } else if (which == 2 && !is_null(sc)) {
                snprintf(msg, sizeof msg, "\"%.40s\" is not an object", k->meta);
                semantic(sc, PM_REC_META_TYPE, sc->p, msg);
            }
            ok = scan_value(sc, NULL, 1);
        }
        if (!ok)
            return 0;

        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            skip_ws(sc);
            continue;
        }
        if (sc->p < sc->end && *sc->p == '}') {
            if (!have_text) {
                snprintf(msg, sizeof msg, "no \"%.40s\" key", k->text);
                semantic(sc, PM_REC_NO_TEXT, sc->p, msg);
            }
            sc->p++;
            return 1;
        }
        return fail_unexpected(sc, "expected ',' or '}' after object member");
    }
}

void pm_record_init(pm_record_t *rec)
{
    pm_buf_init(&rec->text);
    pm_buf_init(&rec->meta);
    pm_buf_init(&rec->scratch);
    rec->error_column = 0;
    rec->error_msg[0] = '\0';
}

void pm_record_free(pm_record_t *rec)
{
    if (!rec)
        return;
    pm_buf_free(&rec->text);
    pm_buf_free(&rec->meta);
    pm_buf_free(&rec->scratch);
}

const pm_record_keys_t pm_record_default_keys = {"text", 4, "meta", 4};

int pm_record_parse(pm_record_t *rec, const char *line, size_t len)
{
    return pm_record_parse_keys(rec, line, len, &pm_record_default_keys);
}

int pm_record_parse_keys(pm_record_t *rec, const char *line, size_t len,
                         const pm_record_keys_t *keys)
{
    scanner_t sc;
    sc.keys = keys;
    /* An empty line still gets a valid (non-NULL) pointer to scan. */
    sc.begin = sc.p = (const uint8_t *)(line ? line : "");
    sc.end = sc.begin + (line ? len : 0);
    sc.rec = rec;
    sc.status = PM_REC_OK;
    sc.nomem = 0;
    sc.sem_status = PM_REC_OK;
    sc.sem_col = 0;
    sc.sem_msg[0] = '\0';
    rec->error_column = 0;
    rec->error_msg[0] = '\0';
    /* Make sure the buffers exist so callers always get a NUL-terminated "". */
    if (pm_buf_reserve(&rec->text, 0) < 0 || pm_buf_reserve(&rec->meta, 0) < 0)
        return PM_ENOMEM;
    pm_buf_reset(&rec->text);
    pm_buf_reset(&rec->meta);

    skip_ws(&sc);
    int ok;
    if (sc.p < sc.end && *sc.p == '{') {
        ok = scan_record(&sc);
    } else if (sc.p < sc.end && *sc.p == '"') {
        /* A bare string is a document without meta (lm_dataformat's
         * .json.gz and .json.zst write those). */
        ok = scan_string(&sc, &rec->text);
    } else {
        ok = scan_value(&sc, NULL, 0);
        if (ok)
            semantic(&sc, PM_REC_NOT_OBJECT, sc.begin, "the line is not a JSON object or string");
    }
    if (sc.nomem)
        return PM_ENOMEM;
    if (ok) {
        skip_ws(&sc);
        if (sc.p < sc.end) {
            fail(&sc, PM_REC_BAD_JSON, sc.p, "trailing data after the JSON value");
            ok = 0;
        }
    }
    if (!ok)
        return sc.status;
    if (sc.sem_status != PM_REC_OK) {
        rec->error_column = sc.sem_col;
        memcpy(rec->error_msg, sc.sem_msg, sizeof rec->error_msg);
        return sc.sem_status;
    }
    return PM_REC_OK;
}

const char *pm_record_status_name(int status)
{
    switch (status) {
    case PM_REC_OK: return "ok";
    case PM_REC_BAD_JSON: return "invalid_json";
    case PM_REC_NOT_OBJECT: return "not_object";
    case PM_REC_BAD_UTF8: return "invalid_utf8";
    case PM_REC_LONE_SURROGATE: return "lone_surrogate";
    case PM_REC_NO_TEXT: return "missing_text";
    case PM_REC_TEXT_TYPE: return "text_not_string";
    case PM_REC_META_TYPE: return "meta_not_object";
    case PM_REC_DUPLICATE_KEY: return "duplicate_key";
    case PM_REC_TOO_LONG: return "record_too_long";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------------- */
/* Escaping                                                                */

/* Bytes the escaper must look at: '"', '\\', C0 controls, DEL, and lead
 * bytes 0xc2 (U+0080-U+009F live behind it) and 0xe2 (U+2028/U+2029). All
 * other bytes, including the rest of multi-byte sequences, are copied. */
static inline int esc_special(uint8_t c)
{
    return c < 0x20 || c == '"' || c == '\\' || c == 0x7f || c == 0xc2 || c == 0xe2;
}

/* Writes the \uXXXX form of cp at o; returns 6. */
static size_t put_u(char *o, unsigned cp)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hex[(cp >> 12) & 15];
    o[3] = hex[(cp >> 8) & 15];
    o[4] = hex[(cp >> 4) & 15];
    o[5] = hex[cp & 15];
    return 6;
}

/* Escapes the special byte at s[i] (see esc_special; s holds n bytes) into
 * o, which has room for 6 bytes. Returns the bytes written; *used gets the
 * input bytes consumed. */
static size_t escape_into(char *o, const uint8_t *s, size_t i, size_t n, size_t *used)
{
    uint8_t c = s[i];
    *used = 1;
    char short_form = 0;
    switch (c) {
    case '"': short_form = '"'; break;
    case '\\': short_form = '\\'; break;
    case '\n': short_form = 'n'; break;
    case '\t': short_form = 't'; break;
    case '\r': short_form = 'r'; break;
    case '\b': short_form = 'b'; break;
    case '\f': short_form = 'f'; break;
    default: break;
    }
    if (short_form) {
        o[0] = '\\';
        o[1] = short_form;
        return 2;
    }
    if (c < 0x20 || c == 0x7f)
        return put_u(o, c);
    if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
        *used = 2;
        return put_u(o, s[i + 1]);
    }
    if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
        *used = 3;
        return put_u(o, 0x2000u | (s[i + 2] - 0x80u));
    }
    o[0] = (char)c; /* a 0xc2 or 0xe2 lead byte of another character */
    return 1;
}

/* Escapes one special byte at s[i] (see esc_special) and returns how many
 * input bytes it consumed, or < 0 on allocation failure. */
static int escape_at(pm_buf_t *out, const uint8_t *s, size_t i, size_t n)
{
    PM_TRY(pm_buf_reserve(out, 6));
    size_t used;
    out->len += escape_into(out->data + out->len, s, i, n, &used);
    out->data[out->len] = '\0';
    return (int)used;
}

/* Whether any byte of the 8 in x is one esc_special() picks: < 0x20, '"',
 * '\\', 0x7f, 0xc2 or 0xe2. Exact bit tricks (a zero-byte test per value),
 * no false negatives; a false positive only costs a byte-wise look. */
static inline bool word_needs_look(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
#define HAS_ZERO_BYTE(v) (((v)-ones) & ~(v)&high)
    uint64_t lt20 = (x - ones * 0x20) & ~x & high;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\'), del = x ^ (ones * 0x7f);
    uint64_t c2 = x ^ (ones * 0xc2), e2 = x ^ (ones * 0xe2);
    uint64_t hit = lt20 | HAS_ZERO_BYTE(q) | HAS_ZERO_BYTE(bs) | HAS_ZERO_BYTE(del) |
                   HAS_ZERO_BYTE(c2) | HAS_ZERO_BYTE(e2);
#undef HAS_ZERO_BYTE
    return hit != 0;
}

/* Index of the first byte at or after i (and before end) that esc_special()
 * picks, or end. x86-64 always has SSE2: 16 bytes a step with exact
 * compares; elsewhere 8 bytes a step with word tricks. */
static size_t next_special(const uint8_t *s, size_t i, size_t end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  del = _mm_set1_epi8(0x7f), c2 = _mm_set1_epi8((char)0xc2),
                  e2 = _mm_set1_epi8((char)0xe2), max_ctl = _mm_set1_epi8(0x1f);
    while (i + 16 <= end) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, del));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, c2));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, e2));
        /* x <= 0x1f (unsigned): min(x, 0x1f) == x */
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(x, max_ctl), x));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    for (;;) {
        while (i + 8 <= end) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (word_needs_look(x))
                break;
            i += 8;
        }
        if (i >= end || esc_special(s[i]))
            return i;
        i++;
    }
}

/* Input bytes escaped per output reservation: the worst case is 6 output
 * bytes per input byte, reserved once per chunk instead of per piece. */
#define ESCAPE_CHUNK (64u << 10)

int pm_json_escape(pm_buf_t *out, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    PM_TRY(pm_buf_append_char(out, '"'));
    size_t i = 0;
    while (i < n) {
        size_t end = n - i < ESCAPE_CHUNK ? n : i + ESCAPE_CHUNK;
        /* An escape may read (not write) up to 2 bytes past end. */
        PM_TRY(pm_buf_reserve(out, 6 * (end - i) + 1));
        char *o = out->data + out->len;
        while (i < end) {
            size_t j = next_special(s, i, end);
            memcpy(o, s + i, j - i);
            o += j - i;
            i = j;
            if (j == end)
                break;
            size_t used;
            o += escape_into(o, s, j, n, &used);
            i += used;
        }
        out->len = (size_t)(o - out->data);
    }
    return pm_buf_append_char(out, '"');
}

int pm_json_escape_lossy(pm_buf_t *out, const char *str, size_t n)
{
    static const char fffd[] = "\xef\xbf\xbd";
    const uint8_t *s = (const uint8_t *)str, *end = s + n;
    PM_TRY(pm_buf_reserve(out, n + 2));
    PM_TRY(pm_buf_append_char(out, '"'));
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] < 0x80 && !esc_special(s[j]))
            j++;
        if (j > i)
            PM_TRY(pm_buf_append(out, s + i, j - i));
        if (j == n)
            break;
        if (s[j] < 0x80) {
            int used = escape_at(out, s, j, n);
            if (used < 0)
                return used;
            i = j + (size_t)used;
            continue;
        }
        int bad_len, why;
        int len = utf8_seq(s + j, end, &bad_len, &why);
        if (!len) {
            /* One U+FFFD per maximal ill-formed subpart (Unicode's
             * recommended practice, also what Python and browsers do). */
            PM_TRY(pm_buf_append(out, fffd, 3));
            i = j + (size_t)bad_len;
            continue;
        }
        if (esc_special(s[j])) {
            int used = escape_at(out, s, j, n);
            if (used < 0)
                return used;
            if (used > 1) {
                i = j + (size_t)used;
                continue;
            }
            /* escape_at copied only the lead byte: copy the rest too. */
            PM_TRY(pm_buf_append(out, s + j + 1, (size_t)len - 1));
        } else {
            PM_TRY(pm_buf_append(out, s + j, (size_t)len));
        }
        i = j + (size_t)len;
    }
    return pm_buf_append_char(out, '"');
}

size_t pm_utf8_valid_prefix(const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + n;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int bad_len, why;
        int len = utf8_seq(s + i, end, &bad_len, &why);
        if (!len)
            return i;
        i += (size_t)len;
    }
    return n;
}

int pm_escape_bytes(pm_buf_t *out, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + n;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '\\') {
            PM_TRY(pm_buf_append(out, "\\\\", 2));
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            PM_TRY(pm_buf_printf(out, "\\x%02X", c));
            i++;
        } else if (c < 0x80) {
            PM_TRY(pm_buf_append_char(out, (char)c));
            i++;
        } else {
            int bad_len, why;
            int len = utf8_seq(s + i, end, &bad_len, &why);
            if (len) {
                PM_TRY(pm_buf_append(out, s + i, (size_t)len));
                i += (size_t)len;
            } else {
                for (int k = 0; k < bad_len; k++)
                    PM_TRY(pm_buf_printf(out, "\\x%02X", s[i + (size_t)k]));
                i += (size_t)bad_len;
            }
        }
    }
    return 0;
}
