/* SPDX-License-Identifier: MIT */
/* INIT right after REMOVED while other CPUs log (mk.hot_init,
 * docs/robustness.md). Sidecar CPUs with logging on: one by one, each
 * target is REMOVEd and gets INIT a moment after the main kernel sees
 * REMOVED (a delay swept over 0 to a few hundred microseconds, to land
 * wherever the target still is, in a log line included), while the
 * bystanders log (a fixed IPI on an exception vector, which a sidecar CPU
 * logs once per vector). Afterwards every bystander must log once more and
 * answer two pings: a log lock left held by an INITed CPU would hang it
 * with interrupts off. */
#ifndef MK_HOTINIT_H
#define MK_HOTINIT_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_hotinit_result {
    bool ok;
    uint32_t targets;           /* CPUs REMOVEd and INITed */
    uint32_t bystanders;
    uint32_t inited;            /* targets that reached REMOVED and got INIT */
    uint32_t answered;          /* bystanders that answered afterwards */
    uint32_t max_delay_us;      /* the longest REMOVED-to-INIT delay of the sweep */
    char error[128];
};

/* cpus[0..n): ready sidecar CPUs; the first max(1, n/8) are bystanders,
 * the rest targets (which end up reset, waiting for a SIPI). */
void mk_hotinit_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                     uint64_t tsc_khz, struct mk_hotinit_result *r);

#endif
