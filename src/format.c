/* The input format table (format.h). */
#include "pilemix/format.h"

#include <string.h>

typedef struct fmt_row {
    const char *suffix; /* with its dot */
    pm_format_t format;
    pm_codec_t codec;
    pm_content_t content;
} fmt_row_t;

/* Every suffix; a name takes the longest that matches (".jsonl.zst.tar"
 * over ".tar"). Names come from the first row of each format. */
static const fmt_row_t rows[] = {
    {".jsonl", PM_FORMAT_JSONL, PM_CODEC_NONE, PM_CONTENT_LINES},
    {".jsonl.zst", PM_FORMAT_JSONL_ZST, PM_CODEC_ZSTD, PM_CONTENT_LINES},
    {".jsonl.gz", PM_FORMAT_JSONL_GZ, PM_CODEC_GZIP, PM_CONTENT_LINES},
    {".jsonl.xz", PM_FORMAT_JSONL_XZ, PM_CODEC_XZ, PM_CONTENT_LINES},
    {".jsonl.bz2", PM_FORMAT_JSONL_BZ2, PM_CODEC_BZIP2, PM_CONTENT_LINES},
    {".json.gz", PM_FORMAT_JSON_GZ, PM_CODEC_GZIP, PM_CONTENT_LINES},
    {".json.zst", PM_FORMAT_JSON_ZST, PM_CODEC_ZSTD, PM_CONTENT_ARRAY},
    {".tar", PM_FORMAT_TAR, PM_CODEC_NONE, PM_CONTENT_ARCHIVE},
    {".jsonl.zst.tar", PM_FORMAT_TAR, PM_CODEC_NONE, PM_CONTENT_ARCHIVE},
    {".tar.gz", PM_FORMAT_TAR_GZ, PM_CODEC_GZIP, PM_CONTENT_ARCHIVE},
    {".tgz", PM_FORMAT_TAR_GZ, PM_CODEC_GZIP, PM_CONTENT_ARCHIVE},
    {".zip", PM_FORMAT_ZIP, PM_CODEC_NONE, PM_CONTENT_ARCHIVE},
    {".txt", PM_FORMAT_TXT, PM_CODEC_NONE, PM_CONTENT_TEXT},
    {".txt.gz", PM_FORMAT_TXT_GZ, PM_CODEC_GZIP, PM_CONTENT_TEXT},
    {".txt.zst", PM_FORMAT_TXT_ZST, PM_CODEC_ZSTD, PM_CONTENT_TEXT},
};
#define N_ROWS (sizeof rows / sizeof *rows)

static const fmt_row_t *row_of(pm_format_t f)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].format == f)
            return &rows[i];
    return &rows[0];
}

int pm_format_from_name(const char *name)
{
    size_t n = strlen(name), best = 0;
    int fmt = -1;
    for (size_t i = 0; i < N_ROWS; i++) {
        size_t m = strlen(rows[i].suffix);
        if (n >= m && m > best && !memcmp(name + n - m, rows[i].suffix, m)) {
            best = m;
            fmt = (int)rows[i].format;
        }
    }
    return fmt;
}

const char *pm_format_name(pm_format_t f) { return row_of(f)->suffix + 1; }

int pm_format_from_string(const char *s)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (!strcmp(rows[i].suffix + 1, s))
            return (int)rows[i].format;
    return -1;
}

pm_codec_t pm_format_codec(pm_format_t f) { return row_of(f)->codec; }
pm_content_t pm_format_content(pm_format_t f) { return row_of(f)->content; }

bool pm_format_compressed(pm_format_t f)
{
    return row_of(f)->codec != PM_CODEC_NONE || row_of(f)->content == PM_CONTENT_ARCHIVE;
}

const char *pm_format_list(void)
{
    return ".jsonl, .jsonl.zst, .jsonl.gz, .jsonl.xz, .jsonl.bz2, .json.gz, .json.zst, .tar, "
           ".jsonl.zst.tar, .tar.gz, .tgz, .zip, .txt, .txt.gz, .txt.zst";
}
