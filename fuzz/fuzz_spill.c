/* libFuzzer target: the spill stream reader on arbitrary file bytes.
 *
 * Input layout: byte 0 holds harness flags, the rest is a spill stream,
 * written to DIR/a1-r0.spill. The stream is verified
 * (pm_spill_verify_stream), then opened as a set twice: trusting what the
 * verification found, and trusting every well-formed commit (as for a run's
 * own streams). For each set every bucket is visited and appended raw (over
 * 4096 buckets: the first 1024 and the last), the totals are added up, the
 * committed tasks' blobs are read, and one out-of-range bucket is asked for.
 * Every call must return 0 or a negative PM_E* code; ASan and UBSan catch
 * any read out of bounds, and the visitor touches every byte it is given so
 * a text/meta pointer past the buffer shows up too. The bucket count is the
 * head block's (1 when it does not parse); tasks are 0..63.
 *
 * Flags:
 *   bit 0: recompute every commit's checksum and data hash before writing
 *          the file (pm_spill_image_fix_checksums), so that mutations get
 *          past the checksums to the layout checks and the reading code (a
 *          damaged file with valid checksums is unlikely on disk, but the
 *          reader must still not trust the numbers it reads);
 *   bit 1: the visitor stops the visit after the first record (returns < 0);
 *   bit 2: visit bucket 0 again with lo = hi = the first key seen.
 *
 * The seeds and regressions come from the current writer (gen_spill_seeds.c,
 * run by jobs/fuzz.sh at every build).
 *
 * With PM_FUZZ_REPORT=FILE set, each input appends one line to FILE: "deep"
 * when a set committed at least one task and every bucket was visited
 * without error (the code past the format checks ran), else "shallow: " and
 * the reason. jobs/fuzz.sh replays the seeds this way and fails when too few
 * go deep. */
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
#define N_TASKS 64

static char spill_dir[4096], spill_path[4200];
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

