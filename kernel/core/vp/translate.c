/* SPDX-License-Identifier: MIT */
/* TRANSLATE_GVA for the ring-3 VP: guest virtual == guest physical. */
#include "vp_internal.h"

#define PAGE_SHIFT 12u
#define PAGE_SIZE (1ull << PAGE_SHIFT)
/* Page numbers of the canonical lower half (48-bit virtual addresses). */
#define LOWER_HALF_PAGES (1ull << (47 - PAGE_SHIFT))
#define CACHE_TYPE_UC 0u
#define CACHE_TYPE_WB 6u

#define T(x) SK_TRANSLATE_##x
#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x

static bool page_in_ram(const struct sk_vp *vp, uint64_t gvn)
{
    uint64_t a = gvn << PAGE_SHIFT;
    return a >= vp->ram.base && vp->ram.size >= PAGE_SIZE &&
           a - vp->ram.base <= vp->ram.size - PAGE_SIZE;
}

/* The access checks of a present page with the RAM's permissions. */
static uint32_t check_access(const struct sk_vp *vp, uint64_t flags)
{
    uint32_t perm = vp->ram.flags;
    bool supervisor = (flags & T(FORCE_SUPERVISOR)) != 0;   /* default: CPL3 */
    bool exempt = (flags & T(PRIVILEGE_EXEMPT)) != 0;
    if (flags & T(SHADOW_STACK))
        return R(PRIVILEGE_VIOLATION);       /* no page is a shadow-stack page */
    if (!exempt) {
        if (!supervisor && !(perm & SK_VP_RAM_USER))
            return R(PRIVILEGE_VIOLATION);
        if (supervisor && (perm & SK_VP_RAM_USER) && (flags & T(ENFORCE_SMAP)) &&
            !(flags & T(OVERRIDE_SMAP)) &&
            (flags & (T(VALIDATE_READ) | T(VALIDATE_WRITE))))
            return R(PRIVILEGE_VIOLATION);
    }
    if ((flags & T(VALIDATE_WRITE)) && !(perm & SK_VP_RAM_WRITE))
        return R(PRIVILEGE_VIOLATION);
    if ((flags & T(VALIDATE_EXECUTE)) && !(perm & SK_VP_RAM_EXEC))
        return R(PRIVILEGE_VIOLATION);
    return R(SUCCESS);
}

void sk_vp_translate_gva(const struct sk_vp *vp, const struct sidecar_translate_gva_request *req,
                         struct sidecar_translate_gva_response *resp)
{
    uint64_t gvn, flags;
    if (!vp_translate_begin(req, resp, &gvn, &flags))
        return;
    struct sidecar_translate_gva_output *out = &resp->output;
    if (gvn >= LOWER_HALF_PAGES) {
        /* Kernel half or non-canonical: nothing is mapped there for the VP. */
        out->translation_result.result_code = R(PAGE_NOT_PRESENT);
        return;
    }
    if (!page_in_ram(vp, gvn)) {
        out->translation_result.result_code = R(GPA_UNMAPPED);
        out->translation_result.cache_type_and_flags = CACHE_TYPE_UC;
        out->gpa_page = gvn;
        return;
    }
    uint32_t code = check_access(vp, flags);
    out->translation_result.result_code = code;
    if (code == R(SUCCESS)) {
        out->translation_result.cache_type_and_flags = CACHE_TYPE_WB;
        out->gpa_page = gvn;
    }
}
