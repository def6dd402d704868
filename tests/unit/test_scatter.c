/* scatter.h: one input file -> records in a spill stream, checked record by record against
 * the input and mix.h; the task counters; bad records in skip and fail
 * mode; BOM, blank lines, empty texts, keep_meta; nothing committed on
 * error; how often scatter and gather poll (the MPI layer serves other
 * ranks from the poll). */
#include "pilemix/scatter.h"
#include "pilemix/config.h"
#include "pilemix/gather.h"
#include "pilemix/plan.h"
#include "pilemix/spill.h"
#include "pilemix/state.h"
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <zstd.h>

typedef struct sfx {
    char *dir;
    pm_config_t cfg;
    pm_plan_t plan;
    pm_layout_t layout;
    pm_job_t job;
} sfx_t;

static void write_file(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    ck_assert_int_eq(pm_mkdir_p(path, NULL), 0);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Load a config (one component "C" over DIR/in), plan it, cut buckets of
 * about bucket_bytes, make the work directories. */
static void sfx_open(sfx_t *x, const char *dir, double epochs, const char *output_extra,
                     const char *run_extra, uint64_t bucket_bytes)
{
    memset(x, 0, sizeof *x);
    x->dir = (char *)dir;
    char json[2048], origin[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"s\", \"seed\": 3, \"components\": [{\"name\": \"C\", \"paths\": "
             "[\"in\"], \"epochs\": %g}], \"output\": {\"dir\": \"out\", \"train_shards\": 4, "
             "\"val_fraction\": 0.2, \"test_fraction\": 0.1%s}, \"run\": {\"work_dir\": "
             "\"work\"%s}}",
             epochs, output_extra, run_extra);
    snprintf(origin, sizeof origin, "%s/cfg.json", dir);
    pm_error_t err;
    int rc = pm_config_load_string(&x->cfg, json, origin, &err);
    ck_assert_msg(rc == 0, "config: %s", err.msg);
    rc = pm_plan_build(&x->plan, &x->cfg, &err);
    ck_assert_msg(rc == 0, "plan: %s", err.msg);
    pm_layout_choose(&x->layout, x->cfg.train_shards, 100000, 10000, 10000, bucket_bytes);
    ck_assert_int_eq(pm_job_init(&x->job, &x->cfg, &x->plan, &x->layout, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(x->job.spill_dir, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(x->job.rejects_dir, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(x->job.results_dir, &err), 0);
}

static void sfx_close(sfx_t *x)
{
    pm_job_close(&x->job);
    pm_plan_close(&x->plan);
    pm_config_close(&x->cfg);
}

/* pm_scatter_task into a stream of its own, closed after the task as a
 * rank's stream is after its last one. */
static int run_task(sfx_t *x, uint32_t task, uint64_t arena, pm_task_stats_t *st, pm_poll_fn poll,
                    void *poll_ctx, pm_error_t *err)
{
    static uint32_t seq;
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, x->job.spill_dir, 1, seq++), 0);
    pm_spill_stream_t *s;
    pm_error_t e2;
    ck_assert_int_eq(pm_spill_stream_open(&s, p.data, pm_layout_total_buckets(&x->layout),
                                          (size_t)arena, NULL, PM_SPILL_COMPRESS_NONE, &e2),
                     0);
    int rc = pm_scatter_task(&x->job, s, task, st, poll, poll_ctx, err);
    ck_assert_int_eq(pm_spill_stream_close(s, &e2), 0);
    pm_buf_free(&p);
    return rc;
}

static int count_task(void *ctx, uint32_t task, const void *blob, size_t len)
{
    (void)task;
    pm_task_stats_t st;
    ck_assert_int_eq(pm_scatter_blob_stats(blob, len, &st, NULL), 0);
    ++*(size_t *)ctx;
    return 0;
}

/* Every stream in WORK/spill as a set; *committed: tasks committed. */
static pm_spill_set_t *open_set(sfx_t *x, size_t *committed)
{
    pm_spill_stream_id_t *ids;
    size_t n;
    uint32_t next;
    pm_error_t err;
    ck_assert_int_eq(pm_state_list_streams(&x->job, &ids, &n, &next, &err), 0);
    for (size_t i = 0; i < n; i++)
        ids[i].valid_end = UINT64_MAX;
    pm_spill_set_t *set;
    size_t c = 0;
    int rc = pm_spill_set_open(&set, x->job.spill_dir, ids, n, (uint32_t)x->plan.n_files,
                               pm_layout_total_buckets(&x->layout), count_task, &c, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    free(ids);
    if (committed)
        *committed = c;
    return set;
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void stats_identity(const pm_task_stats_t *st)
{
    uint64_t sum = st->rejected_total + st->empty_docs;
    for (int s = 0; s < PM_SPLIT_COUNT; s++)
        sum += st->split_docs[s];
    ck_assert_uint_eq(st->docs, sum);
    uint64_t rej = 0;
    for (int r = 0; r < PM_REC_STATUS_COUNT; r++)
        rej += st->rejected[r];
    ck_assert_uint_eq(rej, st->rejected_total);
}

/* ---- spill contents --------------------------------------------------- */

typedef struct want {
    uint64_t offset;
    char *text;
    size_t text_len;
    json_t *meta; /* expected meta members (object) */
    pm_split_t split;
    uint32_t copies; /* train copies, or 1 for holdout */
    uint32_t seen_mask;
} want_t;

typedef struct visit {
    sfx_t *x;
    want_t *w;
    size_t n;
    uint32_t bucket;
    pm_mix_t mix;
    uint64_t fh;
    size_t records;
    bool keep_meta;
} visit_t;

static want_t *find_offset(visit_t *v, uint64_t off)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->w[mid].offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->w[lo].offset == off ? &v->w[lo] : NULL;
}

static int check_record(void *ctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    visit_t *v = ctx;
    want_t *w = find_offset(v, rec->offset);
    ck_assert_msg(w != NULL, "spill record at offset %llu is no document",
                  (unsigned long long)rec->offset);
    ck_assert_uint_eq(rec->file, 0);
    ck_assert_uint_eq(rec->text_len, w->text_len);
    ck_assert(memcmp(text, w->text, w->text_len) == 0);
    uint64_t key;
    if (w->split == PM_SPLIT_TRAIN) {
        ck_assert_uint_lt(rec->copy, w->copies);
        key = pm_mix_train_key(&v->mix, v->fh, rec->offset, rec->copy);
    } else {
        ck_assert_uint_eq(rec->copy, 0);
        key = pm_mix_holdout_key(&v->mix, w->text, w->text_len);
    }
    ck_assert_uint_eq(rec->key, key);
    ck_assert_uint_eq(pm_layout_bucket(&v->x->layout, w->split, key), v->bucket);
    ck_assert_uint_eq(w->seen_mask & (1u << rec->copy), 0); /* each copy once */
    w->seen_mask |= 1u << rec->copy;
    if (!v->keep_meta) {
        ck_assert_uint_eq(rec->meta_len, 0);
    } else {
        char *wrapped = malloc(rec->meta_len + 3);
        wrapped[0] = '{';
        memcpy(wrapped + 1, meta, rec->meta_len);
        memcpy(wrapped + 1 + rec->meta_len, "}", 2);
        json_error_t je;
        json_t *got = json_loads(wrapped, JSON_ALLOW_NUL, &je);
        ck_assert_msg(got != NULL, "spill meta is not JSON members: %s", wrapped);
        ck_assert(json_equal(got, w->meta));
        json_decref(got);
        free(wrapped);
    }
    v->records++;
    return 0;
}

static void spill_contents(bool keep_meta, double epochs, uint64_t bucket_bytes, uint64_t arena)
{
    uint64_t s = pm_test_seed();
    char *dir = pm_test_tmpdir();
    size_t n = 2000;
    want_t *w = calloc(n, sizeof *w);
    pm_buf_t content;
    pm_buf_init(&content);
    for (size_t i = 0; i < n; i++) {
        w[i].offset = content.len;
        size_t len = 1 + (size_t)(pm_test_rand(&s) % 80);
        w[i].text = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            w[i].text[k] = (char)(1 + pm_test_rand(&s) % 127); /* ASCII incl. controls */
        if (i % 50 == 7)
            w[i].text[0] = '\0';     /* NUL survives */
        if (i % 10 == 3 && i > 10) { /* duplicates */
            len = w[i - 10].text_len;
            w[i].text = realloc(w[i].text, len + 1);
            memcpy(w[i].text, w[i - 10].text, len);
        }
        w[i].text_len = len;
        json_t *o = json_object();
        json_object_set_new(o, "text", json_stringn(w[i].text, len));
        if (i % 3 == 0) {
            w[i].meta = json_object();
        } else {
            json_t *m = json_pack("{s:s, s:I, s:[i, b], s:n}", "source", "x\ty", "n", (json_int_t)i,
                                  "list", 1, 1, "z");
            w[i].meta = json_deep_copy(m);
            json_object_set_new(m, "pile_set_name", json_string("dropped"));
            json_object_set_new(o, "meta", m);
        }
        char *line = json_dumps(o, JSON_COMPACT);
        pm_buf_append_str(&content, line);
        pm_buf_append_char(&content, '\n');
        free(line);
        json_decref(o);
    }
    write_file(dir, "in/a.jsonl", content.data, content.len);
    pm_buf_free(&content);

    sfx_t x;
    sfx_open(&x, dir, epochs, keep_meta ? "" : ", \"keep_meta\": false", "", bucket_bytes);
    ck_assert_uint_eq(x.plan.n_files, 1);
    visit_t v = {.x = &x, .w = w, .n = n, .keep_meta = keep_meta};
    pm_mix_init(&v.mix, 3, 0.2, 0.1);
    v.fh = pm_file_hash("C", "a.jsonl");
    ck_assert_uint_eq(x.job.file_hash[0], v.fh);
    uint64_t want_split[PM_SPLIT_COUNT] = {0}, want_copies = 0, zero = 0;
    uint64_t want_hist[PM_SPLIT_COUNT][PM_LEN_BUCKETS] = {{0}};
    for (size_t i = 0; i < n; i++) {
        w[i].split = pm_mix_split(&v.mix, w[i].text, w[i].text_len);
        want_split[w[i].split]++;
        /* the histogram by the definition: 2^k <= bytes < 2^(k+1) */
        unsigned k = 0;
        while (((uint64_t)2 << k) <= w[i].text_len)
            k++;
        want_hist[w[i].split][k]++;
        w[i].copies =
            w[i].split == PM_SPLIT_TRAIN ? pm_mix_copies(&v.mix, v.fh, w[i].offset, epochs) : 1;
        if (w[i].split == PM_SPLIT_TRAIN) {
            want_copies += w[i].copies;
            zero += w[i].copies == 0;
        }
    }

    pm_task_stats_t st;
    pm_error_t err;
    int rc = run_task(&x, 0, arena, &st, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(st.lines, n);
    ck_assert_uint_eq(st.docs, n);
    ck_assert_uint_eq(st.blank_lines, 0);
    ck_assert_uint_eq(st.rejected_total, 0);
    for (int k = 0; k < PM_SPLIT_COUNT; k++)
        ck_assert_uint_eq(st.split_docs[k], want_split[k]);
    for (int k = 0; k < PM_SPLIT_COUNT; k++)
        for (unsigned b = 0; b < PM_LEN_BUCKETS; b++)
            ck_assert_msg(
                st.len_log2[k][b] == want_hist[k][b], "split %d bucket %u: %llu, want %llu", k, b,
                (unsigned long long)st.len_log2[k][b], (unsigned long long)want_hist[k][b]);
    ck_assert_uint_eq(st.train_copies, want_copies);
    ck_assert_uint_eq(st.train_zero_copies, zero);
    stats_identity(&st);
    /* No rejects file for a clean input. */
    ck_assert_uint_eq(dir_entries(x.job.rejects_dir), 0);
    ck_assert_uint_eq(dir_entries(x.job.spill_dir), 1); /* the stream */

    size_t committed;
    pm_spill_set_t *r = open_set(&x, &committed);
    ck_assert_uint_eq(committed, 1);
    uint32_t nb = pm_layout_total_buckets(&x.layout);
    for (uint32_t b = 0; b < nb; b++) {
        v.bucket = b;
        ck_assert_int_eq(pm_spill_set_visit(r, b, 0, UINT64_MAX, check_record, &v, &err), 0);
    }
    pm_spill_set_close(r);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t want_mask = w[i].copies >= 32 ? UINT32_MAX : (1u << w[i].copies) - 1;
        ck_assert_uint_eq(w[i].seen_mask, want_mask);
        total += w[i].copies;
        free(w[i].text);
        json_decref(w[i].meta);
    }
    ck_assert_uint_eq(v.records, total);
    free(w);
    sfx_close(&x);
    pm_test_rmdir(dir);
}

START_TEST(test_spill_contents_one_bucket) { spill_contents(true, 2.5, 1u << 30, 1u << 20); }
END_TEST

START_TEST(test_spill_contents_many_buckets) { spill_contents(true, 0.6, 500, 8192); }
END_TEST

START_TEST(test_keep_meta_false) { spill_contents(false, 1.0, 5000, 1u << 20); }
END_TEST

/* ---- line handling ---------------------------------------------------- */

typedef struct got {
    uint64_t offset;
    uint32_t copy;
    char *text; /* NUL-terminated copy */
    size_t text_len;
} got_t;

typedef struct collect {
    got_t *r;
    size_t n, cap;
} collect_t;

static int collect_cb(void *ctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    (void)meta;
    collect_t *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
    }
    got_t *g = &c->r[c->n++];
    g->offset = rec->offset;
    g->copy = rec->copy;
    g->text = malloc(rec->text_len + 1);
    memcpy(g->text, text, rec->text_len);
    g->text[rec->text_len] = '\0';
    g->text_len = rec->text_len;
    return 0;
}

static void collect_spill(sfx_t *x, uint32_t task, collect_t *c)
{
    memset(c, 0, sizeof *c);
    pm_spill_set_t *r = open_set(x, NULL);
    ck_assert(pm_spill_set_has_task(r, task));
    pm_error_t err;
    for (uint32_t b = 0; b < pm_layout_total_buckets(&x->layout); b++)
        ck_assert_int_eq(pm_spill_set_visit(r, b, 0, UINT64_MAX, collect_cb, c, &err), 0);
    pm_spill_set_close(r);
}

static void collect_free(collect_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->r[i].text);
    free(c->r);
}

static int cmp_got(const void *pa, const void *pb)
{
    const got_t *a = pa, *b = pb;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->copy < b->copy ? -1 : a->copy > b->copy;
}

/* The task's rejects file as an array of objects (every line must parse). */
static json_t *load_rejects(sfx_t *x, uint32_t task)
{
    pm_buf_t p, data;
    pm_buf_init(&p);
    pm_buf_init(&data);
    pm_job_rejects_path(&x->job, task, &p);
    ck_assert_int_eq(pm_read_file(p.data, &data, NULL), 0);
    json_t *arr = json_array();
    const char *s = data.data, *end = data.data + data.len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        ck_assert_ptr_nonnull(nl);
        json_error_t je;
        json_t *o = json_loadb(s, (size_t)(nl - s), JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(o != NULL, "rejects line: %s", je.text);
        json_array_append_new(arr, o);
        s = nl + 1;
    }
    pm_buf_free(&p);
    pm_buf_free(&data);
    return arr;
}

START_TEST(test_bom_blank_empty)
{
    char *dir = pm_test_tmpdir();
    const char data[] = "\xEF\xBB\xBF{\"text\": \"first\"}\n"        /* 0: BOM skipped, offset 0 */
                        "\n"                                         /* blank */
                        "   \t\r\n"                                  /* blank (CRLF) */
                        "{\"text\": \"\"}\n"                         /* empty text */
                        "{\"text\": []}\n"                           /* empty list: empty text */
                        "{\"text\": [\"\", \"\"]}\n"                 /* "\n\n": a document */
                        "{\"text\": \"crlf\"}\r\n"                   /* trailing CR is whitespace */
                        "\xEF\xBB\xBF{\"text\": \"mid-file BOM\"}\n" /* not at start: bad */
                        "{\"text\": [\"a\", \"b\"]}";                /* last line, no newline */
    write_file(dir, "in/b.jsonl", data, sizeof data - 1);
    sfx_t x;
    sfx_open(&x, dir, 1.0, "", ", \"on_bad_record\": \"skip\"", 1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    int rc = run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(st.lines, 9);
    ck_assert_uint_eq(st.blank_lines, 2);
    ck_assert_uint_eq(st.docs, 7);
    ck_assert_uint_eq(st.empty_docs, 2);
    ck_assert_uint_eq(st.rejected_total, 1);
    ck_assert_uint_eq(st.rejected[PM_REC_BAD_JSON], 1);
    ck_assert_uint_eq(st.split_docs[0] + st.split_docs[1] + st.split_docs[2], 4);
    ck_assert_uint_eq(st.text_bytes, 5 + 2 + 4 + 4);
    ck_assert_uint_eq(st.bytes_in, sizeof data - 1);
    stats_identity(&st);

    /* The documents and their offsets, as the spill holds them. */
    collect_t c;
    collect_spill(&x, 0, &c);
    ck_assert_uint_eq(c.n, 4);
    qsort(c.r, c.n, sizeof *c.r, cmp_got);
    const char *d6 = strstr(data, "{\"text\": [\"\", \"\"]}");
    const char *d7 = strstr(data, "{\"text\": \"crlf\"}");
    const char *d9 = strstr(data, "{\"text\": [\"a\"");
    ck_assert_uint_eq(c.r[0].offset, 0); /* the BOM does not shift the identity */
    ck_assert_str_eq(c.r[0].text, "first");
    ck_assert_uint_eq(c.r[1].offset, (uint64_t)(d6 - data));
    ck_assert_str_eq(c.r[1].text, "\n\n");
    ck_assert_uint_eq(c.r[2].offset, (uint64_t)(d7 - data));
    ck_assert_str_eq(c.r[2].text, "crlf");
    ck_assert_uint_eq(c.r[3].offset, (uint64_t)(d9 - data));
    ck_assert_str_eq(c.r[3].text, "a\n\nb");
    collect_free(&c);

    /* The mid-file BOM line is rejected with its line number. */
    json_t *rej = load_rejects(&x, 0);
    ck_assert_uint_eq(json_array_size(rej), 1);
    json_t *e = json_array_get(rej, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "line")), 8);
    ck_assert_str_eq(json_string_value(json_object_get(e, "reason")), "invalid_json");
    ck_assert_str_eq(json_string_value(json_object_get(e, "file")), "b.jsonl");
    ck_assert_str_eq(json_string_value(json_object_get(e, "component")), "C");
    json_decref(rej);
    sfx_close(&x);
    pm_test_rmdir(dir);
}
END_TEST

