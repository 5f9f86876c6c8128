/* SPDX-License-Identifier: MIT */
/* Order statistics of latency samples (TSC ticks). Portable. */
#ifndef MK_STATS_H
#define MK_STATS_H

#include <stdint.h>

struct mk_stats {
    uint32_t samples;
    uint64_t min;
    uint64_t median;
    uint64_t p99;
};

/* Sorts v[0..n) in place and returns its statistics (all 0 when n is 0). */
struct mk_stats mk_stats_of(uint64_t *v, uint32_t n);

#endif
