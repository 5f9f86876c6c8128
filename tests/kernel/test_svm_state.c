/* SPDX-License-Identifier: MIT */
/* Unit tests of the SVM backend's VP state (kernel/core/svm/state.c): the
 * control area, the x86 reset state, GET/SET by TLFS name, segment
 * attribute conversion and every refusal (sidecar/svm.h). */
#include "test_svm_fake.h"

TestSuite(svm_state, .init = fake_setup, .fini = fake_teardown);

/* ---- the control area ---- */

Test(svm_state, control_area_intercepts_and_maps)
{
    const struct sk_vmcb_control *c = &vmcb->control;
    uint32_t m1 = SK_SVM_I1_INTR | SK_SVM_I1_NMI | SK_SVM_I1_SMI | SK_SVM_I1_INIT | SK_SVM_I1_RDPMC |
                  SK_SVM_I1_CPUID | SK_SVM_I1_INVD | SK_SVM_I1_HLT | SK_SVM_I1_INVLPGA | SK_SVM_I1_IOIO |
                  SK_SVM_I1_MSR | SK_SVM_I1_FERR_FREEZE | SK_SVM_I1_SHUTDOWN;
    uint32_t m2 = SK_SVM_I2_VMRUN | SK_SVM_I2_VMMCALL | SK_SVM_I2_VMLOAD | SK_SVM_I2_VMSAVE |
                  SK_SVM_I2_STGI | SK_SVM_I2_CLGI | SK_SVM_I2_SKINIT | SK_SVM_I2_RDTSCP | SK_SVM_I2_MONITOR |
                  SK_SVM_I2_MWAIT | SK_SVM_I2_MWAIT_C | SK_SVM_I2_RDPRU;
    cr_assert_eq(c->intercept_misc1, m1);
    cr_assert_eq(c->intercept_misc2, m2);
    cr_assert(c->intercept_misc2 & SK_SVM_I2_VMRUN, "VMRUN refuses a VMCB without the VMRUN intercept");
    cr_assert_eq(c->intercept_cr, 0);
    cr_assert_eq(c->intercept_dr, 0x000f000f, "DR0-3 reads and writes");
    cr_assert_eq(c->intercept_exceptions, 1u << 18, "#MC only");
    cr_assert_eq(c->intercept_misc3, 0);
    cr_assert_eq(c->iopm_base_pa, 0x7000000);
    cr_assert_eq(c->msrpm_base_pa, 0x7003000);
    cr_assert_eq(c->n_cr3, 0x7100000);
    cr_assert_eq(c->np_control & 1, 1, "nested paging");
    cr_assert_eq(c->asid, 5);
    cr_assert_eq(c->tlb_control, SK_SVM_TLB_FLUSH_ALL);
    cr_assert_eq(c->int_ctl, SK_SVM_V_INTR_MASKING);
    cr_assert_eq(c->int_state, 0);
    cr_assert_eq(c->event_inj, 0);
    cr_assert_eq(c->tsc_offset, 0);
    cr_assert_eq(c->pause_filter_count, 0);
    cr_assert_eq(c->exit_code, 0, "the 0xcc fill is gone from the control area");
    cr_assert_eq(c->lbr_control, 0);
    cr_assert_eq(c->clean, 0, "no VMCB state may be assumed cached");
}

Test(svm_state, asid_zero_becomes_one)
{
    struct sk_svm_config c = fake_config();
    c.asid = 0;
    sk_svm_init(&vp, 0, &c);
    cr_assert_eq(vmcb->control.asid, 1, "ASID 0 is the host's: VMRUN refuses it");
}

/* ---- the reset state ---- */

static void assert_seg(const struct sk_vmcb_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attrib)
{
    cr_assert_eq(s->selector, sel);
    cr_assert_eq(s->base, base);
    cr_assert_eq(s->limit, limit);
    cr_assert_eq(s->attrib, attrib);
}

