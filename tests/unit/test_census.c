/* census.h: a file's counts follow the scatter's rules (blank lines, empty
 * texts, bad records, BOM, the split by text hash, text files); the file's
 * XXH3-64; the cache (hits, misses on a touched file or changed settings, a
 * damaged cache ignored); shares into epochs (the largest total within
 * max_epochs, output.train_bytes, the error naming the epochs needed);
 * Table 1. */
#include "pilemix/census.h"
#include "test_util.h"

#include <jansson.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <xxhash.h>

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    ck_assert_int_eq(pm_mkdir_p(path, NULL), 0);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void load(pm_config_t *cfg, pm_plan_t *plan, const char *dir, const char *comp_extra)
{
    char json[2048], origin[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"c\", \"seed\": 5, \"components\": [{\"name\": \"A\", \"paths\": "
             "[\"in\"], \"epochs\": 2%s}], \"output\": {\"dir\": \"out\", \"val_fraction\": 0.25, "
             "\"test_fraction\": 0.25}, \"run\": {\"on_bad_record\": \"skip\"}}",
             comp_extra);
    snprintf(origin, sizeof origin, "%s/cfg.json", dir);
    pm_error_t err;
    ck_assert_msg(pm_config_load_string(cfg, json, origin, &err) == 0, "config: %s", err.msg);
    ck_assert_msg(pm_plan_build(plan, cfg, &err) == 0, "plan: %s", err.msg);
}

static const char *const texts[] = {"alpha", "beta gamma",   "délta", "e",     "zeta eta theta",
                                    "iota",  "kappa lambda", "mu",    "nu xi", "omicron"};

static void write_corpus(const char *dir)
{
    /* BOM, a blank line, an empty text, a bad line, a list text, a string. */
    char jsonl[4096] = "\xEF\xBB\xBF";
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"text\": \"%s\", \"meta\": {\"i\": %zu}}\n", texts[i], i);
        strcat(jsonl, line);
        if (i == 2)
            strcat(jsonl, "  \t\n{\"text\": \"\"}\n{\"text\": 12}\n{bad\n");
    }
    strcat(jsonl, "{\"text\": [\"a\", \"b\"]}\n\"bare string\"\n");
    write_file(dir, "in/a.jsonl", jsonl);
    write_file(dir, "in/b.txt", "a whole book\nof two lines");
}

START_TEST(test_count_rules)
{
    char *dir = pm_test_tmpdir();
    write_corpus(dir);
    pm_config_t cfg;
    pm_plan_t plan;
    load(&cfg, &plan, dir, "");
    ck_assert_uint_eq(plan.n_files, 2);
    pm_mix_t mix;
    pm_mix_init(&mix, cfg.seed, cfg.val_fraction, cfg.test_fraction);
    pm_census_file_t e;
    pm_error_t err;
    ck_assert_int_eq(pm_census_count_file(&cfg, &mix, &plan, 0, &e, NULL, NULL, &err), 0);
    ck_assert_uint_eq(e.valid, 1);
    ck_assert_uint_eq(e.lines, 10 + 4 + 2);
    ck_assert_uint_eq(e.blank_lines, 1);
    ck_assert_uint_eq(e.docs, 15);
    ck_assert_uint_eq(e.bad_records, 2);
    ck_assert_uint_eq(e.empty_docs, 1);
    ck_assert_uint_eq(e.kept_docs, 12);
    /* Text bytes and the split, from the texts themselves. */
    uint64_t bytes = 0, split_bytes[PM_SPLIT_COUNT] = {0}, split_docs[PM_SPLIT_COUNT] = {0};
    const char *all[12];
    for (size_t i = 0; i < 10; i++)
        all[i] = texts[i];
    all[10] = "a\n\nb"; /* lm_dataformat's join */
    all[11] = "bare string";
    for (size_t i = 0; i < 12; i++) {
        size_t n = strlen(all[i]);
        pm_split_t s = pm_mix_split(&mix, all[i], n);
        bytes += n;
        split_bytes[s] += n;
        split_docs[s]++;
    }
    ck_assert_uint_eq(e.text_bytes, bytes);
    for (int s = 0; s < PM_SPLIT_COUNT; s++) {
        ck_assert_uint_eq(e.split_text_bytes[s], split_bytes[s]);
        ck_assert_uint_eq(e.split_docs[s], split_docs[s]);
    }
    uint64_t h, size;
    ck_assert_int_eq(pm_file_xxh3(plan.files[0].path, &h, &size, &err), 0);
    ck_assert_uint_eq(e.xxh3, h);
    ck_assert_uint_eq(e.size, size);

    ck_assert_int_eq(pm_census_count_file(&cfg, &mix, &plan, 1, &e, NULL, NULL, &err), 0);
    ck_assert_uint_eq(e.kept_docs, 1);
    ck_assert_uint_eq(e.text_bytes, strlen("a whole book\nof two lines"));
    ck_assert_int_eq(pm_file_xxh3(plan.files[1].path, &h, &size, &err), 0);
    ck_assert_uint_eq(e.xxh3, h);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    pm_test_rmdir(dir);
}
END_TEST

