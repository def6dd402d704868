/* pm_config_t: a loaded and validated pilemix config (DESIGN 1.2).
 *
 * pm_config_load() parses the JSON with jansson, rejects unknown keys (with a
 * did-you-mean), wrong types, missing required keys and out-of-range values,
 * naming the key path (e.g. "components[2].epochs"). JSON syntax errors carry
 * line and column. ${VAR} in paths and directories expands from the
 * environment (never runs anything; an unset variable is an error);
 * relative paths are made relative to the config file's directory.
 *
 * Every key is one row of the schema table in config.c (config_schema.h):
 * its type, bounds, default, whether it changes the output, the field it
 * fills and its README line. Adding a key is one row plus the code that uses
 * the value; parsing, errors, the canonical form, shipping to other ranks
 * (config_wire.h) and the README's table follow from the row.
 *
 * The canonical form is the config with defaults filled in, keys sorted,
 * compact, *without* the operational keys that cannot change output bytes
 * (run.work_dir, run.mem_per_rank) and with paths as written (before ${VAR}
 * expansion, so moving the data does not change the hash). Its XXH3-64 is the
 * config hash recorded in the manifest and checked on resume, so it must not
 * move for an existing config. The rule that keeps it still:
 *  - keys of format 1 (every key that existed when the schema table was
 *    introduced) always appear, set or not;
 *  - keys added later (format 2, ...) appear only when set to a value other
 *    than their default, so a config that does not use them keeps its hash;
 *  - keys that cannot change the output never appear.
 * tests/unit/test_config_compat.c pins the hashes of existing configs.
 *
 * The config owns every string in it; pm_config_close() frees them all. */
#ifndef PILEMIX_CONFIG_H
#define PILEMIX_CONFIG_H

#include "pilemix/error.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { PM_ON_BAD_FAIL = 0, PM_ON_BAD_SKIP = 1 } pm_on_bad_t;

/* components[].filter (DESIGN 1.7): conditions on the input's meta object,
 * all of which must hold for a document to be kept. */
typedef enum {
    PM_MISSING_DROP = 0, /* default: a document without the field is filtered */
    PM_MISSING_KEEP = 1, /* ... or kept */
} pm_missing_t;

typedef struct pm_filter_cond {
    char *field;   /* dotted path into meta, as written */
    char **path;   /* field split at '.' */
    size_t n_path; /* >= 1 */
    bool has_min, has_max;
    double min, max; /* numeric tests, inclusive */
    char **in;       /* string tests: the value must equal one of these */
    size_t n_in;     /* 0: no string test */
    pm_missing_t missing;
} pm_filter_cond_t;

typedef struct pm_filter {
    pm_filter_cond_t *conds;
    size_t n_conds; /* >= 1 */
} pm_filter_t;
/* run.spill_compression: how spill streams store each (run, bucket) range.
 * Cannot change the output. pm_config_spill_level() gives the zstd level (0:
 * none, -1: zstd's fastest). */
typedef enum {
    PM_SPILL_NONE = 0,
    PM_SPILL_FAST = 1,
    PM_SPILL_ZSTD1 = 2,
    PM_SPILL_ZSTD2 = 3,
    PM_SPILL_ZSTD3 = 4
} pm_spill_comp_t;

static inline int pm_config_spill_level(int spill_compression)
{
    return spill_compression == PM_SPILL_NONE   ? 0
           : spill_compression == PM_SPILL_FAST ? -1
                                                : spill_compression - PM_SPILL_ZSTD1 + 1;
}

typedef struct pm_component_cfg {
    char *name;        /* unique; refused if it has '/', control chars (C0, DEL, C1),
                          * or is "." / ".." / "" */
    char **paths;      /* expanded: ${VAR} substituted, relative-to-config resolved */
    char **raw_paths;  /* as written in the config */
    size_t n_paths;    /* >= 1 */
    double epochs;     /* > 0, <= PM_MAX_EPOCHS; 0 when the component has a share
                       * (until the census turns the share into epochs: see
                       * pm_shares_solve in census.h, after which it holds them) */
    double share;      /* (0,1]: fraction of the train split's text bytes; 0 = none */
    double max_epochs; /* with share: the most epochs the share may need; default 1 */
    char *text_key;    /* default "text": where a JSON object's text is */
    char *meta_key;    /* default "meta" */
    char **exclude;    /* fnmatch(3) globs (FNM_PATHNAME) over identity paths */
    size_t n_exclude;
    pm_filter_t *filter; /* NULL: keep every document (default) */
} pm_component_cfg_t;

