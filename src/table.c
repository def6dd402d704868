#include "pilemix/table.h"

#include "pilemix/error.h"
#include "pilemix/width.h"

#include <stdlib.h>
#include <string.h>

int pm_table_init(pm_table_t *t, size_t n_cols, const char *const *head, const pm_align_t *align)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
    t->align = malloc(n_cols * sizeof *t->align);
    t->width = calloc(n_cols, sizeof *t->width);
    if (!t->align || !t->width) {
        pm_table_close(t);
        return PM_ENOMEM;
    }
    memcpy(t->align, align, n_cols * sizeof *align);
    int rc = pm_table_add(t, head);
    if (rc == 0)
        rc = pm_table_rule(t);
    return rc;
}

void pm_table_close(pm_table_t *t)
{
    if (t->cells)
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
            free(t->cells[i]);
    free(t->cells);
    free(t->align);
    free(t->width);
    memset(t, 0, sizeof *t);
}

/* Room for one more row, its cells NULL. */
static char **new_row(pm_table_t *t)
{
    if (!t->align) {
        t->failed = 1;
        return NULL;
    }
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 16;
        char **cells = realloc(t->cells, cap * t->n_cols * sizeof *cells);
        if (!cells) {
            t->failed = 1;
            return NULL;
        }
        t->cells = cells;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    memset(row, 0, t->n_cols * sizeof *row);
    t->n_rows++;
    return row;
}

int pm_table_add(pm_table_t *t, const char *const *cells)
{
    char **row = new_row(t);
    if (!row)
        return PM_ENOMEM;
    for (size_t k = 0; k < t->n_cols; k++) {
        const char *s = cells[k] ? cells[k] : "";
        /* An empty string marks a data row's empty cell; NULL marks a rule. */
        if (!(row[k] = strdup(s))) {
            t->failed = 1;
            return PM_ENOMEM;
        }
        size_t w = pm_width_str(s);
        if (w > t->width[k])
            t->width[k] = w;
    }
    return 0;
}

int pm_table_rule(pm_table_t *t) { return new_row(t) ? 0 : PM_ENOMEM; }

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

void pm_table_print(const pm_table_t *t, FILE *out)
{
    size_t total = 0;
    for (size_t k = 0; k < t->n_cols; k++)
        total += t->width[k] + (k ? 2 : 0);
    /* The last non-empty cell ends the line: no trailing blanks. */
    for (size_t r = 0; r < t->n_rows; r++) {
        char **row = t->cells + r * t->n_cols;
        if (t->n_cols && !row[0]) {
            for (size_t i = 0; i < total; i++)
                fputc('-', out);
            fputc('\n', out);
            continue;
        }
        size_t last = 0;
        for (size_t k = 0; k < t->n_cols; k++)
            if (row[k] && row[k][0])
                last = k;
        size_t owed = 0; /* blanks owed before the next cell */
        for (size_t k = 0; k <= last; k++) {
            const char *s = row[k] ? row[k] : "";
            size_t gap = t->width[k] - pm_width_str(s);
            owed += k ? 2 : 0;
            if (t->align[k] == PM_ALIGN_RIGHT)
                owed += gap;
            if (*s) {
                pad(out, owed);
                fputs(s, out);
                owed = 0;
            }
            if (t->align[k] == PM_ALIGN_LEFT)
                owed += gap;
        }
        fputc('\n', out);
    }
    if (t->failed)
        fputs("(out of memory: table incomplete)\n", out);
}

char *pm_fmt_count(uint64_t n, char *out)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    char *p = out;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
    return out;
}

char *pm_fmt_bytes(double bytes, char *out)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
        bytes /= 1024.0;
        u++;
    }
    /* 1023.96 KiB would print as "1024.0 KiB": say 1.0 MiB instead. */
    if (u > 0 && bytes >= 1023.95 && u + 1 < sizeof units / sizeof *units) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(out, PM_FMT_MAX, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return out;
}

char *pm_fmt_epochs(double x, char *out)
{
    snprintf(out, PM_FMT_MAX, "%.4f", x);
    size_t len = strlen(out);
    while (len > 2 && out[len - 1] == '0' && out[len - 2] != '.')
        out[--len] = '\0';
    return out;
}
