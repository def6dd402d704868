/* gather.h, end to end without MPI: inputs -> scatter -> spills -> gather ->
 * output files, checked against a model built here from the inputs and the
 * mix.h functions alone (DESIGN 1.3): train order by key then identity,
 * copies as pm_mix_copies decides, holdout texts once (smallest identity
 * kept, the others counted), and output bytes independent of the bucket
 * layout and of the gather memory budget. */
#include "pilemix/gather.h"
#include "pilemix/config.h"
#include "pilemix/plan.h"
#include "pilemix/scatter.h"
#include "pilemix/state.h"
#include "test_util.h"

#include <jansson.h>
#include <sys/stat.h>
#include <zstd.h>

/* ---- inputs and the model --------------------------------------------- */

typedef struct doc {
    int comp; /* config index */
    const char *comp_name;
    const char *relpath;
    int in_file; /* index in fx.files */
    uint64_t offset;
    char *text;
    size_t text_len;
    json_t *meta; /* input meta without pile_set_name (never NULL) */
} doc_t;

typedef struct in_file {
    const char *rel_on_disk; /* under DIR/data */
    int comp;
    const char *relpath; /* the identity path the plan must give */
    bool zst;
    bool trailing_newline;
    uint64_t lines, blank, docs, bad, empty;
    uint32_t task;
} in_file_t;

#define N_FILES 4
#define N_COMPS 3

typedef struct fx {
    char *dir;
    in_file_t files[N_FILES];
    doc_t *docs;
    size_t n_docs, cap_docs;
    char *pool[40];
    size_t pool_len[40];
    pm_config_t cfg;
    pm_plan_t plan;
} fx_t;

/* Config order is deliberately not name order: identity ties compare
 * component *names*. */
static const char *const comp_names[N_COMPS] = {"Zeta", "Alpha", "Beta"};
static const double comp_epochs[N_COMPS] = {2.0, 1.5, 0.4};

