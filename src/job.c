#include "pilemix/job.h"

#include "pilemix/dedup.h"

#include "pilemix/format.h"
#include "pilemix/fsutil.h"
#include "pilemix/record.h"
#include "pilemix/source.h"
#include "pilemix/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_task_stats_add(pm_task_stats_t *into, const pm_task_stats_t *s)
{
    uint64_t *a = (uint64_t *)into;
    const uint64_t *b = (const uint64_t *)s;
    for (size_t i = 0; i < offsetof(pm_task_stats_t, file_xxh3) / sizeof(uint64_t); i++)
        a[i] += b[i];
}

/* A file's place among identity paths: relpath, and for an archive
 * relpath + "/" (every identity in it is relpath/member). No relpath + "/"
 * is a prefix of another file's relpath (it would be a directory), so this
 * order and the members' own order give DESIGN 1.3's identity order. */
static int cmp_file_path(const pm_input_file_t *a, const pm_input_file_t *b)
{
    const unsigned char *x = (const unsigned char *)a->relpath,
                        *y = (const unsigned char *)b->relpath;
    while (*x && *x == *y)
        x++, y++;
    unsigned cx = *x ? *x : pm_format_content(a->format) == PM_CONTENT_ARCHIVE ? '/' : 0;
    unsigned cy = *y ? *y : pm_format_content(b->format) == PM_CONTENT_ARCHIVE ? '/' : 0;
    return cx < cy ? -1 : cx > cy;
}

static int by_identity(const void *pa, const void *pb, void *ctx)
{
    const pm_job_t *order_job = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    int r = strcmp(pm_job_file_component(order_job, a), pm_job_file_component(order_job, b));
    if (r == 0)
        r = cmp_file_path(&order_job->plan->files[a], &order_job->plan->files[b]);
    return r ? r : (a < b ? -1 : a > b);
}

int pm_job_init(pm_job_t *job, const pm_config_t *cfg, const pm_plan_t *plan,
                const pm_layout_t *layout, pm_error_t *err)
{
    memset(job, 0, sizeof *job);
    job->cfg = cfg;
    job->plan = plan;
    job->layout = *layout;
    pm_mix_init(&job->mix, cfg->seed, cfg->val_fraction, cfg->test_fraction);
    job->file_hash = calloc(plan->n_files + 1, sizeof(uint64_t));
    job->members = calloc(plan->n_files + 1, sizeof *job->members);
    job->n_members = calloc(plan->n_files + 1, sizeof *job->n_members);
    job->member_order = calloc(plan->n_files + 1, sizeof *job->member_order);
    job->file_order = calloc(plan->n_files + 1, sizeof(uint32_t));
    uint32_t *by = calloc(plan->n_files + 1, sizeof(uint32_t));
    job->spill_dir = pm_path_join(cfg->work_dir, "spill");
    job->rejects_dir = pm_path_join(cfg->work_dir, "rejects");
    job->results_dir = pm_path_join(cfg->work_dir, "results");
    if (!job->file_hash || !job->members || !job->n_members || !job->member_order ||
        !job->file_order || !by || !job->spill_dir || !job->rejects_dir || !job->results_dir) {
        free(by);
        pm_job_close(job);
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    }
    for (size_t i = 0; i < plan->n_files; i++) {
        job->file_hash[i] =
            pm_file_hash(cfg->components[plan->files[i].component].name, plan->files[i].relpath);
        by[i] = (uint32_t)i;
    }
    qsort_r(by, plan->n_files, sizeof *by, by_identity, job);
    for (size_t i = 0; i < plan->n_files; i++)
        job->file_order[by[i]] = (uint32_t)i;
    free(by);
    if (cfg->canaries && !cfg->canaries->secret) {
        pm_job_close(job);
        return pm_error_set(err, PM_ECONFIG, cfg->path, 0,
                            "output.canaries: this config has only the secret's digest (as a "
                            "manifest's canonical form has it); give \"secret\" to build it");
    }
    if (cfg->canaries) {
        int rc = pm_canaries_derive(&job->canaries, cfg->canaries->secret, cfg->canaries->count,
                                    cfg->n_components, err);
        if (rc < 0) {
            pm_job_close(job);
            return rc;
        }
    }
    return 0;
}

