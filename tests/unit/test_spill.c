/* spill.h: streams written task after task and read back as a set: every
 * committed record once, in its bucket, in arrival order per stream, raw and
 * zstd-compressed; what is not committed (a dropped task, a killed rank's
 * tail, a task an earlier stream committed) is never returned; the data
 * hash finds a damaged or cut stream; the set holds few files open. */
#include "pilemix/spill.h"
#include "pilemix/spill_format.h"
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct want {
    pm_spill_rec_t rec;
    char *text, *meta;
    uint32_t bucket;
    uint32_t stream;
    bool committed;
    int seen;
} want_t;

/* rec.offset carries the record's index in the want table. */
typedef struct visit_ctx {
    want_t *w;
    size_t n;
    uint32_t bucket;
    size_t visited;
    int64_t last; /* arrival order per stream: indexes grow */
    uint32_t last_stream;
} visit_ctx_t;

static int check_visit(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    visit_ctx_t *c = vctx;
    ck_assert_uint_lt(rec->offset, c->n);
    want_t *w = &c->w[rec->offset];
    ck_assert(w->committed);
    ck_assert_uint_eq(w->bucket, c->bucket);
    ck_assert_uint_eq(w->rec.key, rec->key);
    ck_assert_uint_eq(w->rec.file, rec->file);
    ck_assert_uint_eq(w->rec.text_len, rec->text_len);
    ck_assert_uint_eq(w->rec.meta_len, rec->meta_len);
    ck_assert(memcmp(w->text, text, rec->text_len) == 0);
    ck_assert(memcmp(w->meta, meta, rec->meta_len) == 0);
    ck_assert_int_eq(w->seen, 0);
    if (w->stream == c->last_stream)
        ck_assert_int_gt((int64_t)rec->offset, c->last);
    ck_assert_uint_ge(w->stream, c->last_stream); /* streams in the set's order */
    c->last_stream = w->stream;
    c->last = (int64_t)rec->offset;
    w->seen = 1;
    c->visited++;
    return 0;
}

static void make_want(want_t *w, uint64_t *s, size_t i, uint32_t task, uint32_t buckets,
                      size_t text_len)
{
    size_t ml = (size_t)(pm_test_rand(s) % 20);
    w->text = malloc(text_len + 1);
    w->meta = malloc(ml + 1);
    for (size_t k = 0; k < text_len; k++)
        w->text[k] = (char)pm_test_rand(s);
    for (size_t k = 0; k < ml; k++)
        w->meta[k] = (char)('a' + k % 26);
    w->rec = (pm_spill_rec_t){pm_test_rand(s), i, task, 0, (uint32_t)text_len, (uint32_t)ml, 0, 0};
    w->bucket = (uint32_t)(pm_test_rand(s) % buckets);
}

static void free_want(want_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].text);
        free(w[i].meta);
    }
    free(w);
}

static pm_spill_stream_t *open_stream(const char *dir, uint32_t attempt, uint32_t rank,
                                      uint32_t buckets, size_t arena, pm_spill_arena_t *staging,
                                      int level)
{
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, attempt, rank), 0);
    pm_spill_stream_t *s;
    pm_error_t err;
    ck_assert_int_eq(pm_spill_stream_open(&s, p.data, buckets, arena, staging, level, &err), 0);
    /* A name is never reused. */
    pm_spill_stream_t *again;
    ck_assert_int_eq(pm_spill_stream_open(&again, p.data, buckets, arena, NULL, level, &err),
                     PM_EIO);
    pm_buf_free(&p);
    return s;
}

typedef struct blobs {
    uint32_t tasks[64];
    uint64_t first_word[64];
    size_t n;
} blobs_t;

static int note_blob(void *ctx, uint32_t task, const void *blob, size_t len)
{
    blobs_t *b = ctx;
    ck_assert_uint_eq(len, 3 * sizeof(uint64_t));
    ck_assert_uint_lt(b->n, 64);
    b->tasks[b->n] = task;
    memcpy(&b->first_word[b->n], blob, 8);
    b->n++;
    return 0;
}

/* Every bucket visited and appended: exactly the committed records, and
 * append_bucket gives the bytes visit gives. */