static char *rand_text(uint64_t *s, size_t *len)
{
    size_t cps = 1 + (size_t)(pm_test_rand(s) % 120);
    char *t = malloc(cps * 4 + 1);
    size_t n = 0;
    for (size_t i = 0; i < cps; i++) {
        uint64_t r = pm_test_rand(s);
        uint32_t cp;
        switch (r % 10) {
        case 0: cp = (uint32_t)((r >> 8) % 0x20); break; /* controls incl. NUL */
        case 1: cp = 0x80 + (uint32_t)((r >> 8) % 0x700); break;
        case 2: cp = (r >> 8) & 1 ? 0x2028 : 0x4E2D; break;
        case 3: cp = 0x1F600 + (uint32_t)((r >> 8) % 0x40); break;
        default: cp = 0x20 + (uint32_t)((r >> 8) % 0x5F); break;
        }
        n += pm_test_put_utf8(t + n, cp);
    }
    t[n] = '\0';
    *len = n;
    return t;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    char *slash = strrchr(path, '/');
    char dir[1024];
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    ck_assert_int_eq(pm_mkdir_p(dir, NULL), 0);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static doc_t *add_doc(fx_t *fx)
{
    if (fx->n_docs == fx->cap_docs) {
        fx->cap_docs = fx->cap_docs ? 2 * fx->cap_docs : 256;
        fx->docs = realloc(fx->docs, fx->cap_docs * sizeof *fx->docs);
    }
    doc_t *d = &fx->docs[fx->n_docs++];
    memset(d, 0, sizeof *d);
    return d;
}

/* One input file: documents (many of them shared texts), blank lines, empty
 * texts, a few bad records, text lists, metas with a pile_set_name to drop. */
static void make_file(fx_t *fx, int fi, size_t n_lines, uint64_t *s)
{
    in_file_t *f = &fx->files[fi];
    pm_buf_t content;
    pm_buf_init(&content);
    for (size_t i = 0; i < n_lines; i++) {
        uint64_t r = pm_test_rand(s) % 100;
        uint64_t offset = content.len;
        f->lines++;
        if (r < 3) {
            pm_buf_append_str(&content, i & 1 ? "  \t" : "");
            f->blank++;
        } else if (r < 5) {
            pm_buf_append_str(&content, i & 1 ? "{\"text\": 5}" : "{\"text\": \"x\"");
            f->docs++;
            f->bad++;
        } else if (r < 7) {
            pm_buf_append_str(&content, "{\"text\": \"\", \"meta\": {\"a\": 1}}");
            f->docs++;
            f->empty++;
        } else {
            doc_t *d = add_doc(fx);
            d->comp = f->comp;
            d->comp_name = comp_names[f->comp];
            d->in_file = fi;
            d->offset = offset;
            json_t *o = json_object();
            if (pm_test_rand(s) % 100 < 40) {
                size_t k = (size_t)(pm_test_rand(s) % 40);
                d->text = malloc(fx->pool_len[k] + 1);
                memcpy(d->text, fx->pool[k], fx->pool_len[k] + 1);
                d->text_len = fx->pool_len[k];
            } else {
                d->text = rand_text(s, &d->text_len);
            }
            if (pm_test_rand(s) % 10 == 0) {
                /* lm_dataformat's list form: parts joined by "\n\n". */
                size_t cut = d->text_len / 2;
                while (cut > 0 && ((unsigned char)d->text[cut] & 0xC0) == 0x80)
                    cut--;
                json_t *a = json_array();
                json_array_append_new(a, json_stringn(d->text, cut));
                json_array_append_new(a, json_stringn(d->text + cut, d->text_len - cut));
                json_object_set_new(o, "text", a);
                char *joined = malloc(d->text_len + 3);
                memcpy(joined, d->text, cut);
                memcpy(joined + cut, "\n\n", 2);
                memcpy(joined + cut + 2, d->text + cut, d->text_len - cut + 1);
                free(d->text);
                d->text = joined;
                d->text_len += 2;
            } else {
                json_object_set_new(o, "text", json_stringn(d->text, d->text_len));
            }
            d->meta = json_object();
            uint64_t m = pm_test_rand(s) % 4;
            if (m > 0) {
                json_t *meta = json_object();
                if (m >= 2)
                    json_object_set_new(meta, "pile_set_name", json_string("Original Name"));
                json_object_set_new(meta, "url", json_sprintf("https://e.org/%zu", i));
                json_object_set_new(d->meta, "url", json_sprintf("https://e.org/%zu", i));
                if (m == 3) {
                    json_object_set_new(meta, "i", json_integer((json_int_t)i));
                    json_object_set_new(d->meta, "i", json_integer((json_int_t)i));
                }
                json_object_set_new(o, "meta", meta);
            }
            char *line = json_dumps(o, JSON_COMPACT | (i % 3 ? 0 : JSON_ENSURE_ASCII));
            ck_assert_ptr_nonnull(line);
            pm_buf_append_str(&content, line);
            free(line);
            json_decref(o);
            f->docs++;
        }
        if (i + 1 < n_lines || f->trailing_newline)
            pm_buf_append_char(&content, '\n');
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/data/%s", fx->dir, f->rel_on_disk);
    if (!f->zst) {
        write_bytes(path, content.data, content.len);
    } else {
        /* Two frames: readers must not stop after the first. */
        size_t half = content.len / 2, cap = ZSTD_compressBound(content.len) + 64;
        char *z = malloc(cap);
        size_t a = ZSTD_compress(z, cap, content.data, half, 3);
        ck_assert(!ZSTD_isError(a));
        size_t b = ZSTD_compress(z + a, cap - a, content.data + half, content.len - half, 3);
        ck_assert(!ZSTD_isError(b));
        write_bytes(path, z, a + b);
        free(z);
    }
    pm_buf_free(&content);
}

static void fx_setup(fx_t *fx, uint64_t *s, const char *output_extra)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = pm_test_tmpdir();
    for (int k = 0; k < 40; k++)
        fx->pool[k] = rand_text(s, &fx->pool_len[k]);
    in_file_t files[N_FILES] = {
        {"zeta/part1.jsonl.zst", 0, "part1.jsonl.zst", true, true, 0, 0, 0, 0, 0, 0},
        {"alpha/x.jsonl", 1, "x.jsonl", false, false, 0, 0, 0, 0, 0, 0},
        {"alpha/sub/y.jsonl", 1, "sub/y.jsonl", false, true, 0, 0, 0, 0, 0, 0},
        {"beta.jsonl", 2, "beta.jsonl", false, true, 0, 0, 0, 0, 0, 0},
    };
    memcpy(fx->files, files, sizeof files);
    for (int i = 0; i < N_FILES; i++)
        make_file(fx, i, 150 + (size_t)(pm_test_rand(s) % 100), s);

    char json[2048], origin[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"seed\": 7, \"components\": ["
             "{\"name\": \"Zeta\", \"paths\": [\"data/zeta/*.jsonl.zst\"], \"epochs\": 2},"
             "{\"name\": \"Alpha\", \"paths\": [\"data/alpha\"], \"epochs\": 1.5},"
             "{\"name\": \"Beta\", \"paths\": [\"data/beta.jsonl\"], \"epochs\": 0.4}],"
             "\"output\": {\"dir\": \"out\", \"train_shards\": 3, \"val_fraction\": 0.15,"
             " \"test_fraction\": 0.1, \"zstd_level\": 1%s},"
             "\"run\": {\"work_dir\": \"work\", \"on_bad_record\": \"skip\"}}",
             output_extra);
    snprintf(origin, sizeof origin, "%s/pile.json", fx->dir);
    pm_error_t err;
    int rc = pm_config_load_string(&fx->cfg, json, origin, &err);
    ck_assert_msg(rc == 0, "config: %s", err.msg);
    rc = pm_plan_build(&fx->plan, &fx->cfg, &err);
    ck_assert_msg(rc == 0, "plan: %s", err.msg);
    ck_assert_uint_eq(fx->plan.n_files, N_FILES);
    for (int i = 0; i < N_FILES; i++) {
        bool found = false;
        for (uint32_t t = 0; t < fx->plan.n_files; t++)
            if ((int)fx->plan.files[t].component == fx->files[i].comp &&
                !strcmp(fx->plan.files[t].relpath, fx->files[i].relpath)) {
                fx->files[i].task = t;
                found = true;
            }
        ck_assert_msg(found, "plan lacks %s", fx->files[i].relpath);
    }
    for (size_t i = 0; i < fx->n_docs; i++)
        fx->docs[i].relpath = fx->files[fx->docs[i].in_file].relpath;
}

static void fx_teardown(fx_t *fx)
{
    for (size_t i = 0; i < fx->n_docs; i++) {
        free(fx->docs[i].text);
        json_decref(fx->docs[i].meta);
    }
    free(fx->docs);
    for (int k = 0; k < 40; k++)
        free(fx->pool[k]);
    pm_plan_close(&fx->plan);
    pm_config_close(&fx->cfg);
    pm_test_rmdir(fx->dir);
}

/* An expected output line. */
typedef struct ent {
    uint64_t key;
    const doc_t *d;
    uint32_t copy;
} ent_t;

static int cmp_identity(const ent_t *a, const ent_t *b)
{
    int r = strcmp(a->d->comp_name, b->d->comp_name);
    if (r)
        return r;
    r = strcmp(a->d->relpath, b->d->relpath);
    if (r)
        return r;
    if (a->d->offset != b->d->offset)
        return a->d->offset < b->d->offset ? -1 : 1;
    return a->copy < b->copy ? -1 : a->copy > b->copy;
}

static int cmp_text(const ent_t *a, const ent_t *b)
{
    size_t n = a->d->text_len < b->d->text_len ? a->d->text_len : b->d->text_len;
    int r = memcmp(a->d->text, b->d->text, n);
    if (r)
        return r;
    return a->d->text_len < b->d->text_len ? -1 : a->d->text_len > b->d->text_len;
}

static int cmp_train(const void *pa, const void *pb)
{
    const ent_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return cmp_identity(a, b);
}

static int cmp_holdout(const void *pa, const void *pb)
{
    const ent_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    int r = cmp_text(a, b);
    return r ? r : cmp_identity(a, b);
}

typedef struct model {
    uint32_t shards;
    ent_t **lines; /* per output file */
    size_t *n;
    uint64_t dups[N_COMPS][PM_SPLIT_COUNT];
    uint64_t emitted[N_COMPS][PM_SPLIT_COUNT];
    uint64_t split_docs[N_FILES][PM_SPLIT_COUNT];
    uint64_t copies[N_FILES];
} model_t;

static void model_build(const fx_t *fx, model_t *m)
{
    memset(m, 0, sizeof *m);
    uint32_t S = fx->cfg.train_shards;
    m->shards = S;
    m->lines = calloc(S + 2, sizeof *m->lines);
    m->n = calloc(S + 2, sizeof *m->n);
    size_t cap = 0;
    for (size_t i = 0; i < fx->n_docs; i++)
        cap += 4;
    for (uint32_t f = 0; f < S + 2; f++)
        m->lines[f] = malloc(cap * sizeof(ent_t));
    pm_mix_t mix;
    pm_mix_init(&mix, 7, 0.15, 0.1);
    for (size_t i = 0; i < fx->n_docs; i++) {
        const doc_t *d = &fx->docs[i];
        uint64_t fh = pm_file_hash(d->comp_name, d->relpath);
        pm_split_t sp = pm_mix_split(&mix, d->text, d->text_len);
        m->split_docs[d->in_file][sp]++;
        if (sp != PM_SPLIT_TRAIN) {
            uint32_t f = S + (sp == PM_SPLIT_VAL ? 0 : 1);
            m->lines[f][m->n[f]++] = (ent_t){pm_mix_holdout_key(&mix, d->text, d->text_len), d, 0};
            continue;
        }
        uint32_t copies = pm_mix_copies(&mix, fh, d->offset, comp_epochs[d->comp]);
        m->copies[d->in_file] += copies;
        for (uint32_t c = 0; c < copies; c++) {
            uint64_t key = pm_mix_train_key(&mix, fh, d->offset, c);
            uint32_t f = pm_mix_shard(key, S);
            m->lines[f][m->n[f]++] = (ent_t){key, d, c};
        }
    }
    for (uint32_t f = 0; f < S; f++) {
        qsort(m->lines[f], m->n[f], sizeof(ent_t), cmp_train);
        for (size_t k = 0; k < m->n[f]; k++)
            m->emitted[m->lines[f][k].d->comp][PM_SPLIT_TRAIN]++;
    }
    for (uint32_t f = S; f < S + 2; f++) {
        pm_split_t sp = f == S ? PM_SPLIT_VAL : PM_SPLIT_TEST;
        qsort(m->lines[f], m->n[f], sizeof(ent_t), cmp_holdout);
        size_t out = 0;
        for (size_t k = 0; k < m->n[f]; k++) {
            if (out > 0 && cmp_text(&m->lines[f][out - 1], &m->lines[f][k]) == 0) {
                m->dups[m->lines[f][k].d->comp][sp]++;
                continue;
            }
            m->lines[f][out++] = m->lines[f][k];
            m->emitted[m->lines[f][k].d->comp][sp]++;
        }
        m->n[f] = out;
    }
}

static void model_free(model_t *m)
{
    for (uint32_t f = 0; f < m->shards + 2; f++)
        free(m->lines[f]);
    free(m->lines);
    free(m->n);
}

/* ---- running the pipeline --------------------------------------------- */

typedef struct run {
    pm_gather_out_t *outs;           /* per output file */
    uint64_t *comp_docs, *comp_dups; /* [file][component] */
    pm_task_stats_t stats[N_FILES];
} run_t;

/* Spill compression of the pipeline's streams (a test may change it). */
static int spill_level = PM_SPILL_COMPRESS_NONE;

typedef struct check_blob {
    const run_t *run;
    size_t seen;
} check_blob_t;

static int check_blob(void *ctx, uint32_t task, const void *blob, size_t len)
{
    check_blob_t *c = ctx;
    ck_assert_uint_eq(len, sizeof(pm_task_stats_t));
    ck_assert(memcmp(blob, &c->run->stats[task], len) == 0);
    c->seen++;
    return 0;
}

/* Scatter every task with the given layout, then gather every file with the
 * given budget into cfg->out_dir. */
static void run_pipeline_cctx(fx_t *fx, const pm_layout_t *layout, uint64_t arena, uint64_t budget,
                              ZSTD_CCtx *cctx, run_t *run)
{
    pm_error_t err;
    pm_job_t job;
    ck_assert_int_eq(pm_job_init(&job, &fx->cfg, &fx->plan, layout, &err), 0);
    pm_remove_tree(fx->cfg.work_dir, NULL);
    pm_remove_tree(fx->cfg.out_dir, NULL);
    ck_assert_int_eq(pm_mkdir_p(job.spill_dir, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(job.rejects_dir, &err), 0);
    ck_assert_int_eq(pm_mkdir_p(job.results_dir, &err), 0);
    char train[1024];
    snprintf(train, sizeof train, "%s/train", fx->cfg.out_dir);
    ck_assert_int_eq(pm_mkdir_p(train, &err), 0);

    size_t nt = fx->plan.n_files;
    /* Two "ranks": tasks alternate between two streams; one keeps a staging
     * arena from task to task, as a rank does. */
    pm_spill_arena_t staging = {0};
    pm_spill_stream_t *streams[2];
    pm_buf_t p;
    pm_buf_init(&p);
    uint32_t nb = pm_layout_total_buckets(layout);
    for (uint32_t k = 0; k < 2; k++) {
        ck_assert_int_eq(pm_spill_stream_path(&p, job.spill_dir, 1, k), 0);
        ck_assert_int_eq(pm_spill_stream_open(&streams[k], p.data, nb, (size_t)arena,
                                              k == 0 ? &staging : NULL, spill_level, &err),
                         0);
    }
    for (uint32_t t = 0; t < nt; t++) {
        int rc = pm_scatter_task(&job, streams[t % 2], t, &run->stats[t], NULL, NULL, &err);
        ck_assert_msg(rc == 0, "scatter task %u: %s", t, err.msg);
    }
    for (uint32_t k = 0; k < 2; k++)
        ck_assert_int_eq(pm_spill_stream_close(streams[k], &err), 0);
    pm_spill_arena_free(&staging);
    pm_buf_free(&p);
    uint64_t *recs = calloc(nb, 8), *bytes = calloc(nb, 8);
    pm_spill_stream_id_t ids[2] = {{1, 0, UINT64_MAX}, {1, 1, UINT64_MAX}};
    pm_spill_set_t *set;
    check_blob_t cb = {run, 0};
    ck_assert_int_eq(
        pm_spill_set_open(&set, job.spill_dir, ids, 2, (uint32_t)nt, nb, check_blob, &cb, &err), 0);
    ck_assert_uint_eq(cb.seen, nt); /* every task's commit carries its counters */
    ck_assert_int_eq(pm_spill_set_add_totals(set, 0, 1, recs, bytes, &err), 0);
    uint32_t nf = pm_layout_files(layout);
    size_t nc = fx->cfg.n_components;
    run->outs = calloc(nf, sizeof *run->outs);
    run->comp_docs = calloc(nf * nc, sizeof(uint64_t));
    run->comp_dups = calloc(nf * nc, sizeof(uint64_t));
    pm_gather_in_t in = {.job = &job,
                         .set = set,
                         .bucket_records = recs,
                         .bucket_bytes = bytes,
                         .budget_bytes = budget,
                         .zstd_workers = 1,
                         .cctx = cctx};
    /* With a shared compression context, share the pass memory too, as a
     * rank does: files must come out the same either way. */
    pm_gather_mem_t mem = {0};
    if (cctx)
        in.mem = &mem;
    for (uint32_t f = 0; f < nf; f++) {
        pm_gather_out_t *o = &run->outs[f];
        o->comp_docs = &run->comp_docs[f * nc];
        o->comp_dups = &run->comp_dups[f * nc];
        int rc = pm_gather_file(&in, f, o, NULL, NULL, &err);
        ck_assert_msg(rc == 0, "gather file %u: %s", f, err.msg);
        uint32_t first, count, base;
        uint64_t mult;
        pm_layout_file_buckets(layout, f, &first, &count, &mult, &base);
        ck_assert_uint_ge(o->passes, count);
    }
    pm_gather_mem_free(&mem);
    pm_spill_set_close(set);
    free(recs);
    free(bytes);
    pm_job_close(&job);
}

static void run_pipeline(fx_t *fx, const pm_layout_t *layout, uint64_t arena, uint64_t budget,
                         run_t *run)
{
    run_pipeline_cctx(fx, layout, arena, budget, NULL, run);
}

static void run_free(run_t *run)
{
    free(run->outs);
    free(run->comp_docs);
    free(run->comp_dups);
}

static void decompress_file(const char *path, pm_buf_t *raw)
{
    pm_buf_t file;
    pm_buf_init(&file);
    pm_error_t err;
    ck_assert_int_eq(pm_read_file(path, &file, &err), 0);
    ck_assert_uint_eq(ZSTD_findFrameCompressedSize(file.data, file.len), file.len);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer in = {file.data, file.len, 0};
    size_t left = 1;
    while (left != 0) {
        ck_assert_int_eq(pm_buf_reserve(raw, 1 << 16), 0);
        ZSTD_outBuffer out = {raw->data + raw->len, raw->cap - raw->len - 1, 0};
        left = ZSTD_decompressStream(d, &out, &in);
        ck_assert(!ZSTD_isError(left));
        raw->len += out.pos;
        if (left && in.pos == in.size && out.pos == 0)
            ck_abort_msg("truncated %s", path);
    }
    raw->data[raw->len] = '\0'; /* written around pm_buf: terminate it */
    ZSTD_freeDCtx(d);
    pm_buf_free(&file);
}

static void output_path(const fx_t *fx, uint32_t f, char *out, size_t n)
{
    uint32_t S = fx->cfg.train_shards;
    int width = snprintf(NULL, 0, "%u", S - 1); /* DESIGN 1.5: padded to S-1 */
    if (f < S)
        snprintf(out, n, "%s/train/%0*u.jsonl.zst", fx->cfg.out_dir, width, f);
    else
        snprintf(out, n, "%s/%s.jsonl.zst", fx->cfg.out_dir, f == S ? "val" : "test");
}

/* Every output file holds exactly the model's lines, in the model's order. */
static void check_outputs(const fx_t *fx, const model_t *m, const run_t *run, bool keep_meta)
{
    uint32_t S = fx->cfg.train_shards;
    for (uint32_t f = 0; f < S + 2; f++) {
        char path[1024];
        output_path(fx, f, path, sizeof path);
        pm_buf_t raw;
        pm_buf_init(&raw);
        decompress_file(path, &raw);
        const pm_gather_out_t *o = &run->outs[f];
        ck_assert_uint_eq(o->result.raw_bytes, raw.len);
        ck_assert_uint_eq(o->result.docs, m->n[f]);
        uint64_t text_bytes = 0;
        const char *p = raw.data, *end = raw.data + raw.len;
        size_t k = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            ck_assert_ptr_nonnull(nl);
            ck_assert_msg(k < m->n[f], "file %u: more lines than expected", f);
            const ent_t *e = &m->lines[f][k];
            json_error_t je;
            json_t *obj = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je);
            ck_assert_msg(obj != NULL, "file %u line %zu: %s", f, k + 1, je.text);
            json_t *text = json_object_get(obj, "text");
            json_t *meta = json_object_get(obj, "meta");
            ck_assert_msg(json_string_length(text) == e->d->text_len &&
                              memcmp(json_string_value(text), e->d->text, e->d->text_len) == 0,
                          "file %u line %zu: wrong text (expected doc %s/%s@%llu copy %u)", f,
                          k + 1, e->d->comp_name, e->d->relpath, (unsigned long long)e->d->offset,
                          e->copy);
            ck_assert_str_eq(json_string_value(json_object_get(meta, "pile_set_name")),
                             e->d->comp_name);
            json_object_del(meta, "pile_set_name");
            if (keep_meta) {
                ck_assert_msg(json_equal(meta, e->d->meta), "file %u line %zu: meta differs", f,
                              k + 1);
            } else {
                ck_assert_uint_eq(json_object_size(meta), 0);
            }
            json_decref(obj);
            text_bytes += e->d->text_len;
            p = nl + 1;
            k++;
        }
        ck_assert_uint_eq(k, m->n[f]);
        ck_assert_uint_eq(o->result.text_bytes, text_bytes);
        pm_buf_free(&raw);
        /* Per-component documents and duplicates of this file. */
        pm_split_t sp = f < S ? PM_SPLIT_TRAIN : f == S ? PM_SPLIT_VAL : PM_SPLIT_TEST;
        uint64_t docs[N_COMPS] = {0};
        for (size_t j = 0; j < m->n[f]; j++)
            docs[m->lines[f][j].d->comp]++;
        for (int c = 0; c < N_COMPS; c++) {
            ck_assert_uint_eq(o->comp_docs[c], docs[c]);
            if (sp == PM_SPLIT_TRAIN)
                ck_assert_uint_eq(o->comp_dups[c], 0);
            else
                ck_assert_uint_eq(o->comp_dups[c], m->dups[c][sp]);
        }
    }
}

