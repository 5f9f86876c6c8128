/* SPDX-License-Identifier: MIT */
/* Which sidecar CPUs left, and why (mk.cpu_report, docs/robustness.md):
 * pings every sidecar CPU that came up; a CPU that answers E_REMOVED is
 * listed with the error text it left in its command page (an exception
 * report, e.g. a #DF from a stack overflow); every other CPU must answer
 * two pings and run a VP. */
#ifndef MK_CPUREPORT_H
#define MK_CPUREPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

#define MK_CPUREPORT_MAX 8u

struct mk_cpureport_result {
    bool ok;                    /* every CPU not removed answered and ran a VP */
    uint32_t removed_count;
    struct {
        uint32_t cpu;
        char error[100];
    } removed[MK_CPUREPORT_MAX];
    uint32_t others;
    uint32_t others_ok;
    char error[128];
};

void mk_cpureport(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                  uint64_t tsc_khz, struct mk_cpureport_result *r);

#endif
