/* SPDX-License-Identifier: MIT */
/* The ring-3 VP backend's ops for the dispatch core: RUN_VP's loop around
 * the arch's enter, and GET/SET/TRANSLATE on the saved state. */
#include "vp_internal.h"

int sk_vp_run(struct sk_cpu *cpu, void *vpv, struct sidecar_hv_message *msg)
{
    struct sk_vp *vp = vpv;
    if (!vp || !vp->ops || !vp->ops->enter) {
        sk_command_fail(cpu, "run_vp: the ring-3 backend has no arch half");
        return -1;
    }
    struct sidecar_cpu_context *ctx = &cpu->command->cpu_context;
    sk_vp_load_gprs(vp, ctx);
    vp->fx_live = false;      /* loaded on the guest's first FPU use (#NM) */
    int rc;
    for (;;) {
        if (sk_stop_requested(cpu)) {
            rc = 0;
            break;
        }
        vp->rflags = sk_vp_sanitize_rflags(vp->rflags);
        vp_zero(&vp->exit, sizeof(vp->exit));
        vp->stats.entries++;
        if (vp->ops->enter(vp->ops_ctx, vp) < 0) {
            if (!cpu->command->has_error)
                sk_command_fail(cpu, "run_vp: the VP could not be entered");
            rc = -1;
            break;
        }
        if (vp->exit.vector >= SK_VP_FIRST_INTERRUPT || vp->exit.vector == SK_VP_VECTOR_NMI) {
            vp->stats.interrupts++;
            continue;
        }
        if (vp->exit.vector == SK_VP_VECTOR_NM && !vp->fx_live) {
            /* The guest's first x87/SSE instruction of this run: its FX
             * state, then the same instruction again. (With fx_live, a #NM
             * cannot come from the lazy load and is the guest's own.) */
            sk_vp_load_fx(vp, ctx);
            vp->fx_live = true;
            vp->stats.fx_loads++;
            continue;
        }
        uint8_t bytes[SK_INSN_MAX_BYTES];
        uint32_t n = 0;
        uint32_t limit = sk_vp_fetch_limit(vp, vp->rip);
        if (limit && vp->ops->read_guest) {
            n = vp->ops->read_guest(vp->ops_ctx, vp->rip, bytes, limit);
            if (n > limit)
                n = limit;
        }
        uint32_t defaults[4] = {0, 0, 0, 0};
        if (vp->ops->cpuid && vp->exit.vector == SK_VP_VECTOR_GP) {
            struct sk_insn insn;
            if (sk_insn_decode(bytes, n, &insn) == SK_INSN_CPUID)
                vp->ops->cpuid(vp->ops_ctx, (uint32_t)vp->gpr[SK_VP_RAX],
                               (uint32_t)vp->gpr[SK_VP_RCX], defaults);
        }
        if (sk_vp_handle_exit(vp, bytes, n, defaults, msg) == SK_VP_EXIT_INTERCEPT) {
            rc = 1;
            break;
        }
        vp->stats.interrupts++;
    }
    sk_vp_save_gprs(vp, ctx);
    if (vp->fx_live)
        sk_vp_save_fx(vp, ctx);   /* else the guest never touched it: unchanged */
    vp->fx_live = false;
    return rc;
}

uint16_t sk_vp_op_get_register(struct sk_cpu *cpu, void *vp, uint32_t name,
                               struct sidecar_hv_register_value *value)
{
    /* RAX-R15 (but RSP), CR2 and FX state live in cpu_context between runs. */
    sk_vp_load_context(vp, &cpu->command->cpu_context);
    return sk_vp_get_register(vp, name, value);
}

uint16_t sk_vp_op_set_register(struct sk_cpu *cpu, void *vp, uint32_t name,
                               const struct sidecar_hv_register_value *value)
{
    struct sidecar_cpu_context *ctx = &cpu->command->cpu_context;
    sk_vp_load_context(vp, ctx);
    uint16_t st = sk_vp_set_register(vp, name, value);
    if (st == SIDECAR_HV_STATUS_SUCCESS)
        sk_vp_save_context(vp, ctx);
    return st;
}

int sk_vp_op_translate_gva(struct sk_cpu *cpu, void *vp,
                           const struct sidecar_translate_gva_request *req,
                           struct sidecar_translate_gva_response *resp)
{
    (void)cpu;
    sk_vp_translate_gva(vp, req, resp);
    return 0;
}

/* What REMOVE leaves in removed_state besides cpu_context (the segments
 * are the flat CPL3 ones and need no saving). */
static const uint32_t ring3_saved[] = {
    SIDECAR_HV_REGISTER_NAME_RSP, SIDECAR_HV_REGISTER_NAME_RIP, SIDECAR_HV_REGISTER_NAME_RFLAGS,
};

const struct sk_vp_backend sk_vp_ring3_backend = {
    .name = "ring3",
    .run = sk_vp_run,
    .get_register = sk_vp_op_get_register,
    .set_register = sk_vp_op_set_register,
    .translate_gva = sk_vp_op_translate_gva,
    .saved_names = ring3_saved,
    .saved_count = sizeof(ring3_saved) / sizeof(ring3_saved[0]),
};
