#include "pilemix/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_error_clear(pm_error_t *err)
{
    if (!err)
        return;
    err->code = 0;
    err->file[0] = '\0';
    err->line = 0;
    err->column = 0;
    err->offset = -1;
    err->msg[0] = '\0';
}

int pm_error_set(pm_error_t *err, int code, const char *file, uint64_t line, const char *fmt, ...)
{
    if (!err)
        return code;
    pm_error_clear(err);
    err->code = code;
    if (file)
        snprintf(err->file, sizeof err->file, "%s", file);
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int pm_error_nomem(pm_error_t *err)
{
    return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
}

void pm_error_set_position(pm_error_t *err, long long line, long long column)
{
    if (!err)
        return;
    err->line = line > 0 ? (uint64_t)line : 0;
    err->column = column > 0 ? (uint64_t)column : 0;
}

static const char *code_name(int code)
{
    switch (code) {
    case PM_OK: return "PM_OK";
    case PM_EIO: return "PM_EIO";
    case PM_EDATA: return "PM_EDATA";
    case PM_ECONFIG: return "PM_ECONFIG";
    case PM_ENOMEM: return "PM_ENOMEM";
    case PM_EUSAGE: return "PM_EUSAGE";
    case PM_EINTERNAL: return "PM_EINTERNAL";
    case PM_ESTATE: return "PM_ESTATE";
    case PM_EINTR: return "PM_EINTR";
    default: return "an unknown code";
    }
}

bool pm_error_fill_missing(pm_error_t *err, int code)
{
    if (!err)
        return false;
    bool filled = err->code == code && err->code != 0 && err->msg[0];
    if (filled)
        return true;
    if (err->msg[0]) {
        /* A message from an earlier call, or under another code: keep it (it
         * is all there is), but say the code did not match. */
        char kept[PM_ERROR_MSG_MAX];
        snprintf(kept, sizeof kept, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "%.900s [internal error: returned %s, error says %s]",
                 kept, code_name(code), code_name(err->code));
    } else {
        snprintf(err->msg, sizeof err->msg,
                 "internal error: %s (%s) returned without a message (a pilemix bug)",
                 code_name(code), pm_strerror(code));
    }
    err->code = code;
    return false;
}

void pm_error_abort_unfilled(const pm_error_t *err, const char *file, int line)
{
    char text[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(err, text, sizeof text);
    fprintf(stderr, "pilemix: %s:%d: unfilled error (debug builds abort here): %s\n", file, line,
            text);
    fflush(stderr);
    abort();
}

void pm_error_format(const pm_error_t *err, char *out, size_t out_size)
{
    if (!out_size)
        return;
    out[0] = '\0';
    if (!err)
        return;
    size_t n = 0;
#define PM_APPEND(...)                                                                             \
    do {                                                                                           \
        if (n < out_size) {                                                                        \
            int w_ = snprintf(out + n, out_size - n, __VA_ARGS__);                                 \
            if (w_ > 0)                                                                            \
                n += (size_t)w_;                                                                   \
        }                                                                                          \
    } while (0)
    if (err->file[0]) {
        PM_APPEND("%s:", err->file);
        if (err->line) {
            PM_APPEND("%llu:", (unsigned long long)err->line);
            if (err->column)
                PM_APPEND("%llu:", (unsigned long long)err->column);
        }
        PM_APPEND(" ");
    }
    PM_APPEND("%s", err->msg[0] ? err->msg : pm_strerror(err->code));
    if (err->offset >= 0)
        PM_APPEND(" (byte %lld)", (long long)err->offset);
#undef PM_APPEND
}

const char *pm_strerror(int code)
{
    switch (code) {
    case PM_OK: return "success";
    case PM_EIO: return "I/O error";
    case PM_EDATA: return "bad input data";
    case PM_ECONFIG: return "config error";
    case PM_ENOMEM: return "out of memory";
    case PM_EUSAGE: return "usage error";
    case PM_EINTERNAL: return "internal error (a pilemix bug)";
    case PM_ESTATE: return "directory state error";
    case PM_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

/* Least severe first: index = severity - 1. See error.h for the reasons. */
static const int by_severity[] = {PM_EINTR, PM_EUSAGE, PM_ECONFIG, PM_ESTATE,
                                  PM_EDATA, PM_EIO,    PM_ENOMEM,  PM_EINTERNAL};
#define N_SEVERITIES ((int)(sizeof by_severity / sizeof by_severity[0]))

int pm_error_severity(int code)
{
    for (int i = 0; i < N_SEVERITIES; i++)
        if (by_severity[i] == code)
            return i + 1;
    /* An unknown negative code is still a failure: treat it as a bug. */
    return code < 0 ? N_SEVERITIES : 0;
}

int pm_error_of_severity(int severity)
{
    if (severity <= 0)
        return 0;
    return by_severity[(severity > N_SEVERITIES ? N_SEVERITIES : severity) - 1];
}
