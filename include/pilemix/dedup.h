/* Exact dedup (DESIGN 1.7, output.dedup "exact"): each distinct text once in
 * the whole mix, before epochs apply.
 *
 * Design. The scatter, besides each document's copies, writes one small
 * digest record per document (after filters; val, test and train alike)
 * into extra spill buckets, the dedup buckets, chosen by the high 64 bits of
 * XXH3-128 of the text: every copy of a text, from any component, file or
 * rank, lands in the same dedup bucket. The dedup phase, between scatter and
 * gather, hands the dedup buckets out like output files; for one bucket it
 * sorts the digests by (digest, identity) and keeps the first of each group
 * (the smallest identity, as the holdout duplicates are chosen). Each other
 * document, a loser, becomes tombstones: a train loser one per copy its
 * epochs gave it (the copies and their keys are recomputed from its
 * identity: pm_mix_copies, pm_mix_train_key), a val/test loser one for its
 * holdout key. A tombstone goes to the output bucket its key selects; the
 * gather drops the records its tombstones name before writing. Counts per
 * component (and per pair of components: whose copy won) travel with the
 * dedup bucket's result.
 *
 * Memory: a dedup bucket holds about budget / PM_DEDUP_REC_BYTES digests;
 * its records are read whole or, past the budget, in digest sub-ranges
 * (every copy of a text has one digest, so a group is never split).
 * Determinism: winners depend on texts and identities only, never on
 * ranks, budget or timing.
 *
 * Texts with equal 128-bit digests are treated as equal: for n distinct
 * texts the chance of any collision is about n^2 / 2^129 (1e-19 for ten
 * billion documents). */
#ifndef PILEMIX_DEDUP_H
#define PILEMIX_DEDUP_H

#include "pilemix/job.h"

#include <stdbool.h>
#include <stdint.h>

/* The payload of a digest record (the spill record's key is the digest's
 * high 64 bits; file, offset, identity as for any record). */
typedef struct pm_dedup_payload {
    uint64_t lo;  /* low 64 bits of XXH3-128(text) */
    uint64_t aux; /* train: the identity's file hash; val/test: the holdout key */
    uint32_t split;
    uint32_t member; /* archive member (0: the file itself) */
} pm_dedup_payload_t;

/* Header plus payload, for sizing the dedup buckets. */
#define PM_DEDUP_REC_BYTES (48 + sizeof(pm_dedup_payload_t))

/* One document as the dedup phase sees it. */
typedef struct pm_dedup_doc {
    uint64_t hi, lo; /* XXH3-128 of the text */
    uint64_t aux;    /* as in the payload */
    uint64_t offset; /* identity */
    uint32_t file;   /* plan file */
    uint32_t member;
    uint32_t split;
} pm_dedup_doc_t;

/* A record the gather must drop: its output bucket and sort identity. */
typedef struct pm_tombstone {
    uint64_t key;
    uint64_t offset;
    uint32_t file, member, copy;
    uint32_t bucket;
} pm_tombstone_t;

/* Counters of a dedup bucket (and, summed, of the run): flat words.
 *   lost[c][s]     documents of component c in split s dropped as duplicates
 *   copies[c]      train copies those train losers would have had
 *   pair[c][w]     documents of c dropped for a copy kept in component w */
typedef struct pm_dedup_counts {
    size_t nc;
    uint64_t *words; /* nc * 3 + nc + nc * nc */
} pm_dedup_counts_t;

static inline size_t pm_dedup_counts_words(size_t nc) { return nc * 3 + nc + nc * nc; }
static inline uint64_t *pm_dedup_lost(const pm_dedup_counts_t *d, size_t c)
{
    return d->words + c * 3;
}
static inline uint64_t *pm_dedup_copies(const pm_dedup_counts_t *d, size_t c)
{
    return d->words + d->nc * 3 + c;
}
static inline uint64_t *pm_dedup_pair(const pm_dedup_counts_t *d, size_t c, size_t w)
{
    return d->words + d->nc * 4 + c * d->nc + w;
}

typedef int (*pm_tombstone_fn)(void *ctx, const pm_tombstone_t *t, pm_error_t *err);

/* Sort docs[0..n) by (digest, identity) in place and emit the tombstones
 * of every loser, counting into counts (added to). */
int pm_dedup_docs(const pm_job_t *job, pm_dedup_doc_t *docs, size_t n, pm_dedup_counts_t *counts,
                  pm_tombstone_fn fn, void *ctx, pm_error_t *err);

/* ---- a dedup bucket's result: WORK/dedup/bucket-NNNNNNN.tomb ---------
 * Its tombstones sorted by (output bucket, key, file, member, offset,
 * copy), a sparse index (one entry per output bucket that has any), its
 * counters and a checksum; written atomically, so a file that is there and
 * checks is a dedup bucket done (a resume skips it). */

/* Sort t[0..n) and write dedup bucket d's result. */
int pm_dedup_save(const pm_job_t *job, uint32_t d, pm_tombstone_t *t, size_t n,
                  const pm_dedup_counts_t *counts, pm_error_t *err);

/* Add dedup bucket d's counters to counts when its result is there and
 * checks (*done), else leave them. */
int pm_dedup_load_counts(const pm_job_t *job, uint32_t d, pm_dedup_counts_t *counts, bool *done,
                         pm_error_t *err);

/* Every dedup bucket's index, for the gather: memory grows with the number
 * of (dedup bucket, output bucket) pairs that hold a tombstone, never with
 * the records. */
typedef struct pm_tomb_index pm_tomb_index_t;
int pm_tomb_index_open(pm_tomb_index_t **out, const pm_job_t *job, pm_error_t *err);
void pm_tomb_index_close(pm_tomb_index_t *x); /* accepts NULL */
/* The tombstones of output bucket b (from every dedup bucket), sorted, in
 * *out (grown, reused by the caller; *n set). */
int pm_tomb_index_bucket(pm_tomb_index_t *x, uint32_t b, pm_tombstone_t **out, size_t *cap,
                         size_t *n, pm_error_t *err);
/* Whether (key, file, member, offset, copy) is among t[0..n) (sorted). */
bool pm_tomb_find(const pm_tombstone_t *t, size_t n, uint64_t key, uint32_t file, uint32_t member,
                  uint64_t offset, uint32_t copy);

/* Identity order of two documents (component name, identity path, offset). */
int pm_dedup_cmp_identity(const pm_job_t *job, const pm_dedup_doc_t *a, const pm_dedup_doc_t *b);

#endif
