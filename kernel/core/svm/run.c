/* SPDX-License-Identifier: MIT */
/* The SVM backend's RUN_VP: event injection before VMRUN, and every
 * #VMEXIT turned into a TLFS message for the VMM or into work the sidecar
 * does itself (sidecar/svm.h, docs/svm.md). */
#include "svm_internal.h"

/* ---- guest memory through the guest's eyes --------------------------------- */

/* The instruction bytes at CS:RIP (up to 15), and the decoded instruction. */
static uint32_t fetch_insn(struct sk_svm_vp *vp, uint8_t bytes[SK_INSN_MAX_BYTES], struct sk_insn *insn)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    uint64_t la = (vp->efer & SK_EFER_LMA) && (s->cs.attrib & SVM_ATTR_L) ? vp->base.rip
                                                                           : s->cs.base + vp->base.rip;
    uint32_t n = sk_svm_read_gva(vp, la, bytes, SK_INSN_MAX_LENGTH, true);
    svm_decode(vp, bytes, n, insn);
    return n;
}

/* The length of the instruction at RIP: decoded, else the architectural
 * minimum given (without NRIP save the hardware does not say). */
static uint8_t insn_length(struct sk_svm_vp *vp, uint8_t fallback)
{
    uint8_t bytes[SK_INSN_MAX_BYTES];
    struct sk_insn insn;
    fetch_insn(vp, bytes, &insn);
    return insn.kind != SK_INSN_INVALID ? insn.len : fallback;
}

/* ---- events ------------------------------------------------------------------- */

static void inject(struct sk_svm_vp *vp, unsigned type, unsigned vector, bool has_error, uint32_t error)
{
    vp->vmcb->control.event_inj = SK_SVM_EVENT_VALID | ((uint64_t)type << SK_SVM_EVENT_TYPE_SHIFT) |
                                  (vector & 0xffu) | (has_error ? SK_SVM_EVENT_EV : 0) |
                                  ((uint64_t)error << 32);
}

static void inject_ud(struct sk_svm_vp *vp) { inject(vp, SK_SVM_EVENT_EXCEPTION, 6, false, 0); }
static void inject_gp(struct sk_svm_vp *vp) { inject(vp, SK_SVM_EVENT_EXCEPTION, 13, true, 0); }

static bool interrupts_open(const struct sk_svm_vp *vp)
{
    return (vp->base.rflags & SK_RFLAGS_IF) && !(vp->vmcb->control.int_state & SK_SVM_INT_SHADOW);
}

/* Can the pending interruption be delivered at this entry? */
static bool deliverable(const struct sk_svm_vp *vp, uint64_t pi)
{
    unsigned type = (unsigned)((pi & SK_SVM_PI_TYPE_MASK) >> SK_SVM_PI_TYPE_SHIFT);
    if (type == SK_SVM_PI_TYPE_INTERRUPT)
        return interrupts_open(vp);
    if (type == SK_SVM_PI_TYPE_NMI)
        return !vp->nmi_masked && !(vp->vmcb->control.int_state & SK_SVM_INT_SHADOW);
    return true;     /* exceptions and software events */
}

