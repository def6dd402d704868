/* libFuzzer target: pm_record_parse() with jansson as a differential oracle.
 *
 * Every input is one line. The oracle:
 *   1. Validity: pm says "not JSON" (invalid_json, invalid_utf8,
 *      lone_surrogate) exactly when jansson fails to load the line as any
 *      JSON value (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL;
 *      no JSON_REJECT_DUPLICATES: duplicate keys are valid RFC 8259).
 *   2. Semantics: for a valid line the status must be the first semantic
 *      problem left to right as record.h defines it, computed independently:
 *      the top-level members are walked in order with jansson decoding each
 *      key and value on its own (JSON_DISABLE_EOF_CHECK gives the length), so
 *      duplicate "text"/"meta" keys are seen even though jansson's object
 *      keeps only the last one.
 *   3. Extraction: on ok, rec->text equals jansson's string (or the strings of
 *      the list joined with "\n\n"), byte for byte including NULs; "{" +
 *      rec->meta + "}" loads in jansson and equals the input's meta object
 *      without its "pile_set_name" members.
 *   4. Round trips: pm_json_escape(text) escapes every byte record.h says it
 *      must and loads back in jansson (and in pm) as the same bytes;
 *      re-parsing {"text": "", "meta": {rec->meta}} gives rec->meta again
 *      (the canonical form is a fixed point); pm_json_escape_lossy() of the
 *      raw input always loads in jansson and, for valid UTF-8, decodes to the
 *      input and matches pm_json_escape().
 *
 * Documented divergences, where jansson is not an RFC 8259 oracle and the
 * validity comparison (1-3) is skipped; 4 still runs:
 *   - numbers beyond the range of a double ("1e400"): valid JSON, jansson
 *     reports json_error_numeric_overflow;
 *   - "\u0000" inside an object key: valid JSON, jansson reports
 *     json_error_null_byte_in_key;
 *   - a raw NUL byte right after a number ("1\0", "[1\0]"): jansson drops
 *     it and accepts; a raw NUL is never valid JSON, so pm must say invalid;
 *   - nesting deeper than pm's PM_JSON_MAX_DEPTH (512) but within jansson's
 *     JSON_PARSER_MAX_DEPTH (2048): pm says invalid_json "nesting too deep"
 *     (an implementation limit RFC 8259 section 9 allows).
 * A failed check prints the input and aborts, which libFuzzer reports.
 *
 * With PM_FUZZ_REPORT=FILE set, each input appends one line to FILE: "deep"
 * when pm parsed it as JSON (status ok or a semantic one, so the extraction
 * and semantic oracles ran), else "shallow: " and the status. jobs/fuzz.sh
 * replays the seeds this way and fails when too few go deep. */
#include "pilemix/buf.h"
#include "pilemix/record.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JFLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)

static const uint8_t *cur_data;
static size_t cur_size;

static void fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\nfuzz_record: oracle failure: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ninput (%zu bytes): \"", cur_size);
    for (size_t i = 0; i < cur_size && i < 400; i++) {
        uint8_t c = cur_data[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", cur_size > 400 ? "..." : "");
    abort();
}

static int is_syntax_status(int st)
{
    return st == PM_REC_BAD_JSON || st == PM_REC_BAD_UTF8 || st == PM_REC_LONE_SURROGATE;
}

static int str_is(const json_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return json_string_length(s) == n && memcmp(json_string_value(s), lit, n) == 0;
}

static size_t skip_ws(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Decode one JSON value at p[*i..n) with jansson and advance *i past it. */
static json_t *load_one(const uint8_t *p, size_t *i, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)p + *i, n - *i, JFLAGS | JSON_DISABLE_EOF_CHECK, &jerr);
    if (!v)
        fail("member walk: jansson cannot re-read a value of a line it accepted: %s", jerr.text);
    *i += (size_t)jerr.position;
    return v;
}

typedef struct expect {
    int status;
    json_t *text; /* the (first) "text" value, owned */
    json_t *meta; /* the (first) "meta" value, owned */
} expect_t;

/* The semantic status record.h defines, from an independent walk of the
 * top-level members of a line jansson accepted as an object. */
