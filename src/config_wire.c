#include "pilemix/config_wire.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *str_array(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char *pm_config_pack(const pm_config_t *cfg)
{
    json_t *comps = json_array();
    for (size_t i = 0; i < cfg->n_components; i++) {
        const pm_component_cfg_t *c = &cfg->components[i];
        json_array_append_new(comps,
                              json_pack("{s:s, s:o, s:o, s:f}", "name", c->name, "paths",
                                        str_array(c->paths, c->n_paths), "raw_paths",
                                        str_array(c->raw_paths, c->n_paths), "epochs", c->epochs));
    }
    json_t *root = json_pack(
        "{s:s, s:s, s:I, s:o, s:s, s:I, s:f, s:f, s:i, s:b, s:s, s:I, s:i, s:I, s:I, s:i, s:s, "
        "s:I}",
        "path", cfg->path ? cfg->path : "", "name", cfg->name, "seed", (json_int_t)cfg->seed,
        "components", comps, "out_dir", cfg->out_dir, "train_shards", (json_int_t)cfg->train_shards,
        "val_fraction", cfg->val_fraction, "test_fraction", cfg->test_fraction, "zstd_level",
        cfg->zstd_level, "keep_meta", cfg->keep_meta, "work_dir", cfg->work_dir, "mem_per_rank",
        (json_int_t)cfg->mem_per_rank, "on_bad_record", (int)cfg->on_bad_record, "max_bad_records",
        (json_int_t)cfg->max_bad_records, "max_record_bytes", (json_int_t)cfg->max_record_bytes,
        "on_bad_file", (int)cfg->on_bad_file, "canonical_json", cfg->canonical_json,
        "canonical_hash", (json_int_t)cfg->canonical_hash);
    if (!root)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    return s;
}

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return strdup(s ? s : "");
}

static char **dup_strs(json_t *a, size_t n)
{
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = strdup(json_string_value(json_array_get(a, i)));
    return v;
}

int pm_config_unpack(pm_config_t *cfg, const char *json, pm_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root)
        return pm_error_set(err, PM_EINTERNAL, NULL, 0, "bad packed config: %s", je.text);
    json_t *comps = json_object_get(root, "components");
    cfg->path = dup_str(root, "path");
    cfg->name = dup_str(root, "name");
    cfg->seed = (uint64_t)json_integer_value(json_object_get(root, "seed"));
    cfg->n_components = json_array_size(comps);
    cfg->components = calloc(cfg->n_components, sizeof *cfg->components);
    for (size_t i = 0; cfg->components && i < cfg->n_components; i++) {
        json_t *c = json_array_get(comps, i);
        pm_component_cfg_t *pc = &cfg->components[i];
        pc->name = dup_str(c, "name");
        pc->n_paths = json_array_size(json_object_get(c, "paths"));
        pc->paths = dup_strs(json_object_get(c, "paths"), pc->n_paths);
        pc->raw_paths = dup_strs(json_object_get(c, "raw_paths"), pc->n_paths);
        pc->epochs = json_real_value(json_object_get(c, "epochs"));
    }
    cfg->out_dir = dup_str(root, "out_dir");
    cfg->train_shards = (uint32_t)json_integer_value(json_object_get(root, "train_shards"));
    cfg->val_fraction = json_real_value(json_object_get(root, "val_fraction"));
    cfg->test_fraction = json_real_value(json_object_get(root, "test_fraction"));
    cfg->zstd_level = (int)json_integer_value(json_object_get(root, "zstd_level"));
    cfg->keep_meta = json_is_true(json_object_get(root, "keep_meta"));
    cfg->work_dir = dup_str(root, "work_dir");
    cfg->mem_per_rank = (uint64_t)json_integer_value(json_object_get(root, "mem_per_rank"));
    cfg->on_bad_record = (pm_on_bad_t)json_integer_value(json_object_get(root, "on_bad_record"));
    cfg->max_bad_records = (uint64_t)json_integer_value(json_object_get(root, "max_bad_records"));
    cfg->max_record_bytes = (uint64_t)json_integer_value(json_object_get(root, "max_record_bytes"));
    cfg->on_bad_file = (pm_on_bad_t)json_integer_value(json_object_get(root, "on_bad_file"));
    cfg->canonical_json = dup_str(root, "canonical_json");
    cfg->canonical_hash = (uint64_t)json_integer_value(json_object_get(root, "canonical_hash"));
    json_decref(root);
    if (!cfg->components || !cfg->name || !cfg->out_dir || !cfg->work_dir || !cfg->canonical_json) {
        pm_config_close(cfg);
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    }
    return 0;
}
