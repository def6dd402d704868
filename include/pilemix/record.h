/* pm_record_t: one lm_dataformat JSON line, parsed without building a DOM.
 *
 * pm_record_parse() is a validating single-pass JSON scanner for one line: the
 * whole line must be exactly one JSON object or string (RFC 8259, whitespace
 * around it allowed, including a trailing "\r"), all strings valid UTF-8, \u
 * escapes well-formed with surrogates paired. A bare string is the text of a
 * document without meta (lm_dataformat writes those). From an object it
 * extracts, under the component's key names (pm_record_keys_t; "text" and
 * "meta" by default, e.g. "content" for The Stack):
 *   - "text": a string, or a list of strings joined with "\n\n" (as
 *     lm_dataformat does), unescaped to UTF-8 in rec->text (\u0000 is kept as
 *     a NUL byte: texts are byte strings with a length);
 *   - "meta": an optional object, re-serialized canonically in rec->meta as
 *     its members only, without braces and without any "pile_set_name"
 *     member, in Python json.dumps style: `"k": v, "k2": [1, 2]`, strings
 *     escaped by pm_json_escape(), numbers/true/false/null as written.
 *     Empty when there is no meta or it has no other members.
 * Other top-level keys are validated and ignored.
 *
 * On a bad line the status says why and rec->error_column / rec->error_msg say
 * where (1-based byte column). The record owns its buffers; reuse it across
 * lines (no allocation per record once buffers have grown). */
#ifndef PILEMIX_RECORD_H
#define PILEMIX_RECORD_H

#include "pilemix/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    PM_REC_OK = 0,
    PM_REC_BAD_JSON,       /* syntax error, or not exactly one value on the line */
    PM_REC_NOT_OBJECT,     /* valid JSON but neither an object nor a string */
    PM_REC_BAD_UTF8,       /* raw bytes that are not valid UTF-8 */
    PM_REC_LONE_SURROGATE, /* \uD800-\uDFFF escape without its pair */
    PM_REC_NO_TEXT,        /* no "text" key, or "text": null */
    PM_REC_TEXT_TYPE,      /* "text" neither a string nor a list of strings */
    PM_REC_META_TYPE,      /* "meta" present but not an object (null allowed: no meta) */
    PM_REC_DUPLICATE_KEY,  /* "text" or "meta" given twice */
    PM_REC_TOO_LONG,       /* set by the reader/worker, not by the parser */
    PM_REC_STATUS_COUNT
} pm_record_status_t;

typedef struct pm_record {
    pm_buf_t text;
    pm_buf_t meta;
    size_t error_column;
    char error_msg[160];
    pm_buf_t scratch; /* internal */
} pm_record_t;

void pm_record_init(pm_record_t *rec);
void pm_record_free(pm_record_t *rec);

/* Where the text and meta are in an object (names compared unescaped). */
typedef struct pm_record_keys {
    const char *text;
    size_t text_len;
    const char *meta;
    size_t meta_len;
} pm_record_keys_t;

extern const pm_record_keys_t pm_record_default_keys; /* "text", "meta" */

/* Returns a pm_record_status_t (>= 0), or PM_ENOMEM (< 0). */
int pm_record_parse_keys(pm_record_t *rec, const char *line, size_t len,
                         const pm_record_keys_t *keys);
/* The same with the default keys. */
int pm_record_parse(pm_record_t *rec, const char *line, size_t len);

/* Stable short reason names for manifests and reject files:
 * "invalid_json", "not_object", "invalid_utf8", "lone_surrogate", "missing_text",
 * "text_not_string", "meta_not_object", "duplicate_key", "record_too_long". */
const char *pm_record_status_name(int status);

/* Append s[0..n) as a JSON string literal (with quotes) to out. Valid UTF-8 is
 * kept raw (compact, as Pile readers expect); '"', '\\' and every control
 * character (U+0000-U+001F, U+007F, U+0080-U+009F) plus U+2028/U+2029 are
 * escaped (\n \t \r \b \f short forms, else \u00XX). s must be valid UTF-8. */
int pm_json_escape(pm_buf_t *out, const char *s, size_t n);

/* Append s[0..n) as a JSON string literal replacing invalid UTF-8 sequences by
 * U+FFFD: for quoting raw, possibly broken input in reject files. */
int pm_json_escape_lossy(pm_buf_t *out, const char *s, size_t n);

/* Length of the longest well-formed UTF-8 prefix of s[0..n) (Unicode Table
 * 3-7: no overlongs, no surrogates, nothing above U+10FFFF; the rules
 * jansson applies to strings it encodes): n when s is valid UTF-8. */
size_t pm_utf8_valid_prefix(const char *s, size_t n);

/* Append s[0..n) for display in a one-line message: well-formed UTF-8 other
 * than control characters is kept, every other byte shown as \xHH (and a
 * backslash as \\), so "caf\xE9.jsonl" names a Latin-1 file name exactly. */
int pm_escape_bytes(pm_buf_t *out, const char *s, size_t n);

#endif