static void check_set(pm_spill_set_t *set, want_t *w, size_t n, uint32_t buckets)
{
    pm_error_t err;
    uint64_t *counts = calloc(buckets, 8), *bytes = calloc(buckets, 8);
    ck_assert_int_eq(pm_spill_set_add_totals(set, 0, 1, counts, bytes, &err), 0);
    size_t total = 0, want_total = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].seen = 0;
        want_total += w[i].committed;
    }
    pm_buf_t raw;
    pm_buf_init(&raw);
    for (uint32_t b = 0; b < buckets; b++) {
        visit_ctx_t c = {w, n, b, 0, -1, 0};
        ck_assert_int_eq(pm_spill_set_visit(set, b, 0, UINT64_MAX, check_visit, &c, &err), 0);
        ck_assert_uint_le(c.visited, counts[b]); /* totals: an upper bound */
        total += c.visited;
        pm_buf_reset(&raw);
        ck_assert_int_eq(pm_spill_set_append_bucket(set, b, &raw, &err), 0);
        size_t k = 0, off = 0;
        for (; off < raw.len; k++) {
            pm_spill_rec_t r;
            memcpy(&r, raw.data + off, sizeof r);
            ck_assert_uint_lt(r.offset, n);
            ck_assert(w[r.offset].committed && w[r.offset].bucket == b);
            off += PM_SPILL_REC_HEADER + r.text_len + r.meta_len;
        }
        ck_assert_uint_eq(off, raw.len);
        ck_assert_uint_eq(k, c.visited);
    }
    ck_assert_uint_eq(total, want_total);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(w[i].seen, w[i].committed);

    /* A key sub-range returns exactly the committed records inside it. */
    for (size_t i = 0; i < n; i++)
        w[i].seen = 0;
    uint64_t lo = UINT64_MAX / 4, hi = UINT64_MAX / 2;
    size_t in_range = 0, visited = 0;
    for (size_t i = 0; i < n; i++)
        in_range += w[i].committed && w[i].rec.key >= lo && w[i].rec.key <= hi;
    for (uint32_t b = 0; b < buckets; b++) {
        visit_ctx_t c = {w, n, b, 0, -1, 0};
        ck_assert_int_eq(pm_spill_set_visit(set, b, lo, hi, check_visit, &c, &err), 0);
        visited += c.visited;
    }
    ck_assert_uint_eq(visited, in_range);
    pm_buf_free(&raw);
    free(counts);
    free(bytes);
}

/* n records of tasks 0, 1, ... (a task every ~n/tasks records) through one
 * stream; record n/2 is larger than the whole arena. */
