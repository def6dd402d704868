/* Streaming JSON array elements (jsonarray.h). */
#include "pilemix/jsonarray.h"

#include "pilemix/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20)
#define PREFIX_MAX 4096u

enum { ST_START, ST_FIRST, ST_NEXT, ST_AFTER_ELEM, ST_TAIL, ST_DONE };

struct pm_jsonarray {
    pm_stream_t *src;
    bool own;
    char *name;
    size_t max_elem, prefix_cap;
    uint8_t *buf;
    size_t pos, len;
    bool eof;
    uint64_t off;          /* stream offset of buf[pos] */
    uint64_t line, column; /* of buf[pos], 1-based */
    int state;
    int error;
    pm_error_t saved;
    pm_buf_t elem;
};

static int ja_fail(pm_jsonarray_t *ja, pm_error_t *err, int code, const char *msg, const char *hint)
{
    ja->error = code;
    pm_error_set(&ja->saved, code, ja->name, ja->line, "%s%s", msg, hint ? hint : "");
    ja->saved.column = ja->column;
    if (err)
        *err = ja->saved;
    return code;
}

/* 1: a byte is at buf[pos]; 0: end of data; < 0 error. */
static int more(pm_jsonarray_t *ja, pm_error_t *err)
{
    if (ja->pos < ja->len)
        return 1;
    if (ja->eof)
        return 0;
    pm_error_t e;
    pm_error_clear(&e);
    ssize_t k = pm_stream_read(ja->src, ja->buf, CHUNK, &e);
    if (k < 0) {
        ja->error = (int)k;
        pm_error_set(&ja->saved, (int)k, ja->name, 0, "%s", e.msg);
        ja->saved.offset = e.offset;
        if (err)
            *err = ja->saved;
        return (int)k;
    }
    ja->pos = 0;
    ja->len = (size_t)k;
    if (k == 0) {
        ja->eof = true;
        return 0;
    }
    return 1;
}

static inline void advance(pm_jsonarray_t *ja)
{
    uint8_t c = ja->buf[ja->pos++];
    ja->off++;
    if (c == '\n') {
        ja->line++;
        ja->column = 1;
    } else {
        ja->column++;
    }
}