static void assert_reset_state(void)
{
    const struct sk_vmcb_save *s = &vmcb->save;
    assert_seg(&s->cs, 0xf000, 0xffff0000, 0xffff, 0x9b);
    assert_seg(&s->ds, 0, 0, 0xffff, 0x93);
    assert_seg(&s->es, 0, 0, 0xffff, 0x93);
    assert_seg(&s->ss, 0, 0, 0xffff, 0x93);
    assert_seg(&s->fs, 0, 0, 0xffff, 0x93);
    assert_seg(&s->gs, 0, 0, 0xffff, 0x93);
    assert_seg(&s->gdtr, 0, 0, 0xffff, 0);
    assert_seg(&s->idtr, 0, 0, 0xffff, 0);
    assert_seg(&s->ldtr, 0, 0, 0xffff, 0x82);
    assert_seg(&s->tr, 0, 0, 0xffff, 0x8b);
    cr_assert_eq(s->cpl, 0);
    cr_assert_eq(s->cr0, 0x60000010);
    cr_assert_eq(s->cr3, 0);
    cr_assert_eq(s->cr4, 0);
    cr_assert_eq(s->efer, EFER_SVME, "SVME set in the VMCB, nothing else");
    cr_assert_eq(s->dr6, 0xffff0ff0);
    cr_assert_eq(s->dr7, 0x400);
    cr_assert_eq(s->g_pat, 0x0007040600070406ull);
    cr_assert_eq(s->star | s->lstar | s->cstar | s->sfmask | s->kernel_gs_base, 0);
    cr_assert_eq(s->sysenter_cs | s->sysenter_esp | s->sysenter_eip | s->dbgctl, 0);
    cr_assert_eq(get(N(RIP)), 0xfff0);
    cr_assert_eq(get(N(RFLAGS)), 2);
    cr_assert_eq(get(N(EFER)), 0, "SVME hidden from the guest");
    cr_assert_eq(get(N(CR0)), 0x60000010);
    cr_assert_eq(get(N(RDX)), CPUID1_EAX);
    cr_assert_eq(get(N(RAX)) | get(N(RCX)) | get(N(RBX)) | get(N(RSP)) | get(N(R15)), 0);
    cr_assert_eq(get(N(CR2)), 0);
    cr_assert_eq(get(N(DR0)) | get(N(DR1)) | get(N(DR2)) | get(N(DR3)), 0);
    cr_assert_eq(get(N(DR6)), 0xffff0ff0);
    cr_assert_eq(get(N(DR7)), 0x400);
    cr_assert_eq(get(N(PAT)), 0x0007040600070406ull);
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
    cr_assert_eq(get(N(INTERRUPT_STATE)), 0);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), 0);
    cr_assert_eq(get(N(DELIVERABILITY_NOTIFICATIONS)), 0);
    cr_assert_eq(vp.base.fx.fcw, 0x40);
    cr_assert_eq(vp.base.fx.mxcsr, 0x1f80);
    cr_assert_eq(vp.base.fx.xmm[0].low, 0);
    cr_assert_null(sk_svm_check_state(&vp), "the reset state passes VMRUN's checks");
    struct sidecar_hv_x64_segment_register cs = get_seg(N(CS));
    cr_assert_eq(cs.base, 0xffff0000);
    cr_assert_eq(cs.limit, 0xffff);
    cr_assert_eq(cs.selector, 0xf000);
    cr_assert_eq(cs.attributes, 0x9b);
    cr_assert_eq(sk_svm_execution_state(&vp), 0, "real mode, CPL 0, nothing pending");
}

Test(svm_state, init_is_the_x86_reset_state)
{
    assert_reset_state();
    cr_assert_eq(vp.base.vp_index, VP_INDEX);
    cr_assert_eq(get(N(VP_INDEX)), VP_INDEX);
}

Test(svm_state, reset_after_changes_restores_everything_but_the_configuration)
{
    long_mode();
    set_ok(N(RAX), 7);
    set_ok(N(RIP), 0x1234);
    set_ok(N(DR2), 9);
    set_ok(N(PAT), 0x0606060606060606ull);
    set_ok(N(PENDING_INTERRUPTION), SK_SVM_PI_PENDING | (0x30ull << 16));
    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_NMI_MASKED | SK_SVM_IS_SHADOW);
    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, (1ull << (32 + 14)));
    set_ok(N(CR8), 5);
    vmcb->control.intercept_misc1 |= SK_SVM_I1_IRET | SK_SVM_I1_VINTR;
    vp.base.fx.xmm[3].low = 3;
    sk_svm_reset(&vp);
    assert_reset_state();
    cr_assert_eq(vmcb->control.iopm_base_pa, 0x7000000);
    cr_assert_eq(vmcb->control.asid, 5);
    cr_assert_eq(vmcb->control.intercept_misc1 & (SK_SVM_I1_IRET | SK_SVM_I1_VINTR), 0);
    cr_assert_eq(vmcb->control.int_ctl, SK_SVM_V_INTR_MASKING, "V_TPR back to 0");
    cr_assert_eq(vmcb->control.intercept_exceptions, (1u << 18) | (1u << 14),
                 "the VMM's exception intercepts are configuration and stay");
    cr_assert_eq(vp.base.fx.xmm[3].low, 0);
    cr_assert_eq(vp.base.vp_index, VP_INDEX);
}

