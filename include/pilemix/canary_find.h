/* `pilemix canary`: re-derive a dataset's canaries from the secret and find
 * them in its train files (canary.h). No list is needed: the manifest says
 * how many canaries there are and over how many components and shards, the
 * secret gives their texts and keys, the key gives the shard; the shard is
 * read line by line and a canary is recognised by its exact text. */
#ifndef PILEMIX_CANARY_FIND_H
#define PILEMIX_CANARY_FIND_H

#include "pilemix/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pm_canary_hit {
    uint32_t index;
    uint32_t shard;
    char shard_path[64]; /* "train/07.jsonl.zst" */
    bool in_dataset;     /* false: a subset without the shard, or past its partial shard's cut */
    bool found;
    uint64_t line; /* 1-based, when found */
} pm_canary_hit_t;

typedef struct pm_canary_report {
    pm_canary_hit_t *hits; /* by canary index */
    uint32_t n, found, absent_shards;
} pm_canary_report_t;

/* count 0: the manifest's canaries.count. PM_EDATA when the dataset has
 * no canaries (and count is 0) or cannot be read. */
int pm_canary_find(const char *outdir, const char *secret, uint32_t count, pm_canary_report_t *r,
                   pm_error_t *err);
void pm_canary_report_free(pm_canary_report_t *r);

#endif
