#include "pilemix/spill.h"
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct want {
    pm_spill_rec_t rec;
    char *text, *meta;
    uint32_t bucket;
    int seen;
} want_t;

typedef struct visit_ctx {
    want_t *w;
    size_t n;
    uint32_t bucket;
    size_t visited;
    size_t next_in_order; /* records of a bucket come back in arrival order */
} visit_ctx_t;

static int check_visit(void *vctx, const pm_spill_rec_t *rec, const char *text, const char *meta)
{
    visit_ctx_t *c = vctx;
    /* rec.file carries the record's index in the want table. */
    ck_assert_uint_lt(rec->file, c->n);
    want_t *w = &c->w[rec->file];
    ck_assert_uint_eq(w->bucket, c->bucket);
    ck_assert_uint_eq(w->rec.key, rec->key);
    ck_assert_uint_eq(w->rec.offset, rec->offset);
    ck_assert_uint_eq(w->rec.text_len, rec->text_len);
    ck_assert_uint_eq(w->rec.meta_len, rec->meta_len);
    ck_assert(memcmp(w->text, text, rec->text_len) == 0);
    ck_assert(memcmp(w->meta, meta, rec->meta_len) == 0);
    ck_assert_int_eq(w->seen, 0);
    ck_assert_uint_ge(rec->file, c->next_in_order);
    c->next_in_order = rec->file;
    w->seen = 1;
    c->visited++;
    return 0;
}

static void round_trip_in(size_t n, uint32_t buckets, size_t arena, size_t max_text,
                          pm_spill_arena_t *staging)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/t.spill", dir);
    uint64_t s = pm_test_seed();
    want_t *w = calloc(n, sizeof *w);
    pm_error_t err;
    pm_spill_writer_t *sw;
    ck_assert_int_eq(pm_spill_writer_open(&sw, path, buckets, arena, staging, &err), 0);
    for (size_t i = 0; i < n; i++) {
        size_t tl = (size_t)(pm_test_rand(&s) % (max_text + 1));
        if (i == n / 2)
            tl = arena * 2; /* one record bigger than the whole arena */
        size_t ml = (size_t)(pm_test_rand(&s) % 20);
        w[i].text = malloc(tl + 1);
        w[i].meta = malloc(ml + 1);
        for (size_t k = 0; k < tl; k++)
            w[i].text[k] = (char)pm_test_rand(&s);
        for (size_t k = 0; k < ml; k++)
            w[i].meta[k] = (char)('a' + k % 26);
        w[i].rec = (pm_spill_rec_t){pm_test_rand(&s), pm_test_rand(&s), (uint32_t)i, 0,
                                    (uint32_t)tl,     (uint32_t)ml,     0,           0};
        w[i].bucket = (uint32_t)(pm_test_rand(&s) % buckets);
        ck_assert_int_eq(
            pm_spill_writer_add(sw, w[i].bucket, &w[i].rec, w[i].text, w[i].meta, &err), 0);
    }
    ck_assert(!pm_path_exists(path)); /* not under its final name before commit */
    uint64_t stats[3] = {1, 2, 3};
    ck_assert_int_eq(pm_spill_writer_commit(sw, stats, sizeof stats, &err), 0);
    /* The trailer's data hash matches the data as written (buffered small
     * records and a record larger than the write buffer alike). */
    ck_assert_int_eq(pm_spill_verify(path, &err), 0);

    pm_spill_reader_t *r;
    ck_assert_int_eq(pm_spill_reader_open(&r, path, &err), 0);
    ck_assert_uint_eq(pm_spill_reader_buckets(r), buckets);
    size_t sl;
    const uint64_t *got = pm_spill_reader_stats(r, &sl);
    ck_assert_uint_eq(sl, sizeof stats);
    ck_assert_uint_eq(got[2], 3);
    uint64_t *counts = calloc(buckets, 8), *bytes = calloc(buckets, 8);
    ck_assert_int_eq(pm_spill_reader_add_totals(r, counts, bytes, &err), 0);
    size_t total = 0;
    for (uint32_t b = 0; b < buckets; b++) {
        visit_ctx_t c = {w, n, b, 0, 0};
        ck_assert_int_eq(pm_spill_reader_visit(r, b, 0, UINT64_MAX, check_visit, &c, &err), 0);
        ck_assert_uint_eq(c.visited, counts[b]);
        total += c.visited;
    }
    ck_assert_uint_eq(total, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(w[i].seen, 1);

    /* A key sub-range returns exactly the records inside it. */
    for (size_t i = 0; i < n; i++)
        w[i].seen = 0;
    uint64_t lo = UINT64_MAX / 4, hi = UINT64_MAX / 2;
    size_t in_range = 0, visited = 0;
    for (size_t i = 0; i < n; i++)
        in_range += w[i].rec.key >= lo && w[i].rec.key <= hi;
    for (uint32_t b = 0; b < buckets; b++) {
        visit_ctx_t c = {w, n, b, 0, 0};
        ck_assert_int_eq(pm_spill_reader_visit(r, b, lo, hi, check_visit, &c, &err), 0);
        visited += c.visited;
    }
    ck_assert_uint_eq(visited, in_range);
    pm_spill_reader_close(r);
    free(counts);
    free(bytes);
    for (size_t i = 0; i < n; i++) {
        free(w[i].text);
        free(w[i].meta);
    }
    free(w);
    pm_test_rmdir(dir);
}

