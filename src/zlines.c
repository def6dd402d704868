/* Lines of a zstd file (zlines.h). */
#include "pilemix/zlines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pm_zlines_zero(pm_zlines_t *z)
{
    memset(z, 0, sizeof *z);
    z->fd = -1;
}

void pm_zlines_close(pm_zlines_t *z)
{
    if (z->fd >= 0)
        close(z->fd);
    ZSTD_freeDCtx(z->dctx);
    free(z->in);
    free(z->out);
    pm_buf_free(&z->line);
    pm_zlines_zero(z);
}

int pm_zlines_open(pm_zlines_t *z, const char *path, pm_error_t *err)
{
    memset(z, 0, sizeof *z);
    z->path = path;
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0)
        return pm_error_set(err, errno == ENOENT ? PM_EDATA : PM_EIO, path, 0, "cannot open: %s",
                            strerror(errno));
    z->in_cap = ZSTD_DStreamInSize();
    z->out_cap = ZSTD_DStreamOutSize();
    z->in = malloc(z->in_cap);
    z->out = malloc(z->out_cap);
    z->dctx = ZSTD_createDCtx();
    z->ib = (ZSTD_inBuffer){z->in, 0, 0};
    if (!z->in || !z->out || !z->dctx) {
        pm_zlines_close(z);
        return pm_error_nomem(err);
    }
    return 0;
}

/* Decompress more into out (out_pos == out_len on entry). 0, or 1 at the
 * end of the file. */
static int zlines_fill(pm_zlines_t *z, pm_error_t *err)
{
    z->out_len = z->out_pos = 0;
    while (z->out_len == 0) {
        if (z->ib.pos == z->ib.size) {
            ssize_t got = read(z->fd, z->in, z->in_cap);
            if (got < 0)
                return pm_error_set(err, PM_EIO, z->path, 0, "read error: %s", strerror(errno));
            if (got == 0)
                return 1;
            z->ib = (ZSTD_inBuffer){z->in, (size_t)got, 0};
        }
        ZSTD_outBuffer ob = {z->out, z->out_cap, 0};
        size_t r = ZSTD_decompressStream(z->dctx, &ob, &z->ib);
        if (ZSTD_isError(r))
            return pm_error_set(err, PM_EDATA, z->path, 0, "corrupt zstd data: %s",
                                ZSTD_getErrorName(r));
        z->out_len = ob.pos;
    }
    return 0;
}

/* The next line without its '\n' in *p, *n (valid until the next call): 1,
 * 0 at the end, or an error. */
int pm_zlines_next(pm_zlines_t *z, const char **p, size_t *n, pm_error_t *err)
{
    pm_buf_reset(&z->line);
    for (;;) {
        if (z->out_pos == z->out_len) {
            if (z->eof)
                break;
            int rc = zlines_fill(z, err);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                z->eof = true;
                break;
            }
        }
        const char *s = z->out + z->out_pos;
        size_t avail = z->out_len - z->out_pos;
        const char *nl = memchr(s, '\n', avail);
        if (!nl) {
            if (pm_buf_append(&z->line, s, avail) < 0)
                return pm_error_nomem(err);
            z->out_pos = z->out_len;
            continue;
        }
        size_t k = (size_t)(nl - s);
        z->out_pos += k + 1;
        if (z->line.len == 0) {
            *p = s;
            *n = k;
            return 1;
        }
        if (pm_buf_append(&z->line, s, k) < 0)
            return pm_error_nomem(err);
        *p = z->line.data;
        *n = z->line.len;
        return 1;
    }
    if (z->line.len)
        return pm_error_set(err, PM_EDATA, z->path, 0, "last line is not newline-terminated");
    return 0;
}
