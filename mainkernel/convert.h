/* SPDX-License-Identifier: MIT */
/* Converting sidecar CPUs into main-kernel CPUs, and the work those CPUs
 * then do for the main kernel (the proof that they really run here).
 *
 * A batch: acquire each CPU through libsidecar-host, REMOVE it and wait for REMOVED; then INIT-SIPI-SIPI every
 * removed CPU into the main kernel's AP entry (back to back, so they
 * restart together); wait until each checks in from its new slot with its
 * APIC ID; give each a piece of work and check the result. The hardware
 * steps go through platform.h; everything else is portable. */
#ifndef MK_CONVERT_H
#define MK_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

/* One CPU the main kernel started; written by that CPU except where noted. */
struct mk_ap {
    uint32_t online;        /* 1 once the CPU runs main-kernel code */
    uint32_t apic_id;       /* what its own local APIC says */
    uint32_t work_seq;      /* BSP: bumped to post work */
    uint32_t done_seq;      /* = work_seq once result is written */
    uint64_t work_arg;      /* BSP */
    uint32_t echo;          /* BSP: 1 = answer at once, no work (the IPI bench) */
    uint32_t reserved;
    uint64_t result;
    uint32_t faulted;       /* 1: took an exception (then parked) */
    uint32_t fault_vector;
    uint64_t fault_error;
    uint64_t fault_rip;
};

struct mk_convert_env {
    struct sidecar_host *host;
    const struct sidecar_params *params;
    uint64_t trampoline_pa;
    uint64_t tsc_khz;
};

/* The outcome for one CPU. */
struct mk_conversion {
    uint32_t cpu;
    uint32_t apic_id;           /* from params */
    uint32_t reported_apic_id;  /* from the converted CPU (valid when online) */
    int remove_rc;              /* sidecar_host_* code of the REMOVE */
    bool online;
    bool work_ok;
    const char *error;          /* "" when everything worked */
    uint32_t saved_count;       /* registers the sidecar left in request_data at REMOVE */
    uint64_t saved_rip;         /* RIP among them (0 when absent) */
};

/* Installs the AP trampoline at env->trampoline_pa (from mk_low_page),
 * leading started CPUs into this file's code. false when there is no such
 * page or it cannot be installed. Before the first mk_convert_batch. */
bool mk_convert_install(const struct mk_convert_env *env);

/* The deterministic work a converted CPU does (the BSP checks it). */
uint64_t mk_work(uint64_t arg, uint32_t apic_id);

/* Converts cpus[0..n) as one batch, results in out[0..n). Returns how
 * many were converted and did their work. */
uint32_t mk_convert_batch(const struct mk_convert_env *env, const uint32_t *cpus, uint32_t n,
                          struct mk_conversion *out);

/* Gives every CPU converted so far one more piece of work; true when all
 * of them did it. */
bool mk_converted_work_all(const struct mk_convert_env *env, uint32_t *count);

/* One bare IPI round trip to a converted CPU: post an echo, send the wake
 * IPI, poll for its answer. The TSC ticks it took, or 0 when the CPU is
 * not a converted one or did not answer. */
uint64_t mk_converted_echo(const struct mk_convert_env *env, uint32_t apic_id);

/* The lowest page below 640 KiB that the memory map says is usable: where
 * the main kernel puts its AP trampoline. 0 when there is none. */
struct sidecar_handoff;
uint64_t mk_low_page(const struct sidecar_handoff *h);

#endif
