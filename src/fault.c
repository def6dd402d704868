#include "pilemix/fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool pm_fault_armed = false;
static char fault_point[64];
static uint64_t fault_after, fault_count;

void pm_fault_init(int rank)
{
    const char *spec = getenv("PILEMIX_FAULT");
    pm_fault_armed = false;
    if (!spec || !*spec)
        return;
    char point[64];
    unsigned long long n = 0;
    int target = 0;
    int got = sscanf(spec, "%63[^:]:%llu:%d", point, &n, &target);
    if (got < 2 || n == 0) {
        fprintf(stderr, "pilemix: warning: ignoring malformed PILEMIX_FAULT=\"%s\"\n", spec);
        return;
    }
    if (target != rank)
        return;
    snprintf(fault_point, sizeof fault_point, "%s", point);
    fault_after = n;
    fault_count = 0;
    pm_fault_armed = true;
}

void pm_fault_hit_slow(const char *point)
{
    if (strcmp(point, fault_point) != 0)
        return;
    if (++fault_count < fault_after)
        return;
    fprintf(stderr, "pilemix: PILEMIX_FAULT: killing pid %d at %s #%llu\n", (int)getpid(), point,
            (unsigned long long)fault_count);
    fflush(stderr);
    raise(SIGKILL);
}
