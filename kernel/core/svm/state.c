/* SPDX-License-Identifier: MIT */
/* The SVM backend's VP state: the VMCB control area it runs with, the x86
 * reset state, and GET/SET of registers by TLFS name (sidecar/svm.h). */
#include "svm_internal.h"

#define N(x) SIDECAR_HV_REGISTER_NAME_##x

/* ---- the control area ------------------------------------------------------ */

/* Exceptions always intercepted: #MC (a machine check in the guest is the
 * host's business; docs/svm.md). The VMM may add more. */
#define ALWAYS_EXCEPTIONS (1u << 18)

static void setup_control(struct sk_svm_vp *vp)
{
    struct sk_vmcb_control *c = &vp->vmcb->control;
    svm_zero(c, sizeof(*c));
    /* DR0-3 are not in the VMCB: their reads and writes are emulated so
     * the guest never changes the host's (DR6/DR7 are swapped by VMRUN). */
    c->intercept_dr = 0x000f000fu;
    c->intercept_exceptions = ALWAYS_EXCEPTIONS | (uint32_t)(vp->intercept_control >> 32);
    /* INVD would drop the host's dirty cache lines too; RDPMC would read
     * the host's performance counters; RDTSCP would read the host's
     * TSC_AUX: all three are the sidecar's (run.c). */
    c->intercept_misc1 = SK_SVM_I1_INTR | SK_SVM_I1_NMI | SK_SVM_I1_SMI | SK_SVM_I1_INIT |
                         SK_SVM_I1_RDPMC | SK_SVM_I1_CPUID | SK_SVM_I1_INVD | SK_SVM_I1_HLT |
                         SK_SVM_I1_INVLPGA | SK_SVM_I1_IOIO | SK_SVM_I1_MSR | SK_SVM_I1_FERR_FREEZE |
                         SK_SVM_I1_SHUTDOWN;
    c->intercept_misc2 = SK_SVM_I2_VMRUN | SK_SVM_I2_VMMCALL | SK_SVM_I2_VMLOAD | SK_SVM_I2_VMSAVE |
                         SK_SVM_I2_STGI | SK_SVM_I2_CLGI | SK_SVM_I2_SKINIT | SK_SVM_I2_RDTSCP |
                         SK_SVM_I2_MONITOR | SK_SVM_I2_MWAIT | SK_SVM_I2_MWAIT_C | SK_SVM_I2_RDPRU;
    c->iopm_base_pa = vp->iopm_pa;
    c->msrpm_base_pa = vp->msrpm_pa;
    c->asid = vp->asid;
    c->tlb_control = SK_SVM_TLB_FLUSH_ALL;
    /* Physical interrupts stay the host's: with V_INTR_MASKING the guest's
     * IF masks only virtual interrupts, and a physical one exits (INTR). */
    c->int_ctl = SK_SVM_V_INTR_MASKING;
    c->np_control = 1;
    c->n_cr3 = vp->ncr3;
}

void sk_svm_init(struct sk_svm_vp *vp, uint32_t vp_index, const struct sk_svm_config *config)
{
    svm_zero(vp, sizeof(*vp));
    struct sk_vp_config base = {
        .ram = { 0, config->ram_size, SK_VP_RAM_ALL },
        .mxcsr_mask = config->mxcsr_mask,
    };
    sk_vp_init(&vp->base, vp_index, &base);
    vp->base.view = &vp->view;
    vp->vmcb = config->vmcb;
    vp->iopm_pa = config->iopm_pa;
    vp->msrpm_pa = config->msrpm_pa;
    vp->ncr3 = config->ncr3;
    vp->asid = config->asid ? config->asid : 1;
    vp->ram_size = config->ram_size;
    vp->cpuid1_eax = config->cpuid1_eax;
    vp->ops = config->ops;
    vp->ops_ctx = config->ops_ctx;
    sk_svm_reset(vp);
}

static void seg(struct sk_vmcb_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attrib)
{
    s->selector = sel;
    s->base = base;
    s->limit = limit;
    s->attrib = attrib;
}