void pm_job_file_canaries(const pm_job_t *job, uint32_t file, size_t *first, size_t *count)
{
    *first = *count = 0;
    if (!job->canaries.n || pm_layout_file_split(&job->layout, file) != PM_SPLIT_TRAIN)
        return;
    uint64_t lo, hi;
    pm_key_range(job->layout.train_shards, file, &lo, &hi);
    pm_canaries_range(&job->canaries, lo, hi, first, count);
}

static void free_members(pm_job_t *job, size_t f)
{
    for (uint32_t m = 0; m < job->n_members[f]; m++)
        free(job->members[f][m]);
    free(job->members[f]);
    job->members[f] = NULL;
    free(job->member_order[f]);
    job->member_order[f] = NULL;
    job->n_members[f] = 0;
}

static int by_member_path(const void *pa, const void *pb, void *ctx)
{
    char *const *names = ctx;
    return strcmp(names[*(const uint32_t *)pa], names[*(const uint32_t *)pb]);
}

/* Members' ranks by path (byte-wise; an archive never holds a path twice,
 * the source refuses that), so the gather compares identities as numbers. */
static int order_members(pm_job_t *job, uint32_t f, pm_error_t *err)
{
    uint32_t n = job->n_members[f];
    uint32_t *by = malloc((n + 1) * sizeof *by);
    if (!by || !(job->member_order[f] = malloc((n + 1) * sizeof(uint32_t)))) {
        free(by);
        return pm_error_nomem(err);
    }
    for (uint32_t i = 0; i < n; i++)
        by[i] = i;
    qsort_r(by, n, sizeof *by, by_member_path, job->members[f]);
    for (uint32_t i = 0; i < n; i++)
        job->member_order[f][by[i]] = i + 1;
    free(by);
    return 0;
}

void pm_job_close(pm_job_t *job)
{
    if (job->members)
        for (size_t f = 0; f < job->plan->n_files; f++)
            free_members(job, f);
    free(job->members);
    free(job->n_members);
    free(job->member_order);
    free(job->file_hash);
    pm_canaries_free(&job->canaries);
    free(job->file_order);
    free(job->spill_dir);
    free(job->rejects_dir);
    free(job->results_dir);
    memset(job, 0, sizeof *job);
}

int pm_job_rejects_path(const pm_job_t *job, uint32_t task, pm_buf_t *out)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/task-%07u.jsonl", job->rejects_dir, task);
}

int pm_job_output_name(const pm_job_t *job, uint32_t file, pm_buf_t *out)
{
    pm_split_t split = pm_layout_file_split(&job->layout, file);
    pm_buf_reset(out);
    if (split != PM_SPLIT_TRAIN)
        return pm_buf_printf(out, "%s.jsonl.zst", pm_split_name(split));
    int width = snprintf(NULL, 0, "%u", job->layout.train_shards - 1);
    return pm_buf_printf(out, "train/%0*u.jsonl.zst", width, file);
}

uint64_t pm_job_estimate_bytes(const pm_input_file_t *f)
{
    /* Text compresses about 3-4x with zstd; over-estimating only makes
     * buckets smaller, under-estimating makes gather take extra passes. */
    if (f->format == PM_FORMAT_JSONL || f->format == PM_FORMAT_JSONL_ZST)
        return f->format == PM_FORMAT_JSONL_ZST ? f->size * 4 : f->size; /* as always */
    /* gzip ~3-4x on text, xz and bzip2 more; an archive may hold either. */
    return pm_format_compressed(f->format) ? f->size * 5 : f->size;
}

/* Test-only overrides (documented in README, "Testing"): force tiny buckets
 * or tiny gather passes on a small corpus, to exercise the paths a large
 * corpus takes. They change how work is cut, never the output. */
static uint64_t test_override(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : 0;
}

uint64_t pm_job_bucket_budget(uint64_t mem)
{
    uint64_t forced = test_override("PILEMIX_TEST_GATHER_BYTES");
    if (forced)
        return forced;
    /* Records plus a 24-byte sort entry each, beside the compressor and the
     * spill read buffers. */
    uint64_t b = mem / 4;
    return b < (1u << 20) ? (1u << 20) : b;
}

uint64_t pm_job_spill_arena(uint64_t mem, uint64_t max_record_bytes)
{
    /* Half the budget, less what the reader, the parsed record and the line
     * may hold when a record is as long as allowed (they are rarely that big,
     * so the reserve never takes the arena below a useful size). */
    uint64_t reserve = 3 * max_record_bytes + (16u << 20);
    uint64_t a = mem / 2;
    if (mem > reserve && mem - reserve < a)
        a = mem - reserve;
    return a < (4u << 20) ? (4u << 20) : a;
}

