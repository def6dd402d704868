/* The schema engine on a test-only table over a test struct, exercising the
 * types and rules the real table does not use yet but later keys need:
 * custom (object-valued) rows, durations, lists of strings, a three-name enum,
 * a signed one-byte integer, a number with an exclusive upper bound, keys of a
 * later format (in the canonical form only when not default), an optional
 * array section with a cross-key rule, an optional object section. Also the
 * real table's self-check, its README type cells and the order of checks. */
#include "pilemix/config.h"
#include "pilemix/config_schema.h"
#include "test_util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the test struct and its custom type -------------------------------- */

typedef struct filter {
    char *field;
    long long min;
} filter_t;

typedef struct item {
    char *id;
    double weight; /* "weight" or "share", not both */
    double share;
} item_t;

typedef struct troot {
    char *title;
    int8_t level;
    int mode;
    double timeout;
    double ratio;
    char **exclude;
    size_t n_exclude;
    filter_t *filter;
    uint64_t budget;
    char *log;
    char *log_raw;
    item_t *items;
    size_t n_items;
    bool verbose;
} troot_t;

static void filter_free(void *p)
{
    filter_t *f = p;
    if (f)
        free(f->field);
    free(f);
}

static int filter_from_json(const json_t *v, filter_t **out)
{
    const json_t *field = json_object_get(v, "field");
    const json_t *min = json_object_get(v, "min");
    if (!json_is_string(field) || !json_is_integer(min))
        return PM_EINTERNAL;
    filter_t *f = calloc(1, sizeof *f);
    if (!f || !(f->field = strdup(json_string_value(field)))) {
        filter_free(f);
        return PM_ENOMEM;
    }
    f->min = (long long)json_integer_value(min);
    *out = f;
    return 0;
}

static int filter_parse(pm_cfg_ctx_t *c, const char *keypath, const json_t *v, void **out)
{
    if (!json_is_object(v))
        return pm_cfg_error(c, keypath, "must be an object");
    char path[300];
    snprintf(path, sizeof path, "%s.field", keypath);
    if (!json_is_string(json_object_get(v, "field")))
        return pm_cfg_error(c, path, "must be a string");
    snprintf(path, sizeof path, "%s.min", keypath);
    if (!json_is_integer(json_object_get(v, "min")))
        return pm_cfg_error(c, path, "must be an integer");
    int rc = filter_from_json(v, (filter_t **)out);
    return rc == PM_ENOMEM ? pm_cfg_nomem(c) : rc;
}

static json_t *filter_json(const void *p)
{
    const filter_t *f = p;
    return json_pack("{s:s, s:I}", "field", f->field, "min", (json_int_t)f->min);
}

static int filter_unpack(const json_t *j, void **out)
{
    return filter_from_json(j, (filter_t **)out);
}

static bool filter_equal(const void *a, const void *b)
{
    const filter_t *x = a, *y = b;
    return !strcmp(x->field, y->field) && x->min == y->min;
}

static const pm_cfg_custom_t filter_type = {filter_parse, filter_json,  filter_json, filter_unpack,
                                            filter_free,  filter_equal, "object"};

enum { T_TOP, T_ITEMS, T_EXTRA };

static int validate_item(pm_cfg_ctx_t *c, void *top, void *obj, size_t index, const char *prefix)
{
    (void)top, (void)index;
    const item_t *it = obj;
    if (it->weight != 0 && it->share != 0)
        return pm_cfg_error(c, prefix, "weight and share exclude each other");
    return 0;
}

static const pm_cfg_section_t t_sections[] = {
    [T_TOP] = {.name = ""},
    [T_ITEMS] = {.name = "items",
                 .flags = PM_CFG_SEC_ARRAY,
                 .array_offset = offsetof(troot_t, items),
                 .count_offset = offsetof(troot_t, n_items),
                 .elem_size = sizeof(item_t),
                 .validate = validate_item},
    [T_EXTRA] = {.name = "extra"},
};

static const char *const mode_names[] = {"none", "exact", "fuzzy", NULL};

