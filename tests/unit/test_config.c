/* Config loading: good configs, defaults, ${VAR}, path resolution, the
 * canonical hash, sizes, and the data-driven bad configs in
 * tests/data/config_invalid/ (NAME.json + NAME.expected). */
#include "pilemix/config.h"

#include <check.h>

#include "test_util.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PM_SOURCE_DIR
#define PM_SOURCE_DIR "."
#endif
#define INVALID_DIR PM_SOURCE_DIR "/tests/data/config_invalid"

static const char *full_cfg =
    "{\n"
    "  \"name\": \"pile-v1\",\n"
    "  \"seed\": 42,\n"
    "  \"components\": [\n"
    "    {\"name\": \"Pile-CC\", \"paths\": [\"/data/pile_cc/*.jsonl.zst\"], \"epochs\": 1.0},\n"
    "    {\"name\": \"Wikipedia (en)\", \"paths\": [\"wiki\", \"more/wiki2\"], \"epochs\": 3}\n"
    "  ],\n"
    "  \"output\": {\"dir\": \"out/pile-v1\", \"train_shards\": 7, \"val_fraction\": 0.001,\n"
    "             \"test_fraction\": 0.002, \"zstd_level\": 5, \"keep_meta\": false},\n"
    "  \"run\": {\"work_dir\": \"/scratch/w\", \"mem_per_rank\": \"512M\",\n"
    "          \"on_bad_record\": \"skip\", \"on_bad_file\": \"skip\", \"max_bad_records\": 7,\n"
    "          \"max_record_bytes\": \"1MiB\"}\n"
    "}\n";

START_TEST(test_full)
{
    pm_config_t cfg;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&cfg, full_cfg, "/etc/pm/c.json", &err), 0);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(cfg.path, "/etc/pm/c.json");
    ck_assert_str_eq(cfg.name, "pile-v1");
    ck_assert_uint_eq(cfg.seed, 42);
    ck_assert_uint_eq(cfg.n_components, 2);
    ck_assert_str_eq(cfg.components[0].name, "Pile-CC");
    ck_assert_uint_eq(cfg.components[0].n_paths, 1);
    ck_assert_str_eq(cfg.components[0].paths[0], "/data/pile_cc/*.jsonl.zst");
    ck_assert_str_eq(cfg.components[0].raw_paths[0], "/data/pile_cc/*.jsonl.zst");
    ck_assert(cfg.components[0].epochs == 1.0);
    ck_assert_str_eq(cfg.components[1].name, "Wikipedia (en)");
    ck_assert_uint_eq(cfg.components[1].n_paths, 2);
    ck_assert_str_eq(cfg.components[1].paths[0], "/etc/pm/wiki");
    ck_assert_str_eq(cfg.components[1].paths[1], "/etc/pm/more/wiki2");
    ck_assert_str_eq(cfg.components[1].raw_paths[1], "more/wiki2");
    ck_assert(cfg.components[1].epochs == 3.0);
    ck_assert_str_eq(cfg.out_dir, "/etc/pm/out/pile-v1");
    ck_assert_uint_eq(cfg.train_shards, 7);
    ck_assert(cfg.val_fraction == 0.001);
    ck_assert(cfg.test_fraction == 0.002);
    ck_assert_int_eq(cfg.zstd_level, 5);
    ck_assert(!cfg.keep_meta);
    ck_assert_str_eq(cfg.work_dir, "/scratch/w");
    ck_assert_uint_eq(cfg.mem_per_rank, 512ULL << 20);
    ck_assert_int_eq(cfg.on_bad_record, PM_ON_BAD_SKIP);
    ck_assert_int_eq(cfg.on_bad_file, PM_ON_BAD_SKIP);
    ck_assert_uint_eq(cfg.max_bad_records, 7);
    ck_assert_uint_eq(cfg.max_record_bytes, 1ULL << 20);
    ck_assert_ptr_nonnull(cfg.canonical_json);
    /* operational keys are not part of the canonical form */
    ck_assert_ptr_null(strstr(cfg.canonical_json, "work_dir"));
    ck_assert_ptr_null(strstr(cfg.canonical_json, "mem_per_rank"));
    ck_assert_ptr_nonnull(strstr(cfg.canonical_json, "\"on_bad_record\":\"skip\""));
    /* skipping a bad file changes what is written: part of the meaning */
    ck_assert_ptr_nonnull(strstr(cfg.canonical_json, "\"on_bad_file\":\"skip\""));
    pm_config_close(&cfg);
    pm_config_close(&cfg); /* idempotent */
}
END_TEST

