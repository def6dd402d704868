/* Exact dedup: the decision for one dedup bucket (dedup.h). */
#include "pilemix/dedup.h"

#include <stdlib.h>
#include <string.h>

int pm_dedup_cmp_identity(const pm_job_t *job, const pm_dedup_doc_t *a, const pm_dedup_doc_t *b)
{
    if (a->file != b->file || a->member != b->member) {
        int r = a->file == b->file ? 0
                                   : strcmp(pm_job_file_component(job, a->file),
                                            pm_job_file_component(job, b->file));
        if (r)
            return r;
        r = pm_job_cmp_identity_path(job, a->file, a->member, b->file, b->member);
        if (r)
            return r;
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
