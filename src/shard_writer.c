#include "pilemix/shard_writer.h"

#include "pilemix/buf.h"
#include "pilemix/fsutil.h"
#include "pilemix/record.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t inside the writer */
#include <xxhash.h>
#include <zstd.h>

#define STAGE_BYTES (1u << 20)
/* Start writeback of what is written every this many bytes, so the fsync
 * at finish waits for the tail only, not for the whole file: the disk works
 * while we compress. */
#define WRITEBACK_BYTES (16u << 20)

/* Append a string literal without its NUL. */
#define APPEND_LIT(buf, lit) pm_buf_append((buf), (lit), sizeof(lit) - 1)

struct pm_shard_writer {
    int fd;
    pm_buf_t final_path, temp_path;
    ZSTD_CCtx *cctx;
    bool own_cctx;
    pm_buf_t stage; /* serialized lines waiting for the compressor */
    char *out;
    size_t out_cap;
    XXH3_state_t raw_hash, zst_hash;
    pm_file_result_t res;
    uint64_t written_back; /* bytes handed to writeback so far */
};

void pm_hex128(const unsigned char d[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[32] = '\0';
}

static void writer_free(pm_shard_writer_t *w)
{
    if (w->own_cctx)
        ZSTD_freeCCtx(w->cctx);
    pm_buf_free(&w->final_path);
    pm_buf_free(&w->temp_path);
    pm_buf_free(&w->stage);
    free(w->out);
    free(w);
}

void pm_shard_writer_abort(pm_shard_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->temp_path.data); /* also after a failed commit, which closed fd */
    writer_free(w);
}

static int zstd_fail(pm_shard_writer_t *w, size_t code, pm_error_t *err)
{
    return pm_error_set(err, PM_EIO, w->temp_path.data, 0, "zstd compression failed: %s",
                        ZSTD_getErrorName(code));
}

int pm_shard_writer_open(pm_shard_writer_t **out, const char *final_path, int level, int workers,
                         ZSTD_CCtx *cctx, pm_error_t *err)
{
    *out = NULL;
    pm_shard_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return pm_error_set(err, PM_ENOMEM, final_path, 0, "out of memory");
    w->fd = -1;
    w->out_cap = ZSTD_CStreamOutSize();
    w->out = malloc(w->out_cap);
    w->own_cctx = cctx == NULL;
    w->cctx = cctx ? cctx : ZSTD_createCCtx();
    if (cctx)
        ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    if (!w->out || !w->cctx || pm_buf_append_str(&w->final_path, final_path) < 0 ||
        pm_temp_path(&w->temp_path, final_path) < 0 || pm_buf_reserve(&w->stage, STAGE_BYTES) < 0) {
        writer_free(w);
        return pm_error_set(err, PM_ENOMEM, final_path, 0, "out of memory");
    }
    size_t z = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(z))
        z = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(z))
        z = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, workers < 1 ? 1 : workers);
    if (ZSTD_isError(z)) {
        int rc = pm_error_set(err, PM_EIO, final_path, 0,
                              "zstd setup failed: %s (is libzstd built with threads?)",
                              ZSTD_getErrorName(z));
        writer_free(w);
        return rc;
    }
    XXH3_128bits_reset(&w->raw_hash);
    XXH3_128bits_reset(&w->zst_hash);
    w->fd = pm_temp_create(w->temp_path.data, err);
    if (w->fd < 0) {
        int rc = w->fd;
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int compress(pm_shard_writer_t *w, ZSTD_EndDirective mode, pm_error_t *err)
{
    ZSTD_inBuffer in = {w->stage.data, w->stage.len, 0};
    XXH3_128bits_update(&w->raw_hash, w->stage.data, w->stage.len);
    w->res.raw_bytes += w->stage.len;
    for (;;) {
        ZSTD_outBuffer o = {w->out, w->out_cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &o, &in, mode);
        if (ZSTD_isError(left))
            return zstd_fail(w, left, err);
        if (o.pos) {
            XXH3_128bits_update(&w->zst_hash, w->out, o.pos);
            w->res.zst_bytes += o.pos;
            PM_TRY(pm_write_all(w->fd, w->out, o.pos, w->temp_path.data, err));
            if (w->res.zst_bytes - w->written_back >= WRITEBACK_BYTES) {
#ifdef SYNC_FILE_RANGE_WRITE
                /* Advisory (Linux): failure only means a longer fsync later. */
                (void)sync_file_range(w->fd, (off_t)w->written_back,
                                      (off_t)(w->res.zst_bytes - w->written_back),
                                      SYNC_FILE_RANGE_WRITE);
#endif
                w->written_back = w->res.zst_bytes;
            }
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            break;
    }
    pm_buf_reset(&w->stage);
    return 0;
}

int pm_shard_writer_add(pm_shard_writer_t *w, const char *component, const char *text,
                        size_t text_len, const char *meta, size_t meta_len, pm_error_t *err)
{
    pm_buf_t *s = &w->stage;
    int rc = APPEND_LIT(s, "{\"text\": ");
    rc = rc ? rc : pm_json_escape(s, text, text_len);
    rc = rc ? rc : APPEND_LIT(s, ", \"meta\": {\"pile_set_name\": ");
    rc = rc ? rc : pm_json_escape(s, component, strlen(component));
    if (meta_len) {
        rc = rc ? rc : APPEND_LIT(s, ", ");
        rc = rc ? rc : pm_buf_append(s, meta, meta_len);
    }
    rc = rc ? rc : APPEND_LIT(s, "}}\n");
    if (rc < 0)
        return pm_error_set(err, rc, w->final_path.data, 0, "out of memory");
    w->res.docs++;
    w->res.text_bytes += text_len;
    if (s->len >= STAGE_BYTES)
        return compress(w, ZSTD_e_continue, err);
    return 0;
}

int pm_shard_writer_add_line(pm_shard_writer_t *w, const char *line, size_t len, uint64_t text_len,
                             pm_error_t *err)
{
    pm_buf_t *s = &w->stage;
    if (pm_buf_append(s, line, len) < 0 || pm_buf_append_char(s, '\n') < 0)
        return pm_error_set(err, PM_ENOMEM, w->final_path.data, 0, "out of memory");
    w->res.docs++;
    w->res.text_bytes += text_len;
    if (s->len >= STAGE_BYTES)
        return compress(w, ZSTD_e_continue, err);
    return 0;
}

int pm_shard_writer_finish(pm_shard_writer_t *w, pm_file_result_t *res, pm_error_t *err)
{
    int rc = compress(w, ZSTD_e_end, err);
    if (rc == 0) {
        rc = pm_temp_commit(w->fd, w->temp_path.data, w->final_path.data, err);
        w->fd = -1;
    }
    if (rc < 0) {
        pm_shard_writer_abort(w);
        return rc;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&w->raw_hash));
    memcpy(w->res.raw_xxh128, c.digest, 16);
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&w->zst_hash));
    memcpy(w->res.zst_xxh128, c.digest, 16);
    *res = w->res;
    writer_free(w);
    return 0;
}
