/* Every row of the config schema, driven by the table itself (a new row is
 * covered without touching this file):
 *  - its example value loads and differs from the base config's value;
 *  - the config survives pm_config_pack / pm_config_unpack, every row's field
 *    compared by type on both sides;
 *  - the canonical form (the config hash) changes exactly when the row is
 *    marked as changing the output;
 *  - a misspelt key near the row's name gets a did-you-mean naming the row.
 * Plus packed input that pm_config_pack did not write is refused. */
#include "pilemix/config_schema.h"
#include "pilemix/config_wire.h"
#include "test_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "/etc/pilemix/wire.json"

static const char *base_json = "{\"name\": \"base\", \"components\": [{\"name\": \"A\", \"paths\": "
                               "[\"a\"], \"epochs\": 1}], \"output\": {\"dir\": \"o\"}}";

static const pm_cfg_schema_t *S = &pm_config_schema;

/* Every row's field equal in a and b (each element of array sections). */
static void assert_same_config(pm_config_t *a, pm_config_t *b, const char *what)
{
    ck_assert_uint_eq(a->n_components, b->n_components);
    for (size_t i = 0; i < S->n_keys; i++) {
        const pm_cfg_key_t *k = &S->keys[i];
        char path[128];
        pm_cfg_key_doc_path(S, k, path, sizeof path);
        bool array = S->sections[k->section].flags & PM_CFG_SEC_ARRAY;
        size_t n = array ? a->n_components : 1;
        for (size_t e = 0; e < n; e++)
            ck_assert_msg(pm_cfg_equal(k, pm_cfg_obj(S, k, a, e), pm_cfg_obj(S, k, b, e)),
                          "%s: %s (element %zu) differs after the round trip", what, path, e);
    }
    ck_assert(a->path == b->path || !strcmp(a->path, b->path));
    ck_assert_str_eq(a->canonical_json, b->canonical_json);
    ck_assert_uint_eq(a->canonical_hash, b->canonical_hash);
}

static void round_trip(pm_config_t *a, const char *what)
{
    pm_config_t b;
    pm_error_t err;
    char *packed = pm_config_pack(a);
    ck_assert_ptr_nonnull(packed);
    int rc = pm_config_unpack(&b, packed, &err);
    ck_assert_msg(rc == 0, "%s: unpack: %s", what, err.msg);
    free(packed);
    assert_same_config(a, &b, what);
    pm_config_close(&b);
}

/* The object a row's key lives in, inside a parsed copy of the base config. */
static json_t *row_target(json_t *doc, const pm_cfg_key_t *k)
{
    const pm_cfg_section_t *sec = &S->sections[k->section];
    if (!sec->name[0])
        return doc;
    json_t *t = json_object_get(doc, sec->name);
    if (sec->flags & PM_CFG_SEC_ARRAY)
        return json_array_get(t, 0);
    if (!t) {
        t = json_object();
        json_object_set_new(doc, sec->name, t);
    }
    return t;
}