int pm_job_zstd_workers(long online_cores, long ranks_on_node, long usable_cores,
                        uint64_t mem_per_rank)
{
    long share =
        online_cores > ranks_on_node && ranks_on_node > 0 ? online_cores / ranks_on_node : 1;
    /* More threads than cores only contend (measured: 2 workers on a 2-core
     * node cost more CPU and wall than 1). */
    if (usable_cores > 0 && usable_cores < share)
        share = usable_cores;
    long w = share - 1;
    /* Each worker holds ~12 MiB of job buffers at level 3 (measured). */
    uint64_t by_memory = mem_per_rank / 8 / (16u << 20);
    if ((uint64_t)w > by_memory)
        w = (long)by_memory;
    if (w > 64)
        w = 64;
    return w < 1 ? 1 : (int)w;
}

void pm_job_choose_layout(const pm_config_t *cfg, const pm_plan_t *plan, uint64_t mem_per_rank,
                          pm_layout_t *layout)
{
    long double train = 0, val = 0, test = 0;
    double keep = 1.0 - cfg->val_fraction - cfg->test_fraction;
    for (size_t i = 0; i < plan->n_files; i++) {
        long double est = (long double)pm_job_estimate_bytes(&plan->files[i]);
        train += est * cfg->components[plan->files[i].component].epochs * keep;
        val += est * cfg->val_fraction;
        test += est * cfg->test_fraction;
    }
    uint64_t bucket = test_override("PILEMIX_TEST_LAYOUT_BYTES");
    pm_layout_choose(layout, cfg->train_shards, (uint64_t)train, (uint64_t)val, (uint64_t)test,
                     bucket ? bucket : pm_job_bucket_budget(mem_per_rank));
    layout->dedup_buckets = 0;
    if (cfg->dedup == PM_DEDUP_EXACT) {
        /* One digest record per document: guess documents of 512 bytes (a
         * bucket that turns out bigger is read in digest sub-ranges). */
        long double docs = (train / 2 + val + test) / 512 + 1;
        uint64_t per = bucket ? bucket : pm_job_bucket_budget(mem_per_rank);
        long double n = docs * PM_DEDUP_REC_BYTES / (long double)(per ? per : 1) + 1;
        layout->dedup_buckets = n > PM_MAX_BUCKETS_PER_FILE ? PM_MAX_BUCKETS_PER_FILE : (uint32_t)n;
    }
}

int pm_task_blob_encode(pm_buf_t *out, const pm_task_stats_t *st, char *const *members,
                        uint32_t n_members)
{
    pm_buf_reset(out);
    PM_TRY(pm_buf_append(out, st, sizeof *st));
    if (n_members == 0)
        return 0;
    PM_TRY(pm_buf_append(out, &n_members, sizeof n_members));
    for (uint32_t i = 0; i < n_members; i++) {
        uint32_t len = (uint32_t)strlen(members[i]);
        PM_TRY(pm_buf_append(out, &len, sizeof len));
        PM_TRY(pm_buf_append(out, members[i], len));
    }
    return 0;
}

int pm_job_load_task_blob(pm_job_t *job, uint32_t task, const void *blob, size_t len,
                          pm_task_stats_t *st, pm_error_t *err)
{
    const char *p = blob, *end = p + len;
    if (len < sizeof *st)
        return pm_error_set(err, PM_ESTATE, NULL, 0, "task %u: commit record too short", task);
    memcpy(st, p, sizeof *st);
    p += sizeof *st;
    free_members(job, task);
    if (p == end)
        return 0;
    uint32_t n;
    if (end - p < (ptrdiff_t)sizeof n)
        goto bad;
    memcpy(&n, p, sizeof n);
    p += sizeof n;
    if (n > (size_t)(end - p) / sizeof(uint32_t))
        goto bad;
    if (!(job->members[task] = calloc(n, sizeof(char *))))
        return pm_error_nomem(err);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l;
        if (end - p < (ptrdiff_t)sizeof l)
            goto bad;
        memcpy(&l, p, sizeof l);
        p += sizeof l;
        if ((size_t)(end - p) < l)
            goto bad;
        if (!(job->members[task][i] = strndup(p, l)))
            return pm_error_nomem(err);
        job->n_members[task] = i + 1;
        p += l;
    }
    if (p == end)
        return order_members(job, task, err);