static void check_stats(const fx_t *fx, const model_t *m, const run_t *run)
{
    for (int i = 0; i < N_FILES; i++) {
        const in_file_t *f = &fx->files[i];
        const pm_task_stats_t *st = &run->stats[f->task];
        ck_assert_uint_eq(st->lines, f->lines);
        ck_assert_uint_eq(st->blank_lines, f->blank);
        ck_assert_uint_eq(st->docs, f->docs);
        ck_assert_uint_eq(st->rejected_total, f->bad);
        ck_assert_uint_eq(st->empty_docs, f->empty);
        uint64_t sum = st->rejected_total + st->empty_docs;
        for (int s = 0; s < PM_SPLIT_COUNT; s++) {
            ck_assert_uint_eq(st->split_docs[s], m->split_docs[i][s]);
            sum += st->split_docs[s];
        }
        ck_assert_uint_eq(st->docs, sum);
        ck_assert_uint_eq(st->train_copies, m->copies[i]);
        uint64_t rej = 0;
        for (int r = 0; r < PM_REC_STATUS_COUNT; r++)
            rej += st->rejected[r];
        ck_assert_uint_eq(rej, st->rejected_total);
    }
}

static void compare_dirs(const fx_t *fx, const char *other_out)
{
    uint32_t S = fx->cfg.train_shards;
    for (uint32_t f = 0; f < S + 2; f++) {
        char a[1024], b[1024];
        output_path(fx, f, a, sizeof a);
        snprintf(b, sizeof b, "%s%s", other_out, a + strlen(fx->cfg.out_dir));
        pm_buf_t x, y;
        pm_buf_init(&x);
        pm_buf_init(&y);
        ck_assert_int_eq(pm_read_file(a, &x, NULL), 0);
        ck_assert_int_eq(pm_read_file(b, &y, NULL), 0);
        ck_assert_msg(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
                      "output %u differs between runs", f);
        pm_buf_free(&x);
        pm_buf_free(&y);
    }
}