#define T(m) PM_CFG_FIELD(troot_t, m)
#define I(m) PM_CFG_FIELD(item_t, m)
#define NONE .raw_offset = PM_CFG_NONE, .count_offset = PM_CFG_NONE
#define OUT PM_CFG_OUTPUT

static const pm_cfg_key_t t_keys[] = {
    {T_TOP, "title", PM_CFG_STRING, PM_CFG_REQUIRED | OUT, 1, T(title), NONE, .doc = "d",
     .example = "\"other\""},
    {T_TOP, "level", PM_CFG_INT, OUT, 1, T(level), NONE, .imin = -5, .imax = 5, .def_i = -1,
     .doc = "d", .example = "-5"},
    {T_TOP, "mode", PM_CFG_ENUM, OUT, 2, T(mode), NONE, .enum_names = mode_names, .def_i = 0,
     .doc = "d", .example = "\"fuzzy\""},
    {T_TOP, "timeout", PM_CFG_DURATION, PM_CFG_MIN_EXCL, 2, T(timeout), NONE, .dmin = 0,
     .dmax = 86400, .def_d = 30, .doc = "d", .example = "\"1.5h\""},
    {T_TOP, "ratio", PM_CFG_NUMBER, OUT | PM_CFG_MAX_EXCL, 2, T(ratio), NONE, .dmin = -1, .dmax = 1,
     .def_d = 0.5, .doc = "d", .example = "-0.25"},
    {T_TOP, "exclude", PM_CFG_STRING_LIST, OUT, 2, T(exclude), .raw_offset = PM_CFG_NONE,
     .count_offset = offsetof(troot_t, n_exclude), .doc = "d", .example = "[\"*.tmp\", \"x/**\"]"},
    {T_TOP, "filter", PM_CFG_CUSTOM, OUT, 2, T(filter), NONE, .custom = &filter_type, .doc = "d",
     .example = "{\"field\": \"lang\", \"min\": 3}"},
    {T_TOP, "budget", PM_CFG_SIZE, OUT, 2, T(budget), NONE, .umin = 1024, .ulim = 1ULL << 40,
     .def_u = 1ULL << 20, .doc = "d", .example = "\"3GiB\""},
    {T_TOP, "log", PM_CFG_PATH, 0, 2, T(log), .raw_offset = offsetof(troot_t, log_raw),
     .count_offset = PM_CFG_NONE, .def_s = "logs/x", .doc = "d", .example = "\"${PM_T_DIR}/log\""},
    {T_ITEMS, "id", PM_CFG_STRING, PM_CFG_REQUIRED | OUT, 2, I(id), NONE, .doc = "d",
     .example = "\"other\""},
    {T_ITEMS, "weight", PM_CFG_NUMBER, OUT, 2, I(weight), NONE, .dmin = 0, .dmax = HUGE_VAL,
     .doc = "d", .example = "2"},
    {T_ITEMS, "share", PM_CFG_FRACTION, OUT, 2, I(share), NONE, .doc = "d", .example = "0.5"},
    {T_EXTRA, "verbose", PM_CFG_BOOL, OUT, 2, T(verbose), NONE, .doc = "d", .example = "true"},
};

static const pm_cfg_schema_t TS = {t_sections, 3, t_keys, sizeof t_keys / sizeof *t_keys};

/* ---- helpers ------------------------------------------------------------ */

static int t_load(troot_t *r, const char *json, pm_error_t *err)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *doc = json_loads(json, 0, &je);
    ck_assert_msg(doc != NULL, "test JSON: %s", je.text);
    pm_cfg_ctx_t c = {err, "t/c.json", "t/c.json"};
    int rc = pm_cfg_parse(&TS, r, doc, &c);
    json_decref(doc);
    if (rc < 0)
        pm_cfg_free(&TS, r);
    return rc;
}

static char *t_canonical(const troot_t *r)
{
    json_t *doc = pm_cfg_canonical(&TS, r);
    ck_assert_ptr_nonnull(doc);
    char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    return s;
}

