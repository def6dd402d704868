#include "pilemix/gather.h"

#include "pilemix/fault.h"
#include "pilemix/keysort.h"
#include "pilemix/stop.h"

#include <stdlib.h>
#include <string.h>

/* Poll (serve other ranks' requests) every this many bytes written: once per
 * bucket would leave the other ranks waiting for a whole bucket's time. */
#define POLL_EVERY_BYTES (1u << 20)

/* Per record beside its bytes: its entry and the radix sort's scratch. */
#define SORT_ENTRY_BYTES (2 * sizeof(pm_keyed_t))

/* An entry's value is the record's position in the arena. */
typedef pm_keyed_t sort_entry_t;

typedef struct pass_ctx {
    const pm_job_t *job;
    pm_gather_mem_t mem; /* records, sort entries and scratch */
    size_t n;
    bool holdout;
    pm_poll_fn poll;
    void *poll_ctx;
    size_t bytes_since_poll;
    pm_error_t *err;
    uint64_t lines;       /* lines written to the file so far */
    pm_tombstone_t *tomb; /* the bucket's tombstones (exact dedup), sorted */
    size_t tomb_n, tomb_cap;
    size_t can_next, can_end; /* the file's canaries not yet written (job->canaries.v) */
} pass_ctx_t;

static int push_entry(pass_ctx_t *c, uint64_t key, uint64_t off)
{
    if (c->n == c->mem.cap) {
        size_t cap = c->mem.cap ? c->mem.cap * 2 : 4096;
        sort_entry_t *e = realloc(c->mem.entries, cap * sizeof *e);
        if (!e)
            return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
        c->mem.entries = e;
        e = realloc(c->mem.scratch, cap * sizeof *e);
        if (!e)
            return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
        c->mem.scratch = e;
        c->mem.cap = cap;
    }
    c->mem.entries[c->n++] = (sort_entry_t){key, off};
    return 0;
}

/* Single-pass buckets: read every spill's ranges straight into the arena
 * (one pread per run, no per-record copy), then index the records. */
static int load_whole_bucket(const pm_gather_in_t *in, uint32_t b, pass_ctx_t *c, pm_error_t *err)
{
    for (size_t s = 0; s < in->n_spills; s++)
        if (in->spills[s])
            PM_TRY(pm_spill_reader_append_bucket(in->spills[s], b, &c->mem.arena, err));
    for (size_t off = 0; off < c->mem.arena.len;) {
        pm_spill_rec_t rec;
        if (c->mem.arena.len - off < PM_SPILL_REC_HEADER)
            return pm_error_set(err, PM_EIO, NULL, 0, "damaged spill: record cut short");
        memcpy(&rec, c->mem.arena.data + off, sizeof rec);
        size_t size = PM_SPILL_REC_HEADER + (size_t)rec.text_len + rec.meta_len;
        if (size > c->mem.arena.len - off || rec.file >= c->job->plan->n_files ||
            rec.member > c->job->n_members[rec.file])
            return pm_error_set(err, PM_EIO, NULL, 0, "damaged spill record");
        PM_TRY(push_entry(c, rec.key, off));
        off += size;
    }
    return 0;
}

static int collect(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    pass_ctx_t *c = vctx;
    if (rec->file >= c->job->plan->n_files || rec->member > c->job->n_members[rec->file])
        return pm_error_set(c->err, PM_EIO, NULL, 0, "damaged spill: file index %u member %u",
                            rec->file, rec->member);
    PM_TRY(push_entry(c, rec->key, c->mem.arena.len));
    if (pm_buf_append(&c->mem.arena, rec, PM_SPILL_REC_HEADER) < 0 ||
        pm_buf_append(&c->mem.arena, text, rec->text_len) < 0 ||
        pm_buf_append(&c->mem.arena, meta, rec->meta_len) < 0)
        return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
    return 0;
}

static const pm_spill_rec_t *rec_at(const pass_ctx_t *c, uint64_t off, pm_spill_rec_t *tmp)
{
    memcpy(tmp, c->mem.arena.data + off, sizeof *tmp); /* the arena is not aligned */
    return tmp;
}

static int cmp_identity(const pm_job_t *job, const pm_spill_rec_t *a, const pm_spill_rec_t *b)
{
    if (a->file != b->file || a->member != b->member) {
        int r = a->file == b->file ? 0
                                   : strcmp(pm_job_file_component(job, a->file),
                                            pm_job_file_component(job, b->file));
        if (r)
            return r;
        /* relpath [+ "/" + member path]: DESIGN 1.4's identity path. */
        r = pm_job_cmp_identity_path(job, a->file, a->member, b->file, b->member);
        if (r)
            return r;
    }
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->copy != b->copy)
        return a->copy < b->copy ? -1 : 1;
    return 0;
}

