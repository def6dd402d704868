/* pilemix errors: codes and a caller-owned error record.
 *
 * Every fallible call returns int: 0 on success or a negative PM_E* code.
 * Calls that can say more also fill a caller-owned pm_error_t with the file,
 * line, column and byte offset the problem is about (each optional) and a
 * one-line message. Library code never exits and never prints errors; the
 * CLI (main.c) formats the record and maps the code to an exit status:
 * PM_ECONFIG/PM_EUSAGE/PM_ESTATE -> 2, PM_EINTR -> 128 + the signal's
 * number, everything else -> 1.
 *
 * The rule: a function that takes a pm_error_t and returns a negative code
 * has filled it (code and message) first. Functions without one (pm_buf_*,
 * pm_temp_path, pm_job_*_path, pm_totals_init, pm_record_parse) fail only
 * for lack of memory, and their caller turns that into a filled error
 * (pm_error_nomem). Where an error is finally reported (main.c, src/mpi),
 * PM_ERROR_CHECK holds the callee to the rule.
 *
 * Forwarding, one style everywhere:
 *   - straight-line code with nothing to release: PM_TRY(call(..., err));
 *   - code that holds resources: `int rc = 0; ... if ((rc = call(..., err))
 *     < 0) goto done; ... done: release; return rc;` with one cleanup label;
 *   - a jansson builder (json_pack, json_array_append_new, json_dumps, ...)
 *     is checked like any call: NULL or -1 becomes PM_ENOMEM (or, when the
 *     cause is a bad value such as a string that is not UTF-8,
 *     PM_EINTERNAL with what it was), never a silently missing entry.
 *
 * Severity: when several ranks (or steps) fail with different codes, the one
 * reported is the most severe, in this order, most severe first:
 *   PM_EINTERNAL, PM_ENOMEM, PM_EIO, PM_EDATA, PM_ESTATE, PM_ECONFIG, PM_EUSAGE,
 *   PM_EINTR
 * A bug or a resource failure explains the others better than the reverse,
 * and the job failures (exit 1) all rank above the usage/config/state errors
 * (exit 2), so e.g. an I/O error on one rank and a config error on another
 * always give exit 1, whatever the timing. An interruption (SIGINT, SIGTERM)
 * is last: it is no fault of the job, and a real error met on the way out
 * must not hide behind it. */
#ifndef PILEMIX_ERROR_H
#define PILEMIX_ERROR_H

#include <stdbool.h>
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
    PM_EINTR = -8,     /* stopped by SIGINT/SIGTERM; what was committed is kept */
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

/* pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory"). */
int pm_error_nomem(pm_error_t *err);

/* Set err's line and column from a parser's signed position (jansson's
 * json_error_t says -1 for "unknown", e.g. when the file could not be
 * opened): values < 1 leave them unknown (0). Accepts NULL. */
void pm_error_set_position(pm_error_t *err, long long line, long long column);

/* Format as one line: "file:line:column: message" with absent parts left out,
 * and " (byte N)" appended when the offset is known. */
void pm_error_format(const pm_error_t *err, char *out, size_t out_size);

/* Short name of a code: "I/O error", "config error", ... */
const char *pm_strerror(int code);

/* Where an error is reported: did the call that returned code (< 0) fill
 * err? Returns true when err->code == code and a message is set. Otherwise
 * (a pilemix bug) fills err with "internal error: PM_EIO (I/O error)
 * returned without a message" (keeping a message that is there) and returns
 * false. */
bool pm_error_fill_missing(pm_error_t *err, int code);

/* Debug builds: print err (as pm_error_fill_missing left it) with the
 * reporting site and abort, like a failed assert. */
_Noreturn void pm_error_abort_unfilled(const pm_error_t *err, const char *file, int line);

/* PM_ERROR_CHECK(err, code): before printing err for a failed code. Debug
 * builds abort when the callee did not fill err (so the test suite finds
 * every hole); release builds (NDEBUG) print the fallback message of
 * pm_error_fill_missing instead of a bare "success". */
#ifdef NDEBUG
#define PM_ERROR_CHECK(err, code) ((void)pm_error_fill_missing((err), (code)))
#else
#define PM_ERROR_CHECK(err, code)                                                                  \
    (pm_error_fill_missing((err), (code)) ? (void)0                                                \
                                          : pm_error_abort_unfilled((err), __FILE__, __LINE__))
#endif
/* Severity of a code: 0 for success (and any code >= 0), then 1 for
 * PM_EINTR up to 8 for PM_EINTERNAL (the order above); a negative code that
 * is no PM_E* counts as PM_EINTERNAL. */
int pm_error_severity(int code);

/* The code of a severity (the inverse of pm_error_severity; 0 for 0). */
int pm_error_of_severity(int severity);

/* Forward a failing call's code. */
#define PM_TRY(expr)                                                                               \
    do {                                                                                           \
        int pm_try_rc_ = (expr);                                                                   \
        if (pm_try_rc_ < 0)                                                                        \
            return pm_try_rc_;                                                                     \
    } while (0)

#endif
