/* Small file-system helpers shared by the writers.
 *
 * The atomic-file rule (DESIGN 1.5): a file appears under its final name only
 * when complete. Writers create "<dir>/.<name>.tmp" with O_EXCL|O_NOFOLLOW
 * (a stale temp of a crashed run is ours to remove first; a symlink planted
 * there is never followed), fsync it, rename it over the final name and fsync
 * the directory. All calls return 0 or a negative PM_E* code and fill err
 * with the path and strerror. */
#ifndef PILEMIX_FSUTIL_H
#define PILEMIX_FSUTIL_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <stdbool.h>
#include <stddef.h>

/* mkdir -p with mode 0755; existing directories are fine. */
int pm_mkdir_p(const char *path, pm_error_t *err);

/* Temp name for final_path: same directory, ".<base>.tmp". */
int pm_temp_path(pm_buf_t *out, const char *final_path);

/* Create final_path's temp for writing (see above). Returns the fd (>= 0). */
int pm_temp_create(const char *temp_path, pm_error_t *err);

/* fsync fd, close it, rename temp_path to final_path, fsync the directory.
 * Closes fd in every case. */
int pm_temp_commit(int fd, const char *temp_path, const char *final_path, pm_error_t *err);

/* Close fd and rename temp_path to final_path without any fsync: for
 * scratch files whose damage a reader detects (spills). */
int pm_temp_rename(int fd, const char *temp_path, const char *final_path, pm_error_t *err);

/* Write all of buf to fd, retrying short writes and EINTR. */
int pm_write_all(int fd, const void *buf, size_t len, const char *path, pm_error_t *err);

/* pread exactly len bytes at off; a short read is PM_EIO "unexpected end of file". */
int pm_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path, pm_error_t *err);

/* Whole small file atomically (manifest, sums, state). */
int pm_write_file_atomic(const char *final_path, const void *data, size_t len, pm_error_t *err);

/* Read a whole small file into out (appends). */
int pm_read_file(const char *path, pm_buf_t *out, pm_error_t *err);

/* fsync a directory by path. */
int pm_fsync_dir(const char *dir, pm_error_t *err);

/* rm -rf that never follows symlinks (they are unlinked, not traversed). */
int pm_remove_tree(const char *path, pm_error_t *err);

bool pm_path_exists(const char *path);

/* XXH3-64 (seed 0) of a whole file's bytes, and its size; PM_EIO with err
 * filled when it cannot be read. */
int pm_file_xxh3(const char *path, uint64_t *hash, uint64_t *size, pm_error_t *err);

/* "dir/name", malloc'd; NULL when out of memory. */
char *pm_path_join(const char *dir, const char *name);

#endif
