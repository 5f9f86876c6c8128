/* SPDX-License-Identifier: MIT */
/* The main kernel's VMM helpers for hardware VPs (the svm backend,
 * docs/svm.md): what every scenario that runs a real guest needs. */
#ifndef MK_SVM_VMM_H
#define MK_SVM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

#define MK_SVM_TIMEOUT_NS 10000000000ull   /* a bound against a hang; TCG under load is slow */

/* Puts the VP back in the x86 reset state with SET_VP_REGISTERS (the
 * state a fresh sidecar VP starts in): CS F000 base FFFF0000, RIP FFF0,
 * CR0 0x60000010, the other segments, descriptor tables, control and
 * debug registers, EFER, nothing pending, not halted; RDX keeps what the
 * host wrote. 0 or a sidecar_host code. */
int mk_svm_reset_vp(struct sidecar_host *h, uint32_t cpu);

/* One register. */
int mk_svm_set(struct sidecar_host *h, uint32_t cpu, uint32_t name, uint64_t value);
int mk_svm_get(struct sidecar_host *h, uint32_t cpu, uint32_t name, uint64_t *value);

/* RAX after an IN of size 1, 2 or 4 that read value: IN AL and IN AX keep
 * the rest of RAX, IN EAX clears bits 63-32 (a 32-bit result). */
static inline uint64_t mk_in_result(uint64_t rax, unsigned size, uint32_t value)
{
    if (size == 1)
        return (rax & ~0xffull) | (value & 0xffu);
    if (size == 2)
        return (rax & ~0xffffull) | (value & 0xffffu);
    return value;
}

/* After an IO or other intercept the VMM emulated: RIP past the
 * instruction (the header's instruction length). */
int mk_svm_skip(struct sidecar_host *h, uint32_t cpu, const struct sidecar_hv_x64_intercept_message_header *hdr);

#endif
