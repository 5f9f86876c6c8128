/* SPDX-License-Identifier: MIT */
/* Interrupts on exception vectors (mk.vectors, docs/robustness.md): fixed
 * IPIs with vectors 1-31 and an NMI sent to sidecar CPUs in three states:
 * idle and never having run a guest, idle after running one, and while
 * running a ring-3 guest (an endless loop). A sidecar CPU must take each
 * as an interrupt (EOI, ignore; an NMI handled and returned from), never
 * as an exception: afterwards every target answers a NONE ping twice and
 * runs a VP, and a guest that was running when the IPIs came must still
 * be running and end STOPPED, not in an exception intercept. */
#ifndef MK_VECTORS_H
#define MK_VECTORS_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_vectors_result {
    bool ok;
    uint32_t cpus;              /* target CPUs */
    uint32_t idle;              /* of which never ran a guest before the IPIs */
    uint32_t ran;               /* ran a guest, idle during the IPIs */
    uint32_t running;           /* ran a guest during the IPIs */
    uint32_t ipis;              /* IPIs sent (fixed and NMI) */
    uint32_t answered;          /* targets that answered both pings afterwards */
    uint32_t vp_ok;             /* targets that ran a VP afterwards */
    uint32_t stopped;           /* running targets whose run ended STOPPED */
    char error[128];            /* the first failure */
};

/* The whole test on cpus[0..n) (ready sidecar CPUs, none of which has run
 * a guest yet): they are split in three groups by index (k % 3). Needs
 * guest RAM for the guest program. */
void mk_vectors_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                     uint32_t n, uint64_t tsc_khz, struct mk_vectors_result *r);

#endif