static void expected_status(const uint8_t *p, size_t n, expect_t *ex)
{
    int have_text = 0, have_meta = 0;
    ex->status = PM_REC_OK;
#define SEM(s)                                                                                     \
    do {                                                                                           \
        if (ex->status == PM_REC_OK)                                                               \
            ex->status = (s);                                                                      \
    } while (0)
    size_t i = skip_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        fail("member walk: no '{' in a line jansson loaded as an object");
    i = skip_ws(p, i + 1, n);
    if (i < n && p[i] == '}')
        goto end;
    for (;;) {
        json_t *key = load_one(p, &i, n);
        if (!json_is_string(key))
            fail("member walk: key is not a string");
        i = skip_ws(p, i, n);
        if (i >= n || p[i] != ':')
            fail("member walk: no ':' after a key");
        i = skip_ws(p, i + 1, n);
        json_t *val = load_one(p, &i, n);
        if (str_is(key, "text")) {
            if (have_text++) {
                SEM(PM_REC_DUPLICATE_KEY);
                json_decref(val);
            } else {
                if (json_is_string(val)) {
                } else if (json_is_array(val)) {
                    for (size_t k = 0; k < json_array_size(val); k++)
                        if (!json_is_string(json_array_get(val, k))) {
                            SEM(PM_REC_TEXT_TYPE);
                            break;
                        }
                } else if (json_is_null(val)) {
                    SEM(PM_REC_NO_TEXT);
                } else {
                    SEM(PM_REC_TEXT_TYPE);
                }
                ex->text = val;
            }
        } else if (str_is(key, "meta")) {
            if (have_meta++) {
                SEM(PM_REC_DUPLICATE_KEY);
                json_decref(val);
            } else {
                if (!json_is_object(val) && !json_is_null(val))
                    SEM(PM_REC_META_TYPE);
                ex->meta = val;
            }
        } else {
            json_decref(val);
        }
        json_decref(key);
        i = skip_ws(p, i, n);
        if (i < n && p[i] == ',') {
            i = skip_ws(p, i + 1, n);
            continue;
        }
        if (i < n && p[i] == '}')
            break;
        fail("member walk: no ',' or '}' after a member");
    }
end:
    if (!have_text)
        SEM(PM_REC_NO_TEXT);
#undef SEM
}

/* Byte-level promises of pm_json_escape() (record.h) on valid UTF-8 input. */
static void check_escaped_bytes(const char *what, const pm_buf_t *e)
{
    const uint8_t *s = (const uint8_t *)e->data;
    size_t n = e->len;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        fail("%s: not a quoted literal", what);
    for (size_t i = 1; i + 1 < n; i++) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f)
            fail("%s: raw control byte 0x%02x at %zu", what, c, i);
        if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            fail("%s: raw C1 control at %zu", what, i);
        if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
            fail("%s: raw U+2028/U+2029 at %zu", what, i);
    }
}

static json_t *load_string_literal(const char *what, const pm_buf_t *e)
{
    json_error_t jerr;
    json_t *j = json_loadb(e->data, e->len, JFLAGS, &jerr);
    if (!j)
        fail("%s does not load in jansson: %s", what, jerr.text);
    if (!json_is_string(j))
        fail("%s loads as a non-string", what);
    return j;
}

static void check_text_roundtrip(const pm_buf_t *text)
{
    pm_buf_t e;
    pm_buf_init(&e);
    if (pm_json_escape(&e, text->data, text->len) < 0)
        fail("pm_json_escape failed");
    check_escaped_bytes("pm_json_escape(text)", &e);
    json_t *j = load_string_literal("pm_json_escape(text)", &e);
    if (json_string_length(j) != text->len || memcmp(json_string_value(j), text->data, text->len))
        fail("pm_json_escape(text) does not round-trip through jansson");
    json_decref(j);

    /* And through pm itself. */
    pm_buf_t line;
    pm_buf_init(&line);
    if (pm_buf_append_str(&line, "{\"text\": ") < 0 || pm_buf_append(&line, e.data, e.len) < 0 ||
        pm_buf_append_char(&line, '}') < 0)
        abort();
    pm_record_t r;
    pm_record_init(&r);
    int st = pm_record_parse(&r, line.data, line.len);
    if (st != PM_REC_OK)
        fail("{\"text\": pm_json_escape(text)} parses as %s: %s", pm_record_status_name(st),
             r.error_msg);
    if (r.text.len != text->len || memcmp(r.text.data, text->data, text->len))
        fail("pm_json_escape(text) does not round-trip through pm_record_parse");
    pm_record_free(&r);
    pm_buf_free(&line);
    pm_buf_free(&e);
}

