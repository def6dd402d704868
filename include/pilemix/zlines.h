/* pm_zlines_t: the lines of a zstd-compressed file (an output file of a
 * finished dataset), decompressed as a stream with bounded memory: a line is
 * handed out in place when it lies in one decompressed chunk and copied into
 * a growing buffer only when it spans chunks. Used by the tools that read a
 * dataset line by line (subset.h, canary_find.h). */
#ifndef PILEMIX_ZLINES_H
#define PILEMIX_ZLINES_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <zstd.h>

typedef struct pm_zlines {
    int fd;
    const char *path;
    ZSTD_DCtx *dctx;
    char *in, *out;
    size_t in_cap, out_cap;
    ZSTD_inBuffer ib;
    size_t out_len, out_pos;
    pm_buf_t line; /* a line that spans output chunks */
    bool eof;
} pm_zlines_t;

/* A closed reader (fd -1), safe to close. */
void pm_zlines_zero(pm_zlines_t *z);
/* path is borrowed for messages and must outlive the reader. */
int pm_zlines_open(pm_zlines_t *z, const char *path, pm_error_t *err);
void pm_zlines_close(pm_zlines_t *z); /* accepts a zeroed reader */
/* The next line without its '\n' in *p, *n (valid until the next call):
 * 1, 0 at the end, or an error (a last line without '\n' is PM_EDATA). */
int pm_zlines_next(pm_zlines_t *z, const char **p, size_t *n, pm_error_t *err);

#endif