/* ---- segment attributes ---- */

Test(svm_state, attribute_conversion_both_ways)
{
    cr_assert_eq(sk_svm_attrib_to_hv(0x09b), 0x009b);
    cr_assert_eq(sk_svm_attrib_to_hv(0xa9b), 0xa09b);
    cr_assert_eq(sk_svm_attrib_to_hv(0xc93), 0xc093);
    cr_assert_eq(sk_svm_attrib_to_hv(0xfff), 0xf0ff);
    cr_assert_eq(sk_svm_attrib_from_hv(0xa09b), 0xa9b);
    cr_assert_eq(sk_svm_attrib_from_hv(0xf0ff), 0xfff);
    for (uint32_t a = 0; a < 0x1000; a++)
        cr_assert_eq(sk_svm_attrib_from_hv(sk_svm_attrib_to_hv((uint16_t)a)), a);
    for (uint32_t h = 0; h < 0x10000; h++)
        if (!(h & 0x0f00))
            cr_assert_eq(sk_svm_attrib_to_hv(sk_svm_attrib_from_hv((uint16_t)h)), h);
}

Test(svm_state, every_segment_set_and_get)
{
    static const uint32_t names[] = { N(ES), N(CS), N(SS), N(DS), N(FS), N(GS), N(LDTR), N(TR) };
    const struct sk_vmcb_seg *fields[] = { &vmcb->save.es, &vmcb->save.cs, &vmcb->save.ss, &vmcb->save.ds,
                                           &vmcb->save.fs, &vmcb->save.gs, &vmcb->save.ldtr, &vmcb->save.tr };
    for (unsigned i = 0; i < 8; i++) {
        uint16_t attr = i == 6 ? 0x0082 : i == 7 ? 0x008b : 0xc093;
        cr_assert_eq(set_seg(names[i], 0x1000 * (i + 1), 0xfffff, (uint16_t)(0x10 + 8 * i), attr),
                     SIDECAR_HV_STATUS_SUCCESS, "segment %u", i);
        cr_assert_eq(fields[i]->base, 0x1000 * (i + 1));
        cr_assert_eq(fields[i]->limit, 0xfffff);
        cr_assert_eq(fields[i]->selector, 0x10 + 8 * i);
        cr_assert_eq(fields[i]->attrib, sk_svm_attrib_from_hv(attr));
        struct sidecar_hv_x64_segment_register r = get_seg(names[i]);
        cr_assert_eq(r.base, 0x1000 * (i + 1));
        cr_assert_eq(r.attributes, attr);
        cr_assert_eq(r.selector, 0x10 + 8 * i);
    }
    cr_assert_null(sk_svm_check_state(&vp));
}

Test(svm_state, ss_dpl_is_the_cpl_and_views_follow)
{
    cr_assert_eq(set_seg(N(SS), 0, 0xffffffff, 0x23, 0xc0f3), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(vmcb->save.cpl, 3);
    cr_assert_eq(sk_svm_execution_state(&vp) & 3, 3);
    cr_assert_eq(set_seg(N(CS), 0x100, 0xffff, 0x1b, 0x00fb), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(vp.view.cs.base, 0x100, "the message view follows CS");
    cr_assert_eq(vp.view.ss.selector, 0x23);
}

Test(svm_state, segment_refusals_leave_state_unchanged)
{
    struct sk_vmcb_save before = vmcb->save;
    /* TLFS attribute bits 8-11 are reserved. */
    cr_assert_eq(set_seg(N(DS), 0, 0xffff, 0, 0x0193), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    /* Non-canonical FS/GS/TR/LDTR bases. */
    cr_assert_eq(set_seg(N(FS), 0x0000800000000000ull, 0, 0, 0x93), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set_seg(N(GS), 0x8000000000000000ull, 0, 0, 0x93), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set_seg(N(TR), 0x00ff000000000000ull, 0, 0, 0x8b), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set_seg(N(LDTR), 0xfff0000000000000ull, 0, 0, 0x82), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(memcmp(&before, &vmcb->save, sizeof(before)), 0);
    /* Canonical upper-half bases are fine. */
    cr_assert_eq(set_seg(N(GS), 0xffff800000000000ull, 0, 0, 0x93), SIDECAR_HV_STATUS_SUCCESS);
    /* CS with L and D both set is refused in long mode only. */
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 8, 0xe09b), SIDECAR_HV_STATUS_SUCCESS, "legacy mode: allowed");
    cr_assert_eq(set_seg(N(CS), 0, 0xffff, 0xf000, 0x9b), SIDECAR_HV_STATUS_SUCCESS);
    long_mode();
    before = vmcb->save;
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 8, 0xe09b), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(memcmp(&before, &vmcb->save, sizeof(before)), 0);
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 8, 0xc09b), SIDECAR_HV_STATUS_SUCCESS, "compatibility mode");
    cr_assert_null(sk_svm_check_state(&vp));
}