static uint64_t model_train_bytes(const model_t *m)
{
    uint64_t b = 0;
    for (uint32_t f = 0; f < m->shards; f++)
        for (size_t k = 0; k < m->n[f]; k++)
            b += m->lines[f][k].d->text_len;
    return b;
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_gather_matches_model)
{
    uint64_t s = pm_test_seed();
    fx_t fx;
    fx_setup(&fx, &s, "");
    model_t m;
    model_build(&fx, &m);
    /* The fixture must exercise what it claims to. */
    uint64_t total_dups = 0;
    for (int c = 0; c < N_COMPS; c++)
        total_dups += m.dups[c][PM_SPLIT_VAL] + m.dups[c][PM_SPLIT_TEST];
    ck_assert_uint_gt(total_dups, 0);
    for (uint32_t f = 0; f < m.shards + 2; f++)
        ck_assert_uint_gt(m.n[f], 0);

    pm_layout_t l;
    pm_layout_choose(&l, fx.cfg.train_shards, 1000, 100, 100, 1u << 30); /* one bucket each */
    ck_assert_uint_eq(pm_layout_total_buckets(&l), fx.cfg.train_shards + 2);
    run_t run;
    run_pipeline(&fx, &l, 1u << 20, 1u << 30, &run);
    check_stats(&fx, &m, &run);
    check_outputs(&fx, &m, &run, true);
    for (uint32_t f = 0; f < m.shards + 2; f++)
        ck_assert_uint_eq(run.outs[f].passes, 1);
    /* Each distinct holdout text once (the model's dedup is checked against
     * the files above; here, independently, no text repeats). */
    for (uint32_t f = m.shards; f < m.shards + 2; f++)
        for (size_t a = 1; a < m.n[f]; a++)
            ck_assert_int_ne(cmp_text(&m.lines[f][a - 1], &m.lines[f][a]), 0);
    run_free(&run);
    model_free(&m);
    fx_teardown(&fx);
}
END_TEST

