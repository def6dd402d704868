/* zstd decoding as a stream (zstd_stream.h).
 *
 * We feed zstd exactly its input hint (the rest of the current block plus
 * the next block header; 5 bytes at a frame start), and keep a whole block
 * contiguous in `in` (compacting and reading more when needed), so zstd
 * decodes each block straight from our buffer. zstd does not advance in.pos
 * on error, so the offset we report for a corrupt block is where that block
 * starts in the compressed stream, not just somewhere in a 1 MiB read.
 *
 * Data decoded before a bad block is returned first and the error comes on
 * the next call, so a caller sees every good line before the failure.
 * Memory: the input buffer plus zstd's window (at most 128 MiB by zstd's
 * default windowLogMax, which we deliberately keep). */
#include "pilemix/zstd_stream.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#define IN_CHUNK (1u << 20)

typedef struct zimpl {
    pm_stream_t *below;
    ZSTD_DCtx *dctx;
    /* in[in_pos..in_len) not yet consumed; in[0] is at compressed offset in_off. */
    uint8_t *in;
    size_t in_cap, in_pos, in_len;
    uint64_t in_off;
    size_t last_hint;  /* last ZSTD_decompressStream result: 0 = at a frame boundary */
    bool out_was_full; /* zstd may hold more output even without new input */
    bool in_eof;
    int deferred; /* error found while decoding data already returned */
    pm_error_t deferred_err;
} zimpl_t;

static int zfail(pm_error_t *err, int64_t offset, const char *msg, const char *detail)
{
    pm_error_set(err, PM_EDATA, NULL, 0, "%s%s", msg, detail ? detail : "");
    err->offset = offset;
    return PM_EDATA;
}

/* Read below until the buffer is full or the data ends. */
static int fill(zimpl_t *z, pm_error_t *err)
{
    while (z->in_len < z->in_cap) {
        ssize_t k = pm_stream_read(z->below, z->in + z->in_len, z->in_cap - z->in_len, err);
        if (k < 0)
            return (int)k;
        if (k == 0) {
            z->in_eof = true;
            break;
        }
        z->in_len += (size_t)k;
    }
    return 0;
}

static ssize_t zread(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    zimpl_t *z = s->impl;
    if (z->deferred) {
        *err = z->deferred_err;
        return z->deferred;
    }
    ZSTD_outBuffer out = {buf, n, 0};
    for (;;) {
        size_t want = z->last_hint ? z->last_hint : 5; /* ZSTD_FRAMEHEADERSIZE_PREFIX */
        size_t avail = z->in_len - z->in_pos;
        if (avail < want && !z->in_eof) {
            if (out.pos)
                break; /* hand over what we have before blocking on a read */
            memmove(z->in, z->in + z->in_pos, avail);
            z->in_off += z->in_pos;
            z->in_pos = 0;
            z->in_len = avail;
            int rc = fill(z, err);
            if (rc < 0)
                return rc;
            avail = z->in_len;
        }
        if (avail == 0 && z->in_eof && !z->out_was_full) {
            if (out.pos)
                break;
            if (z->in_off + z->in_len == 0)
                return zfail(err, 0, "empty file is not a zstd stream", NULL);
            if (z->last_hint != 0)
                return zfail(err, (int64_t)(z->in_off + z->in_len),
                             "truncated zstd stream (file ends inside a frame)", NULL);
            return 0;
        }
        size_t feed = avail < want ? avail : want;
        ZSTD_inBuffer in = {z->in + z->in_pos, feed, 0};
        size_t ret = ZSTD_decompressStream(z->dctx, &out, &in);
        if (ZSTD_isError(ret)) {
            int64_t at = (int64_t)(z->in_off + z->in_pos);
            pm_error_t *e = out.pos ? &z->deferred_err : err;
            int rc;
            if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
                rc = zfail(e, at, "zstd frame needs a window > 128 MiB; recompress without --long",
                           NULL);
            else
                rc = zfail(e, at, "corrupt zstd stream: ", ZSTD_getErrorName(ret));
            if (!out.pos)
                return rc;
            z->deferred = rc; /* lines decoded before the bad block come first */
            break;
        }
        z->in_pos += in.pos;
        z->last_hint = ret;
        z->out_was_full = out.pos == out.size;
        if (z->out_was_full)
            break;
    }
    return (ssize_t)out.pos;
}

static void zclose(pm_stream_t *s)
{
    zimpl_t *z = s->impl;
    if (!z)
        return;
    pm_stream_close(z->below);
    ZSTD_freeDCtx(z->dctx);
    free(z->in);
    free(z);
}

static const pm_stream_ops_t zops = {zread, zclose, NULL};

int pm_stream_open_zstd(pm_stream_t **out, pm_stream_t *below, pm_error_t *err)
{
    *out = NULL;
    zimpl_t *z = calloc(1, sizeof *z);
    if (!z) {
        pm_stream_close(below);
        return pm_error_nomem(err);
    }
    z->below = below;
    z->in_cap = ZSTD_DStreamInSize() > IN_CHUNK ? ZSTD_DStreamInSize() : IN_CHUNK;
    z->in = malloc(z->in_cap);
    z->dctx = ZSTD_createDCtx();
    int rc = 0;
    if (!z->in || !z->dctx)
        rc = pm_error_nomem(err);
    if (rc == 0)
        rc = pm_stream_wrap(out, &zops, z, err);
    if (rc < 0)
        zclose(&(pm_stream_t){.impl = z});
    return rc;
}
