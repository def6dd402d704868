/* Test-only fault injection: make one rank die at a named point.
 *
 * PILEMIX_FAULT="POINT:N[:RANK]" makes the rank RANK (default 0) kill itself
 * with SIGKILL, exactly as `kill -9` would, when it reaches POINT for the
 * N-th time (1-based). Points:
 *   scatter-record  after each record a rank's scatter reads
 *   scatter-task    after a rank commits a scatter task
 *   gather-pass     after each bucket pass of a gather (mid-file)
 *   gather-file     after a rank finishes an output file
 *   finish          on rank 0 before the manifest is written
 * Unset (the normal case) costs one branch per call. */
#ifndef PILEMIX_FAULT_H
#define PILEMIX_FAULT_H

#include <stdbool.h>
#include <stdint.h>

extern bool pm_fault_armed;

void pm_fault_init(int rank);
void pm_fault_hit_slow(const char *point);

static inline void pm_fault_hit(const char *point)
{
    if (pm_fault_armed)
        pm_fault_hit_slow(point);
}

#endif