static void inject_pending(struct sk_svm_vp *vp, uint64_t pi)
{
    unsigned type = (unsigned)((pi & SK_SVM_PI_TYPE_MASK) >> SK_SVM_PI_TYPE_SHIFT);
    unsigned vector = (unsigned)(pi >> SK_SVM_PI_VECTOR_SHIFT) & 0xffu;
    uint8_t len = (uint8_t)((pi >> SK_SVM_PI_LENGTH_SHIFT) & 0xfu);
    bool err = pi & SK_SVM_PI_ERROR_CODE;
    uint32_t code = (uint32_t)(pi >> 32);
    switch (type) {
    case SK_SVM_PI_TYPE_INTERRUPT:
        inject(vp, SK_SVM_EVENT_INTR, vector, false, 0);
        break;
    case SK_SVM_PI_TYPE_NMI:
        inject(vp, SK_SVM_EVENT_NMI, 2, false, 0);
        vp->nmi_masked = true;
        vp->vmcb->control.intercept_misc1 |= SK_SVM_I1_IRET;
        break;
    case SK_SVM_PI_TYPE_EXCEPTION:
        /* An event with a parameter (HvRegisterPendingEvent0): a #PF's
         * CR2, a #DB's DR6, set as the CPU would before delivering. */
        if (vp->pending_has_parameter && vector == 14)
            vp->base.cr2 = vp->pending_parameter;
        else if (vp->pending_has_parameter && vector == 1)
            vp->vmcb->save.dr6 = vp->pending_parameter & 0xffffffffull;
        inject(vp, SK_SVM_EVENT_EXCEPTION, vector, err, code);
        break;
    default:
        /* Software events: without NRIP save the return address is RIP,
         * so RIP moves past the instruction first (INTn as a software
         * interrupt, INT1/INT3/INTO as the exception they raise). */
        vp->base.rip += len;
        inject(vp, type == SK_SVM_PI_TYPE_SOFTWARE_INTERRUPT ? SK_SVM_EVENT_SOFT_INT : SK_SVM_EVENT_EXCEPTION,
               vector, false, 0);
        break;
    }
}

bool sk_svm_prepare_entry(struct sk_svm_vp *vp)
{
    struct sk_vmcb_control *c = &vp->vmcb->control;
    /* An exception the sidecar raised for the last exit (#UD, #GP) is
     * already in EVENTINJ and goes first. */
    if (c->event_inj & SK_SVM_EVENT_VALID) {
        /* nothing more this entry */
    } else if ((vp->pending_interruption & SK_SVM_PI_PENDING) &&
               deliverable(vp, vp->pending_interruption)) {
        inject_pending(vp, vp->pending_interruption);
        vp->pending_interruption = 0;
        vp->pending_has_parameter = false;
        vp->activity &= ~SK_SVM_ACTIVITY_HALT_SUSPEND;
    }
    /* A halted VP that can take the interrupt the VMM wants to be told
     * about wakes: the window below exits at once (VINTR, the message). */
    if ((vp->activity & SK_SVM_ACTIVITY_HALT_SUSPEND) && (vp->deliverability & SK_SVM_DN_INTERRUPT) &&
        !c->event_inj && interrupts_open(vp))
        vp->activity &= ~SK_SVM_ACTIVITY_HALT_SUSPEND;
    if (vp->activity & SK_SVM_ACTIVITY_HALT_SUSPEND)
        return false;
    /* An interrupt window: a virtual interrupt that can never be taken (it
     * is intercepted first, as VINTR) makes the CPU exit as soon as the
     * guest can take interrupts. */
    bool held = (vp->pending_interruption & SK_SVM_PI_PENDING) &&
                ((vp->pending_interruption & SK_SVM_PI_TYPE_MASK) >> SK_SVM_PI_TYPE_SHIFT) ==
                    SK_SVM_PI_TYPE_INTERRUPT;     /* an interrupt waiting for IF */
    bool want = ((vp->deliverability & SK_SVM_DN_INTERRUPT) || held) && !c->event_inj;
    if (want) {
        c->int_ctl |= SK_SVM_V_IRQ | SK_SVM_V_IGN_TPR;
        c->intercept_misc1 |= SK_SVM_I1_VINTR;
    } else {
        c->int_ctl &= ~(SK_SVM_V_IRQ | SK_SVM_V_IGN_TPR);
        c->intercept_misc1 &= ~SK_SVM_I1_VINTR;
    }
    vp->vintr_armed = want;
    return true;
}

/* An event whose delivery a #VMEXIT interrupted (EXITINTINFO) becomes the
 * pending interruption again, as Hyper-V reports it (the message header
 * then says "interruption pending", and the VMM sees it in
 * HvRegisterPendingInterruption); it is delivered at the next entry unless
 * the VMM changes it. QEMU reports a V_IRQ interrupted mid-delivery as an
 * exception with the interrupt's vector and leaves V_IRQ set: never take
 * that (it is invalid and would deliver twice). */