/* ---- bad records ------------------------------------------------------ */

typedef struct bad_line {
    const char *line;
    const char *reason;
    int status;
} bad_line_t;

static const bad_line_t bad_lines[] = {
    {"{\"text\": \"a\"", "invalid_json", PM_REC_BAD_JSON},
    {"[1, 2]", "not_object", PM_REC_NOT_OBJECT},
    {"{\"text\": \"\xff\xfe\"}", "invalid_utf8", PM_REC_BAD_UTF8},
    {"{\"text\": \"\\ud800x\"}", "lone_surrogate", PM_REC_LONE_SURROGATE},
    {"{\"meta\": {}}", "missing_text", PM_REC_NO_TEXT},
    {"{\"text\": null}", "missing_text", PM_REC_NO_TEXT},
    {"{\"text\": 5}", "text_not_string", PM_REC_TEXT_TYPE},
    {"{\"text\": [\"a\", 1]}", "text_not_string", PM_REC_TEXT_TYPE},
    {"{\"text\": \"a\", \"meta\": 3}", "meta_not_object", PM_REC_META_TYPE},
    {"{\"text\": \"a\", \"text\": \"b\"}", "duplicate_key", PM_REC_DUPLICATE_KEY},
    {NULL, "record_too_long", PM_REC_TOO_LONG}, /* a 3000-byte line, limit 1 KiB */
};
#define N_BAD (sizeof bad_lines / sizeof *bad_lines)

