/* SPDX-License-Identifier: MIT */
/* The soak (mk.soak, ./sidecar soak): every ready sidecar CPU runs
 * mk.soak_commands commands of a random mix (seq.h: NONE, runs of the
 * sequence guest that end at once or spin until STOPped, STOPs racing
 * runs, GET/SET registers, TRANSLATE_GVA), all CPUs at once, driven
 * asynchronously from the boot CPU: runs with sidecar_host_run_vp_start and
 * sidecar_host_wait_any; pings, register and translate commands started
 * with a zero timeout (they return E_TIMEOUT with the command in flight)
 * and collected with sidecar_host_wait, their results read from the
 * command page. At most two guests spin at once (under TCG a spinning
 * vCPU takes a whole host thread). It proves that no completion was lost or duplicated (the
 * sequence guest's per-VP counts, seq.h: every start has exactly one
 * completion, every OUT carries the next sequence number, and at the end
 * the guest's own count equals what the host saw; a SET value must read
 * back), and measures the throughput. */
#ifndef MK_SOAK_H
#define MK_SOAK_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

#include "seq.h"

struct mk_soak_result {
    bool ok;
    uint32_t cpus;
    uint64_t per_cpu;                   /* commands asked per CPU */
    uint64_t commands;                  /* commands completed, all CPUs */
    uint64_t by_kind[MK_SOAK_KINDS];    /* commands of each kind started */
    uint64_t intercepts, stopped, stops;/* run outcomes; STOPs sent */
    uint64_t rip_steps;                 /* SETs of RIP past an OUT (counted in commands) */
    uint64_t lost, duplicated;          /* must be 0 */
    uint64_t us;
    uint64_t per_s;                     /* commands per second, all CPUs */
    uint64_t cpu_per_s[3];              /* per CPU: min, median, max */
    char error[128];
};

void mk_soak(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
             uint64_t commands, uint64_t tsc_khz, struct mk_soak_result *r);

#endif
