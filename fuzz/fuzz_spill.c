/* libFuzzer target: the spill reader on arbitrary file bytes.
 *
 * Input layout: byte 0 holds harness flags, the rest is the spill file,
 * written to a temp file and opened with pm_spill_reader_open(). Then every
 * bucket is visited and appended raw with pm_spill_reader_append_bucket()
 * (over 4096 buckets: the first 1024 and the last), the
 * totals are added up, the stats blob is read, and one out-of-range bucket is
 * asked for. Every call must return 0 or a negative PM_E* code; ASan and UBSan
 * catch any read out of bounds, and the visitor touches every byte it is
 * given so a text/meta pointer past the buffer shows up too.
 *
 * Flags:
 *   bit 0: recompute the footer checksum before writing the file, so that
 *          mutations get past the checksum to the layout checks and the
 *          visit code (a damaged file with a valid checksum is unlikely on
 *          disk, but the reader must still not trust the numbers it reads);
 *   bit 1: the visitor stops the visit after the first record (returns < 0);
 *   bit 2: visit bucket 0 again with lo = hi = the first key seen.
 *
 * The checksum fix-up is the spill library's own
 * (pm_spill_image_fix_checksum, spill_format.h), so it follows the format;
 * the seeds and regressions come from the current writer
 * (gen_spill_seeds.c, run by jobs/fuzz.sh at every build).
 *
 * With PM_FUZZ_REPORT=FILE set, each input appends one line to FILE: "deep"
 * when the reader opened it and every bucket was visited without error (the
 * code past the format checks ran), else "shallow: " and the reason.
 * jobs/fuzz.sh replays the seeds this way and fails when too few go deep. */
#include "pilemix/buf.h"
#include "pilemix/error.h"
#include "pilemix/spill.h"
#include "pilemix/spill_format.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STOP_RC (-1000)

static char spill_path[4096];
static FILE *report_file; /* PM_FUZZ_REPORT */

static void report(const char *what, const pm_error_t *err)
{
    if (!report_file)
        return;
    if (err) {
        fprintf(report_file, "shallow: %s: ", what);
        for (const char *p = err->msg; *p; p++) /* one line per input */
            fputc((unsigned char)*p < 0x20 ? '?' : *p, report_file);
        fputc('\n', report_file);
    } else {
        fprintf(report_file, "%s\n", what);
    }
    fflush(report_file);
}