/* good, bad[0], good, blank, bad[1], ... : returns the content; line numbers
 * and offsets of the bad lines in lines[]/offs[]. */
static void make_bad_input(pm_buf_t *b, uint64_t *lines, uint64_t *offs, size_t *good)
{
    uint64_t line = 0;
    *good = 0;
    char *longline = malloc(3100);
    memset(longline, 'x', 3000);
    memcpy(longline, "{\"text\": \"", 10);
    memcpy(longline + 2990, "\"}", 3);
    for (size_t i = 0; i < N_BAD; i++) {
        pm_buf_printf(b, "{\"text\": \"good %zu\"}\n", i);
        line++;
        (*good)++;
        if (i % 2) {
            pm_buf_append_str(b, "\n");
            line++;
        }
        offs[i] = b->len;
        pm_buf_append_str(b, bad_lines[i].line ? bad_lines[i].line : longline);
        pm_buf_append_char(b, '\n');
        lines[i] = ++line;
    }
    pm_buf_append_str(b, "{\"text\": \"last\"}\n");
    (*good)++;
    free(longline);
}

START_TEST(test_bad_records_skip)
{
    char *dir = pm_test_tmpdir();
    pm_buf_t b;
    pm_buf_init(&b);
    uint64_t lines[N_BAD], offs[N_BAD];
    size_t good;
    make_bad_input(&b, lines, offs, &good);
    write_file(dir, "in/sub/bad.jsonl", b.data, b.len);
    sfx_t x;
    sfx_open(&x, dir, 1.0, "",
             ", \"on_bad_record\": \"skip\", \"max_bad_records\": 20, \"max_record_bytes\": 1024",
             1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    int rc = run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(st.rejected_total, N_BAD);
    uint64_t by_status[PM_REC_STATUS_COUNT] = {0};
    for (size_t i = 0; i < N_BAD; i++)
        by_status[bad_lines[i].status]++;
    for (int k = 0; k < PM_REC_STATUS_COUNT; k++)
        ck_assert_uint_eq(st.rejected[k], by_status[k]);
    ck_assert_uint_eq(st.docs, N_BAD + good);
    ck_assert_uint_eq(st.split_docs[0] + st.split_docs[1] + st.split_docs[2], good);
    ck_assert_uint_eq(st.blank_lines, N_BAD / 2);
    stats_identity(&st);

    json_t *rej = load_rejects(&x, 0);
    ck_assert_uint_eq(json_array_size(rej), N_BAD);
    for (size_t i = 0; i < N_BAD; i++) {
        json_t *e = json_array_get(rej, i);
        ck_assert_str_eq(json_string_value(json_object_get(e, "component")), "C");
        ck_assert_str_eq(json_string_value(json_object_get(e, "file")), "sub/bad.jsonl");
        ck_assert_int_eq(json_integer_value(json_object_get(e, "line")), (json_int_t)lines[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "offset")), (json_int_t)offs[i]);
        ck_assert_str_eq(json_string_value(json_object_get(e, "reason")), bad_lines[i].reason);
        ck_assert_str_eq(pm_record_status_name(bad_lines[i].status), bad_lines[i].reason);
        const char *raw = json_string_value(json_object_get(e, "raw"));
        ck_assert_ptr_nonnull(raw);
        if (bad_lines[i].line && bad_lines[i].status != PM_REC_BAD_UTF8)
            ck_assert_str_eq(raw, bad_lines[i].line);
        if (!bad_lines[i].line) {
            ck_assert_int_eq(json_integer_value(json_object_get(e, "bytes")), 2992);
            ck_assert_uint_le(strlen(raw), 2992);
        }
    }
    json_decref(rej);
    /* Invalid UTF-8 is quoted lossily: the rejects file itself stays valid
     * (load_rejects parsed every line with jansson, which checks UTF-8). */
    collect_t c;
    collect_spill(&x, 0, &c);
    ck_assert_uint_eq(c.n, good);
    collect_free(&c);
    pm_buf_free(&b);
    sfx_close(&x);
    pm_test_rmdir(dir);
}
END_TEST

