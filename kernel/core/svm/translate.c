/* SPDX-License-Identifier: MIT */
/* The SVM backend's view of guest memory: guest-virtual addresses through
 * the guest's own paging in its current mode (the portable walker,
 * sidecar/walk.h), TRANSLATE_GVA, and instruction decoding in the guest's
 * current code size. */
#include <sidecar/walk.h>

#include "svm_internal.h"

static bool mem_read(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    struct sk_svm_vp *vp = ctx;
    return vp->ops && vp->ops->read_gpa && vp->ops->read_gpa(vp->ops_ctx, gpa, dst, n);
}

static void walk_env(struct sk_svm_vp *vp, struct sk_walk_mem *mem, struct sk_walk_state *st)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    *mem = (struct sk_walk_mem){ .read_gpa = mem_read, .cmpxchg_gpa = NULL, .ctx = vp };
    *st = (struct sk_walk_state){
        .cr0 = s->cr0, .cr3 = s->cr3, .cr4 = s->cr4, .efer = vp->efer,
        .rflags = vp->base.rflags, .pat = s->g_pat, .cpl = s->cpl, .maxphyaddr = 0,
    };
}

uint32_t sk_svm_read_gva(struct sk_svm_vp *vp, uint64_t la, void *dst, uint32_t n, bool fetch)
{
    struct sk_walk_mem mem;
    struct sk_walk_state st;
    walk_env(vp, &mem, &st);
    return sk_walk_read(&mem, &st, la, fetch ? SK_WALK_FETCH : SK_WALK_READ, dst, n, NULL);
}

void svm_decode(const struct sk_svm_vp *vp, const uint8_t *bytes, uint32_t n, struct sk_insn *insn)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    enum sk_insn_mode mode = sk_insn_mode_of(s->cr0, vp->efer, vp->base.rflags,
                                             (s->cs.attrib & SVM_ATTR_L) != 0, (s->cs.attrib & SVM_ATTR_DB) != 0);
    sk_insn_decode_mode(bytes, n, mode, insn);
}

void sk_svm_translate_gva(struct sk_svm_vp *vp, const struct sidecar_translate_gva_request *req,
                          struct sidecar_translate_gva_response *resp)
{
    struct sk_walk_mem mem;
    struct sk_walk_state st;
    walk_env(vp, &mem, &st);
    sk_walk_translate_gva(&mem, &st, req, resp);
}
