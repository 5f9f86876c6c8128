/* SPDX-License-Identifier: MIT */
/* The main kernel's VP test (mk.vp_test) and stopping a running VP before
 * a conversion (mk.convert_running): guest VPs driven through
 * libsidecar-host as a VMM on Hyper-V would drive them. */
#ifndef MK_VP_H
#define MK_VP_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_vp_result {
    bool ok;
    uint32_t cpus;              /* CPUs tested */
    uint32_t passed;            /* of which every step worked */
    uint32_t intercepts;        /* intercepts seen on all CPUs */
    uint32_t stops;             /* runs ended by STOP */
    bool cpuid_intercept;       /* CPUID faulting gave a CPUID intercept */
    uint32_t cpuid_max_leaf;    /* what the guest's native CPUID said (leaf 0 EAX) */
    uint32_t first_failed_cpu;  /* SIDECAR_NO_CPU when none */
    char error[96];             /* the first failure */
};

/* Copies the guest program to the start of guest RAM. false when there is
 * no guest RAM (params.guest_ram_size 0) or it is too small. */
bool mk_vp_load_guest(const struct sidecar_params *p);

/* The whole intercept sequence on every CPU in cpus[0..n), all at once:
 * asynchronous runs collected with sidecar_host_wait_any, then the STOP
 * rounds on every CPU together. cpuid_faulting
 * (sidecar_output.cpuid_faulting): the guest's CPUID must be a CPUID
 * intercept; otherwise it must run natively. */
void mk_vp_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                uint32_t n, uint64_t tsc_khz, bool cpuid_faulting, struct mk_vp_result *r);

/* Starts the guest's endless loop on cpu asynchronously, waits until it
 * runs, STOPs it and collects the stopped run: afterwards the CPU is IDLE
 * with the VP's context saved (ready to be REMOVEd). Acquires and releases
 * the CPU. 0, or a sidecar_host code / SIDECAR_HOST_E_STATE with *why set. */
int mk_vp_run_and_stop(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu,
                       uint64_t tsc_khz, const char **why);

#endif