void sk_svm_reset(struct sk_svm_vp *vp)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    svm_zero(s, sizeof(*s));
    setup_control(vp);
    /* The power-on state (AMD APM vol. 2, 14.1.3; Intel SDM vol. 3, 9.1.1). */
    seg(&s->cs, 0xf000, 0xffff0000ull, 0xffff, 0x09b);
    seg(&s->ds, 0, 0, 0xffff, 0x093);
    seg(&s->es, 0, 0, 0xffff, 0x093);
    seg(&s->fs, 0, 0, 0xffff, 0x093);
    seg(&s->gs, 0, 0, 0xffff, 0x093);
    seg(&s->ss, 0, 0, 0xffff, 0x093);
    seg(&s->gdtr, 0, 0, 0xffff, 0);
    seg(&s->idtr, 0, 0, 0xffff, 0);
    seg(&s->ldtr, 0, 0, 0xffff, 0x082);
    seg(&s->tr, 0, 0, 0xffff, 0x08b);
    s->cpl = 0;
    s->efer = SK_EFER_SVME;
    s->cr0 = 0x60000010ull;     /* CD, NW, ET */
    s->dr6 = 0xffff0ff0ull;
    s->dr7 = 0x400;
    s->rflags = 0x2;
    s->rip = 0xfff0;
    s->g_pat = SK_SVM_PAT_DEFAULT;
    vp->efer = 0;
    vp->tsc_aux = 0;
    uint64_t xsave = 0;
    if (vp->ops && vp->ops->xcr0_get && vp->ops->xcr0_set && (vp->ops->xcr0_get(vp->ops_ctx, &xsave), xsave))
        vp->ops->xcr0_set(vp->ops_ctx, 1);   /* XCR0 at reset: x87 only */
    for (unsigned i = 0; i < 4; i++)
        vp->dr[i] = 0;
    vp->pending_interruption = 0;
    vp->pending_has_parameter = false;
    vp->deliverability = 0;
    vp->activity = 0;
    vp->nmi_masked = false;
    vp->nmi_unmask_at_exit = false;
    vp->vintr_armed = false;
    for (unsigned i = 0; i < 16; i++)
        vp->base.gpr[i] = 0;
    vp->base.gpr[SK_VP_RDX] = vp->cpuid1_eax;
    vp->base.rip = s->rip;
    vp->base.rflags = s->rflags;
    vp->base.cr2 = 0;
    /* x87 and SSE as at power-on: FCW 0x40, MXCSR 0x1F80, all registers 0. */
    svm_zero(&vp->base.fx, sizeof(vp->base.fx));
    vp->base.fx.fcw = 0x40;
    vp->base.fx.mxcsr = 0x1f80;
    svm_refresh_view(vp);
}

/* ---- views ------------------------------------------------------------------- */

uint16_t sk_svm_attrib_to_hv(uint16_t a)
{
    return (uint16_t)((a & 0xffu) | ((a & 0xf00u) << 4));
}

uint16_t sk_svm_attrib_from_hv(uint16_t a)
{
    return (uint16_t)((a & 0xffu) | ((a >> 4) & 0xf00u));
}

static void seg_to_hv(const struct sk_vmcb_seg *s, struct sidecar_hv_x64_segment_register *o)
{
    o->base = s->base;
    o->limit = s->limit;
    o->selector = s->selector;
    o->attributes = sk_svm_attrib_to_hv(s->attrib);
}

uint16_t sk_svm_execution_state(const struct sk_svm_vp *vp)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    uint16_t st = (uint16_t)(s->cpl & 3u);
    if (s->cr0 & SK_CR0_PE)
        st |= 1u << 2;
    if (s->cr0 & SK_CR0_AM)
        st |= 1u << 3;
    if (s->efer & SK_EFER_LMA)
        st |= 1u << 4;
    if (s->dr7 & 0xffu)
        st |= 1u << 5;
    if (vp->pending_interruption & SK_SVM_PI_PENDING)
        st |= 1u << 6;
    if (vp->vmcb->control.int_state & SK_SVM_INT_SHADOW)
        st |= 1u << 12;
    return st;
}

