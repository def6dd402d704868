/* Spill streams: writer, verifier and the gather's reader. See spill.h for
 * what a stream is and spill_format.h for its blocks. */
#include "pilemix/spill.h"

#include "pilemix/buf.h"
#include "pilemix/fsutil.h"
#include "pilemix/spill_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t inside the structs */
#include <xxhash.h>
#include <zstd.h>

#define WRITE_BUF_BYTES (1u << 20)
#define READ_BUF_BYTES (1u << 20)
/* The window a scan reads headers and commits through: commits come in
 * batches after runs, and run data is skipped, so a small one wastes little. */
#define SCAN_WINDOW_BYTES (64u << 10)
/* Memory for the run tables of a chunk of buckets the gather reads. */
#define INDEX_CHUNK_BYTES (4u << 20)

_Static_assert(sizeof(pm_spill_block_t) == 16, "block header");
_Static_assert(sizeof(pm_spill_head_t) == 24, "head");
_Static_assert(sizeof(pm_spill_run_head_t) == 8, "run head");
_Static_assert(sizeof(pm_spill_range_t) == 24, "range");
_Static_assert(sizeof(pm_spill_commit_t) == 32, "commit");

#define BLOCK_HDR ((uint64_t)sizeof(pm_spill_block_t))
#define COMMIT_MIN (sizeof(pm_spill_commit_t) + sizeof(uint64_t))

void pm_spill_arena_free(pm_spill_arena_t *a)
{
    free(a->data);
    a->data = NULL;
    a->cap = 0;
}

int pm_spill_stream_path(pm_buf_t *out, const char *dir, uint32_t attempt, uint32_t rank)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/a%u-r%u.spill", dir, attempt, rank);
}

bool pm_spill_stream_name(const char *name, uint32_t *attempt, uint32_t *rank)
{
    unsigned a, r;
    int n = -1;
    if (sscanf(name, "a%u-r%u.spill%n", &a, &r, &n) != 2 || n < 0 || name[n] != '\0' ||
        name[1] < '0' || name[1] > '9')
        return false;
    *attempt = a;
    *rank = r;
    return true;
}

/* ================= writer ================= */

typedef struct spill_entry {
    uint32_t bucket;
    uint32_t size;   /* header + text + meta */
    uint64_t offset; /* into the arena */
} spill_entry_t;

typedef struct pending {
    uint32_t task, first_run;
    size_t blob_off, blob_len; /* in pend_blobs */
} pending_t;

struct pm_spill_stream {
    int fd;
    pm_buf_t path;
    uint32_t n_buckets;
    size_t arena_bytes;
    char *arena;
    size_t arena_used, arena_cap;
    bool own_arena;
    spill_entry_t *entries;
    size_t n_entries, entries_cap;
    uint32_t *order;
    uint64_t *counts;         /* per bucket: counting sort scratch */
    pm_spill_range_t *ranges; /* per bucket: the run being written */
    char *wbuf;
    size_t wbuf_len;
    uint64_t pos;         /* file position of the next byte written */
    XXH3_state_t running; /* over the blocks (spill_format.h) */
    XXH3_state_t payload; /* over the payload of the run being written */
    XXH3_state_t *target; /* what wflush feeds: running, payload or NULL */
    uint32_t n_runs;
    uint64_t seq;
    /* the task being added */
    bool in_task;
    uint32_t task, task_first_run;
    size_t task_entry_mark, task_arena_mark;
    /* commits waiting for the run that holds their task's last records */
    pending_t *pend;
    size_t n_pend, pend_cap;
    pm_buf_t pend_blobs;
    pm_spill_commit_fn on_commit;
    void *on_commit_ctx;
    int level; /* 0: raw */
    ZSTD_CCtx *cctx;
    /* the run being written */
    uint64_t run_block_pos, run_data_pos;
    bool failed; /* a write failed: write nothing more */
};

/* After a failed write the file no longer matches what the stream thinks
 * it wrote: nothing more is written (a resume's verification would stop at
 * the last commit before the failure anyway). */
static int failed(pm_spill_stream_t *s, pm_error_t *err)
{
    return pm_error_set(err, PM_EIO, s->path.data, 0,
                        "spill stream unusable after an earlier write error");
}

static int wflush(pm_spill_stream_t *s, pm_error_t *err)
{
    if (s->failed)
        return failed(s, err);
    if (s->wbuf_len == 0)
        return 0;
    if (s->target)
        XXH3_64bits_update(s->target, s->wbuf, s->wbuf_len);
    int rc = pm_write_all(s->fd, s->wbuf, s->wbuf_len, s->path.data, err);
    s->wbuf_len = 0;
    s->failed = rc < 0;
    return rc;
}

/* Hashing is fed whole write buffers, not record by record. */
static int wwrite(pm_spill_stream_t *s, const void *p, size_t n, pm_error_t *err)
{
    s->pos += n;
    if (n >= WRITE_BUF_BYTES) {
        PM_TRY(wflush(s, err));
        if (s->target)
            XXH3_64bits_update(s->target, p, n);
        int rc = pm_write_all(s->fd, p, n, s->path.data, err);
        s->failed = rc < 0;
        return rc;
    }
    if (s->wbuf_len + n > WRITE_BUF_BYTES)
        PM_TRY(wflush(s, err));
    memcpy(s->wbuf + s->wbuf_len, p, n);
    s->wbuf_len += n;
    return 0;
}

/* Compress p into the write buffer as part of the current frame (end: and
 * close the frame). */