static void round_trip_in(size_t n, uint32_t buckets, size_t arena, size_t max_text, int level,
                          pm_spill_arena_t *staging)
{
    char *dir = pm_test_tmpdir();
    uint64_t s = pm_test_seed();
    want_t *w = calloc(n, sizeof *w);
    pm_error_t err;
    pm_spill_stream_t *sw = open_stream(dir, 1, 0, buckets, arena, staging, level);
    uint32_t task = 0;
    uint64_t blob[3] = {0, 2, 3};
    ck_assert_int_eq(pm_spill_stream_begin_task(sw, task, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (pm_test_rand(&s) % 97 == 0) { /* next task */
            blob[0] = task;
            ck_assert_int_eq(pm_spill_stream_end_task(sw, blob, sizeof blob, &err), 0);
            ck_assert_int_eq(pm_spill_stream_begin_task(sw, ++task, &err), 0);
        }
        size_t tl = (size_t)(pm_test_rand(&s) % (max_text + 1));
        if (i == n / 2)
            tl = arena * 2; /* one record bigger than the whole arena */
        make_want(&w[i], &s, i, task, buckets, tl);
        w[i].committed = true;
        ck_assert_int_eq(
            pm_spill_stream_add(sw, w[i].bucket, &w[i].rec, w[i].text, w[i].meta, &err), 0);
    }
    blob[0] = task;
    ck_assert_int_eq(pm_spill_stream_end_task(sw, blob, sizeof blob, &err), 0);
    ck_assert_int_eq(pm_spill_stream_close(sw, &err), 0);

    /* Every commit's data hash holds: the verifier trusts the whole file. */
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, 1, 0), 0);
    uint64_t end;
    blobs_t seen = {.n = 0};
    ck_assert_int_eq(pm_spill_verify_stream(p.data, buckets, &end, note_blob, &seen, &err), 0);
    struct stat sb;
    ck_assert_int_eq(stat(p.data, &sb), 0);
    ck_assert_uint_eq(end, (uint64_t)sb.st_size);
    ck_assert_uint_eq(seen.n, task + 1);
    for (uint32_t t = 0; t <= task; t++) {
        ck_assert_uint_eq(seen.tasks[t], t);
        ck_assert_uint_eq(seen.first_word[t], t);
    }
    /* The same layout is a condition: another bucket count trusts nothing. */
    ck_assert_int_eq(pm_spill_verify_stream(p.data, buckets + 1, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, 0);

    pm_spill_stream_id_t id = {1, 0, UINT64_MAX};
    pm_spill_set_t *set;
    blobs_t got = {.n = 0};
    ck_assert_int_eq(pm_spill_set_open(&set, dir, &id, 1, task + 1, buckets, note_blob, &got, &err),
                     0);
    ck_assert_uint_eq(got.n, task + 1);
    for (uint32_t t = 0; t <= task; t++)
        ck_assert(pm_spill_set_has_task(set, t));
    check_set(set, w, n, buckets);
    pm_spill_io_t io;
    pm_spill_set_io(set, &io);
    ck_assert_uint_eq(io.streams, 1);
    ck_assert_uint_eq(io.max_open, 1);
    pm_spill_set_close(set);
    pm_buf_free(&p);
    free_want(w, n);
    pm_test_rmdir(dir);
}

START_TEST(test_round_trip_one_run) { round_trip_in(500, 7, 64u << 20, 300, 0, NULL); }
END_TEST

START_TEST(test_round_trip_many_runs) { round_trip_in(3000, 13, 1u << 20, 3000, 0, NULL); }
END_TEST

START_TEST(test_round_trip_large_records) { round_trip_in(200, 3, 1u << 20, 600000, 0, NULL); }
END_TEST

START_TEST(test_round_trip_compressed)
{
    round_trip_in(3000, 13, 1u << 20, 3000, 1, NULL);
    round_trip_in(200, 3, 1u << 20, 600000, 3, NULL);
    round_trip_in(500, 7, 64u << 20, 300, -1, NULL); /* zstd --fast */
}
END_TEST

/* One caller-kept arena through streams of growing and shrinking budgets:
 * grown when too small, reused as it is otherwise, never freed by a stream
 * (valgrind and ASan would see a double free or a leak). */
START_TEST(test_arena_reused_across_streams)
{
    pm_spill_arena_t staging = {0};
    round_trip_in(300, 5, 1u << 20, 3000, 0, &staging);
    ck_assert_uint_ge(staging.cap, 1u << 20);
    char *first = staging.data;
    round_trip_in(300, 5, 1u << 20, 3000, 0, &staging);
    ck_assert_ptr_eq(staging.data, first); /* same size: the same memory */
    round_trip_in(300, 5, 4u << 20, 3000, 0, &staging);
    ck_assert_uint_ge(staging.cap, 4u << 20);
    round_trip_in(300, 5, 2u << 20, 3000, 0, &staging); /* smaller: kept */
    ck_assert_uint_ge(staging.cap, 4u << 20);
    pm_spill_arena_free(&staging);
    ck_assert_ptr_null(staging.data);
    ck_assert_uint_eq(staging.cap, 0);
}
END_TEST

/* Add records of task to a stream; some land in written runs (the arena is
 * small), the rest stay staged. */
