#include "pilemix/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

int pm_mkdir_p(const char *path, pm_error_t *err)
{
    pm_buf_t b;
    pm_buf_init(&b);
    int rc = pm_buf_append_str(&b, path);
    if (rc < 0)
        return pm_error_set(err, rc, path, 0, "out of memory");
    for (char *p = b.data + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(b.data, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                rc = pm_error_set(err, PM_EIO, b.data, 0, "cannot create directory: %s",
                                  strerror(e));
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = pm_error_set(err, PM_EIO, path, 0, "not a directory");
    }
    pm_buf_free(&b);
    return rc;
}

int pm_temp_path(pm_buf_t *out, const char *final_path)
{
    const char *slash = strrchr(final_path, '/');
    size_t dir_len = slash ? (size_t)(slash - final_path + 1) : 0;
    pm_buf_reset(out);
    PM_TRY(pm_buf_append(out, final_path, dir_len));
    return pm_buf_printf(out, ".%s.tmp", final_path + dir_len);
}

int pm_temp_create(const char *temp_path, pm_error_t *err)
{
    /* A temp left by a crashed run is ours: remove it (unlink never follows a
     * symlink), then create exclusively so nothing planted is followed. */
    if (unlink(temp_path) != 0 && errno != ENOENT)
        return pm_error_set(err, PM_EIO, temp_path, 0, "cannot remove stale temp file: %s",
                            strerror(errno));
    int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return pm_error_set(err, PM_EIO, temp_path, 0, "cannot create: %s", strerror(errno));
    return fd;
}

int pm_fsync_dir(const char *dir, pm_error_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pm_error_set(err, PM_EIO, dir, 0, "cannot open directory: %s", strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = pm_error_set(err, PM_EIO, dir, 0, "cannot fsync directory: %s", strerror(errno));
    close(fd);
    return rc;
}

int pm_temp_commit(int fd, const char *temp_path, const char *final_path, pm_error_t *err)
{
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return pm_error_set(err, PM_EIO, temp_path, 0, "cannot fsync: %s", strerror(e));
    }
    if (close(fd) != 0)
        return pm_error_set(err, PM_EIO, temp_path, 0, "cannot close: %s", strerror(errno));
    if (rename(temp_path, final_path) != 0)
        return pm_error_set(err, PM_EIO, final_path, 0, "cannot rename %s into place: %s",
                            temp_path, strerror(errno));
    char *copy = strdup(final_path);
    if (!copy)
        return pm_error_set(err, PM_ENOMEM, final_path, 0, "out of memory");
    int rc = pm_fsync_dir(dirname(copy), err);
    free(copy);
    return rc;
}

int pm_temp_rename(int fd, const char *temp_path, const char *final_path, pm_error_t *err)
{
    if (close(fd) != 0)
        return pm_error_set(err, PM_EIO, temp_path, 0, "cannot close: %s", strerror(errno));
    if (rename(temp_path, final_path) != 0)
        return pm_error_set(err, PM_EIO, final_path, 0, "cannot rename %s into place: %s",
                            temp_path, strerror(errno));
    return 0;
}

int pm_write_all(int fd, const void *buf, size_t len, const char *path, pm_error_t *err)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return pm_error_set(err, PM_EIO, path, 0, "write failed: %s", strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int pm_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path, pm_error_t *err)
{
    char *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return pm_error_set(err, PM_EIO, path, 0, "read failed: %s", strerror(errno));
        }
        if (r == 0) {
            pm_error_set(err, PM_EIO, path, 0, "unexpected end of file");
            if (err)
                err->offset = (int64_t)off;
            return PM_EIO;
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int pm_write_file_atomic(const char *final_path, const void *data, size_t len, pm_error_t *err)
{
    pm_buf_t tmp;
    pm_buf_init(&tmp);
    int rc = pm_temp_path(&tmp, final_path);
    if (rc < 0) {
        pm_buf_free(&tmp);
        return pm_error_set(err, rc, final_path, 0, "out of memory");
    }
    int fd = pm_temp_create(tmp.data, err);
    if (fd < 0) {
        pm_buf_free(&tmp);
        return fd;
    }
    rc = pm_write_all(fd, data, len, tmp.data, err);
    if (rc < 0) {
        close(fd);
        unlink(tmp.data);
    } else {
        rc = pm_temp_commit(fd, tmp.data, final_path, err);
        if (rc < 0)
            unlink(tmp.data);
    }
    pm_buf_free(&tmp);
    return rc;
}

int pm_read_file(const char *path, pm_buf_t *out, pm_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pm_error_set(err, PM_EIO, path, 0, "cannot open: %s", strerror(errno));
    int rc = 0;
    for (;;) {
        rc = pm_buf_reserve(out, 65536);
        if (rc < 0) {
            pm_error_set(err, rc, path, 0, "out of memory");
            break;
        }
        ssize_t r = read(fd, out->data + out->len, 65536);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = pm_error_set(err, PM_EIO, path, 0, "read failed: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = '\0';
    }
    close(fd);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    /* EBUSY: a mount point (a work dir on its own file system); its
     * contents are gone, which is what matters. */
    return rc != 0 && errno != ENOENT && !(flag == FTW_DP && errno == EBUSY) ? -1 : 0;
}

int pm_remove_tree(const char *path, pm_error_t *err)
{
    if (!pm_path_exists(path))
        return 0;
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return pm_error_set(err, PM_EIO, path, 0, "cannot remove: %s", strerror(errno));
    return 0;
}

bool pm_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

char *pm_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int pm_file_xxh3(const char *path, uint64_t *hash, uint64_t *size, pm_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pm_error_set(err, PM_EIO, path, 0, "cannot open: %s", strerror(errno));
    XXH3_state_t *st = XXH3_createState();
    char *buf = malloc(1u << 20);
    int rc = st && buf ? 0 : pm_error_nomem(err);
    uint64_t n = 0;
    if (rc == 0)
        XXH3_64bits_reset(st);
    while (rc == 0) {
        ssize_t k = read(fd, buf, 1u << 20);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            rc = pm_error_set(err, PM_EIO, path, 0, "read error: %s", strerror(errno));
        if (k <= 0)
            break;
        XXH3_64bits_update(st, buf, (size_t)k);
        n += (uint64_t)k;
    }
    if (rc == 0) {
        *hash = XXH3_64bits_digest(st);
        *size = n;
    }
    XXH3_freeState(st);
    free(buf);
    close(fd);
    return rc;
}