static int zwrite(pm_spill_stream_t *s, const void *p, size_t n, bool end, pm_error_t *err)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        if (s->wbuf_len == WRITE_BUF_BYTES)
            PM_TRY(wflush(s, err));
        ZSTD_outBuffer out = {s->wbuf, WRITE_BUF_BYTES, s->wbuf_len};
        size_t left = ZSTD_compressStream2(s->cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            return pm_error_set(err, PM_EINTERNAL, s->path.data, 0, "spill compression: %s",
                                ZSTD_getErrorName(left));
        s->pos += out.pos - s->wbuf_len;
        s->wbuf_len = out.pos;
        if (end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static void stream_free(pm_spill_stream_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    pm_buf_free(&s->path);
    if (s->own_arena)
        free(s->arena);
    free(s->entries);
    free(s->order);
    free(s->counts);
    free(s->ranges);
    free(s->wbuf);
    free(s->pend);
    pm_buf_free(&s->pend_blobs);
    ZSTD_freeCCtx(s->cctx);
    free(s);
}

int pm_spill_stream_open(pm_spill_stream_t **out, const char *path, uint32_t n_buckets,
                         size_t arena_bytes, pm_spill_arena_t *arena, int compression,
                         pm_error_t *err)
{
    *out = NULL;
    if (n_buckets == 0)
        return pm_error_set(err, PM_EINTERNAL, path, 0, "spill with zero buckets");
    pm_spill_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
    s->fd = -1;
    s->n_buckets = n_buckets;
    s->arena_bytes = arena_bytes < (1u << 20) ? (1u << 20) : arena_bytes;
    s->arena_cap = s->arena_bytes;
    if (arena) {
        if (arena->cap < s->arena_cap) {
            pm_spill_arena_free(arena); /* no realloc: nothing in it to keep */
            arena->data = malloc(s->arena_cap);
            arena->cap = arena->data ? s->arena_cap : 0;
        }
        s->arena = arena->data;
    } else {
        s->own_arena = true;
        s->arena = malloc(s->arena_cap);
    }
    s->counts = calloc(n_buckets, sizeof *s->counts);
    s->ranges = calloc(n_buckets, sizeof *s->ranges);
    s->wbuf = malloc(WRITE_BUF_BYTES);
    s->level = compression;
    if (compression != PM_SPILL_COMPRESS_NONE) {
        s->cctx = ZSTD_createCCtx();
        if (s->cctx &&
            (ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, compression)) ||
             ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 0)))) {
            stream_free(s);
            return pm_error_set(err, PM_EINTERNAL, path, 0, "bad spill compression level %d",
                                compression);
        }
    }
    if (!s->arena || !s->counts || !s->ranges || !s->wbuf ||
        (compression != PM_SPILL_COMPRESS_NONE && !s->cctx) ||
        pm_buf_append_str(&s->path, path) < 0) {
        stream_free(s);
        return pm_error_set(err, PM_ENOMEM, path, 0, "out of memory");
    }
    /* Never reopened, never shared: a name that exists is another
     * attempt's, which must not be overwritten. */
    s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        int rc =
            pm_error_set(err, PM_EIO, path, 0, "cannot create spill stream: %s", strerror(errno));
        stream_free(s);
        return rc;
    }
    XXH3_64bits_reset(&s->running);
    s->target = &s->running;
    pm_spill_block_t b = {PM_SPILL_BLOCK_MAGIC, PM_SPILL_HEAD, sizeof(pm_spill_head_t)};
    pm_spill_head_t h = {PM_SPILL_MAGIC, PM_SPILL_VERSION, n_buckets, 0, 0};
    unsigned a = 0, r = 0;
    const char *base = strrchr(path, '/');
    if (pm_spill_stream_name(base ? base + 1 : path, &a, &r)) {
        h.attempt = a;
        h.rank = r;
    }
    int rc = wwrite(s, &b, sizeof b, err);
    rc = rc ? rc : wwrite(s, &h, sizeof h, err);
    if (rc < 0) {
        pm_spill_stream_abort(s);
        return rc;
    }
    *out = s;
    return 0;
}

void pm_spill_stream_on_commit(pm_spill_stream_t *s, pm_spill_commit_fn fn, void *ctx)
{
    s->on_commit = fn;
    s->on_commit_ctx = ctx;
}

uint64_t pm_spill_stream_bytes(const pm_spill_stream_t *s) { return s->pos; }

/* ---- runs ---- */

static int run_begin(pm_spill_stream_t *s, pm_error_t *err)
{
    PM_TRY(wflush(s, err));
    s->run_block_pos = s->pos;
    /* The header's len is filled in at run_end; it enters the running hash
     * then, so the placeholder goes out unhashed. */
    s->target = NULL;
    pm_spill_block_t b = {PM_SPILL_BLOCK_MAGIC, PM_SPILL_RUN, 0};
    PM_TRY(wwrite(s, &b, sizeof b, err));
    PM_TRY(wflush(s, err));
    XXH3_64bits_reset(&s->payload);
    s->target = &s->payload;
    pm_spill_run_head_t h = {s->n_buckets, s->level ? PM_SPILL_CODEC_ZSTD : PM_SPILL_CODEC_RAW};
    PM_TRY(wwrite(s, &h, sizeof h, err));
    s->run_data_pos = s->pos;
    memset(s->ranges, 0, s->n_buckets * sizeof *s->ranges);
    return 0;
}

static int bucket_begin(pm_spill_stream_t *s, uint64_t raw, pm_error_t *err)
{
    if (!s->level)
        return 0;
    ZSTD_CCtx_reset(s->cctx, ZSTD_reset_session_only);
    if (ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(s->cctx, raw)))
        return pm_error_set(err, PM_EINTERNAL, s->path.data, 0, "spill compression set-up");
    return 0;
}

static int bucket_put(pm_spill_stream_t *s, const void *p, size_t n, pm_error_t *err)
{
    return s->level ? zwrite(s, p, n, false, err) : wwrite(s, p, n, err);
}

/* Close bucket b's range (records and raw bytes were counted by the caller). */
static int bucket_end(pm_spill_stream_t *s, uint32_t b, pm_error_t *err)
{
    if (s->level)
        PM_TRY(zwrite(s, NULL, 0, true, err));
    s->ranges[b].end = s->pos - s->run_data_pos;
    return 0;
}

static int run_end(pm_spill_stream_t *s, pm_error_t *err)
{
    /* Empty buckets end where the previous one did. */
    uint64_t end = 0;
    for (uint32_t b = 0; b < s->n_buckets; b++) {
        if (s->ranges[b].records == 0)
            s->ranges[b].end = end;
        end = s->ranges[b].end;
    }
    PM_TRY(wwrite(s, s->ranges, s->n_buckets * sizeof *s->ranges, err));
    PM_TRY(wflush(s, err));
    uint64_t digest = XXH3_64bits_digest(&s->payload);
    pm_spill_block_t b = {PM_SPILL_BLOCK_MAGIC, PM_SPILL_RUN,
                          s->pos - s->run_block_pos - BLOCK_HDR};
    if (pwrite(s->fd, &b, sizeof b, (off_t)s->run_block_pos) != (ssize_t)sizeof b) {
        s->failed = true;
        return pm_error_set(err, PM_EIO, s->path.data, 0, "cannot write spill: %s",
                            errno ? strerror(errno) : "short write");
    }
    XXH3_64bits_update(&s->running, &b, sizeof b);
    XXH3_64bits_update(&s->running, &digest, sizeof digest);
    s->target = &s->running;
    s->n_runs++;
    return 0;
}

/* The staged records as one run: a stable counting sort by bucket, so the
 * records of a bucket keep their arrival order and the file is a function
 * of the input. */
static int write_run(pm_spill_stream_t *s, pm_error_t *err)
{
    if (s->n_entries == 0)
        return 0;
    uint32_t nb = s->n_buckets;
    memset(s->counts, 0, nb * sizeof *s->counts);
    for (size_t i = 0; i < s->n_entries; i++)
        s->counts[s->entries[i].bucket]++;
    uint64_t sum = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint64_t c = s->counts[b];
        s->counts[b] = sum;
        sum += c;
    }
    for (size_t i = 0; i < s->n_entries; i++)
        s->order[s->counts[s->entries[i].bucket]++] = (uint32_t)i;
    PM_TRY(run_begin(s, err));
    for (size_t k = 0; k < s->n_entries;) {
        uint32_t b = s->entries[s->order[k]].bucket;
        size_t j = k;
        uint64_t raw = 0;
        for (; j < s->n_entries && s->entries[s->order[j]].bucket == b; j++)
            raw += s->entries[s->order[j]].size;
        PM_TRY(bucket_begin(s, raw, err));
        for (size_t i = k; i < j; i++) {
            const spill_entry_t *e = &s->entries[s->order[i]];
            PM_TRY(bucket_put(s, s->arena + e->offset, e->size, err));
        }
        s->ranges[b].records = j - k;
        s->ranges[b].raw = raw;
        PM_TRY(bucket_end(s, b, err));
        k = j;
    }
    PM_TRY(run_end(s, err));
    s->n_entries = 0;
    s->arena_used = 0;
    /* What the current task staged is in this run now. */
    s->task_entry_mark = 0;
    s->task_arena_mark = 0;
    return 0;
}

