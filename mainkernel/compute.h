/* SPDX-License-Identifier: MIT */
/* The demo's computation on every sidecar CPU at once (compute.asm): each
 * VP hashes a range of guest RAM that depends on its index and reports the
 * result through IO intercepts, which the main kernel handles with
 * libsidecar-host's asynchronous runs (start every VP, then wait for any
 * that stops), and checks against its own computation. Option
 * mk.vp_compute. */
#ifndef MK_COMPUTE_H
#define MK_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_compute_result {
    bool ok;
    uint32_t cpus;              /* VPs started */
    uint32_t passed;            /* of which reported the right value */
    uint32_t intercepts;        /* IO and HLT intercepts handled */
    uint64_t us;                /* from the first start to the last HLT */
    uint32_t first_failed_cpu;  /* SIDECAR_NO_CPU when none */
    char error[96];
};

/* The value VP `index` must report (the same hash, in C). */
uint64_t mk_compute_expected(const uint8_t *data, uint64_t bytes, uint32_t index);

/* Runs the computation on cpus[0..n), all at once. */
void mk_compute_all(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, struct mk_compute_result *r);

/* Hooks for the fault tests (faults.c): between is called after each
 * handled intercept, before the VP runs again (the CPU is idle then);
 * poll is called repeatedly while the main kernel waits for VPs. */
struct mk_compute_hooks {
    void *ctx;
    void (*between)(void *ctx, uint32_t cpu);
    void (*poll)(void *ctx);
};

/* mk_compute_all with hooks (NULL: none). */
void mk_compute_run(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, const struct mk_compute_hooks *hooks,
                    struct mk_compute_result *r);

#endif