/* ---- control registers, EFER ---- */

Test(svm_state, cr0_refusals)
{
    uint64_t before = vmcb->save.cr0;
    cr_assert_eq(set(N(CR0), 0x80000000), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "PG without PE");
    cr_assert_eq(set(N(CR0), 0x20000001), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "NW without CD");
    cr_assert_eq(set(N(CR0), 0x100000011ull), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "bit 32");
    cr_assert_eq(vmcb->save.cr0, before);
    cr_assert_eq(get(N(CR0)), before);
    set_ok(N(CR0), 0x60000011);
    set_ok(N(CR0), 0x80000011);
    cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 2), 1u << 2, "CR0.PE in the execution state");
    set_ok(N(CR0), 0x00040011);
    cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 3), 1u << 3, "CR0.AM in the execution state");
    cr_assert_eq(vmcb->control.tlb_control, SK_SVM_TLB_FLUSH_ALL);
}

Test(svm_state, cr4_refusals)
{
    cr_assert_eq(set(N(CR4), 1ull << 13), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "VMXE");
    cr_assert_eq(set(N(CR4), 1ull << 14), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "SMXE");
    cr_assert_eq(set(N(CR4), 1ull << 15), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "reserved 15");
    cr_assert_eq(set(N(CR4), 1ull << 19), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set(N(CR4), 1ull << 23), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "CET");
    cr_assert_eq(set(N(CR4), 1ull << 32), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(vmcb->save.cr4, 0);
    set_ok(N(CR4), 0x6f8 | (1ull << 16) | (1ull << 18) | (1ull << 20) | (1ull << 21));
    cr_assert_eq(get(N(CR4)), 0x6f8 | (1ull << 16) | (1ull << 18) | (1ull << 20) | (1ull << 21));
    /* Clearing PAE in long mode is refused. */
    sk_svm_reset(&vp);
    long_mode();
    cr_assert_eq(set(N(CR4), 0), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "long mode without PAE");
    cr_assert_eq(get(N(CR4)), 0x20);
}

Test(svm_state, cr3_cr2_cr8)
{
    set_ok(N(CR3), 0x000ffffffffff000ull);
    cr_assert_eq(get(N(CR3)), 0x000ffffffffff000ull);
    cr_assert_eq(set(N(CR3), 1ull << 52), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(CR3)), 0x000ffffffffff000ull);
    set_ok(N(CR2), 0xdeadbeef);
    cr_assert_eq(get(N(CR2)), 0xdeadbeef);
    cr_assert_eq(vp.base.cr2, 0xdeadbeef);
    set_ok(N(CR8), 15);
    cr_assert_eq(get(N(CR8)), 15);
    cr_assert_eq(vmcb->control.int_ctl & 0xff, 15, "CR8 is V_TPR");
    cr_assert_eq(vp.view.cr8, 15);
    cr_assert_eq(set(N(CR8), 16), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(CR8)), 15);
    cr_assert(vmcb->control.int_ctl & SK_SVM_V_INTR_MASKING, "CR8 writes keep V_INTR_MASKING");
}

Test(svm_state, efer_refusals_and_lma)
{
    cr_assert_eq(set(N(EFER), EFER_SVME), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "SVME is not the guest's");
    cr_assert_eq(set(N(EFER), 1ull << 9), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "reserved 9");
    cr_assert_eq(set(N(EFER), 1ull << 16), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set(N(EFER), 1ull << 63), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(EFER)), 0);
    cr_assert_eq(vmcb->save.efer, EFER_SVME);
    set_ok(N(EFER), 0x901);                  /* SCE LME NXE */
    cr_assert_eq(vmcb->save.efer, 0x901 | EFER_SVME);
    cr_assert_eq(get(N(EFER)), 0x901, "no LMA while paging is off");
    /* LME + PG without PAE: refused, whichever comes last. */
    cr_assert_eq(set(N(CR0), 0x80000011), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "PG with LME, no PAE");
    set_ok(N(CR4), 0x20);
    set_ok(N(CR0), 0x80000011);
    cr_assert_eq(get(N(EFER)), 0xd01, "LMA follows LME and PG");
    cr_assert_eq(vmcb->save.efer, 0xd01 | EFER_SVME);
    cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 4), 1u << 4, "EFER.LMA in the execution state");
    set_ok(N(CR0), 0x11);
    cr_assert_eq(get(N(EFER)), 0x901, "LMA gone with PG");
    cr_assert_eq(vmcb->save.efer, 0x901 | EFER_SVME);
    /* EFER with LME while PG and no PAE */
    set_ok(N(EFER), 0);
    set_ok(N(CR4), 0);
    set_ok(N(CR0), 0x80000011);
    cr_assert_eq(set(N(EFER), 0x100), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "LME+PG without PAE");
    cr_assert_eq(get(N(EFER)), 0);
    cr_assert_eq(vmcb->save.efer, EFER_SVME);
}

