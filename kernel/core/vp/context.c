/* SPDX-License-Identifier: MIT */
/* The ring-3 VP's saved state: reset, the copy to and from OpenHCL's
 * cpu_context, RFLAGS sanitizing and segment register values. */
#include "vp_internal.h"

#define DEFAULT_FCW 0x037fu
#define DEFAULT_MXCSR 0x1f80u
#define DEFAULT_MXCSR_MASK 0xffbfu

/* cpu_context gps slot that holds CR2 instead of RSP (OpenHCL). */
#define CONTEXT_CR2_SLOT 4u

uint64_t sk_vp_sanitize_rflags(uint64_t v)
{
    return (v & SK_RFLAGS_GUEST_MASK) | SK_RFLAGS_IF | SK_RFLAGS_FIXED1;
}

void sk_vp_init(struct sk_vp *vp, uint32_t vp_index, const struct sk_vp_config *config)
{
    vp_zero(vp, sizeof(*vp));
    vp->vp_index = vp_index;
    vp->rflags = SK_RFLAGS_IF | SK_RFLAGS_FIXED1;
    vp->fx.fcw = DEFAULT_FCW;
    vp->fx.mxcsr = DEFAULT_MXCSR;
    vp->mxcsr_mask = DEFAULT_MXCSR_MASK;
    if (config) {
        vp->ram = config->ram;
        if (vp->ram.base + vp->ram.size < vp->ram.base)
            vp->ram.size = 0 - vp->ram.base;     /* clamp a wrapping range */
        vp->cs = config->cs;
        vp->ss = config->ss;
        vp->ds = config->ds;
        vp->es = config->es;
        vp->fs = config->fs;
        vp->gs = config->gs;
        if (config->mxcsr_mask)
            vp->mxcsr_mask = config->mxcsr_mask;
        vp->ops = config->ops;
        vp->ops_ctx = config->ops_ctx;
    }
    vp->fx.mxcsr_mask = vp->mxcsr_mask;
}

void sk_vp_load_gprs(struct sk_vp *vp, const struct sidecar_cpu_context *ctx)
{
    for (uint32_t i = 0; i < 16; i++) {
        if (i == CONTEXT_CR2_SLOT)
            vp->cr2 = ctx->gps[i];
        else
            vp->gpr[i] = ctx->gps[i];
    }
}

void sk_vp_load_fx(struct sk_vp *vp, const struct sidecar_cpu_context *ctx)
{
    vp_copy(&vp->fx, &ctx->fx_state, sizeof(vp->fx));
    /* FXRSTOR faults (#GP, in ring 0) on a reserved MXCSR bit. */
    vp->fx.mxcsr &= vp->mxcsr_mask;
}

void sk_vp_load_context(struct sk_vp *vp, const struct sidecar_cpu_context *ctx)
{
    sk_vp_load_gprs(vp, ctx);
    sk_vp_load_fx(vp, ctx);
}

void sk_vp_save_gprs(const struct sk_vp *vp, struct sidecar_cpu_context *ctx)
{
    for (uint32_t i = 0; i < 16; i++)
        ctx->gps[i] = i == CONTEXT_CR2_SLOT ? vp->cr2 : vp->gpr[i];
}

void sk_vp_save_fx(const struct sk_vp *vp, struct sidecar_cpu_context *ctx)
{
    vp_copy(&ctx->fx_state, &vp->fx, sizeof(ctx->fx_state));
}

void sk_vp_save_context(const struct sk_vp *vp, struct sidecar_cpu_context *ctx)
{
    sk_vp_save_gprs(vp, ctx);
    sk_vp_save_fx(vp, ctx);
}

/* Segment attributes (TLFS): type 0-3, S 4, DPL 5-6, P 7, L 13, D/B 14, G 15. */
#define SEG_S (1u << 4)
#define SEG_P (1u << 7)
#define SEG_L (1u << 13)
#define SEG_DB (1u << 14)
#define SEG_G (1u << 15)
#define SEG_TYPE_CODE_XRA 0xbu   /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA 0x3u   /* read/write, accessed */

bool sk_vp_segment(const struct sk_vp *vp, uint32_t which,
                   struct sidecar_hv_x64_segment_register *out)
{
    if (vp->view) {
        const struct sidecar_hv_x64_segment_register *v = NULL;
        switch (which) {
        case SIDECAR_HV_REGISTER_NAME_ES: v = &vp->view->es; break;
        case SIDECAR_HV_REGISTER_NAME_CS: v = &vp->view->cs; break;
        case SIDECAR_HV_REGISTER_NAME_SS: v = &vp->view->ss; break;
        case SIDECAR_HV_REGISTER_NAME_DS: v = &vp->view->ds; break;
        default: break;
        }
        if (v) {
            *out = *v;
            return true;
        }
    }
    uint16_t sel;
    uint64_t base = 0;
    switch (which) {
    case SIDECAR_HV_REGISTER_NAME_ES: sel = vp->es; break;
    case SIDECAR_HV_REGISTER_NAME_CS: sel = vp->cs; break;
    case SIDECAR_HV_REGISTER_NAME_SS: sel = vp->ss; break;
    case SIDECAR_HV_REGISTER_NAME_DS: sel = vp->ds; break;
    case SIDECAR_HV_REGISTER_NAME_FS: sel = vp->fs; base = vp->fs_base; break;
    case SIDECAR_HV_REGISTER_NAME_GS: sel = vp->gs; base = vp->gs_base; break;
    default: return false;
    }
    out->base = base;
    out->selector = sel;
    if ((sel & ~3u) == 0) {
        /* Null selector: unusable (FS/GS keep their base in 64-bit mode). */
        out->limit = 0;
        out->attributes = 0;
        return true;
    }
    uint16_t dpl = (uint16_t)((sel & 3u) << 5);
    out->limit = 0xffffffffu;
    if (which == SIDECAR_HV_REGISTER_NAME_CS)
        out->attributes = (uint16_t)(SEG_TYPE_CODE_XRA | SEG_S | dpl | SEG_P | SEG_L | SEG_G);
    else
        out->attributes = (uint16_t)(SEG_TYPE_DATA_RWA | SEG_S | dpl | SEG_P | SEG_DB | SEG_G);
    return true;
}