static void t_expect_error(const char *json, const char *msg)
{
    troot_t r;
    pm_error_t err;
    ck_assert_int_eq(t_load(&r, json, &err), PM_ECONFIG);
    ck_assert_str_eq(err.msg, msg);
    ck_assert_str_eq(err.file, "t/c.json");
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_tables_pass_self_check)
{
    pm_error_t err;
    ck_assert_int_eq(pm_cfg_schema_check(&TS, &err), 0);
    ck_assert_int_eq(pm_cfg_schema_check(&pm_config_schema, &err), 0);
}
END_TEST

/* Format-2 keys stay out of the canonical form at their default, explicit or
 * not, and come in when set; an empty optional section is left out. */
START_TEST(test_later_format_keys_and_canonical)
{
    troot_t r;
    pm_error_t err;
    ck_assert_int_eq(t_load(&r, "{\"title\": \"t\"}", &err), 0);
    char *min = t_canonical(&r);
    ck_assert_str_eq(min, "{\"level\":-1,\"title\":\"t\"}");
    ck_assert_int_eq(r.level, -1);
    ck_assert_int_eq(r.mode, 0);
    ck_assert(r.timeout == 30 && r.ratio == 0.5 && r.budget == 1ULL << 20);
    ck_assert_ptr_null(r.filter);
    ck_assert_str_eq(r.log, "t/logs/x"); /* a default path resolves like a written one */
    ck_assert_str_eq(r.log_raw, "logs/x");
    for (size_t i = 0; i < TS.n_keys; i++)
        if (TS.keys[i].section != T_ITEMS && !(TS.keys[i].flags & PM_CFG_REQUIRED))
            ck_assert_msg(pm_cfg_is_default(&TS.keys[i], &r), "%s", TS.keys[i].name);
    pm_cfg_free(&TS, &r);

    ck_assert_int_eq(
        t_load(&r,
               "{\"title\": \"t\", \"mode\": \"none\", \"ratio\": 0.5, \"exclude\": [],"
               " \"budget\": \"1M\", \"items\": [], \"extra\": {\"verbose\": false},"
               " \"timeout\": 99}",
               &err),
        0);
    char *explicit_defaults = t_canonical(&r);
    ck_assert_str_eq(explicit_defaults, min);
    pm_cfg_free(&TS, &r);
    free(explicit_defaults);

    ck_assert_int_eq(t_load(&r,
                            "{\"title\": \"t\", \"mode\": \"exact\", \"exclude\": [\"a*\"],"
                            " \"filter\": {\"field\": \"lang\", \"min\": 2},"
                            " \"items\": [{\"id\": \"x\", \"share\": 0.25}],"
                            " \"extra\": {\"verbose\": true}}",
                            &err),
                     0);
    char *set = t_canonical(&r);
    ck_assert_str_eq(set, "{\"exclude\":[\"a*\"],\"extra\":{\"verbose\":true},"
                          "\"filter\":{\"field\":\"lang\",\"min\":2},"
                          "\"items\":[{\"id\":\"x\",\"share\":0.25}],"
                          "\"level\":-1,\"mode\":\"exact\",\"title\":\"t\"}");
    pm_cfg_free(&TS, &r);
    free(set);
    free(min);
}
END_TEST