static size_t add_task(pm_spill_stream_t *sw, want_t *w, size_t at, size_t count, uint32_t task,
                       uint32_t stream, bool committed, uint64_t *s)
{
    pm_error_t err;
    ck_assert_int_eq(pm_spill_stream_begin_task(sw, task, &err), 0);
    for (size_t i = at; i < at + count; i++) {
        make_want(&w[i], s, i, task, 5, 1000 + (size_t)(pm_test_rand(s) % 3000));
        w[i].stream = stream;
        w[i].committed = committed;
        ck_assert_int_eq(
            pm_spill_stream_add(sw, w[i].bucket, &w[i].rec, w[i].text, w[i].meta, &err), 0);
    }
    return at + count;
}

/* What a reader must never see: a task dropped after part of it reached a
 * run (on_bad_file "skip": it commits empty), the records of a task a
 * killed rank never committed (whether in runs or not), and a task's
 * records in a later stream when an earlier stream committed it. */
START_TEST(test_uncommitted_records_are_ignored)
{
    char *dir = pm_test_tmpdir();
    uint64_t s = pm_test_seed();
    size_t n = 4000;
    want_t *w = calloc(n, sizeof *w);
    pm_error_t err;
    uint64_t blob[3] = {0};
    /* Stream a1-r0: task 0 committed, task 1 dropped after ~2 runs, then
     * committed empty, task 2 committed. */
    pm_spill_stream_t *a = open_stream(dir, 1, 0, 5, 1u << 20, NULL, 0);
    size_t at = add_task(a, w, 0, 300, 0, 0, true, &s);
    blob[0] = 100;
    ck_assert_int_eq(pm_spill_stream_end_task(a, blob, sizeof blob, &err), 0);
    at = add_task(a, w, at, 1000, 1, 0, false, &s);
    uint64_t before = pm_spill_stream_bytes(a);
    pm_spill_stream_drop_task(a);
    ck_assert_uint_eq(pm_spill_stream_bytes(a), before); /* written runs stay */
    ck_assert_uint_gt(before, 1u << 20);                 /* some of task 1 reached a run */
    ck_assert_int_eq(pm_spill_stream_begin_task(a, 1, &err), 0);
    pm_spill_stream_drop_task(a);
    blob[0] = 101;
    ck_assert_int_eq(pm_spill_stream_end_task(a, blob, sizeof blob, &err), 0);
    at = add_task(a, w, at, 300, 2, 0, true, &s);
    blob[0] = 102;
    ck_assert_int_eq(pm_spill_stream_end_task(a, blob, sizeof blob, &err), 0);
    ck_assert_int_eq(pm_spill_stream_close(a, &err), 0);

    /* Stream a1-r1 (a rank killed mid-task): task 3 committed; task 5 partly
     * in runs, partly staged when the rank dies. Also a copy of task 0,
     * committed: stream a1-r0 comes first, so this one's records of task 0
     * are not read. */
    pm_spill_stream_t *b = open_stream(dir, 1, 1, 5, 1u << 20, NULL, 0);
    at = add_task(b, w, at, 200, 0, 1, false, &s);
    blob[0] = 200;
    ck_assert_int_eq(pm_spill_stream_end_task(b, blob, sizeof blob, &err), 0);
    at = add_task(b, w, at, 300, 3, 1, true, &s);
    blob[0] = 103;
    ck_assert_int_eq(pm_spill_stream_end_task(b, blob, sizeof blob, &err), 0);
    at = add_task(b, w, at, 1000, 5, 1, false, &s); /* flushes: task 3 commits */
    pm_spill_stream_abort(b);                       /* killed */

    pm_spill_stream_id_t ids[2] = {{1, 0, UINT64_MAX}, {1, 1, UINT64_MAX}};
    pm_spill_set_t *set;
    blobs_t got = {.n = 0};
    ck_assert_int_eq(pm_spill_set_open(&set, dir, ids, 2, 6, 5, note_blob, &got, &err), 0);
    ck_assert_uint_eq(got.n, 4); /* tasks 0, 1, 2 of a1-r0 and 3 of a1-r1 */
    static const uint64_t want_blob[] = {100, 101, 102, 103};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(got.tasks[i], i);
        ck_assert_uint_eq(got.first_word[i], want_blob[i]);
    }
    ck_assert(pm_spill_set_has_task(set, 1));
    ck_assert(!pm_spill_set_has_task(set, 5));
    check_set(set, w, at, 5);
    pm_spill_set_close(set);

    /* The killed rank's stream verifies up to its last commit. */
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, 1, 1), 0);
    uint64_t end;
    blobs_t seen = {.n = 0};
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 5, &end, note_blob, &seen, &err), 0);
    struct stat sb;
    ck_assert_int_eq(stat(p.data, &sb), 0);
    ck_assert_uint_gt(end, 0);
    ck_assert_uint_lt(end, (uint64_t)sb.st_size);
    ck_assert_uint_eq(seen.n, 2);
    pm_buf_free(&p);
    free_want(w, n);
    pm_test_rmdir(dir);
}
END_TEST

