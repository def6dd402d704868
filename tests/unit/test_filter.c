/* filter.h and the components[].filter key: conditions on meta, their
 * reasons, and the config errors that name the key. */
#include "pilemix/config.h"
#include "pilemix/filter.h"
#include "test_util.h"

#include <string.h>

/* Load a config whose first component has the given filter JSON. */
static int load_with(const char *filter_json, pm_config_t *cfg, pm_error_t *err)
{
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"name\": \"t\", \"components\": [{\"name\": \"A\", \"paths\": [\"x\"], "
             "\"epochs\": 1, \"filter\": %s}], \"output\": {\"dir\": \"o\"}}",
             filter_json);
    return pm_config_load_string(cfg, doc, "/tmp/cfg.json", err);
}

static pm_filter_reason_t eval(const pm_filter_t *f, const char *meta)
{
    return pm_filter_eval(f, meta, strlen(meta));
}

START_TEST(test_numeric)
{
    pm_config_t cfg;
    pm_error_t err;
    ck_assert_int_eq(load_with("{\"field\": \"score\", \"min\": 3}", &cfg, &err), 0);
    const pm_filter_t *f = cfg.components[0].filter;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(eval(f, "\"score\": 3"), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"score\": 2.999"), PM_FILTER_BELOW_MIN);
    ck_assert_int_eq(eval(f, "\"score\": 1e30"), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"score\": 18446744073709551615"), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"score\": \"7\""), PM_FILTER_WRONG_TYPE);
    ck_assert_int_eq(eval(f, "\"score\": null"), PM_FILTER_MISSING);
    ck_assert_int_eq(eval(f, "\"other\": 5"), PM_FILTER_MISSING);
    ck_assert_int_eq(eval(f, ""), PM_FILTER_MISSING);
    pm_config_close(&cfg);
    ck_assert_int_eq(
        load_with("{\"field\": \"a.b\", \"min\": -1, \"max\": 1, \"missing\": \"keep\"}", &cfg,
                  &err),
        0);
    f = cfg.components[0].filter;
    ck_assert_int_eq(eval(f, "\"a\": {\"b\": 1}"), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"a\": {\"b\": 1.5}"), PM_FILTER_ABOVE_MAX);
    ck_assert_int_eq(eval(f, "\"a\": {\"b\": -2}"), PM_FILTER_BELOW_MIN);
    ck_assert_int_eq(eval(f, "\"a\": {\"c\": 9}"), PM_FILTER_KEEP); /* missing: keep */
    ck_assert_int_eq(eval(f, "\"a\": 4"), PM_FILTER_KEEP);          /* under a non-object */
    pm_config_close(&cfg);
}
END_TEST

START_TEST(test_strings_and_all_conditions)
{
    pm_config_t cfg;
    pm_error_t err;
    ck_assert_int_eq(load_with("[{\"field\": \"lang\", \"in\": [\"en\", \"de\", \"en\"]}, "
                               "{\"field\": \"score\", \"min\": 3}]",
                               &cfg, &err),
                     0);
    const pm_filter_t *f = cfg.components[0].filter;
    ck_assert_uint_eq(f->n_conds, 2);
    ck_assert_uint_eq(f->conds[0].n_in, 2); /* sorted, unique */
    ck_assert_int_eq(eval(f, "\"lang\": \"de\", \"score\": 4"), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"lang\": \"fr\", \"score\": 4"), PM_FILTER_NOT_IN);
    ck_assert_int_eq(eval(f, "\"lang\": \"en\", \"score\": 1"), PM_FILTER_BELOW_MIN);
    ck_assert_int_eq(eval(f, "\"lang\": 5, \"score\": 4"), PM_FILTER_WRONG_TYPE);
    ck_assert_int_eq(eval(f, "\"score\": 4"), PM_FILTER_MISSING);
    /* The first failing condition gives the reason. */
    ck_assert_int_eq(eval(f, "\"lang\": \"fr\", \"score\": 1"), PM_FILTER_NOT_IN);
    pm_config_close(&cfg);
    ck_assert_int_eq(load_with("{\"field\": \"lang\", \"equals\": \"en\"}", &cfg, &err), 0);
    f = cfg.components[0].filter;
    ck_assert_int_eq(eval(f, "\"lang\": \"en\""), PM_FILTER_KEEP);
    ck_assert_int_eq(eval(f, "\"lang\": \"enx\""), PM_FILTER_NOT_IN);
    pm_config_close(&cfg);
}
END_TEST