bad:
    free_members(job, task);
    return pm_error_set(err, PM_ESTATE, NULL, 0, "task %u: damaged member list in its commit",
                        task);
}

int pm_job_identity_path(const pm_job_t *job, uint32_t file, uint32_t member, pm_buf_t *out)
{
    const char *rel = job->plan->files[file].relpath;
    if (member == 0)
        return pm_buf_append_str(out, rel);
    if (member > job->n_members[file])
        return PM_EINTERNAL;
    return pm_buf_printf(out, "%s/%s", rel, job->members[file][member - 1]);
}

/* ---- space estimate ---- */

#define SAMPLE_OUT (2u << 20)    /* uncompressed bytes looked at per sampled file */
#define SAMPLE_MAX (32u << 20)   /* at most, to see a chunk boundary of the compressed bytes */
#define SAMPLE_ZSTD (128u << 10) /* output bytes compressed to find the ratio */
#define SAMPLE_FILES 1000
/* A spill record's header; the gather's output line around a text: {"text":
 * "", "meta": {"pile_set_name": ""}}\n and ", " before kept meta. */
#define SPILL_HEADER PM_SPILL_REC_HEADER
#define LINE_FRAME 43

typedef struct sample {
    double unc_per_byte;  /* uncompressed bytes per file byte */
    double spill_per_unc; /* spill record bytes per uncompressed byte */
    double out_per_unc;   /* output line bytes per uncompressed byte */
    double zst_per_out;   /* compressed output bytes per output byte */
    double docs_per_unc;  /* documents per uncompressed byte (exact dedup's digests) */
    bool ok;
} sample_t;

/* The first bytes of a file: how it decompresses, and what its lines turn
 * into in the spill and in the output. A file that does not read or parse
 * here is left to the run to report: the sample just does not count. */
/* One sampled document: what it costs in the spill and in the output. */
static void sample_doc(const pm_config_t *cfg, const char *name, const char *text, size_t tl,
                       const char *meta, size_t ml, pm_buf_t *line_out, pm_buf_t *zs, double *spill,
                       double *outb, double *docs)
{
    size_t m = cfg->keep_meta ? ml : 0;
    *spill += SPILL_HEADER + (double)tl + (double)m;
    (*docs)++;
    pm_buf_reset(line_out);
    if (pm_json_escape(line_out, text, tl) == 0)
        *outb += (double)line_out->len + LINE_FRAME + strlen(name) + (m ? m + 2 : 0);
    if (zs->len < SAMPLE_ZSTD) { /* output-like bytes for the ratio */
        pm_buf_append(zs, line_out->data, line_out->len);
        if (m)
            pm_buf_append(zs, meta, m);
    }
}

/* The first documents of a file, read through the document source as the
 * scatter reads them (every format: gzip, archives, JSON arrays, texts), up
 * to SAMPLE_OUT uncompressed bytes: how the file decompresses, and what its
 * documents turn into in the spill and in the output. A file that does not
 * read or parse here is left to the run to report: the sample just does not
 * count. */