Test(svm_state, long_mode_with_cs_l_and_d_refused_through_efer_and_cr0)
{
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 8, 0xe09b), SIDECAR_HV_STATUS_SUCCESS);
    set_ok(N(CR4), 0x20);
    set_ok(N(EFER), 0x100);
    cr_assert_eq(set(N(CR0), 0x80000011), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(CR0)), 0x60000010);
    cr_assert_eq(get(N(EFER)), 0x100);
    set_ok(N(EFER), 0);
    set_ok(N(CR0), 0x80000011);
    cr_assert_eq(set(N(EFER), 0x100), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(EFER)), 0);
}

/* ---- debug registers, PAT, MSR-like registers, TSC ---- */

Test(svm_state, debug_registers)
{
    for (unsigned i = 0; i < 4; i++) {
        set_ok(N(DR0) + i, 0xffffffff00001000ull + i);
        cr_assert_eq(get(N(DR0) + i), 0xffffffff00001000ull + i);
        cr_assert_eq(vp.dr[i], 0xffffffff00001000ull + i);
    }
    set_ok(N(DR6), 0xffff4ff0);
    cr_assert_eq(vmcb->save.dr6, 0xffff4ff0);
    cr_assert_eq(set(N(DR6), 1ull << 32), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(DR6)), 0xffff4ff0);
    set_ok(N(DR7), 0x403);
    cr_assert_eq(vmcb->save.dr7, 0x403);
    cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 5), 1u << 5, "debug active");
    cr_assert_eq(set(N(DR7), 0x8000000000000400ull), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(DR7)), 0x403);
}

Test(svm_state, pat_types)
{
    static const uint8_t good[] = { 0, 1, 4, 5, 6, 7 };
    static const uint8_t bad[] = { 2, 3, 8, 0x10, 0x80, 0xff };
    for (unsigned i = 0; i < sizeof(good); i++)
        for (unsigned byte = 0; byte < 8; byte++) {
            uint64_t v = 0x0606060606060606ull & ~(0xffull << (8 * byte));
            v |= (uint64_t)good[i] << (8 * byte);
            set_ok(N(PAT), v);
            cr_assert_eq(get(N(PAT)), v);
        }
    set_ok(N(PAT), 0x0007040600070406ull);
    for (unsigned i = 0; i < sizeof(bad); i++)
        for (unsigned byte = 0; byte < 8; byte++) {
            uint64_t v = 0x0606060606060606ull & ~(0xffull << (8 * byte));
            v |= (uint64_t)bad[i] << (8 * byte);
            cr_assert_eq(set(N(PAT), v), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "type %u byte %u", bad[i], byte);
            cr_assert_eq(get(N(PAT)), 0x0007040600070406ull);
        }
}

Test(svm_state, msr_registers_and_canonical_bases)
{
    struct { uint32_t name; uint64_t *field; bool canonical; } m[] = {
        { N(KERNEL_GS_BASE), &vmcb->save.kernel_gs_base, true },
        { N(LSTAR), &vmcb->save.lstar, true },
        { N(CSTAR), &vmcb->save.cstar, true },
        { N(SYSENTER_EIP), &vmcb->save.sysenter_eip, true },
        { N(SYSENTER_ESP), &vmcb->save.sysenter_esp, true },
        { N(STAR), &vmcb->save.star, false },
        { N(SFMASK), &vmcb->save.sfmask, false },
    };
    for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        set_ok(m[i].name, 0xffff800000001000ull);
        cr_assert_eq(*m[i].field, 0xffff800000001000ull);
        cr_assert_eq(get(m[i].name), 0xffff800000001000ull);
        uint16_t st = set(m[i].name, 0x0000800000000000ull);
        if (m[i].canonical) {
            cr_assert_eq(st, SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "name 0x%x", m[i].name);
            cr_assert_eq(*m[i].field, 0xffff800000001000ull);
        } else {
            cr_assert_eq(st, SIDECAR_HV_STATUS_SUCCESS);
        }
    }
    set_ok(N(SYSENTER_CS), 0x10);
    cr_assert_eq(vmcb->save.sysenter_cs, 0x10);
    cr_assert_eq(set(N(SYSENTER_CS), 1ull << 32), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(SYSENTER_CS)), 0x10);
}