/* The base config with `key` set to the row's example; a malloc'd string. */
static char *with_key(const pm_cfg_key_t *k, const char *key)
{
    json_error_t je;
    json_t *doc = json_loads(base_json, 0, &je);
    ck_assert_ptr_nonnull(doc);
    json_t *v = json_loads(k->example, JSON_DECODE_ANY, &je);
    ck_assert_msg(v != NULL, "%s: example %s is not JSON: %s", k->name, k->example, je.text);
    /* The weight rows need a config weighed by shares: its one component
     * gets share 1 instead of its epochs. */
    json_t *comp = json_array_get(json_object_get(doc, "components"), 0);
    if (!strcmp(k->name, "share") || !strcmp(k->name, "max_epochs") ||
        !strcmp(k->name, "train_bytes")) {
        json_object_del(comp, "epochs");
        json_object_set_new(comp, "share", json_real(1.0));
    }
    json_object_set_new(row_target(doc, k), key, v);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

START_TEST(test_every_row)
{
    setenv("PM_EXAMPLE_DATA", "/data/x", 1);
    pm_error_t err;
    ck_assert_int_eq(pm_cfg_schema_check(S, &err), 0);
    pm_config_t base;
    ck_assert_int_eq(pm_config_load_string(&base, base_json, ORIGIN, &err), 0);
    round_trip(&base, "base");

    for (size_t i = 0; i < S->n_keys; i++) {
        const pm_cfg_key_t *k = &S->keys[i];
        char path[128];
        pm_cfg_key_doc_path(S, k, path, sizeof path);

        char *text = with_key(k, k->name);
        pm_config_t cfg;
        int rc = pm_config_load_string(&cfg, text, ORIGIN, &err);
        ck_assert_msg(rc == 0, "%s: example %s does not load: %s", path, k->example, err.msg);
        free(text);
        ck_assert_msg(!pm_cfg_equal(k, pm_cfg_obj(S, k, &cfg, 0), pm_cfg_obj(S, k, &base, 0)),
                      "%s: the example %s leaves the field as in the base config", path,
                      k->example);
        bool changed = strcmp(cfg.canonical_json, base.canonical_json) != 0;
        bool output = k->flags & PM_CFG_OUTPUT;
        ck_assert_msg(changed == output, "%s: canonical form %s, but the row %s the output", path,
                      changed ? "changed" : "unchanged", output ? "changes" : "does not change");
        ck_assert_msg((cfg.canonical_hash != base.canonical_hash) == output, "%s: hash", path);
        round_trip(&cfg, path);
        pm_config_close(&cfg);

        /* Typos: one letter added, one letter dropped from the middle. */
        char typos[2][80];
        size_t len = strlen(k->name);
        snprintf(typos[0], sizeof typos[0], "%sx", k->name);
        snprintf(typos[1], sizeof typos[1], "%.*s%s", (int)(len / 2), k->name,
                 k->name + len / 2 + 1);
        for (int t = 0; t < 2; t++) {
            text = with_key(k, typos[t]);
            rc = pm_config_load_string(&cfg, text, ORIGIN, &err);
            free(text);
            char expected[256];
            const char *sec = S->sections[k->section].name;
            bool array = S->sections[k->section].flags & PM_CFG_SEC_ARRAY;
            snprintf(expected, sizeof expected, "%s%s%s%s: unknown key (did you mean \"%s\"?)", sec,
                     array ? "[0]" : "", sec[0] ? "." : "", typos[t], k->name);
            ck_assert_int_eq(rc, PM_ECONFIG);
            ck_assert_str_eq(err.msg, expected);
        }
    }
    pm_config_close(&base);
    unsetenv("PM_EXAMPLE_DATA");
}
END_TEST

/* Several components, ${VAR} and relative paths, every key set: the case the
 * hand-written field list used to cover, now compared row by row. */
START_TEST(test_full_config_round_trips)
{
    setenv("PM_WIRE_DATA", "/data/x", 1);
    const char *json =
        "{\"name\": \"wire\", \"seed\": 9007199254740993,"
        " \"components\": [{\"name\": \"A\", \"paths\": [\"${PM_WIRE_DATA}/a\", \"rel/b\"], "
        "\"epochs\": 2.5},"
        "                  {\"name\": \"B\", \"paths\": [\"/abs/c\"], \"epochs\": 0.25}],"
        " \"output\": {\"dir\": \"o\", \"train_shards\": 7, \"val_fraction\": 0.125,"
        "   \"test_fraction\": 0.0625, \"zstd_level\": 9, \"keep_meta\": false},"
        " \"run\": {\"work_dir\": \"w\", \"mem_per_rank\": \"3GiB\", \"on_bad_record\": \"skip\","
        "   \"max_bad_records\": 77, \"max_record_bytes\": \"5M\", \"on_bad_file\": \"skip\"}}";
    pm_config_t a, b;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&a, json, ORIGIN, &err), 0);
    round_trip(&a, "full");
    /* Spot checks that the comparison is not vacuous. */
    char *packed = pm_config_pack(&a);
    ck_assert_int_eq(pm_config_unpack(&b, packed, &err), 0);
    free(packed);
    ck_assert_str_eq(b.components[0].paths[0], "/data/x/a");
    ck_assert_str_eq(b.components[0].raw_paths[0], "${PM_WIRE_DATA}/a");
    ck_assert_str_eq(b.components[0].paths[1], "/etc/pilemix/rel/b");
    ck_assert(b.components[1].epochs == 0.25);
    ck_assert_str_eq(b.work_dir, "/etc/pilemix/w");
    ck_assert_int_eq(b.on_bad_file, PM_ON_BAD_SKIP); /* not merely both default */
    ck_assert_uint_eq(b.mem_per_rank, 3ULL << 30);
    ck_assert_uint_eq(b.seed, 9007199254740993ULL); /* above 2^53: not through a double */
    pm_config_close(&a);
    pm_config_close(&b);
    unsetenv("PM_WIRE_DATA");
}
END_TEST

/* Flags override these after loading; the override must travel too. */
START_TEST(test_overrides_travel)
{
    pm_config_t a, b;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&a, base_json, NULL, &err), 0);
    a.mem_per_rank = UINT64_MAX; /* sizes above INT64_MAX go through json_int_t */
    char *packed = pm_config_pack(&a);
    ck_assert_int_eq(pm_config_unpack(&b, packed, &err), 0);
    free(packed);
    ck_assert_uint_eq(b.mem_per_rank, UINT64_MAX);
    ck_assert_ptr_null(b.path); /* no origin stays no origin */
    pm_config_close(&a);
    pm_config_close(&b);
}
END_TEST

