#include "pilemix/buf.h"

#include "pilemix/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_buf_init(pm_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pm_buf_free(pm_buf_t *b)
{
    free(b->data);
    pm_buf_init(b);
}

int pm_buf_reserve(pm_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return PM_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return PM_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pm_buf_append(pm_buf_t *b, const void *p, size_t n)
{
    PM_TRY(pm_buf_reserve(b, n));
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pm_buf_append_str(pm_buf_t *b, const char *s) { return pm_buf_append(b, s, strlen(s)); }

int pm_buf_append_char(pm_buf_t *b, char c) { return pm_buf_append(b, &c, 1); }

int pm_buf_printf(pm_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PM_EINTERNAL;
    PM_TRY(pm_buf_reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}
