/* fault.h: the PILEMIX_FAULT grammar, which hit fires, the error actions.
 * (kill and stop are exercised by the mpirun job tests.) */
#include "pilemix/fault.h"

#include "test_util.h"

static void configure(const char *spec, int rank)
{
    pm_error_t err;
    pm_error_clear(&err);
    int rc = pm_fault_configure(spec, rank, &err);
    ck_assert_msg(rc == 0, "\"%s\": %s", spec ? spec : "(unset)", err.msg);
}

static void refused(const char *spec, const char *why)
{
    pm_error_t err;
    pm_error_clear(&err);
    ck_assert_int_eq(pm_fault_configure(spec, 0, &err), PM_EUSAGE);
    ck_assert_msg(strstr(err.msg, why) != NULL, "\"%s\": \"%s\" lacks \"%s\"", spec, err.msg, why);
    ck_assert_msg(strstr(err.msg, spec) != NULL, "the message names the variable's value");
    ck_assert(!pm_fault_armed);
}

/* Hit point at where up to limit times; the 1-based hit that returned an
 * error (its code in *code), or 0. */
static int first_error(const char *point, int64_t where, int limit, int *code, pm_error_t *err)
{
    for (int i = 1; i <= limit; i++) {
        int rc = pm_fault_hit(point, where, err);
        if (rc < 0) {
            *code = rc;
            return i;
        }
    }
    return 0;
}

START_TEST(test_unset_is_disarmed)
{
    configure(NULL, 0);
    ck_assert(!pm_fault_armed);
    configure("", 3);
    ck_assert(!pm_fault_armed);
    pm_error_t err;
    ck_assert_int_eq(pm_fault_hit("finish", PM_FAULT_NOWHERE, &err), 0);
}
END_TEST

START_TEST(test_malformed_is_a_usage_error)
{
    refused("nowhere", "unknown point");
    refused("scatter-record:task=x", "bad number");
    refused("scatter-record:task=-1", "bad number");
    refused("scatter-record:task=", "bad number");
    refused("scatter-record:n=0", "n=0");
    refused("scatter-record:file=2", "not allowed");   /* scatter points take task= */
    refused("gather-file:task=2", "not allowed");      /* gather points take file= */
    refused("finish:task=1", "not allowed");           /* finish names no place */
    refused("scatter-task:task=1:task=2", "repeated"); /* a place once */
    refused("scatter-task:n=1:n=2", "repeated");
    refused("setup:rank=0:rank=1", "repeated");
    refused("finish:kill:stop", "second action");
    refused("finish:explode", "unknown field or action");
    refused("finish;;setup", "empty fault");
    refused("finish,", "empty fault");
    refused("finish:", "empty field");
    refused("finish::eio", "empty field");
    /* The old POINT:N:RANK form is refused, not misread. */
    refused("scatter-record:50:1", "unknown field or action");
    /* A refused spec leaves nothing armed, even its valid faults. */
    refused("finish:eio;bogus", "unknown point");
}
END_TEST

START_TEST(test_nth_hit_at_its_place)
{
    pm_error_t err;
    int code = 0;
    configure("scatter-record:task=3:n=5:edata", 0);
    ck_assert(pm_fault_armed);
    /* Other tasks and other points do not count. */
    ck_assert_int_eq(first_error("scatter-record", 2, 100, &code, &err), 0);
    ck_assert_int_eq(first_error("scatter-task", 3, 100, &code, &err), 0);
    ck_assert_int_eq(first_error("scatter-record", 3, 100, &code, &err), 5);
    ck_assert_int_eq(code, PM_EDATA);
    ck_assert_int_eq(err.code, PM_EDATA);
    ck_assert_str_eq(err.msg, "injected fault at scatter-record:task=3:n=5 (edata)");
    /* It fires once. */
    ck_assert_int_eq(first_error("scatter-record", 3, 100, &code, &err), 0);

    /* Gather points are keyed by output file; n defaults to 1. */
    configure("gather-file:file=1:eio", 0);
    ck_assert_int_eq(first_error("gather-file", 0, 10, &code, &err), 0);
    ck_assert_int_eq(first_error("gather-file", 1, 10, &code, &err), 1);
    ck_assert_str_eq(err.msg, "injected fault at gather-file:file=1:n=1 (eio)");

    /* Without a place: every hit of the point counts. */
    configure("gather-pass:n=3:estate", 0);
    ck_assert_int_eq(pm_fault_hit("gather-pass", 0, &err), 0);
    ck_assert_int_eq(pm_fault_hit("gather-pass", 4, &err), 0);
    ck_assert_int_eq(pm_fault_hit("gather-pass", 1, &err), PM_ESTATE);
    ck_assert_str_eq(err.msg, "injected fault at gather-pass:file=1:n=3 (estate)");

    configure("finish:einternal", 0);
    ck_assert_int_eq(pm_fault_hit("finish", PM_FAULT_NOWHERE, &err), PM_EINTERNAL);
    ck_assert_str_eq(err.msg, "injected fault at finish:n=1 (einternal)");
}
END_TEST

START_TEST(test_every_error_action)
{
    static const struct {
        const char *action;
        int code;
    } cases[] = {{"eio", PM_EIO},       {"edata", PM_EDATA},   {"econfig", PM_ECONFIG},
                 {"estate", PM_ESTATE}, {"enomem", PM_ENOMEM}, {"einternal", PM_EINTERNAL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char spec[64];
        snprintf(spec, sizeof spec, "scatter-task:task=0:%s", cases[i].action);
        configure(spec, 0);
        pm_error_t err;
        pm_error_clear(&err);
        ck_assert_int_eq(pm_fault_hit("scatter-task", 0, &err), cases[i].code);
        ck_assert_int_eq(err.code, cases[i].code);
        ck_assert_ptr_nonnull(strstr(err.msg, "injected fault at scatter-task:task=0"));
        ck_assert_ptr_nonnull(strstr(err.msg, cases[i].action));
    }
}
END_TEST

START_TEST(test_rank_filter_and_lists)
{
    pm_error_t err;
    const char *spec = "scatter-start:rank=0:eio;scatter-start:rank=1:econfig,finish:rank=1:edata";
    configure(spec, 0);
    ck_assert_int_eq(pm_fault_hit("scatter-start", PM_FAULT_NOWHERE, &err), PM_EIO);
    ck_assert_int_eq(pm_fault_hit("finish", PM_FAULT_NOWHERE, &err), 0);
    configure(spec, 1);
    ck_assert_int_eq(pm_fault_hit("scatter-start", PM_FAULT_NOWHERE, &err), PM_ECONFIG);
    ck_assert_int_eq(pm_fault_hit("finish", PM_FAULT_NOWHERE, &err), PM_EDATA);
    /* A rank no fault names is not armed at all. */
    configure(spec, 2);
    ck_assert(!pm_fault_armed);

    /* Two faults on one point: each keeps its own count. */
    configure("spill-open:task=1:eio;spill-open:task=1:n=2:enomem", 0);
    ck_assert_int_eq(pm_fault_hit("spill-open", 1, &err), PM_EIO);
    ck_assert_int_eq(pm_fault_hit("spill-open", 1, &err), PM_ENOMEM);
    ck_assert_int_eq(pm_fault_hit("spill-open", 1, &err), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unset_is_disarmed);
    tcase_add_test(tc, test_malformed_is_a_usage_error);
    tcase_add_test(tc, test_nth_hit_at_its_place);
    tcase_add_test(tc, test_every_error_action);
    tcase_add_test(tc, test_rank_filter_and_lists);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