/* Paths are bytes: a config file or ${VAR} value that is not UTF-8 must still
 * reach the other ranks (it used to fail the pack, reported as out of memory). */
START_TEST(test_non_utf8_paths_travel)
{
    setenv("PM_WIRE_LATIN1", "/data/caf\xe9", 1);
    const char *json = "{\"name\": \"n\", \"components\": [{\"name\": \"A\", \"paths\": "
                       "[\"${PM_WIRE_LATIN1}/a\", \"b\"], \"epochs\": 1}], "
                       "\"output\": {\"dir\": \"${PM_WIRE_LATIN1}/out\"}}";
    pm_config_t a, b;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&a, json, "/etc/pile\xff/c.json", &err), 0);
    ck_assert_str_eq(a.components[0].paths[1], "/etc/pile\xff/b");
    round_trip(&a, "latin-1");
    char *packed = pm_config_pack(&a);
    ck_assert_ptr_nonnull(packed);
    ck_assert_ptr_nonnull(strstr(packed, "\"hex\""));
    ck_assert_int_eq(pm_config_unpack(&b, packed, &err), 0);
    free(packed);
    ck_assert_str_eq(b.path, "/etc/pile\xff/c.json");
    ck_assert_str_eq(b.out_dir, "/data/caf\xe9/out");
    ck_assert_str_eq(b.components[0].paths[0], "/data/caf\xe9/a");
    pm_config_close(&a);
    pm_config_close(&b);
    unsetenv("PM_WIRE_LATIN1");

    /* Malformed hex is refused, never decoded into something else. */
    static const char *bad[] = {"{\"hex\": \"6\"}",
                                "{\"hex\": \"6z\"}",
                                "{\"hex\": \"6100\"}",
                                "{\"hex\": \"6A\"}",
                                "{\"hex\": 1}",
                                "{}",
                                "1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        char *out = (char *)"untouched";
        ck_assert_msg(pm_cfg_wire_string_value(j, &out) == PM_EINTERNAL, "%s accepted", bad[i]);
        ck_assert_ptr_null(out);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_bad_packed_refused)
{
    pm_config_t a, b;
    pm_error_t err;
    ck_assert_int_eq(pm_config_load_string(&a, base_json, ORIGIN, &err), 0);
    char *packed = pm_config_pack(&a);
    pm_config_close(&a);
    json_t *doc = json_loads(packed, 0, NULL);
    free(packed);
    ck_assert_ptr_nonnull(doc);

    static const struct {
        const char *section, *key, *value;
        const char *expected;
    } cases[] = {
        {"output", "train_shards", "\"7\"", "bad packed config: output.train_shards"},
        {"output", "train_shards", "0", "bad packed config: output.train_shards"},
        {"run", "on_bad_file", "\"skip\"", "bad packed config: run.on_bad_file"},
        {"run", "on_bad_file", "2", "bad packed config: run.on_bad_file"}, /* past the names */
        {"", "seed", "1.5", "bad packed config: seed"},
        {"output", "dir", "\"o\"", "bad packed config: output.dir"}, /* raw text missing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *copy = json_deep_copy(doc);
        json_t *sec = json_object_get(json_object_get(copy, "keys"), cases[i].section);
        json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
        ck_assert_int_eq(json_object_set_new(sec, cases[i].key, v), 0);
        char *s = json_dumps(copy, JSON_COMPACT);
        json_decref(copy);
        memset(&b, 0x5a, sizeof b);
        ck_assert_int_eq(pm_config_unpack(&b, s, &err), PM_EINTERNAL);
        ck_assert_str_eq(err.msg, cases[i].expected);
        ck_assert_ptr_null(b.name); /* left closed */
        free(s);
    }
    json_t *copy = json_deep_copy(doc);
    json_t *comps = json_object_get(json_object_get(copy, "keys"), "components");
    json_object_del(json_array_get(comps, 0), "epochs");
    char *s = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    ck_assert_int_eq(pm_config_unpack(&b, s, &err), PM_EINTERNAL);
    ck_assert_str_eq(err.msg, "bad packed config: components[0].epochs");
    free(s);
    ck_assert_int_eq(pm_config_unpack(&b, "{\"keys\": 1}", &err), PM_EINTERNAL);
    ck_assert_int_eq(pm_config_unpack(&b, "not json", &err), PM_EINTERNAL);
    json_decref(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_wire");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_row);
    tcase_add_test(tc, test_full_config_round_trips);
    tcase_add_test(tc, test_overrides_travel);
    tcase_add_test(tc, test_non_utf8_paths_travel);
    tcase_add_test(tc, test_bad_packed_refused);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
