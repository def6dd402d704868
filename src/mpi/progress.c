#include "progress.h"

#include <stdio.h>
#include <time.h>

double pm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pm_progress_begin(pm_progress_t *p, const char *phase, const char *unit, uint64_t total_items,
                       uint64_t total_bytes, double interval)
{
    p->interval = interval;
    p->start = p->last = pm_now();
    p->phase = phase;
    p->unit = unit;
    p->total_items = total_items;
    p->total_bytes = total_bytes;
}

static void gib(uint64_t b, char *out, size_t n)
{
    snprintf(out, n, "%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
}

void pm_progress_update(pm_progress_t *p, uint64_t items_done, uint64_t bytes_done)
{
    if (p->interval <= 0)
        return;
    double now = pm_now();
    if (now - p->last < p->interval)
        return;
    p->last = now;
    double el = now - p->start;
    double rate = el > 0 ? (double)bytes_done / el : 0;
    double frac = p->total_bytes ? (double)bytes_done / (double)p->total_bytes : 0;
    char done[32], total[32], eta[32] = "?";
    gib(bytes_done, done, sizeof done);
    gib(p->total_bytes, total, sizeof total);
    if (rate > 0 && bytes_done <= p->total_bytes) {
        long s = (long)((double)(p->total_bytes - bytes_done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "pilemix: %s %llu/%llu %s, %s/%s (%.0f%%), %.1f MB/s, ETA %s\n", p->phase,
            (unsigned long long)items_done, (unsigned long long)p->total_items, p->unit, done,
            total, 100.0 * frac, rate / 1e6, eta);
    fflush(stderr);
}