static void sample_file(const pm_config_t *cfg, const pm_input_file_t *f, sample_t *out)
{
    memset(out, 0, sizeof *out);
    const pm_component_cfg_t *cc = &cfg->components[f->component];
    pm_record_keys_t keys = {
        cc->text_key ? cc->text_key : "text", cc->text_key ? strlen(cc->text_key) : 4,
        cc->meta_key ? cc->meta_key : "meta", cc->meta_key ? strlen(cc->meta_key) : 4};
    /* A document longer than the sample is looked at as its first part. */
    pm_source_opts_t so = {SAMPLE_OUT, f->relpath, cc->exclude, cc->n_exclude, false};
    pm_source_t *src = NULL;
    pm_error_t ignored;
    if (pm_source_open(&src, f->path, f->path, f->format, &so, &ignored) < 0)
        return;
    pm_buf_t line_out, zs;
    pm_buf_init(&line_out);
    pm_buf_init(&zs);
    pm_record_t rec;
    pm_record_init(&rec);
    double produced = 0, spill = 0, outb = 0, docs = 0;
    const char *name = cc->name;
    pm_doc_t doc;
    bool whole = false;
    /* The source reads its file in chunks of compressed bytes: the ratio is
     * taken when a chunk is fetched (everything before it was decoded into
     * the documents seen so far), the first such moment past SAMPLE_OUT. */
    double snap_in = 0, snap_out = 0;
    while (produced < SAMPLE_MAX && (produced < SAMPLE_OUT || snap_in == 0)) {
        uint64_t before = pm_source_bytes_in(src);
        int rc = pm_source_next(src, &doc, &ignored);
        if (rc <= 0) {
            whole = rc == 0;
            break;
        }
        if (pm_source_bytes_in(src) > before && before > 0 && produced > 0) {
            snap_in = (double)before;
            snap_out = produced;
        }
        const pm_line_t *l = &doc.line;
        /* A cut document counts at its full length, as the run reads it. */
        size_t full = l->too_long && l->full_len > l->len ? l->full_len : l->len;
        produced += (double)full + (doc.kind == PM_DOC_TEXT ? 0 : 1);
        if (l->too_long && full <= cfg->max_record_bytes) {
            /* Longer than the sample looks, but a document to the run: its
             * bytes as text (the JSON around a long text is negligible). */
            spill += SPILL_HEADER + (double)full;
            outb += (double)full + LINE_FRAME + strlen(name);
            docs++;
        }
        if (l->len == 0 || l->too_long)
            continue;
        if (doc.kind == PM_DOC_TEXT)
            sample_doc(cfg, name, l->data, l->len, NULL, 0, &line_out, &zs, &spill, &outb, &docs);
        else if (pm_record_parse_keys(&rec, l->data, l->len, &keys) == PM_REC_OK &&
                 rec.text.len > 0)
            sample_doc(cfg, name, rec.text.data, rec.text.len, rec.meta.data, rec.meta.len,
                       &line_out, &zs, &spill, &outb, &docs);
    }
    double unc_per_byte = 0;
    if (whole && f->size > 0)
        unc_per_byte = produced / (double)f->size; /* the whole file: exact */
    else if (snap_in > 0)
        unc_per_byte = snap_out / snap_in;
    else if (pm_source_bytes_in(src) > 0) /* one chunk only: a lower bound */
        unc_per_byte = produced / (double)pm_source_bytes_in(src);
    pm_source_close(src);
    if (unc_per_byte > 0 && produced > 0) {
        out->unc_per_byte = unc_per_byte;
        out->spill_per_unc = spill / produced;
        out->docs_per_unc = docs / produced;
        out->out_per_unc = outb / produced;
        out->zst_per_out = 0.3;
        if (zs.len > 0) {
            size_t cap = ZSTD_compressBound(zs.len);
            char *z = malloc(cap);
            size_t zn = z ? ZSTD_compress(z, cap, zs.data, zs.len, cfg->zstd_level) : 0;
            if (z && !ZSTD_isError(zn))
                out->zst_per_out = (double)zn / (double)zs.len;
            free(z);
        }
        out->ok = true;
    }
    pm_record_free(&rec);
    pm_buf_free(&line_out);
    pm_buf_free(&zs);
}

