/* SPDX-License-Identifier: MIT */
/* A Linux kernel as a guest on one sidecar VP (the svm backend): the VMM
 * side of it, shared by the bare-metal main kernel (mk.linux_guest) and
 * Linux user space (driver/progs sidecar-linux-guest). docs/svm.md,
 * "Debian's Linux kernel as a guest". */
#ifndef MK_LINUX_VMM_H
#define MK_LINUX_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_linux_guest_result {
    bool ok;                     /* banner, memory map and command line seen, no error */
    bool banner, cmdline, e820;
    uint32_t cpu, lines, intercepts, io, msr, cpuid, mmio;
    uint64_t kernel_size, initrd_size;
    char end[64];                /* why the run ended */
    char last[112];              /* the guest's last console line */
    char error[128];
};

/* Loads the kernel named "opt/sidecar/guest-kernel" (mk_fwcfg_find; an
 * initramfs "opt/sidecar/guest-initrd" if there is one) into guest RAM
 * (params: its physical base, which the caller maps at that address), puts
 * cpu's VP in the 64-bit entry state and runs it until the guest panics,
 * triple-faults, stays quiet for 30 s or reaches the intercept bound;
 * prints the guest's console as "linux: " lines with mk_out. */
void mk_linux_guest_boot(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu, uint64_t tsc_khz,
                         struct mk_linux_guest_result *r);

#endif
