/* Shipping a loaded config from rank 0 to the other ranks.
 *
 * Rank 0 loads and validates the config once; the other ranks receive the
 * result (paths already expanded with rank 0's environment, which remote
 * ranks may not share) as a JSON string and rebuild an equal pm_config_t.
 * Nothing is re-validated on the receiving side. A new pm_config_t field must
 * be added to both functions and to tests/unit/test_config_wire.c. */
#ifndef PILEMIX_CONFIG_WIRE_H
#define PILEMIX_CONFIG_WIRE_H

#include "pilemix/config.h"

/* Returns a malloc'd JSON string, or NULL when out of memory. */
char *pm_config_pack(const pm_config_t *cfg);

/* Fills cfg (to be closed with pm_config_close) from pm_config_pack output. */
int pm_config_unpack(pm_config_t *cfg, const char *json, pm_error_t *err);

#endif
