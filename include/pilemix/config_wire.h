/* Shipping a loaded config from rank 0 to the other ranks.
 *
 * Rank 0 loads and validates the config once; the other ranks receive the
 * result (paths already expanded with rank 0's environment, which remote
 * ranks may not share) as a JSON string and rebuild an equal pm_config_t.
 * The string carries every row of the config schema (config_schema.h), so a
 * new key travels without touching this code; tests/unit/test_config_wire.c
 * round-trips every row. The receiving side checks types and integer bounds
 * (a packed string from another build is refused, PM_EINTERNAL) but does not
 * re-run the config rules. Values a flag overrode after loading travel too. */
#ifndef PILEMIX_CONFIG_WIRE_H
#define PILEMIX_CONFIG_WIRE_H

#include "pilemix/config.h"

/* Returns a malloc'd JSON string, or NULL when out of memory. */
char *pm_config_pack(const pm_config_t *cfg);

/* Fills cfg (to be closed with pm_config_close) from pm_config_pack output. */
int pm_config_unpack(pm_config_t *cfg, const char *json, pm_error_t *err);

#endif