/* The canonical meta is a fixed point of the parser. */
static void check_meta_fixed_point(const pm_buf_t *meta)
{
    pm_buf_t line;
    pm_buf_init(&line);
    if (pm_buf_append_str(&line, "{\"text\": \"\", \"meta\": {") < 0 ||
        pm_buf_append(&line, meta->data, meta->len) < 0 || pm_buf_append_str(&line, "}}") < 0)
        abort();
    pm_record_t r;
    pm_record_init(&r);
    int st = pm_record_parse(&r, line.data, line.len);
    if (st != PM_REC_OK)
        fail("re-parsing the canonical meta gives %s: %s", pm_record_status_name(st), r.error_msg);
    if (r.meta.len != meta->len || memcmp(r.meta.data, meta->data, meta->len))
        fail("canonical meta is not a fixed point:\n  first:  %s\n  second: %s", meta->data,
             r.meta.data);
    pm_record_free(&r);
    pm_buf_free(&line);
}

static void check_extraction(const pm_record_t *rec, const expect_t *ex)
{
    /* text */
    pm_buf_t want;
    pm_buf_init(&want);
    if (json_is_string(ex->text)) {
        if (pm_buf_append(&want, json_string_value(ex->text), json_string_length(ex->text)) < 0)
            abort();
    } else if (json_is_array(ex->text)) {
        for (size_t k = 0; k < json_array_size(ex->text); k++) {
            json_t *s = json_array_get(ex->text, k);
            if ((k && pm_buf_append(&want, "\n\n", 2) < 0) ||
                pm_buf_append(&want, json_string_value(s), json_string_length(s)) < 0)
                abort();
        }
    } else {
        fail("status ok but \"text\" is neither a string nor a list");
    }
    if (rec->text.len != want.len || (want.len && memcmp(rec->text.data, want.data, want.len)))
        fail("extracted text differs from jansson's (%zu vs %zu bytes)", rec->text.len, want.len);
    pm_buf_free(&want);

    /* meta: same JSON value as jansson's, minus "pile_set_name" */
    json_t *jm = json_is_object(ex->meta) ? json_deep_copy(ex->meta) : json_object();
    if (!jm)
        abort();
    json_object_del(jm, "pile_set_name");
    pm_buf_t wrapped;
    pm_buf_init(&wrapped);
    if (pm_buf_append_char(&wrapped, '{') < 0 ||
        pm_buf_append(&wrapped, rec->meta.data, rec->meta.len) < 0 ||
        pm_buf_append_char(&wrapped, '}') < 0)
        abort();
    json_error_t jerr;
    json_t *got = json_loadb(wrapped.data, wrapped.len, JFLAGS, &jerr);
    if (!got)
        fail("{meta} does not load in jansson: %s\n  meta: %s", jerr.text, rec->meta.data);
    if (!json_equal(got, jm))
        fail("meta differs from jansson's meta object\n  meta: %s", rec->meta.data);
    if ((json_object_size(jm) == 0) != (rec->meta.len == 0))
        fail("meta must be empty exactly when there are no members to keep");
    json_decref(got);
    json_decref(jm);
    pm_buf_free(&wrapped);
}