static void record_interrupted_event(struct sk_svm_vp *vp)
{
    uint64_t info = vp->vmcb->control.exit_int_info;
    if (!(info & SK_SVM_EVENT_VALID))
        return;
    unsigned type = (unsigned)((info & SK_SVM_EVENT_TYPE_MASK) >> SK_SVM_EVENT_TYPE_SHIFT);
    unsigned vector = (unsigned)(info & 0xffu);
    if (type == SK_SVM_EVENT_EXCEPTION && vector >= 32)
        return;
    if (type != SK_SVM_EVENT_INTR && type != SK_SVM_EVENT_NMI && type != SK_SVM_EVENT_EXCEPTION &&
        type != SK_SVM_EVENT_SOFT_INT)
        return;
    /* Only what SET would accept as the pending interruption (and VMRUN
     * as EVENTINJ): an error code only on an exception vector that has
     * one, NMI on vector 2, no exception on vector 2, interrupts from 32. */
    bool ev = info & SK_SVM_EVENT_EV;
    if ((ev && (type != SK_SVM_EVENT_EXCEPTION || !svm_vector_has_error_code(vector))) ||
        (type == SK_SVM_EVENT_NMI && vector != 2) || (type == SK_SVM_EVENT_EXCEPTION && vector == 2) ||
        (type == SK_SVM_EVENT_INTR && vector < 32))
        return;
    if (type == SK_SVM_EVENT_NMI)
        vp->nmi_masked = false;   /* it was not delivered */
    vp->pending_interruption = SK_SVM_PI_PENDING | ((uint64_t)type << SK_SVM_PI_TYPE_SHIFT) |
                               ((uint64_t)vector << SK_SVM_PI_VECTOR_SHIFT) |
                               (info & SK_SVM_EVENT_EV ? SK_SVM_PI_ERROR_CODE | (info & 0xffffffff00000000ull) : 0);
}

/* ---- exits the sidecar handles itself ----------------------------------------------- */

static void skip(struct sk_svm_vp *vp, uint8_t len)
{
    vp->base.rip += len;
    if (!(vp->efer & SK_EFER_LMA) || !(vp->vmcb->save.cs.attrib & SVM_ATTR_L))
        vp->base.rip &= 0xffffffffull;
    vp->vmcb->control.int_state &= ~SK_SVM_INT_SHADOW;
    vp->stats.handled++;
}

static uint64_t edx_eax(const struct sk_svm_vp *vp)
{
    return (vp->base.gpr[SK_VP_RDX] << 32) | (uint32_t)vp->base.gpr[SK_VP_RAX];
}

static void set_edx_eax(struct sk_svm_vp *vp, uint64_t v)
{
    vp->base.gpr[SK_VP_RAX] = (uint32_t)v;
    vp->base.gpr[SK_VP_RDX] = v >> 32;
}

