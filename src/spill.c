/* Spill file writer and reader; see spill.h for the format's purpose.
 *
 * Layout:  run 0 records | run 0 index (u64 end offset per bucket, relative
 * to the run start) | run 1 ... | footer | trailer. The footer holds the run
 * table (start, index position), per-bucket record and byte totals and the
 * stats blob; the trailer fixes the footer's position and checksums it. */
#include "pilemix/spill.h"

#include "pilemix/buf.h"
#include "pilemix/fsutil.h"
#include "pilemix/spill_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t inside the writer */
#include <xxhash.h>

#define SPILL_MAGIC PM_SPILL_MAGIC
#define SPILL_VERSION PM_SPILL_VERSION
#define WRITE_BUF_BYTES (1u << 20)
#define READ_BUF_BYTES (1u << 20)

/* The trailer's layout is public (spill_format.h) for the fuzz harness. */
typedef pm_spill_trailer_t spill_trailer_t;
_Static_assert(sizeof(pm_spill_run_t) == 2 * sizeof(uint64_t), "run table entry");

typedef struct spill_entry {
    uint32_t bucket;
    uint32_t size;   /* header + text + meta */
    uint64_t offset; /* into the arena */
} spill_entry_t;

struct pm_spill_writer {
    int fd;
    pm_buf_t final_path, temp_path;
    uint32_t n_buckets;
    size_t arena_bytes;
    char *arena;
    size_t arena_used, arena_cap;
    bool own_arena; /* false: the caller's pm_spill_arena_t */
    spill_entry_t *entries;
    size_t n_entries, entries_cap;
    uint32_t *order;
    uint64_t *run_counts;   /* per bucket, current run; reused as positions */
    uint64_t *total_counts; /* per bucket, all runs */
    uint64_t *total_bytes;
    uint64_t *run_index; /* per bucket end offsets of the run being written */
    uint64_t *runs;      /* pairs (start, index position) */
    size_t n_runs, runs_cap;
    char *wbuf;
    size_t wbuf_len;
    uint64_t pos; /* file position of the next byte written */
    XXH3_state_t data_hash;
    bool hashing; /* until the footer starts */
};

/* The data hash is fed whole write buffers, not record by record: the same
 * digest (XXH3 streams), without a call per small record. */
static int wflush(pm_spill_writer_t *w, pm_error_t *err)
{
    if (w->hashing)
        XXH3_64bits_update(&w->data_hash, w->wbuf, w->wbuf_len);
    int rc = pm_write_all(w->fd, w->wbuf, w->wbuf_len, w->temp_path.data, err);
    w->wbuf_len = 0;
    return rc;
}

static int wwrite(pm_spill_writer_t *w, const void *p, size_t n, pm_error_t *err)
{
    w->pos += n;
    if (n >= WRITE_BUF_BYTES) {
        PM_TRY(wflush(w, err));
        if (w->hashing)
            XXH3_64bits_update(&w->data_hash, p, n);
        return pm_write_all(w->fd, p, n, w->temp_path.data, err);
    }
    if (w->wbuf_len + n > WRITE_BUF_BYTES)
        PM_TRY(wflush(w, err));
    memcpy(w->wbuf + w->wbuf_len, p, n);
    w->wbuf_len += n;
    return 0;
}

static void writer_free(pm_spill_writer_t *w)
{
    pm_buf_free(&w->final_path);
    pm_buf_free(&w->temp_path);
    if (w->own_arena)
        free(w->arena);
    free(w->entries);
    free(w->order);
    free(w->run_counts);
    free(w->total_counts);
    free(w->total_bytes);
    free(w->run_index);
    free(w->runs);
    free(w->wbuf);
    free(w);
}

void pm_spill_arena_free(pm_spill_arena_t *a)
{
    free(a->data);
    a->data = NULL;
    a->cap = 0;
}

