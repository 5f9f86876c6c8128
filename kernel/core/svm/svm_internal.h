/* SPDX-License-Identifier: MIT */
/* Helpers shared by the SVM backend's portable files. Not an API. */
#ifndef SIDECAR_SVM_INTERNAL_H
#define SIDECAR_SVM_INTERNAL_H

#include <sidecar/svm.h>
#include <sidecar/walk.h>    /* SK_CR0_*, SK_CR4_*, SK_EFER_* the walker reads */

#define SK_CR0_AM (1ull << 18)
#define SK_CR0_NW (1ull << 29)
#define SK_EFER_SCE (1ull << 0)
#define SK_EFER_SVME (1ull << 12)
/* VMCB segment attribute bits 8-11: AVL, L, D/B, G. */
#define SVM_ATTR_L (1u << 9)
#define SVM_ATTR_DB (1u << 10)
/* RFLAGS bits that must be zero: 3, 5, 15 and 22-63. */
#define SK_RFLAGS_RESERVED ((1ull << 3) | (1ull << 5) | (1ull << 15) | ~0x3fffffull)
#define SK_SVM_PAT_DEFAULT 0x0007040600070406ull

#define MSR_TSC 0x10u
#define MSR_PAT 0x277u
#define MSR_EFER 0xc0000080u
#define MSR_TSC_AUX 0xc0000103u

/* No libc: small copies (the VMCB save area, messages). */
static inline void svm_zero(void *p, uint32_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

static inline void svm_copy(void *dst, const void *src, uint32_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

static inline bool svm_vector_has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

void svm_refresh_view(struct sk_svm_vp *vp);
/* translate.c: the decoder for the VP's current code size. */
void svm_decode(const struct sk_svm_vp *vp, const uint8_t *bytes, uint32_t n, struct sk_insn *insn);
void svm_sync_lma(struct sk_svm_vp *vp);
const char *svm_check_efer(uint64_t efer);

#endif
