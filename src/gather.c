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
/* In a partial pass, also the holdout duplicate table (2 slots of 4 bytes). */
#define PASS_ENTRY_BYTES (SORT_ENTRY_BYTES + 2 * sizeof(uint32_t))

/* A partial pass must start over with a narrower range (holdout only). */
#define RESTART (-1000)

/* An entry's value is the record's position in the arena. */
typedef pm_keyed_t sort_entry_t;

/* A place in a file's full sort order: key, then identity (file order,
 * member rank, offset, copy). Holdout passes are cut by key alone (every copy of a text
 * has its key, and they must meet in one pass). */
typedef struct pos {
    uint64_t key;
    uint32_t file;   /* file_order */
    uint32_t member; /* pm_job_member_rank */
    uint32_t copy;
    uint64_t offset;
} pos_t;

static int pos_cmp(const pos_t *a, const pos_t *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->member != b->member)
        return a->member < b->member ? -1 : 1;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->copy < b->copy ? -1 : a->copy > b->copy;
}

typedef struct pass_ctx {
    const pm_job_t *job;
    pm_gather_mem_t mem; /* records, sort entries and scratch */
    size_t n;
    bool holdout;
    pm_poll_fn poll;
    void *poll_ctx;
    size_t bytes_since_poll;
    uint64_t file_bytes; /* record bytes written to the file so far */
    pm_error_t *err;
    uint64_t lines;       /* lines written to the file so far */
    pm_tombstone_t *tomb; /* the bucket's tombstones (exact dedup), sorted */
    size_t tomb_n, tomb_cap;
    size_t can_next, can_end; /* the file's canaries not yet written (job->canaries.v) */
    /* a partial pass: the records in [lo, hi] (hi_open: [lo, hi)) */
    bool partial;
    uint64_t budget;
    pos_t lo, hi;
    bool hi_open, narrowed;
    bool unsplittable; /* holdout: one key's distinct texts over budget */
    uint64_t *dups;    /* per component: holdout copies collapsed this pass */
    uint32_t *table;   /* holdout: open addressing, entry index + 1 */
    size_t table_cap;  /* a power of two, or 0 */
    size_t waste;      /* arena bytes of replaced records */
    uint64_t *peak;    /* most bytes a pass held */
} pass_ctx_t;

static int grow_entries(pass_ctx_t *c)
{
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
    return 0;
}

static int push_entry(pass_ctx_t *c, uint64_t key, uint64_t off)
{
    if (c->n == c->mem.cap)
        PM_TRY(grow_entries(c));
    c->mem.entries[c->n++] = (sort_entry_t){key, off};
    return 0;
}

/* Single-pass buckets: read every run's range straight into the arena (one
 * pread per run, no per-record copy), then index the records. */
static int load_whole_bucket(const pm_gather_in_t *in, uint32_t b, pass_ctx_t *c, pm_error_t *err)
{
    PM_TRY(pm_spill_set_append_bucket(in->set, b, &c->mem.arena, err));
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

static const pm_spill_rec_t *rec_at(const pass_ctx_t *c, uint64_t off, pm_spill_rec_t *tmp)
{
    memcpy(tmp, c->mem.arena.data + off, sizeof *tmp); /* the arena is not aligned */
    return tmp;
}

static pos_t rec_pos(const pm_job_t *job, const pm_spill_rec_t *r)
{
    return (pos_t){r->key, job->file_order[r->file], pm_job_member_rank(job, r->file, r->member),
                   r->copy, r->offset};
}

/* Identity order: component name, identity path, offset, copy. */
static int cmp_identity(const pm_job_t *job, const pm_spill_rec_t *a, const pm_spill_rec_t *b)
{
    if (a->file != b->file)
        return job->file_order[a->file] < job->file_order[b->file] ? -1 : 1;
    if (a->member != b->member) {
        uint32_t ra = pm_job_member_rank(job, a->file, a->member),
                 rb = pm_job_member_rank(job, b->file, b->member);
        return ra < rb ? -1 : 1;
    }
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->copy != b->copy)
        return a->copy < b->copy ? -1 : 1;
    return 0;
}

static int cmp_text_bytes(const char *ta, size_t la, const char *tb, size_t lb)
{
    int r = memcmp(ta, tb, la < lb ? la : lb);
    if (r)
        return r;
    return la < lb ? -1 : la > lb;
}

static int cmp_text(const pass_ctx_t *c, uint64_t off_a, const pm_spill_rec_t *a, uint64_t off_b,
                    const pm_spill_rec_t *b)
{
    return cmp_text_bytes(c->mem.arena.data + off_a + PM_SPILL_REC_HEADER, a->text_len,
                          c->mem.arena.data + off_b + PM_SPILL_REC_HEADER, b->text_len);
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

/* Sort the pass's entries into the file's order. */
static void sort_pass(pass_ctx_t *c)
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
}