Test(svm_state, gdtr_idtr)
{
    struct sidecar_hv_x64_table_register t = { {0, 0, 0}, 0x47, 0xffff800000002000ull };
    struct sidecar_hv_register_value v;
    memcpy(&v, &t, sizeof(v));
    cr_assert_eq(sk_svm_set_register(&vp, N(GDTR), &v), SIDECAR_HV_STATUS_SUCCESS);
    t.limit = 0xfff;
    t.base = 0x3000;
    memcpy(&v, &t, sizeof(v));
    cr_assert_eq(sk_svm_set_register(&vp, N(IDTR), &v), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(vmcb->save.gdtr.base, 0xffff800000002000ull);
    cr_assert_eq(vmcb->save.gdtr.limit, 0x47);
    cr_assert_eq(vmcb->save.idtr.base, 0x3000);
    cr_assert_eq(vmcb->save.idtr.limit, 0xfff);
    cr_assert_eq(sk_svm_get_register(&vp, N(GDTR), &v), SIDECAR_HV_STATUS_SUCCESS);
    memcpy(&t, &v, sizeof(t));
    cr_assert_eq(t.limit, 0x47);
    cr_assert_eq(t.base, 0xffff800000002000ull);
    cr_assert_eq(t.pad[0] | t.pad[1] | t.pad[2], 0);
    t.base = 0x0001000000000000ull;
    memcpy(&v, &t, sizeof(v));
    cr_assert_eq(sk_svm_set_register(&vp, N(IDTR), &v), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(vmcb->save.idtr.base, 0x3000);
}

Test(svm_state, tsc_is_an_offset_from_the_host_tsc)
{
    fk.tsc = 1000;
    set_ok(N(TSC), 5000);
    cr_assert_eq(vmcb->control.tsc_offset, 4000);
    fk.tsc = 1500;
    cr_assert_eq(get(N(TSC)), 5500);
    fk.tsc = 9000;
    set_ok(N(TSC), 10);
    cr_assert_eq(get(N(TSC)), 10, "a TSC below the host's wraps the offset");
}

Test(svm_state, rflags_rip_rsp_gprs_fx)
{
    set_ok(N(RFLAGS), 0x246);
    cr_assert_eq(get(N(RFLAGS)), 0x246);
    set_ok(N(RFLAGS), 0);
    cr_assert_eq(get(N(RFLAGS)), 2, "bit 1 is forced");
    static const uint64_t bad[] = { 1ull << 3, 1ull << 5, 1ull << 15, 1ull << 22, 1ull << 63 };
    for (unsigned i = 0; i < 5; i++)
        cr_assert_eq(set(N(RFLAGS), 2 | bad[i]), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(RFLAGS)), 2);
    set_ok(N(RIP), 0xffffffff80001000ull);
    cr_assert_eq(get(N(RIP)), 0xffffffff80001000ull);
    set_ok(N(RSP), 0x7ff0);
    cr_assert_eq(vp.base.gpr[SK_VP_RSP], 0x7ff0);
    for (unsigned i = 0; i < 16; i++) {
        if (i == SK_VP_RSP)
            continue;
        set_ok(N(RAX) + i, 0x100 + i);
        cr_assert_eq(vp.base.gpr[i], 0x100 + i);
        cr_assert_eq(get(N(RAX) + i), 0x100 + i);
    }
    struct sidecar_hv_register_value v = { 0x11, 0x22 };
    cr_assert_eq(sk_svm_set_register(&vp, N(XMM7), &v), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(vp.base.fx.xmm[7].low, 0x11);
    cr_assert_eq(vp.base.fx.xmm[7].high, 0x22);
}

/* ---- interruption registers ---- */

static uint64_t pi(unsigned type, unsigned vector, bool err, uint32_t code, unsigned len)
{
    return SK_SVM_PI_PENDING | ((uint64_t)type << SK_SVM_PI_TYPE_SHIFT) | (err ? SK_SVM_PI_ERROR_CODE : 0) |
           ((uint64_t)len << SK_SVM_PI_LENGTH_SHIFT) | ((uint64_t)vector << SK_SVM_PI_VECTOR_SHIFT) |
           ((uint64_t)code << 32);
}

Test(svm_state, pending_interruption_validity_per_type)
{
    struct { uint64_t v; bool ok; const char *what; } c[] = {
        { pi(0, 0x20, false, 0, 0), true, "interrupt 0x20" },
        { pi(0, 0xff, false, 0, 0), true, "interrupt 0xff" },
        { pi(0, 0x1f, false, 0, 0), false, "interrupt below 32" },
        { pi(0, 0x40, true, 5, 0), false, "interrupt with an error code" },
        { pi(2, 2, false, 0, 0), true, "NMI" },
        { pi(2, 3, false, 0, 0), false, "NMI not vector 2" },
        { pi(2, 2, true, 0, 0), false, "NMI with an error code" },
        { pi(3, 13, true, 0x18, 0), true, "#GP with its error code" },
        { pi(3, 14, true, 2, 0), true, "#PF" },
        { pi(3, 6, false, 0, 0), true, "#UD" },
        { pi(3, 13, false, 0, 0), true, "#GP without error code (the VMM's choice)" },
        { pi(3, 6, true, 0, 0), false, "#UD with an error code" },
        { pi(3, 2, false, 0, 0), false, "exception vector 2" },
        { pi(3, 32, false, 0, 0), false, "exception vector 32" },
        { pi(4, 0x80, false, 0, 2), true, "INT 0x80" },
        { pi(4, 0x80, false, 0, 0), false, "software interrupt without a length" },
        { pi(4, 0x80, true, 0, 2), false, "software interrupt with an error code" },
        { pi(5, 1, false, 0, 1), true, "INT1" },
        { pi(5, 3, false, 0, 1), false, "privileged software exception not vector 1" },
        { pi(6, 3, false, 0, 1), true, "INT3" },
        { pi(6, 4, false, 0, 1), true, "INTO" },
        { pi(6, 5, false, 0, 1), false, "software exception vector 5" },
        { pi(6, 3, false, 0, 0), false, "INT3 without a length" },
        { pi(1, 0x20, false, 0, 0), false, "type 1 (reserved)" },
        { pi(7, 0x20, false, 0, 0), false, "type 7 (reserved)" },
        { pi(0, 0x100, false, 0, 0), false, "vector 256" },
        { pi(0, 0x20, false, 0, 0) | (1ull << 10), false, "reserved bit 10" },
        { pi(0, 0x20, false, 0, 0) | (1ull << 15), false, "reserved bit 15" },
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        sk_svm_reset(&vp);
        uint16_t st = set(N(PENDING_INTERRUPTION), c[i].v);
        cr_assert_eq(st, c[i].ok ? SIDECAR_HV_STATUS_SUCCESS : SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE,
                     "%s", c[i].what);
        cr_assert_eq(get(N(PENDING_INTERRUPTION)), c[i].ok ? c[i].v : 0, "%s", c[i].what);
        cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 6), c[i].ok ? 1u << 6 : 0, "%s", c[i].what);
    }
    /* Not pending: the rest is ignored and reads back as 0. */
    set_ok(N(PENDING_INTERRUPTION), pi(7, 0x1234, true, 9, 0) & ~SK_SVM_PI_PENDING);
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
}

