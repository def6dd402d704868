/* Exact dedup: the decision for one dedup bucket (dedup.h). */
#include "pilemix/dedup.h"

#include "pilemix/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define TOMB_MAGIC 0x31424d4f544d50ull /* "PMTOMB1" */

int pm_dedup_cmp_identity(const pm_job_t *job, const pm_dedup_doc_t *a, const pm_dedup_doc_t *b)
{
    /* As the gather orders identities (file_order: component name, then
     * identity path; member rank; offset). */
    if (a->file != b->file)
        return job->file_order[a->file] < job->file_order[b->file] ? -1 : 1;
    if (a->member != b->member) {
        uint32_t ra = pm_job_member_rank(job, a->file, a->member),
                 rb = pm_job_member_rank(job, b->file, b->member);
        return ra < rb ? -1 : 1;
    }
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int cmp_docs(const void *pa, const void *pb, void *vjob)
{
    const pm_dedup_doc_t *a = pa, *b = pb;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return pm_dedup_cmp_identity(vjob, a, b);
}

int pm_dedup_docs(const pm_job_t *job, pm_dedup_doc_t *docs, size_t n, pm_dedup_counts_t *counts,
                  pm_tombstone_fn fn, void *ctx, pm_error_t *err)
{
    if (n > 1) /* docs may be NULL when n is 0 */
        qsort_r(docs, n, sizeof *docs, cmp_docs, (void *)job);
    size_t win = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || docs[i].hi != docs[win].hi || docs[i].lo != docs[win].lo) {
            win = i;
            continue;
        }
        const pm_dedup_doc_t *d = &docs[i];
        uint32_t c = job->plan->files[d->file].component;
        uint32_t w = job->plan->files[docs[win].file].component;
        pm_dedup_lost(counts, c)[d->split]++;
        (*pm_dedup_pair(counts, c, w))++;
        pm_tombstone_t t = {0, d->offset, d->file, d->member, 0, 0};
        if (d->split != PM_SPLIT_TRAIN) {
            t.key = d->aux;
            t.bucket = pm_layout_bucket(&job->layout, d->split, t.key);
            PM_TRY(fn(ctx, &t, err));
            continue;
        }
        uint32_t copies =
            pm_mix_copies(&job->mix, d->aux, d->offset, job->cfg->components[c].epochs);
        *pm_dedup_copies(counts, c) += copies;
        for (uint32_t k = 0; k < copies; k++) {
            t.copy = k;
            t.key = pm_mix_train_key(&job->mix, d->aux, d->offset, k);
            t.bucket = pm_layout_bucket(&job->layout, PM_SPLIT_TRAIN, t.key);
            PM_TRY(fn(ctx, &t, err));
        }
    }
    return 0;
}

