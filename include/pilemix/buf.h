/* pm_buf_t: a growable byte buffer.
 *
 * The buffer owns data; data is always NUL-terminated after len bytes (so text
 * can be printed) once anything was appended. Growth fails with PM_ENOMEM and
 * leaves the contents intact. Zero-initialise or call pm_buf_init(). */
#ifndef PILEMIX_BUF_H
#define PILEMIX_BUF_H

#include <stddef.h>

typedef struct pm_buf {
    char *data;
    size_t len;
    size_t cap;
} pm_buf_t;

void pm_buf_init(pm_buf_t *b);
void pm_buf_free(pm_buf_t *b); /* releases memory, back to init state */
static inline void pm_buf_reset(pm_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
int pm_buf_reserve(pm_buf_t *b, size_t extra); /* room for len + extra + NUL */
int pm_buf_append(pm_buf_t *b, const void *p, size_t n);
int pm_buf_append_str(pm_buf_t *b, const char *s);
int pm_buf_append_char(pm_buf_t *b, char c);
int pm_buf_printf(pm_buf_t *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