START_TEST(test_defaults)
{
    pm_config_t cfg;
    pm_error_t err;
    const char *j = "{\"name\":\"d\",\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
                    "\"epochs\":0.5}],\"output\":{\"dir\":\"out/\"}}";
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "c.json", &err), 0);
    ck_assert_uint_eq(cfg.seed, 0);
    ck_assert_uint_eq(cfg.train_shards, 30);
    ck_assert(cfg.val_fraction == 0.0 && cfg.test_fraction == 0.0);
    ck_assert_int_eq(cfg.zstd_level, 3);
    ck_assert(cfg.keep_meta);
    /* config in the cwd: paths stay as written */
    ck_assert_str_eq(cfg.components[0].paths[0], "a");
    ck_assert_str_eq(cfg.out_dir, "out/");
    ck_assert_str_eq(cfg.work_dir, "out.work"); /* not "out/.work" */
    ck_assert_uint_eq(cfg.mem_per_rank, 2ULL << 30);
    ck_assert_int_eq(cfg.on_bad_record, PM_ON_BAD_FAIL);
    ck_assert_int_eq(cfg.on_bad_file, PM_ON_BAD_FAIL);
    ck_assert_uint_eq(cfg.max_bad_records, 1000);
    ck_assert_uint_eq(cfg.max_record_bytes, 64ULL << 20);
    ck_assert_str_eq(cfg.canonical_json,
                     "{\"components\":[{\"epochs\":0.5,\"name\":\"A\",\"paths\":[\"a\"]}],"
                     "\"name\":\"d\",\"output\":{\"dir\":\"out/\",\"keep_meta\":true,"
                     "\"test_fraction\":0.0,\"train_shards\":30,\"val_fraction\":0.0,"
                     "\"zstd_level\":3},\"run\":{\"max_bad_records\":1000,"
                     "\"max_record_bytes\":67108864,\"on_bad_file\":\"fail\","
                     "\"on_bad_record\":\"fail\"},\"seed\":0}");
    pm_config_close(&cfg);
}
END_TEST

START_TEST(test_relative_resolution)
{
    pm_config_t cfg;
    pm_error_t err;
    const char *j = "{\"name\":\"r\",\"components\":[{\"name\":\"A\",\"paths\":[\"../data/x\","
                    "\"/abs/y\",\"z/*.jsonl\"],\"epochs\":1}],\"output\":{\"dir\":\"o\"},"
                    "\"run\":{\"work_dir\":\"w\"}}";
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "configs/p.json", &err), 0);
    ck_assert_str_eq(cfg.components[0].paths[0], "configs/../data/x");
    ck_assert_str_eq(cfg.components[0].paths[1], "/abs/y");
    ck_assert_str_eq(cfg.components[0].paths[2], "configs/z/*.jsonl");
    ck_assert_str_eq(cfg.out_dir, "configs/o");
    ck_assert_str_eq(cfg.work_dir, "configs/w");
    pm_config_close(&cfg);

    ck_assert_int_eq(pm_config_load_string(&cfg, j, "/p.json", &err), 0);
    ck_assert_str_eq(cfg.components[0].paths[0], "/../data/x");
    ck_assert_str_eq(cfg.out_dir, "/o");
    ck_assert_str_eq(cfg.work_dir, "/w");
    pm_config_close(&cfg);

    /* no origin: relative to the cwd */
    ck_assert_int_eq(pm_config_load_string(&cfg, j, NULL, &err), 0);
    ck_assert_str_eq(cfg.components[0].paths[0], "../data/x");
    pm_config_close(&cfg);
}
END_TEST

