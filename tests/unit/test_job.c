/* job.h's budget rules: the gather's bucket budget, the scatter's spill arena,
 * and how many zstd workers a rank's shard writer gets for its cores, its
 * binding and its memory budget. */
#include "pilemix/job.h"
#include "test_util.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

START_TEST(test_bucket_budget)
{
    ck_assert_uint_eq(pm_job_bucket_budget(2 * GiB), 512 * MiB);
    ck_assert_uint_eq(pm_job_bucket_budget(256 * MiB), 64 * MiB);
    ck_assert_uint_eq(pm_job_bucket_budget(1 * MiB), 1 * MiB); /* floor */
}
END_TEST

START_TEST(test_spill_arena)
{
    /* Half the budget while the record reserve leaves that much. */
    ck_assert_uint_eq(pm_job_spill_arena(2 * GiB, 64 * MiB), 1 * GiB);
    /* A large max_record_bytes takes its reserve (3 records + 16 MiB). */
    ck_assert_uint_eq(pm_job_spill_arena(512 * MiB, 100 * MiB), 512 * MiB - 316 * MiB);
    ck_assert_uint_eq(pm_job_spill_arena(8 * MiB, 64 * MiB), 4 * MiB); /* floor */
}
END_TEST

START_TEST(test_zstd_workers_share_of_node)
{
    /* Unbound ranks (usable = online): the node's cores per rank, less one
     * for the rank's own thread. */
    ck_assert_int_eq(pm_job_zstd_workers(64, 1, 64, 16 * GiB), 63);
    ck_assert_int_eq(pm_job_zstd_workers(64, 8, 64, 16 * GiB), 7);
    ck_assert_int_eq(pm_job_zstd_workers(2, 1, 2, 2 * GiB), 1);
    /* Never 0: the frame format needs a worker; more ranks than cores. */
    ck_assert_int_eq(pm_job_zstd_workers(2, 2, 2, 2 * GiB), 1);
    ck_assert_int_eq(pm_job_zstd_workers(2, 4, 2, 2 * GiB), 1);
    ck_assert_int_eq(pm_job_zstd_workers(0, 1, 0, 2 * GiB), 1); /* unknown */
}
END_TEST

START_TEST(test_zstd_workers_follow_binding)
{
    /* mpirun -np 2 on a 64-core node binds each rank to one core: 31
     * workers would all share that core. */
    ck_assert_int_eq(pm_job_zstd_workers(64, 2, 1, 16 * GiB), 1);
    /* Bound to a socket of 16 cores with 2 ranks on it. */
    ck_assert_int_eq(pm_job_zstd_workers(64, 8, 16, 16 * GiB), 7);
    ck_assert_int_eq(pm_job_zstd_workers(64, 2, 16, 16 * GiB), 15);
}
END_TEST

START_TEST(test_zstd_workers_fit_the_budget)
{
    /* An eighth of the budget at 16 MiB a worker. */
    ck_assert_int_eq(pm_job_zstd_workers(64, 1, 64, 2 * GiB), 16);
    ck_assert_int_eq(pm_job_zstd_workers(64, 1, 64, 512 * MiB), 4);
    ck_assert_int_eq(pm_job_zstd_workers(64, 1, 64, 256 * MiB), 2);
    ck_assert_int_eq(pm_job_zstd_workers(64, 1, 64, 64 * MiB), 1);
    /* And at most 64 on a huge node. */
    ck_assert_int_eq(pm_job_zstd_workers(512, 1, 512, 1024 * GiB), 64);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bucket_budget);
    tcase_add_test(tc, test_spill_arena);
    tcase_add_test(tc, test_zstd_workers_share_of_node);
    tcase_add_test(tc, test_zstd_workers_follow_binding);
    tcase_add_test(tc, test_zstd_workers_fit_the_budget);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