START_TEST(test_types_parse_and_refuse)
{
    troot_t r;
    pm_error_t err;
    setenv("PM_T_DIR", "/var/t", 1);
    ck_assert_int_eq(t_load(&r,
                            "{\"title\": \"t\", \"level\": -5, \"timeout\": \"1.5h\","
                            " \"budget\": 4096, \"log\": \"l/x\", \"exclude\": [\"a\", \"b\"]}",
                            &err),
                     0);
    ck_assert_int_eq(r.level, -5);
    ck_assert(r.timeout == 5400);
    ck_assert_uint_eq(r.budget, 4096);
    ck_assert_str_eq(r.log, "t/l/x"); /* relative to the config's directory */
    ck_assert_uint_eq(r.n_exclude, 2);
    ck_assert_str_eq(r.exclude[1], "b");
    pm_cfg_free(&TS, &r);
    ck_assert_int_eq(
        t_load(&r, "{\"title\": \"t\", \"timeout\": 45, \"log\": \"${PM_T_DIR}/l\"}", &err), 0);
    ck_assert(r.timeout == 45);
    ck_assert_str_eq(r.log, "/var/t/l");
    pm_cfg_free(&TS, &r);
    unsetenv("PM_T_DIR");

    t_expect_error("{\"title\": \"t\", \"level\": 6}", "level: must be <= 5 (got 6)");
    t_expect_error("{\"title\": \"t\", \"level\": -6}", "level: must be >= -5 (got -6)");
    t_expect_error("{\"title\": \"t\", \"mode\": \"x\"}",
                   "mode: must be \"none\", \"exact\" or \"fuzzy\" (got \"x\")");
    t_expect_error("{\"title\": \"t\", \"ratio\": 1}", "ratio: must be < 1 (got 1)");
    t_expect_error("{\"title\": \"t\", \"ratio\": -2}", "ratio: must be >= -1 (got -2)");
    t_expect_error("{\"title\": \"t\", \"timeout\": 0}", "timeout: must be > 0 (got 0)");
    t_expect_error("{\"title\": \"t\", \"timeout\": \"2d\"}",
                   "timeout: must be <= 86400 (got \"2d\")");
    static const char *bad_durations[] = {"0x1s", "5 m", "m",   "1.s", "1e3s",
                                          "inf",  "-1s", "1sm", ""};
    for (size_t i = 0; i < sizeof bad_durations / sizeof *bad_durations; i++) {
        char json[128], msg[160];
        snprintf(json, sizeof json, "{\"title\": \"t\", \"timeout\": \"%s\"}", bad_durations[i]);
        snprintf(msg, sizeof msg,
                 "timeout: bad duration \"%s\" (use e.g. 90s, 5m, 2h, 1d or seconds)",
                 bad_durations[i]);
        t_expect_error(json, msg);
    }
    t_expect_error("{\"title\": \"t\", \"timeout\": true}",
                   "timeout: must be a duration string or a number of seconds (got boolean)");
    t_expect_error("{\"title\": \"t\", \"exclude\": [\"a\", \"\"]}",
                   "exclude[1]: must not be empty");
    t_expect_error("{\"title\": \"t\", \"exclude\": \"a\"}",
                   "exclude: must be an array of strings (got string)");
    t_expect_error("{\"title\": \"t\", \"filter\": {\"field\": 1, \"min\": 1}}",
                   "filter.field: must be a string");
    t_expect_error("{\"title\": \"t\", \"budget\": \"2T\"}",
                   "budget: must be < 1 TiB (got 2199023255552 bytes)");
    t_expect_error("{\"title\": \"t\", \"extra\": {\"verbos\": true}}",
                   "extra.verbos: unknown key (did you mean \"verbose\"?)");
    t_expect_error("{\"title\": \"t\", \"itemz\": []}",
                   "itemz: unknown key (did you mean \"items\"?)");
    t_expect_error("{\"title\": \"t\", \"zzz\": 1}",
                   "zzz: unknown key (allowed: title, level, mode, timeout, ratio, exclude, "
                   "filter, budget, log, items, extra)");
    t_expect_error("{\"title\": \"t\", \"items\": [{\"weight\": 1}]}",
                   "items[0].id: missing required key");
}
END_TEST

