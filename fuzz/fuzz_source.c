/* libFuzzer target: the document source (source.h) on arbitrary file bytes.
 *
 * Input byte 0 picks the format (mod PM_FORMAT_COUNT); the rest is the file,
 * written to a temporary file (the source reads paths, as the scatter does).
 * Every document until the end or an error is taken, and checked:
 *   - an error is a filled error record (code and message), never a crash,
 *     an out-of-bounds read (ASan) or a leak;
 *   - a document is at most max_record bytes (or a prefix of at most 4 KiB
 *     flagged too_long with full_len > max_record), member 0 outside
 *     archives and a known member (with its path) inside them; offsets in
 *     one member never go back; the probe (the plan's look) never crashes.
 * Seeds (jobs/fuzz.sh builds them with gzip, xz, zstd, tar, zip): one small
 * valid file per format. With PM_FUZZ_REPORT=FILE, each input appends "deep"
 * when the source yielded a document, else "shallow: <error>". */
#include "pilemix/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RECORD 4096u

static FILE *report_file;
static char path[64];

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_source: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *rep = getenv("PM_FUZZ_REPORT");
    if (rep && *rep)
        report_file = fopen(rep, "a");
    snprintf(path, sizeof path, "/tmp/pm_fuzz_source.%ld", (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    pm_format_t fmt = (pm_format_t)(data[0] % PM_FORMAT_COUNT);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0)
        fail("cannot write the temporary file");
    pm_error_t err;
    pm_error_clear(&err);
    (void)pm_source_probe(path, fmt, &err);
    char *excl[] = {"*/skip*"};
    pm_source_opts_t opts = {MAX_RECORD, "in", excl, 1};
    pm_source_t *s = NULL;
    pm_error_clear(&err);
    int rc = pm_source_open(&s, path, "in", fmt, &opts, &err);
    size_t docs = 0;
    uint32_t member = 0;
    uint64_t last_off = 0;
    while (rc == 0) {
        pm_doc_t d;
        int r = pm_source_next(s, &d, &err);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 0)
            break;
        docs++;
        if (d.line.too_long ? (d.line.full_len <= MAX_RECORD || d.line.len > 4096)
                            : (d.line.len > MAX_RECORD || d.line.full_len != d.line.len))
            fail("a document breaks max_record");
        if (d.line.len && !d.line.data)
            fail("no data");
        if (pm_format_content(fmt) != PM_CONTENT_ARCHIVE) {
            if (d.member != 0 || d.member_path)
                fail("a member outside an archive");
        } else if (d.member == 0 || d.member > pm_source_members(s) ||
                   strcmp(d.member_path, pm_source_member(s, d.member)) != 0) {
            fail("an unknown member");
        }
        if (d.member == member && d.line.offset < last_off)
            fail("offsets go back within a member");
        member = d.member;
        last_off = d.line.offset;
    }
    if (rc < 0 && (err.code != rc || !err.msg[0]))
        fail("an error without its record");
    if (report_file) {
        if (docs)
            fprintf(report_file, "deep\n");
        else
            fprintf(report_file, "shallow: %.60s\n", rc < 0 ? err.msg : "no document");
        fflush(report_file);
    }
    pm_source_close(s);
    unlink(path);
    return 0;
}