int pm_spill_writer_open(pm_spill_writer_t **out, const char *final_path, uint32_t n_buckets,
                         size_t arena_bytes, pm_spill_arena_t *arena, pm_error_t *err)
{
    *out = NULL;
    if (n_buckets == 0)
        return pm_error_set(err, PM_EINTERNAL, final_path, 0, "spill with zero buckets");
    pm_spill_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return pm_error_set(err, PM_ENOMEM, final_path, 0, "out of memory");
    w->fd = -1;
    w->n_buckets = n_buckets;
    w->arena_bytes = arena_bytes < (1u << 20) ? (1u << 20) : arena_bytes;
    /* Records get most of the budget; the entry index (16 + 4 bytes per
     * record) is charged against the same budget when deciding to flush. */
    w->arena_cap = w->arena_bytes;
    if (arena) {
        if (arena->cap < w->arena_cap) {
            pm_spill_arena_free(arena); /* no realloc: nothing in it to keep */
            arena->data = malloc(w->arena_cap);
            arena->cap = arena->data ? w->arena_cap : 0;
        }
        w->arena = arena->data;
    } else {
        w->own_arena = true;
        w->arena = malloc(w->arena_cap);
    }
    w->run_counts = calloc(n_buckets, sizeof(uint64_t));
    w->total_counts = calloc(n_buckets, sizeof(uint64_t));
    w->total_bytes = calloc(n_buckets, sizeof(uint64_t));
    w->run_index = calloc(n_buckets, sizeof(uint64_t));
    w->wbuf = malloc(WRITE_BUF_BYTES);
    if (!w->arena || !w->run_counts || !w->total_counts || !w->total_bytes || !w->run_index ||
        !w->wbuf || pm_buf_append_str(&w->final_path, final_path) < 0 ||
        pm_temp_path(&w->temp_path, final_path) < 0) {
        writer_free(w);
        return pm_error_set(err, PM_ENOMEM, final_path, 0, "out of memory");
    }
    w->fd = pm_temp_create(w->temp_path.data, err);
    if (w->fd < 0) {
        int rc = w->fd;
        writer_free(w);
        return rc;
    }
    XXH3_64bits_reset(&w->data_hash);
    w->hashing = true;
    *out = w;
    return 0;
}

/* Write the run's bucket end offsets (w->run_index) and record the run. */
static int end_run(pm_spill_writer_t *w, uint64_t run_start, pm_error_t *err)
{
    if (w->n_runs == w->runs_cap) {
        size_t cap = w->runs_cap ? w->runs_cap * 2 : 16;
        uint64_t *r = realloc(w->runs, cap * 2 * sizeof(uint64_t));
        if (!r)
            return pm_error_set(err, PM_ENOMEM, w->final_path.data, 0, "out of memory");
        w->runs = r;
        w->runs_cap = cap;
    }
    uint64_t index_pos = w->pos;
    PM_TRY(wwrite(w, w->run_index, w->n_buckets * sizeof(uint64_t), err));
    w->runs[2 * w->n_runs] = run_start;
    w->runs[2 * w->n_runs + 1] = index_pos;
    w->n_runs++;
    return 0;
}

static int write_run(pm_spill_writer_t *w, pm_error_t *err)
{
    if (w->n_entries == 0)
        return 0;
    uint32_t nb = w->n_buckets;
    /* Counting sort of the entries by bucket; stable, so records of a bucket
     * keep their arrival order and the file is a function of the input. */
    memset(w->run_counts, 0, nb * sizeof(uint64_t));
    for (size_t i = 0; i < w->n_entries; i++)
        w->run_counts[w->entries[i].bucket]++;
    uint64_t sum = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint64_t c = w->run_counts[b];
        w->run_counts[b] = sum;
        sum += c;
    }
    for (size_t i = 0; i < w->n_entries; i++)
        w->order[w->run_counts[w->entries[i].bucket]++] = (uint32_t)i;

    uint64_t run_start = w->pos;
    uint32_t b = 0;
    for (size_t k = 0; k < w->n_entries; k++) {
        const spill_entry_t *e = &w->entries[w->order[k]];
        while (b < e->bucket)
            w->run_index[b++] = w->pos - run_start;
        PM_TRY(wwrite(w, w->arena + e->offset, e->size, err));
        w->total_counts[e->bucket]++;
        w->total_bytes[e->bucket] += e->size;
    }
    while (b < nb)
        w->run_index[b++] = w->pos - run_start;
    PM_TRY(end_run(w, run_start, err));
    w->n_entries = 0;
    w->arena_used = 0;
    return 0;
}