START_TEST(test_output_independent_of_layout_and_budget)
{
    uint64_t s = pm_test_seed();
    fx_t fx;
    fx_setup(&fx, &s, "");
    model_t m;
    model_build(&fx, &m);
    char saved[1024];
    snprintf(saved, sizeof saved, "%s/out.first", fx.dir);

    /* Run 1: one bucket per file, large budget. */
    pm_layout_t l1;
    pm_layout_choose(&l1, fx.cfg.train_shards, 0, 0, 0, 1u << 30);
    run_t r1;
    run_pipeline(&fx, &l1, 1u << 20, 1u << 30, &r1);
    check_outputs(&fx, &m, &r1, true);
    ck_assert_int_eq(rename(fx.cfg.out_dir, saved), 0);

    /* Run 2: many buckets per file, tiny spill arena, large budget. */
    pm_layout_t l2;
    uint64_t tb = model_train_bytes(&m);
    pm_layout_choose(&l2, fx.cfg.train_shards, tb, 3000, 3000, 150);
    ck_assert_uint_gt(l2.per_shard, 20);
    ck_assert_uint_gt(l2.val_buckets, 5);
    run_t r2;
    run_pipeline(&fx, &l2, 4096, 1u << 30, &r2);
    check_outputs(&fx, &m, &r2, true);
    compare_dirs(&fx, saved);
    for (uint32_t f = 0; f < m.shards + 2; f++) {
        ck_assert(memcmp(&r1.outs[f].result, &r2.outs[f].result, sizeof(pm_file_result_t)) == 0);
        ck_assert_uint_eq(r2.outs[f].passes, f < m.shards    ? l2.per_shard
                                             : f == m.shards ? l2.val_buckets
                                                             : l2.test_buckets);
    }

    /* Run 3: one bucket per file and a tiny gather budget: many passes. */
    run_t r3;
    run_pipeline(&fx, &l1, 1u << 20, 600, &r3);
    check_outputs(&fx, &m, &r3, true);
    compare_dirs(&fx, saved);
    uint64_t passes = 0;
    for (uint32_t f = 0; f < m.shards + 2; f++) {
        ck_assert_uint_gt(r3.outs[f].passes, 3);
        passes += r3.outs[f].passes;
    }
    ck_assert_uint_gt(passes, 50);

    /* Run 4: many buckets, a budget of one byte (a pass per handful of
     * keys), and one zstd context and one pass memory lent to every file. */
    run_t r4;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    run_pipeline_cctx(&fx, &l2, 1u << 16, 1, cctx, &r4);
    ZSTD_freeCCtx(cctx);
    compare_dirs(&fx, saved);
    for (uint32_t f = 0; f < m.shards + 2; f++)
        ck_assert(memcmp(&r1.outs[f].result, &r4.outs[f].result, sizeof(pm_file_result_t)) == 0);

    run_free(&r1);
    run_free(&r2);
    run_free(&r3);
    run_free(&r4);
    model_free(&m);
    fx_teardown(&fx);
}
END_TEST

