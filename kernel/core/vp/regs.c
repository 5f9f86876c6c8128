/* SPDX-License-Identifier: MIT */
/* GET/SET of the ring-3 VP's registers by TLFS name (HV_REGISTER_NAME). */
#include "vp_internal.h"

#define N(x) SIDECAR_HV_REGISTER_NAME_##x

static bool is_gpr(uint32_t name) { return name >= N(RAX) && name <= N(R15); }
static bool is_xmm(uint32_t name) { return name >= N(XMM0) && name <= N(XMM15); }
static bool is_fp(uint32_t name) { return name >= N(FP_MMX0) && name <= N(FP_MMX7); }
static bool is_segment(uint32_t name) { return name >= N(ES) && name <= N(GS); }

/* An x87 register image uses 80 of its 128 bits. */
#define FP_HIGH_MASK 0xffffull

/* 48-bit virtual addresses: bits 63..47 all equal. */
static bool canonical(uint64_t v)
{
    uint64_t top = v >> 47;
    return top == 0 || top == 0x1ffff;
}

uint16_t sk_vp_get_register(const struct sk_vp *vp, uint32_t name,
                            struct sidecar_hv_register_value *value)
{
    uint64_t lo = 0, hi = 0;
    if (is_gpr(name)) {
        lo = vp->gpr[name - N(RAX)];
    } else if (is_xmm(name)) {
        lo = vp->fx.xmm[name - N(XMM0)].low;
        hi = vp->fx.xmm[name - N(XMM0)].high;
    } else if (is_fp(name)) {
        lo = vp->fx.st[name - N(FP_MMX0)].low;
        hi = vp->fx.st[name - N(FP_MMX0)].high & FP_HIGH_MASK;
    } else if (is_segment(name)) {
        struct sidecar_hv_x64_segment_register s;
        sk_vp_segment(vp, name, &s);
        lo = s.base;
        hi = (uint64_t)s.limit | (uint64_t)s.selector << 32 | (uint64_t)s.attributes << 48;
    } else {
        switch (name) {
        case N(RIP): lo = vp->rip; break;
        case N(RFLAGS): lo = vp->rflags; break;
        case N(CR2): lo = vp->cr2; break;
        case N(VP_INDEX): lo = vp->vp_index; break;
        case N(FP_CONTROL_STATUS):
            /* HV_X64_FP_CONTROL_STATUS_REGISTER = FXSAVE bytes 0-15. */
            lo = (uint64_t)vp->fx.fcw | (uint64_t)vp->fx.fsw << 16 |
                 (uint64_t)vp->fx.ftw << 32 | (uint64_t)vp->fx.fop << 48;
            hi = vp->fx.fip;
            break;
        case N(XMM_CONTROL_STATUS):
            /* HV_X64_XMM_CONTROL_STATUS_REGISTER = FXSAVE bytes 16-31. */
            lo = vp->fx.fdp;
            hi = (uint64_t)vp->fx.mxcsr | (uint64_t)vp->mxcsr_mask << 32;
            break;
        default:
            return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
        }
    }
    value->low = lo;
    value->high = hi;
    return SIDECAR_HV_STATUS_SUCCESS;
}

uint16_t sk_vp_set_register(struct sk_vp *vp, uint32_t name,
                            const struct sidecar_hv_register_value *value)
{
    /* The value lives in a host-writable page: read it once. */
    uint64_t lo = value->low, hi = value->high;
    if (is_gpr(name)) {
        vp->gpr[name - N(RAX)] = lo;
    } else if (is_xmm(name)) {
        vp->fx.xmm[name - N(XMM0)].low = lo;
        vp->fx.xmm[name - N(XMM0)].high = hi;
    } else if (is_fp(name)) {
        vp->fx.st[name - N(FP_MMX0)].low = lo;
        vp->fx.st[name - N(FP_MMX0)].high = hi & FP_HIGH_MASK;
    } else if (is_segment(name)) {
        return SIDECAR_HV_STATUS_ACCESS_DENIED;
    } else {
        switch (name) {
        case N(RIP):
            if (!canonical(lo))
                return SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE;
            vp->rip = lo;
            break;
        case N(RFLAGS):
            vp->rflags = sk_vp_sanitize_rflags(lo);
            break;
        case N(FP_CONTROL_STATUS):
            vp->fx.fcw = (uint16_t)lo;
            vp->fx.fsw = (uint16_t)(lo >> 16);
            vp->fx.ftw = (uint8_t)(lo >> 32);
            vp->fx.fop = (uint16_t)(lo >> 48);
            vp->fx.fip = hi;
            break;
        case N(XMM_CONTROL_STATUS): {
            uint32_t mxcsr = (uint32_t)hi;
            /* FXRSTOR would fault on a bit outside MXCSR_MASK; the mask
             * itself (bits 96-127) is read-only and ignored. */
            if (mxcsr & ~vp->mxcsr_mask)
                return SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE;
            vp->fx.fdp = lo;
            vp->fx.mxcsr = mxcsr;
            break;
        }
        case N(CR2):
        case N(VP_INDEX):
            return SIDECAR_HV_STATUS_ACCESS_DENIED;
        default:
            return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
        }
    }
    return SIDECAR_HV_STATUS_SUCCESS;
}