int pm_job_estimate_space(const pm_config_t *cfg, const pm_plan_t *plan, pm_job_space_t *sp,
                          pm_error_t *err)
{
    memset(sp, 0, sizeof *sp);
    size_t nc = cfg->n_components, n = plan->n_files;
    /* Per component and format: sums of the samples, for the unsampled. */
    sample_t *avg = calloc(2 * nc + 1, sizeof *avg);
    size_t *cnt = calloc(2 * nc + 1, sizeof *cnt);
    sample_t *per = calloc(n + 1, sizeof *per);
    if (!avg || !cnt || !per) {
        free(avg);
        free(cnt);
        free(per);
        return pm_error_nomem(err);
    }
    size_t step = n > SAMPLE_FILES ? (n + SAMPLE_FILES - 1) / SAMPLE_FILES : 1;
    for (size_t i = 0; i < n; i += step) {
        const pm_input_file_t *f = &plan->files[i];
        sample_file(cfg, f, &per[i]);
        if (!per[i].ok)
            continue;
        sample_t *a = &avg[2 * f->component + (f->format == PM_FORMAT_JSONL_ZST)];
        a->unc_per_byte += per[i].unc_per_byte;
        a->spill_per_unc += per[i].spill_per_unc;
        a->docs_per_unc += per[i].docs_per_unc;
        a->out_per_unc += per[i].out_per_unc;
        a->zst_per_out += per[i].zst_per_out;
        cnt[2 * f->component + (f->format == PM_FORMAT_JSONL_ZST)]++;
        sp->sampled_files++;
    }
    long double spill = 0, out = 0, input = 0;
    double keep = 1.0 - cfg->val_fraction - cfg->test_fraction;
    for (size_t i = 0; i < n; i++) {
        const pm_input_file_t *f = &plan->files[i];
        size_t k = 2 * f->component + (f->format == PM_FORMAT_JSONL_ZST);
        sample_t s = per[i];
        if (!s.ok && cnt[k]) {
            s.unc_per_byte = avg[k].unc_per_byte / (double)cnt[k];
            s.spill_per_unc = avg[k].spill_per_unc / (double)cnt[k];
            s.docs_per_unc = avg[k].docs_per_unc / (double)cnt[k];
            s.out_per_unc = avg[k].out_per_unc / (double)cnt[k];
            s.zst_per_out = avg[k].zst_per_out / (double)cnt[k];
        } else if (!s.ok) { /* nothing sampled: the layout's guess */
            s.unc_per_byte = f->format == PM_FORMAT_JSONL_ZST ? 4.0 : 1.0;
            s.spill_per_unc = 1.0;
            s.docs_per_unc = 1.0 / 512;
            s.out_per_unc = 1.05;
            s.zst_per_out = 0.3;
        }
        long double unc = (long double)f->size * s.unc_per_byte;
        /* Train copies follow the epochs; a held-out text is spilled once
         * and written once (duplicates aside). */
        long double copies = keep * cfg->components[f->component].epochs + (1.0 - keep);
        input += unc;
        spill += unc * s.spill_per_unc * copies;
        /* Exact dedup: one digest record per document, whatever its copies. */
        if (cfg->dedup == PM_DEDUP_EXACT)
            spill += unc * s.docs_per_unc * PM_DEDUP_REC_BYTES;
        out += unc * s.out_per_unc * copies * s.zst_per_out;
    }
    /* A commit record per task, a run table per run (~ spill / arena). */
    spill += (long double)n * (16 + 32 + sizeof(pm_task_stats_t) + 8);
    sp->input_bytes = (uint64_t)input;
    sp->spill_bytes = (uint64_t)spill;
    sp->output_bytes = (uint64_t)out;
    free(avg);
    free(cnt);
    free(per);
    return 0;
}

int pm_job_fs_free(const char *path, uint64_t *free_bytes, pm_error_t *err)
{
    char *p = strdup(path);
    if (!p)
        return pm_error_nomem(err);
    struct statvfs v;
    int rc;
    /* The directory may not exist yet: ask its nearest existing parent. */
    while ((rc = statvfs(p, &v)) != 0 && errno == ENOENT) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            strcpy(p, slash == p ? "/" : ".");
            continue;
        }
        *slash = '\0';
    }
    if (rc != 0) {
        rc = pm_error_set(err, PM_EIO, path, 0, "cannot see its file system: %s", strerror(errno));
        free(p);
        return rc;
    }
    free(p);
    *free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
    return 0;
}

void pm_job_format_size(uint64_t bytes, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void pm_job_print_space(const pm_config_t *cfg, const pm_job_space_t *sp, FILE *out)
{
    char need[32], free_s[32], in[32];
    uint64_t fr;
    pm_job_format_size(sp->input_bytes, in, sizeof in);
    fprintf(out, "\nspace (estimated from %zu sampled file%s; %s of input uncompressed):\n",
            sp->sampled_files, sp->sampled_files == 1 ? "" : "s", in);
    const char *what[2] = {"work directory", "output"};
    const char *dirs[2] = {cfg->work_dir, cfg->out_dir};
    uint64_t needs[2] = {sp->spill_bytes, sp->output_bytes};
    for (int k = 0; k < 2; k++) {
        pm_job_format_size(needs[k], need, sizeof need);
        if (pm_job_fs_free(dirs[k], &fr, NULL) == 0)
            pm_job_format_size(fr, free_s, sizeof free_s);
        else
            snprintf(free_s, sizeof free_s, "unknown");
        fprintf(out, "  %-14s %s: needs ~%s%s, %s free on its file system\n", what[k], dirs[k],
                need, k == 0 ? " (spills, removed after success)" : "", free_s);
    }
}