static int write_commits(pm_spill_stream_t *s, pm_error_t *err)
{
    /* Each commit's data hash must cover the commits before it: hash them
     * here, not at the write buffer's flush. */
    PM_TRY(wflush(s, err));
    s->target = NULL;
    for (size_t i = 0; i < s->n_pend; i++) {
        const pending_t *p = &s->pend[i];
        pm_spill_block_t b = {PM_SPILL_BLOCK_MAGIC, PM_SPILL_COMMIT,
                              sizeof(pm_spill_commit_t) + p->blob_len + sizeof(uint64_t)};
        pm_spill_commit_t c = {s->seq++,  XXH3_64bits_digest(&s->running),
                               p->task,   p->first_run,
                               s->n_runs, (uint32_t)p->blob_len};
        const char *blob = p->blob_len ? s->pend_blobs.data + p->blob_off : "";
        XXH3_state_t cs;
        XXH3_64bits_reset(&cs);
        XXH3_64bits_update(&cs, &b, sizeof b);
        XXH3_64bits_update(&cs, &c, sizeof c);
        XXH3_64bits_update(&cs, blob, p->blob_len);
        uint64_t sum = XXH3_64bits_digest(&cs);
        XXH3_64bits_update(&s->running, &b, sizeof b);
        XXH3_64bits_update(&s->running, &c, sizeof c);
        XXH3_64bits_update(&s->running, blob, p->blob_len);
        XXH3_64bits_update(&s->running, &sum, sizeof sum);
        PM_TRY(wwrite(s, &b, sizeof b, err));
        PM_TRY(wwrite(s, &c, sizeof c, err));
        PM_TRY(wwrite(s, blob, p->blob_len, err));
        PM_TRY(wwrite(s, &sum, sizeof sum, err));
    }
    /* Into the kernel before anyone is told: a killed rank keeps it. */
    PM_TRY(wflush(s, err));
    s->target = &s->running;
    size_t n = s->n_pend;
    s->n_pend = 0;
    pm_buf_reset(&s->pend_blobs);
    for (size_t i = 0; i < n && s->on_commit; i++)
        PM_TRY(s->on_commit(s->on_commit_ctx, s->pend[i].task, err));
    return 0;
}

int pm_spill_stream_flush(pm_spill_stream_t *s, pm_error_t *err)
{
    PM_TRY(write_run(s, err));
    if (s->n_pend)
        PM_TRY(write_commits(s, err));
    return 0;
}

static size_t held_bytes(const pm_spill_stream_t *s, size_t more_entries)
{
    return s->arena_used + (s->n_entries + more_entries) * (sizeof(spill_entry_t) + 4) +
           s->pend_blobs.len + s->n_pend * sizeof(pending_t);
}

static int grow_entries(pm_spill_stream_t *s, pm_error_t *err)
{
    size_t cap = s->entries_cap ? s->entries_cap * 2 : 4096;
    spill_entry_t *e = realloc(s->entries, cap * sizeof *e);
    if (!e)
        return pm_error_set(err, PM_ENOMEM, s->path.data, 0, "out of memory");
    s->entries = e;
    uint32_t *o = realloc(s->order, cap * sizeof *o);
    if (!o)
        return pm_error_set(err, PM_ENOMEM, s->path.data, 0, "out of memory");
    s->order = o;
    s->entries_cap = cap;
    return 0;
}

int pm_spill_stream_begin_task(pm_spill_stream_t *s, uint32_t task, pm_error_t *err)
{
    if (s->in_task)
        return pm_error_set(err, PM_EINTERNAL, s->path.data, 0, "spill task %u still open",
                            s->task);
    s->in_task = true;
    s->task = task;
    s->task_first_run = s->n_runs;
    s->task_entry_mark = s->n_entries;
    s->task_arena_mark = s->arena_used;
    return 0;
}

int pm_spill_stream_add(pm_spill_stream_t *s, uint32_t bucket, const pm_spill_rec_t *rec,
                        const char *text, const char *meta, pm_error_t *err)
{
    if (bucket >= s->n_buckets || !s->in_task || rec->file != s->task)
        return pm_error_set(err, PM_EINTERNAL, s->path.data, 0,
                            "spill record of task %u, bucket %u: not expected", rec->file, bucket);
    size_t size = PM_SPILL_REC_HEADER + rec->text_len + rec->meta_len;
    if (held_bytes(s, 1) + size > s->arena_bytes)
        PM_TRY(pm_spill_stream_flush(s, err));
    if (size > s->arena_cap) {
        /* Larger than the whole arena: a run of its own, written through. */
        PM_TRY(run_begin(s, err));
        PM_TRY(bucket_begin(s, size, err));
        PM_TRY(bucket_put(s, rec, PM_SPILL_REC_HEADER, err));
        PM_TRY(bucket_put(s, text, rec->text_len, err));
        PM_TRY(bucket_put(s, meta, rec->meta_len, err));
        s->ranges[bucket].records = 1;
        s->ranges[bucket].raw = size;
        PM_TRY(bucket_end(s, bucket, err));
        return run_end(s, err);
    }
    if (s->n_entries == s->entries_cap)
        PM_TRY(grow_entries(s, err));
    char *dst = s->arena + s->arena_used;
    memcpy(dst, rec, PM_SPILL_REC_HEADER);
    memcpy(dst + PM_SPILL_REC_HEADER, text, rec->text_len);
    if (rec->meta_len)
        memcpy(dst + PM_SPILL_REC_HEADER + rec->text_len, meta, rec->meta_len);
    s->entries[s->n_entries++] = (spill_entry_t){bucket, (uint32_t)size, s->arena_used};
    s->arena_used += size;
    return 0;
}

void pm_spill_stream_drop_task(pm_spill_stream_t *s)
{
    if (!s || !s->in_task)
        return;
    /* Staged records since the task began (or since the last run, which
     * reset the marks) are the task's alone: the arena is a stack. */
    s->n_entries = s->task_entry_mark;
    s->arena_used = s->task_arena_mark;
    /* Records in runs already written stay there; a commit of this task
     * will cover only the runs from now on. */
    s->task_first_run = s->n_runs;
    s->in_task = false;
    s->task_entry_mark = s->n_entries;
    s->task_arena_mark = s->arena_used;
}

