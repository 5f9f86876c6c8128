/* SPDX-License-Identifier: MIT */
/* The hostile guest suite (hostile.asm; option mk.vp_hostile): on every
 * sidecar CPU at once, a guest tries, one snippet per run, what a VP at
 * CPL3 might do to escape: touch kernel, APIC and out-of-RAM addresses,
 * its own CPU's page tables and command page (by physical address),
 * execute kernel code, cli/sti/hlt, lgdt/lidt, mov to CR3/CR0, wrmsr/rdmsr,
 * port IO, int3, int 0x80, syscall, sysenter, an iretq into ring 0, ud2, a
 * stack running off guest RAM, divide by zero, popf raising IOPL, cpuid.
 * Each must end in the intercept the table in hostile.c names, and the next
 * run of a known-good snippet on the same CPU must work. cpuid_faulting
 * (sidecar_output.cpuid_faulting) says what CPUID must become: a CPUID
 * intercept, or a native CPUID. */
#ifndef MK_HOSTILE_H
#define MK_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_hostile_result {
    bool ok;
    uint32_t cpus;              /* CPUs that ran the suite */
    uint32_t passed;            /* CPUs on which every case held */
    uint32_t cases;             /* cases per CPU */
    uint32_t runs;              /* runs in all (hostile and good) */
    uint32_t first_failed_cpu;
    char error[128];            /* the first failure: CPU, case, what came */
};

void mk_hostile_all(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                    bool cpuid_faulting, struct mk_hostile_result *r);

#endif