void svm_refresh_view(struct sk_svm_vp *vp)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    seg_to_hv(&s->es, &vp->view.es);
    seg_to_hv(&s->cs, &vp->view.cs);
    seg_to_hv(&s->ss, &vp->view.ss);
    seg_to_hv(&s->ds, &vp->view.ds);
    vp->view.execution_state = sk_svm_execution_state(vp);
    vp->view.cr8 = (uint8_t)(vp->vmcb->control.int_ctl & 0xfu);
}

/* ---- checks --------------------------------------------------------------------- */

static bool canonical(uint64_t v)
{
    uint64_t top = v >> 47;
    return top == 0 || top == 0x1ffff;
}

/* EFER bits a guest may hold: SCE, LME, LMA, NXE, LMSLE, FFXSR, TCE. */
#define EFER_GUEST_BITS (SK_EFER_SCE | SK_EFER_LME | SK_EFER_LMA | SK_EFER_NXE | \
                         (1ull << 13) | (1ull << 14) | (1ull << 15))
/* CR4 bits this backend lets a guest hold (the rest are reserved, or need
 * support it does not give: VMXE, SMXE, CET, PKS...). */
#define CR4_GUEST_BITS (0x1fffull | (1ull << 16) | (1ull << 17) | (1ull << 18) | \
                        (1ull << 20) | (1ull << 21) | (1ull << 22))
#define CR4_VMXE (1ull << 13)

static bool pat_valid(uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t t = (uint8_t)(v >> (8 * i));
        if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
            return false;
    }
    return true;
}

const char *svm_check_efer(uint64_t efer)
{
    return efer & ~EFER_GUEST_BITS ? "EFER: reserved or unsupported bits set" : NULL;
}

const char *sk_svm_check_state(const struct sk_svm_vp *vp)
{
    const struct sk_vmcb_save *s = &vp->vmcb->save;
    uint64_t cr0 = s->cr0, cr4 = s->cr4, efer = vp->efer;
    if (cr0 >> 32)
        return "CR0: bits 63-32 set";
    if (!(cr0 & SK_CR0_CD) && (cr0 & SK_CR0_NW))
        return "CR0: NW set without CD";
    if ((cr0 & SK_CR0_PG) && !(cr0 & SK_CR0_PE))
        return "CR0: PG set without PE";
    if (cr4 & ~CR4_GUEST_BITS & ~CR4_VMXE)
        return "CR4: reserved or unsupported bits set";
    if (cr4 & CR4_VMXE)
        return "CR4: VMXE set (no VMX on this backend)";
    if (s->cr3 >> 52)
        return "CR3: bits 63-52 set";
    if (svm_check_efer(efer))
        return svm_check_efer(efer);
    if ((efer & SK_EFER_LME) && (cr0 & SK_CR0_PG) && !(cr4 & SK_CR4_PAE))
        return "EFER.LME and CR0.PG set without CR4.PAE";
    if ((efer & SK_EFER_LME) && (cr0 & SK_CR0_PG) && (s->cs.attrib & SVM_ATTR_L) && (s->cs.attrib & SVM_ATTR_DB))
        return "CS: L and D both set in long mode";
    if (s->dr6 >> 32)
        return "DR6: bits 63-32 set";
    if (s->dr7 >> 32)
        return "DR7: bits 63-32 set";
    if (!pat_valid(s->g_pat))
        return "PAT: an entry has a reserved memory type";
    if (s->cpl > 3)
        return "CPL: above 3";
    return NULL;
}

/* ---- registers ---------------------------------------------------------------------- */

