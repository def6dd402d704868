/* Find a dataset's canaries (canary_find.h). */
#include "pilemix/canary_find.h"

#include "pilemix/canary.h"
#include "pilemix/fsutil.h"
#include "pilemix/manifest.h"
#include "pilemix/mix.h"
#include "pilemix/zlines.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void pm_canary_report_free(pm_canary_report_t *r)
{
    free(r->hits);
    memset(r, 0, sizeof *r);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Output lines start with {"text": "..." and a canary's text needs no
 * escape, so a canary line starts with exactly this prefix and its text
 * ends at the first quote. */
#define PREFIX "{\"text\": \""

/* Scan one shard for the canaries c->v[first .. first+count). */
static int scan_shard(const char *path, const pm_canaries_t *c, size_t first, size_t count,
                      pm_canary_report_t *r, pm_error_t *err)
{
    pm_zlines_t z;
    int rc = pm_zlines_open(&z, path, err);
    if (rc < 0)
        return rc;
    const char *p;
    size_t n, left = count;
    uint64_t line = 0;
    while (left && (rc = pm_zlines_next(&z, &p, &n, err)) == 1) {
        line++;
        if (n < sizeof PREFIX || memcmp(p, PREFIX, sizeof PREFIX - 1))
            continue;
        const char *t = p + sizeof PREFIX - 1;
        const char *q = memchr(t, '"', n - (sizeof PREFIX - 1));
        if (!q)
            continue;
        size_t len = (size_t)(q - t);
        for (size_t i = first; i < first + count; i++) {
            const pm_canary_t *cn = &c->v[i];
            pm_canary_hit_t *h = &r->hits[cn->index];
            if (!h->found && cn->len == len && !memcmp(cn->text, t, len)) {
                h->found = true;
                h->line = line;
                r->found++;
                left--;
            }
        }
    }
    pm_zlines_close(&z);
    return rc < 0 ? rc : 0;
}

int pm_canary_find(const char *outdir, const char *secret, uint32_t count, pm_canary_report_t *r,
                   pm_error_t *err)
{
    memset(r, 0, sizeof *r);
    json_t *m = pm_manifest_load(outdir, err);
    if (!m)
        return PM_EDATA;
    int rc = 0;
    pm_canaries_t c = {0};
    char *path = NULL;
    json_t *files = json_object_get(m, "files");
    size_t nc = json_array_size(json_object_get(m, "components"));
    json_t *subset = json_object_get(m, "subset");
    /* A subset's shards keep their parent's names and numbers. */
    uint32_t S = 0;
    if (subset) {
        S = (uint32_t)json_integer_value(json_object_get(subset, "train_shards"));
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(files, i, e)
            S += !strcmp(jstr(e, "split"), "train");
    }
    if (!count)
        count =
            (uint32_t)json_integer_value(json_object_get(json_object_get(m, "canaries"), "count"));
    if (!count) {
        rc = pm_error_set(err, PM_EDATA, outdir, 0,
                          "the manifest says this dataset has no canaries (give --count N to "
                          "look for them anyway)");
        goto done;
    }
    if (S == 0 || nc == 0) {
        rc = pm_error_set(err, PM_EDATA, outdir, 0, "the manifest lists no train files");
        goto done;
    }
    if ((rc = pm_canaries_derive(&c, secret, count, nc, err)) < 0)
        goto done;
    if (!(r->hits = calloc(count, sizeof *r->hits))) {
        rc = pm_error_nomem(err);
        goto done;
    }
    r->n = count;
    /* The names as the run wrote them: the width of S - 1. */
    int width = 1;
    for (uint32_t x = S - 1; x >= 10; x /= 10)
        width++;
    size_t i = 0;
    while (i < c.n) {
        uint32_t shard = pm_mix_shard(c.v[i].key, S);
        size_t j = i;
        while (j < c.n && pm_mix_shard(c.v[j].key, S) == shard)
            j++;
        char rel[64];
        snprintf(rel, sizeof rel, "train/%0*u.jsonl.zst", width, shard);
        bool listed = false;
        size_t k;
        json_t *e;
        json_array_foreach(files, k, e)
            listed |= !strcmp(jstr(e, "path"), rel);
        for (size_t t = i; t < j; t++) {
            pm_canary_hit_t *h = &r->hits[c.v[t].index];
            h->index = c.v[t].index;
            h->shard = shard;
            snprintf(h->shard_path, sizeof h->shard_path, "%s", rel);
            h->in_dataset = listed;
        }
        if (listed) {
            free(path);
            if (!(path = pm_path_join(outdir, rel))) {
                rc = pm_error_nomem(err);
                goto done;
            }
            if ((rc = scan_shard(path, &c, i, j - i, r, err)) < 0)
                goto done;
            /* A subset's partial shard holds the first lines only: a canary
             * not there lies past the cut, not missing. */
            const char *cut = json_string_value(
                json_object_get(json_object_get(subset, "partial_shard"), "path"));
            for (size_t t = i; cut && !strcmp(cut, rel) && t < j; t++) {
                pm_canary_hit_t *h = &r->hits[c.v[t].index];
                if (!h->found)
                    h->in_dataset = false;
            }
        } else {
            r->absent_shards++;
        }
        i = j;
    }
done:
    free(path);
    pm_canaries_free(&c);
    json_decref(m);
    if (rc < 0)
        pm_canary_report_free(r);
    return rc;
}