/* A key's own problems are reported before its section's cross-key rules. */
START_TEST(test_order_of_checks)
{
    t_expect_error(
        "{\"title\": \"t\", \"items\": [{\"id\": \"a\", \"weight\": 1, \"share\": 0.5}]}",
        "items[0]: weight and share exclude each other");
    t_expect_error("{\"title\": \"t\", \"items\": [{\"id\": 1, \"weight\": 1, \"share\": 0.5}]}",
                   "items[0].id: must be a string (got integer)");

    /* The same rule on the real table (documented in config_schema.h). */
    pm_config_t cfg;
    pm_error_t err;
    ck_assert_int_eq(
        pm_config_load_string(&cfg,
                              "{\"name\":\"x\",\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
                              "\"epochs\":1}],\"output\":{\"dir\":\"o\",\"val_fraction\":0.5,"
                              "\"test_fraction\":0.5,\"zstd_level\":99}}",
                              "c.json", &err),
        PM_ECONFIG);
    ck_assert_str_eq(err.msg, "output.zstd_level: must be <= 19 (got 99)");
    ck_assert_int_eq(
        pm_config_load_string(&cfg,
                              "{\"name\":\"x\",\"components\":[{\"name\":\"A\",\"paths\":[\"a\"],"
                              "\"epochs\":1},{\"name\":\"A\",\"paths\":[\"b\"],\"epochs\":-1}],"
                              "\"output\":{\"dir\":\"o\"}}",
                              "c.json", &err),
        PM_ECONFIG);
    ck_assert_str_eq(err.msg, "components[1].epochs: must be > 0 (got -1)");
}
END_TEST

/* Every row of the test table: example loads, differs, round-trips through
 * pack/unpack, and moves the canonical form iff it changes the output. */
START_TEST(test_every_test_row_round_trips)
{
    setenv("PM_T_DIR", "/var/t", 1);
    pm_error_t err;
    const char *base = "{\"title\": \"t\", \"items\": [{\"id\": \"i\"}]}";
    troot_t b;
    ck_assert_int_eq(t_load(&b, base, &err), 0);
    char *base_canon = t_canonical(&b);
    for (size_t i = 0; i < TS.n_keys; i++) {
        const pm_cfg_key_t *k = &TS.keys[i];
        json_t *doc = json_loads(base, 0, NULL);
        json_t *target = doc;
        if (k->section == T_ITEMS)
            target = json_array_get(json_object_get(doc, "items"), 0);
        else if (k->section == T_EXTRA)
            json_object_set_new(doc, "extra", target = json_object());
        json_object_set_new(target, k->name, json_loads(k->example, JSON_DECODE_ANY, NULL));
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        troot_t r, u;
        int rc = t_load(&r, text, &err);
        ck_assert_msg(rc == 0, "%s: %s", k->name, err.msg);
        free(text);
        void *ro = pm_cfg_obj(&TS, k, &r, 0);
        ck_assert_msg(!pm_cfg_equal(k, ro, pm_cfg_obj(&TS, k, &b, 0)), "%s: not changed", k->name);
        ck_assert(!pm_cfg_is_default(k, ro));

        char *canon = t_canonical(&r);
        ck_assert_msg((strcmp(canon, base_canon) != 0) == ((k->flags & PM_CFG_OUTPUT) != 0),
                      "%s: canonical %s", k->name, canon);
        free(canon);

        json_t *packed = pm_cfg_pack(&TS, &r);
        ck_assert_ptr_nonnull(packed);
        memset(&u, 0, sizeof u);
        ck_assert_int_eq(pm_cfg_unpack(&TS, &u, packed, &err), 0);
        json_decref(packed);
        for (size_t j = 0; j < TS.n_keys; j++)
            ck_assert_msg(pm_cfg_equal(&TS.keys[j], pm_cfg_obj(&TS, &TS.keys[j], &r, 0),
                                       pm_cfg_obj(&TS, &TS.keys[j], &u, 0)),
                          "setting %s: %s differs after the round trip", k->name, TS.keys[j].name);
        pm_cfg_free(&TS, &r);
        pm_cfg_free(&TS, &u);
        ck_assert_ptr_null(u.filter);
        ck_assert_uint_eq(u.n_items, 0);
    }
    free(base_canon);
    pm_cfg_free(&TS, &b);
    unsetenv("PM_T_DIR");
}
END_TEST

