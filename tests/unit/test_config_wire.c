/* A config shipped from rank 0 must arrive whole: every field, set to a
 * non-default value, survives pm_config_pack / pm_config_unpack. */
#include "pilemix/config_wire.h"
#include "test_util.h"

START_TEST(test_every_field_round_trips)
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
    ck_assert_int_eq(pm_config_load_string(&a, json, "/etc/pilemix/wire.json", &err), 0);
    char *packed = pm_config_pack(&a);
    ck_assert_ptr_nonnull(packed);
    ck_assert_int_eq(pm_config_unpack(&b, packed, &err), 0);
    free(packed);

    ck_assert_str_eq(a.name, b.name);
    ck_assert_uint_eq(a.seed, b.seed);
    ck_assert_uint_eq(a.n_components, b.n_components);
    for (size_t i = 0; i < a.n_components; i++) {
        ck_assert_str_eq(a.components[i].name, b.components[i].name);
        ck_assert(a.components[i].epochs == b.components[i].epochs);
        ck_assert_uint_eq(a.components[i].n_paths, b.components[i].n_paths);
        for (size_t k = 0; k < a.components[i].n_paths; k++) {
            ck_assert_str_eq(a.components[i].paths[k], b.components[i].paths[k]);
            ck_assert_str_eq(a.components[i].raw_paths[k], b.components[i].raw_paths[k]);
        }
    }
    ck_assert_str_eq(a.out_dir, b.out_dir);
    ck_assert_uint_eq(a.train_shards, b.train_shards);
    ck_assert(a.val_fraction == b.val_fraction);
    ck_assert(a.test_fraction == b.test_fraction);
    ck_assert_int_eq(a.zstd_level, b.zstd_level);
    ck_assert_int_eq(a.keep_meta, b.keep_meta);
    ck_assert_str_eq(a.work_dir, b.work_dir);
    ck_assert_uint_eq(a.mem_per_rank, b.mem_per_rank);
    ck_assert_int_eq(a.on_bad_record, b.on_bad_record);
    ck_assert_uint_eq(a.max_bad_records, b.max_bad_records);
    ck_assert_uint_eq(a.max_record_bytes, b.max_record_bytes);
    ck_assert_int_eq(a.on_bad_file, b.on_bad_file);
    ck_assert_int_eq(b.on_bad_file, PM_ON_BAD_SKIP); /* not merely both default */
    ck_assert_str_eq(a.canonical_json, b.canonical_json);
    ck_assert_uint_eq(a.canonical_hash, b.canonical_hash);
    pm_config_close(&a);
    pm_config_close(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_wire");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_field_round_trips);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