static int write_pass(pass_ctx_t *c, pm_shard_writer_t *w, pm_gather_out_t *out, pm_error_t *err)
{
    sort_pass(c);
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
        c->file_bytes += PM_SPILL_REC_HEADER + (uint64_t)r.text_len + r.meta_len;
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
            PM_TRY(c->poll(c->poll_ctx, c->file_bytes));
        }
    }
    return 0;
}

/* ---- partial passes: a range of the sort order within the budget ---- */

static size_t table_slot(const pass_ctx_t *c, uint64_t key)
{
    return (size_t)((key ^ (key >> 29)) * 0x9e3779b97f4a7c15ull >> 7) & (c->table_cap - 1);
}

/* (Re)build the duplicate table with room for twice the entries. */
static int table_build(pass_ctx_t *c)
{
    size_t cap = c->table_cap ? c->table_cap : 1024;
    while (cap < 2 * (c->n + 1))
        cap *= 2;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
    free(c->table);
    c->table = t;
    c->table_cap = cap;
    for (size_t i = 0; i < c->n; i++) {
        size_t k = table_slot(c, c->mem.entries[i].key);
        while (c->table[k])
            k = (k + 1) & (cap - 1);
        c->table[k] = (uint32_t)i + 1;
    }
    return 0;
}

/* Holdout: is rec's text already in the pass? Then keep the smaller
 * identity of the two, count the other as a duplicate of its component and
 * report 1 (rec is not to be added). 0: a new text. */
static int collapse(pass_ctx_t *c, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    if (!c->table_cap)
        return 0;
    const pm_job_t *job = c->job;
    for (size_t k = table_slot(c, rec->key); c->table[k]; k = (k + 1) & (c->table_cap - 1)) {
        sort_entry_t *e = &c->mem.entries[c->table[k] - 1];
        if (e->key != rec->key)
            continue;
        pm_spill_rec_t old;
        rec_at(c, e->value, &old);
        const char *old_text = c->mem.arena.data + e->value + PM_SPILL_REC_HEADER;
        if (cmp_text_bytes(old_text, old.text_len, text, rec->text_len) != 0)
            continue; /* a 64-bit collision of two texts: both stay */
        if (cmp_identity(job, rec, &old) > 0) {
            c->dups[job->plan->files[rec->file].component]++;
            return 1;
        }
        c->dups[job->plan->files[old.file].component]++;
        if (rec->meta_len <= old.meta_len) { /* same text: only header and meta change */
            memcpy(c->mem.arena.data + e->value, rec, PM_SPILL_REC_HEADER);
            memcpy(c->mem.arena.data + e->value + PM_SPILL_REC_HEADER + rec->text_len, meta,
                   rec->meta_len);
            c->waste += old.meta_len - rec->meta_len;
            return 1;
        }
        size_t off = c->mem.arena.len;
        if (pm_buf_append(&c->mem.arena, rec, PM_SPILL_REC_HEADER) < 0 ||
            pm_buf_append(&c->mem.arena, text, rec->text_len) < 0 ||
            pm_buf_append(&c->mem.arena, meta, rec->meta_len) < 0)
            return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
        c->waste += PM_SPILL_REC_HEADER + (size_t)old.text_len + old.meta_len;
        e->value = off;
        return 1;
    }
    return 0;
}

/* Move the records of entries[0..n) to the front of the arena, in arena
 * order (entries are sorted by value for it, then re-sorted by the caller). */
static int cmp_value(const void *pa, const void *pb)
{
    const sort_entry_t *a = pa, *b = pb;
    return a->value < b->value ? -1 : a->value > b->value;
}

static void compact(pass_ctx_t *c)
{
    qsort(c->mem.entries, c->n, sizeof *c->mem.entries, cmp_value);
    size_t to = 0;
    for (size_t i = 0; i < c->n; i++) {
        pm_spill_rec_t r;
        rec_at(c, c->mem.entries[i].value, &r);
        size_t size = PM_SPILL_REC_HEADER + (size_t)r.text_len + r.meta_len;
        if (c->mem.entries[i].value != to)
            memmove(c->mem.arena.data + to, c->mem.arena.data + c->mem.entries[i].value, size);
        c->mem.entries[i].value = to;
        to += size;
    }
    c->mem.arena.len = to;
    c->waste = 0;
}

/* Train: the pass is over budget. Keep the lower half of what it holds (by
 * the full order) and narrow its range to end before the first record let
 * go; records past it wait for the next pass. Any bucket splits this way,
 * even one of equal keys, since no two copies share a position. */
