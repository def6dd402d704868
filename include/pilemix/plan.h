/* pm_plan_t: the expanded input file list of a config, one task per file.
 *
 * pm_plan_build() expands every component's paths: a file stands for itself, a
 * directory for its supported files (recursively, sorted by name), a glob
 * (glob(3), no brace expansion) for its matches. Supported inputs are
 * `.jsonl.zst` and `.jsonl`. A path that matches nothing, a directory with no
 * supported files, a broken symlink, an unreadable entry or an input whose
 * path is not valid UTF-8 is a config error naming the component and the
 * path (bytes that are not UTF-8 shown as \xHH).
 *
 * Each file gets its identity path (DESIGN 1.3): the path relative to the
 * pattern's non-glob prefix (for a directory: relative to the directory; for
 * a plain file: its basename). Two files of one component with the same
 * identity path are a config error. Files are ordered by component (config
 * order), then identity path (bytewise); a file's index in that order is its
 * task id everywhere (spill names, messages, resume).
 *
 * The plan can be serialized to JSON so rank 0 can broadcast it. */
#ifndef PILEMIX_PLAN_H
#define PILEMIX_PLAN_H

#include "pilemix/config.h"
#include "pilemix/error.h"
#include "pilemix/reader.h"

#include <stdint.h>
#include <stdio.h>

typedef struct pm_input_file {
    char *path;         /* path to open (as expanded; may be relative to cwd) */
    char *relpath;      /* identity path */
    uint32_t component; /* index into config components */
    pm_format_t format;
    uint64_t size;    /* bytes on disk (compressed for .zst) */
    int64_t mtime_ns; /* modification time, ns since the epoch */
} pm_input_file_t;

typedef struct pm_plan {
    pm_input_file_t *files;
    size_t n_files;
} pm_plan_t;

int pm_plan_build(pm_plan_t *plan, const pm_config_t *cfg, pm_error_t *err);
void pm_plan_close(pm_plan_t *plan); /* accepts zeroed */

/* The Pile-paper-style mix table: component, files, size on disk (marked
 * compressed where it is), epochs, effective size (size x epochs), share of
 * the mix (by effective size). Mean document size needs the data read, so
 * `plan` prints it only for what it can know cheaply (see plan.c); the run's
 * summary table has the exact figures. */
void pm_plan_print_table(const pm_plan_t *plan, const pm_config_t *cfg, FILE *out);

/* Serialize (all fields) into a malloc'd JSON string in *out / restore. */
int pm_plan_to_json(const pm_plan_t *plan, char **out, pm_error_t *err);
int pm_plan_from_json(pm_plan_t *plan, const char *json, pm_error_t *err);

#endif