START_TEST(test_keep_meta_false)
{
    uint64_t s = pm_test_seed();
    fx_t fx;
    fx_setup(&fx, &s, ", \"keep_meta\": false");
    ck_assert(!fx.cfg.keep_meta);
    model_t m;
    model_build(&fx, &m);
    pm_layout_t l;
    pm_layout_choose(&l, fx.cfg.train_shards, 40000, 4000, 4000, 4000);
    run_t run;
    run_pipeline(&fx, &l, 1u << 20, 1u << 30, &run);
    check_outputs(&fx, &m, &run, false);
    run_free(&run);
    model_free(&m);
    fx_teardown(&fx);
}
END_TEST

START_TEST(test_empty_holdout_and_shards)
{
    /* No val/test and more shards than copies: empty files are still valid
     * single frames, and val/test exist (empty). */
    char *dir = pm_test_tmpdir();
    char path[1024], origin[1024];
    snprintf(path, sizeof path, "%s/in/one.jsonl", dir);
    write_bytes(path, "{\"text\": \"only\"}\n", 17);
    snprintf(origin, sizeof origin, "%s/c.json", dir);
    const char *json = "{\"name\": \"e\", \"components\": [{\"name\": \"One\", \"paths\": "
                       "[\"in/one.jsonl\"], \"epochs\": 1}], \"output\": {\"dir\": \"out\", "
                       "\"train_shards\": 12}}";
    pm_config_t cfg;
    pm_plan_t plan;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&cfg, json, origin, &err), 0);
    ck_assert_int_eq(pm_plan_build(&plan, &cfg, &err), 0);
    fx_t fx;
    memset(&fx, 0, sizeof fx);
    fx.cfg = cfg;
    fx.plan = plan;
    pm_layout_t l;
    pm_layout_choose(&l, 12, 0, 0, 0, 1u << 20);
    run_t run;
    run_pipeline(&fx, &l, 1u << 20, 1u << 20, &run);
    uint64_t docs = 0;
    for (uint32_t f = 0; f < 14; f++) {
        char p[1024];
        output_path(&fx, f, p, sizeof p);
        if (f == 11)
            ck_assert_ptr_nonnull(strstr(p, "/train/11.jsonl.zst"));
        if (f == 3)
            ck_assert_ptr_nonnull(strstr(p, "/train/03.jsonl.zst"));
        pm_buf_t raw;
        pm_buf_init(&raw);
        decompress_file(p, &raw);
        ck_assert_uint_eq(raw.len, run.outs[f].result.raw_bytes);
        docs += run.outs[f].result.docs;
        if (run.outs[f].result.docs)
            ck_assert_str_eq(raw.data,
                             "{\"text\": \"only\", \"meta\": {\"pile_set_name\": \"One\"}}\n");
        pm_buf_free(&raw);
    }
    ck_assert_uint_eq(docs, 1);
    run_free(&run);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    pm_test_rmdir(dir);
}
END_TEST

