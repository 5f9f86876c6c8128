/* SPDX-License-Identifier: MIT */
/* The fault tests (mk.faults=LIST): the host side does what a buggy or
 * hostile host could, on real sidecar CPUs, and checks that the sidecar
 * neither crashes nor hangs nor writes outside the target CPUs' own pages
 * (guard.h), and that the main kernel's memory is untouched (canary fill
 * before, checked after). Cases (docs/robustness.md has the outcomes):
 *   garbage      random bytes in every command-page field between
 *                commands; unknown command codes, garbage register and
 *                translate requests, runs from a garbage context; then a
 *                computation with garbage written between its runs
 *   status       every impossible status byte (5-255) on an idle CPU,
 *                and one during a run
 *   ipi          storms of spurious request IPIs at idle CPUs, during a
 *                computation and during spinning runs
 *   stop_race    STOP racing the run's own completion, many times on every
 *                target at once
 *   reconnect    a host that disappears with commands in flight, and a
 *                fresh host that opens the same pages and carries on
 *   remove_race  REMOVE racing a run's completion (last: it removes CPUs)
 * Targets are every other ready sidecar CPU; the rest are bystanders,
 * whose pages must not change and which must still answer after every
 * case. */
#ifndef MK_FAULTS_H
#define MK_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

enum {
    MK_FAULT_GARBAGE,
    MK_FAULT_STATUS,
    MK_FAULT_IPI,
    MK_FAULT_STOP_RACE,
    MK_FAULT_RECONNECT,
    MK_FAULT_REMOVE_RACE,
    MK_FAULT_CASES
};

/* The case's name, or NULL for an index out of range. */
const char *mk_fault_name(unsigned index);

struct mk_fault_case {
    bool ran, ok, guard_ok;
    uint32_t cpus;              /* targets */
    uint64_t iterations;
    uint64_t a, b;              /* outcome counts, named by ka and kb */
    const char *ka, *kb;
    char error[128];
};

struct mk_faults_result {
    bool ok;
    uint32_t targets, bystanders;
    uint32_t unused_pages;      /* node pages filled with a pattern */
    uint32_t guard_regions;
    uint64_t guard_bytes;
    uint64_t filled_bytes;      /* main-kernel memory filled before, checked after */
    bool fill_ok;
    uint64_t fill_bad;          /* first changed address */
    bool bystanders_ok;
    char error[128];
    struct mk_fault_case c[MK_FAULT_CASES];
};

struct mk_faults_env {
    struct sidecar_host *h;
    const struct sidecar_handoff *handoff;
    const struct sidecar_params *p;
    const struct sidecar_output *o;
    uint64_t tsc_khz;
    uint64_t image_start, image_end;
    uint32_t iterations;        /* per CPU, for the race cases */
    bool touch_bystander;       /* test of the test: change a bystander's page */
    /* Opens another handle on the same pages (the reconnect case). */
    int (*open)(struct sidecar_host *h);
};

/* Runs the cases whose bits (1 << MK_FAULT_*) are set in mask. */
void mk_faults_run(const struct mk_faults_env *env, uint32_t mask, struct mk_faults_result *r);

#endif
