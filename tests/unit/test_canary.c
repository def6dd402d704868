/* canary.h and output.canaries: derivation from the secret alone, and the
 * secret kept out of the canonical form. */
#include "pilemix/canary.h"
#include "pilemix/config.h"
#include "pilemix/mix.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static const char secret[] = "correct horse battery staple 42";

START_TEST(test_derive_deterministic_and_distinct)
{
    pm_canaries_t a, b, c;
    pm_error_t err;
    ck_assert_int_eq(pm_canaries_derive(&a, secret, 200, 5, &err), 0);
    ck_assert_int_eq(pm_canaries_derive(&b, secret, 200, 5, &err), 0);
    ck_assert_int_eq(pm_canaries_derive(&c, "another secret of some length", 200, 5, &err), 0);
    unsigned comp[5] = {0};
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_uint_eq(a.v[i].key, b.v[i].key);
        ck_assert_str_eq(a.v[i].text, b.v[i].text);
        ck_assert_uint_ge(a.v[i].len, 200); /* long: no natural text holds it */
        for (size_t k = 0; k < a.v[i].len; k++) {
            char ch = a.v[i].text[k];
            ck_assert_msg((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == ' ' ||
                              ch == '.',
                          "byte %d needs JSON escaping", ch);
        }
        if (i)
            ck_assert_uint_le(a.v[i - 1].key, a.v[i].key); /* sorted */
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(a.v[i].text, a.v[j].text);
        for (size_t j = 0; j < c.n; j++)
            ck_assert_str_ne(a.v[i].text, c.v[j].text);
        ck_assert_uint_lt(a.v[i].component, 5);
        comp[a.v[i].component]++;
    }
    for (int k = 0; k < 5; k++) /* 40 expected each; 6 sigma is about 34 */
        ck_assert_msg(comp[k] > 6 && comp[k] < 80, "component %d got %u of 200", k, comp[k]);
    /* A longer list extends the shorter: canary i does not depend on count. */
    pm_canaries_t d;
    ck_assert_int_eq(pm_canaries_derive(&d, secret, 3, 5, &err), 0);
    for (size_t i = 0; i < d.n; i++) {
        bool found = false;
        for (size_t j = 0; j < a.n; j++)
            found |= a.v[j].index == d.v[i].index && !strcmp(a.v[j].text, d.v[i].text) &&
                     a.v[j].key == d.v[i].key;
        ck_assert(found);
    }
    size_t first, count;
    pm_canaries_range(&a, a.v[10].key, a.v[20].key, &first, &count);
    ck_assert_uint_eq(first, 10);
    ck_assert_uint_eq(count, 11);
    pm_canaries_free(&a);
    pm_canaries_free(&b);
    pm_canaries_free(&c);
    pm_canaries_free(&d);
}
END_TEST

static int load_canaries(const char *canaries_json, pm_config_t *cfg, pm_error_t *err)
{
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"name\": \"t\", \"components\": [{\"name\": \"A\", \"paths\": [\"x\"], "
             "\"epochs\": 1}], \"output\": {\"dir\": \"o\", \"canaries\": %s}}",
             canaries_json);
    return pm_config_load_string(cfg, doc, "/tmp/cfg.json", err);
}

START_TEST(test_secret_not_in_canonical)
{
    pm_config_t a, b, c;
    pm_error_t err;
    setenv("PM_TEST_CANARY", secret, 1);
    ck_assert_int_eq(load_canaries("{\"count\": 4, \"secret\": \"${PM_TEST_CANARY}\"}", &a, &err),
                     0);
    ck_assert_str_eq(a.canaries->secret, secret);
    ck_assert_uint_eq(a.canaries->count, 4);
    ck_assert_ptr_null(strstr(a.canonical_json, "horse"));
    ck_assert_ptr_null(strstr(a.canonical_json, "PM_TEST_CANARY"));
    ck_assert_ptr_nonnull(strstr(a.canonical_json, "secret_digest"));
    setenv("PM_TEST_CANARY", "a different secret, as long", 1);
    ck_assert_int_eq(load_canaries("{\"count\": 4, \"secret\": \"${PM_TEST_CANARY}\"}", &b, &err),
                     0);
    ck_assert_uint_ne(a.canonical_hash, b.canonical_hash);
    /* The same secret written literally: the same hash as from the environment. */
    char lit[128];
    snprintf(lit, sizeof lit, "{\"secret\": \"%s\", \"count\": 4}", secret);
    ck_assert_int_eq(load_canaries(lit, &c, &err), 0);
    ck_assert_uint_eq(a.canonical_hash, c.canonical_hash);
    /* The canonical form loads again (a manifest's config): same hash, the
     * digest but no secret, so nothing can be built from it. */
    pm_config_t d;
    ck_assert_int_eq(pm_config_load_string(&d, a.canonical_json, "/tmp/cfg.json", &err), 0);
    ck_assert_str_eq(d.canonical_json, a.canonical_json);
    ck_assert_ptr_null(d.canaries->secret);
    ck_assert_str_eq(d.canaries->digest, a.canaries->digest);
    pm_config_close(&d);
    pm_config_close(&a);
    pm_config_close(&b);
    pm_config_close(&c);
    unsetenv("PM_TEST_CANARY");
}
END_TEST

START_TEST(test_bad_canaries_name_the_key)
{
    static const struct {
        const char *json, *key;
    } cases[] = {
        {"5", "output.canaries: must be an object"},
        {"{\"secret\": \"0123456789abcdef\"}", "output.canaries.count: missing"},
        {"{\"count\": 0, \"secret\": \"0123456789abcdef\"}", "output.canaries.count: must be"},
        {"{\"count\": 100001, \"secret\": \"0123456789abcdef\"}", "output.canaries.count: must"},
        {"{\"count\": 2}", "output.canaries.secret: missing"},
        {"{\"count\": 2, \"secret\": \"short\"}", "output.canaries.secret: too short"},
        {"{\"count\": 2, \"secret\": \"${PM_TEST_UNSET_CANARY}\"}",
         "output.canaries.secret: environment variable PM_TEST_UNSET_CANARY is not set"},
        {"{\"count\": 2, \"secret\": \"0123456789abcdef\", \"where\": 1}",
         "output.canaries.where: unknown key"},
        {"{\"count\": 2, \"secret_digest\": \"xyz\"}", "output.canaries.secret_digest: must be"},
        {"{\"count\": 2, \"secret\": \"0123456789abcdef\", \"secret_digest\": "
         "\"0123456789abcdef0123456789abcdef\"}",
         "output.canaries.secret: give secret or secret_digest"},
    };
    unsetenv("PM_TEST_UNSET_CANARY");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pm_config_t cfg;
        pm_error_t err;
        ck_assert_int_eq(load_canaries(cases[i].json, &cfg, &err), PM_ECONFIG);
        ck_assert_msg(strstr(err.msg, cases[i].key), "%s: got \"%s\", want \"%s\"", cases[i].json,
                      err.msg, cases[i].key);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("canary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_derive_deterministic_and_distinct);
    tcase_add_test(tc, test_secret_not_in_canonical);
    tcase_add_test(tc, test_bad_canaries_name_the_key);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
