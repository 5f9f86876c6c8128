/* SPDX-License-Identifier: MIT */
/* The SVM backend's basics (mk.svm_basics): on each sidecar CPU in turn, a
 * VP in the x86 reset state (registers read as a VMM on Hyper-V reads them,
 * an impossible CR0 refused by name) runs a real-mode program from the
 * reset vector (through the reset alias of guest RAM's last 2 MiB): an OUT
 * to COM1 and a CPUID come back as intercepts, STI; HLT halts it in the
 * sidecar (a run then ends only by STOP and the activity state says
 * halted), an interrupt made pending through HvRegisterPendingInterruption
 * wakes it through its real-mode IVT (the handler's OUT, then the OUT after
 * the HLT), CLI; HLT halts it for good, and TRANSLATE_GVA with paging off
 * gives the GVA back. Needs the svm backend. */
#ifndef MK_SVM_BASICS_H
#define MK_SVM_BASICS_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_svm_basics_result {
    bool ok;
    uint32_t cpus;
    uint32_t passed;
    uint32_t intercepts;
    char error[96];
};

bool mk_svm_basics_load(const struct sidecar_params *p);
void mk_svm_basics(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                   uint32_t n, uint64_t tsc_khz, struct mk_svm_basics_result *r);

#endif