START_TEST(test_self_check_catches_bad_rows)
{
    static const struct {
        size_t row;
        const char *what;
    } cases[] = {{1, "field width"},    {2, "enum"},           {5, "description or no example"},
                 {8, "canonical form"}, {8, "with a default"}, {0, "unique"},
                 {3, "bounds"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pm_cfg_key_t keys[sizeof t_keys / sizeof *t_keys];
        memcpy(keys, t_keys, sizeof keys);
        pm_cfg_key_t *k = &keys[cases[i].row];
        switch (i) {
        case 0: k->type = PM_CFG_NUMBER; break; /* on an int8_t field */
        case 1: k->def_i = 3; break;            /* past the names */
        case 2: k->example = NULL; break;
        case 3: /* a hashed path must keep its raw text */
            k->raw_offset = PM_CFG_NONE, k->def_s = NULL, k->flags |= PM_CFG_OUTPUT;
            break;
        case 4: k->raw_offset = PM_CFG_NONE; break; /* so must a defaulted one */
        case 5: k->name = "level"; break;           /* twice in the top level */
        case 6: k->dmin = 1, k->dmax = 1; break;
        }
        pm_cfg_schema_t s = {t_sections, 3, keys, sizeof keys / sizeof *keys};
        pm_error_t err;
        ck_assert_int_eq(pm_cfg_schema_check(&s, &err), PM_EINTERNAL);
        ck_assert_msg(strstr(err.msg, cases[i].what) != NULL, "case %zu: %s", i, err.msg);
    }
}
END_TEST

/* The README's type cells (tools/config_doc.c prints them). */
START_TEST(test_doc_cells)
{
    static const struct {
        const char *key, *cell;
    } real[] = {
        {"seed", "integer ≥ 0, default 0"},
        {"components[].paths", "non-empty array of paths, required"},
        {"components[].epochs",
         "number > 0, ≤ 1000, default none: each component has `epochs` or `share`"},
        {"output.train_shards", "integer 1..100000, default 30"},
        {"output.val_fraction", "number in [0,1), default 0"},
        {"output.keep_meta", "bool, default true"},
        {"run.work_dir", "path, default `<output.dir>.work`"},
        {"run.mem_per_rank", "size ≥ 16 MiB, default `2GiB`"},
        {"run.on_bad_file", "`\"fail\"` (default) or `\"skip\"`"},
        {"run.max_record_bytes", "size ≥ 1 KiB, < 4 GiB, default `64MiB`"},
    };
    size_t found = 0;
    for (size_t i = 0; i < pm_config_schema.n_keys; i++) {
        char path[128], cell[256];
        pm_cfg_key_doc_path(&pm_config_schema, &pm_config_schema.keys[i], path, sizeof path);
        pm_cfg_key_doc_type(&pm_config_schema.keys[i], cell, sizeof cell);
        for (size_t j = 0; j < sizeof real / sizeof *real; j++)
            if (!strcmp(path, real[j].key)) {
                ck_assert_str_eq(cell, real[j].cell);
                found++;
            }
    }
    ck_assert_uint_eq(found, sizeof real / sizeof *real);

    char cell[256];
    pm_cfg_key_doc_type(&t_keys[2], cell, sizeof cell);
    ck_assert_str_eq(cell, "`\"none\"` (default), `\"exact\"` or `\"fuzzy\"`");
    pm_cfg_key_doc_type(&t_keys[3], cell, sizeof cell);
    ck_assert_str_eq(cell,
                     "duration (seconds or `90s`, `5m`, `2h`, `1d`) > 0, ≤ 86400, default 30 s");
    pm_cfg_key_doc_type(&t_keys[6], cell, sizeof cell);
    ck_assert_str_eq(cell, "object, optional");
    pm_cfg_key_doc_type(&t_keys[8], cell, sizeof cell);
    ck_assert_str_eq(cell, "path, default `logs/x`");
    pm_cfg_key_doc_type(&t_keys[10], cell, sizeof cell);
    ck_assert_str_eq(cell, "number ≥ 0, default 0");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_schema");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tables_pass_self_check);
    tcase_add_test(tc, test_later_format_keys_and_canonical);
    tcase_add_test(tc, test_types_parse_and_refuse);
    tcase_add_test(tc, test_order_of_checks);
    tcase_add_test(tc, test_every_test_row_round_trips);
    tcase_add_test(tc, test_self_check_catches_bad_rows);
    tcase_add_test(tc, test_doc_cells);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