START_TEST(test_env_expansion)
{
    pm_config_t cfg;
    pm_error_t err;
    setenv("PM_TEST_DATA", "/srv/pile", 1);
    setenv("PM_TEST_REL", "rel", 1);
    const char *j = "{\"name\":\"e\",\"components\":[{\"name\":\"A\",\"paths\":["
                    "\"${PM_TEST_DATA}/cc/*.jsonl.zst\",\"${PM_TEST_REL}/x\",\"a$b/$c{d}\","
                    "\"${PM_TEST_DATA}${PM_TEST_REL}\"],\"epochs\":1}],"
                    "\"output\":{\"dir\":\"${PM_TEST_DATA}/out\"},"
                    "\"run\":{\"work_dir\":\"${PM_TEST_REL}/w\"}}";
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "cfg/c.json", &err), 0);
    ck_assert_str_eq(cfg.components[0].paths[0], "/srv/pile/cc/*.jsonl.zst");
    ck_assert_str_eq(cfg.components[0].raw_paths[0], "${PM_TEST_DATA}/cc/*.jsonl.zst");
    ck_assert_str_eq(cfg.components[0].paths[1], "cfg/rel/x");     /* expanded, then resolved */
    ck_assert_str_eq(cfg.components[0].paths[2], "cfg/a$b/$c{d}"); /* bare $ is literal */
    ck_assert_str_eq(cfg.components[0].paths[3], "/srv/pilerel");
    ck_assert_str_eq(cfg.out_dir, "/srv/pile/out");
    ck_assert_str_eq(cfg.work_dir, "cfg/rel/w");
    /* the hash sees the paths as written, so moving the data keeps it */
    uint64_t h = cfg.canonical_hash;
    ck_assert_ptr_nonnull(strstr(cfg.canonical_json, "${PM_TEST_DATA}/cc/*.jsonl.zst"));
    pm_config_close(&cfg);
    setenv("PM_TEST_DATA", "/elsewhere", 1);
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "cfg/c.json", &err), 0);
    ck_assert_uint_eq(cfg.canonical_hash, h);
    pm_config_close(&cfg);

    unsetenv("PM_TEST_DATA");
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "cfg/c.json", &err), PM_ECONFIG);
    ck_assert_str_eq(err.msg,
                     "components[0].paths[0]: environment variable PM_TEST_DATA is not set");
    ck_assert_str_eq(err.file, "cfg/c.json");
    ck_assert_ptr_null(cfg.name); /* left closed */

    setenv("PM_TEST_DATA", "", 1);
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "cfg/c.json", &err), PM_ECONFIG);
    ck_assert_str_eq(err.msg, "components[0].paths[0]: environment variable PM_TEST_DATA is empty");
    unsetenv("PM_TEST_DATA");
    unsetenv("PM_TEST_REL");
}
END_TEST

static uint64_t hash_of(const char *json)
{
    pm_config_t cfg;
    pm_error_t err;
    int rc = pm_config_load_string(&cfg, json, "x/c.json", &err);
    ck_assert_msg(rc == 0, "load failed: %s", err.msg);
    uint64_t h = cfg.canonical_hash;
    pm_config_close(&cfg);
    return h;
}

