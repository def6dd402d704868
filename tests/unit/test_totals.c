/* The accounting identity: pm_totals_check accepts counters that add up and
 * names the component and the quantity when anything does not. */
#include "pilemix/totals.h"
#include "test_util.h"

typedef struct fixture {
    pm_config_t cfg;
    pm_plan_t plan;
    pm_job_t job;
    pm_totals_t t;
} fixture_t;

static void setup(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    static pm_component_cfg_t comps[2];
    comps[0].name = (char *)"Alpha";
    comps[0].epochs = 2.0;
    comps[1].name = (char *)"Beta";
    comps[1].epochs = 0.5;
    f->cfg.components = comps;
    f->cfg.n_components = 2;
    f->cfg.train_shards = 2;
    f->cfg.work_dir = (char *)"/nonexistent/work";
    pm_layout_t layout = {2, 1, 1, 1, 0};
    ck_assert_int_eq(pm_job_init(&f->job, &f->cfg, &f->plan, &layout, NULL), 0);
    ck_assert_int_eq(pm_totals_init(&f->t, 2, pm_layout_files(&layout)), 0);
    /* Alpha: 10 read = 1 rejected + 1 empty + 6 train + 1 val + 1 test;
     * 12 train copies; val written 1; test written 0 + 1 duplicate. */
    pm_task_stats_t *a = &f->t.comp[0];
    a->docs = 10;
    a->rejected_total = 1;
    a->empty_docs = 1;
    a->split_docs[PM_SPLIT_TRAIN] = 6;
    a->split_docs[PM_SPLIT_VAL] = 1;
    a->split_docs[PM_SPLIT_TEST] = 1;
    a->train_copies = 12;
    f->t.emitted[0][PM_SPLIT_TRAIN] = 12;
    f->t.emitted[0][PM_SPLIT_VAL] = 1;
    f->t.dups[0][PM_SPLIT_TEST] = 1;
    /* Beta: 4 read, all train, 2 copies. */
    pm_task_stats_t *b = &f->t.comp[1];
    b->docs = 4;
    b->split_docs[PM_SPLIT_TRAIN] = 4;
    b->train_copies = 2;
    f->t.emitted[1][PM_SPLIT_TRAIN] = 2;
    /* Files: 2 train shards holding 14 copies, val 1, test 0. */
    f->t.files[0].docs = 9;
    f->t.files[1].docs = 5;
    f->t.files[2].docs = 1;
}

static void teardown(fixture_t *f)
{
    pm_totals_free(&f->t);
    pm_job_close(&f->job);
}

static void expect_mismatch(fixture_t *f, const char *needle)
{
    pm_error_t err;
    ck_assert_int_eq(pm_totals_check(&f->job, &f->t, &err), PM_EINTERNAL);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
    ck_assert_ptr_nonnull(strstr(err.msg, "bug"));
}

START_TEST(test_balanced_totals_pass)
{
    fixture_t f;
    setup(&f);
    pm_error_t err;
    ck_assert_int_eq(pm_totals_check(&f.job, &f.t, &err), 0);
    ck_assert(pm_totals_realized_epochs(&f.t, 0) == 2.0);
    ck_assert(pm_totals_realized_epochs(&f.t, 1) == 0.5);
    teardown(&f);
}
END_TEST

START_TEST(test_lost_document_is_caught)
{
    fixture_t f;
    setup(&f);
    f.t.comp[1].docs = 5; /* one document read but never accounted for */
    expect_mismatch(&f, "\"Beta\" read 5 documents but accounts for 4");
    teardown(&f);
}
END_TEST

START_TEST(test_missing_train_copy_is_caught)
{
    fixture_t f;
    setup(&f);
    f.t.emitted[0][PM_SPLIT_TRAIN] = 11;
    f.t.files[0].docs = 8;
    expect_mismatch(&f, "\"Alpha\" decided 12 train copies but 11");
    teardown(&f);
}
END_TEST

START_TEST(test_holdout_mismatch_is_caught)
{
    fixture_t f;
    setup(&f);
    f.t.dups[0][PM_SPLIT_TEST] = 0; /* a held-out text neither written nor a duplicate */
    expect_mismatch(&f, "held out 1 documents for test");
    teardown(&f);
}
END_TEST

START_TEST(test_files_disagreeing_with_components_is_caught)
{
    fixture_t f;
    setup(&f);
    f.t.files[1].docs = 6; /* a train file holds a line nobody emitted */
    expect_mismatch(&f, "components wrote 14 documents to train but the files hold 15");
    teardown(&f);
}
END_TEST

/* pm_totals_add_file puts a file's documents and duplicates under its
 * split (train shards, then val, then test), and the result and passes
 * with it; the fixture's figures, added file by file, pass the check. */
START_TEST(test_add_file_by_split)
{
    fixture_t f;
    setup(&f);
    pm_totals_t t;
    ck_assert_int_eq(pm_totals_init(&t, 2, 4), 0);
    memcpy(t.comp, f.t.comp, 2 * sizeof *t.comp);
    uint64_t docs[4][2] = {{7, 2}, {5, 0}, {1, 0}, {0, 0}};
    uint64_t dups[4][2] = {{0, 0}, {0, 0}, {0, 0}, {1, 0}};
    for (uint32_t file = 0; file < 4; file++) {
        pm_gather_out_t out = {
            .comp_docs = docs[file], .comp_dups = dups[file], .passes = file + 1};
        out.result.docs = docs[file][0] + docs[file][1];
        out.result.zst_bytes = 100 + file;
        pm_totals_add_file(&t, &f.job.layout, file, &out);
        ck_assert_uint_eq(t.files[file].zst_bytes, 100 + file);
    }
    ck_assert_uint_eq(t.emitted[0][PM_SPLIT_TRAIN], 12);
    ck_assert_uint_eq(t.emitted[1][PM_SPLIT_TRAIN], 2);
    ck_assert_uint_eq(t.emitted[0][PM_SPLIT_VAL], 1);
    ck_assert_uint_eq(t.emitted[0][PM_SPLIT_TEST], 0);
    ck_assert_uint_eq(t.dups[0][PM_SPLIT_TEST], 1);
    ck_assert_uint_eq(t.dups[0][PM_SPLIT_VAL], 0);
    ck_assert_uint_eq(*t.passes, 1 + 2 + 3 + 4);
    pm_error_t err;
    ck_assert_int_eq(pm_totals_check(&f.job, &t, &err), 0);
    /* The same file counted under the wrong split would not add up. */
    pm_gather_out_t again = {.comp_docs = docs[2], .comp_dups = dups[2]};
    pm_totals_add_file(&t, &f.job.layout, 3, &again);
    ck_assert_int_eq(pm_totals_check(&f.job, &t, &err), PM_EINTERNAL);
    pm_totals_free(&t);
    teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("totals");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_balanced_totals_pass);
    tcase_add_test(tc, test_lost_document_is_caught);
    tcase_add_test(tc, test_missing_train_copy_is_caught);
    tcase_add_test(tc, test_holdout_mismatch_is_caught);
    tcase_add_test(tc, test_files_disagreeing_with_components_is_caught);
    tcase_add_test(tc, test_add_file_by_split);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
