/* Input formats (DESIGN 1.4): what a file or archive member holds, by its name.
 *
 * A format is a codec (stream.h: none, zstd, gzip, xz, bzip2) and a content:
 * JSON lines, one JSON array of documents (lm_dataformat's .json.zst), one
 * whole text, or an archive whose members are read by their own names with
 * this same table. The table lives in the formats layer so the plan (mix
 * layer) classifies names with the readers' own rules. */
#ifndef PILEMIX_FORMAT_H
#define PILEMIX_FORMAT_H

#include "pilemix/stream.h"

#include <stdbool.h>

/* Values 0 and 1 are fixed (older plans and states name them by string,
 * but keep them anyway). */
typedef enum {
    PM_FORMAT_JSONL = 0,
    PM_FORMAT_JSONL_ZST = 1,
    PM_FORMAT_JSONL_GZ,
    PM_FORMAT_JSONL_XZ,
    PM_FORMAT_JSONL_BZ2,
    PM_FORMAT_JSON_GZ,  /* lm_dataformat / Dolma: JSON lines (objects or strings) */
    PM_FORMAT_JSON_ZST, /* lm_dataformat: one JSON array of strings */
    PM_FORMAT_TAR,      /* .tar, .jsonl.zst.tar */
    PM_FORMAT_TAR_GZ,   /* .tar.gz, .tgz */
    PM_FORMAT_ZIP,
    PM_FORMAT_TXT,
    PM_FORMAT_TXT_GZ,
    PM_FORMAT_TXT_ZST,
    PM_FORMAT_COUNT
} pm_format_t;

typedef enum {
    PM_CONTENT_LINES,   /* JSON lines: a document per line */
    PM_CONTENT_ARRAY,   /* one JSON array: a document per element */
    PM_CONTENT_TEXT,    /* the whole stream is one document */
    PM_CONTENT_ARCHIVE, /* tar or zip: members, each by its own name */
} pm_content_t;

/* Format of a file name by its suffix (the longest that matches); -1 when
 * unsupported. */
int pm_format_from_name(const char *name);

/* "jsonl.zst", "tar", ...: the suffix without its dot, as plans and
 * messages name formats; and back (-1 when unknown). */
const char *pm_format_name(pm_format_t f);
int pm_format_from_string(const char *s);

pm_codec_t pm_format_codec(pm_format_t f);
pm_content_t pm_format_content(pm_format_t f);

/* Whether on-disk bytes understate the text (compressed, or an archive
 * that may hold compressed members). */
bool pm_format_compressed(pm_format_t f);

/* The supported suffixes, for messages: ".jsonl, .jsonl.zst, ...". */
const char *pm_format_list(void);

#endif