START_TEST(test_canonical_hash)
{
    const char *a = "{\"name\":\"h\",\"seed\":3,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
                    "\"epochs\":1.5},{\"name\":\"B\",\"paths\":[\"b1\",\"b2\"],\"epochs\":2}],"
                    "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01}}";
    /* reordered keys, whitespace, explicit defaults, integer-vs-real
     * numbers, operational keys */
    const char *b =
        "{\n  \"output\": {\"val_fraction\": 1e-2, \"dir\": \"o\", \"train_shards\": 30,\n"
        "     \"test_fraction\": 0, \"zstd_level\": 3, \"keep_meta\": true},\n"
        "  \"components\": [\n    {\"epochs\": 1.50, \"paths\": [\"a\"], \"name\": \"A\"},\n"
        "    {\"paths\": [\"b1\", \"b2\"], \"name\": \"B\", \"epochs\": 2.0}],\n"
        "  \"seed\": 3, \"name\": \"h\",\n"
        "  \"run\": {\"work_dir\": \"/tmp/else\", \"mem_per_rank\": \"8GiB\",\n"
        "          \"on_bad_record\": \"fail\", \"on_bad_file\": \"fail\",\n"
        "          \"max_bad_records\": 1000,\n"
        "          \"max_record_bytes\": \"64M\"}\n}\n";
    uint64_t ha = hash_of(a);
    ck_assert_uint_eq(ha, hash_of(b));
    /* meaning changes the hash */
    const char *epochs =
        "{\"name\":\"h\",\"seed\":3,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
        "\"epochs\":1.25},{\"name\":\"B\",\"paths\":[\"b1\",\"b2\"],\"epochs\":2}],"
        "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01}}";
    const char *seed =
        "{\"name\":\"h\",\"seed\":4,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
        "\"epochs\":1.5},{\"name\":\"B\",\"paths\":[\"b1\",\"b2\"],\"epochs\":2}],"
        "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01}}";
    const char *order =
        "{\"name\":\"h\",\"seed\":3,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
        "\"epochs\":1.5},{\"name\":\"B\",\"paths\":[\"b2\",\"b1\"],\"epochs\":2}],"
        "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01}}";
    const char *skip =
        "{\"name\":\"h\",\"seed\":3,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
        "\"epochs\":1.5},{\"name\":\"B\",\"paths\":[\"b1\",\"b2\"],\"epochs\":2}],"
        "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01},"
        "\"run\":{\"on_bad_record\":\"skip\"}}";
    const char *skip_file =
        "{\"name\":\"h\",\"seed\":3,\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
        "\"epochs\":1.5},{\"name\":\"B\",\"paths\":[\"b1\",\"b2\"],\"epochs\":2}],"
        "\"output\":{\"dir\":\"o\",\"val_fraction\":0.01},"
        "\"run\":{\"on_bad_file\":\"skip\"}}";
    ck_assert_uint_ne(ha, hash_of(epochs));
    ck_assert_uint_ne(ha, hash_of(skip_file));
    ck_assert_uint_ne(hash_of(skip), hash_of(skip_file));
    ck_assert_uint_ne(ha, hash_of(seed));
    ck_assert_uint_ne(ha, hash_of(order));
    ck_assert_uint_ne(ha, hash_of(skip));
}
END_TEST