Test(svm_state, interrupt_state_deliverability_activity_intercept_control)
{
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_SHADOW);
    cr_assert_eq(vmcb->control.int_state, SK_SVM_INT_SHADOW);
    cr_assert_eq(sk_svm_execution_state(&vp) & (1u << 12), 1u << 12);
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_NMI_MASKED);
    cr_assert_eq(vmcb->control.int_state, 0);
    cr_assert(vp.nmi_masked);
    cr_assert_eq(get(N(INTERRUPT_STATE)), SK_SVM_IS_NMI_MASKED);
    cr_assert_eq(set(N(INTERRUPT_STATE), 4), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(INTERRUPT_STATE)), SK_SVM_IS_NMI_MASKED);

    /* Interrupt notification and priority; NMI notification (bit 0) is
     * refused: this backend does not notify it. */
    set_ok(N(DELIVERABILITY_NOTIFICATIONS), 0x3e);
    cr_assert_eq(get(N(DELIVERABILITY_NOTIFICATIONS)), 0x3e);
    cr_assert_eq(set(N(DELIVERABILITY_NOTIFICATIONS), 0x40), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set(N(DELIVERABILITY_NOTIFICATIONS), 0x3f), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(DELIVERABILITY_NOTIFICATIONS)), 0x3e);

    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);
    cr_assert_eq(set(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_STARTUP_SUSPEND),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "wait-for-SIPI is not modelled");
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);

    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, SK_SVM_INTERCEPT_HLT | (0x4041ull << 32));
    cr_assert_eq(vmcb->control.intercept_exceptions, (1u << 18) | 0x4041);
    cr_assert_eq(get(SK_SVM_REG_INTERCEPT_CONTROL), SK_SVM_INTERCEPT_HLT | (0x4041ull << 32));
    cr_assert_eq(set(SK_SVM_REG_INTERCEPT_CONTROL, 4), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(SK_SVM_REG_INTERCEPT_CONTROL), SK_SVM_INTERCEPT_HLT | (0x4041ull << 32));
}