/* ---- memory bound whatever the content -------------------------------- */

/* A job over fx's plan with one bucket per file, and one spill stream in
 * which the caller puts records by hand; then every file is gathered with a
 * small budget. */
typedef struct handmade {
    pm_job_t job;
    pm_layout_t layout;
    pm_spill_stream_t *stream;
    uint32_t task; /* the task being added, or UINT32_MAX */
} handmade_t;

static void hm_open(handmade_t *h, fx_t *fx)
{
    pm_error_t err;
    pm_layout_choose(&h->layout, fx->cfg.train_shards, 0, 0, 0, 1u << 30);
    ck_assert_uint_eq(pm_layout_total_buckets(&h->layout), fx->cfg.train_shards + 2);
    ck_assert_int_eq(pm_job_init(&h->job, &fx->cfg, &fx->plan, &h->layout, &err), 0);
    pm_remove_tree(fx->cfg.work_dir, NULL);
    pm_remove_tree(fx->cfg.out_dir, NULL);
    ck_assert_int_eq(pm_mkdir_p(h->job.spill_dir, &err), 0);
    char train[1024];
    snprintf(train, sizeof train, "%s/train", fx->cfg.out_dir);
    ck_assert_int_eq(pm_mkdir_p(train, &err), 0);
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, h->job.spill_dir, 1, 0), 0);
    ck_assert_int_eq(pm_spill_stream_open(&h->stream, p.data, pm_layout_total_buckets(&h->layout),
                                          4u << 20, NULL, PM_SPILL_COMPRESS_NONE, &err),
                     0);
    pm_buf_free(&p);
    h->task = UINT32_MAX;
}

/* Add a record of task (tasks in order, each once). */
static void hm_add(handmade_t *h, uint32_t task, pm_split_t split, uint64_t key, uint64_t offset,
                   uint32_t copy, const char *text)
{
    pm_error_t err;
    if (task != h->task) {
        if (h->task != UINT32_MAX) {
            pm_task_stats_t st = {0};
            ck_assert_int_eq(pm_spill_stream_end_task(h->stream, &st, sizeof st, &err), 0);
        }
        ck_assert_int_eq(pm_spill_stream_begin_task(h->stream, task, &err), 0);
        h->task = task;
    }
    pm_spill_rec_t r = {key, offset, task, copy, (uint32_t)strlen(text), 0, 0, 0};
    ck_assert_int_eq(pm_spill_stream_add(h->stream, pm_layout_bucket(&h->layout, split, key), &r,
                                         text, "", &err),
                     0);
}

/* Close the stream (every task of the plan committed), gather file f with
 * budget; the output's raw bytes in raw. */
static void hm_gather(handmade_t *h, fx_t *fx, uint32_t f, uint64_t budget, pm_gather_out_t *o,
                      pm_buf_t *raw)
{
    pm_error_t err;
    pm_task_stats_t st = {0};
    if (h->stream) {
        for (uint32_t t = h->task == UINT32_MAX ? 0 : h->task; t < fx->plan.n_files; t++) {
            if (t != h->task)
                ck_assert_int_eq(pm_spill_stream_begin_task(h->stream, t, &err), 0);
            ck_assert_int_eq(pm_spill_stream_end_task(h->stream, &st, sizeof st, &err), 0);
        }
        ck_assert_int_eq(pm_spill_stream_close(h->stream, &err), 0);
        h->stream = NULL;
    }
    uint32_t nb = pm_layout_total_buckets(&h->layout);
    uint64_t *recs = calloc(nb, 8), *bytes = calloc(nb, 8);
    pm_spill_stream_id_t id = {1, 0, UINT64_MAX};
    pm_spill_set_t *set;
    ck_assert_int_eq(pm_spill_set_open(&set, h->job.spill_dir, &id, 1, (uint32_t)fx->plan.n_files,
                                       nb, NULL, NULL, &err),
                     0);
    ck_assert_int_eq(pm_spill_set_add_totals(set, 0, 1, recs, bytes, &err), 0);
    pm_gather_in_t in = {.job = &h->job,
                         .set = set,
                         .bucket_records = recs,
                         .bucket_bytes = bytes,
                         .budget_bytes = budget,
                         .zstd_workers = 1};
    int rc = pm_gather_file(&in, f, o, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "gather: %s", err.msg);
    char p[1024];
    output_path(fx, f, p, sizeof p);
    decompress_file(p, raw);
    pm_spill_set_close(set);
    free(recs);
    free(bytes);
}

