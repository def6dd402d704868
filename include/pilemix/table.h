/* pm_table_t: a text table whose columns line up in a terminal, and the
 * number formats the tables use.
 *
 * Cells are UTF-8; columns are as wide as their widest cell by display
 * width (width.h), so CJK and emoji names line up whatever the locale. A
 * column is left- or right-aligned (numbers right); columns are separated
 * by two spaces, and no line has trailing blanks. A rule (a line of '-' as
 * wide as the table) can go between rows.
 *
 * The table owns copies of its cells. Every fallible call returns 0 or
 * PM_ENOMEM and leaves the table usable; printing a table that hit an
 * allocation failure prints what it has and a note. */
#ifndef PILEMIX_TABLE_H
#define PILEMIX_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum pm_align { PM_ALIGN_LEFT, PM_ALIGN_RIGHT } pm_align_t;

typedef struct pm_table {
    size_t n_cols, n_rows, cap_rows;
    pm_align_t *align;
    char **cells;  /* n_rows * n_cols; a rule row has NULL cells */
    size_t *width; /* per column */
    int failed;    /* an allocation failed: the table is incomplete */
} pm_table_t;

/* A table of n_cols columns with header cells head[] (a row like any other,
 * followed by a rule) and alignments align[]. */
int pm_table_init(pm_table_t *t, size_t n_cols, const char *const *head, const pm_align_t *align);
void pm_table_close(pm_table_t *t); /* accepts a zeroed table */

/* Add a row of n_cols cells (NULL cells print empty). */
int pm_table_add(pm_table_t *t, const char *const *cells);
/* Add a rule. */
int pm_table_rule(pm_table_t *t);

void pm_table_print(const pm_table_t *t, FILE *out);

/* Number cells, written to out (at least PM_FMT_MAX bytes), which is
 * returned: "1,234,567" (thousands separators, whatever the locale) and
 * "512 B", "1.5 KiB", "3.2 GiB" (powers of 1024, one decimal). */
#define PM_FMT_MAX 32
char *pm_fmt_count(uint64_t n, char *out);
char *pm_fmt_bytes(double bytes, char *out);
/* "3.0", "1.5", "0.95": epochs as the Pile paper writes them (at least one
 * decimal, at most four). */
char *pm_fmt_epochs(double epochs, char *out);

#endif