/* XOR the byte at off of the file at path with mask. */
static void flip_byte(const char *path, off_t off, char mask)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, off), 1);
    c ^= mask;
    ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Ten tasks of 50 records, each committed after a run of its own. Returns
 * the offsets of the commits' ends in ends[10]. */
static void ten_tasks(const char *dir, uint64_t *ends)
{
    uint64_t s = pm_test_seed();
    want_t w[50];
    pm_error_t err;
    pm_spill_stream_t *sw = open_stream(dir, 1, 0, 4, 1u << 20, NULL, 0);
    for (uint32_t t = 0; t < 10; t++) {
        ck_assert_int_eq(pm_spill_stream_begin_task(sw, t, &err), 0);
        for (size_t i = 0; i < 50; i++) {
            make_want(&w[i], &s, i, t, 4, 100);
            ck_assert_int_eq(
                pm_spill_stream_add(sw, w[i].bucket, &w[i].rec, w[i].text, w[i].meta, &err), 0);
        }
        for (size_t i = 0; i < 50; i++) {
            free(w[i].text);
            free(w[i].meta);
        }
        uint64_t blob[3] = {t, 0, 0};
        ck_assert_int_eq(pm_spill_stream_end_task(sw, blob, sizeof blob, &err), 0);
        ck_assert_int_eq(pm_spill_stream_flush(sw, &err), 0);
        ends[t] = pm_spill_stream_bytes(sw);
    }
    ck_assert_int_eq(pm_spill_stream_close(sw, &err), 0);
}

/* A flipped byte in a run (a crash lost page-cache data) invalidates the
 * commits from there on, not the ones before; so does a cut file; a flipped
 * byte in a commit's blob fails its own checksum. */
START_TEST(test_damage_is_found)
{
    char *dir = pm_test_tmpdir();
    pm_buf_t p;
    pm_buf_init(&p);
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, 1, 0), 0);
    uint64_t ends[10], end;
    pm_error_t err;
    ten_tasks(dir, ends);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, ends[9]);
    /* Inside task 6's run: commits 0..5 hold. */
    flip_byte(p.data, (off_t)(ends[5] + 200), 0x01);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, ends[5]);
    /* Without verification (this run's own streams) the damage is not
     * looked for, but the set still reads committed tasks. */
    pm_spill_stream_id_t id = {1, 0, ends[5]};
    pm_spill_set_t *set;
    ck_assert_int_eq(pm_spill_set_open(&set, dir, &id, 1, 10, 4, NULL, NULL, &err), 0);
    ck_assert(pm_spill_set_has_task(set, 5));
    ck_assert(!pm_spill_set_has_task(set, 6));
    pm_spill_set_close(set);
    pm_test_rmdir(dir);

    dir = pm_test_tmpdir();
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, 1, 0), 0);
    ten_tasks(dir, ends);
    ck_assert_int_eq(truncate(p.data, (off_t)(ends[3] + 100)), 0);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, ends[3]);
    pm_test_rmdir(dir);

    dir = pm_test_tmpdir();
    ck_assert_int_eq(pm_spill_stream_path(&p, dir, 1, 0), 0);
    ten_tasks(dir, ends);
    flip_byte(p.data, (off_t)(ends[2] - 12), 0x40); /* task 2's blob */
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, ends[1]);
    /* The image fix-up (for the fuzzer) makes it verify again. */
    struct stat sb;
    ck_assert_int_eq(stat(p.data, &sb), 0);
    unsigned char *img = malloc((size_t)sb.st_size);
    int fd = open(p.data, O_RDWR);
    ck_assert_int_eq(pread(fd, img, (size_t)sb.st_size, 0), sb.st_size);
    ck_assert(pm_spill_image_fix_checksums(img, (size_t)sb.st_size));
    ck_assert_int_eq(pwrite(fd, img, (size_t)sb.st_size, 0), sb.st_size);
    close(fd);
    free(img);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, ends[9]);
    /* Garbage is a stream that commits nothing, not an error. */
    int gfd = open(p.data, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(gfd, "garbage garbage garbage", 23), 23);
    close(gfd);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), 0);
    ck_assert_uint_eq(end, 0);
    /* A missing one cannot be read: an error. */
    unlink(p.data);
    ck_assert_int_eq(pm_spill_verify_stream(p.data, 4, &end, NULL, NULL, &err), PM_EIO);
    pm_buf_free(&p);
    pm_test_rmdir(dir);
}
END_TEST

