/* gzip decompression with zlib (gzip_stream.h). */
#include "pilemix/gzip_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IN_CHUNK (1u << 20)

typedef struct gzimpl {
    pm_stream_t *below;
    z_stream z;
    bool z_ready;
    unsigned char *in;
    uint64_t in_off; /* compressed offset of in[0] */
    size_t in_len;
    bool in_eof;
    bool at_member_start; /* between members: the next bytes must be a gzip header */
    bool done;
} gzimpl_t;

static int gzfail(pm_error_t *err, int64_t offset, const char *fmt, const char *detail)
{
    pm_error_set(err, PM_EDATA, NULL, 0, fmt, detail ? detail : "");
    err->offset = offset;
    return PM_EDATA;
}

/* Compressed offset of the next byte zlib will read. */
static uint64_t zpos(const gzimpl_t *g) { return g->in_off + (uint64_t)(g->z.next_in - g->in); }

static int refill(gzimpl_t *g, pm_error_t *err)
{
    size_t keep = g->z.avail_in;
    memmove(g->in, g->z.next_in, keep);
    g->in_off = zpos(g);
    g->in_len = keep;
    while (!g->in_eof && g->in_len < IN_CHUNK) {
        ssize_t k = pm_stream_read(g->below, g->in + g->in_len, IN_CHUNK - g->in_len, err);
        if (k < 0)
            return (int)k;
        if (k == 0)
            g->in_eof = true;
        g->in_len += (size_t)k;
    }
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)g->in_len;
    return 0;
}

static ssize_t gz_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    gzimpl_t *g = s->impl;
    if (g->done)
        return 0;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    g->z.next_out = buf;
    g->z.avail_out = (uInt)n;
    while (g->z.avail_out == n) {
        if (g->z.avail_in < 18 && !g->in_eof)
            PM_TRY(refill(g, err));
        if (g->at_member_start) {
            if (g->z.avail_in == 0) {
                if (zpos(g) == 0)
                    return gzfail(err, 0, "empty file is not a gzip stream%s", NULL);
                g->done = true; /* the end after a whole member */
                return 0;
            }
            if (g->z.avail_in < 2 || g->z.next_in[0] != 0x1f || g->z.next_in[1] != 0x8b) {
                if (zpos(g) == 0)
                    return gzfail(err, 0, "not a gzip stream (no gzip magic bytes)%s", NULL);
                return gzfail(err, (int64_t)zpos(g), "trailing data after the last gzip member%s",
                              NULL);
            }
            inflateReset(&g->z);
            g->at_member_start = false;
        }
        int zr = inflate(&g->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            g->at_member_start = true;
            continue;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR && g->z.avail_in == 0) {
            if (!g->in_eof)
                continue; /* needs more input */
            return gzfail(err, (int64_t)zpos(g),
                          "truncated gzip stream (file ends inside a member)%s", NULL);
        }
        if (zr == Z_MEM_ERROR)
            return pm_error_nomem(err);
        return gzfail(err, (int64_t)zpos(g), "corrupt gzip stream: %s",
                      g->z.msg ? g->z.msg : "data error");
    }
    return (ssize_t)(n - g->z.avail_out);
}

static void gz_close(pm_stream_t *s)
{
    gzimpl_t *g = s->impl;
    if (!g)
        return;
    if (g->z_ready)
        inflateEnd(&g->z);
    pm_stream_close(g->below);
    free(g->in);
    free(g);
}

static const pm_stream_ops_t gzops = {gz_read, gz_close, NULL};

int pm_stream_open_gzip(pm_stream_t **out, pm_stream_t *below, pm_error_t *err)
{
    *out = NULL;
    gzimpl_t *g = calloc(1, sizeof *g);
    if (!g) {
        pm_stream_close(below);
        return pm_error_nomem(err);
    }
    g->below = below;
    g->at_member_start = true;
    g->in = malloc(IN_CHUNK);
    int rc = 0;
    if (!g->in)
        rc = pm_error_nomem(err);
    /* 15 + 16: a gzip wrapper only (never raw deflate or zlib). */
    if (rc == 0 && inflateInit2(&g->z, 15 + 16) != Z_OK)
        rc = pm_error_nomem(err);
    g->z_ready = rc == 0;
    if (rc == 0) {
        g->z.next_in = g->in;
        g->z.avail_in = 0;
        rc = pm_stream_wrap(out, &gzops, g, err);
    }
    if (rc < 0)
        gz_close(&(pm_stream_t){.impl = g});
    return rc;
}