static struct sk_vmcb_seg *segment_of(struct sk_svm_vp *vp, uint32_t name)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    switch (name) {
    case N(ES): return &s->es;
    case N(CS): return &s->cs;
    case N(SS): return &s->ss;
    case N(DS): return &s->ds;
    case N(FS): return &s->fs;
    case N(GS): return &s->gs;
    case N(LDTR): return &s->ldtr;
    case N(TR): return &s->tr;
    default: return NULL;
    }
}

static uint64_t *msr_field(struct sk_svm_vp *vp, uint32_t name, bool *need_canonical)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    *need_canonical = true;
    switch (name) {
    case N(KERNEL_GS_BASE): return &s->kernel_gs_base;
    case N(LSTAR): return &s->lstar;
    case N(CSTAR): return &s->cstar;
    case N(SYSENTER_EIP): return &s->sysenter_eip;
    case N(SYSENTER_ESP): return &s->sysenter_esp;
    default: break;
    }
    *need_canonical = false;
    switch (name) {
    case N(STAR): return &s->star;
    case N(SFMASK): return &s->sfmask;
    case N(SYSENTER_CS): return &s->sysenter_cs;
    default: return NULL;
    }
}

static uint64_t tsc_now(const struct sk_svm_vp *vp)
{
    return vp->ops && vp->ops->rdtsc ? vp->ops->rdtsc(vp->ops_ctx) : 0;
}

uint16_t sk_svm_get_register(struct sk_svm_vp *vp, uint32_t name,
                             struct sidecar_hv_register_value *value)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    struct sk_vmcb_control *c = &vp->vmcb->control;
    value->low = 0;
    value->high = 0;
    struct sk_vmcb_seg *sg = segment_of(vp, name);
    if (sg) {
        struct sidecar_hv_x64_segment_register r;
        seg_to_hv(sg, &r);
        svm_copy(value, &r, sizeof(r));
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    bool canon;
    uint64_t *msr = msr_field(vp, name, &canon);
    if (msr) {
        value->low = *msr;
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    switch (name) {
    case N(RSP): value->low = vp->base.gpr[SK_VP_RSP]; return SIDECAR_HV_STATUS_SUCCESS;
    case N(RIP): value->low = vp->base.rip; return SIDECAR_HV_STATUS_SUCCESS;
    case N(RFLAGS): value->low = vp->base.rflags; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR0): value->low = s->cr0; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR2): value->low = vp->base.cr2; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR3): value->low = s->cr3; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR4): value->low = s->cr4; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR8): value->low = c->int_ctl & 0xfu; return SIDECAR_HV_STATUS_SUCCESS;
    case N(EFER): value->low = vp->efer; return SIDECAR_HV_STATUS_SUCCESS;
    case N(PAT): value->low = s->g_pat; return SIDECAR_HV_STATUS_SUCCESS;
    case N(TSC): value->low = tsc_now(vp) + c->tsc_offset; return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR0): case N(DR1): case N(DR2): case N(DR3):
        value->low = vp->dr[name - N(DR0)];
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR6): value->low = s->dr6; return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR7): value->low = s->dr7; return SIDECAR_HV_STATUS_SUCCESS;
    case N(GDTR): case N(IDTR): {
        const struct sk_vmcb_seg *t = name == N(GDTR) ? &s->gdtr : &s->idtr;
        struct sidecar_hv_x64_table_register r;
        svm_zero(&r, sizeof(r));
        r.limit = (uint16_t)t->limit;
        r.base = t->base;
        svm_copy(value, &r, sizeof(r));
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(PENDING_INTERRUPTION): value->low = vp->pending_interruption; return SIDECAR_HV_STATUS_SUCCESS;
    case N(PENDING_EVENT0): {
        /* The pending exception in the event layout (type 0, exception). */
        uint64_t pi = vp->pending_interruption;
        if (!(pi & SK_SVM_PI_PENDING) ||
            ((pi & SK_SVM_PI_TYPE_MASK) >> SK_SVM_PI_TYPE_SHIFT) != SK_SVM_PI_TYPE_EXCEPTION)
            return SIDECAR_HV_STATUS_SUCCESS;   /* nothing pending: zero */
        value->low = 1 | (pi & SK_SVM_PI_ERROR_CODE ? 1ull << 8 : 0) | (pi & 0xffffffffffff0000ull);
        value->high = vp->pending_has_parameter ? vp->pending_parameter : 0;
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(INTERRUPT_STATE):
        value->low = (c->int_state & SK_SVM_INT_SHADOW ? SK_SVM_IS_SHADOW : 0) |
                     (vp->nmi_masked ? SK_SVM_IS_NMI_MASKED : 0);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DELIVERABILITY_NOTIFICATIONS): value->low = vp->deliverability; return SIDECAR_HV_STATUS_SUCCESS;
    case N(INTERNAL_ACTIVITY_STATE): value->low = vp->activity; return SIDECAR_HV_STATUS_SUCCESS;
    case SK_SVM_REG_INTERCEPT_CONTROL: value->low = vp->intercept_control; return SIDECAR_HV_STATUS_SUCCESS;
    case SK_SVM_REG_MSR_RANGE(0): case SK_SVM_REG_MSR_RANGE(1):
    case SK_SVM_REG_MSR_RANGE(2): case SK_SVM_REG_MSR_RANGE(3):
        value->low = vp->msr_ranges[name - SK_SVM_REG_MSR_RANGE(0)];
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(XFEM): {
        uint64_t supported = 0;
        if (!vp->ops || !vp->ops->xcr0_get)
            return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
        value->low = vp->ops->xcr0_get(vp->ops_ctx, &supported);
        return supported ? SIDECAR_HV_STATUS_SUCCESS : SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
    }
    default:
        break;
    }
    /* GPRs, XMM/x87 state, VP index: as the ring-3 backend keeps them. */
    return sk_vp_get_register(&vp->base, name, value);
}