static void count_all(const pm_config_t *cfg, const pm_plan_t *plan, pm_census_t *c)
{
    pm_mix_t mix;
    pm_mix_init(&mix, cfg->seed, cfg->val_fraction, cfg->test_fraction);
    pm_error_t err;
    ck_assert_int_eq(pm_census_init(c, plan->n_files), 0);
    for (uint32_t i = 0; i < plan->n_files; i++)
        ck_assert_int_eq(pm_census_count_file(cfg, &mix, plan, i, &c->files[i], NULL, NULL, &err),
                         0);
}

static size_t cache_hits(const pm_config_t *cfg, const pm_plan_t *plan, char *warn, size_t n,
                         pm_census_t *into)
{
    pm_error_t err;
    size_t hits = 0;
    ck_assert_int_eq(pm_census_init(into, plan->n_files), 0);
    ck_assert_int_eq(pm_census_cache_load(into, cfg, plan, &hits, warn, n, &err), 0);
    return hits;
}

START_TEST(test_cache)
{
    char *dir = pm_test_tmpdir();
    write_corpus(dir);
    pm_config_t cfg;
    pm_plan_t plan;
    load(&cfg, &plan, dir, "");
    pm_census_t c, back;
    count_all(&cfg, &plan, &c);
    pm_error_t err;
    char warn[512];
    ck_assert_uint_eq(cache_hits(&cfg, &plan, warn, sizeof warn, &back), 0); /* no cache yet */
    ck_assert_str_eq(warn, "");
    pm_census_close(&back);
    ck_assert_int_eq(pm_census_cache_save(&c, &cfg, &plan, &err), 0);
    ck_assert_uint_eq(cache_hits(&cfg, &plan, warn, sizeof warn, &back), 2);
    ck_assert_mem_eq(back.files, c.files, 2 * sizeof *c.files);
    pm_census_close(&back);

    /* Other settings that change the counts: no hit. */
    pm_config_t cfg2;
    pm_plan_t plan2;
    load(&cfg2, &plan2, dir, ", \"text_key\": \"body\"");
    ck_assert_uint_eq(cache_hits(&cfg2, &plan2, warn, sizeof warn, &back), 0);
    pm_census_close(&back);
    pm_plan_close(&plan2);
    pm_config_close(&cfg2);

    /* A touched file (new mtime) is read again; the other one is not. */
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    ck_assert_int_eq(utimes(plan.files[1].path, tv), 0);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    load(&cfg, &plan, dir, "");
    ck_assert_uint_eq(cache_hits(&cfg, &plan, warn, sizeof warn, &back), 1);
    ck_assert_uint_eq(back.files[0].valid, 1);
    ck_assert_uint_eq(back.files[1].valid, 0);
    pm_census_close(&back);

    /* A damaged cache is ignored, with a note, never trusted. */
    char *path = pm_census_cache_path(&cfg);
    pm_buf_t b;
    pm_buf_init(&b);
    ck_assert_int_eq(pm_read_file(path, &b, &err), 0);
    char *digit = strstr(b.data, "\"kept_docs\": 12");
    ck_assert_ptr_nonnull(digit);
    digit[strlen("\"kept_docs\": 1")] = '3';
    ck_assert_int_eq(pm_write_file_atomic(path, b.data, b.len, &err), 0);
    ck_assert_uint_eq(cache_hits(&cfg, &plan, warn, sizeof warn, &back), 0);
    ck_assert_ptr_nonnull(strstr(warn, "damaged"));
    pm_census_close(&back);
    pm_buf_free(&b);
    free(path);

    pm_census_close(&c);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
    pm_test_rmdir(dir);
}
END_TEST