/* Nothing of a failed task is committed: no commit in the stream, no
 * rejects, no temps. */
static void assert_nothing_committed(sfx_t *x)
{
    size_t committed;
    pm_spill_set_close(open_set(x, &committed));
    ck_assert_uint_eq(committed, 0);
    ck_assert_uint_eq(dir_entries(x->job.rejects_dir), 0);
}

START_TEST(test_bad_record_fail_mode)
{
    for (size_t i = 0; i < N_BAD; i++) {
        char *dir = pm_test_tmpdir();
        pm_buf_t b;
        pm_buf_init(&b);
        pm_buf_append_str(&b, "{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n");
        char *longline = NULL;
        if (bad_lines[i].line) {
            pm_buf_append_str(&b, bad_lines[i].line);
        } else {
            longline = calloc(1, 2001);
            memset(longline, 'y', 2000);
            pm_buf_append_str(&b, longline);
        }
        pm_buf_append_str(&b, "\n{\"text\": \"after\"}\n");
        write_file(dir, "in/f.jsonl", b.data, b.len);
        sfx_t x;
        sfx_open(&x, dir, 1.0, "", ", \"max_record_bytes\": 1024", 1u << 30);
        ck_assert_int_eq(x.cfg.on_bad_record, PM_ON_BAD_FAIL); /* the default */
        pm_task_stats_t st;
        pm_error_t err;
        pm_error_clear(&err);
        int rc = run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err);
        ck_assert_int_eq(rc, PM_EDATA);
        ck_assert_int_eq(err.code, PM_EDATA);
        ck_assert_uint_eq(err.line, 4);
        ck_assert_ptr_nonnull(strstr(err.file, "f.jsonl"));
        ck_assert_msg(strstr(err.msg, bad_lines[i].reason) != NULL, "message '%s' lacks %s",
                      err.msg, bad_lines[i].reason);
        assert_nothing_committed(&x);
        free(longline);
        pm_buf_free(&b);
        sfx_close(&x);
        pm_test_rmdir(dir);
    }
}
END_TEST

