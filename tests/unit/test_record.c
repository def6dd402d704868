/* pm_record_parse / pm_json_escape: table cases, data cases from
 * tests/data/records/ (NAME.jsonl + NAME.expected), and an oracle property
 * test against jansson on random and mutated lines (seed printed; set
 * PM_TEST_SEED to replay). */
#include "pilemix/record.h"

#include <check.h>

#include "test_util.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------------- */
/* Table cases                                                             */

#define L(s) s, sizeof(s) - 1

typedef struct {
    const char *line;
    size_t len;
    int status;
    const char *text; /* NULL: not checked */
    size_t text_len;
    const char *meta; /* NULL: not checked */
    size_t column;    /* 0: not checked */
} rec_case_t;

static const rec_case_t cases[] = {
    /* valid */
    {L("{\"text\": \"hello\"}"), PM_REC_OK, L("hello"), "", 0},
    {L("{\"text\":\"a\\nb\\t\\\"\\\\\\/\\b\\f\\r\"}"), PM_REC_OK, L("a\nb\t\"\\/\b\f\r"), "", 0},
    {L("  {\"text\": \"x\"}  \r"), PM_REC_OK, L("x"), "", 0},
    {L("{\"text\":\"\\u00e9\\u4E2D\\ud83d\\ude00\"}"), PM_REC_OK,
     L("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"), "", 0},
    {L("{\"text\":\"a\\u0000b\"}"), PM_REC_OK, L("a\0b"), "", 0},
    {L("{\"text\":[\"a\",\"b\"]}"), PM_REC_OK, L("a\n\nb"), "", 0},
    {L("{\"text\":[ \"a\" , \"\" , \"c\" ]}"), PM_REC_OK, L("a\n\n\n\nc"), "", 0},
    {L("{\"text\":[]}"), PM_REC_OK, L(""), "", 0},
    {L("{\"text\":\"\"}"), PM_REC_OK, L(""), "", 0},
    {L("{\"text\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\x7f\"}"), PM_REC_OK,
     L("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\x7f"), "", 0},
    {L("{\"text\":\"x\",\"meta\":{\"pile_set_name\":\"Pile-CC\",\"url\":\"u\",\"n\":1.5e10,"
       "\"a\":[1,{\"b\":null}],\"e\":{},\"f\":[],\"t\":true,\"z\":-0}}"),
     PM_REC_OK, L("x"),
     "\"url\": \"u\", \"n\": 1.5e10, \"a\": [1, {\"b\": null}], \"e\": {}, \"f\": [], \"t\": true, "
     "\"z\": -0",
     0},
    {L("{\"meta\":{\"a\":\"\\u0001\\u2028\\u0085\\u007f\\n\"},\"text\":\"t\"}"), PM_REC_OK, L("t"),
     "\"a\": \"\\u0001\\u2028\\u0085\\u007f\\n\"", 0},
    {L("{\"text\":\"t\",\"meta\":null}"), PM_REC_OK, L("t"), "", 0},
    {L("{\"text\":\"t\",\"meta\":{\"pile_set_name\":\"x\"}}"), PM_REC_OK, L("t"), "", 0},
    {L("{\"text\":\"a\",\"meta\":{\"k\":\"v\",\"pile_set_name\":\"x\",\"j\":{\"pile_set_name\":1}}"
       "}"),
     PM_REC_OK, L("a"), "\"k\": \"v\", \"j\": {\"pile_set_name\": 1}", 0},
    {L("{\"text\":\"a\",\"meta\":{\"pile_set_nam\\u0065\":\"x\"}}"), PM_REC_OK, L("a"), "", 0},
    {L("{ \"text\" : \"a\" , \"meta\" : { \"k\" : [ 1 , 2 ] , \"m\" : { } } }"), PM_REC_OK, L("a"),
     "\"k\": [1, 2], \"m\": {}", 0},
    {L("{\"text\":\"t\",\"other\":[1,2,{\"x\":\"y\"}],\"n\":-0.0e-0,\"b\":false}"), PM_REC_OK,
     L("t"), "", 0},
    {L("{\"t\\u0065xt\":\"esc key\"}"), PM_REC_OK, L("esc key"), "", 0},
    {L("{\"text\":\"a\",\"meta\":{\"\\u00e9\":\"\\u00e9\"}}"), PM_REC_OK, L("a"),
     "\"\xc3\xa9\": \"\xc3\xa9\"", 0},
    /* syntax */
    {L(""), PM_REC_BAD_JSON, NULL, 0, NULL, 1},
    {L("   "), PM_REC_BAD_JSON, NULL, 0, NULL, 4},
    {L("{\"text\":\"a\",}"), PM_REC_BAD_JSON, NULL, 0, NULL, 13},
    {L("{\"text\":\"a\"} x"), PM_REC_BAD_JSON, NULL, 0, NULL, 14},
    {L("{\"text\":\"a\"}\0"), PM_REC_BAD_JSON, NULL, 0, NULL, 13},
    {L("{\"text\":01}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{\"text\":NaN}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{'text':'a'}"), PM_REC_BAD_JSON, NULL, 0, NULL, 2},
    {L("/*c*/{\"text\":\"a\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 1},
    {L("{\"text\":\"a\x01\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 11},
    {L("{\"text\":\"\\x\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 10},
    {L("{\"text\":\"\\u12\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 10},
    {L("{\"text\":\"\\u12g4\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 10},
    {L("{\"text\":\"abc"), PM_REC_BAD_JSON, NULL, 0, NULL, 13},
    {L("{\"text\":\"abc\\"), PM_REC_BAD_JSON, NULL, 0, NULL, 0},
    {L("{\"text\":tru}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{\"text\":-}"), PM_REC_BAD_JSON, NULL, 0, NULL, 10},
    {L("{\"text\":1.}"), PM_REC_BAD_JSON, NULL, 0, NULL, 11},
    {L("{\"text\":1e}"), PM_REC_BAD_JSON, NULL, 0, NULL, 11},
    {L("{\"text\":.5}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{\"text\":+1}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{\"text\" \"a\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 9},
    {L("{\"text\":\"a\" \"b\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 13},
    {L("{\"text\":\"a\",\"meta\":{\"x\":[1 2]}}"), PM_REC_BAD_JSON, NULL, 0, NULL, 0},
    {L("{\"text\":\"a\",\"meta\":{\"x\":{1:2}}}"), PM_REC_BAD_JSON, NULL, 0, NULL, 0},
    {L("\xef\xbb\xbf{\"text\":\"a\"}"), PM_REC_BAD_JSON, NULL, 0, NULL, 1},
    {L("{\"text\":5,\"x\":}"), PM_REC_BAD_JSON, NULL, 0, NULL, 0},   /* syntax beats semantics */
    {L("{\"text\":\"a\"}\xff"), PM_REC_BAD_JSON, NULL, 0, NULL, 13}, /* outside strings */
    /* UTF-8 */
    {L("{\"text\":\"\xff\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\x80\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xc0\xaf\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xc1\xbf\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xe0\x80\xaf\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xf0\x80\x80\xaf\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xed\xa0\x80\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xed\xbf\xbf\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xf4\x90\x80\x80\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xf5\x80\x80\x80\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xe2\x82\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"ab\xe2\x82"), PM_REC_BAD_UTF8, NULL, 0, NULL, 12},
    {L("{\"text\":\"\xf0\x9f\x98\"}"), PM_REC_BAD_UTF8, NULL, 0, NULL, 10},
    {L("{\"text\":\"\xe2\x82\xac\xed\x9f\xbf\xf4\x8f\xbf\xbf\"}"), PM_REC_OK,
     L("\xe2\x82\xac\xed\x9f\xbf\xf4\x8f\xbf\xbf"), "", 0},
    /* surrogates */
    {L("{\"text\":\"a\\ud800b\"}"), PM_REC_LONE_SURROGATE, NULL, 0, NULL, 11},
    {L("{\"text\":\"a\\udc00b\"}"), PM_REC_LONE_SURROGATE, NULL, 0, NULL, 11},
    {L("{\"text\":\"\\ud800\\u0041\"}"), PM_REC_LONE_SURROGATE, NULL, 0, NULL, 10},
    {L("{\"text\":\"\\ud800\\ud800\"}"), PM_REC_LONE_SURROGATE, NULL, 0, NULL, 10},
    {L("{\"text\":\"\\udbff\\udfff\"}"), PM_REC_OK, L("\xf4\x8f\xbf\xbf"), "", 0},
    {L("{\"text\":\"\\ud800\"}"), PM_REC_LONE_SURROGATE, NULL, 0, NULL, 10},
    /* shape */
    {L("[1,2]"), PM_REC_NOT_OBJECT, NULL, 0, NULL, 1},
    {L("\"s\""), PM_REC_OK, L("s"), "", 0}, /* a bare string: a document without meta */
    {L(" \"a\\u0042\" "), PM_REC_OK, L("aB"), "", 0},
    {L("\"s\" 1"), PM_REC_BAD_JSON, NULL, 0, NULL, 5},
    {L("42"), PM_REC_NOT_OBJECT, NULL, 0, NULL, 1},
    {L("null"), PM_REC_NOT_OBJECT, NULL, 0, NULL, 1},
    {L("[1,2"), PM_REC_BAD_JSON, NULL, 0, NULL, 5},
    {L("{}"), PM_REC_NO_TEXT, NULL, 0, NULL, 2},
    {L("{\"text\":null}"), PM_REC_NO_TEXT, NULL, 0, NULL, 9},
    {L("{\"Text\":\"a\"}"), PM_REC_NO_TEXT, NULL, 0, NULL, 0},
    {L("{\"text\":5}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 9},
    {L("{\"text\":{}}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 9},
    {L("{\"text\":true}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 9},
    {L("{\"text\":[\"a\",1]}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 14},
    {L("{\"text\":[\"a\",null]}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 14},
    {L("{\"text\":[[\"a\"]]}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 10},
    {L("{\"text\":\"a\",\"meta\":5}"), PM_REC_META_TYPE, NULL, 0, NULL, 20},
    {L("{\"text\":\"a\",\"meta\":[]}"), PM_REC_META_TYPE, NULL, 0, NULL, 20},
    {L("{\"text\":\"a\",\"meta\":\"s\"}"), PM_REC_META_TYPE, NULL, 0, NULL, 20},
    {L("{\"text\":\"a\",\"text\":\"b\"}"), PM_REC_DUPLICATE_KEY, NULL, 0, NULL, 13},
    {L("{\"text\":\"a\",\"meta\":{},\"meta\":{}}"), PM_REC_DUPLICATE_KEY, NULL, 0, NULL, 23},
    /* first semantic problem left to right */
    {L("{\"meta\":1,\"text\":2}"), PM_REC_META_TYPE, NULL, 0, NULL, 9},
    {L("{\"text\":2,\"meta\":1}"), PM_REC_TEXT_TYPE, NULL, 0, NULL, 9},
    {L("{\"meta\":1}"), PM_REC_META_TYPE, NULL, 0, NULL, 9},
};

START_TEST(test_table)
{
    const rec_case_t *c = &cases[_i];
    pm_record_t rec;
    pm_record_init(&rec);
    int st = pm_record_parse(&rec, c->line, c->len);
    ck_assert_msg(st == c->status, "case %d %.*s: got %s (%s at %zu), want %s", _i, (int)c->len,
                  c->line, pm_record_status_name(st), rec.error_msg, rec.error_column,
                  pm_record_status_name(c->status));
    if (st != PM_REC_OK) {
        ck_assert_msg(rec.error_msg[0] != '\0', "case %d: no message", _i);
        ck_assert_msg(rec.error_column >= 1, "case %d: no column", _i);
    }
    if (c->column)
        ck_assert_msg(rec.error_column == c->column, "case %d %.*s: column %zu (%s), want %zu", _i,
                      (int)c->len, c->line, rec.error_column, rec.error_msg, c->column);
    if (c->text) {
        ck_assert_uint_eq(rec.text.len, c->text_len);
        ck_assert(memcmp(rec.text.data, c->text, c->text_len) == 0);
        ck_assert(rec.text.data[rec.text.len] == '\0');
    }
    if (c->meta) {
        ck_assert_msg(rec.meta.len == strlen(c->meta) &&
                          memcmp(rec.meta.data, c->meta, rec.meta.len) == 0,
                      "case %d: meta [%s], want [%s]", _i, rec.meta.data, c->meta);
    }
    pm_record_free(&rec);
}
END_TEST

START_TEST(test_messages)
{
    pm_record_t rec;
    pm_record_init(&rec);
    ck_assert_int_eq(pm_record_parse(&rec, L("{\"text\":\"a\",\"x\":1 2}")), PM_REC_BAD_JSON);
    ck_assert_str_eq(rec.error_msg, "expected ',' or '}' after object member, found '2'");
    ck_assert_int_eq(pm_record_parse(&rec, L("{\"text\":\"\xff\"}")), PM_REC_BAD_UTF8);
    ck_assert_str_eq(rec.error_msg, "invalid UTF-8 byte 0xff");
    ck_assert_int_eq(pm_record_parse(&rec, L("{\"text\":\"\\ud800\"}")), PM_REC_LONE_SURROGATE);
    ck_assert_str_eq(rec.error_msg, "lone surrogate \\ud800");
    ck_assert_int_eq(pm_record_parse(&rec, L("{\"text\":\"\xed\xa0\x80\"}")), PM_REC_BAD_UTF8);
    ck_assert_str_eq(rec.error_msg, "UTF-8-encoded surrogate");
    /* A failed parse followed by a good one leaves no trace. */
    ck_assert_int_eq(pm_record_parse(&rec, L("{\"text\":\"ok\"}")), PM_REC_OK);
    ck_assert_str_eq(rec.text.data, "ok");
    ck_assert_uint_eq(rec.error_column, 0);
    pm_record_free(&rec);
}
END_TEST

START_TEST(test_status_names)
{
    const char *names[] = {
        "ok",           "invalid_json",    "not_object",      "invalid_utf8",  "lone_surrogate",
        "missing_text", "text_not_string", "meta_not_object", "duplicate_key", "record_too_long"};
    ck_assert_int_eq(PM_REC_STATUS_COUNT, 10);
    for (int i = 0; i < PM_REC_STATUS_COUNT; i++)
        ck_assert_str_eq(pm_record_status_name(i), names[i]);
    ck_assert_str_eq(pm_record_status_name(99), "unknown");
    ck_assert_str_eq(pm_record_status_name(-1), "unknown");
}
END_TEST

/* Depth: the top-level object counts as one level; 512 levels are fine. */
static char *nested(const char *head, int n, const char *tail, size_t *len)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + 2 * (size_t)n + tl + 1);
    memcpy(s, head, hl);
    memset(s + hl, '[', (size_t)n);
    memset(s + hl + n, ']', (size_t)n);
    memcpy(s + hl + 2 * (size_t)n, tail, tl + 1);
    *len = hl + 2 * (size_t)n + tl;
    return s;
}

START_TEST(test_depth)
{
    pm_record_t rec;
    pm_record_init(&rec);
    size_t len;
    char *s = nested("{\"text\":\"a\",\"x\":", 511, "}", &len);
    ck_assert_int_eq(pm_record_parse(&rec, s, len), PM_REC_OK);
    free(s);
    s = nested("{\"text\":\"a\",\"x\":", 512, "}", &len);
    ck_assert_int_eq(pm_record_parse(&rec, s, len), PM_REC_BAD_JSON);
    ck_assert_msg(strstr(rec.error_msg, "nesting too deep"), "%s", rec.error_msg);
    free(s);
    s = nested("", 512, "", &len);
    ck_assert_int_eq(pm_record_parse(&rec, s, len), PM_REC_NOT_OBJECT);
    free(s);
    /* A million levels: must not touch the C stack (no recursion). */
    s = nested("{\"text\":\"a\",\"meta\":{\"x\":", 1000000, "}}", &len);
    ck_assert_int_eq(pm_record_parse(&rec, s, len), PM_REC_BAD_JSON);
    free(s);
    s = nested("{\"text\":", 1000000, "}", &len);
    ck_assert_int_eq(pm_record_parse(&rec, s, len), PM_REC_BAD_JSON);
    free(s);
    pm_record_free(&rec);
}
END_TEST

/* The record's buffers are reused: no allocation once grown. */
START_TEST(test_reuse_and_long)
{
    pm_record_t rec;
    pm_record_init(&rec);
    size_t n = 3u << 20;
    char *line = malloc(n + 64);
    size_t k = (size_t)sprintf(line, "{\"text\":\"");
    for (size_t i = 0; i < n; i++)
        line[k++] = (char)('a' + i % 26);
    k += (size_t)sprintf(line + k, "\"}");
    ck_assert_int_eq(pm_record_parse(&rec, line, k), PM_REC_OK);
    ck_assert_uint_eq(rec.text.len, n);
    char *data = rec.text.data;
    ck_assert_int_eq(pm_record_parse(&rec, line, k), PM_REC_OK);
    ck_assert_ptr_eq(rec.text.data, data);
    free(line);
    pm_record_free(&rec);
    pm_record_free(&rec); /* idempotent */
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Data cases                                                              */

static int find_data_dir(char *out, size_t n, const char *sub)
{
    const char *cands[4];
    int nc = 0;
    char from_file[4096];
#ifdef PM_SOURCE_DIR
    static char from_macro[4096];
    snprintf(from_macro, sizeof from_macro, "%s/tests/data", PM_SOURCE_DIR);
    cands[nc++] = from_macro;
#endif
    char from_env[4096];
    if (getenv("PM_SOURCE_DIR")) {
        snprintf(from_env, sizeof from_env, "%s/tests/data", getenv("PM_SOURCE_DIR"));
        cands[nc++] = from_env;
    }
    /* __FILE__ is tests/unit/test_record.c, maybe relative to the build dir. */
    snprintf(from_file, sizeof from_file, "%s", __FILE__);
    char *slash = strrchr(from_file, '/');
    if (slash) {
        snprintf(slash, sizeof from_file - (size_t)(slash - from_file), "/../data");
        cands[nc++] = from_file;
    }
    cands[nc++] = "tests/data";
    for (int i = 0; i < nc; i++) {
        snprintf(out, n, "%s/%s", cands[i], sub);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    return -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t k;
    while ((k = fread(s + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    *len = n;
    return s;
}

START_TEST(test_data_files)
{
    char dir[4096];
    ck_assert_msg(find_data_dir(dir, sizeof dir, "records") == 0, "tests/data/records not found");
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    pm_record_t rec;
    pm_record_init(&rec);
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 7 || strcmp(e->d_name + nl - 6, ".jsonl") != 0)
            continue;
        char path[8192], exp_path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir, (int)(nl - 6), e->d_name);
        size_t len = 0, elen = 0;
        char *line = slurp(path, &len);
        char *exp = slurp(exp_path, &elen);
        ck_assert_msg(line && exp, "cannot read %s or its .expected", path);
        /* One line per file: drop the terminating newline, as the reader does. */
        if (len && line[len - 1] == '\n')
            len--;
        while (elen && (exp[elen - 1] == '\n' || exp[elen - 1] == ' '))
            elen--;
        exp[elen] = '\0';
        int st = pm_record_parse(&rec, line, len);
        ck_assert_msg(strcmp(pm_record_status_name(st), exp) == 0,
                      "%s: got %s (%s at col %zu), want %s", e->d_name, pm_record_status_name(st),
                      rec.error_msg, rec.error_column, exp);
        free(line);
        free(exp);
        n++;
    }
    closedir(d);
    pm_record_free(&rec);
    ck_assert_int_ge(n, 40);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Random generation                                                       */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64: reproducible from the printed seed on every platform. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

static uint64_t test_seed(void)
{
    const char *s = getenv("PM_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) ^ ((uint64_t)clock() << 32));
    return seed;
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf_t *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_utf8(sbuf_t *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sb_put(b, o, n);
}

/* A random scalar value (not a surrogate), biased to the interesting ones. */
static uint32_t rand_cp(void)
{
    switch (rn(12)) {
    case 0: return rn(0x20);        /* C0 controls */
    case 1: return 0x7f + rn(0x21); /* DEL and C1 */
    case 2: return 0x2028 + rn(2);
    case 3: return 0x80 + rn(0x780); /* 2-byte */
    case 4: {
        uint32_t c = 0x800 + rn(0xf800);
        return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
    }
    case 5: return 0x10000 + rn(0x100000); /* 4-byte */
    case 6: return rn(2) ? 0x10ffff : 0xffff;
    default: return 0x20 + rn(0x5f); /* printable ASCII */
    }
}

static void gen_ws(sbuf_t *b)
{
    if (rn(4) == 0) {
        static const char ws[] = " \t\r\n";
        unsigned n = 1 + rn(3);
        for (unsigned i = 0; i < n; i++)
            sb_put(b, &ws[rn(4)], 1);
    }
}

/* jansson refuses NUL in object keys (a known divergence): keep keys clean
 * so that fewer lines fall outside the comparison. */
static int gen_in_key;

static void gen_string(sbuf_t *b)
{
    static const char hex_lo[] = "0123456789abcdef", hex_up[] = "0123456789ABCDEF";
    unsigned len = rn(8) == 0 ? 100 + rn(2000) : rn(24);
    sb_put(b, "\"", 1);
    for (unsigned i = 0; i < len; i++) {
        unsigned kind = rn(20);
        if (kind < 11) {
            char c = (char)(0x20 + rn(0x5f));
            if (c == '"' || c == '\\')
                c = 'q';
            sb_put(b, &c, 1);
        } else if (kind < 13) {
            static const char *esc[] = {"\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r"};
            sb_str(b, esc[rn(8)]);
        } else if (kind < 16) {
            uint32_t cp = rand_cp();
            if (cp < 0x20 || rn(2)) {
                /* \uXXXX, random hex case; rarely \u0000 */
                if (cp == 0 && (gen_in_key || rn(4)))
                    cp = 1;
                if (cp > 0xffff) {
                    uint32_t v = cp - 0x10000;
                    uint32_t hi = 0xd800 + (v >> 10), lo = 0xdc00 + (v & 0x3ff);
                    const char *h = rn(2) ? hex_lo : hex_up;
                    char e[13] = {
                        '\\', 'u', h[hi >> 12], h[(hi >> 8) & 15], h[(hi >> 4) & 15], h[hi & 15],
                        '\\', 'u', h[lo >> 12], h[(lo >> 8) & 15], h[(lo >> 4) & 15], h[lo & 15],
                        0};
                    sb_str(b, e);
                } else {
                    const char *h = rn(2) ? hex_lo : hex_up;
                    char e[7] = {'\\',       'u', h[cp >> 12], h[(cp >> 8) & 15], h[(cp >> 4) & 15],
                                 h[cp & 15], 0};
                    sb_str(b, e);
                }
            } else {
                sb_utf8(b, cp);
            }
        } else if (kind < 18) {
            sb_utf8(b, 0x80 + rn(0x10000 - 0x80) % (0xd800 - 0x80));
        } else if (kind == 18) {
            sb_str(b, gen_in_key ? "\\u0001" : "\\u0000");
        } else {
            sb_str(b, rn(2) ? "\xf0\x9f\x98\x80" : "\\ud83d\\ude00");
        }
    }
    sb_put(b, "\"", 1);
}

static void gen_number(sbuf_t *b)
{
    char tmp[64];
    switch (rn(7)) {
    case 0: snprintf(tmp, sizeof tmp, "%u", rn(100)); break;
    case 1: snprintf(tmp, sizeof tmp, "-%u", rn(1000000)); break;
    case 2: snprintf(tmp, sizeof tmp, "%u.%u", rn(1000), rn(1000)); break;
    case 3: snprintf(tmp, sizeof tmp, "%ue%s%u", 1 + rn(9), rn(2) ? "-" : "+", rn(30)); break;
    case 4: snprintf(tmp, sizeof tmp, "-0.%uE%u", rn(100), rn(5)); break;
    case 5: snprintf(tmp, sizeof tmp, "%s", rn(2) ? "0" : "-0"); break;
    case 6:
        /* Rarely out of jansson's int64/double range (a known divergence). */
        if (rn(40) == 0)
            snprintf(tmp, sizeof tmp, "%s", rn(2) ? "123456789012345678901234567890" : "-1e400");
        else
            snprintf(tmp, sizeof tmp, "%" PRIu64, rnd() >> (1 + rn(63)));
        break;
    default: break;
    }
    sb_str(b, tmp);
}

static void gen_key(sbuf_t *b)
{
    static const char *keys[] = {"\"a\"",          "\"url\"",  "\"pile_set_name\"",
                                 "\"id\"",         "\"\"",     "\"\xc3\xa9t\xc3\xa9\"",
                                 "\"t\\u0065xt\"", "\"meta\"", "\"text\"",
                                 "\"k\\n\""};
    if (rn(3)) {
        sb_str(b, keys[rn(10)]);
    } else {
        gen_in_key = 1;
        gen_string(b);
        gen_in_key = 0;
    }
}

static void gen_value(sbuf_t *b, int depth)
{
    unsigned k = rn(depth > 4 ? 6 : 9);
    switch (k) {
    case 0:
    case 1: gen_string(b); break;
    case 2:
    case 3: gen_number(b); break;
    case 4: sb_str(b, "true"); break;
    case 5: sb_str(b, rn(2) ? "false" : "null"); break;
    case 6:
    case 7: {
        unsigned n = rn(5);
        sb_put(b, "[", 1);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            gen_ws(b);
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        sb_put(b, "]", 1);
        break;
    }
    default: {
        unsigned n = rn(5);
        sb_put(b, "{", 1);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            gen_ws(b);
            gen_key(b);
            gen_ws(b);
            sb_put(b, ":", 1);
            gen_ws(b);
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        sb_put(b, "}", 1);
        break;
    }
    }
}

static void gen_member(sbuf_t *b, int which)
{
    gen_ws(b);
    if (which == 0) {
        sb_str(b, rn(10) ? "\"text\"" : "\"t\\u0065xt\"");
        gen_ws(b);
        sb_put(b, ":", 1);
        gen_ws(b);
        unsigned k = rn(40);
        if (k < 30) {
            gen_string(b);
        } else if (k < 35) {
            unsigned n = rn(4);
            sb_put(b, "[", 1);
            for (unsigned i = 0; i < n; i++) {
                if (i)
                    sb_put(b, ",", 1);
                gen_ws(b);
                if (rn(12) == 0)
                    gen_value(b, 3);
                else
                    gen_string(b);
                gen_ws(b);
            }
            sb_put(b, "]", 1);
        } else if (k < 37) {
            sb_str(b, "null");
        } else {
            gen_value(b, 3);
        }
    } else if (which == 1) {
        sb_str(b, "\"meta\"");
        gen_ws(b);
        sb_put(b, ":", 1);
        gen_ws(b);
        unsigned k = rn(20);
        if (k < 16) {
            unsigned n = rn(6);
            sb_put(b, "{", 1);
            for (unsigned i = 0; i < n; i++) {
                if (i)
                    sb_put(b, ",", 1);
                gen_ws(b);
                if (rn(4) == 0)
                    sb_str(b, "\"pile_set_name\"");
                else
                    gen_key(b);
                gen_ws(b);
                sb_put(b, ":", 1);
                gen_ws(b);
                if (rn(300) == 0) {
                    /* deep, past our limit but within jansson's */
                    unsigned d = 505 + rn(20);
                    for (unsigned j = 0; j < d; j++)
                        sb_put(b, "[", 1);
                    for (unsigned j = 0; j < d; j++)
                        sb_put(b, "]", 1);
                } else {
                    gen_value(b, 1);
                }
                gen_ws(b);
            }
            sb_put(b, "}", 1);
        } else if (k < 18) {
            sb_str(b, "null");
        } else {
            gen_value(b, 3);
        }
    } else {
        gen_key(b);
        gen_ws(b);
        sb_put(b, ":", 1);
        gen_ws(b);
        gen_value(b, 1);
    }
    gen_ws(b);
}

static void gen_line(sbuf_t *b)
{
    b->n = 0;
    gen_ws(b);
    if (rn(30) == 0) {
        gen_value(b, 0);
    } else {
        int order[6], n = 0;
        if (rn(30))
            order[n++] = 0;
        if (rn(3))
            order[n++] = 1;
        unsigned extra = rn(3);
        for (unsigned i = 0; i < extra; i++)
            order[n++] = 2;
        if (rn(40) == 0)
            order[n++] = (int)rn(2); /* duplicate text or meta */
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rn((unsigned)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        sb_put(b, "{", 1);
        for (int i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            gen_member(b, order[i]);
        }
        if (n == 0)
            gen_ws(b);
        sb_put(b, "}", 1);
    }
    gen_ws(b);
    if (b->n == 0)
        sb_put(b, " ", 1);
}

static void mutate(sbuf_t *b)
{
    static const char interesting[] = "\"\\,:{}[]0-e.1 \tuntf";
    unsigned m = 1 + rn(3);
    for (unsigned i = 0; i < m && b->n; i++) {
        size_t at = rn((unsigned)b->n);
        unsigned kind = rn(10);
        char c;
        switch (rn(4)) {
        case 0: c = (char)rn(256); break;
        case 1: c = (char)(0x80 + rn(0x80)); break;
        case 2: c = (char)rn(0x20); break;
        default: c = interesting[rn(sizeof interesting - 1)]; break;
        }
        if (kind < 4) {
            b->p[at] = c;
        } else if (kind < 6) {
            memmove(b->p + at, b->p + at + 1, b->n - at - 1);
            b->n--;
        } else if (kind < 8) {
            sb_put(b, " ", 1);
            memmove(b->p + at + 1, b->p + at, b->n - at - 1);
            b->p[at] = c;
        } else if (kind < 9) {
            b->n = at;
        } else {
            /* swap two bytes */
            size_t at2 = rn((unsigned)b->n);
            char t = b->p[at];
            b->p[at] = b->p[at2];
            b->p[at2] = t;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Oracle                                                                  */

static int is_syntax_class(int st)
{
    return st == PM_REC_BAD_JSON || st == PM_REC_BAD_UTF8 || st == PM_REC_LONE_SURROGATE;
}

/* Messages of jansson errors on input that RFC 8259 allows: numbers out of
 * jansson's int64/double range, and NUL (\u0000) in object keys. We accept
 * these; they are counted as "range divergences". */
static int jansson_only_limit(const json_error_t *je)
{
    return strstr(je->text, "too big integer") || strstr(je->text, "too big negative integer") ||
           strstr(je->text, "real number overflow") || strstr(je->text, "NUL byte in object key");
}

/* Expected semantic status from jansson's DOM (insertion-ordered keys). */
static int expected_status(json_t *root)
{
    if (json_is_string(root))
        return PM_REC_OK;
    if (!json_is_object(root))
        return PM_REC_NOT_OBJECT;
    const char *key;
    json_t *v;
    int have_text = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "text") == 0) {
            have_text = 1;
            if (json_is_null(v))
                return PM_REC_NO_TEXT;
            if (json_is_array(v)) {
                for (size_t i = 0; i < json_array_size(v); i++)
                    if (!json_is_string(json_array_get(v, i)))
                        return PM_REC_TEXT_TYPE;
            } else if (!json_is_string(v)) {
                return PM_REC_TEXT_TYPE;
            }
        } else if (strcmp(key, "meta") == 0) {
            if (!json_is_null(v) && !json_is_object(v))
                return PM_REC_META_TYPE;
        }
    }
    return have_text ? PM_REC_OK : PM_REC_NO_TEXT;
}

static void check_ok_record(const pm_record_t *rec, json_t *root, const char *line, size_t len)
{
    json_t *t = json_is_string(root) ? root : json_object_get(root, "text");
    sbuf_t want = {0};
    sb_put(&want, "", 0);
    if (json_is_string(t)) {
        sb_put(&want, json_string_value(t), json_string_length(t));
    } else {
        for (size_t i = 0; i < json_array_size(t); i++) {
            json_t *s = json_array_get(t, i);
            if (i)
                sb_put(&want, "\n\n", 2);
            sb_put(&want, json_string_value(s), json_string_length(s));
        }
    }
    ck_assert_msg(rec->text.len == want.n && memcmp(rec->text.data, want.p, want.n) == 0,
                  "text differs from jansson's for line: %.*s", (int)len, line);
    free(want.p);

    for (size_t i = 0; i < rec->meta.len; i++) {
        unsigned char c = (unsigned char)rec->meta.data[i];
        ck_assert_msg(c >= 0x20 && c != 0x7f, "raw control byte 0x%02x in meta", c);
    }
    json_t *m = json_object_get(root, "meta");
    json_t *want_meta = json_is_object(m) ? json_deep_copy(m) : json_object();
    while (json_object_get(want_meta, "pile_set_name"))
        json_object_del(want_meta, "pile_set_name");
    sbuf_t wrapped = {0};
    sb_put(&wrapped, "{", 1);
    sb_put(&wrapped, rec->meta.data, rec->meta.len);
    sb_put(&wrapped, "}", 1);
    json_error_t je;
    json_t *got = json_loadb(wrapped.p, wrapped.n, JSON_ALLOW_NUL, &je);
    ck_assert_msg(got != NULL, "canonical meta does not parse (%s): %s", je.text, wrapped.p);
    ck_assert_msg(json_equal(got, want_meta), "canonical meta differs: %s\nline: %.*s", wrapped.p,
                  (int)len, line);
    json_decref(got);
    json_decref(want_meta);
    free(wrapped.p);
}

typedef struct {
    long total, valid, invalid, diverge_depth, diverge_limits;
    long by_status[PM_REC_STATUS_COUNT];
} oracle_stats_t;

static void oracle_one(pm_record_t *rec, const char *line, size_t len, oracle_stats_t *stats)
{
    int st = pm_record_parse(rec, line, len);
    ck_assert_int_ge(st, 0);
    stats->total++;
    stats->by_status[st]++;
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (!is_syntax_class(st) && jansson_only_limit(&je)) {
            stats->diverge_limits++;
            return;
        }
        ck_assert_msg(is_syntax_class(st), "jansson rejects (%s, col %d) but we say %s: %.*s",
                      je.text, je.column, pm_record_status_name(st), (int)len, line);
        stats->invalid++;
        return;
    }
    if (st == PM_REC_BAD_JSON && memchr(line, '\0', len)) {
        /* jansson 2.14 bug: a raw NUL right after a number ends the number's
         * token and is then ignored ({"a":3\0} loads). A raw NUL is never
         * valid JSON. */
        stats->diverge_limits++;
        json_decref(root);
        return;
    }
    if (st == PM_REC_BAD_JSON && strstr(rec->error_msg, "nesting too deep")) {
        /* Documented: our depth limit is 512, jansson's 2048. */
        stats->diverge_depth++;
        json_decref(root);
        return;
    }
    ck_assert_msg(!is_syntax_class(st), "jansson accepts but we say %s (%s at col %zu): %.*s",
                  pm_record_status_name(st), rec->error_msg, rec->error_column, (int)len, line);
    stats->valid++;
    json_t *strict =
        json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (st == PM_REC_DUPLICATE_KEY) {
        ck_assert_msg(strict == NULL, "we report a duplicate key jansson does not see: %.*s",
                      (int)len, line);
    } else if (strict) {
        int want = expected_status(root);
        ck_assert_msg(st == want, "we say %s (%s), jansson's DOM says %s: %.*s",
                      pm_record_status_name(st), rec->error_msg, pm_record_status_name(want),
                      (int)len, line);
    }
    if (st == PM_REC_OK)
        check_ok_record(rec, root, line, len);
    json_decref(strict);
    json_decref(root);
}

START_TEST(test_oracle_jansson)
{
    uint64_t seed = test_seed();
    printf("test_oracle_jansson: seed %" PRIu64 " (set PM_TEST_SEED to replay)\n", seed);
    fflush(stdout);
    rng_state = seed;
    pm_record_t rec;
    pm_record_init(&rec);
    oracle_stats_t stats = {0};
    sbuf_t b = {0};
    for (int i = 0; i < 30000; i++) {
        gen_line(&b);
        if (rn(2))
            mutate(&b);
        oracle_one(&rec, b.p, b.n, &stats);
    }
    printf("test_oracle_jansson: %ld lines, %ld valid, %ld invalid, %ld depth and %ld range "
           "divergences;"
           " ok %ld, invalid_json %ld, invalid_utf8 %ld, lone_surrogate %ld, not_object %ld,"
           " missing_text %ld, text_not_string %ld, meta_not_object %ld, duplicate_key %ld\n",
           stats.total, stats.valid, stats.invalid, stats.diverge_depth, stats.diverge_limits,
           stats.by_status[PM_REC_OK], stats.by_status[PM_REC_BAD_JSON],
           stats.by_status[PM_REC_BAD_UTF8], stats.by_status[PM_REC_LONE_SURROGATE],
           stats.by_status[PM_REC_NOT_OBJECT], stats.by_status[PM_REC_NO_TEXT],
           stats.by_status[PM_REC_TEXT_TYPE], stats.by_status[PM_REC_META_TYPE],
           stats.by_status[PM_REC_DUPLICATE_KEY]);
    /* The generator must exercise both sides and every reason. */
    ck_assert_int_gt(stats.by_status[PM_REC_OK], 3000);
    for (int s = PM_REC_BAD_JSON; s < PM_REC_TOO_LONG; s++)
        ck_assert_msg(stats.by_status[s] > 0, "generator never produced %s",
                      pm_record_status_name(s));
    free(b.p);
    pm_record_free(&rec);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Escaping                                                                */

static void esc_is(const char *in, size_t n, const char *want)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_json_escape(&b, in, n), 0);
    ck_assert_msg(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
                  "escape gave [%s], want [%s]", b.data, want);
    pm_buf_free(&b);
}

static void lossy_is(const char *in, size_t n, const char *want)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_json_escape_lossy(&b, in, n), 0);
    ck_assert_msg(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
                  "lossy gave [%s], want [%s]", b.data, want);
    pm_buf_free(&b);
}

START_TEST(test_escape_fixed)
{
    esc_is(L(""), "\"\"");
    esc_is(L("plain"), "\"plain\"");
    esc_is(L("a\"b\\c/"), "\"a\\\"b\\\\c/\"");
    esc_is(L("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
    esc_is(L("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    esc_is(L("a\0b"), "\"a\\u0000b\"");
    esc_is(L("\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0"), "\"\\u0080\\u0085\\u009f\xc2\xa0\"");
    esc_is(L("\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xa7\xe2\x82\xac"),
           "\"\\u2028\\u2029\xe2\x80\xa7\xe2\x82\xac\"");
    esc_is(L("\xf0\x9f\x98\x80\xc3\xa9"), "\"\xf0\x9f\x98\x80\xc3\xa9\"");
    /* appends */
    pm_buf_t b;
    pm_buf_init(&b);
    pm_buf_append_str(&b, "x=");
    ck_assert_int_eq(pm_json_escape(&b, "y", 1), 0);
    ck_assert_str_eq(b.data, "x=\"y\"");
    pm_buf_free(&b);
}
END_TEST

START_TEST(test_escape_lossy_fixed)
{
    lossy_is(L("ok\n\xc2\x85"), "\"ok\\n\\u0085\"");
    lossy_is(L("a\xff"
               "b"),
             "\"a\xef\xbf\xbd"
             "b\"");
    lossy_is(L("\xe2\x82"), "\"\xef\xbf\xbd\"");
    lossy_is(L("\xf0\x9f\x98x"), "\"\xef\xbf\xbdx\"");
    lossy_is(L("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    lossy_is(L("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    lossy_is(L("\xe2\x80\xa8\xe2"), "\"\\u2028\xef\xbf\xbd\"");
    lossy_is(L("\xf4\x90\x80\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}
END_TEST

static void assert_clean_json_string(const pm_buf_t *b)
{
    const unsigned char *s = (const unsigned char *)b->data;
    for (size_t i = 0; i < b->len; i++) {
        ck_assert_msg(s[i] >= 0x20 && s[i] != 0x7f, "raw control byte 0x%02x at %zu", s[i], i);
        if (s[i] == 0xc2 && i + 1 < b->len)
            ck_assert_msg(s[i + 1] < 0x80 || s[i + 1] > 0x9f, "raw C1 control at %zu", i);
        if (s[i] == 0xe2 && i + 2 < b->len)
            ck_assert_msg(!(s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)),
                          "raw U+2028/9 at %zu", i);
    }
}

START_TEST(test_escape_roundtrip)
{
    uint64_t seed = test_seed();
    printf("test_escape_roundtrip: seed %" PRIu64 "\n", seed);
    fflush(stdout);
    rng_state = seed;
    sbuf_t s = {0};
    pm_buf_t out, line;
    pm_buf_init(&out);
    pm_buf_init(&line);
    pm_record_t rec;
    pm_record_init(&rec);
    for (int iter = 0; iter < 5000; iter++) {
        s.n = 0;
        sb_put(&s, "", 0);
        unsigned n = rn(60);
        for (unsigned i = 0; i < n; i++)
            sb_utf8(&s, rand_cp());
        pm_buf_reset(&out);
        ck_assert_int_eq(pm_json_escape(&out, s.p, s.n), 0);
        assert_clean_json_string(&out);
        json_error_t je;
        json_t *j = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        ck_assert_msg(j && json_is_string(j), "jansson rejects escaped string (%s): %s", je.text,
                      out.data);
        ck_assert(json_string_length(j) == s.n && memcmp(json_string_value(j), s.p, s.n) == 0);
        json_decref(j);
        /* and through our own parser */
        pm_buf_reset(&line);
        pm_buf_append_str(&line, "{\"text\":");
        pm_buf_append(&line, out.data, out.len);
        pm_buf_append_str(&line, "}");
        ck_assert_int_eq(pm_record_parse(&rec, line.data, line.len), PM_REC_OK);
        ck_assert(rec.text.len == s.n && memcmp(rec.text.data, s.p, s.n) == 0);
        /* lossy equals strict on valid input */
        pm_buf_t l2;
        pm_buf_init(&l2);
        ck_assert_int_eq(pm_json_escape_lossy(&l2, s.p, s.n), 0);
        ck_assert(l2.len == out.len && memcmp(l2.data, out.data, out.len) == 0);
        pm_buf_free(&l2);
    }
    /* Lossy on random bytes: always a valid JSON string. */
    for (int iter = 0; iter < 5000; iter++) {
        s.n = 0;
        sb_put(&s, "", 0);
        unsigned n = rn(40);
        for (unsigned i = 0; i < n; i++) {
            char c = (char)(rn(3) ? rn(256) : 0x80 + rn(0x40));
            sb_put(&s, &c, 1);
        }
        pm_buf_reset(&out);
        ck_assert_int_eq(pm_json_escape_lossy(&out, s.p, s.n), 0);
        assert_clean_json_string(&out);
        json_error_t je;
        json_t *j = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        ck_assert_msg(j && json_is_string(j), "jansson rejects lossy output (%s)", je.text);
        json_decref(j);
    }
    free(s.p);
    pm_buf_free(&out);
    pm_buf_free(&line);
    pm_record_free(&rec);
}
END_TEST

/* The escaper's rules written the slow way, one byte at a time, for any
 * bytes: the fast path (16 or 8 bytes a step, chunked reservations) must
 * give exactly this. */
static void escape_reference(pm_buf_t *out, const unsigned char *s, size_t n)
{
    pm_buf_append_char(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *two = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\t' ? "\\t"
                          : c == '\r' ? "\\r"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        unsigned cp = 0;
        size_t used = 1;
        if (two) {
            pm_buf_append(out, two, 2);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            cp = c;
        else if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            cp = s[i + 1], used = 2;
        else if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 &&
                 (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
            cp = 0x2000u + s[i + 2] - 0x80u, used = 3;
        else {
            /* a byte copied as it is, with the plain ones after it */
            size_t j = i + 1;
            while (j < n && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] != 0x7f &&
                   s[j] != 0xc2 && s[j] != 0xe2)
                j++;
            pm_buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        pm_buf_printf(out, "\\u%04x", cp);
        i += used;
    }
    pm_buf_append_char(out, '"');
}

static void escape_matches_reference(const unsigned char *s, size_t n)
{
    pm_buf_t got, want;
    pm_buf_init(&got);
    pm_buf_init(&want);
    ck_assert_int_eq(pm_json_escape(&got, (const char *)s, n), 0);
    escape_reference(&want, s, n);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
        size_t k = 0;
        while (k < got.len && k < want.len && got.data[k] == want.data[k])
            k++;
        ck_abort_msg("escape of %zu bytes differs from the reference at output byte %zu "
                     "(lengths %zu, %zu)",
                     n, k, got.len, want.len);
    }
    ck_assert_uint_eq(got.data[got.len], '\0');
    pm_buf_free(&got);
    pm_buf_free(&want);
}

START_TEST(test_escape_matches_reference)
{
    static const char *const pieces[] = {
        "a",
        "b",
        "xyz",
        " ",
        "\"",
        "\\",
        "\n",
        "\t",
        "\r",
        "\b",
        "\f",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc2\x80",
        "\xc2\x9f",
        "\xc2\xa0",
        "\xc3\xa9",
        "\xe2\x80\xa8",
        "\xe2\x80\xa9",
        "\xe2\x80\xa7",
        "\xe2\x82\xac",
        "\xe2\x80",
        "\xc2",
        "\xe2",
        "\xf0\x9f\x98\x80",
        "\xff",
        "\x80",
        "/",
    };
    const size_t n_pieces = sizeof pieces / sizeof *pieces;
    uint64_t seed = test_seed();
    rng_state = seed ^ 0xe5c;
    sbuf_t s = {0};
    /* Short strings: specials at every position of a 16- and 8-byte step,
     * runs of plain bytes of every length between them. */
    for (int iter = 0; iter < 20000; iter++) {
        s.n = 0;
        sb_put(&s, "", 0);
        unsigned parts = rn(40);
        for (unsigned k = 0; k < parts; k++) {
            if (rn(2)) {
                unsigned run = rn(40);
                for (unsigned r = 0; r < run; r++)
                    sb_put(&s, &"abcdefgh"[rn(8)], 1);
            } else {
                const char *p = pieces[rn((unsigned)n_pieces)];
                sb_put(&s, p, strlen(p));
            }
        }
        escape_matches_reference((const unsigned char *)s.p, s.n);
    }
    /* Long strings: the output is reserved 64 KiB of input at a time; put
     * every multi-byte special across that boundary. */
    const size_t chunk = 64u << 10;
    unsigned char *big = malloc(2 * chunk + 8);
    ck_assert_ptr_nonnull(big);
    for (size_t k = 0; k < n_pieces; k++)
        for (size_t back = 0; back <= 3; back++) {
            memset(big, 'q', 2 * chunk + 8);
            size_t len = strlen(pieces[k]);
            memcpy(big + chunk - back, pieces[k], len);
            escape_matches_reference(big, 2 * chunk + 8);
            escape_matches_reference(big, chunk - back + len); /* special at the very end */
        }
    /* All specials: the 6-bytes-per-byte worst case, over two chunks. */
    memset(big, 0x01, 2 * chunk);
    escape_matches_reference(big, 2 * chunk);
    free(big);
    free(s.p);
}
END_TEST

/* pm_utf8_valid_prefix agrees with jansson (which refuses to encode a
 * string that is not UTF-8) on random and near-UTF-8 bytes; the plan relies
 * on it to refuse file names jansson could not put in the manifest. */
START_TEST(test_utf8_valid_matches_jansson)
{
    uint64_t s = pm_test_seed();
    static const unsigned char pieces[][4] = {{'a'},
                                              {0xc3, 0xa9},
                                              {0xe2, 0x82, 0xac},
                                              {0xf0, 0x9f, 0x98, 0x80},
                                              {0xc0},
                                              {0xe0, 0x80},
                                              {0xed, 0xa0},
                                              {0xf4, 0x90},
                                              {0xff},
                                              {0x80},
                                              {0xc2},
                                              {0xf0, 0x90, 0x80}};
    static const size_t lens[] = {1, 2, 3, 4, 1, 2, 2, 2, 1, 1, 1, 3};
    for (int round = 0; round < 20000; round++) {
        char buf[64];
        size_t n = 0;
        int parts = (int)(pm_test_rand(&s) % 6);
        for (int k = 0; k < parts; k++) {
            size_t which = pm_test_rand(&s) % (round % 2 ? 12 : 4); /* half: valid pieces only */
            if (round % 7 == 0) {                                   /* and some raw random bytes */
                buf[n++] = (char)(pm_test_rand(&s) | 1);
                continue;
            }
            memcpy(buf + n, pieces[which], lens[which]);
            n += lens[which];
        }
        size_t valid = pm_utf8_valid_prefix(buf, n);
        json_t *j = json_stringn(buf, n);
        ck_assert_msg((valid == n) == (j != NULL), "round %d: prefix %zu of %zu, jansson %s", round,
                      valid, n, j ? "accepts" : "refuses");
        json_decref(j);
        if (valid < n) /* the prefix itself is valid */
            ck_assert_uint_eq(pm_utf8_valid_prefix(buf, valid), valid);
    }
}
END_TEST

static void shown_is(const char *s, size_t n, const char *want)
{
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_escape_bytes(&b, s, n), 0);
    ck_assert_str_eq(b.data ? b.data : "", want);
    pm_buf_free(&b);
}

START_TEST(test_escape_bytes)
{
    shown_is(L("caf\xe9.jsonl"), "caf\\xE9.jsonl");
    shown_is(L("caf\xc3\xa9.jsonl"), "caf\xc3\xa9.jsonl");
    shown_is(L("a\\b\n\x7f"), "a\\\\b\\x0A\\x7F");
    shown_is(L("\xe2\x82\xac\xe2\x82"), "\xe2\x82\xac\\xE2\\x82");
    shown_is(L("\xed\xa0\x80"), "\\xED\\xA0\\x80");
    shown_is(L(""), "");
}
END_TEST

static Suite *record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_table, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_status_names);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_reuse_and_long);
    tcase_add_test(tc, test_data_files);
    suite_add_tcase(s, tc);
    TCase *to = tcase_create("oracle");
    tcase_set_timeout(to, 240);
    tcase_add_test(to, test_oracle_jansson);
    suite_add_tcase(s, to);
    TCase *te = tcase_create("escape");
    tcase_set_timeout(te, 120);
    tcase_add_test(te, test_escape_fixed);
    tcase_add_test(te, test_escape_lossy_fixed);
    tcase_add_test(te, test_utf8_valid_matches_jansson);
    tcase_add_test(te, test_escape_bytes);
    tcase_add_test(te, test_escape_roundtrip);
    tcase_add_test(te, test_escape_matches_reference);
    suite_add_tcase(s, te);
    return s;
}

int main(void) { return pm_test_run(record_suite()); }