/* One train bucket of 6,000 copies that all have the same key: no key
 * sub-range can split it, yet passes stay within the budget and the order
 * is the identity order. (Such data cannot arise from real inputs: a train
 * copy's key is a keyed 64-bit hash of its identity and copy index, which
 * differ for every copy; a 64-bit collision is the only way two copies share
 * a key. The gather must hold the budget anyway, so it is built here.) */
START_TEST(test_equal_key_train_bucket_within_budget)
{
    uint64_t s = pm_test_seed();
    fx_t fx;
    fx_setup(&fx, &s, "");
    handmade_t h;
    hm_open(&h, &fx);
    size_t n = 6000;
    char text[96];
    /* Arrival order is not the identity order: tasks in plan order, offsets
     * descending, copies mixed. */
    for (uint32_t t = 0; t < fx.plan.n_files; t++)
        for (size_t i = 0; i < n / fx.plan.n_files; i++) {
            uint64_t off = 1000000 - i * 10;
            uint32_t copy = (uint32_t)(i % 3);
            snprintf(text, sizeof text, "%08u %012llu %02u padding padding padding padding",
                     h.job.file_order[t], (unsigned long long)off, copy);
            hm_add(&h, t, PM_SPLIT_TRAIN, 42, off, copy, text);
        }
    uint64_t budget = 64 << 10; /* the bucket needs ~800 KB */
    uint64_t docs[N_COMPS] = {0}, dups[N_COMPS] = {0};
    pm_gather_out_t o = {.comp_docs = docs, .comp_dups = dups};
    pm_buf_t raw;
    pm_buf_init(&raw);
    hm_gather(&h, &fx, 0, budget, &o, &raw);
    ck_assert_uint_eq(o.result.docs, n);
    ck_assert_uint_le(o.peak_bytes, budget);
    ck_assert_uint_gt(o.passes, 10);
    /* Lines come in identity order: the text's fields sort as strings. */
    const char *prev = NULL;
    size_t lines = 0;
    for (char *line = strtok(raw.data, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        const char *t = strstr(line, "\"text\": \"") + 9;
        if (prev)
            ck_assert_msg(strncmp(prev, t, 26) < 0, "out of order: %.26s then %.26s", prev, t);
        prev = t;
    }
    ck_assert_uint_eq(lines, n);
    pm_buf_free(&raw);
    pm_job_close(&h.job);
    fx_teardown(&fx);
}
END_TEST

/* 100,000 copies of one text in val, among distinct texts, with a budget
 * far below the copies' bytes: each pass holds distinct texts only, the
 * text is written once (the smallest identity's), the others are counted
 * as duplicates of their components. */
START_TEST(test_holdout_copies_collapse_within_budget)
{
    uint64_t s = pm_test_seed();
    fx_t fx;
    fx_setup(&fx, &s, "");
    handmade_t h;
    hm_open(&h, &fx);
    pm_mix_t mix;
    pm_mix_init(&mix, fx.cfg.seed, fx.cfg.val_fraction, fx.cfg.test_fraction);
    char big[1000];
    memset(big, 'd', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    uint64_t big_key = pm_mix_holdout_key(&mix, big, strlen(big));
    size_t copies = 100000, distinct = 300;
    uint64_t want_dups[N_COMPS] = {0};
    char text[64];
    for (uint32_t t = 0; t < fx.plan.n_files; t++) {
        uint32_t comp = fx.plan.files[t].component;
        for (size_t i = 0; i < copies / fx.plan.n_files; i++) {
            hm_add(&h, t, PM_SPLIT_VAL, big_key, 5000000 - i, 0, big);
            want_dups[comp]++;
            if (i < distinct / fx.plan.n_files) {
                snprintf(text, sizeof text, "distinct %u %zu", t, i);
                hm_add(&h, t, PM_SPLIT_VAL, pm_mix_holdout_key(&mix, text, strlen(text)), i, 0,
                       text);
            }
        }
    }
    /* The copy kept: the smallest identity, in the first file in identity
     * order, whose copy of the text has the smallest offset. */
    uint32_t first = 0;
    for (uint32_t t = 0; t < fx.plan.n_files; t++)
        if (h.job.file_order[t] < h.job.file_order[first])
            first = t;
    want_dups[fx.plan.files[first].component]--;
    uint64_t budget = 128 << 10; /* the copies need ~110 MB */
    uint64_t docs[N_COMPS] = {0}, dups[N_COMPS] = {0};
    pm_gather_out_t o = {.comp_docs = docs, .comp_dups = dups};
    pm_buf_t raw;
    pm_buf_init(&raw);
    hm_gather(&h, &fx, fx.cfg.train_shards, budget, &o, &raw);
    ck_assert_uint_eq(o.result.docs, distinct + 1);
    ck_assert_uint_le(o.peak_bytes, budget);
    for (int c = 0; c < N_COMPS; c++)
        ck_assert_uint_eq(dups[c], want_dups[c]);
    ck_assert_ptr_nonnull(strstr(raw.data, big));
    ck_assert_ptr_null(strstr(strstr(raw.data, big) + 1, big)); /* once */
    pm_buf_free(&raw);
    pm_job_close(&h.job);
    fx_teardown(&fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gather");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gather_matches_model);
    tcase_add_test(tc, test_equal_key_train_bucket_within_budget);
    tcase_add_test(tc, test_holdout_copies_collapse_within_budget);
    tcase_add_test(tc, test_output_independent_of_layout_and_budget);
    tcase_add_test(tc, test_keep_meta_false);
    tcase_add_test(tc, test_empty_holdout_and_shards);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