static int skip_ws(pm_jsonarray_t *ja, pm_error_t *err)
{
    for (;;) {
        int m = more(ja, err);
        if (m <= 0)
            return m;
        uint8_t c = ja->buf[ja->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return 1;
        advance(ja);
    }
}

int pm_jsonarray_open(pm_jsonarray_t **out, pm_stream_t *src, bool own, const char *name,
                      size_t max_elem, pm_error_t *err)
{
    *out = NULL;
    pm_jsonarray_t *ja = calloc(1, sizeof *ja);
    if (!ja) {
        if (own)
            pm_stream_close(src);
        return pm_error_nomem(err);
    }
    ja->src = src;
    ja->own = own;
    ja->max_elem = max_elem ? max_elem : SIZE_MAX;
    ja->prefix_cap = ja->max_elem < PREFIX_MAX ? ja->max_elem : PREFIX_MAX;
    ja->line = ja->column = 1;
    pm_buf_init(&ja->elem);
    pm_error_clear(&ja->saved);
    ja->name = strdup(name ? name : "");
    ja->buf = malloc(CHUNK);
    if (!ja->name || !ja->buf) {
        pm_jsonarray_close(ja);
        return pm_error_nomem(err);
    }
    *out = ja;
    return 0;
}

/* Scan one element starting at buf[pos] into ja->elem, stopping before the
 * ',' or ']' that ends it at depth 0. */
static int scan_elem(pm_jsonarray_t *ja, pm_line_t *el, pm_error_t *err)
{
    pm_buf_reset(&ja->elem);
    uint64_t full = 0;
    int depth = 0;
    bool in_str = false, esc = false;
    for (;;) {
        int m = more(ja, err);
        if (m < 0)
            return m;
        if (m == 0)
            return ja_fail(ja, err, PM_EDATA,
                           "truncated JSON array (the data ends inside an element)", NULL);
        /* Take the longest run of this chunk that cannot end the element. */
        size_t start = ja->pos, i = ja->pos;
        bool end = false;
        for (; i < ja->len; i++) {
            uint8_t c = ja->buf[i];
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"')
                    in_str = false;
            } else if (c == '"') {
                in_str = true;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if ((c == ']' || c == '}') && depth > 0) {
                depth--;
            } else if (depth == 0 && (c == ',' || c == ']')) {
                end = true;
                break;
            }
        }
        size_t n = i - start;
        uint64_t before = full;
        full += n;
        if (before < ja->max_elem) {
            size_t keep = n;
            if (full > ja->max_elem) {
                if (ja->elem.len > ja->prefix_cap)
                    ja->elem.len = ja->prefix_cap;
                size_t room = ja->prefix_cap - ja->elem.len;
                keep = n < room ? n : room;
            }
            if (keep && pm_buf_append(&ja->elem, ja->buf + start, keep) < 0)
                return ja_fail(ja, err, PM_ENOMEM, "out of memory buffering an element", NULL);
        }
        while (ja->pos < i)
            advance(ja);
        if (end)
            break;
    }
    /* Trailing whitespace is not part of the element. */
    size_t len = ja->elem.len;
    while (len && (ja->elem.data[len - 1] == ' ' || ja->elem.data[len - 1] == '\n' ||
                   ja->elem.data[len - 1] == '\r' || ja->elem.data[len - 1] == '\t'))
        len--;
    el->data = ja->elem.data ? ja->elem.data : "";
    el->full_len = full;
    el->too_long = full > ja->max_elem;
    el->len = el->too_long ? (len < ja->prefix_cap ? len : ja->prefix_cap) : len;
    if (!el->too_long)
        el->full_len = len; /* whitespace before the ',' is not the element's */
    return 1;
}

int pm_jsonarray_next(pm_jsonarray_t *ja, pm_line_t *el, uint64_t *el_column, pm_error_t *err)
{
    if (ja->error) {
        if (err)
            *err = ja->saved;
        return ja->error;
    }
    int m;
    for (;;) {
        switch (ja->state) {
        case ST_START:
            if ((m = more(ja, err)) < 0)
                return m;
            if (m && ja->len - ja->pos >= 3 && !memcmp(ja->buf, "\xEF\xBB\xBF", 3)) {
                ja->pos += 3; /* a BOM: not data, and no column */
                ja->off += 3;
            }
            if ((m = skip_ws(ja, err)) < 0)
                return m;
            if (m == 0)
                return ja_fail(ja, err, PM_EDATA,
                               ja->off ? "no JSON array (only whitespace)"
                                       : "empty stream holds no JSON array",
                               " (a .json.zst file is one JSON array of documents)");
            if (ja->buf[ja->pos] != '[')
                return ja_fail(ja, err, PM_EDATA, "expected '[': not a JSON array",
                               ja->buf[ja->pos] == '{'
                                   ? " (it looks like JSON lines: name the file .jsonl.zst)"
                                   : " (a .json.zst file is one JSON array of documents)");
            advance(ja);
            ja->state = ST_FIRST;
            break;
        case ST_FIRST:
        case ST_NEXT:
            if ((m = skip_ws(ja, err)) < 0)
                return m;
            if (m == 0)
                return ja_fail(ja, err, PM_EDATA,
                               "truncated JSON array (the data ends before its ']')", NULL);
            if (ja->buf[ja->pos] == ']' && ja->state == ST_FIRST) {
                advance(ja);
                ja->state = ST_TAIL;
                break;
            }
            if (ja->buf[ja->pos] == ']' || ja->buf[ja->pos] == ',')
                return ja_fail(ja, err, PM_EDATA, "expected an array element", NULL);
            el->offset = ja->off;
            el->lineno = ja->line;
            *el_column = ja->column;
            if ((m = scan_elem(ja, el, err)) < 0)
                return m;
            ja->state = ST_AFTER_ELEM;
            return 1;
        case ST_AFTER_ELEM:
            /* scan_elem stopped at ',' or ']' */
            if (ja->buf[ja->pos] == ',') {
                advance(ja);
                ja->state = ST_NEXT;
            } else {
                advance(ja);
                ja->state = ST_TAIL;
            }
            break;
        case ST_TAIL:
            if ((m = skip_ws(ja, err)) < 0)
                return m;
            if (m)
                return ja_fail(ja, err, PM_EDATA, "trailing data after the JSON array", NULL);
            ja->state = ST_DONE;
            return 0;
        default: return 0;
        }
    }
}

void pm_jsonarray_close(pm_jsonarray_t *ja)
{
    if (!ja)
        return;
    if (ja->own)
        pm_stream_close(ja->src);
    free(ja->buf);
    free(ja->name);
    pm_buf_free(&ja->elem);
    free(ja);
}