static void check_lossy(const uint8_t *data, size_t size)
{
    pm_buf_t l;
    pm_buf_init(&l);
    if (pm_json_escape_lossy(&l, (const char *)data, size) < 0)
        fail("pm_json_escape_lossy failed");
    json_t *j = load_string_literal("pm_json_escape_lossy(input)", &l);
    /* jansson's json_stringn() validates UTF-8: an independent check. */
    json_t *valid = json_stringn((const char *)data, size);
    if (valid) {
        check_escaped_bytes("pm_json_escape_lossy(valid input)", &l);
        if (json_string_length(j) != size || memcmp(json_string_value(j), data, size))
            fail("pm_json_escape_lossy changed valid UTF-8");
        pm_buf_t e;
        pm_buf_init(&e);
        if (pm_json_escape(&e, (const char *)data, size) < 0)
            abort();
        if (e.len != l.len || memcmp(e.data, l.data, l.len))
            fail("pm_json_escape and pm_json_escape_lossy differ on valid UTF-8");
        pm_buf_free(&e);
    } else if (!memmem(json_string_value(j), json_string_length(j), "\xef\xbf\xbd", 3)) {
        fail("pm_json_escape_lossy of invalid UTF-8 has no U+FFFD");
    }
    json_decref(valid);
    json_decref(j);
    pm_buf_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static FILE *report_file; /* PM_FUZZ_REPORT */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *rep = getenv("PM_FUZZ_REPORT");
    if (rep && *rep && !(report_file = fopen(rep, "a"))) {
        perror("fuzz_record: PM_FUZZ_REPORT");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cur_data = data;
    cur_size = size;

    /* Parse into a record whose buffers already hold an earlier line, as the
     * reader reuses one record for a whole file. The line is an exact-size
     * heap copy so ASan sees any read past its end. */
    pm_record_t rec;
    pm_record_init(&rec);
    static const char warm[] = "{\"text\": \"warm up\", \"meta\": {\"a\": [1, {\"b\": null}]}}";
    if (pm_record_parse(&rec, warm, sizeof warm - 1) != PM_REC_OK)
        fail("the warm-up line does not parse");
    char *line = malloc(size ? size : 1);
    if (!line)
        return 0;
    if (size)
        memcpy(line, data, size);
    int st = pm_record_parse(&rec, line, size);
    if (st < 0 || st >= PM_REC_TOO_LONG)
        fail("pm_record_parse returned %d", st);
    if (rec.text.data[rec.text.len] != '\0' || rec.meta.data[rec.meta.len] != '\0')
        fail("text/meta not NUL-terminated");
    if (report_file) {
        if (is_syntax_status(st))
            fprintf(report_file, "shallow: %s\n", pm_record_status_name(st));
        else
            fprintf(report_file, "deep\n");
        fflush(report_file);
    }
    if (st != PM_REC_OK) {
        if (rec.error_column < 1 || rec.error_column > size + 1)
            fail("status %s with error column %zu (line of %zu bytes)", pm_record_status_name(st),
                 rec.error_column, size);
        if (!rec.error_msg[0])
            fail("status %s without a message", pm_record_status_name(st));
    }

    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JFLAGS, &jerr);
    enum json_error_code jcode = doc ? json_error_unknown : json_error_code(&jerr);
    int diverges =
        !doc && (jcode == json_error_numeric_overflow || jcode == json_error_null_byte_in_key);
    if (doc && st == PM_REC_BAD_JSON && strncmp(rec.error_msg, "nesting too deep", 16) == 0)
        diverges = 1;
    if (doc && size && memchr(data, 0, size)) {
        /* A raw NUL byte is never valid JSON; jansson drops a NUL it read as
         * the lookahead after a number ("1\0", "[1\0]") and accepts. */
        if (!is_syntax_status(st))
            fail("a line with a raw NUL byte parses as %s", pm_record_status_name(st));
        diverges = 1;
    }

    if (!diverges) {
        if (!doc && !is_syntax_status(st))
            fail("jansson rejects the line (%s) but pm says %s", jerr.text,
                 pm_record_status_name(st));
        if (doc && is_syntax_status(st))
            fail("jansson accepts the line but pm says %s at column %zu: %s",
                 pm_record_status_name(st), rec.error_column, rec.error_msg);
        if (doc) {
            expect_t ex = {PM_REC_OK, NULL, NULL};
            if (json_is_string(doc)) /* a bare string is a document without meta */
                ex.text = json_incref(doc);
            else if (!json_is_object(doc))
                ex.status = PM_REC_NOT_OBJECT;
            else
                expected_status(data, size, &ex);
            if (st != ex.status)
                fail("status %s, expected %s (pm message: %s)", pm_record_status_name(st),
                     pm_record_status_name(ex.status), rec.error_msg);
            if (st == PM_REC_OK)
                check_extraction(&rec, &ex);
            json_decref(ex.text);
            json_decref(ex.meta);
        }
    }
    json_decref(doc);

    if (st == PM_REC_OK) {
        check_text_roundtrip(&rec.text);
        check_meta_fixed_point(&rec.meta);
    }
    check_lossy(data, size);

    free(line);
    pm_record_free(&rec);
    return 0;
}
