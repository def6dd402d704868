/* Shipping a config to other ranks (config_wire.h): the schema's wire form of
 * every row, plus what is not a key (the config's path, canonical form and
 * hash, computed once on rank 0). */
#include "pilemix/config_wire.h"

#include "pilemix/config_schema.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

char *pm_config_pack(const pm_config_t *cfg)
{
    /* "o" takes the reference even when json_pack fails. */
    json_t *root = json_pack("{s:o, s:s, s:I}", "path", pm_cfg_wire_string(cfg->path),
                             "canonical_json", cfg->canonical_json ? cfg->canonical_json : "",
                             "canonical_hash", (json_int_t)cfg->canonical_hash);
    json_t *keys = pm_cfg_pack(&pm_config_schema, cfg);
    char *s = NULL;
    if (root && keys && json_object_set_new(root, "keys", keys) == 0)
        s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    else if (!root)
        json_decref(keys); /* otherwise set_new took it, even on failure */
    json_decref(root);
    return s;
}

int pm_config_unpack(pm_config_t *cfg, const char *json, pm_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root)
        return pm_error_set(err, PM_EINTERNAL, NULL, 0, "bad packed config: %s", je.text);
    const json_t *canon = json_object_get(root, "canonical_json");
    const json_t *hash = json_object_get(root, "canonical_hash");
    int rc = pm_cfg_wire_string_value(json_object_get(root, "path"), &cfg->path);
    if (rc == 0 && (!json_is_string(canon) || !json_is_integer(hash)))
        rc = PM_EINTERNAL;
    if (rc == 0 && !(cfg->canonical_json = strdup(json_string_value(canon))))
        rc = PM_ENOMEM;
    if (rc == PM_ENOMEM)
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    else if (rc < 0)
        rc = pm_error_set(err, PM_EINTERNAL, NULL, 0, "bad packed config: path or canonical form");
    if (rc == 0) {
        cfg->canonical_hash = (uint64_t)json_integer_value(hash);
        rc = pm_cfg_unpack(&pm_config_schema, cfg, json_object_get(root, "keys"), err);
    }
    json_decref(root);
    if (rc < 0)
        pm_config_close(cfg);
    return rc;
}