/* RDMSR/WRMSR of an MSR the sidecar virtualizes: true when handled. */
static bool own_msr(struct sk_svm_vp *vp, bool write)
{
    uint32_t msr = (uint32_t)vp->base.gpr[SK_VP_RCX];
    struct sk_vmcb_save *s = &vp->vmcb->save;
    uint64_t v = edx_eax(vp);
    switch (msr) {
    case MSR_EFER:
        if (!write) {
            set_edx_eax(vp, vp->efer);
        } else {
            /* LMA is the processor's; LME may not change while paging is on. */
            uint64_t want = (v & ~SK_EFER_LMA) | (vp->efer & SK_EFER_LMA);
            if (svm_check_efer(want) ||
                ((want ^ vp->efer) & SK_EFER_LME && (s->cr0 & SK_CR0_PG))) {
                inject_gp(vp);
                return true;
            }
            vp->efer = want;
            svm_sync_lma(vp);
        }
        break;
    case MSR_PAT:
        if (!write) {
            set_edx_eax(vp, s->g_pat);
        } else {
            struct sidecar_hv_register_value r = { v, 0 };
            if (sk_svm_set_register(vp, SIDECAR_HV_REGISTER_NAME_PAT, &r) != SIDECAR_HV_STATUS_SUCCESS) {
                inject_gp(vp);
                return true;
            }
        }
        break;
    case MSR_TSC_AUX:
        if (!write)
            set_edx_eax(vp, vp->tsc_aux);
        else if (v >> 32) {
            inject_gp(vp);
            return true;
        } else {
            vp->tsc_aux = v;
        }
        break;
    case MSR_TSC:
        if (!write)
            return false;      /* reads are not intercepted */
        vp->vmcb->control.tsc_offset = v - (vp->ops && vp->ops->rdtsc ? vp->ops->rdtsc(vp->ops_ctx) : 0);
        break;
    default:
        return false;
    }
    skip(vp, insn_length(vp, 2));
    return true;
}

/* Is msr in one of the ranges the VMM said it handles? */
static bool vmm_msr(const struct sk_svm_vp *vp, uint32_t msr)
{
    for (unsigned i = 0; i < SK_SVM_MSR_RANGES; i++) {
        uint32_t first = (uint32_t)vp->msr_ranges[i], count = (uint32_t)(vp->msr_ranges[i] >> 32);
        if (count && msr - first < count)
            return true;
    }
    return false;
}

/* MOV to/from DR0-3 (0F 21 / 0F 23, register operand only). */
static void mov_dr(struct sk_svm_vp *vp, unsigned dr, bool write)
{
    uint8_t bytes[SK_INSN_MAX_BYTES];
    struct sk_insn insn;
    fetch_insn(vp, bytes, &insn);
    if (insn.kind == SK_INSN_INVALID || insn.map != 1 || (insn.opcode != 0x21 && insn.opcode != 0x23) ||
        !(insn.flags & SK_INSN_F_MODRM)) {
        inject_ud(vp);
        return;
    }
    if (vp->vmcb->save.cpl != 0) {
        inject_gp(vp);
        return;
    }
    unsigned rm = (insn.modrm & 7u) | (insn.rex & 1u ? 8u : 0u);
    bool wide = (vp->efer & SK_EFER_LMA) && (vp->vmcb->save.cs.attrib & SVM_ATTR_L);
    if (write)
        vp->dr[dr & 3u] = wide ? vp->base.gpr[rm] : (uint32_t)vp->base.gpr[rm];
    else
        vp->base.gpr[rm] = wide ? vp->dr[dr & 3u] : (uint32_t)vp->dr[dr & 3u];
    skip(vp, insn.len);
}

/* ---- messages ----------------------------------------------------------------------------- */

static void build_io(struct sk_svm_vp *vp, struct sidecar_hv_message *msg)
{
    const struct sk_vmcb_control *c = &vp->vmcb->control;
    uint32_t info = (uint32_t)c->exit_info1;
    uint8_t bytes[SK_INSN_MAX_BYTES];
    struct sk_insn insn;
    uint32_t n = fetch_insn(vp, bytes, &insn);
    uint64_t len = c->exit_info2 - vp->base.rip;   /* EXITINFO2: the next RIP */
    struct sk_vp_io_access io = {
        .port = (uint16_t)(info >> SK_SVM_IO_PORT_SHIFT),
        .size = (uint8_t)(info & SK_SVM_IO_SZ32 ? 4 : info & SK_SVM_IO_SZ16 ? 2 : 1),
        .write = !(info & SK_SVM_IO_IN),
        .string = (info & SK_SVM_IO_STR) != 0,
        .rep = (info & SK_SVM_IO_REP) != 0,
        .instruction_length = (uint8_t)(len >= 1 && len <= 15 ? len : insn.len),
    };
    sk_vp_build_io(&vp->base, &io, bytes, n, msg);
}