static int cmp_text(const pass_ctx_t *c, uint64_t off_a, const pm_spill_rec_t *a, uint64_t off_b,
                    const pm_spill_rec_t *b)
{
    size_t n = a->text_len < b->text_len ? a->text_len : b->text_len;
    int r = memcmp(c->mem.arena.data + off_a + PM_SPILL_REC_HEADER,
                   c->mem.arena.data + off_b + PM_SPILL_REC_HEADER, n);
    if (r)
        return r;
    return a->text_len < b->text_len ? -1 : a->text_len > b->text_len;
}

static int cmp_entries(const void *pa, const void *pb, void *vctx)
{
    const sort_entry_t *ea = pa, *eb = pb;
    if (ea->key != eb->key)
        return ea->key < eb->key ? -1 : 1;
    if (ea->value == eb->value)
        return 0;
    /* Equal keys: rare for train (a 64-bit collision), the rule for holdout
     * duplicates. Fall back to the full order. */
    const pass_ctx_t *c = vctx;
    pm_spill_rec_t a, b;
    rec_at(c, ea->value, &a);
    rec_at(c, eb->value, &b);
    if (c->holdout) {
        int r = cmp_text(c, ea->value, &a, eb->value, &b);
        if (r)
            return r;
    }
    return cmp_identity(c->job, &a, &b);
}

/* Canaries (output.canaries) go in among the records by key, as if they
 * had been spilled: write those with keys below `below` (all: the rest). A
 * canary goes after the records of its very key (a 2^-64 event). */
static int put_canaries(pass_ctx_t *c, pm_shard_writer_t *w, pm_gather_out_t *out, bool all,
                        uint64_t below, pm_error_t *err)
{
    const pm_canaries_t *cs = &c->job->canaries;
    while (c->can_next < c->can_end && (all || cs->v[c->can_next].key < below)) {
        const pm_canary_t *cn = &cs->v[c->can_next];
        PM_TRY(pm_shard_writer_add(w, c->job->cfg->components[cn->component].name, cn->text,
                                   cn->len, "", 0, err));
        c->lines++;
        out->canaries++;
        if (out->canary_lines)
            out->canary_lines[c->can_next] = c->lines;
        c->can_next++;
    }
    return 0;
}

static int write_pass(pass_ctx_t *c, pm_shard_writer_t *w, pm_gather_out_t *out, pm_error_t *err)
{
    pm_keysort(c->mem.entries, c->mem.scratch, c->n);
    /* Runs of equal keys (holdout duplicates, or a 64-bit collision) take
     * the full order: text, then identity. */
    for (size_t i = 0; i + 1 < c->n;) {
        size_t j = i + 1;
        while (j < c->n && c->mem.entries[j].key == c->mem.entries[i].key)
            j++;
        if (j - i > 1)
            qsort_r(c->mem.entries + i, j - i, sizeof *c->mem.entries, cmp_entries, c);
        i = j;
    }
    const pm_job_t *job = c->job;
    for (size_t i = 0; i < c->n; i++) {
        pm_spill_rec_t r;
        uint64_t off = c->mem.entries[i].value;
        rec_at(c, off, &r);
        uint32_t comp = job->plan->files[r.file].component;
        /* Exact dedup: a loser's records go before the holdout check, so the
         * winner (the smallest identity, first of its text) is compared
         * with nothing it would be counted against twice. */
        if (c->tomb_n &&
            pm_tomb_find(c->tomb, c->tomb_n, r.key, r.file, r.member, r.offset, r.copy))
            continue;
        if (c->holdout && i > 0 && c->mem.entries[i - 1].key == c->mem.entries[i].key) {
            pm_spill_rec_t prev;
            rec_at(c, c->mem.entries[i - 1].value, &prev);
            if (cmp_text(c, c->mem.entries[i - 1].value, &prev, off, &r) == 0) {
                out->comp_dups[comp]++;
                continue;
            }
        }
        const char *text = c->mem.arena.data + off + PM_SPILL_REC_HEADER;
        if (c->can_next < c->can_end)
            PM_TRY(put_canaries(c, w, out, false, c->mem.entries[i].key, err));
        PM_TRY(pm_shard_writer_add(w, job->cfg->components[comp].name, text, r.text_len,
                                   text + r.text_len, r.meta_len, err));
        c->lines++;
        out->comp_docs[comp]++;
        c->bytes_since_poll += r.text_len;
        /* A stop request (a signal) polls at once: the next record boundary. */
        if (c->poll && (c->bytes_since_poll >= POLL_EVERY_BYTES || pm_stop_requested)) {
            c->bytes_since_poll = 0;
            PM_TRY(c->poll(c->poll_ctx, 0));
        }
    }
    return 0;
}

