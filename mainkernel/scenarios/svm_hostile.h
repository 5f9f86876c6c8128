/* SPDX-License-Identifier: MIT */
/* The SVM backend's hostile guest suite (mk.svm_hostile): CPL0 guest code
 * that tries to get out of its VP or to harm the sidecar CPU (SVM
 * instructions, EFER.SVME, the SVM MSRs, sidecar and APIC memory as GPAs,
 * page tables in sidecar memory, the QEMU exit port, a triple fault,
 * interrupts off forever, INVD, RDPMC, debug registers and a kernel FS
 * base). Each case must end as its intercept, as a fault contained in the
 * guest, or by STOP; then a known-good snippet must run on the same CPU.
 * On every sidecar CPU in turn. Needs the svm backend. */
#ifndef MK_SVM_HOSTILE_H
#define MK_SVM_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_svm_hostile_result {
    bool ok;
    uint32_t cpus;
    uint32_t passed;        /* CPUs on which every case held */
    uint32_t cases;
    uint32_t runs;
    char error[128];
};

void mk_svm_hostile(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, struct mk_svm_hostile_result *r);

#endif