static void build_npf(struct sk_svm_vp *vp, struct sidecar_hv_message *msg)
{
    const struct sk_vmcb_control *c = &vp->vmcb->control;
    uint64_t info = c->exit_info1;
    uint8_t access = info & SK_SVM_NPF_ID ? SIDECAR_INTERCEPT_ACCESS_EXECUTE
                   : info & SK_SVM_NPF_W ? SIDECAR_INTERCEPT_ACCESS_WRITE
                                         : SIDECAR_INTERCEPT_ACCESS_READ;
    uint8_t bytes[SK_INSN_MAX_BYTES];
    struct sk_insn insn;
    uint32_t n = 0;
    insn.kind = SK_INSN_INVALID;
    insn.len = 0;
    if (access != SIDECAR_INTERCEPT_ACCESS_EXECUTE)
        n = fetch_insn(vp, bytes, &insn);
    sk_vp_build_memory(&vp->base, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, access, 0, c->exit_info2,
                       insn.kind != SK_INSN_INVALID ? insn.len : 0, bytes, n, msg);
    /* No decode assists: the GVA is not known, only the GPA. */
    struct sidecar_hv_x64_memory_intercept_message m;
    svm_copy(&m, msg->payload, sizeof(m));
    m.memory_access_info = 0;
    m.guest_virtual_address = 0;
    m.cache_type = 0;
    svm_copy(msg->payload, &m, sizeof(m));
}

static void build_exception(struct sk_svm_vp *vp, unsigned vector, struct sidecar_hv_message *msg)
{
    const struct sk_vmcb_control *c = &vp->vmcb->control;
    uint8_t bytes[SK_INSN_MAX_BYTES];
    struct sk_insn insn;
    uint32_t n = fetch_insn(vp, bytes, &insn);
    struct sk_vp_exit ex = {
        .vector = (uint8_t)vector,
        .has_error_code = svm_vector_has_error_code(vector),
        .error_code = (uint32_t)c->exit_info1,
    };
    uint64_t parameter = vector == 14 ? c->exit_info2 : vector == 1 ? vp->vmcb->save.dr6 : 0;
    sk_vp_build_exception(&vp->base, &ex, parameter, bytes, n, msg);
}

static const char hex[] = "0123456789abcdef";

/* buf: the VP's why[] (48 bytes): the text (30) and 16 hex digits fit. */
static const char *unexpected(uint64_t code, char *buf)
{
    _Static_assert(sizeof(((struct sk_svm_vp *)0)->why) >= sizeof("run_vp: unexpected #VMEXIT 0x") + 16,
                   "why[] holds the longest text");
    static const char text[] = "run_vp: unexpected #VMEXIT 0x";
    uint32_t i = 0;
    for (; text[i]; i++)
        buf[i] = text[i];
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (unsigned)(code >> shift) & 15u;
        if (d || shift == 0 || i > sizeof(text) - 1)
            buf[i++] = hex[d];
    }
    buf[i] = 0;
    return buf;
}