/* 150 streams (150 ranks, or attempts) of one task each: the set opens at
 * most PM_SPILL_MAX_OPEN files at once, and a bucket costs one read per
 * (run, bucket), not per task. */
START_TEST(test_many_streams_few_files_open)
{
    char *dir = pm_test_tmpdir();
    uint64_t s = pm_test_seed();
    size_t n_streams = 150, per = 20, n = n_streams * per;
    want_t *w = calloc(n, sizeof *w);
    pm_spill_stream_id_t *ids = calloc(n_streams, sizeof *ids);
    pm_error_t err;
    for (uint32_t k = 0; k < n_streams; k++) {
        pm_spill_stream_t *sw = open_stream(dir, 1, k, 5, 1u << 20, NULL, k % 2);
        add_task(sw, w, k * per, per, k, k, true, &s);
        uint64_t blob[3] = {k, 0, 0};
        ck_assert_int_eq(pm_spill_stream_end_task(sw, blob, sizeof blob, &err), 0);
        ck_assert_int_eq(pm_spill_stream_close(sw, &err), 0);
        ids[k] = (pm_spill_stream_id_t){1, k, UINT64_MAX};
    }
    pm_spill_set_t *set;
    ck_assert_int_eq(
        pm_spill_set_open(&set, dir, ids, n_streams, (uint32_t)n_streams, 5, NULL, NULL, &err), 0);
    pm_spill_io_t before;
    pm_spill_set_io(set, &before);
    ck_assert_uint_eq(before.runs, n_streams);
    check_set(set, w, n, 5);
    pm_spill_io_t io;
    pm_spill_set_io(set, &io);
    ck_assert_uint_le(io.max_open, PM_SPILL_MAX_OPEN);
    ck_assert_uint_gt(io.max_open, 0);
    pm_spill_set_close(set);
    free(ids);
    free_want(w, n);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_stream_names)
{
    uint32_t a, r;
    ck_assert(pm_spill_stream_name("a1-r0.spill", &a, &r));
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(r, 0);
    ck_assert(pm_spill_stream_name("a12-r345.spill", &a, &r));
    ck_assert_uint_eq(a, 12);
    ck_assert_uint_eq(r, 345);
    ck_assert(!pm_spill_stream_name("a1-r0.spill.tmp", &a, &r));
    ck_assert(!pm_spill_stream_name(".a1-r0.spill", &a, &r));
    ck_assert(!pm_spill_stream_name("task-0000001.spill", &a, &r));
    ck_assert(!pm_spill_stream_name("a-1-r0.spill", &a, &r));
    ck_assert(!pm_spill_stream_name("a1-r0", &a, &r));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spill");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_one_run);
    tcase_add_test(tc, test_round_trip_many_runs);
    tcase_add_test(tc, test_round_trip_large_records);
    tcase_add_test(tc, test_round_trip_compressed);
    tcase_add_test(tc, test_arena_reused_across_streams);
    tcase_add_test(tc, test_uncommitted_records_are_ignored);
    tcase_add_test(tc, test_damage_is_found);
    tcase_add_test(tc, test_many_streams_few_files_open);
    tcase_add_test(tc, test_stream_names);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
