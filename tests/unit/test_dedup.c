/* dedup.h: the decision for one dedup bucket. The winner of a group of
 * equal texts is the smallest identity, whatever the input order; every
 * loser becomes the tombstones of exactly the records the scatter wrote for
 * it (its train copies' keys, or its holdout key), and is counted under its
 * component, its split and the winner's component. */
#include "pilemix/dedup.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    pm_config_t cfg;
    pm_plan_t plan;
    pm_job_t job;
} fixture_t;

static pm_component_cfg_t comps[2];
static pm_input_file_t files[3];

static void setup(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    comps[0].name = (char *)"Alpha";
    comps[0].epochs = 2.5;
    comps[1].name = (char *)"Beta";
    comps[1].epochs = 1.0;
    files[0] = (pm_input_file_t){.relpath = (char *)"b.jsonl", .component = 1};
    files[1] = (pm_input_file_t){.relpath = (char *)"z.jsonl", .component = 0};
    files[2] = (pm_input_file_t){.relpath = (char *)"a.jsonl", .component = 0};
    f->cfg.components = comps;
    f->cfg.n_components = 2;
    f->cfg.train_shards = 3;
    f->cfg.work_dir = (char *)"/nonexistent/work";
    f->plan.files = files;
    f->plan.n_files = 3;
    pm_layout_t layout = {3, 2, 2, 2, 0};
    ck_assert_int_eq(pm_job_init(&f->job, &f->cfg, &f->plan, &layout, NULL), 0);
}

typedef struct sink {
    pm_tombstone_t t[64];
    size_t n;
} sink_t;

static int collect(void *ctx, const pm_tombstone_t *t, pm_error_t *err)
{
    (void)err;
    sink_t *s = ctx;
    ck_assert_uint_lt(s->n, 64);
    s->t[s->n++] = *t;
    return 0;
}

static pm_dedup_doc_t doc(uint64_t hi, uint64_t lo, uint32_t file, uint64_t offset, uint32_t split)
{
    return (pm_dedup_doc_t){hi, lo, 1000 + file * 7 + offset, offset, file, 0, split};
}

START_TEST(test_winner_and_tombstones)
{
    fixture_t f;
    setup(&f);
    /* Group X (5, 9): Beta b.jsonl@0, Alpha z.jsonl@40, Alpha a.jsonl@80 (the
     * winner: Alpha before Beta, a.jsonl before z.jsonl), Alpha a.jsonl@90.
     * Group Y (5, 10): a lone document. Group Z (7, 1): two val documents. */
    pm_dedup_doc_t base[] = {doc(5, 9, 0, 0, PM_SPLIT_TRAIN),  doc(5, 9, 1, 40, PM_SPLIT_TRAIN),
                             doc(5, 9, 2, 80, PM_SPLIT_TRAIN), doc(5, 9, 2, 90, PM_SPLIT_TRAIN),
                             doc(5, 10, 1, 5, PM_SPLIT_TRAIN), doc(7, 1, 0, 3, PM_SPLIT_VAL),
                             doc(7, 1, 1, 3, PM_SPLIT_VAL)};
    size_t n = sizeof base / sizeof *base;
    uint64_t seed = pm_test_seed();
    sink_t first = {.n = 0};
    for (int round = 0; round < 20; round++) {
        pm_dedup_doc_t d[sizeof base / sizeof *base];
        memcpy(d, base, sizeof base);
        for (size_t i = n - 1; round && i > 0; i--) { /* shuffle: the order must not matter */
            size_t j = pm_test_rand(&seed) % (i + 1);
            pm_dedup_doc_t tmp = d[i];
            d[i] = d[j];
            d[j] = tmp;
        }
        uint64_t words[64] = {0};
        pm_dedup_counts_t c = {2, words};
        sink_t s = {.n = 0};
        pm_error_t err;
        ck_assert_int_eq(pm_dedup_docs(&f.job, d, n, &c, collect, &s, &err), 0);
        /* Losers: Beta@0 (1 copy), Alpha z@40 and a@90 (2 or 3 copies each),
         * and the val document of Beta (Alpha's wins). */
        ck_assert_uint_eq(pm_dedup_lost(&c, 1)[PM_SPLIT_TRAIN], 1);
        ck_assert_uint_eq(pm_dedup_lost(&c, 0)[PM_SPLIT_TRAIN], 2);
        ck_assert_uint_eq(pm_dedup_lost(&c, 1)[PM_SPLIT_VAL], 1);
        ck_assert_uint_eq(pm_dedup_lost(&c, 0)[PM_SPLIT_VAL], 0);
        ck_assert_uint_eq(*pm_dedup_pair(&c, 1, 0), 2); /* Beta lost twice to Alpha */
        ck_assert_uint_eq(*pm_dedup_pair(&c, 0, 0), 2); /* Alpha duplicates itself twice */
        ck_assert_uint_eq(*pm_dedup_pair(&c, 0, 1), 0);
        uint64_t copies = 0;
        size_t train_stones = 0;
        for (size_t i = 0; i < s.n; i++) {
            const pm_tombstone_t *t = &s.t[i];
            ck_assert_msg(!(t->file == 2 && t->offset == 80), "the winner was tombstoned");
            ck_assert_msg(!(t->file == 1 && t->offset == 5), "a lone text was tombstoned");
            ck_assert_msg(!(t->file == 1 && t->offset == 3), "the val winner was tombstoned");
            if (t->file == 0 && t->offset == 3) { /* the val loser: its holdout key */
                ck_assert_uint_eq(t->key, 1000 + 3);
                ck_assert_uint_eq(t->bucket, pm_layout_bucket(&f.job.layout, PM_SPLIT_VAL, t->key));
                continue;
            }
            train_stones++;
            uint64_t fh = 1000 + t->file * 7 + t->offset;
            ck_assert_uint_eq(t->key, pm_mix_train_key(&f.job.mix, fh, t->offset, t->copy));
            ck_assert_uint_lt(t->copy, pm_mix_copies(&f.job.mix, fh, t->offset,
                                                     comps[files[t->file].component].epochs));
            ck_assert_uint_eq(t->bucket, pm_layout_bucket(&f.job.layout, PM_SPLIT_TRAIN, t->key));
        }
        copies = *pm_dedup_copies(&c, 0) + *pm_dedup_copies(&c, 1);
        ck_assert_uint_eq(train_stones, copies);
        uint64_t want = pm_mix_copies(&f.job.mix, 1000, 0, 1.0) +
                        pm_mix_copies(&f.job.mix, 1000 + 7 + 40, 40, 2.5) +
                        pm_mix_copies(&f.job.mix, 1000 + 14 + 90, 90, 2.5);
        ck_assert_uint_eq(copies, want);
        if (round == 0)
            first = s;
        else
            ck_assert_uint_eq(s.n, first.n);
    }
    pm_job_close(&f.job);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dedup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_winner_and_tombstones);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
