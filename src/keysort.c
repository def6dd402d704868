#include "pilemix/keysort.h"

#include <string.h>

void pm_keysort(pm_keyed_t *v, pm_keyed_t *tmp, size_t n)
{
    if (n < 2)
        return;
    /* One pass over the data builds all eight byte histograms. */
    static const int digits = 8;
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = v[i].key;
        for (int d = 0; d < digits; d++)
            count[d][(k >> (8 * d)) & 0xff]++;
    }
    pm_keyed_t *src = v, *dst = tmp;
    for (int d = 0; d < digits; d++) {
        size_t *c = count[d];
        if (c[(src[0].key >> (8 * d)) & 0xff] == n)
            continue; /* every key has the same byte here */
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].key >> (8 * d)) & 0xff]++] = src[i];
        pm_keyed_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}