static uint16_t invalid(void) { return SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE; }

/* A pending interruption VMRUN's EVENTINJ accepts (APM 15.20). */
static bool pending_valid(uint64_t v)
{
    if (!(v & SK_SVM_PI_PENDING))
        return true;     /* not pending: the rest is ignored */
    if (v & SK_SVM_PI_RESERVED)
        return false;
    unsigned type = (unsigned)((v & SK_SVM_PI_TYPE_MASK) >> SK_SVM_PI_TYPE_SHIFT);
    unsigned vector = (unsigned)(v >> SK_SVM_PI_VECTOR_SHIFT) & 0xffffu;
    bool err = v & SK_SVM_PI_ERROR_CODE;
    unsigned len = (unsigned)(v >> SK_SVM_PI_LENGTH_SHIFT) & 0xfu;
    if (vector > 255)
        return false;
    switch (type) {
    case SK_SVM_PI_TYPE_INTERRUPT:
        return vector >= 32 && !err;
    case SK_SVM_PI_TYPE_NMI:
        return vector == 2 && !err;
    case SK_SVM_PI_TYPE_EXCEPTION:
        return vector < 32 && vector != 2 && (!err || svm_vector_has_error_code(vector));
    case SK_SVM_PI_TYPE_SOFTWARE_INTERRUPT:
        return !err && len >= 1 && len <= 15;
    case SK_SVM_PI_TYPE_PRIV_SOFTWARE_EXCEPTION:
        return vector == 1 && !err && len >= 1 && len <= 15;
    case SK_SVM_PI_TYPE_SOFTWARE_EXCEPTION:
        return (vector == 3 || vector == 4) && !err && len >= 1 && len <= 15;
    default:
        return false;
    }
}