static void share_config(pm_config_t *cfg, const char *extra_a, const char *output_extra)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"s\", \"components\": [{\"name\": \"A\", \"paths\": [\"a\"], "
             "\"share\": 0.75%s}, {\"name\": \"B\", \"paths\": [\"b\"], \"share\": 0.25}], "
             "\"output\": {\"dir\": \"o\"%s}}",
             extra_a, output_extra);
    pm_error_t err;
    ck_assert_msg(pm_config_load_string(cfg, json, "/tmp/s.json", &err) == 0, "%s", err.msg);
}

START_TEST(test_shares)
{
    pm_census_file_t comp[2];
    memset(comp, 0, sizeof comp);
    comp[0].split_text_bytes[PM_SPLIT_TRAIN] = 3000;
    comp[1].split_text_bytes[PM_SPLIT_TRAIN] = 4000;
    double epochs[2], total;
    pm_error_t err;

    /* No train_bytes: A (max 1) binds at 3000 / 0.75 = 4000 in all. */
    pm_config_t cfg;
    share_config(&cfg, "", "");
    ck_assert_int_eq(pm_shares_solve(&cfg, comp, epochs, &total, &err), 0);
    ck_assert_double_eq(total, 4000.0);
    ck_assert_double_eq(epochs[0], 1.0);
    ck_assert_double_eq_tol(epochs[1], 0.25, 1e-15);
    pm_config_close(&cfg);

    /* A may repeat 3 times: then B binds (4000 / 0.25 = 16000 > 9000 / 0.75 = 12000). */
    share_config(&cfg, ", \"max_epochs\": 3", "");
    ck_assert_int_eq(pm_shares_solve(&cfg, comp, epochs, &total, &err), 0);
    ck_assert_double_eq(total, 12000.0);
    ck_assert_double_eq(epochs[0], 3.0);
    ck_assert_double_eq_tol(epochs[1], 0.75, 1e-15);
    pm_config_close(&cfg);

    /* A fixed total: 8000 x 0.75 = 6000 bytes of A's 3000: 2 epochs, over max 1. */
    share_config(&cfg, "", ", \"train_bytes\": 8000");
    ck_assert_int_eq(pm_shares_solve(&cfg, comp, epochs, &total, &err), PM_ECONFIG);
    ck_assert_msg(strstr(err.msg, "components[0].share: \"A\" would need 2 epochs") != NULL, "%s",
                  err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "max_epochs is 1"));
    pm_config_close(&cfg);
    share_config(&cfg, ", \"max_epochs\": 2", ", \"train_bytes\": 8000");
    ck_assert_int_eq(pm_shares_solve(&cfg, comp, epochs, &total, &err), 0);
    ck_assert_double_eq(epochs[0], 2.0);
    ck_assert_double_eq(epochs[1], 0.5);

    /* Table 1 and its JSON. */
    comp[0].kept_docs = 3;
    comp[0].text_bytes = 3000;
    comp[1].kept_docs = 4;
    comp[1].text_bytes = 4000;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    pm_census_print_table(&cfg, comp, epochs, out);
    fclose(out);
    ck_assert_msg(strstr(text, "Mix %") && strstr(text, "Share asked"), "%s", text);
    ck_assert_msg(strstr(text, "75.00%") && strstr(text, "25.00%"), "%s", text);
    ck_assert_msg(strstr(text, "2.0000") && strstr(text, "0.5000"), "%s", text);
    free(text);
    json_t *j = pm_census_table_json(&cfg, comp, epochs, total);
    ck_assert_ptr_nonnull(j);
    json_t *a = json_array_get(json_object_get(j, "components"), 0);
    ck_assert_double_eq_tol(json_real_value(json_object_get(a, "share")), 0.75, 1e-12);
    ck_assert_double_eq(json_real_value(json_object_get(a, "share_asked")), 0.75);
    json_decref(j);
    pm_config_close(&cfg);

    /* A share component with no train text cannot be given any share. */
    comp[1].split_text_bytes[PM_SPLIT_TRAIN] = 0;
    share_config(&cfg, "", "");
    ck_assert_int_eq(pm_shares_solve(&cfg, comp, epochs, &total, &err), PM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"B\" has no train text"));
    pm_config_close(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("census");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_count_rules);
    tcase_add_test(tc, test_cache);
    tcase_add_test(tc, test_shares);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