int pm_spill_stream_end_task(pm_spill_stream_t *s, const void *blob, size_t blob_len,
                             pm_error_t *err)
{
    if (blob_len > UINT32_MAX / 2)
        return pm_error_set(err, PM_EINTERNAL, s->path.data, 0, "task blob too large");
    /* A dropped task (drop_task) can still be committed, empty. */
    uint32_t task = s->task, first_run = s->task_first_run;
    s->in_task = false;
    if (s->n_pend == s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap * 2 : 64;
        pending_t *p = realloc(s->pend, cap * sizeof *p);
        if (!p)
            return pm_error_set(err, PM_ENOMEM, s->path.data, 0, "out of memory");
        s->pend = p;
        s->pend_cap = cap;
    }
    size_t off = s->pend_blobs.len;
    if (blob_len && pm_buf_append(&s->pend_blobs, blob, blob_len) < 0)
        return pm_error_set(err, PM_ENOMEM, s->path.data, 0, "out of memory");
    s->pend[s->n_pend++] = (pending_t){task, first_run, off, blob_len};
    if (s->n_entries == 0 || held_bytes(s, 0) > s->arena_bytes)
        return pm_spill_stream_flush(s, err); /* nothing staged: commit now */
    return 0;
}

int pm_spill_stream_close(pm_spill_stream_t *s, pm_error_t *err)
{
    if (!s)
        return 0;
    /* A task still open failed: its records go, the commits before it stay. */
    pm_spill_stream_drop_task(s);
    int rc = pm_spill_stream_flush(s, err);
    if (rc == 0)
        rc = wflush(s, err);
    if (rc == 0) {
        int fd = s->fd;
        s->fd = -1;
        /* No fsync: a stream is scratch whose commits a resume verifies, and
         * fsync made the scatter wait on the disk. */
        if (close(fd) != 0)
            rc = pm_error_set(err, PM_EIO, s->path.data, 0, "cannot write spill: %s",
                              strerror(errno));
    }
    stream_free(s);
    return rc;
}

void pm_spill_stream_abort(pm_spill_stream_t *s)
{
    if (s)
        stream_free(s);
}

/* ================= scanning a stream ================= */

/* A forward reader over a stream file: a window of READ_BUF_BYTES, so the
 * headers and the commits (which come in batches after each run) cost few
 * preads, and run data that is not needed is skipped without reading. */
typedef struct scanner {
    int fd;
    const char *path;
    uint64_t size;
    char *win;
    uint64_t win_pos;
    size_t win_len;
    uint64_t *reads, *read_bytes; /* counters, may be NULL */
} scanner_t;

static int scan_read(scanner_t *sc, uint64_t off, void *dst, size_t n, pm_error_t *err)
{
    if (off >= sc->win_pos && off + n <= sc->win_pos + sc->win_len) {
        memcpy(dst, sc->win + (off - sc->win_pos), n);
        return 0;
    }
    if (n > SCAN_WINDOW_BYTES / 2) { /* big: straight into dst */
        if (sc->reads)
            (*sc->reads)++, *sc->read_bytes += n;
        return pm_pread_all(sc->fd, dst, n, off, sc->path, err);
    }
    size_t want = SCAN_WINDOW_BYTES;
    if (off + want > sc->size)
        want = (size_t)(sc->size - off);
    if (want < n)
        return pm_error_set(err, PM_EIO, sc->path, 0, "spill stream cut short");
    if (sc->reads)
        (*sc->reads)++, *sc->read_bytes += want;
    PM_TRY(pm_pread_all(sc->fd, sc->win, want, off, sc->path, err));
    sc->win_pos = off;
    sc->win_len = want;
    memcpy(dst, sc->win, n);
    return 0;
}

/* What a scan found per run. */
typedef struct run_info {
    uint64_t data_pos; /* file offset of the run's data */
    uint64_t index_pos;
    uint32_t codec;
} run_info_t;

typedef struct scan_out {
    run_info_t *runs;
    size_t n_runs, runs_cap;
    uint64_t valid_end;  /* end of the last good commit */
    uint32_t valid_runs; /* runs the last good commit covers */
} scan_out_t;

/* Commit callback of a scan: task, window of runs, blob. */
typedef int (*scan_commit_fn)(void *ctx, const pm_spill_commit_t *c, const void *blob);

/* Walk the blocks of a stream up to limit. verify: hash every byte and
 * check each commit's data hash (reads the whole file); else only the
 * headers, the commits and their checksums are read. Stops quietly at the
 * first block that does not hold; errors are only for reading and memory. */