START_TEST(test_max_bad_records)
{
    char *dir = pm_test_tmpdir();
    pm_buf_t b;
    pm_buf_init(&b);
    for (int i = 0; i < 10; i++)
        pm_buf_printf(&b, "{\"text\": \"ok %d\"}\nnot json %d\n", i, i);
    write_file(dir, "in/m.jsonl", b.data, b.len);
    /* Exactly at the limit: fine. */
    sfx_t x;
    sfx_open(&x, dir, 1.0, "", ", \"on_bad_record\": \"skip\", \"max_bad_records\": 10", 1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    ck_assert_int_eq(run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err), 0);
    ck_assert_uint_eq(st.rejected_total, 10);
    sfx_close(&x);
    pm_remove_tree(dir, NULL);
    ck_assert_int_eq(pm_mkdir_p(dir, NULL), 0);
    write_file(dir, "in/m.jsonl", b.data, b.len);
    /* One over: the task fails at the 10th bad line (file line 20). */
    sfx_open(&x, dir, 1.0, "", ", \"on_bad_record\": \"skip\", \"max_bad_records\": 9", 1u << 30);
    ck_assert_int_eq(run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err), PM_EDATA);
    ck_assert_uint_eq(err.line, 20);
    ck_assert_ptr_nonnull(strstr(err.msg, "max_bad_records"));
    assert_nothing_committed(&x);
    sfx_close(&x);
    pm_buf_free(&b);
    pm_test_rmdir(dir);
}
END_TEST

