#include "pilemix/error.h"

#include <stdarg.h>
#include <stdio.h>
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
    default: return "unknown error";
    }
}
