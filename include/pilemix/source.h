/* pm_source_t: the documents of one input file, whatever its format.
 *
 * A source opens a plan file by its format (format.h) and yields documents
 * one at a time, streaming: a line of JSON lines, an element of a JSON array
 * (.json.zst), or a whole text (.txt); for an archive (tar, zip), the
 * documents of each member in archive order, each member read by its own
 * name with the same table. The caller (scatter.c) stays format-agnostic:
 * it parses a JSON document with the record parser and takes a text
 * document as is.
 *
 * Each document carries its identity within the file: the member (0 when
 * the file is no archive, else its 1-based index in the order met, with its
 * path), and the byte offset of its first byte in the uncompressed stream
 * of the file or member; plus its line and column for messages. Blank lines
 * are returned too (the caller counts them). A document longer than
 * max_record comes back too_long with a capped prefix, never buffered whole.
 *
 * Members: directories are skipped; members whose identity path
 * (relpath + "/" + member path) matches an exclude glob are skipped; a
 * member that is itself an archive, has an unsupported name, a name that is
 * not UTF-8, or the name of an earlier member is an error naming archive and
 * member (a name twice would give two documents one identity). The member
 * names met are kept (pm_source_member) for the task's commit record.
 *
 * Errors (PM_EDATA for corrupt, truncated or wrongly named data, PM_EIO for
 * read errors) name "file" or "file:member" and carry the line and column
 * or the byte offset; they are sticky. A document's pointers are valid
 * until the next call. */
#ifndef PILEMIX_SOURCE_H
#define PILEMIX_SOURCE_H

#include "pilemix/format.h"
#include "pilemix/reader.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    PM_DOC_JSON, /* a JSON line or array element: an object or a bare string */
    PM_DOC_TEXT, /* the raw UTF-8 text of a whole file or member */
} pm_doc_kind_t;

typedef struct pm_doc {
    pm_doc_kind_t kind;
    pm_line_t line;          /* data, len, full_len, too_long, offset, lineno */
    uint64_t column;         /* 1-based column of the first byte (1 for lines) */
    uint32_t member;         /* 0: not in an archive; else 1-based */
    const char *where;       /* "file" or "file:member", for messages */
    const char *member_path; /* NULL when member == 0 */
} pm_doc_t;

typedef struct pm_source pm_source_t;

typedef struct pm_source_opts {
    size_t max_record;    /* 0: no limit */
    const char *relpath;  /* identity path of the file (exclude globs see members) */
    char *const *exclude; /* fnmatch(3) globs with FNM_PATHNAME, or NULL */
    size_t n_exclude;
} pm_source_opts_t;

/* name: the file as messages name it (usually its path). */
int pm_source_open(pm_source_t **out, const char *path, const char *name, pm_format_t format,
                   const pm_source_opts_t *opts, pm_error_t *err);

/* 1: a document in *doc; 0: the end; < 0: error (err filled). */
int pm_source_next(pm_source_t *s, pm_doc_t *doc, pm_error_t *err);

/* Bytes read from the file on disk so far (compressed bytes where it is). */
uint64_t pm_source_bytes_in(const pm_source_t *s);

/* Members met so far, and the path of member i (1-based). */
uint32_t pm_source_members(const pm_source_t *s);
const char *pm_source_member(const pm_source_t *s, uint32_t i);

/* Whether a member name is in the format table and not an archive. */
bool pm_source_member_supported(const char *name);

void pm_source_close(pm_source_t *s); /* accepts NULL */

/* A cheap look at a file before any rank reads it (the plan): its first
 * bytes (magic numbers, a UTF-16 byte-order mark, a '[' opening a .jsonl)
 * and, when compressed, its first decoded block. PM_ECONFIG for a file whose
 * name does not say what it holds (gzip bytes in a .jsonl: the message
 * says what to rename it to); PM_EDATA for a damaged one (empty, not the
 * codec, corrupt first block); PM_EIO when it cannot be read. err->msg
 * holds the finding only (the caller names the file). */
int pm_source_probe(const char *path, pm_format_t format, pm_error_t *err);

#endif