static void narrow(pass_ctx_t *c)
{
    sort_pass(c);
    size_t keep = c->n / 2;
    pm_spill_rec_t r;
    rec_at(c, c->mem.entries[keep].value, &r);
    c->hi = rec_pos(c->job, &r);
    c->hi_open = true;
    c->narrowed = true;
    c->n = keep;
    compact(c);
}

static bool below_hi(const pass_ctx_t *c, const pos_t *p)
{
    int r = pos_cmp(p, &c->hi);
    return c->hi_open ? r < 0 : r <= 0;
}

static int collect(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    pass_ctx_t *c = vctx;
    if (rec->file >= c->job->plan->n_files || rec->member > c->job->n_members[rec->file])
        return pm_error_set(c->err, PM_EIO, NULL, 0, "damaged spill: file index %u member %u",
                            rec->file, rec->member);
    /* Exact dedup: a loser never enters the pass (nor the holdout collapse,
     * which would count it a second time). */
    if (c->tomb_n &&
        pm_tomb_find(c->tomb, c->tomb_n, rec->key, rec->file, rec->member, rec->offset, rec->copy))
        return 0;
    if (!c->holdout) { /* the visit filtered by key; the identity decides at the ends */
        pos_t p = rec_pos(c->job, rec);
        if (pos_cmp(&p, &c->lo) < 0 || !below_hi(c, &p))
            return 0;
    }
    size_t size = PM_SPILL_REC_HEADER + (size_t)rec->text_len + rec->meta_len;
    if (c->holdout) {
        int dup = collapse(c, rec, text, meta);
        if (dup != 0)
            return dup < 0 ? dup : 0;
    }
    while (c->n > 0 && !c->unsplittable &&
           c->mem.arena.len + size + (c->n + 1) * PASS_ENTRY_BYTES > c->budget) {
        if (c->waste > 0) {
            compact(c);
            if (c->holdout && table_build(c) < 0) /* entries moved: rebuild */
                return PM_ENOMEM;
            continue;
        }
        if (c->holdout)
            return RESTART;
        narrow(c);
        pos_t p = rec_pos(c->job, rec);
        if (!below_hi(c, &p))
            return 0;
    }
    PM_TRY(push_entry(c, rec->key, c->mem.arena.len));
    if (pm_buf_append(&c->mem.arena, rec, PM_SPILL_REC_HEADER) < 0 ||
        pm_buf_append(&c->mem.arena, text, rec->text_len) < 0 ||
        pm_buf_append(&c->mem.arena, meta, rec->meta_len) < 0)
        return pm_error_set(c->err, PM_ENOMEM, NULL, 0, "out of memory");
    if (c->holdout) {
        if (2 * c->n > c->table_cap)
            PM_TRY(table_build(c));
        else {
            size_t k = table_slot(c, rec->key);
            while (c->table[k])
                k = (k + 1) & (c->table_cap - 1);
            c->table[k] = (uint32_t)c->n;
        }
    }
    uint64_t held = c->mem.arena.len + c->n * PASS_ENTRY_BYTES;
    if (c->peak && held > *c->peak)
        *c->peak = held;
    return 0;
}

/* Holdout pass over budget: narrow its key range (by the median key of what
 * it held) and start it over. */
static void narrow_keys(pass_ctx_t *c)
{
    pm_keysort(c->mem.entries, c->mem.scratch, c->n);
    uint64_t m = c->mem.entries[c->n / 2].key;
    if (m > c->lo.key)
        c->hi.key = m - 1;
    else if (c->hi.key > c->lo.key)
        c->hi.key = c->lo.key;
    else
        c->unsplittable = true; /* distinct texts of one 64-bit key: allowed over */
    c->narrowed = true;
}

void pm_gather_mem_free(pm_gather_mem_t *m)
{
    pm_buf_free(&m->arena);
    free(m->entries);
    free(m->scratch);
    m->entries = m->scratch = NULL;
    m->cap = 0;
}

static void pass_reset(pass_ctx_t *c, size_t nc)
{
    c->n = 0;
    c->waste = 0;
    pm_buf_reset(&c->mem.arena);
    if (c->dups)
        memset(c->dups, 0, nc * sizeof *c->dups);
    if (c->table)
        memset(c->table, 0, c->table_cap * sizeof *c->table);
}

/* A bucket larger than the budget: passes over consecutive ranges of its
 * sort order. A pass starts as a key range of the width the totals suggest
 * (keys are uniform); one that overflows is narrowed (train: keeping the
 * lower half of what it holds; holdout: by key, then started over), one
 * that holds little doubles the next one's width (holdout copies collapse,
 * so the totals overstate them). */
