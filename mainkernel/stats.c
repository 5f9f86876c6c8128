/* SPDX-License-Identifier: MIT */
/* Order statistics of latency samples (stats.h). */
#include "stats.h"

struct mk_stats mk_stats_of(uint64_t *v, uint32_t n)
{
    struct mk_stats s = { n, 0, 0, 0 };
    if (!n)
        return s;
    /* Insertion sort: a few thousand samples, once. */
    for (uint32_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        uint32_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    uint32_t p99 = (uint32_t)((uint64_t)n * 99 / 100);
    s.min = v[0];
    s.median = v[n / 2];
    s.p99 = v[p99 < n ? p99 : n - 1];
    return s;
}