static void round_trip(size_t n, uint32_t buckets, size_t arena, size_t max_text)
{
    round_trip_in(n, buckets, arena, max_text, NULL);
}

START_TEST(test_round_trip_one_run) { round_trip(500, 7, 64u << 20, 300); }
END_TEST

START_TEST(test_round_trip_many_runs) { round_trip(3000, 13, 1u << 20, 3000); }
END_TEST

START_TEST(test_round_trip_large_records) { round_trip(200, 3, 1u << 20, 600000); }
END_TEST

/* One caller-kept arena through writers of growing and shrinking budgets:
 * grown when too small, reused as it is otherwise, never freed by a writer
 * (valgrind and ASan would see a double free or a leak). */
START_TEST(test_arena_reused_across_writers)
{
    pm_spill_arena_t staging = {0};
    round_trip_in(300, 5, 1u << 20, 3000, &staging);
    ck_assert_uint_ge(staging.cap, 1u << 20);
    char *first = staging.data;
    round_trip_in(300, 5, 1u << 20, 3000, &staging);
    ck_assert_ptr_eq(staging.data, first); /* same size: the same memory */
    round_trip_in(300, 5, 4u << 20, 3000, &staging);
    ck_assert_uint_ge(staging.cap, 4u << 20);
    round_trip_in(300, 5, 2u << 20, 3000, &staging); /* smaller: kept */
    ck_assert_uint_ge(staging.cap, 4u << 20);
    pm_spill_arena_free(&staging);
    ck_assert_ptr_null(staging.data);
    ck_assert_uint_eq(staging.cap, 0);
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

START_TEST(test_damaged_footer_is_detected)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/t.spill", dir);
    pm_error_t err;
    pm_spill_writer_t *sw;
    ck_assert_int_eq(pm_spill_writer_open(&sw, path, 4, 1u << 20, NULL, &err), 0);
    pm_spill_rec_t rec = {1, 2, 3, 0, 5, 0, 0, 0};
    ck_assert_int_eq(pm_spill_writer_add(sw, 1, &rec, "hello", "", &err), 0);
    ck_assert_int_eq(pm_spill_writer_commit(sw, "st", 2, &err), 0);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    flip_byte(path, sb.st_size - 60, 0x40);
    pm_spill_reader_t *r;
    ck_assert_int_eq(pm_spill_reader_open(&r, path, &err), PM_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "spill"));
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_damaged_data_fails_verify)
{
    char *dir = pm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/t.spill", dir);
    pm_error_t err;
    pm_spill_writer_t *sw;
    ck_assert_int_eq(pm_spill_writer_open(&sw, path, 4, 1u << 20, NULL, &err), 0);
    pm_spill_rec_t rec = {1, 2, 3, 0, 5, 0, 0, 0};
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pm_spill_writer_add(sw, (uint32_t)i % 4, &rec, "hello", "", &err), 0);
    ck_assert_int_eq(pm_spill_writer_commit(sw, "st", 2, &err), 0);
    ck_assert_int_eq(pm_spill_verify(path, &err), 0);
    /* One flipped byte inside the data: the footer still reads, the data
     * hash does not match. */
    flip_byte(path, 5000, 0x01);
    pm_spill_reader_t *r;
    ck_assert_int_eq(pm_spill_reader_open(&r, path, &err), 0);
    pm_spill_reader_close(r);
    ck_assert_int_lt(pm_spill_verify(path, &err), 0);
    pm_test_rmdir(dir);
}
END_TEST

START_TEST(test_abort_leaves_nothing)
{
    char *dir = pm_test_tmpdir();
    char path[512], tmp[512];
    snprintf(path, sizeof path, "%s/t.spill", dir);
    snprintf(tmp, sizeof tmp, "%s/.t.spill.tmp", dir);
    pm_error_t err;
    pm_spill_writer_t *sw;
    ck_assert_int_eq(pm_spill_writer_open(&sw, path, 4, 1u << 20, NULL, &err), 0);
    ck_assert(pm_path_exists(tmp));
    pm_spill_writer_abort(sw);
    ck_assert(!pm_path_exists(tmp));
    ck_assert(!pm_path_exists(path));
    pm_test_rmdir(dir);
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
    tcase_add_test(tc, test_arena_reused_across_writers);
    tcase_add_test(tc, test_damaged_footer_is_detected);
    tcase_add_test(tc, test_damaged_data_fails_verify);
    tcase_add_test(tc, test_abort_leaves_nothing);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