static int cmp_tomb(const void *pa, const void *pb)
{
    const pm_tombstone_t *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
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

static int tomb_path(const pm_job_t *job, uint32_t d, pm_buf_t *out)
{
    pm_buf_reset(out);
    return pm_buf_printf(out, "%s/dedup/bucket-%07u.tomb", job->cfg->work_dir, d);
}

/* File: magic, n_tombs, n_index, n_count_words; tombstones; index entries
 * (bucket, first, count as 3 x u64); counter words; XXH3-64 of all before. */
int pm_dedup_save(const pm_job_t *job, uint32_t d, pm_tombstone_t *t, size_t n,
                  const pm_dedup_counts_t *counts, pm_error_t *err)
{
    if (n > 1)
        qsort(t, n, sizeof *t, cmp_tomb);
    pm_buf_t data, path, dir;
    pm_buf_init(&data);
    pm_buf_init(&path);
    pm_buf_init(&dir);
    int rc = 0;
    size_t n_index = 0;
    for (size_t i = 0; i < n; i++)
        n_index += i == 0 || t[i].bucket != t[i - 1].bucket;
    uint64_t hdr[4] = {TOMB_MAGIC, n, n_index, pm_dedup_counts_words(counts->nc)};
    if (pm_buf_append(&data, hdr, sizeof hdr) < 0 || pm_buf_append(&data, t, n * sizeof *t) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && t[j].bucket == t[i].bucket)
            j++;
        uint64_t e[3] = {t[i].bucket, i, j - i};
        if (pm_buf_append(&data, e, sizeof e) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
        i = j;
    }
    if (pm_buf_append(&data, counts->words, hdr[3] * sizeof(uint64_t)) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    uint64_t sum = XXH3_64bits(data.data, data.len);
    if (pm_buf_append(&data, &sum, sizeof sum) < 0 ||
        pm_buf_printf(&dir, "%s/dedup", job->cfg->work_dir) < 0 || tomb_path(job, d, &path) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if ((rc = pm_mkdir_p(dir.data, err)) < 0)
        goto done;
    rc = pm_write_file_atomic(path.data, data.data, data.len, err);
done:
    pm_buf_free(&data);
    pm_buf_free(&path);
    pm_buf_free(&dir);
    return rc;
}

/* Read and check dedup bucket d's file: 1 when it is there and checks. */
static int load_file(const pm_job_t *job, uint32_t d, pm_buf_t *data, uint64_t hdr[4],
                     pm_error_t *err)
{
    pm_buf_t path;
    pm_buf_init(&path);
    int rc = tomb_path(job, d, &path) < 0 ? pm_error_nomem(err) : 0;
    if (rc == 0 && pm_path_exists(path.data))
        rc = pm_read_file(path.data, data, err);
    else if (rc == 0)
        rc = -1000;
    pm_buf_free(&path);
    if (rc == -1000)
        return 0;
    if (rc < 0)
        return rc;
    if (data->len < 4 * 8 + 8)
        return 0;
    memcpy(hdr, data->data, 4 * 8);
    uint64_t sum;
    memcpy(&sum, data->data + data->len - 8, 8);
    size_t want = 4 * 8 + hdr[1] * sizeof(pm_tombstone_t) + hdr[2] * 24 + hdr[3] * 8 + 8;
    if (hdr[0] != TOMB_MAGIC || hdr[3] != pm_dedup_counts_words(job->cfg->n_components) ||
        data->len != want || XXH3_64bits(data->data, data->len - 8) != sum)
        return 0; /* damaged: redo the dedup bucket */
    return 1;
}

int pm_dedup_load_counts(const pm_job_t *job, uint32_t d, pm_dedup_counts_t *counts, bool *done,
                         pm_error_t *err)
{
    *done = false;
    pm_buf_t data;
    pm_buf_init(&data);
    uint64_t hdr[4];
    int rc = load_file(job, d, &data, hdr, err);
    if (rc == 1) {
        const char *w = data.data + data.len - 8 - hdr[3] * 8;
        for (size_t i = 0; i < hdr[3]; i++) {
            uint64_t v;
            memcpy(&v, w + i * 8, 8);
            counts->words[i] += v;
        }
        *done = true;
        rc = 0;
    }
    pm_buf_free(&data);
    return rc;
}

typedef struct tomb_ref {
    uint32_t bucket, dfile;
    uint64_t offset, count; /* byte offset of its first tombstone in the file */
} tomb_ref_t;

struct pm_tomb_index {
    const pm_job_t *job;
    tomb_ref_t *refs; /* sorted by bucket */
    size_t n;
    int *fds; /* per dedup bucket, opened lazily */
};

static int cmp_ref(const void *pa, const void *pb)
{
    const tomb_ref_t *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    return a->dfile < b->dfile ? -1 : a->dfile > b->dfile;
}

void pm_tomb_index_close(pm_tomb_index_t *x)
{
    if (!x)
        return;
    for (uint32_t d = 0; x->fds && d < x->job->layout.dedup_buckets; d++)
        if (x->fds[d] >= 0)
            close(x->fds[d]);
    free(x->fds);
    free(x->refs);
    free(x);
}

int pm_tomb_index_open(pm_tomb_index_t **out, const pm_job_t *job, pm_error_t *err)
{
    *out = NULL;
    uint32_t nd = job->layout.dedup_buckets;
    pm_tomb_index_t *x = calloc(1, sizeof *x);
    if (!x || !(x->fds = malloc((nd + 1) * sizeof *x->fds))) {
        free(x);
        return pm_error_nomem(err);
    }
    x->job = job;
    for (uint32_t d = 0; d < nd; d++)
        x->fds[d] = -1;
    size_t cap = 0;
    pm_buf_t data;
    pm_buf_init(&data);
    int rc = 0;
    for (uint32_t d = 0; d < nd && rc == 0; d++) {
        uint64_t hdr[4];
        pm_buf_reset(&data);
        rc = load_file(job, d, &data, hdr, err);
        if (rc == 0)
            rc = pm_error_set(err, PM_ESTATE, NULL, 0,
                              "dedup bucket %u has no result in %s/dedup (removed, or not "
                              "visible from this rank?)",
                              d, job->cfg->work_dir);
        if (rc < 0)
            break;
        rc = 0;
        const char *ix = data.data + 32 + hdr[1] * sizeof(pm_tombstone_t);
        for (uint64_t i = 0; i < hdr[2]; i++) {
            uint64_t e[3];
            memcpy(e, ix + i * 24, 24);
            if (x->n == cap) {
                cap = cap ? cap * 2 : 1024;
                tomb_ref_t *r = realloc(x->refs, cap * sizeof *r);
                if (!r) {
                    rc = pm_error_nomem(err);
                    break;
                }
                x->refs = r;
            }
            x->refs[x->n++] =
                (tomb_ref_t){(uint32_t)e[0], d, 32 + e[1] * sizeof(pm_tombstone_t), e[2]};
        }
    }
    pm_buf_free(&data);
    if (rc < 0) {
        pm_tomb_index_close(x);
        return rc;
    }
    if (x->n > 1)
        qsort(x->refs, x->n, sizeof *x->refs, cmp_ref);
    *out = x;
    return 0;
}

int pm_tomb_index_bucket(pm_tomb_index_t *x, uint32_t b, pm_tombstone_t **out, size_t *cap,
                         size_t *n, pm_error_t *err)
{
    *n = 0;
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->refs[mid].bucket < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    pm_buf_t path;
    pm_buf_init(&path);
    int rc = 0;
    for (size_t i = lo; i < x->n && x->refs[i].bucket == b && rc == 0; i++) {
        const tomb_ref_t *r = &x->refs[i];
        if (*n + r->count > *cap) {
            size_t nc = (*n + r->count) * 2;
            pm_tombstone_t *t = realloc(*out, nc * sizeof *t);
            if (!t) {
                rc = pm_error_nomem(err);
                break;
            }
            *out = t;
            *cap = nc;
        }
        if (x->fds[r->dfile] < 0) {
            if (tomb_path(x->job, r->dfile, &path) < 0) {
                rc = pm_error_nomem(err);
                break;
            }
            x->fds[r->dfile] = open(path.data, O_RDONLY | O_CLOEXEC);
            if (x->fds[r->dfile] < 0) {
                rc = pm_error_set(err, PM_EIO, path.data, 0, "cannot open: %s", strerror(errno));
                break;
            }
        }
        rc = pm_pread_all(x->fds[r->dfile], *out + *n, r->count * sizeof(pm_tombstone_t), r->offset,
                          "dedup result", err);
        *n += r->count;
    }
    pm_buf_free(&path);
    if (rc == 0 && *n > 1)
        qsort(*out, *n, sizeof **out, cmp_tomb);
    return rc;
}

bool pm_tomb_find(const pm_tombstone_t *t, size_t n, uint64_t key, uint32_t file, uint32_t member,
                  uint64_t offset, uint32_t copy)
{
    if (!n)
        return false;
    pm_tombstone_t want = {key, offset, file, member, copy, t[0].bucket};
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_tomb(&t[mid], &want);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