static void cleanup(void) { unlink(spill_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(spill_path, sizeof spill_path, "%s/pm-fuzz-spill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(spill_path);
    if (fd < 0) {
        perror("fuzz_spill: mkstemp");
        abort();
    }
    close(fd);
    atexit(cleanup);
    const char *rep = getenv("PM_FUZZ_REPORT");
    if (rep && *rep && !(report_file = fopen(rep, "a"))) {
        perror("fuzz_spill: PM_FUZZ_REPORT");
        abort();
    }
    return 0;
}

typedef struct visit {
    int stop_after_first;
    int have_key;
    uint64_t first_key;
    uint64_t records;
    uint64_t lo, hi;
    unsigned sink;
} visit_t;

static int visitor(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    visit_t *v = vctx;
    if (rec->key < v->lo || rec->key > v->hi) {
        fprintf(stderr, "fuzz_spill: record key %llu outside [%llu, %llu]\n",
                (unsigned long long)rec->key, (unsigned long long)v->lo, (unsigned long long)v->hi);
        abort();
    }
    /* Read every byte handed out: ASan flags a pointer or length past the
     * reader's buffer. */
    unsigned s = 0;
    for (uint32_t i = 0; i < rec->text_len; i++)
        s += (unsigned char)text[i];
    for (uint32_t i = 0; i < rec->meta_len; i++)
        s += (unsigned char)meta[i];
    v->sink += s;
    if (!v->have_key) {
        v->have_key = 1;
        v->first_key = rec->key;
    }
    v->records++;
    return v->stop_after_first ? STOP_RC : 0;
}

static void check_rc(const char *what, int rc, const pm_error_t *err, int allow_stop)
{
    if (rc == 0 || (allow_stop && rc == STOP_RC))
        return;
    if (rc < PM_ESTATE || rc > 0) {
        fprintf(stderr, "fuzz_spill: %s returned %d\n", what, rc);
        abort();
    }
    if (!err->msg[0]) {
        fprintf(stderr, "fuzz_spill: %s failed (%d) without a message\n", what, rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    size_t n = size - 1;
    uint8_t *file = malloc(n ? n : 1);
    if (!file)
        return 0;
    memcpy(file, data + 1, n);
    if (flags & 1)
        pm_spill_image_fix_checksum(file, n);

    int fd = open(spill_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0 || (n && write(fd, file, n) != (ssize_t)n) || close(fd) != 0) {
        perror("fuzz_spill: writing the temp file");
        abort();
    }
    free(file);

    pm_spill_reader_t *r = NULL;
    pm_error_t err;
    memset(&err, 0, sizeof err);
    int rc = pm_spill_reader_open(&r, spill_path, &err);
    check_rc("pm_spill_reader_open", rc, &err, 0);
    if (rc < 0) {
        if (r) {
            fprintf(stderr, "fuzz_spill: failed open left a reader\n");
            abort();
        }
        report("open", &err);
        return 0;
    }

    uint32_t nb = pm_spill_reader_buckets(r);
    if (nb == 0) {
        fprintf(stderr, "fuzz_spill: reader with zero buckets\n");
        abort();
    }
    size_t stats_len = 0;
    const unsigned char *stats = pm_spill_reader_stats(r, &stats_len);
    unsigned s = 0;
    for (size_t i = 0; i < stats_len; i++)
        s += stats[i];

    if (nb <= (1u << 16)) {
        uint64_t *recs = calloc(nb, sizeof *recs), *bytes = calloc(nb, sizeof *bytes);
        if (recs && bytes) {
            rc = pm_spill_reader_add_totals(r, recs, bytes, &err);
            check_rc("pm_spill_reader_add_totals", rc, &err, 0);
        }
        free(recs);
        free(bytes);
    }

    visit_t v = {flags & 2 ? 1 : 0, 0, 0, 0, 0, UINT64_MAX, s};
    pm_buf_t raw;
    pm_buf_init(&raw);
    int visit_failed = 0;
    pm_error_t visit_err;
    pm_error_clear(&visit_err);
    for (uint64_t b = 0; b < nb; b++) {
        if (nb > 4096 && b == 1024)
            b = nb - 1;
        rc = pm_spill_reader_visit(r, (uint32_t)b, 0, UINT64_MAX, visitor, &v, &err);
        check_rc("pm_spill_reader_visit", rc, &err, v.stop_after_first);
        if (rc < 0 && rc != STOP_RC && !visit_failed++)
            visit_err = err;
        pm_buf_reset(&raw);
        rc = pm_spill_reader_append_bucket(r, (uint32_t)b, &raw, &err);
        check_rc("pm_spill_reader_append_bucket", rc, &err, 0);
        if (rc < 0 && !visit_failed++)
            visit_err = err;
        for (size_t i = 0; i < raw.len; i++)
            v.sink += (unsigned char)raw.data[i];
    }
    pm_buf_free(&raw);
    if (pm_spill_reader_append_bucket(r, nb, &raw, &err) >= 0) {
        fprintf(stderr, "fuzz_spill: appending bucket %u of %u did not fail\n", nb, nb);
        abort();
    }
    pm_buf_free(&raw);
    if ((flags & 4) && v.have_key) {
        v.lo = v.hi = v.first_key;
        rc = pm_spill_reader_visit(r, 0, v.lo, v.hi, visitor, &v, &err);
        check_rc("pm_spill_reader_visit (one key)", rc, &err, v.stop_after_first);
    }
    rc = pm_spill_reader_visit(r, nb, 0, UINT64_MAX, visitor, &v, &err);
    if (rc >= 0) {
        fprintf(stderr, "fuzz_spill: visiting bucket %u of %u did not fail\n", nb, nb);
        abort();
    }
    pm_spill_reader_close(r);
    if (visit_failed)
        report("visit", &visit_err);
    else
        report("deep", NULL);
    return 0;
}