enum sk_svm_action sk_svm_handle_exit(struct sk_svm_vp *vp, uint64_t code,
                                      struct sidecar_hv_message *msg, const char **why)
{
    struct sk_vmcb_control *c = &vp->vmcb->control;
    if (vp->nmi_unmask_at_exit) {
        vp->nmi_masked = false;
        vp->nmi_unmask_at_exit = false;
    }
    if ((uint32_t)code == SK_SVM_EXIT_INVALID_32) {
        sk_svm_reset(vp);
        *why = "run_vp: VMRUN refused the guest state (VMEXIT_INVALID); the VP was put in the reset state";
        return SK_SVM_FAILED;
    }
    record_interrupted_event(vp);
    svm_refresh_view(vp);
    switch (code) {
    case SK_SVM_EXIT_INTR:
    case SK_SVM_EXIT_NMI:
    case SK_SVM_EXIT_SMI:
    case SK_SVM_EXIT_INIT:
        vp->stats.interrupts++;
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_VINTR:
        c->int_ctl &= ~(SK_SVM_V_IRQ | SK_SVM_V_IGN_TPR);
        c->intercept_misc1 &= ~SK_SVM_I1_VINTR;
        vp->vintr_armed = false;
        if (!(vp->deliverability & SK_SVM_DN_INTERRUPT)) {
            vp->stats.handled++;           /* the window for a held interrupt: it goes in now */
            return SK_SVM_RESUME;
        }
        vp->deliverability &= ~SK_SVM_DN_INTERRUPT;
        sk_vp_build_header_message(&vp->base, SIDECAR_HV_MESSAGE_TYPE_X64_INTERRUPTION_DELIVERABLE, 0,
                                   sizeof(struct sidecar_hv_x64_interruption_deliverable_message), msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    case SK_SVM_EXIT_IRET:
        c->intercept_misc1 &= ~SK_SVM_I1_IRET;
        vp->nmi_unmask_at_exit = true;     /* after the IRET has run */
        vp->stats.handled++;
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_IOIO:
        build_io(vp, msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    case SK_SVM_EXIT_MSR: {
        bool write = c->exit_info1 & 1;
        if (own_msr(vp, write))
            return SK_SVM_RESUME;
        if ((vp->intercept_control & SK_SVM_INTERCEPT_MSR_LISTED) && !vmm_msr(vp, (uint32_t)vp->base.gpr[SK_VP_RCX])) {
            /* Not the VMM's and not virtualized here: as on a CPU without it. */
            inject_gp(vp);
            vp->stats.handled++;
            return SK_SVM_RESUME;
        }
        sk_vp_build_msr(&vp->base, write, insn_length(vp, 2), msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    }
    case SK_SVM_EXIT_CPUID: {
        uint32_t d[4] = {0, 0, 0, 0};
        if (vp->ops && vp->ops->cpuid)
            vp->ops->cpuid(vp->ops_ctx, (uint32_t)vp->base.gpr[SK_VP_RAX], (uint32_t)vp->base.gpr[SK_VP_RCX], d);
        sk_vp_build_cpuid(&vp->base, insn_length(vp, 2), d, msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    }
    case SK_SVM_EXIT_HLT:
        if (vp->intercept_control & SK_SVM_INTERCEPT_HLT) {
            sk_vp_build_halt(&vp->base, insn_length(vp, 1), msg);
            vp->stats.intercepts++;
            return SK_SVM_INTERCEPT;
        }
        skip(vp, insn_length(vp, 1));
        vp->activity |= SK_SVM_ACTIVITY_HALT_SUSPEND;
        vp->stats.halts++;
        return SK_SVM_HALTED;
    case SK_SVM_EXIT_NPF:
        if (c->exit_info1 & SK_SVM_NPF_RSVD) {
            *why = "run_vp: nested page fault on a reserved bit (the sidecar's own tables are wrong)";
            return SK_SVM_FAILED;
        }
        build_npf(vp, msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    case SK_SVM_EXIT_SHUTDOWN:
        /* A triple fault: the VP cannot go on; the VMM resets it (SET of
         * its registers) or gives up on it. Nothing is pending any more. */
        vp->pending_interruption = 0;
        sk_vp_build_header_message(&vp->base, SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION, 0,
                                   sizeof(struct sidecar_hv_x64_intercept_message_header), msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    case SK_SVM_EXIT_VMRUN:
    case SK_SVM_EXIT_VMMCALL:
    case SK_SVM_EXIT_VMLOAD:
    case SK_SVM_EXIT_VMSAVE:
    case SK_SVM_EXIT_STGI:
    case SK_SVM_EXIT_CLGI:
    case SK_SVM_EXIT_SKINIT:
    case SK_SVM_EXIT_INVLPGA:
    case SK_SVM_EXIT_MONITOR:
    case SK_SVM_EXIT_MWAIT:
    case SK_SVM_EXIT_MWAIT_C:
    case SK_SVM_EXIT_RDPRU:
        /* The guest has no SVM and no MONITOR/MWAIT: as on a CPU without. */
        inject_ud(vp);
        vp->stats.handled++;
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_FERR_FREEZE:
        vp->stats.handled++;
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_INVD:
        /* As WBINVD would do for the guest: its memory stays coherent; the
         * host's caches are not dropped. */
        skip(vp, insn_length(vp, 2));
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_RDPMC:
        /* No performance counters for the guest (they are the host's). */
        inject_gp(vp);
        vp->stats.handled++;
        return SK_SVM_RESUME;
    case SK_SVM_EXIT_RDTSCP: {
        uint64_t t = (vp->ops && vp->ops->rdtsc ? vp->ops->rdtsc(vp->ops_ctx) : 0) + c->tsc_offset;
        set_edx_eax(vp, t);
        vp->base.gpr[SK_VP_RCX] = (uint32_t)vp->tsc_aux;
        skip(vp, insn_length(vp, 3));
        return SK_SVM_RESUME;
    }
    default:
        break;
    }
    if (code >= SK_SVM_EXIT_DR0_READ && code < SK_SVM_EXIT_DR0_READ + 0x20 && (code & 0xfu) < 4) {
        mov_dr(vp, (unsigned)(code & 3u), code >= SK_SVM_EXIT_DR0_WRITE);
        return SK_SVM_RESUME;
    }
    if (code >= SK_SVM_EXIT_EXCP_BASE && code < SK_SVM_EXIT_EXCP_BASE + 32) {
        build_exception(vp, (unsigned)(code - SK_SVM_EXIT_EXCP_BASE), msg);
        vp->stats.intercepts++;
        return SK_SVM_INTERCEPT;
    }
    *why = unexpected(code, vp->why);
    return SK_SVM_FAILED;
}

/* ---- the run ---------------------------------------------------------------------------------- */

static void to_vmcb(struct sk_svm_vp *vp)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    s->rax = vp->base.gpr[SK_VP_RAX];
    s->rsp = vp->base.gpr[SK_VP_RSP];
    s->rip = vp->base.rip;
    s->rflags = vp->base.rflags;
    s->cr2 = vp->base.cr2;
}

static void from_vmcb(struct sk_svm_vp *vp)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    vp->base.gpr[SK_VP_RAX] = s->rax;
    vp->base.gpr[SK_VP_RSP] = s->rsp;
    vp->base.rip = s->rip;
    vp->base.rflags = s->rflags;
    vp->base.cr2 = s->cr2;
    vp->efer = s->efer & ~SK_EFER_SVME;    /* the CPU sets LMA itself */
}

int sk_svm_run(struct sk_cpu *cpu, void *vpv, struct sidecar_hv_message *msg)
{
    struct sk_svm_vp *vp = vpv;
    if (!vp || !vp->ops || !vp->ops->vmrun) {
        sk_command_fail(cpu, "run_vp: the svm backend has no arch half");
        return -1;
    }
    struct sidecar_cpu_context *ctx = &cpu->command->cpu_context;
    sk_vp_load_context(&vp->base, ctx);
    const char *bad = sk_svm_check_state(vp);
    if (bad) {
        sk_command_fail(cpu, bad);
        return -1;
    }
    svm_sync_lma(vp);
    if (vp->ops->fx_load)
        vp->ops->fx_load(vp->ops_ctx, &vp->base.fx);
    int rc = 0;
    for (;;) {
        if (sk_stop_requested(cpu)) {
            rc = 0;
            break;
        }
        if (!sk_svm_prepare_entry(vp)) {
            /* Halted: until the VMM makes an interrupt pending (it must
             * STOP this run to do so) nothing can wake the VP. */
            if (vp->ops->halt_wait)
                vp->ops->halt_wait(vp->ops_ctx, &cpu->control->cpu_status[cpu->node_cpu]);
            continue;
        }
        to_vmcb(vp);
        vp->stats.vmruns++;
        uint64_t code = vp->ops->vmrun(vp->ops_ctx, vp);
        vp->vmcb->control.tlb_control = SK_SVM_TLB_NONE;
        vp->vmcb->control.event_inj = 0;    /* delivered (or back in EXITINTINFO) */
        from_vmcb(vp);
        const char *why = NULL;
        enum sk_svm_action a = sk_svm_handle_exit(vp, code, msg, &why);
        if (a == SK_SVM_INTERCEPT) {
            rc = 1;
            break;
        }
        if (a == SK_SVM_FAILED) {
            /* VMEXIT_INVALID reset the VP: its reset FX image goes into the
             * CPU so that the store below keeps it. */
            if ((uint32_t)code == SK_SVM_EXIT_INVALID_32 && vp->ops->fx_load)
                vp->ops->fx_load(vp->ops_ctx, &vp->base.fx);
            sk_command_fail(cpu, why ? why : "run_vp: the VP cannot run");
            rc = -1;
            break;
        }
    }
    if (vp->ops->fx_store)
        vp->ops->fx_store(vp->ops_ctx, &vp->base.fx);
    sk_vp_save_context(&vp->base, ctx);
    return rc;
}

/* ---- the backend ops ------------------------------------------------------------------------------- */

static uint16_t op_get(struct sk_cpu *cpu, void *vpv, uint32_t name, struct sidecar_hv_register_value *value)
{
    struct sk_svm_vp *vp = vpv;
    sk_vp_load_context(&vp->base, &cpu->command->cpu_context);
    return sk_svm_get_register(vp, name, value);
}

static uint16_t op_set(struct sk_cpu *cpu, void *vpv, uint32_t name,
                       const struct sidecar_hv_register_value *value)
{
    struct sk_svm_vp *vp = vpv;
    struct sidecar_cpu_context *ctx = &cpu->command->cpu_context;
    sk_vp_load_context(&vp->base, ctx);
    uint16_t st = sk_svm_set_register(vp, name, value);
    if (st == SIDECAR_HV_STATUS_SUCCESS)
        sk_vp_save_context(&vp->base, ctx);
    return st;
}

static int op_translate(struct sk_cpu *cpu, void *vpv, const struct sidecar_translate_gva_request *req,
                        struct sidecar_translate_gva_response *resp)
{
    (void)cpu;
    sk_svm_translate_gva(vpv, req, resp);
    return 0;
}

#define N(x) SIDECAR_HV_REGISTER_NAME_##x
/* What REMOVE leaves in removed_state (31 registers, the most a request
 * holds); with cpu_context (RAX-R15 but RSP, CR2, x87/SSE) that is the
 * VP's state but DR0-3, DR6, the TSC and the deliverability request
 * (docs/svm.md). */
static const uint32_t svm_saved[] = {
    N(RSP), N(RIP), N(RFLAGS), N(CR0), N(CR3), N(CR4), N(CR8), N(EFER),
    N(ES), N(CS), N(SS), N(DS), N(FS), N(GS), N(LDTR), N(TR), N(GDTR), N(IDTR),
    N(DR7), N(PAT), N(KERNEL_GS_BASE), N(STAR), N(LSTAR), N(CSTAR), N(SFMASK),
    N(SYSENTER_CS), N(SYSENTER_EIP), N(SYSENTER_ESP),
    N(PENDING_INTERRUPTION), N(INTERRUPT_STATE), N(INTERNAL_ACTIVITY_STATE),
};
_Static_assert(sizeof(svm_saved) / sizeof(svm_saved[0]) <= SIDECAR_MAX_GET_SET_VP_REGISTERS,
               "the saved registers fit one request");

const struct sk_vp_backend sk_svm_backend = {
    .name = "svm",
    .run = sk_svm_run,
    .get_register = op_get,
    .set_register = op_set,
    .translate_gva = op_translate,
    .saved_names = svm_saved,
    .saved_count = sizeof(svm_saved) / sizeof(svm_saved[0]),
};