static int grow_entries(pm_spill_writer_t *w, pm_error_t *err)
{
    size_t cap = w->entries_cap ? w->entries_cap * 2 : 4096;
    spill_entry_t *e = realloc(w->entries, cap * sizeof *e);
    if (!e)
        return pm_error_set(err, PM_ENOMEM, w->final_path.data, 0, "out of memory");
    w->entries = e;
    uint32_t *o = realloc(w->order, cap * sizeof *o);
    if (!o)
        return pm_error_set(err, PM_ENOMEM, w->final_path.data, 0, "out of memory");
    w->order = o;
    w->entries_cap = cap;
    return 0;
}

int pm_spill_writer_add(pm_spill_writer_t *w, uint32_t bucket, const pm_spill_rec_t *rec,
                        const char *text, const char *meta, pm_error_t *err)
{
    if (bucket >= w->n_buckets)
        return pm_error_set(err, PM_EINTERNAL, w->final_path.data, 0, "bucket %u out of range",
                            bucket);
    size_t size = PM_SPILL_REC_HEADER + rec->text_len + rec->meta_len;
    size_t index_cost = (w->n_entries + 1) * (sizeof(spill_entry_t) + sizeof(uint32_t));
    if (w->arena_used + size + index_cost > w->arena_bytes)
        PM_TRY(write_run(w, err));
    if (size > w->arena_cap) {
        /* Larger than the whole arena: a run of its own, written through. */
        uint64_t run_start = w->pos;
        PM_TRY(wwrite(w, rec, PM_SPILL_REC_HEADER, err));
        PM_TRY(wwrite(w, text, rec->text_len, err));
        PM_TRY(wwrite(w, meta, rec->meta_len, err));
        for (uint32_t b = 0; b < w->n_buckets; b++)
            w->run_index[b] = b < bucket ? 0 : size;
        PM_TRY(end_run(w, run_start, err));
        w->total_counts[bucket]++;
        w->total_bytes[bucket] += size;
        return 0;
    }
    if (w->n_entries == w->entries_cap)
        PM_TRY(grow_entries(w, err));
    char *dst = w->arena + w->arena_used;
    memcpy(dst, rec, PM_SPILL_REC_HEADER);
    memcpy(dst + PM_SPILL_REC_HEADER, text, rec->text_len);
    if (rec->meta_len)
        memcpy(dst + PM_SPILL_REC_HEADER + rec->text_len, meta, rec->meta_len);
    w->entries[w->n_entries++] = (spill_entry_t){bucket, (uint32_t)size, w->arena_used};
    w->arena_used += size;
    return 0;
}

