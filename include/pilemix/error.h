/* pilemix errors: codes and a caller-owned error record.
 *
 * Every fallible call returns int: 0 on success or a negative PM_E* code.
 * Calls that can say more also fill a caller-owned pm_error_t with the file,
 * line, column and byte offset the problem is about (each optional) and a
 * one-line message. Library code never exits and never prints errors; the
 * CLI (main.c) formats the record and maps the code to an exit status:
 * PM_ECONFIG/PM_EUSAGE -> 2, everything else -> 1. */
#ifndef PILEMIX_ERROR_H
#define PILEMIX_ERROR_H

#include <stddef.h>
#include <stdint.h>

enum {
    PM_OK = 0,
    PM_EIO = -1,       /* reading or writing a file failed (disk full, EACCES, ...) */
    PM_EDATA = -2,     /* bad input data: corrupt zstd stream, bad record in fail mode */
    PM_ECONFIG = -3,   /* the config file is wrong */
    PM_ENOMEM = -4,    /* allocation failed */
    PM_EUSAGE = -5,    /* bad command line */
    PM_EINTERNAL = -6, /* a pilemix bug: an invariant failed */
    PM_ESTATE = -7,    /* output/work directory state forbids the operation */
};

#define PM_ERROR_FILE_MAX 1024
#define PM_ERROR_MSG_MAX 1024

typedef struct pm_error {
    int code;                     /* PM_E*, 0 when clear */
    char file[PM_ERROR_FILE_MAX]; /* "" when not about a file */
    uint64_t line;                /* 1-based; 0 = unknown */
    uint64_t column;              /* 1-based; 0 = unknown */
    int64_t offset;               /* byte offset in the file; -1 = unknown */
    char msg[PM_ERROR_MSG_MAX];
} pm_error_t;

/* Reset to "no error". Accepts NULL. */
void pm_error_clear(pm_error_t *err);

/* Fill err (may be NULL) and return code, so callers can write
 * `return pm_error_set(err, PM_EIO, path, 0, "cannot open: %s", strerror(e));`.
 * file may be NULL. line 0 = unknown. Column and offset are reset. */
int pm_error_set(pm_error_t *err, int code, const char *file, uint64_t line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Format as one line: "file:line:column: message" with absent parts left out,
 * and " (byte N)" appended when the offset is known. */
void pm_error_format(const pm_error_t *err, char *out, size_t out_size);

/* Short name of a code: "I/O error", "config error", ... */
const char *pm_strerror(int code);

/* Forward a failing call's code. */
#define PM_TRY(expr)                                                                               \
    do {                                                                                           \
        int pm_try_rc_ = (expr);                                                                   \
        if (pm_try_rc_ < 0)                                                                        \
            return pm_try_rc_;                                                                     \
    } while (0)

#endif