/* The canonical form: present only when set, and equal for equal meaning. */
START_TEST(test_canonical)
{
    pm_config_t a, b, none;
    pm_error_t err;
    ck_assert_int_eq(load_with("{\"field\": \"lang\", \"equals\": \"en\"}", &a, &err), 0);
    ck_assert_int_eq(load_with("[{\"in\": [\"en\", \"en\"], \"missing\": \"drop\", \"field\": "
                               "\"lang\"}]",
                               &b, &err),
                     0);
    ck_assert_str_eq(a.canonical_json, b.canonical_json);
    ck_assert_ptr_nonnull(strstr(a.canonical_json, "\"filter\""));
    ck_assert_int_eq(pm_config_load_string(&none,
                                           "{\"name\": \"t\", \"components\": [{\"name\": \"A\", "
                                           "\"paths\": [\"x\"], \"epochs\": 1}], \"output\": "
                                           "{\"dir\": \"o\"}}",
                                           "/tmp/cfg.json", &err),
                     0);
    ck_assert_ptr_null(strstr(none.canonical_json, "filter"));
    ck_assert_uint_ne(a.canonical_hash, none.canonical_hash);
    pm_config_close(&a);
    pm_config_close(&b);
    pm_config_close(&none);
}
END_TEST

START_TEST(test_bad_filters_name_the_key)
{
    static const struct {
        const char *json, *key;
    } cases[] = {
        {"3", "components[0].filter: must be an object"},
        {"[]", "components[0].filter: must not be empty"},
        {"{\"min\": 3}", "components[0].filter.field: missing"},
        {"{\"field\": \"\"}", "components[0].filter.field: must be a non-empty string"},
        {"{\"field\": \"a..b\"}", "components[0].filter.field: \"a..b\" has an empty part"},
        {"{\"field\": \"s\", \"min\": \"3\"}", "components[0].filter.min: must be a number"},
        {"{\"field\": \"s\", \"min\": 3, \"max\": 2}", "components[0].filter.max: is below min"},
        {"{\"field\": \"s\", \"minn\": 3}", "components[0].filter.minn: unknown key"},
        {"[{\"field\": \"s\"}, {\"field\": \"s\", \"in\": []}]",
         "components[0].filter[1].in: must be a non-empty array"},
        {"{\"field\": \"s\", \"in\": [\"a\", 3]}", "components[0].filter.in[1]: must be a string"},
        {"{\"field\": \"s\", \"in\": [\"a\"], \"equals\": \"b\"}",
         "components[0].filter.in: give equals or in"},
        {"{\"field\": \"s\", \"in\": [\"a\"], \"min\": 1}", "components[0].filter.in: a condition"},
        {"{\"field\": \"s\", \"missing\": \"maybe\"}",
         "components[0].filter.missing: must be \"keep\" or \"drop\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pm_config_t cfg;
        pm_error_t err;
        ck_assert_int_eq(load_with(cases[i].json, &cfg, &err), PM_ECONFIG);
        ck_assert_msg(strstr(err.msg, cases[i].key), "%s: got \"%s\", want \"%s\"", cases[i].json,
                      err.msg, cases[i].key);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_numeric);
    tcase_add_test(tc, test_strings_and_all_conditions);
    tcase_add_test(tc, test_canonical);
    tcase_add_test(tc, test_bad_filters_name_the_key);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