/* ---- aborts and broken input ------------------------------------------ */

static int poll_stop(void *ctx, uint64_t bytes)
{
    int *calls = ctx;
    ck_assert_uint_gt(bytes, 0);
    return ++*calls == 2 ? -99 : 0;
}

START_TEST(test_poll_abort)
{
    char *dir = pm_test_tmpdir();
    pm_buf_t b;
    pm_buf_init(&b);
    for (int i = 0; i < 20000; i++)
        pm_buf_printf(&b, "{\"text\": \"doc %d\"}\n", i);
    write_file(dir, "in/p.jsonl", b.data, b.len);
    sfx_t x;
    sfx_open(&x, dir, 1.0, "", ", \"on_bad_record\": \"skip\"", 1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    int calls = 0;
    ck_assert_int_eq(run_task(&x, 0, 1u << 20, &st, poll_stop, &calls, &err), -99);
    ck_assert_int_eq(calls, 2);
    assert_nothing_committed(&x);
    /* The same task then runs to completion. */
    calls = -1000;
    ck_assert_int_eq(run_task(&x, 0, 1u << 20, &st, poll_stop, &calls, &err), 0);
    ck_assert_int_gt(calls, -1000);
    ck_assert_uint_eq(st.docs, 20000);
    size_t committed;
    pm_spill_set_close(open_set(&x, &committed));
    ck_assert_uint_eq(committed, 1);
    sfx_close(&x);
    pm_buf_free(&b);
    pm_test_rmdir(dir);
}
END_TEST

static uint64_t poll_last_bytes;
static int poll_count(void *ctx, uint64_t bytes)
{
    /* Within a task or an output file the bytes only grow: progress inside
     * a file, not only per finished file. */
    ck_assert_uint_ge(bytes, poll_last_bytes);
    poll_last_bytes = bytes;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Big documents: the poll must come every MiB, not only every few thousand
 * records, or the other ranks wait for a whole file (scatter) or bucket
 * (gather). */
START_TEST(test_poll_every_mib)
{
    char *dir = pm_test_tmpdir();
    const size_t n_docs = 20, doc_len = 600000;
    char *text = malloc(doc_len + 1);
    ck_assert_ptr_nonnull(text);
    pm_buf_t b;
    pm_buf_init(&b);
    for (size_t i = 0; i < n_docs; i++) {
        memset(text, 'a' + (int)i, doc_len);
        text[doc_len] = '\0';
        pm_buf_printf(&b, "{\"text\": \"%s\"}\n", text);
    }
    free(text);
    write_file(dir, "in/big.jsonl", b.data, b.len);
    sfx_t x;
    sfx_open(&x, dir, 1.0, "", "", 1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    uint64_t calls = 0;
    poll_last_bytes = 0;
    ck_assert_int_eq(run_task(&x, 0, 64u << 20, &st, poll_count, &calls, &err), 0);
    /* A poll once 1 MiB of lines is read: every 2 documents of 600 kB. */
    ck_assert_uint_eq(calls, n_docs / 2);

    /* Gather every output file: one poll per pass plus one once 1 MiB of
     * text is written since the last: every 2 documents again. */
    pm_spill_set_t *spill = open_set(&x, NULL);
    uint32_t nb = pm_layout_total_buckets(&x.layout);
    uint64_t *recs = calloc(nb, 8), *bytes = calloc(nb, 8);
    ck_assert_int_eq(pm_spill_set_add_totals(spill, 0, 1, recs, bytes, &err), 0);
    char train[1024];
    snprintf(train, sizeof train, "%s/out/train", dir);
    ck_assert_int_eq(pm_mkdir_p(train, &err), 0);
    pm_gather_in_t in = {.job = &x.job,
                         .set = spill,
                         .bucket_records = recs,
                         .bucket_bytes = bytes,
                         .budget_bytes = 1u << 30,
                         .zstd_workers = 1};
    uint64_t text_total = 0, big_files = 0;
    for (uint32_t f = 0; f < pm_layout_files(&x.layout); f++) {
        uint64_t docs[1] = {0}, dups[1] = {0};
        pm_gather_out_t out = {.comp_docs = docs, .comp_dups = dups};
        calls = 0;
        poll_last_bytes = 0;
        ck_assert_int_eq(pm_gather_file(&in, f, &out, poll_count, &calls, &err), 0);
        ck_assert_uint_eq(calls, out.passes + out.result.docs / 2);
        /* The last poll has every record of the file: its spill bytes. */
        uint32_t first, count, base;
        uint64_t mult, want = 0;
        pm_layout_file_buckets(&x.layout, f, &first, &count, &mult, &base);
        for (uint32_t b = first; b < first + count; b++)
            want += bytes[b];
        ck_assert_uint_eq(poll_last_bytes, want);
        text_total += out.result.text_bytes;
        big_files += out.result.text_bytes >= (1u << 20);
    }
    ck_assert_uint_eq(text_total, n_docs * doc_len);
    ck_assert_uint_gt(big_files, 0); /* the per-MiB poll was exercised */
    pm_spill_set_close(spill);
    free(recs);
    free(bytes);
    sfx_close(&x);
    pm_buf_free(&b);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_corrupt_zstd_input)
{
    char *dir = pm_test_tmpdir();
    pm_buf_t b;
    pm_buf_init(&b);
    /* Several zstd blocks: the plan's look at the first block passes, the
     * reader meets the cut. */
    for (int i = 0; i < 30000; i++)
        pm_buf_printf(&b, "{\"text\": \"zstd doc %d with some words\"}\n", i * 7919);
    size_t cap = ZSTD_compressBound(b.len);
    char *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, b.data, b.len, 3);
    ck_assert(!ZSTD_isError(zn));
    write_file(dir, "in/z.jsonl.zst", z, zn / 2); /* truncated */
    sfx_t x;
    sfx_open(&x, dir, 1.0, "", ", \"on_bad_record\": \"skip\"", 1u << 30);
    pm_task_stats_t st;
    pm_error_t err;
    int rc = run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err);
    ck_assert(rc == PM_EDATA || rc == PM_EIO);
    ck_assert_ptr_nonnull(strstr(err.file, "z.jsonl.zst"));
    assert_nothing_committed(&x);
    sfx_close(&x);
    /* The whole stream is fine. */
    write_file(dir, "in/z.jsonl.zst", z, zn);
    sfx_open(&x, dir, 1.0, "", "", 1u << 30);
    ck_assert_int_eq(run_task(&x, 0, 1u << 20, &st, NULL, NULL, &err), 0);
    ck_assert_uint_eq(st.docs, 30000);
    ck_assert_uint_eq(st.bytes_in, zn);
    sfx_close(&x);
    free(z);
    pm_buf_free(&b);
    pm_test_rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scatter");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_spill_contents_one_bucket);
    tcase_add_test(tc, test_spill_contents_many_buckets);
    tcase_add_test(tc, test_keep_meta_false);
    tcase_add_test(tc, test_bom_blank_empty);
    tcase_add_test(tc, test_bad_records_skip);
    tcase_add_test(tc, test_bad_record_fail_mode);
    tcase_add_test(tc, test_max_bad_records);
    tcase_add_test(tc, test_poll_abort);
    tcase_add_test(tc, test_poll_every_mib);
    tcase_add_test(tc, test_corrupt_zstd_input);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
