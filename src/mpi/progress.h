/* Rate-limited progress lines on stderr, printed by rank 0.
 *
 * "pilemix: scatter 12/40 files, 1.2/3.4 GiB (35%), 120 MB/s, ETA 0:00:19"
 * An interval of 0 turns progress lines off. Local calls (rank 0 only). */
#ifndef PILEMIX_MPI_PROGRESS_H
#define PILEMIX_MPI_PROGRESS_H

#include <stdint.h>

typedef struct pm_progress {
    double interval;
    double start, last;
    const char *phase, *unit;
    uint64_t total_items, total_bytes;
} pm_progress_t;

double pm_now(void); /* monotonic seconds */

void pm_progress_begin(pm_progress_t *p, const char *phase, const char *unit, uint64_t total_items,
                       uint64_t total_bytes, double interval);
void pm_progress_update(pm_progress_t *p, uint64_t items_done, uint64_t bytes_done);

#endif