static int scan_stream(scanner_t *sc, uint32_t n_buckets, uint64_t limit, bool verify,
                       scan_out_t *out, scan_commit_fn fn, void *ctx, pm_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (limit > sc->size)
        limit = sc->size;
    XXH3_state_t running, payload;
    XXH3_64bits_reset(&running);
    pm_buf_t blob;
    pm_buf_init(&blob);
    char *chunk = NULL;
    int rc = 0;
    uint64_t seq = 0;
    uint64_t off = 0;
    for (bool first = true; rc == 0 && limit - off >= BLOCK_HDR; first = false) {
        pm_spill_block_t b;
        if ((rc = scan_read(sc, off, &b, sizeof b, err)) < 0)
            break;
        uint64_t room = limit - off - BLOCK_HDR;
        if (b.magic != PM_SPILL_BLOCK_MAGIC || b.len > room || first != (b.type == PM_SPILL_HEAD))
            break;
        uint64_t body = off + BLOCK_HDR, next = body + b.len;
        if (b.type == PM_SPILL_HEAD) {
            pm_spill_head_t h;
            if (b.len != sizeof h || (rc = scan_read(sc, body, &h, sizeof h, err)) < 0)
                break;
            if (h.magic != PM_SPILL_MAGIC || h.version != PM_SPILL_VERSION ||
                h.n_buckets != n_buckets)
                break;
            XXH3_64bits_update(&running, &b, sizeof b);
            XXH3_64bits_update(&running, &h, sizeof h);
        } else if (b.type == PM_SPILL_RUN) {
            pm_spill_run_head_t h;
            uint64_t table = (uint64_t)n_buckets * sizeof(pm_spill_range_t);
            if (b.len < sizeof h + table || (rc = scan_read(sc, body, &h, sizeof h, err)) < 0)
                break;
            if (h.n_buckets != n_buckets || h.codec > PM_SPILL_CODEC_ZSTD)
                break;
            if (verify) {
                if (!chunk && !(chunk = malloc(READ_BUF_BYTES))) {
                    rc = pm_error_set(err, PM_ENOMEM, sc->path, 0, "out of memory");
                    break;
                }
                XXH3_64bits_reset(&payload);
                for (uint64_t p = body; rc == 0 && p < next;) {
                    size_t n = next - p < READ_BUF_BYTES ? (size_t)(next - p) : READ_BUF_BYTES;
                    if (sc->reads)
                        (*sc->reads)++, *sc->read_bytes += n;
                    rc = pm_pread_all(sc->fd, chunk, n, p, sc->path, err);
                    XXH3_64bits_update(&payload, chunk, n);
                    p += n;
                }
                if (rc < 0)
                    break;
                uint64_t d = XXH3_64bits_digest(&payload);
                XXH3_64bits_update(&running, &b, sizeof b);
                XXH3_64bits_update(&running, &d, sizeof d);
            }
            if (out->n_runs == out->runs_cap) {
                size_t cap = out->runs_cap ? out->runs_cap * 2 : 64;
                run_info_t *r = realloc(out->runs, cap * sizeof *r);
                if (!r) {
                    rc = pm_error_set(err, PM_ENOMEM, sc->path, 0, "out of memory");
                    break;
                }
                out->runs = r;
                out->runs_cap = cap;
            }
            out->runs[out->n_runs++] = (run_info_t){body + sizeof h, next - table, h.codec};
        } else if (b.type == PM_SPILL_COMMIT) {
            pm_spill_commit_t c;
            if (b.len < COMMIT_MIN || (rc = scan_read(sc, body, &c, sizeof c, err)) < 0)
                break;
            if (b.len != COMMIT_MIN + (uint64_t)c.blob_len || c.seq != seq ||
                c.n_runs > out->n_runs || c.first_run > c.n_runs)
                break;
            pm_buf_reset(&blob);
            if (pm_buf_reserve(&blob, (size_t)c.blob_len + 8) < 0) {
                rc = pm_error_set(err, PM_ENOMEM, sc->path, 0, "out of memory");
                break;
            }
            if ((rc = scan_read(sc, body + sizeof c, blob.data, (size_t)c.blob_len + 8, err)) < 0)
                break;
            uint64_t sum;
            memcpy(&sum, blob.data + c.blob_len, sizeof sum);
            XXH3_state_t cs;
            XXH3_64bits_reset(&cs);
            XXH3_64bits_update(&cs, &b, sizeof b);
            XXH3_64bits_update(&cs, &c, sizeof c);
            XXH3_64bits_update(&cs, blob.data, c.blob_len);
            if (XXH3_64bits_digest(&cs) != sum)
                break;
            if (verify && XXH3_64bits_digest(&running) != c.data_hash)
                break; /* something before it was lost: it vouches for nothing */
            if (verify) {
                XXH3_64bits_update(&running, &b, sizeof b);
                XXH3_64bits_update(&running, &c, sizeof c);
                XXH3_64bits_update(&running, blob.data, (size_t)c.blob_len + 8);
            }
            seq++;
            out->valid_end = next;
            out->valid_runs = c.n_runs;
            if (fn && (rc = fn(ctx, &c, blob.data)) < 0)
                break;
        } else {
            break;
        }
        off = next;
    }
    free(chunk);
    pm_buf_free(&blob);
    if (rc < 0) {
        free(out->runs);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

static int open_scanner(scanner_t *sc, const char *path, pm_error_t *err)
{
    memset(sc, 0, sizeof *sc);
    sc->path = path;
    sc->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (sc->fd < 0)
        return pm_error_set(err, PM_EIO, path, 0, "cannot open spill stream: %s", strerror(errno));
    struct stat st;
    sc->win = malloc(SCAN_WINDOW_BYTES);
    if (fstat(sc->fd, &st) != 0 || !sc->win) {
        close(sc->fd);
        free(sc->win);
        return pm_error_set(err, sc->win ? PM_EIO : PM_ENOMEM, path, 0, "cannot read spill stream");
    }
    sc->size = (uint64_t)st.st_size;
    return 0;
}

static void close_scanner(scanner_t *sc)
{
    close(sc->fd);
    free(sc->win);
}

typedef struct verify_ctx {
    pm_spill_task_fn fn;
    void *ctx;
} verify_ctx_t;

static int verify_commit(void *vctx, const pm_spill_commit_t *c, const void *blob)
{
    verify_ctx_t *v = vctx;
    return v->fn ? v->fn(v->ctx, c->task, blob, c->blob_len) : 0;
}

int pm_spill_verify_stream(const char *path, uint32_t n_buckets, uint64_t *valid_end,
                           pm_spill_task_fn fn, void *ctx, pm_error_t *err)
{
    *valid_end = 0;
    scanner_t sc;
    PM_TRY(open_scanner(&sc, path, err));
    scan_out_t out;
    verify_ctx_t v = {fn, ctx};
    int rc = scan_stream(&sc, n_buckets, UINT64_MAX, true, &out, verify_commit, &v, err);
    close_scanner(&sc);
    if (rc == 0)
        *valid_end = out.valid_end;
    free(out.runs);
    return rc;
}

bool pm_spill_image_fix_checksums(unsigned char *image, size_t len)
{
    XXH3_state_t running;
    XXH3_64bits_reset(&running);
    for (size_t off = 0; len - off >= BLOCK_HDR;) {
        pm_spill_block_t b;
        memcpy(&b, image + off, sizeof b);
        if (b.magic != PM_SPILL_BLOCK_MAGIC || b.len > len - off - BLOCK_HDR)
            return false;
        unsigned char *body = image + off + BLOCK_HDR;
        if (b.type == PM_SPILL_RUN) {
            uint64_t d = XXH3_64bits(body, (size_t)b.len);
            XXH3_64bits_update(&running, &b, sizeof b);
            XXH3_64bits_update(&running, &d, sizeof d);
        } else if (b.type == PM_SPILL_COMMIT) {
            pm_spill_commit_t c;
            if (b.len < COMMIT_MIN)
                return false;
            memcpy(&c, body, sizeof c);
            size_t blob_len = (size_t)b.len - COMMIT_MIN;
            c.data_hash = XXH3_64bits_digest(&running);
            memcpy(body, &c, sizeof c);
            XXH3_state_t cs;
            XXH3_64bits_reset(&cs);
            XXH3_64bits_update(&cs, &b, sizeof b);
            XXH3_64bits_update(&cs, body, sizeof c + blob_len);
            uint64_t sum = XXH3_64bits_digest(&cs);
            memcpy(body + sizeof c + blob_len, &sum, sizeof sum);
            XXH3_64bits_update(&running, image + off, (size_t)(BLOCK_HDR + b.len));
        } else {
            XXH3_64bits_update(&running, image + off, (size_t)(BLOCK_HDR + b.len));
        }
        off += (size_t)(BLOCK_HDR + b.len);
    }
    return true;
}

/* ================= the gather's set ================= */

typedef struct set_stream {
    char *path;
    run_info_t *runs;
    uint32_t n_runs;   /* the runs its counting commits cover */
    uint32_t run_base; /* its first run's number in the set */
    uint64_t size;
    int slot; /* in the fd cache, or -1 */
} set_stream_t;

struct pm_spill_set {
    uint32_t n_tasks, n_buckets;
    set_stream_t *streams;
    size_t n_streams;
    uint32_t total_runs;
    /* per task: the counting commit's stream and run window */
    uint32_t *owner, *first_run, *end_run;
    /* fd cache */
    int fds[PM_SPILL_MAX_OPEN];
    uint32_t fd_stream[PM_SPILL_MAX_OPEN];
    uint64_t fd_used[PM_SPILL_MAX_OPEN];
    uint64_t tick;
    uint32_t open_now;
    /* run tables of buckets [idx_first, idx_first + idx_count), one row of
     * idx_count + 1 ranges per run (the first is the previous bucket's) */
    pm_spill_range_t *idx;
    uint32_t idx_first, idx_count, idx_stride;
    /* decoding */
    ZSTD_DCtx *dctx;
    pm_buf_t zin; /* compressed bytes of one range */
    char *vbuf;   /* visit buffer */
    size_t vbuf_cap;
    pm_spill_io_t io;
};

#define NO_OWNER UINT32_MAX

typedef struct open_ctx {
    pm_spill_set_t *set;
    uint32_t stream;
    pm_spill_task_fn fn;
    void *ctx;
    const char *path;
    pm_error_t *err;
} open_ctx_t;

static int take_commit(void *vctx, const pm_spill_commit_t *c, const void *blob)
{
    open_ctx_t *o = vctx;
    pm_spill_set_t *set = o->set;
    if (c->task >= set->n_tasks)
        return pm_error_set(o->err, PM_ESTATE, o->path, 0,
                            "spill commits task %u, the run has %u (stale work directory?)",
                            c->task, set->n_tasks);
    if (set->owner[c->task] != NO_OWNER)
        return 0; /* committed by an earlier stream: that one counts */
    set->owner[c->task] = o->stream;
    set->first_run[c->task] = c->first_run;
    set->end_run[c->task] = c->n_runs;
    return o->fn ? o->fn(o->ctx, c->task, blob, c->blob_len) : 0;
}

void pm_spill_set_close(pm_spill_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n_streams; i++) {
        free(set->streams[i].path);
        free(set->streams[i].runs);
    }
    for (int k = 0; k < PM_SPILL_MAX_OPEN; k++)
        if (set->fds[k] >= 0)
            close(set->fds[k]);
    free(set->streams);
    free(set->owner);
    free(set->first_run);
    free(set->end_run);
    free(set->idx);
    ZSTD_freeDCtx(set->dctx);
    pm_buf_free(&set->zin);
    free(set->vbuf);
    free(set);
}

int pm_spill_set_open(pm_spill_set_t **out, const char *dir, const pm_spill_stream_id_t *ids,
                      size_t n, uint32_t n_tasks, uint32_t n_buckets, pm_spill_task_fn fn,
                      void *ctx, pm_error_t *err)
{
    *out = NULL;
    pm_spill_set_t *set = calloc(1, sizeof *set);
    if (!set)
        return pm_error_nomem(err);
    for (int k = 0; k < PM_SPILL_MAX_OPEN; k++)
        set->fds[k] = -1;
    set->n_tasks = n_tasks;
    set->n_buckets = n_buckets;
    set->streams = calloc(n + 1, sizeof *set->streams);
    set->owner = malloc(((size_t)n_tasks + 1) * sizeof *set->owner);
    set->first_run = calloc((size_t)n_tasks + 1, sizeof *set->first_run);
    set->end_run = calloc((size_t)n_tasks + 1, sizeof *set->end_run);
    if (!set->streams || !set->owner || !set->first_run || !set->end_run) {
        pm_spill_set_close(set);
        return pm_error_nomem(err);
    }
    for (uint32_t t = 0; t < n_tasks; t++)
        set->owner[t] = NO_OWNER;
    set->n_streams = n;
    pm_buf_t path;
    pm_buf_init(&path);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        set_stream_t *st = &set->streams[i];
        st->slot = -1;
        if (pm_spill_stream_path(&path, dir, ids[i].attempt, ids[i].rank) < 0 ||
            !(st->path = strdup(path.data))) {
            rc = pm_error_nomem(err);
            break;
        }
        scanner_t sc;
        if ((rc = open_scanner(&sc, st->path, err)) < 0)
            break;
        set->io.opens++;
        sc.reads = &set->io.reads;
        sc.read_bytes = &set->io.read_bytes;
        scan_out_t so;
        open_ctx_t oc = {set, (uint32_t)i, fn, ctx, st->path, err};
        rc = scan_stream(&sc, n_buckets, ids[i].valid_end, false, &so, take_commit, &oc, err);
        st->size = sc.size;
        close_scanner(&sc);
        if (rc < 0)
            break;
        st->runs = so.runs;
        st->n_runs = so.valid_runs; /* runs after the last commit hold nothing committed */
        st->run_base = set->total_runs;
        set->total_runs += st->n_runs;
        set->io.disk_bytes += st->size;
    }
    pm_buf_free(&path);
    set->io.streams = n;
    set->io.runs = set->total_runs;
    if (rc < 0) {
        pm_spill_set_close(set);
        return rc;
    }
    *out = set;
    return 0;
}