START_TEST(test_size_parse)
{
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = {
        {"512M", 512ULL << 20}, {"2GiB", 2ULL << 30}, {"64k", 64ULL << 10},
        {"1T", 1ULL << 40},     {"100", 100},         {"100b", 100},
        {"2gib", 2ULL << 30},   {"3KB", 3000},        {"5mb", 5000000},
        {"1P", 1ULL << 50},     {"7KiB", 7168},       {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        uint64_t v = 0;
        ck_assert_msg(pm_size_parse(good[i].s, &v) == 0, "%s rejected", good[i].s);
        ck_assert_msg(v == good[i].v, "%s -> %llu", good[i].s, (unsigned long long)v);
    }
    static const char *bad[] = {"",          "0",    "0M",  "1.5G",  "-1",
                                "+1",        " 1",   "1 G", "12Q",   "G",
                                "1Gi",       "1GB2", "1iB", "1GiBs", "18446744073709551616",
                                "16777216T", "1e9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t v = 42;
        ck_assert_msg(pm_size_parse(bad[i], &v) == PM_ECONFIG, "\"%s\" accepted", bad[i]);
        ck_assert_uint_eq(v, 42);
    }
    ck_assert_int_eq(pm_size_parse(NULL, &(uint64_t){0}), PM_ECONFIG);
}
END_TEST

START_TEST(test_size_keys)
{
    pm_config_t cfg;
    pm_error_t err;
    const char *j =
        "{\"name\":\"s\",\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],\"epochs\":1}],"
        "\"output\":{\"dir\":\"o\"},\"run\":{\"mem_per_rank\":16777216,"
        "\"max_record_bytes\":\"4294967295\"}}";
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "c.json", &err), 0);
    ck_assert_uint_eq(cfg.mem_per_rank, 16ULL << 20);
    ck_assert_uint_eq(cfg.max_record_bytes, 4294967295ULL);
    pm_config_close(&cfg);
}
END_TEST

START_TEST(test_syntax_error_position)
{
    pm_config_t cfg;
    pm_error_t err;
    const char *j = "{\n  \"name\": \"x\",\n  \"seed\": 1,,\n}\n";
    ck_assert_int_eq(pm_config_load_string(&cfg, j, "c.json", &err), PM_ECONFIG);
    ck_assert_int_eq(err.code, PM_ECONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.column, 13);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid JSON"));
    char line[2048];
    pm_error_format(&err, line, sizeof line);
    ck_assert_msg(!strncmp(line, "c.json:3:13: invalid JSON", 25), "%s", line);
}
END_TEST

START_TEST(test_load_file_errors)
{
    pm_config_t cfg;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load(&cfg, "/nonexistent/pm/c.json", &err), PM_EIO);
    ck_assert_str_eq(err.file, "/nonexistent/pm/c.json");
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open config"));
    ck_assert_ptr_null(cfg.name);
    pm_config_close(&cfg);
}
END_TEST

static char *read_line(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[1024];
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Every NAME.json in config_invalid must fail with PM_ECONFIG and a message
 * containing NAME.expected, matched against "line:column: message". */
START_TEST(test_invalid_configs)
{
    unsetenv("PM_TEST_SURELY_UNSET");
    setenv("DATA", "/d", 1); /* "${DATA/x" must fail for its syntax, not the variable */
    DIR *d = opendir(INVALID_DIR);
    ck_assert_msg(d != NULL, "cannot open %s", INVALID_DIR);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        char path[2048], exp_path[2048];
        snprintf(path, sizeof path, "%s/%s", INVALID_DIR, de->d_name);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", INVALID_DIR, (int)(len - 5),
                 de->d_name);
        const char *expected = read_line(exp_path);
        pm_config_t cfg;
        pm_error_t err;
        int rc = pm_config_load(&cfg, path, &err);
        char got[2200];
        snprintf(got, sizeof got, "%llu:%llu: %s", (unsigned long long)err.line,
                 (unsigned long long)err.column, err.msg);
        ck_assert_msg(rc == PM_ECONFIG, "%s: rc %d (%s)", de->d_name, rc, got);
        ck_assert_msg(strstr(got, expected) != NULL, "%s: expected \"%s\", got \"%s\"", de->d_name,
                      expected, got);
        ck_assert_str_eq(err.file, path);
        ck_assert_ptr_null(cfg.name);
        n++;
    }
    closedir(d);
    unsetenv("DATA");
    ck_assert_int_ge(n, 40);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_relative_resolution);
    tcase_add_test(tc, test_env_expansion);
    tcase_add_test(tc, test_canonical_hash);
    tcase_add_test(tc, test_size_parse);
    tcase_add_test(tc, test_size_keys);
    tcase_add_test(tc, test_syntax_error_position);
    tcase_add_test(tc, test_load_file_errors);
    tcase_add_test(tc, test_invalid_configs);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