int pm_spill_writer_commit(pm_spill_writer_t *w, const void *stats, size_t stats_len,
                           pm_error_t *err)
{
    int rc = write_run(w, err);
    XXH3_state_t *st = NULL;
    if (rc == 0)
        rc = wflush(w, err); /* the data hash covers everything buffered */
    if (rc == 0) {
        uint64_t footer_start = w->pos;
        uint64_t data_hash = XXH3_64bits_digest(&w->data_hash);
        w->hashing = false;
        st = XXH3_createState();
        if (!st) {
            rc = pm_error_set(err, PM_ENOMEM, w->final_path.data, 0, "out of memory");
            goto fail;
        }
        XXH3_64bits_reset(st);
        const void *parts[4] = {w->runs, w->total_counts, w->total_bytes, stats};
        size_t lens[4] = {w->n_runs * 2 * sizeof(uint64_t), w->n_buckets * sizeof(uint64_t),
                          w->n_buckets * sizeof(uint64_t), stats_len};
        for (int i = 0; i < 4 && rc == 0; i++) {
            if (lens[i]) {
                XXH3_64bits_update(st, parts[i], lens[i]);
                rc = wwrite(w, parts[i], lens[i], err);
            }
        }
        if (rc < 0)
            goto fail;
        spill_trailer_t t = {SPILL_MAGIC, SPILL_VERSION, w->n_buckets, w->n_runs,
                             stats_len,   footer_start,  data_hash,    0};
        XXH3_64bits_update(st, &t, offsetof(spill_trailer_t, checksum));
        t.checksum = XXH3_64bits_digest(st);
        rc = wwrite(w, &t, sizeof t, err);
        if (rc == 0)
            rc = wflush(w, err);
        if (rc == 0) {
            /* No fsync: a spill is scratch that a resume can check (the data
             * hash) and redo, and fsync per task made the scatter wait on
             * the disk. */
            rc = pm_temp_rename(w->fd, w->temp_path.data, w->final_path.data, err);
            w->fd = -1;
        }
    }
fail:
    XXH3_freeState(st);
    if (rc < 0) {
        pm_spill_writer_abort(w);
        return rc;
    }
    writer_free(w);
    return 0;
}

void pm_spill_writer_abort(pm_spill_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->temp_path.data)
        unlink(w->temp_path.data);
    writer_free(w);
}

bool pm_spill_image_fix_checksum(unsigned char *image, size_t len)
{
    spill_trailer_t t;
    if (len < sizeof t)
        return false;
    memcpy(&t, image + len - sizeof t, sizeof t);
    if (t.footer_start > len - sizeof t)
        return false;
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, image + t.footer_start, len - sizeof t - t.footer_start);
    XXH3_64bits_update(&st, &t, offsetof(spill_trailer_t, checksum));
    t.checksum = XXH3_64bits_digest(&st);
    memcpy(image + len - sizeof t + offsetof(spill_trailer_t, checksum), &t.checksum,
           sizeof t.checksum);
    return true;
}

/* ---- reader ---- */

struct pm_spill_reader {
    int fd;
    pm_buf_t path;
    uint32_t n_buckets;
    uint64_t n_runs;
    uint64_t totals_pos; /* file offset of the per-bucket counts, then bytes */
    uint64_t footer_start, data_hash;
    uint64_t *runs; /* pairs (start, index position) */
    char *stats;
    size_t stats_len;
    char *buf; /* visit buffer, allocated per range */
    size_t buf_cap;
    pm_buf_t big; /* records larger than buf */
};