bool pm_spill_set_has_task(const pm_spill_set_t *set, uint32_t task)
{
    return task < set->n_tasks && set->owner[task] != NO_OWNER;
}

void pm_spill_set_io(const pm_spill_set_t *set, pm_spill_io_t *io) { *io = set->io; }

/* The fd of stream s, opening it (and closing the least recently used
 * one) when it is not open. */
static int stream_fd(pm_spill_set_t *set, uint32_t s, int *fd, pm_error_t *err)
{
    set_stream_t *st = &set->streams[s];
    set->tick++;
    if (st->slot >= 0) {
        set->fd_used[st->slot] = set->tick;
        *fd = set->fds[st->slot];
        return 0;
    }
    int slot = -1;
    for (int k = 0; k < PM_SPILL_MAX_OPEN; k++) {
        if (set->fds[k] < 0) {
            slot = k;
            break;
        }
        if (slot < 0 || set->fd_used[k] < set->fd_used[slot])
            slot = k;
    }
    if (set->fds[slot] >= 0) {
        close(set->fds[slot]);
        set->streams[set->fd_stream[slot]].slot = -1;
        set->fds[slot] = -1;
        set->open_now--;
    }
    int f = open(st->path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return pm_error_set(err, PM_EIO, st->path, 0, "cannot open spill stream: %s",
                            strerror(errno));
    set->io.opens++;
    set->fds[slot] = f;
    set->fd_stream[slot] = s;
    set->fd_used[slot] = set->tick;
    st->slot = slot;
    if (++set->open_now > set->io.max_open)
        set->io.max_open = set->open_now;
    *fd = f;
    return 0;
}

static int set_pread(pm_spill_set_t *set, uint32_t s, void *dst, size_t n, uint64_t off,
                     pm_error_t *err)
{
    int fd = -1;
    PM_TRY(stream_fd(set, s, &fd, err));
    set->io.reads++;
    set->io.read_bytes += n;
    return pm_pread_all(fd, dst, n, off, set->streams[s].path, err);
}

/* Make the run tables of bucket b available: a chunk of buckets from b on,
 * one pread per run, as many buckets as INDEX_CHUNK_BYTES allows. */
static int load_index(pm_spill_set_t *set, uint32_t b, pm_error_t *err)
{
    if (set->idx && b >= set->idx_first && b < set->idx_first + set->idx_count)
        return 0;
    uint64_t per_bucket = (uint64_t)(set->total_runs ? set->total_runs : 1) * 24;
    uint64_t count = INDEX_CHUNK_BYTES / per_bucket;
    if (count < 1)
        count = 1;
    if (count > set->n_buckets - b)
        count = set->n_buckets - b;
    free(set->idx);
    set->idx = malloc((size_t)(count + 1) * (set->total_runs + 1) * sizeof *set->idx);
    set->idx_first = b;
    set->idx_count = 0; /* set once every row is read and checked */
    set->idx_stride = (uint32_t)count + 1;
    if (!set->idx)
        return pm_error_nomem(err);
    for (uint32_t s = 0; s < set->n_streams; s++) {
        const set_stream_t *st = &set->streams[s];
        for (uint32_t k = 0; k < st->n_runs; k++) {
            pm_spill_range_t *row = set->idx + (size_t)(st->run_base + k) * (count + 1);
            const run_info_t *ri = &st->runs[k];
            if (b == 0) {
                memset(row, 0, sizeof *row);
                PM_TRY(set_pread(set, s, row + 1, (size_t)count * sizeof *row, ri->index_pos, err));
            } else {
                PM_TRY(set_pread(set, s, row, (size_t)(count + 1) * sizeof *row,
                                 ri->index_pos + (uint64_t)(b - 1) * sizeof *row, err));
            }
            uint64_t data_len = ri->index_pos - ri->data_pos;
            for (uint64_t i = 1; i <= count; i++) {
                uint64_t len = row[i].end - row[i - 1].end;
                /* zstd expands 4 bytes (an RLE block) to 128 KiB at most:
                 * a larger raw size is a damaged table, not a reason to
                 * allocate it. */
                if (row[i].end < row[i - 1].end || row[i].end > data_len ||
                    (ri->codec == PM_SPILL_CODEC_RAW ? row[i].raw != len
                                                     : row[i].raw / 32768 > len + 1)) {
                    return pm_error_set(err, PM_EIO, st->path, 0, "damaged spill run table");
                }
            }
        }
    }
    set->idx_count = (uint32_t)count;
    return 0;
}

/* The range of bucket b in run k of stream s: file offset, stored length and
 * raw length. */
static const pm_spill_range_t *bucket_range(pm_spill_set_t *set, uint32_t s, uint32_t k, uint32_t b,
                                            uint64_t *start, uint64_t *len)
{
    const set_stream_t *st = &set->streams[s];
    const pm_spill_range_t *row =
        set->idx + (size_t)(st->run_base + k) * set->idx_stride + (b - set->idx_first);
    *start = st->runs[k].data_pos + row[0].end;
    *len = row[1].end - row[0].end;
    return &row[1];
}

int pm_spill_set_add_totals(pm_spill_set_t *set, size_t first, size_t step, uint64_t *records,
                            uint64_t *bytes, pm_error_t *err)
{
    size_t chunk_n = 4096;
    pm_spill_range_t *chunk = malloc(chunk_n * sizeof *chunk);
    if (!chunk)
        return pm_error_nomem(err);
    int rc = 0;
    for (size_t s = first; s < set->n_streams && rc == 0; s += step) {
        const set_stream_t *st = &set->streams[s];
        for (uint32_t k = 0; k < st->n_runs && rc == 0; k++) {
            for (uint32_t b = 0; b < set->n_buckets && rc == 0;) {
                uint32_t n = set->n_buckets - b < chunk_n ? set->n_buckets - b : (uint32_t)chunk_n;
                rc = set_pread(set, (uint32_t)s, chunk, n * sizeof *chunk,
                               st->runs[k].index_pos + (uint64_t)b * sizeof *chunk, err);
                for (uint32_t i = 0; rc == 0 && i < n; i++) {
                    records[b + i] += chunk[i].records;
                    bytes[b + i] += chunk[i].raw;
                }
                b += n;
            }
        }
        if (step == 0)
            break;
    }
    free(chunk);
    return rc;
}

/* Is the record of task t, read from run k of stream s, committed? */
static inline bool rec_counts(const pm_spill_set_t *set, uint32_t s, uint32_t k, uint32_t t)
{
    return set->owner[t] == s && k >= set->first_run[t] && k < set->end_run[t];
}

/* Append range [start, start + len) of run k, raw bytes once decoded, to
 * out. A zstd range is decoded into a buffer grown as output comes, so a
 * damaged size never makes it allocate more than the data gives. */
static int append_range(pm_spill_set_t *set, uint32_t s, uint32_t k, uint64_t start, uint64_t len,
                        uint64_t raw, pm_buf_t *out, pm_error_t *err)
{
    const set_stream_t *st = &set->streams[s];
    if (raw > SIZE_MAX / 2 || len > SIZE_MAX / 2)
        return pm_error_nomem(err);
    if (st->runs[k].codec == PM_SPILL_CODEC_RAW) {
        if (pm_buf_reserve(out, (size_t)raw) < 0)
            return pm_error_nomem(err);
        PM_TRY(set_pread(set, s, out->data + out->len, (size_t)len, start, err));
        out->len += (size_t)len;
        return 0;
    }
    pm_buf_reset(&set->zin);
    if (pm_buf_reserve(&set->zin, (size_t)len) < 0)
        return pm_error_nomem(err);
    PM_TRY(set_pread(set, s, set->zin.data, (size_t)len, start, err));
    if (!set->dctx && !(set->dctx = ZSTD_createDCtx()))
        return pm_error_nomem(err);
    ZSTD_DCtx_reset(set->dctx, ZSTD_reset_session_only);
    ZSTD_inBuffer in = {set->zin.data, (size_t)len, 0};
    size_t base = out->len, produced = 0, left = 1;
    while (produced < raw && left != 0) {
        size_t step = (size_t)raw - produced;
        size_t cap = produced > READ_BUF_BYTES ? produced : READ_BUF_BYTES;
        if (step > cap)
            step = cap;
        if (pm_buf_reserve(out, produced + step - (out->len - base)) < 0)
            return pm_error_nomem(err);
        ZSTD_outBuffer o = {out->data + base + produced, step, 0};
        left = ZSTD_decompressStream(set->dctx, &o, &in);
        if (ZSTD_isError(left))
            return pm_error_set(err, PM_EIO, st->path, 0, "damaged spill data (%s)",
                                ZSTD_getErrorName(left));
        produced += o.pos;
        out->len = base + produced;
        if (o.pos == 0 && in.pos == in.size)
            break;
    }
    if (produced != raw || left != 0)
        return pm_error_set(err, PM_EIO, st->path, 0, "damaged spill data (size)");
    /* The compressed copy is at most a range: give back a big one. */
    if (set->zin.cap > READ_BUF_BYTES * 4)
        pm_buf_free(&set->zin);
    return 0;
}

int pm_spill_set_append_bucket(pm_spill_set_t *set, uint32_t bucket, pm_buf_t *out, pm_error_t *err)
{
    if (bucket >= set->n_buckets)
        return pm_error_set(err, PM_EINTERNAL, NULL, 0, "bucket %u out of range", bucket);
    PM_TRY(load_index(set, bucket, err));
    for (uint32_t s = 0; s < set->n_streams; s++) {
        for (uint32_t k = 0; k < set->streams[s].n_runs; k++) {
            uint64_t start, len;
            const pm_spill_range_t *r = bucket_range(set, s, k, bucket, &start, &len);
            if (r->raw == 0)
                continue;
            size_t base = out->len;
            PM_TRY(append_range(set, s, k, start, len, r->raw, out, err));
            /* Keep only committed records (a killed rank's partial task, a
             * task committed by an earlier stream): compact in place. */
            size_t w = base, end = base + (size_t)r->raw;
            for (size_t p = base; p < end;) {
                pm_spill_rec_t rec;
                if (end - p < PM_SPILL_REC_HEADER)
                    return pm_error_set(err, PM_EIO, set->streams[s].path, 0,
                                        "damaged spill: record cut short");
                memcpy(&rec, out->data + p, sizeof rec);
                uint64_t size = PM_SPILL_REC_HEADER + (uint64_t)rec.text_len + rec.meta_len;
                if (size > end - p || rec.file >= set->n_tasks)
                    return pm_error_set(err, PM_EIO, set->streams[s].path, 0,
                                        "damaged spill record");
                if (rec_counts(set, s, k, rec.file)) {
                    if (w != p)
                        memmove(out->data + w, out->data + p, (size_t)size);
                    w += (size_t)size;
                }
                p += (size_t)size;
            }
            out->len = w;
        }
    }
    return 0;
}

/* Streams the decoded bytes of one range through set->vbuf. */
typedef struct cursor {
    pm_spill_set_t *set;
    uint32_t s;
    bool z;
    uint64_t pos, end; /* file offsets still to read */
    size_t have, at;   /* decoded bytes in vbuf, cursor */
    ZSTD_inBuffer in;
} cursor_t;

/* Make n decoded bytes available at vbuf + at. false in *short_read when the
 * range ends first. */
static int cursor_need(cursor_t *c, size_t n, bool *short_read, pm_error_t *err)
{
    pm_spill_set_t *set = c->set;
    *short_read = false;
    if (c->have - c->at >= n)
        return 0;
    memmove(set->vbuf, set->vbuf + c->at, c->have - c->at);
    c->have -= c->at;
    c->at = 0;
    if (n > set->vbuf_cap) { /* a record larger than the buffer */
        char *b = realloc(set->vbuf, n);
        if (!b)
            return pm_error_nomem(err);
        set->vbuf = b;
        set->vbuf_cap = n;
    }
    while (c->have < n) {
        if (!c->z) {
            if (c->pos >= c->end)
                break;
            size_t want = set->vbuf_cap - c->have;
            if (want > c->end - c->pos)
                want = (size_t)(c->end - c->pos);
            PM_TRY(set_pread(set, c->s, set->vbuf + c->have, want, c->pos, err));
            c->pos += want;
            c->have += want;
            continue;
        }
        bool input_left = c->in.pos < c->in.size || c->pos < c->end;
        if (c->in.pos == c->in.size && c->pos < c->end) {
            size_t want =
                c->end - c->pos < READ_BUF_BYTES ? (size_t)(c->end - c->pos) : READ_BUF_BYTES;
            pm_buf_reset(&set->zin);
            if (pm_buf_reserve(&set->zin, want) < 0)
                return pm_error_nomem(err);
            PM_TRY(set_pread(set, c->s, set->zin.data, want, c->pos, err));
            c->pos += want;
            c->in = (ZSTD_inBuffer){set->zin.data, want, 0};
        }
        ZSTD_outBuffer o = {set->vbuf, set->vbuf_cap, c->have};
        size_t r = ZSTD_decompressStream(set->dctx, &o, &c->in);
        if (ZSTD_isError(r))
            return pm_error_set(err, PM_EIO, set->streams[c->s].path, 0, "damaged spill data (%s)",
                                ZSTD_getErrorName(r));
        if (o.pos == c->have && !input_left)
            break; /* the decoder has nothing more to give */
        c->have = o.pos;
    }
    if (c->have < n)
        *short_read = true;
    return 0;
}

int pm_spill_set_visit(pm_spill_set_t *set, uint32_t bucket, uint64_t lo, uint64_t hi,
                       pm_spill_visit_fn fn, void *ctx, pm_error_t *err)
{
    if (bucket >= set->n_buckets)
        return pm_error_set(err, PM_EINTERNAL, NULL, 0, "bucket %u out of range", bucket);
    PM_TRY(load_index(set, bucket, err));
    int rc = 0;
    for (uint32_t s = 0; s < set->n_streams && rc == 0; s++) {
        for (uint32_t k = 0; k < set->streams[s].n_runs && rc == 0; k++) {
            uint64_t start, len;
            const pm_spill_range_t *r = bucket_range(set, s, k, bucket, &start, &len);
            if (r->raw == 0)
                continue;
            cursor_t c = {set,   s,           set->streams[s].runs[k].codec == PM_SPILL_CODEC_ZSTD,
                          start, start + len, 0,
                          0,     {NULL, 0, 0}};
            if (c.z) {
                if (!set->dctx && !(set->dctx = ZSTD_createDCtx()))
                    return pm_error_nomem(err);
                ZSTD_DCtx_reset(set->dctx, ZSTD_reset_session_only);
            }
            /* Sized to the range: small buckets cost little. */
            size_t cap = r->raw < READ_BUF_BYTES ? (size_t)r->raw : READ_BUF_BYTES;
            if (cap < PM_SPILL_REC_HEADER)
                cap = PM_SPILL_REC_HEADER;
            if (cap > set->vbuf_cap) {
                char *b = realloc(set->vbuf, cap);
                if (!b)
                    return pm_error_nomem(err);
                set->vbuf = b;
                set->vbuf_cap = cap;
            }
            for (uint64_t done = 0; rc == 0 && done < r->raw;) {
                bool cut;
                if ((rc = cursor_need(&c, PM_SPILL_REC_HEADER, &cut, err)) < 0)
                    break;
                if (cut) {
                    rc = pm_error_set(err, PM_EIO, set->streams[s].path, 0,
                                      "damaged spill: record cut short");
                    break;
                }
                pm_spill_rec_t rec;
                memcpy(&rec, set->vbuf + c.at, sizeof rec);
                uint64_t size = PM_SPILL_REC_HEADER + (uint64_t)rec.text_len + rec.meta_len;
                if (size > r->raw - done || rec.file >= set->n_tasks) {
                    rc = pm_error_set(err, PM_EIO, set->streams[s].path, 0, "damaged spill record");
                    break;
                }
                bool want = rec.key >= lo && rec.key <= hi && rec_counts(set, s, k, rec.file);
                if (!want && !c.z && c.have - c.at < size) {
                    /* skip past the buffer without reading */
                    c.pos += size - (c.have - c.at);
                    c.have = c.at = 0;
                    done += size;
                    continue;
                }
                if ((rc = cursor_need(&c, (size_t)size, &cut, err)) < 0)
                    break;
                if (cut) {
                    rc = pm_error_set(err, PM_EIO, set->streams[s].path, 0,
                                      "damaged spill: record cut short");
                    break;
                }
                const char *payload = set->vbuf + c.at + PM_SPILL_REC_HEADER;
                c.at += (size_t)size;
                done += size;
                if (want)
                    rc = fn(ctx, &rec, payload, payload + rec.text_len);
            }
        }
    }
    /* Released after each visit: a record far larger than the usual ones
     * must not stay pinned. */
    if (set->vbuf_cap > READ_BUF_BYTES) {
        free(set->vbuf);
        set->vbuf = NULL;
        set->vbuf_cap = 0;
    }
    return rc;
}