static int bucket_passes(const pm_gather_in_t *in, uint32_t file, uint32_t b, pass_ctx_t *c,
                         pm_shard_writer_t *w, pm_gather_out_t *out, pm_error_t *err)
{
    const pm_job_t *job = c->job;
    size_t nc = job->cfg->n_components;
    uint64_t lo, hi;
    pm_layout_bucket_keys(&job->layout, b, &lo, &hi);
    uint64_t need = in->bucket_bytes[b] + in->bucket_records[b] * PASS_ENTRY_BYTES;
    /* Aim at 3/4 of the budget: a pass that overflows costs a narrowing. */
    uint64_t passes = need / (c->budget / 4 * 3 + 1) + 1;
    uint64_t span = hi - lo; /* the range has span + 1 keys */
    uint64_t width = span / passes + 1;
    pos_t cursor = {lo, 0, 0, 0, 0};
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        uint64_t end = hi - cursor.key < width - 1 ? hi : cursor.key + (width - 1);
        c->lo = cursor;
        c->hi = (pos_t){end, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX};
        c->hi_open = c->narrowed = c->unsplittable = false;
        pass_reset(c, nc);
        for (;;) {
            rc = pm_spill_set_visit(in->set, b, c->lo.key, c->hi.key, collect, c, err);
            if (rc != RESTART)
                break;
            narrow_keys(c);
            pass_reset(c, nc);
        }
        if (rc < 0)
            break;
        uint64_t held = c->mem.arena.len + c->n * PASS_ENTRY_BYTES;
        rc = write_pass(c, w, out, err);
        for (size_t k = 0; rc == 0 && c->dups && k < nc; k++)
            out->comp_dups[k] += c->dups[k];
        if (rc == 0 && c->poll)
            rc = c->poll(c->poll_ctx, c->file_bytes);
        out->passes++;
        rc = rc ? rc : pm_fault_hit("gather-pass", file, err);
        /* The next pass starts where this one ended. */
        if (c->hi_open) {
            cursor = c->hi;
        } else if (c->hi.key == hi) {
            done = true;
        } else {
            cursor = (pos_t){c->hi.key + 1, 0, 0, 0, 0};
        }
        if (c->narrowed)
            width = c->hi.key - c->lo.key + 1;
        else if (held < c->budget / 4 && width <= UINT64_MAX / 2)
            width *= 2;
        if (width == 0)
            width = 1;
    }
    return rc;
}

int pm_gather_file(const pm_gather_in_t *in, uint32_t file, pm_gather_out_t *out, pm_poll_fn poll,
                   void *poll_ctx, pm_error_t *err)
{
    const pm_job_t *job = in->job;
    uint32_t first, count, base;
    uint64_t mult;
    pm_layout_file_buckets(&job->layout, file, &first, &count, &mult, &base);
    size_t nc = job->cfg->n_components;
    pass_ctx_t c = {.job = job,
                    .holdout = pm_layout_file_split(&job->layout, file) != PM_SPLIT_TRAIN,
                    .poll = poll,
                    .poll_ctx = poll_ctx,
                    .err = err,
                    .budget = in->budget_bytes ? in->budget_bytes : 1,
                    .peak = &out->peak_bytes};
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
    if (c.holdout && !(c.dups = calloc(nc + 1, sizeof *c.dups))) {
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
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
        uint64_t need = in->bucket_bytes[b] + in->bucket_records[b] * SORT_ENTRY_BYTES;
        if (need > c.budget) {
            rc = bucket_passes(in, file, b, &c, w, out, err);
        } else {
            /* The whole bucket at once: read straight into an arena sized
             * once from the totals (doubling could take twice the budget). */
            c.n = 0;
            pm_buf_reset(&c.mem.arena);
            uint64_t expect = in->bucket_bytes[b] + 4096;
            if (expect < SIZE_MAX && pm_buf_reserve(&c.mem.arena, (size_t)expect) < 0) {
                rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
                break;
            }
            rc = load_whole_bucket(in, b, &c, err);
            uint64_t held = c.mem.arena.len + c.n * SORT_ENTRY_BYTES;
            if (held > out->peak_bytes)
                out->peak_bytes = held;
            if (rc == 0)
                rc = write_pass(&c, w, out, err);
            if (rc == 0 && poll)
                rc = poll(poll_ctx, c.file_bytes);
            out->passes++;
            rc = rc ? rc : pm_fault_hit("gather-pass", file, err);
        }
        /* Give memory back between buckets so a big one does not pin its
         * arena for the rest of the file. */
        if (c.mem.arena.cap > c.budget)
            pm_buf_free(&c.mem.arena);
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
    free(c.dups);
    free(c.table);
    pm_buf_free(&path);
    pm_buf_free(&name);
    return rc;
}
