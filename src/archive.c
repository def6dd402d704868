/* tar and zip members through libarchive (archive.h). */
#include "pilemix/archive.h"

#include "pilemix/buf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FEED_CHUNK (1u << 20)

struct pm_archive {
    struct archive *a;
    pm_stream_t *src;
    char *chunk;
    bool src_failed;
    pm_buf_t path;
    pm_stream_t *member; /* reused: its impl is this archive */
    bool in_member;
};

static la_ssize_t feed(struct archive *la, void *ctx, const void **buffer)
{
    pm_archive_t *a = ctx;
    ssize_t k = pm_stream_read(a->src, a->chunk, FEED_CHUNK, NULL);
    if (k < 0) {
        a->src_failed = true;
        archive_set_error(la, EIO, "%s", a->src->saved.msg);
        return -1;
    }
    *buffer = a->chunk;
    return k;
}

static la_int64_t seek_cb(struct archive *la, void *ctx, la_int64_t offset, int whence)
{
    (void)la;
    pm_archive_t *a = ctx;
    return a->src->ops->seek(a->src, offset, whence);
}

static la_int64_t skip_cb(struct archive *la, void *ctx, la_int64_t request)
{
    (void)la, (void)ctx, (void)request;
    return 0; /* read, never skip: a stream below may be compressed */
}

static int fail(pm_archive_t *a, pm_error_t *err, const char *what)
{
    if (a->src_failed) {
        *err = a->src->saved;
        return err->code ? err->code : PM_EIO;
    }
    const char *why = archive_error_string(a->a);
    int64_t at = archive_filter_bytes(a->a, -1);
    pm_error_set(err, PM_EDATA, NULL, 0, "%s%s%s", what, why ? ": " : "", why ? why : "");
    err->offset = at >= 0 ? at : -1;
    return PM_EDATA;
}

static ssize_t member_read(pm_stream_t *s, void *buf, size_t n, pm_error_t *err)
{
    pm_archive_t *a = s->impl;
    for (;;) {
        la_ssize_t k = archive_read_data(a->a, buf, n);
        if (k >= 0)
            return (ssize_t)k;
        if (k == ARCHIVE_RETRY)
            continue;
        char what[PM_ERROR_MSG_MAX];
        snprintf(what, sizeof what, "damaged or truncated archive in member \"%.900s\"",
                 a->path.data);
        return fail(a, err, what);
    }
}

static const pm_stream_ops_t member_ops = {member_read, NULL, NULL};

int pm_archive_open(pm_archive_t **out, pm_stream_t *src, bool zip, pm_error_t *err)
{
    *out = NULL;
    pm_archive_t *a = calloc(1, sizeof *a);
    if (!a) {
        pm_stream_close(src);
        return pm_error_nomem(err);
    }
    a->src = src;
    pm_buf_init(&a->path);
    a->chunk = malloc(FEED_CHUNK);
    a->a = archive_read_new();
    int rc = 0;
    if (!a->chunk || !a->a || pm_stream_wrap(&a->member, &member_ops, a, err) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if (zip)
        archive_read_support_format_zip(a->a);
    else
        archive_read_support_format_tar(a->a);
    archive_read_set_callback_data(a->a, a);
    archive_read_set_read_callback(a->a, feed);
    archive_read_set_skip_callback(a->a, skip_cb);
    if (src->ops->seek) /* a zip's central directory is at its end */
        archive_read_set_seek_callback(a->a, seek_cb);
    if (archive_read_open1(a->a) != ARCHIVE_OK)
        rc = fail(a, err, zip ? "not a readable zip archive" : "not a readable tar archive");
done:
    if (rc < 0) {
        pm_archive_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int pm_archive_next(pm_archive_t *a, const char **path, pm_stream_t **data, pm_error_t *err)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a->a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r == ARCHIVE_RETRY)
            continue;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            char what[PM_ERROR_MSG_MAX];
            if (a->path.len)
                snprintf(what, sizeof what, "damaged or truncated archive after member \"%.900s\"",
                         a->path.data);
            else
                snprintf(what, sizeof what, "damaged or truncated archive");
            return fail(a, err, what);
        }
        const char *p = archive_entry_pathname(e);
        if (!p)
            p = "";
        while (p[0] == '/' || (p[0] == '.' && p[1] == '/'))
            p += p[0] == '/' ? 1 : 2;
        pm_buf_reset(&a->path);
        if (pm_buf_append_str(&a->path, p) < 0)
            return pm_error_nomem(err);
        while (a->path.len && a->path.data[a->path.len - 1] == '/')
            a->path.data[--a->path.len] = '\0';
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR || a->path.len == 0) {
            pm_buf_reset(&a->path); /* "after member" names members only */
            continue;
        }
        if (type != AE_IFREG || archive_entry_hardlink(e))
            return pm_error_set(err, PM_EDATA, NULL, 0,
                                "member \"%.900s\" is not a regular file (a link or special "
                                "file holds no text)",
                                a->path.data);
        a->member->bytes = 0;
        a->member->error = 0;
        pm_error_clear(&a->member->saved);
        *path = a->path.data;
        *data = a->member;
        return 1;
    }
}

int pm_archive_drain(pm_archive_t *a, pm_error_t *err)
{
    for (;;) {
        ssize_t k = pm_stream_read(a->src, a->chunk, FEED_CHUNK, err);
        if (k <= 0)
            return (int)k;
    }
}

void pm_archive_close(pm_archive_t *a)
{
    if (!a)
        return;
    if (a->a)
        archive_read_free(a->a);
    pm_stream_close(a->src);
    pm_stream_close(a->member);
    pm_buf_free(&a->path);
    free(a->chunk);
    free(a);
}