void pm_gather_mem_free(pm_gather_mem_t *m)
{
    pm_buf_free(&m->arena);
    free(m->entries);
    free(m->scratch);
    m->entries = m->scratch = NULL;
    m->cap = 0;
}

int pm_gather_file(const pm_gather_in_t *in, uint32_t file, pm_gather_out_t *out, pm_poll_fn poll,
                   void *poll_ctx, pm_error_t *err)
{
    const pm_job_t *job = in->job;
    uint32_t first, count, base;
    uint64_t mult;
    pm_layout_file_buckets(&job->layout, file, &first, &count, &mult, &base);
    pass_ctx_t c = {.job = job,
                    .holdout = pm_layout_file_split(&job->layout, file) != PM_SPLIT_TRAIN,
                    .poll = poll,
                    .poll_ctx = poll_ctx,
                    .err = err};
    if (in->mem) /* take the caller's memory; handed back at the end */
        c.mem = *in->mem;
    size_t can_first, can_count;
    pm_job_file_canaries(job, file, &can_first, &can_count);
    c.can_next = can_first;
    c.can_end = can_first + can_count;
    pm_buf_t path, name;
    pm_buf_init(&path);
    pm_buf_init(&name);
    pm_shard_writer_t *w = NULL;
    int rc = pm_job_output_name(job, file, &name);
    rc = rc ? rc : pm_buf_printf(&path, "%s/%s", job->cfg->out_dir, name.data);
    if (rc < 0) {
        pm_error_set(err, rc, NULL, 0, "out of memory");
        goto done;
    }
    rc = pm_shard_writer_open(&w, path.data, job->cfg->zstd_level, in->zstd_workers, in->cctx, err);
    if (rc < 0)
        goto done;
    for (uint32_t b = first; b < first + count && rc == 0; b++) {
        if (in->tombs)
            rc = pm_tomb_index_bucket(in->tombs, b, &c.tomb, &c.tomb_cap, &c.tomb_n, err);
        if (rc < 0)
            break;
        uint64_t lo, hi;
        pm_layout_bucket_keys(&job->layout, b, &lo, &hi);
        uint64_t need = in->bucket_bytes[b] + in->bucket_records[b] * SORT_ENTRY_BYTES;
        uint64_t passes = need / (in->budget_bytes ? in->budget_bytes : 1) + 1;
        /* Sub-ranges of [lo, hi]; keys are uniform, so equal widths give
         * passes of about equal size. */
        uint64_t span = hi - lo; /* inclusive range has span + 1 keys */
        uint64_t step = passes == 1 ? 0 : span / passes + 1;
        for (uint64_t p = 0; p < passes && rc == 0; p++) {
            uint64_t sub_lo = lo, sub_hi = hi;
            if (passes > 1) {
                if (p * step > span)
                    break;
                sub_lo = lo + p * step;
                sub_hi = (hi - sub_lo < step - 1) ? hi : sub_lo + step - 1;
            }
            c.n = 0;
            pm_buf_reset(&c.mem.arena);
            /* Size the arena once from the spills' totals instead of
             * doubling (which could take twice the budget). */
            uint64_t expect =
                in->bucket_bytes[b] / passes + in->bucket_bytes[b] / passes / 8 + 4096;
            if (expect < SIZE_MAX && pm_buf_reserve(&c.mem.arena, (size_t)expect) < 0) {
                rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
                break;
            }
            if (passes == 1)
                rc = load_whole_bucket(in, b, &c, err);
            else
                for (size_t s = 0; s < in->n_spills && rc == 0; s++)
                    if (in->spills[s])
                        rc = pm_spill_reader_visit(in->spills[s], b, sub_lo, sub_hi, collect, &c,
                                                   err);
            if (rc == 0)
                rc = write_pass(&c, w, out, err);
            if (rc == 0 && poll)
                rc = poll(poll_ctx, 0);
            out->passes++;
            rc = rc ? rc : pm_fault_hit("gather-pass", file, err);
            /* Give memory back between passes so a big bucket does not pin
             * its arena for the rest of the file. */
            if (c.mem.arena.cap > (in->budget_bytes ? in->budget_bytes : 0)) {
                pm_buf_free(&c.mem.arena);
            }
        }
    }
    if (rc == 0)
        rc = put_canaries(&c, w, out, true, 0, err);
    if (rc == 0) {
        rc = pm_shard_writer_finish(w, &out->result, err);
        w = NULL;
    }
done:
    free(c.tomb);
    pm_shard_writer_abort(w);
    if (in->mem)
        *in->mem = c.mem;
    else
        pm_gather_mem_free(&c.mem);
    pm_buf_free(&path);
    pm_buf_free(&name);
    return rc;
}