/* output.canaries: count documents derived from the secret (canary.h). */
typedef struct pm_canaries_cfg {
    uint32_t count;  /* 1..PM_MAX_CANARIES */
    char *secret;    /* ${VAR} expanded; never in the canonical form, manifest or logs;
                     * NULL when the config gave only secret_digest (a canonical form) */
    char digest[33]; /* keyed XXH3-128 of the secret, hex: what the canonical form holds */
} pm_canaries_cfg_t;

#define PM_MAX_CANARIES 100000
#define PM_MIN_CANARY_SECRET 16 /* bytes: the secret is what keeps canaries unguessable */

typedef enum { PM_DEDUP_NONE = 0, PM_DEDUP_EXACT = 1 } pm_dedup_t;

#define PM_MAX_EPOCHS 1000.0

/* Shares must sum to 1 within this (they are written as decimals). */
#define PM_SHARE_SUM_TOLERANCE 1e-6

typedef struct pm_config {
    char *path;    /* the config file as given */
    char *name;    /* required */
    uint64_t seed; /* default 0; JSON integer >= 0 */
    pm_component_cfg_t *components;
    size_t n_components; /* >= 1 */

    /* "output" */
    char *out_dir;               /* required; resolved */
    char *raw_out_dir;           /* as written (the canonical form holds this) */
    uint32_t train_shards;       /* default 30; 1..100000 */
    double val_fraction;         /* default 0.0; [0,1) */
    double test_fraction;        /* default 0.0; [0,1), val+test < 1 */
    int zstd_level;              /* default 3; 1..19 */
    bool keep_meta;              /* default true */
    pm_dedup_t dedup;            /* default none */
    pm_canaries_cfg_t *canaries; /* NULL: none (default) */
    uint64_t train_bytes;        /* with shares: total train text bytes; 0 = the largest
                                  * total within every component's max_epochs */

    /* "run" (command-line flags override these) */
    char *work_dir;            /* default out_dir + ".work"; resolved */
    uint64_t mem_per_rank;     /* default 2 GiB; size string or integer; >= 16 MiB */
    pm_on_bad_t on_bad_record; /* default fail */
    pm_on_bad_t on_bad_file;   /* default fail; skip: a corrupt, truncated, changed or
                                * unreadable input file found at run time is skipped
                                * whole and listed in the rejects (plan-time faults
                                * always fail) */
    uint64_t max_bad_records;  /* default 1000; the job fails past this many (per job) */
    uint64_t max_record_bytes; /* default 64 MiB; a longer line is a bad record */
    double peer_timeout;       /* default 300 s; a rank silent this long ends the job */
    double max_bad_fraction;   /* default 0.05: the job fails when more of one
                                * component's documents are bad records */
    int spill_compression;     /* pm_spill_comp_t: "none" (default), "fast", "1".."3" */

    char *canonical_json;    /* see above */
    uint64_t canonical_hash; /* XXH3-64 of canonical_json */
} pm_config_t;

/* Load path. On failure returns PM_ECONFIG (or PM_EIO when the file cannot be
 * read, PM_ENOMEM) and fills err; cfg is then left closed (nothing to free). */
int pm_config_load(pm_config_t *cfg, const char *path, pm_error_t *err);

/* Same from a string; origin_path names the file in messages and gives the
 * directory relative paths are resolved against. */
int pm_config_load_string(pm_config_t *cfg, const char *json, const char *origin_path,
                          pm_error_t *err);

void pm_config_close(pm_config_t *cfg); /* accepts a zeroed or closed cfg */

/* Whether the config weighs components by share (then all of them do: a
 * config mixing shares and epochs is refused at load). */
bool pm_config_has_shares(const pm_config_t *cfg);

/* "512M", "2GiB", "64k", "1T", "12345" (bytes). K/M/G/T and KiB.. are powers
 * of 1024; KB/MB/GB/TB are powers of 1000. Case-insensitive. 0 or garbage or
 * overflow -> PM_ECONFIG with no err (callers name the key). */
int pm_size_parse(const char *s, uint64_t *out);

#endif