Test(svm_state, unknown_and_read_only_names)
{
    static const uint32_t unknown[] = { N(APIC_BASE), N(TSC_AUX), 0x7f000002u, 0xffffffffu, 0x10005u };
    struct sidecar_hv_register_value v = { 1, 2 };
    struct sk_vmcb before = *vmcb;
    for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        cr_assert_eq(sk_svm_get_register(&vp, unknown[i], &v), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME,
                     "GET 0x%x", unknown[i]);
        cr_assert_eq(sk_svm_set_register(&vp, unknown[i], &v), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME,
                     "SET 0x%x", unknown[i]);
        cr_assert_eq(SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME, 0x87);
    }
    cr_assert_eq(sk_svm_set_register(&vp, N(VP_INDEX), &v), SIDECAR_HV_STATUS_ACCESS_DENIED);
    cr_assert_eq(memcmp(&before, vmcb, sizeof(before)), 0);
}

/* ---- through the command page ---- */

static struct sidecar_get_set_vp_registers_request *regs(void) { return (void *)cmd->request_data; }

static void reg(int i, uint32_t name, uint64_t lo, uint64_t hi)
{
    regs()->regs[i].name = name;
    regs()->regs[i].value.low = lo;
    regs()->regs[i].value.high = hi;
}

Test(svm_state, set_through_the_command_page_stops_at_the_first_refusal)
{
    regs()->count = 4;
    reg(0, N(RBX), 0xb0b, 0);
    reg(1, N(CR2), 0xc2, 0);
    reg(2, N(CR0), 0x80000000, 0);          /* PG without PE */
    reg(3, N(RCX), 0xc0c, 0);
    command(SIDECAR_COMMAND_SET_VP_REGISTERS);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(regs()->status, SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(cmd->cpu_context.gps[3], 0xb0b);
    cr_assert_eq(cmd->cpu_context.gps[4], 0xc2, "CR2 lives in cpu_context slot 4");
    cr_assert_eq(cmd->cpu_context.gps[1], 0, "after the refusal: untouched");
    cr_assert_eq(vmcb->save.cr0, 0x60000010);

    cmd->cpu_context.gps[2] = 0x77;          /* RDX, written by the host */
    regs()->count = 3;
    reg(0, N(RDX), 0, 0);
    reg(1, N(CS), 0, 0);
    reg(2, N(EFER), 0, 0);
    command(SIDECAR_COMMAND_GET_VP_REGISTERS);
    cr_assert_eq(regs()->status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(regs()->regs[0].value.low, 0x77, "GET reads cpu_context");
    cr_assert_eq(regs()->regs[1].value.high >> 32 & 0xffff, 0xf000);
    cr_assert_eq(regs()->regs[2].value.low, 0);
}

/* XCR0 (Xfem): the guest's own, 1 at reset; a value XSETBV would refuse is
 * refused and nothing changes; without XSAVE the register is unknown. */
Test(svm_state, xcr0)
{
    fk_xsave_supported = 0x7;
    fk_xcr0 = 0x7;
    sk_svm_reset(&vp);
    cr_assert_eq(get(N(XFEM)), 1, "reset sets XCR0 to x87 only");
    set_ok(N(XFEM), 0x7);
    cr_assert_eq(fk_xcr0, 0x7);
    const uint64_t bad[] = { 0, 0x2, 0x5, 0x8 | 0x7, 0xe7 };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(set(N(XFEM), bad[i]), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "XCR0 %llx",
                     (unsigned long long)bad[i]);
        cr_assert_eq(fk_xcr0, 0x7);
    }
    cr_assert(sk_svm_xcr0_valid(0xe7, 0xe7));
    cr_assert_not(sk_svm_xcr0_valid(0x67, 0xe7), "AVX-512 parts alone");
    cr_assert_not(sk_svm_xcr0_valid(0xe3, 0xe7), "AVX-512 without AVX");
    fk_xsave_supported = 0;
    cr_assert_eq(set(N(XFEM), 1), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
    struct sidecar_hv_register_value v;
    cr_assert_eq(sk_svm_get_register(&vp, N(XFEM), &v), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
    fk_xsave_supported = 0x7;
}