static void cleanup(void)
{
    unlink(spill_path);
    rmdir(spill_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(spill_dir, sizeof spill_dir, "%s/pm-fuzz-spill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(spill_dir)) {
        perror("fuzz_spill: mkdtemp");
        abort();
    }
    snprintf(spill_path, sizeof spill_path, "%s/a1-r0.spill", spill_dir);
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

static int take_blob(void *ctx, uint32_t task, const void *blob, size_t len)
{
    unsigned *sink = ctx;
    if (task >= N_TASKS) {
        fprintf(stderr, "fuzz_spill: task %u past the %u given\n", task, N_TASKS);
        abort();
    }
    for (size_t i = 0; i < len; i++)
        *sink += ((const unsigned char *)blob)[i];
    return 0;
}

/* The verifier does not know the plan: any task number may come. */
static int any_blob(void *ctx, uint32_t task, const void *blob, size_t len)
{
    unsigned *sink = ctx;
    *sink += task;
    for (size_t i = 0; i < len; i++)
        *sink += ((const unsigned char *)blob)[i];
    return 0;
}

/* Read everything of a set; 1 when it went deep. */
static int read_set(uint64_t valid_end, uint32_t nb, unsigned flags, pm_error_t *why)
{
    pm_spill_stream_id_t id = {1, 0, valid_end};
    pm_spill_set_t *set = NULL;
    pm_error_t err;
    memset(&err, 0, sizeof err);
    unsigned sink = 0;
    int rc = pm_spill_set_open(&set, spill_dir, &id, 1, N_TASKS, nb, take_blob, &sink, &err);
    check_rc("pm_spill_set_open", rc, &err, 0);
    if (rc < 0) {
        if (set) {
            fprintf(stderr, "fuzz_spill: failed open left a set\n");
            abort();
        }
        *why = err;
        return 0;
    }
    int tasks = 0;
    for (uint32_t t = 0; t < N_TASKS; t++)
        tasks += pm_spill_set_has_task(set, t);
    if (nb <= (1u << 16)) {
        uint64_t *recs = calloc(nb, sizeof *recs), *bytes = calloc(nb, sizeof *bytes);
        if (recs && bytes) {
            rc = pm_spill_set_add_totals(set, 0, 1, recs, bytes, &err);
            check_rc("pm_spill_set_add_totals", rc, &err, 0);
        }
        free(recs);
        free(bytes);
    }
    visit_t v = {flags & 2 ? 1 : 0, 0, 0, 0, 0, UINT64_MAX, sink};
    pm_buf_t raw;
    pm_buf_init(&raw);
    int failed = 0;
    for (uint64_t b = 0; b < nb; b++) {
        if (nb > 4096 && b == 1024)
            b = nb - 1;
        rc = pm_spill_set_visit(set, (uint32_t)b, 0, UINT64_MAX, visitor, &v, &err);
        check_rc("pm_spill_set_visit", rc, &err, v.stop_after_first);
        if (rc < 0 && rc != STOP_RC && !failed++)
            *why = err;
        pm_buf_reset(&raw);
        rc = pm_spill_set_append_bucket(set, (uint32_t)b, &raw, &err);
        check_rc("pm_spill_set_append_bucket", rc, &err, 0);
        if (rc < 0 && !failed++)
            *why = err;
        for (size_t i = 0; i < raw.len; i++)
            v.sink += (unsigned char)raw.data[i];
    }
    if (pm_spill_set_append_bucket(set, nb, &raw, &err) >= 0) {
        fprintf(stderr, "fuzz_spill: appending bucket %u of %u did not fail\n", nb, nb);
        abort();
    }
    pm_buf_free(&raw);
    if ((flags & 4) && v.have_key) {
        v.lo = v.hi = v.first_key;
        rc = pm_spill_set_visit(set, 0, v.lo, v.hi, visitor, &v, &err);
        check_rc("pm_spill_set_visit (one key)", rc, &err, v.stop_after_first);
    }
    if (pm_spill_set_visit(set, nb, 0, UINT64_MAX, visitor, &v, &err) >= 0) {
        fprintf(stderr, "fuzz_spill: visiting bucket %u of %u did not fail\n", nb, nb);
        abort();
    }
    pm_spill_set_close(set);
    if (!failed && tasks == 0)
        snprintf(why->msg, sizeof why->msg, "no task committed");
    return !failed && tasks > 0;
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
        pm_spill_image_fix_checksums(file, n);
    /* The bucket count the run would expect: the head's, when it has one
     * (bounded, so a mutated count does not make every call huge). */
    uint32_t nb = 1;
    pm_spill_block_t b;
    pm_spill_head_t h;
    if (n >= sizeof b + sizeof h) {
        memcpy(&b, file, sizeof b);
        memcpy(&h, file + sizeof b, sizeof h);
        if (b.type == PM_SPILL_HEAD && h.n_buckets > 0 && h.n_buckets <= (1u << 20))
            nb = h.n_buckets;
    }
    int fd = open(spill_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (n && write(fd, file, n) != (ssize_t)n) || close(fd) != 0) {
        perror("fuzz_spill: writing the temp file");
        abort();
    }
    free(file);

    pm_error_t err;
    memset(&err, 0, sizeof err);
    uint64_t end = 0;
    unsigned sink = 0;
    int rc = pm_spill_verify_stream(spill_path, nb, &end, any_blob, &sink, &err);
    check_rc("pm_spill_verify_stream", rc, &err, 0);
    if (rc < 0 || end > n) {
        fprintf(stderr, "fuzz_spill: verifying a readable file: %d, end %llu of %zu\n", rc,
                (unsigned long long)end, n);
        abort();
    }
    pm_error_t why;
    memset(&why, 0, sizeof why);
    int deep = 0;
    if (end > 0)
        deep = read_set(end, nb, flags, &why);
    int deep_all = read_set(UINT64_MAX, nb, flags, &why);
    if (deep || deep_all)
        report("deep", NULL);
    else
        report(end ? "read" : "verify", &why);
    return 0;
}