int pm_spill_reader_open(pm_spill_reader_t **out, const char *path, pm_error_t *err)
{
    *out = NULL;
    pm_spill_reader_t *r = calloc(1, sizeof *r);
    if (!r || pm_buf_append_str(&r->path, path) < 0) {
        free(r);
        return pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
    }
    int rc = 0;
    char *footer = NULL;
    XXH3_state_t *hs = NULL;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = pm_error_set(err, PM_EIO, path, 0, "cannot open spill: %s", strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0 || (uint64_t)st.st_size < sizeof(spill_trailer_t)) {
        rc = pm_error_set(err, PM_EIO, path, 0, "spill file too short or unreadable");
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    spill_trailer_t t;
    rc = pm_pread_all(r->fd, &t, sizeof t, size - sizeof t, path, err);
    if (rc < 0)
        goto fail;
    /* Every size comes from the file: bound each one by the footer's real
     * length before adding them, so no sum can wrap. */
    uint64_t footer_room = t.footer_start <= size - sizeof t ? size - sizeof t - t.footer_start : 0;
    if (t.magic != SPILL_MAGIC || t.version != SPILL_VERSION || t.n_buckets == 0 ||
        t.footer_start > size - sizeof t || t.n_runs > footer_room / 16 ||
        t.stats_len > footer_room ||
        footer_room != t.n_runs * 16 + (uint64_t)t.n_buckets * 16 + t.stats_len) {
        rc = pm_error_set(err, PM_EIO, path, 0, "not a pilemix spill file, or a damaged one");
        goto fail;
    }
    /* Verify the whole footer once, streaming, then keep only the run table
     * and the stats: per-bucket totals are read on demand, so an open reader
     * costs memory in runs, not in buckets. */
    hs = XXH3_createState();
    r->runs = malloc(t.n_runs * 16 + 1);
    r->stats = malloc(t.stats_len + 1);
    footer = malloc(READ_BUF_BYTES);
    if (!hs || !r->runs || !r->stats || !footer) {
        rc = pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
        goto fail;
    }
    XXH3_64bits_reset(hs);
    uint64_t footer_len = size - sizeof t - t.footer_start;
    for (uint64_t done = 0; done < footer_len;) {
        size_t n =
            footer_len - done < READ_BUF_BYTES ? (size_t)(footer_len - done) : READ_BUF_BYTES;
        rc = pm_pread_all(r->fd, footer, n, t.footer_start + done, path, err);
        if (rc < 0)
            goto fail;
        XXH3_64bits_update(hs, footer, n);
        done += n;
    }
    XXH3_64bits_update(hs, &t, offsetof(spill_trailer_t, checksum));
    if (XXH3_64bits_digest(hs) != t.checksum) {
        rc = pm_error_set(err, PM_EIO, path, 0, "spill footer checksum mismatch (damaged file)");
        goto fail;
    }
    rc = pm_pread_all(r->fd, r->runs, t.n_runs * 16, t.footer_start, path, err);
    if (rc == 0)
        rc = pm_pread_all(r->fd, r->stats, t.stats_len, size - sizeof t - t.stats_len, path, err);
    if (rc < 0)
        goto fail;
    r->n_buckets = t.n_buckets;
    r->n_runs = t.n_runs;
    r->totals_pos = t.footer_start + t.n_runs * 16;
    r->footer_start = t.footer_start;
    r->data_hash = t.data_hash;
    r->stats_len = t.stats_len;
    XXH3_freeState(hs);
    free(footer);
    *out = r;
    return 0;
fail:
    XXH3_freeState(hs);
    free(footer);
    pm_spill_reader_close(r);
    return rc;
}

int pm_spill_verify(const char *path, pm_error_t *err)
{
    pm_spill_reader_t *r;
    PM_TRY(pm_spill_reader_open(&r, path, err));
    char *buf = malloc(READ_BUF_BYTES);
    XXH3_state_t *hs = XXH3_createState();
    int rc = buf && hs ? 0 : pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
    if (rc == 0)
        XXH3_64bits_reset(hs);
    for (uint64_t done = 0; rc == 0 && done < r->footer_start;) {
        size_t n = r->footer_start - done < READ_BUF_BYTES ? (size_t)(r->footer_start - done)
                                                           : READ_BUF_BYTES;
        rc = pm_pread_all(r->fd, buf, n, done, path, err);
        if (rc == 0)
            XXH3_64bits_update(hs, buf, n);
        done += n;
    }
    if (rc == 0 && XXH3_64bits_digest(hs) != r->data_hash)
        rc = pm_error_set(err, PM_EIO, path, 0, "spill data checksum mismatch (damaged file)");
    XXH3_freeState(hs);
    free(buf);
    pm_spill_reader_close(r);
    return rc;
}

void pm_spill_reader_close(pm_spill_reader_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    pm_buf_free(&r->path);
    pm_buf_free(&r->big);
    free(r->runs);
    free(r->stats);
    free(r->buf);
    free(r);
}

uint32_t pm_spill_reader_buckets(const pm_spill_reader_t *r) { return r->n_buckets; }

int pm_spill_reader_add_totals(pm_spill_reader_t *r, uint64_t *records, uint64_t *bytes,
                               pm_error_t *err)
{
    uint64_t chunk[4096];
    for (int part = 0; part < 2; part++) {
        uint64_t *acc = part == 0 ? records : bytes;
        uint64_t base = r->totals_pos + (uint64_t)part * r->n_buckets * 8;
        for (uint32_t b = 0; b < r->n_buckets;) {
            uint32_t n = r->n_buckets - b < 4096 ? r->n_buckets - b : 4096;
            PM_TRY(pm_pread_all(r->fd, chunk, n * 8u, base + (uint64_t)b * 8, r->path.data, err));
            for (uint32_t i = 0; i < n; i++)
                acc[b + i] += chunk[i];
            b += n;
        }
    }
    return 0;
}

const void *pm_spill_reader_stats(const pm_spill_reader_t *r, size_t *len)
{
    *len = r->stats_len;
    return r->stats;
}

/* Streams the byte range [file_pos, end) through r->buf. */
typedef struct range_cursor {
    pm_spill_reader_t *r;
    uint64_t file_pos; /* file offset of buf[0] */
    size_t have;       /* valid bytes in buf */
    size_t at;         /* cursor inside buf */
    uint64_t end;
} range_cursor_t;

/* Make n bytes available at buf + at (n <= r->buf_cap). */
static int cursor_fill(range_cursor_t *c, size_t n, pm_error_t *err)
{
    if (c->have - c->at >= n)
        return 0;
    size_t keep = c->have - c->at;
    memmove(c->r->buf, c->r->buf + c->at, keep);
    c->file_pos += c->at;
    c->at = 0;
    c->have = keep;
    uint64_t avail = c->end - (c->file_pos + keep);
    size_t want = c->r->buf_cap - keep;
    if (want > avail)
        want = (size_t)avail;
    if (keep + want < n)
        return pm_error_set(err, PM_EIO, c->r->path.data, 0, "spill record crosses its bucket end");
    PM_TRY(
        pm_pread_all(c->r->fd, c->r->buf + keep, want, c->file_pos + keep, c->r->path.data, err));
    c->have += want;
    return 0;
}

static int visit_range(pm_spill_reader_t *r, uint64_t start, uint64_t end, uint64_t lo, uint64_t hi,
                       pm_spill_visit_fn fn, void *ctx, pm_error_t *err)
{
    /* The buffer is sized to the range (small buckets cost little) and
     * released after each visit: thousands of readers may be open at once. */
    uint64_t len = end - start;
    size_t cap = len < READ_BUF_BYTES ? (size_t)len : READ_BUF_BYTES;
    if (cap < PM_SPILL_REC_HEADER)
        cap = PM_SPILL_REC_HEADER;
    if (cap > r->buf_cap) {
        char *b = realloc(r->buf, cap);
        if (!b)
            return pm_error_set(err, PM_ENOMEM, r->path.data, 0, "out of memory");
        r->buf = b;
        r->buf_cap = cap;
    }
    range_cursor_t c = {r, start, 0, 0, end};
    while (c.file_pos + c.at < c.end) {
        PM_TRY(cursor_fill(&c, PM_SPILL_REC_HEADER, err));
        pm_spill_rec_t rec;
        memcpy(&rec, r->buf + c.at, sizeof rec);
        uint64_t size = PM_SPILL_REC_HEADER + (uint64_t)rec.text_len + rec.meta_len;
        if (c.file_pos + c.at + size > c.end)
            return pm_error_set(err, PM_EIO, r->path.data, 0, "damaged spill record");
        if (rec.key < lo || rec.key > hi) {
            if (c.have - c.at >= size) {
                c.at += (size_t)size;
            } else { /* skip past the buffer */
                c.file_pos += c.at + size;
                c.at = c.have = 0;
            }
            continue;
        }
        const char *payload;
        if (size <= r->buf_cap) {
            PM_TRY(cursor_fill(&c, (size_t)size, err));
            payload = r->buf + c.at + PM_SPILL_REC_HEADER;
            c.at += (size_t)size;
        } else {
            size_t plen = (size_t)(size - PM_SPILL_REC_HEADER);
            pm_buf_reset(&r->big);
            if (pm_buf_reserve(&r->big, plen) < 0)
                return pm_error_set(err, PM_ENOMEM, r->path.data, 0, "out of memory");
            PM_TRY(pm_pread_all(r->fd, r->big.data, plen, c.file_pos + c.at + PM_SPILL_REC_HEADER,
                                r->path.data, err));
            payload = r->big.data;
            c.file_pos += c.at + size;
            c.at = c.have = 0;
        }
        int rc = fn(ctx, &rec, payload, payload + rec.text_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The byte range [start, end) of a bucket inside run k. */
static int bucket_range(pm_spill_reader_t *r, uint64_t k, uint32_t bucket, uint64_t *start,
                        uint64_t *end, pm_error_t *err)
{
    uint64_t run_start = r->runs[2 * k], index_pos = r->runs[2 * k + 1];
    uint64_t bounds[2] = {0, 0};
    if (bucket == 0)
        PM_TRY(pm_pread_all(r->fd, &bounds[1], 8, index_pos, r->path.data, err));
    else
        PM_TRY(pm_pread_all(r->fd, bounds, 16, index_pos + 8 * (uint64_t)(bucket - 1), r->path.data,
                            err));
    if (run_start > index_pos || bounds[1] < bounds[0] || bounds[1] > index_pos - run_start)
        return pm_error_set(err, PM_EIO, r->path.data, 0, "damaged spill run index");
    *start = run_start + bounds[0];
    *end = run_start + bounds[1];
    return 0;
}

int pm_spill_reader_visit(pm_spill_reader_t *r, uint32_t bucket, uint64_t lo, uint64_t hi,
                          pm_spill_visit_fn fn, void *ctx, pm_error_t *err)
{
    if (bucket >= r->n_buckets)
        return pm_error_set(err, PM_EINTERNAL, r->path.data, 0, "bucket %u out of range", bucket);
    int rc = 0;
    for (uint64_t k = 0; k < r->n_runs && rc == 0; k++) {
        uint64_t start = 0, end = 0;
        rc = bucket_range(r, k, bucket, &start, &end, err);
        if (rc == 0 && end > start)
            rc = visit_range(r, start, end, lo, hi, fn, ctx, err);
    }
    free(r->buf);
    r->buf = NULL;
    r->buf_cap = 0;
    pm_buf_free(&r->big);
    return rc;
}

int pm_spill_reader_append_bucket(pm_spill_reader_t *r, uint32_t bucket, pm_buf_t *out,
                                  pm_error_t *err)
{
    if (bucket >= r->n_buckets)
        return pm_error_set(err, PM_EINTERNAL, r->path.data, 0, "bucket %u out of range", bucket);
    for (uint64_t k = 0; k < r->n_runs; k++) {
        uint64_t start = 0, end = 0;
        PM_TRY(bucket_range(r, k, bucket, &start, &end, err));
        if (end == start)
            continue;
        if (end - start > SIZE_MAX / 2 || pm_buf_reserve(out, (size_t)(end - start)) < 0)
            return pm_error_set(err, PM_ENOMEM, r->path.data, 0, "out of memory");
        PM_TRY(pm_pread_all(r->fd, out->data + out->len, (size_t)(end - start), start, r->path.data,
                            err));
        out->len += (size_t)(end - start);
    }
    return 0;
}