uint16_t sk_svm_set_register(struct sk_svm_vp *vp, uint32_t name,
                             const struct sidecar_hv_register_value *value)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    struct sk_vmcb_control *c = &vp->vmcb->control;
    uint64_t v = value->low;
    struct sk_vmcb_seg *sg = segment_of(vp, name);
    if (sg) {
        struct sidecar_hv_x64_segment_register r;
        svm_copy(&r, value, sizeof(r));
        if (r.attributes & 0x0f00u)
            return invalid();           /* bits 8-11 of the TLFS form are reserved */
        struct sk_vmcb_seg n = { r.selector, sk_svm_attrib_from_hv(r.attributes), r.limit, r.base };
        if (name == N(CS) && (n.attrib & SVM_ATTR_L) && (n.attrib & SVM_ATTR_DB) && (vp->efer & SK_EFER_LMA))
            return invalid();
        if ((name == N(FS) || name == N(GS) || name == N(TR) || name == N(LDTR)) && !canonical(n.base))
            return invalid();
        *sg = n;
        if (name == N(SS))
            s->cpl = (uint8_t)((n.attrib >> 5) & 3u);   /* the CPL is SS.DPL */
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    bool canon;
    uint64_t *msr = msr_field(vp, name, &canon);
    if (msr) {
        if ((canon && !canonical(v)) || (name == N(SYSENTER_CS) && v >> 32))
            return invalid();
        *msr = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    switch (name) {
    case N(RSP): vp->base.gpr[SK_VP_RSP] = v; return SIDECAR_HV_STATUS_SUCCESS;
    case N(RIP): vp->base.rip = v; return SIDECAR_HV_STATUS_SUCCESS;
    case N(RFLAGS):
        if (v & SK_RFLAGS_RESERVED)
            return invalid();
        vp->base.rflags = v | SK_RFLAGS_FIXED1;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR0): {
        uint64_t old = s->cr0;
        s->cr0 = v;
        if (sk_svm_check_state(vp)) {
            s->cr0 = old;
            return invalid();
        }
        svm_sync_lma(vp);
        c->tlb_control = SK_SVM_TLB_FLUSH_ALL;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(CR2): vp->base.cr2 = v; return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR3):
        if (v >> 52)
            return invalid();
        s->cr3 = v;
        c->tlb_control = SK_SVM_TLB_FLUSH_ALL;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(CR4): {
        uint64_t old = s->cr4;
        s->cr4 = v;
        if (sk_svm_check_state(vp)) {
            s->cr4 = old;
            return invalid();
        }
        c->tlb_control = SK_SVM_TLB_FLUSH_ALL;
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(CR8):
        if (v > 15)
            return invalid();
        c->int_ctl = (c->int_ctl & ~0xfull) | v;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(EFER): {
        uint64_t old = vp->efer;
        vp->efer = v;
        if (sk_svm_check_state(vp)) {
            vp->efer = old;
            return invalid();
        }
        svm_sync_lma(vp);
        c->tlb_control = SK_SVM_TLB_FLUSH_ALL;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(PAT):
        if (!pat_valid(v))
            return invalid();
        s->g_pat = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(TSC):
        c->tsc_offset = v - tsc_now(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR0): case N(DR1): case N(DR2): case N(DR3):
        vp->dr[name - N(DR0)] = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR6):
        if (v >> 32)
            return invalid();
        s->dr6 = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DR7):
        if (v >> 32)
            return invalid();
        s->dr7 = v;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(GDTR): case N(IDTR): {
        struct sidecar_hv_x64_table_register r;
        svm_copy(&r, value, sizeof(r));
        if (!canonical(r.base))
            return invalid();
        struct sk_vmcb_seg *t = name == N(GDTR) ? &s->gdtr : &s->idtr;
        t->base = r.base;
        t->limit = r.limit;
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(PENDING_EVENT0): {
        /* HvX64PendingExceptionEvent: only exceptions (type 0) here. */
        if (!(v & 1)) {
            if (value->high || v)
                return invalid();
            vp->pending_interruption = 0;
            vp->pending_has_parameter = false;
            svm_refresh_view(vp);
            return SIDECAR_HV_STATUS_SUCCESS;
        }
        if (v & 0xfeull || v & 0xfe00ull)
            return invalid();   /* a type other than exception, or reserved bits */
        uint64_t pi = SK_SVM_PI_PENDING | ((uint64_t)SK_SVM_PI_TYPE_EXCEPTION << SK_SVM_PI_TYPE_SHIFT) |
                      (v & (1ull << 8) ? SK_SVM_PI_ERROR_CODE : 0) | (v & 0xffffffffffff0000ull);
        if (!pending_valid(pi))
            return invalid();
        vp->pending_interruption = pi;
        vp->pending_parameter = value->high;
        vp->pending_has_parameter = true;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case N(PENDING_INTERRUPTION):
        if (!pending_valid(v))
            return invalid();
        vp->pending_has_parameter = false;
        vp->pending_interruption = v & SK_SVM_PI_PENDING ? v : 0;
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(INTERRUPT_STATE):
        if (v & ~(SK_SVM_IS_SHADOW | SK_SVM_IS_NMI_MASKED))
            return invalid();
        c->int_state = v & SK_SVM_IS_SHADOW ? SK_SVM_INT_SHADOW : 0;
        vp->nmi_masked = v & SK_SVM_IS_NMI_MASKED;
        if (vp->nmi_masked)
            c->intercept_misc1 |= SK_SVM_I1_IRET;   /* the handler's IRET unmasks */
        svm_refresh_view(vp);
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(DELIVERABILITY_NOTIFICATIONS):
        /* NMI deliverability (bit 0) is not notified by this backend:
         * refused rather than accepted and never answered. */
        if (v & ~SK_SVM_DN_KNOWN || v & SK_SVM_DN_NMI)
            return invalid();
        vp->deliverability = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(INTERNAL_ACTIVITY_STATE):
        if (v & ~SK_SVM_ACTIVITY_HALT_SUSPEND)
            return invalid();    /* startup suspend (wait for SIPI) is not modelled */
        vp->activity = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case N(XFEM): {
        uint64_t supported = 0;
        if (!vp->ops || !vp->ops->xcr0_get || !vp->ops->xcr0_set)
            return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
        vp->ops->xcr0_get(vp->ops_ctx, &supported);
        if (!supported)
            return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
        if (!sk_svm_xcr0_valid(v, supported))
            return invalid();
        vp->ops->xcr0_set(vp->ops_ctx, v);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    case SK_SVM_REG_MSR_RANGE(0): case SK_SVM_REG_MSR_RANGE(1):
    case SK_SVM_REG_MSR_RANGE(2): case SK_SVM_REG_MSR_RANGE(3):
        if ((v >> 32) > 0x100000000ull - (uint32_t)v)
            return invalid();       /* the range would pass the last MSR number */
        vp->msr_ranges[name - SK_SVM_REG_MSR_RANGE(0)] = v;
        return SIDECAR_HV_STATUS_SUCCESS;
    case SK_SVM_REG_INTERCEPT_CONTROL:
        if (v & ~SK_SVM_INTERCEPT_KNOWN)
            return invalid();
        vp->intercept_control = v;
        c->intercept_exceptions = ALWAYS_EXCEPTIONS | (uint32_t)(v >> 32);
        return SIDECAR_HV_STATUS_SUCCESS;
    default:
        break;
    }
    return sk_vp_set_register(&vp->base, name, value);
}

void svm_sync_lma(struct sk_svm_vp *vp)
{
    struct sk_vmcb_save *s = &vp->vmcb->save;
    if ((vp->efer & SK_EFER_LME) && (s->cr0 & SK_CR0_PG))
        vp->efer |= SK_EFER_LMA;
    else
        vp->efer &= ~SK_EFER_LMA;
    s->efer = vp->efer | SK_EFER_SVME;
}

bool sk_svm_xcr0_valid(uint64_t v, uint64_t supported)
{
    const uint64_t x87 = 1, sse = 2, avx = 4, avx512 = 0xe0, amx = 0x60000ull;
    if (!(v & x87) || (v & ~supported))
        return false;
    if ((v & avx) && !(v & sse))
        return false;
    if ((v & avx512) && ((v & avx512) != avx512 || !(v & avx)))
        return false;
    if ((v & amx) && (v & amx) != amx)
        return false;
    return true;
}
