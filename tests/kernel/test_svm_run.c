/* SPDX-License-Identifier: MIT */
/* Unit tests of the SVM backend's RUN_VP (kernel/core/svm/run.c) on a fake
 * arch half: every #VMEXIT kind turned into a message or into the
 * sidecar's own work, event injection, HLT, and the run loop through the
 * dispatch core (sidecar/svm.h). */
#include "test_svm_fake.h"

TestSuite(svm_run, .init = fake_setup, .fini = fake_teardown);

#define EV_VALID SK_SVM_EVENT_VALID
#define EV(type, vector) (EV_VALID | ((uint64_t)(type) << 8) | (vector))
#define UD EV(3, 6)
#define GP0 (EV(3, 13) | SK_SVM_EVENT_EV)

static uint8_t intercept(void) { return cmd->request_data[0]; }

/* Flat 32-bit protected mode, CPL 0, paging off: linear == GPA. */
static void flat32(uint64_t rip)
{
    set_ok(N(CR0), 0x11);
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 0x08, 0xc09b), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(set_seg(N(SS), 0, 0xffffffff, 0x10, 0xc093), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(set_seg(N(DS), 0, 0xffffffff, 0x10, 0xc093), SIDECAR_HV_STATUS_SUCCESS);
    set_ok(N(RIP), rip);
}

static void code(uint64_t gpa, const uint8_t *bytes, size_t n) { memcpy(ram + gpa, bytes, n); }

static void assert_failed_with(const char *text)
{
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_eq(intercept(), 0);
    cr_assert(strstr((const char *)cmd->error.buf, text), "error text \"%.*s\" lacks \"%s\"",
              (int)cmd->error.len, (const char *)cmd->error.buf, text);
}

/* ---- IO ---- */

Test(svm_run, out_at_the_reset_vector_is_an_io_intercept)
{
    /* The reset vector: CS base FFFF0000 + FFF0 = FFFFFFF0, in the alias of
     * the last 2 MiB of RAM. */
    const uint8_t out[] = { 0xe6, 0x80 };               /* out 0x80, al */
    memcpy(ram + ALIAS_RAM + 0x1ffff0, out, sizeof(out));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_IOIO, .info1 = (0x80u << 16) | SK_SVM_IO_SZ8, .info2 = 0xfff2, .rax = 0x55),
    };
    script(s, 1);
    cmd->cpu_context.gps[0] = 0x1234;
    cmd->cpu_context.gps[4] = 0xcafe;                   /* CR2 */
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(fk.rax[0], 0x1234, "RAX from cpu_context into the VMCB");
    cr_assert_eq(fk.cr2[0], 0xcafe, "CR2 from cpu_context into the VMCB");
    cr_assert_eq(fk.rip[0], 0xfff0);
    cr_assert_eq(fk.tlb[0], SK_SVM_TLB_FLUSH_ALL, "the first VMRUN flushes the guest TLB");
    cr_assert_eq(fk.event_inj[0], 0);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT);
    PAYLOAD(struct sidecar_hv_x64_io_port_intercept_message, io);
    cr_assert_eq(io.port_number, 0x80);
    cr_assert_eq(io.access_info, 1);
    cr_assert_eq(io.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(io.header.instruction_length_and_cr8, 2);
    cr_assert_eq(io.header.rip, 0xfff0, "RIP not advanced: the VMM emulates");
    cr_assert_eq(io.header.vp_index, VP_INDEX);
    cr_assert_eq(io.header.execution_state, 0, "real mode");
    cr_assert_eq(io.header.cs_segment.base, 0xffff0000);
    cr_assert_eq(io.header.cs_segment.selector, 0xf000);
    cr_assert_eq(io.header.cs_segment.attributes, 0x9b);
    cr_assert_eq(io.rax, 0x55);
    cr_assert_geq(io.instruction_byte_count, 2);
    cr_assert_eq(io.instruction_bytes[0], 0xe6);
    cr_assert_eq(io.instruction_bytes[1], 0x80);
    cr_assert_eq(cmd->cpu_context.gps[0], 0x55, "RAX back to cpu_context");
    cr_assert_eq(cmd->cpu_context.gps[4], 0xcafe);
    cr_assert_eq(fk.bad_reads, 0);
    cr_assert_geq(fk.last_read_gpa, 0xfffffff0ull);
    cr_assert_eq(vp.stats.intercepts, 1);
    cr_assert_eq(get(N(RIP)), 0xfff0);
}

Test(svm_run, rep_insw_and_32_bit_out)
{
    flat32(0x1000);
    const uint8_t insw[] = { 0xf3, 0x66, 0x6d };        /* rep insw */
    code(0x1000, insw, sizeof(insw));
    cmd->cpu_context.gps[1] = 8;                        /* RCX */
    cmd->cpu_context.gps[7] = 0x5000;                   /* RDI */
    const struct step s[] = {
        STEP(SK_SVM_EXIT_IOIO, .info1 = (0x1f0u << 16) | SK_SVM_IO_IN | SK_SVM_IO_STR | SK_SVM_IO_REP |
                                        SK_SVM_IO_SZ16, .info2 = 0x1003),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_io_port_intercept_message, io);
    cr_assert_eq(io.port_number, 0x1f0);
    cr_assert_eq(io.access_info, 2 | 0x08 | 0x10);
    cr_assert_eq(io.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(io.header.instruction_length_and_cr8 & 0xf, 3, "length = EXITINFO2 - RIP");
    cr_assert_eq(io.header.execution_state, 1u << 2, "CR0.PE");
    cr_assert_eq(io.rcx, 8);
    cr_assert_eq(io.rdi, 0x5000);
    cr_assert_eq(io.ds_segment.selector, 0x10);

    const uint8_t outd[] = { 0xef };                    /* out dx, eax */
    code(0x1000, outd, sizeof(outd));
    const struct step s2[] = {
        STEP(SK_SVM_EXIT_IOIO, .info1 = (0xcfcu << 16) | SK_SVM_IO_SZ32, .info2 = 0x1001),
    };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_io_port_intercept_message, io2);
    cr_assert_eq(io2.port_number, 0xcfc);
    cr_assert_eq(io2.access_info, 4);
    cr_assert_eq(io2.header.instruction_length_and_cr8 & 0xf, 1);
}

Test(svm_run, io_length_falls_back_to_the_decoder_when_exitinfo2_is_nonsense)
{
    flat32(0x1000);
    const uint8_t in[] = { 0xe4, 0x60 };                 /* in al, 0x60 */
    code(0x1000, in, sizeof(in));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_IOIO, .info1 = (0x60u << 16) | SK_SVM_IO_IN | SK_SVM_IO_SZ8, .info2 = 0x0fff),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_io_port_intercept_message, io);
    cr_assert_eq(io.header.instruction_length_and_cr8 & 0xf, 2);
}

/* ---- MSRs ---- */

static const uint8_t rdmsr[] = { 0x0f, 0x32 };
static const uint8_t wrmsr[] = { 0x0f, 0x30 };

Test(svm_run, other_msrs_go_to_the_vmm)
{
    flat32(0x1000);
    code(0x1000, rdmsr, 2);
    cmd->cpu_context.gps[1] = 0x1b;                      /* APIC base */
    const struct step s[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 0) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT);
    PAYLOAD(struct sidecar_hv_x64_msr_intercept_message, m);
    cr_assert_eq(m.msr_number, 0x1b);
    cr_assert_eq(m.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(m.header.instruction_length_and_cr8 & 0xf, 2);
    cr_assert_eq(m.header.rip, 0x1000);

    code(0x1000, wrmsr, 2);
    cmd->cpu_context.gps[1] = 0x8b;
    cmd->cpu_context.gps[0] = 0x11;
    cmd->cpu_context.gps[2] = 0x22;
    const struct step s2[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 1) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_msr_intercept_message, w);
    cr_assert_eq(w.msr_number, 0x8b);
    cr_assert_eq(w.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(w.rax, 0x11);
    cr_assert_eq(w.rdx, 0x22);
    cr_assert_eq(get(N(RIP)), 0x1000);
}

Test(svm_run, efer_write_and_read_are_handled_in_the_sidecar)
{
    flat32(0x1000);
    code(0x1000, wrmsr, 2);
    code(0x1002, rdmsr, 2);
    cmd->cpu_context.gps[1] = 0xc0000080;
    cmd->cpu_context.gps[0] = 0x901 | 0x400;             /* SCE LME NXE, and LMA (ignored) */
    cmd->cpu_context.gps[2] = 0;
    const struct step s[] = {
        STEP(SK_SVM_EXIT_MSR, .info1 = 1),
        STEP(SK_SVM_EXIT_MSR, .info1 = 0, .rax = 0xffff, .request_stop = true),
    };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 0, "no message: handled, then stopped");
    cr_assert_eq(fk.next, 2);
    cr_assert_eq(fk.rip[1], 0x1002, "RIP advanced past WRMSR");
    cr_assert_eq(fk.event_inj[1], 0);
    cr_assert_eq(get(N(EFER)), 0x901);
    cr_assert_eq(vmcb->save.efer, 0x901 | EFER_SVME);
    cr_assert_eq(get(N(RIP)), 0x1004, "RIP advanced past RDMSR");
    cr_assert_eq(cmd->cpu_context.gps[0], 0x901, "RDMSR EFER: EAX");
    cr_assert_eq(cmd->cpu_context.gps[2], 0, "RDMSR EFER: EDX");
    cr_assert_eq(vp.stats.handled, 2);
}

Test(svm_run, bad_efer_writes_inject_gp)
{
    static const uint64_t bad[] = { 1ull << 9, EFER_SVME, 1ull << 32 };
    for (unsigned i = 0; i < 3; i++) {
        flat32(0x1000);
        code(0x1000, wrmsr, 2);
        cmd->cpu_context.gps[1] = 0xc0000080;
        cmd->cpu_context.gps[0] = (uint32_t)bad[i];
        cmd->cpu_context.gps[2] = bad[i] >> 32;
        const struct step s[] = {
            STEP(SK_SVM_EXIT_MSR, .info1 = 1),
            STEP(SK_SVM_EXIT_INTR, .request_stop = true),
        };
        script(s, 2);
        command(SIDECAR_COMMAND_RUN_VP);
        cr_assert_eq(fk.event_inj[1], GP0, "value %u: #GP(0)", i);
        cr_assert_eq(fk.rip[1], 0x1000, "a faulting WRMSR does not advance RIP");
        cr_assert_eq(get(N(EFER)), 0);
        cr_assert_eq(vmcb->save.efer, EFER_SVME);
    }
    /* LME may not change while paging is on. */
    set_ok(N(CR0), 0x80000011);
    cmd->cpu_context.gps[0] = 0x100;
    cmd->cpu_context.gps[2] = 0;
    const struct step s[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 1), STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], GP0);
    cr_assert_eq(get(N(EFER)), 0);
}

/* The VMM lists the MSRs it handles (intercept control bit 1 and the MSR
 * ranges): those come as intercepts, every other one is refused with #GP
 * in the guest; without bit 1 every one goes to the VMM. */
Test(svm_run, the_vmm_lists_its_msrs_and_the_rest_are_refused)
{
    set_ok(SK_SVM_REG_MSR_RANGE(0), 0x1bull | (1ull << 32));          /* the APIC base */
    set_ok(SK_SVM_REG_MSR_RANGE(3), 0x40000000ull | (0x100ull << 32)); /* a hypervisor's range */
    cr_assert_eq(get(SK_SVM_REG_MSR_RANGE(3)), 0x40000000ull | (0x100ull << 32));
    cr_assert_eq(set(SK_SVM_REG_MSR_RANGE(1), 0xfffffff0ull | (0x20ull << 32)),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "past the last MSR number");
    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, SK_SVM_INTERCEPT_MSR_LISTED);
    static const uint32_t listed[] = { 0x1b, 0x40000000, 0x400000ff };
    for (unsigned i = 0; i < 3; i++) {
        flat32(0x1000);
        code(0x1000, rdmsr, 2);
        cmd->cpu_context.gps[1] = listed[i];
        const struct step s[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 0) };
        script(s, 1);
        command(SIDECAR_COMMAND_RUN_VP);
        cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, "MSR %x", listed[i]);
    }
    static const uint32_t refused[] = { 0x1c, 0x40000100, 0x8b };
    for (unsigned i = 0; i < 3; i++) {
        flat32(0x1000);
        code(0x1000, rdmsr, 2);
        cmd->cpu_context.gps[1] = refused[i];
        const struct step s[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 0), STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
        script(s, 2);
        command(SIDECAR_COMMAND_RUN_VP);
        cr_assert_eq(fk.event_inj[1], GP0, "MSR %x: #GP(0)", refused[i]);
        cr_assert_eq(fk.rip[1], 0x1000);
    }
    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, 0);
    flat32(0x1000);
    code(0x1000, rdmsr, 2);
    cmd->cpu_context.gps[1] = 0x8b;
    const struct step s[] = { STEP(SK_SVM_EXIT_MSR, .info1 = 0) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, "all MSRs to the VMM again");
}

Test(svm_run, pat_and_tsc_writes_are_handled_in_the_sidecar)
{
    flat32(0x1000);
    code(0x1000, wrmsr, 2);
    code(0x1002, wrmsr, 2);
    code(0x1004, wrmsr, 2);
    cmd->cpu_context.gps[1] = 0x277;
    cmd->cpu_context.gps[0] = 0x00070406;
    cmd->cpu_context.gps[2] = 0x00000006;
    fk.tsc = 100;
    const struct step s[] = {
        STEP(SK_SVM_EXIT_MSR, .info1 = 1),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(get(N(PAT)), 0x0000000600070406ull);
    cr_assert_eq(fk.rip[1], 0x1002);
    /* A reserved memory type: #GP, PAT unchanged. */
    cmd->cpu_context.gps[2] = 0x02;
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], GP0);
    cr_assert_eq(fk.rip[1], 0x1002);
    cr_assert_eq(get(N(PAT)), 0x0000000600070406ull);
    /* TSC: the offset. */
    set_ok(N(RIP), 0x1004);
    cmd->cpu_context.gps[1] = 0x10;
    cmd->cpu_context.gps[0] = 0x1000;
    cmd->cpu_context.gps[2] = 1;
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(vmcb->control.tsc_offset, 0x100001000ull - 100);
    cr_assert_eq(fk.rip[1], 0x1006);
    cr_assert_eq(get(N(TSC)), 0x100001000ull);
}

/* ---- CPUID, HLT ---- */

Test(svm_run, cpuid_message_with_the_defaults)
{
    flat32(0x1000);
    const uint8_t cpuid[] = { 0x0f, 0xa2 };
    code(0x1000, cpuid, 2);
    cmd->cpu_context.gps[0] = 7;
    cmd->cpu_context.gps[1] = 3;
    const struct step s[] = { STEP(SK_SVM_EXIT_CPUID) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT);
    PAYLOAD(struct sidecar_hv_x64_cpuid_intercept_message, c);
    cr_assert_eq(fk.cpuids, 1);
    cr_assert_eq(c.rax, 7);
    cr_assert_eq(c.rcx, 3);
    cr_assert_eq(c.default_result_rax, 8);
    cr_assert_eq(c.default_result_rbx, 5);
    cr_assert_eq(c.default_result_rcx, 0xc);
    cr_assert_eq(c.default_result_rdx, 0xd);
    cr_assert_eq(c.header.instruction_length_and_cr8 & 0xf, 2);
    cr_assert_eq(c.header.rip, 0x1000);
}

static const uint8_t hlt[] = { 0xf4 };

Test(svm_run, hlt_halts_and_the_run_waits_for_stop)
{
    flat32(0x1000);
    code(0x1000, hlt, 1);
    const struct step s[] = { STEP(SK_SVM_EXIT_HLT) };
    script(s, 1);
    fk.halt_waits_before_stop = 3;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 0);
    cr_assert_eq(fk.next, 1, "no VMRUN while halted");
    cr_assert_eq(fk.halt_waits, 3);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);
    cr_assert_eq(get(N(RIP)), 0x1001, "RIP past HLT");
    cr_assert_eq(vp.stats.halts, 1);
    /* A second run without an event: still halted, straight to waiting. */
    script(NULL, 0);
    fk.halt_waits = 0;
    fk.halt_waits_before_stop = 1;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.halt_waits, 1);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);
}

Test(svm_run, hlt_to_the_vmm_when_asked)
{
    flat32(0x1000);
    code(0x1000, hlt, 1);
    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, SK_SVM_INTERCEPT_HLT);
    const struct step s[] = { STEP(SK_SVM_EXIT_HLT) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_HALT);
    PAYLOAD(struct sidecar_hv_x64_intercept_message_header, h);
    cr_assert_eq(h.instruction_length_and_cr8 & 0xf, 1);
    cr_assert_eq(h.rip, 0x1000);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), 0);
    cr_assert_eq(fk.halt_waits, 0);
}

static uint64_t pi(unsigned type, unsigned vector, bool err, uint32_t code, unsigned len)
{
    return SK_SVM_PI_PENDING | ((uint64_t)type << SK_SVM_PI_TYPE_SHIFT) | (err ? SK_SVM_PI_ERROR_CODE : 0) |
           ((uint64_t)len << SK_SVM_PI_LENGTH_SHIFT) | ((uint64_t)vector << SK_SVM_PI_VECTOR_SHIFT) |
           ((uint64_t)code << 32);
}

Test(svm_run, a_halted_vp_wakes_for_a_pending_interrupt_with_if_set)
{
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x202);
    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    set_ok(N(PENDING_INTERRUPTION), pi(0, 0x30, false, 0, 0));
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.next, 1);
    cr_assert_eq(fk.event_inj[0], EV(0, 0x30));
    cr_assert_eq(fk.halt_waits, 0);
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0, "delivered: no longer pending");
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), 0, "awake");
}

Test(svm_run, a_halted_vp_with_if_clear_stays_halted)
{
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x2);
    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    set_ok(N(PENDING_INTERRUPTION), pi(0, 0x30, false, 0, 0));
    script(NULL, 0);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.next, 0, "never entered");
    cr_assert_eq(fk.halt_waits, 1, "the run waited until STOP");
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), pi(0, 0x30, false, 0, 0));
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);
    /* In an interrupt shadow, likewise. */
    set_ok(N(RFLAGS), 0x202);
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_SHADOW);
    fk.halt_waits = 0;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.next, 0);
    cr_assert_eq(fk.halt_waits, 1);
    /* An NMI wakes it whatever IF says. */
    set_ok(N(INTERRUPT_STATE), 0);
    set_ok(N(RFLAGS), 0x2);
    set_ok(N(PENDING_INTERRUPTION), pi(2, 2, false, 0, 0));
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(2, 2));
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), 0);
}

/* ---- event injection ---- */

Test(svm_run, nmi_injection_masks_nmis_until_iret)
{
    flat32(0x1000);
    set_ok(N(PENDING_INTERRUPTION), pi(2, 2, false, 0, 0));
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(2, 2));
    cr_assert(fk.misc1[0] & SK_SVM_I1_IRET, "IRET intercepted to see the handler's end");
    cr_assert_eq(get(N(INTERRUPT_STATE)), SK_SVM_IS_NMI_MASKED);
    /* A second NMI waits for the IRET. */
    set_ok(N(PENDING_INTERRUPTION), pi(2, 2, false, 0, 0));
    const struct step s2[] = {
        STEP(SK_SVM_EXIT_INTR),
        STEP(SK_SVM_EXIT_IRET),
        STEP(SK_SVM_EXIT_INTR),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s2, 4);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], 0, "masked");
    cr_assert_eq(fk.event_inj[1], 0, "masked");
    cr_assert_eq(fk.event_inj[2], 0, "the IRET has not run yet at the entry after its intercept");
    cr_assert_eq(fk.misc1[2] & SK_SVM_I1_IRET, 0, "IRET intercept off once seen");
    cr_assert_eq(fk.event_inj[3], EV(2, 2), "after the IRET ran: delivered");
    cr_assert(fk.misc1[3] & SK_SVM_I1_IRET);
}

Test(svm_run, nmi_masked_by_set_is_unmasked_by_the_guests_iret)
{
    /* The VMM restores a VP in its NMI handler (InterruptState NmiMasked)
     * and makes another NMI pending: it must be delivered once the guest's
     * IRET has run, so the IRET must be intercepted. */
    flat32(0x1000);
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_NMI_MASKED);
    set_ok(N(PENDING_INTERRUPTION), pi(2, 2, false, 0, 0));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_IRET),
        STEP(SK_SVM_EXIT_INTR),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 3);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], 0);
    cr_assert(fk.misc1[0] & SK_SVM_I1_IRET,
              "BUG: NMIs masked through SET INTERRUPT_STATE never see their IRET (no IRET intercept)");
    cr_assert_eq(fk.event_inj[2], EV(2, 2));
}

Test(svm_run, exception_and_software_event_injection)
{
    flat32(0x1000);
    set_ok(N(PENDING_INTERRUPTION), pi(3, 13, true, 0x18, 0));
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(3, 13) | SK_SVM_EVENT_EV | (0x18ull << 32));
    cr_assert_eq(fk.rip[0], 0x1000);
    /* An exception is delivered even with IF clear and in a shadow. */
    set_ok(N(RFLAGS), 2);
    set_ok(N(INTERRUPT_STATE), SK_SVM_IS_SHADOW);
    set_ok(N(PENDING_INTERRUPTION), pi(3, 6, false, 0, 0));
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], UD);
    /* INT 0x80 (2 bytes): RIP moves past it first (no NRIP save). */
    set_ok(N(INTERRUPT_STATE), 0);
    set_ok(N(RIP), 0x1000);
    set_ok(N(PENDING_INTERRUPTION), pi(4, 0x80, false, 0, 2));
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(4, 0x80));
    cr_assert_eq(fk.rip[0], 0x1002);
    /* INT3 (1 byte): an exception, RIP past it. */
    set_ok(N(RIP), 0x1000);
    set_ok(N(PENDING_INTERRUPTION), pi(6, 3, false, 0, 1));
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(3, 3));
    cr_assert_eq(fk.rip[0], 0x1001);
    /* INT1 (privileged software exception). */
    set_ok(N(RIP), 0x1000);
    set_ok(N(PENDING_INTERRUPTION), pi(5, 1, false, 0, 1));
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(3, 1));
    cr_assert_eq(fk.rip[0], 0x1001);
}

Test(svm_run, a_pending_interrupt_waits_for_if)
{
    flat32(0x1000);
    set_ok(N(RFLAGS), 2);
    set_ok(N(PENDING_INTERRUPTION), pi(0, 0x40, false, 0, 0));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_INTR, .rflags = 0x202),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], 0, "IF clear: held");
    cr_assert_eq(fk.event_inj[1], EV(0, 0x40), "IF set by the guest: delivered");
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
}

Test(svm_run, interrupted_events_are_reinjected_first)
{
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x202);
    set_ok(N(PENDING_INTERRUPTION), pi(0, 0x50, false, 0, 0));
    const struct step s[] = {
        /* The pending interrupt's delivery hits an NPF on the IDT... */
        STEP(SK_SVM_EXIT_INTR, .intinfo = EV(0, 0x50)),
        /* ... a #PF with its error code is interrupted the same way. */
        STEP(SK_SVM_EXIT_INTR, .intinfo = EV(3, 14) | SK_SVM_EVENT_EV | (6ull << 32)),
        STEP(SK_SVM_EXIT_INTR, .intinfo = EV(2, 2)),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 4);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(0, 0x50));
    cr_assert_eq(fk.event_inj[1], EV(0, 0x50), "re-injected");
    cr_assert_eq(fk.event_inj[2], EV(3, 14) | SK_SVM_EVENT_EV | (6ull << 32), "with its error code");
    cr_assert_eq(fk.event_inj[3], EV(2, 2));
}

Test(svm_run, a_v_irq_reported_as_an_exception_is_not_reinjected)
{
    /* QEMU reports a V_IRQ interrupted mid-delivery as type 3 (exception)
     * with the interrupt's vector: invalid as an EVENTINJ, and the V_IRQ is
     * still pending anyway. */
    flat32(0x1000);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_W | SK_SVM_NPF_FINAL, .info2 = 0x3000,
             .intinfo = EV(3, 0x30)),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    const struct step s2[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], 0);
}

Test(svm_run, an_interrupted_event_is_the_pending_interruption_the_vmm_sees)
{
    /* As Hyper-V shows it: the message says "interruption pending" and
     * HvRegisterPendingInterruption holds the event. */
    flat32(0x1000);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_FINAL, .info2 = 0xfed00000,
             .intinfo = EV(3, 14) | SK_SVM_EVENT_EV | (6ull << 32)),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m);
    cr_assert_eq(m.header.execution_state & (1u << 6), 1u << 6, "interruption pending");
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), pi(3, 14, true, 6, 0));
    const struct step s2[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], EV(3, 14) | SK_SVM_EVENT_EV | (6ull << 32));
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
}

static bool eventinj_valid(uint64_t e)
{
    if (!(e & EV_VALID))
        return true;
    unsigned type = (unsigned)(e >> 8) & 7u, vector = (unsigned)e & 0xffu;
    bool ev = e & SK_SVM_EVENT_EV;
    if (e & 0x7ffff000ull)
        return false;
    switch (type) {
    case 0: case 4: return !ev;
    case 2: return vector == 2 && !ev;
    case 3: return vector < 32 && vector != 2 &&
                   (!ev || vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
                    vector == 29 || vector == 30);
    default: return false;
    }
}

Test(svm_run, an_invalid_exit_int_info_never_becomes_an_invalid_event)
{
    /* EXITINTINFO is the CPU's word, but what the backend makes of it must
     * be a pending interruption SET would accept (the VMM reads it and may
     * write it back) and an EVENTINJ VMRUN accepts (else VMEXIT_INVALID
     * resets the VP). */
    static const uint64_t bad[] = {
        EV(1, 0x30), EV(5, 1), EV(6, 3), EV(7, 0x30),       /* reserved types */
        EV(2, 3),                                           /* NMI not vector 2 */
        EV(3, 2),                                           /* exception vector 2 */
        EV(3, 6) | SK_SVM_EVENT_EV,                         /* #UD has no error code */
        EV(0, 0x30) | SK_SVM_EVENT_EV,                      /* an interrupt has none */
        EV(0, 0x10),                                        /* an interrupt below 32 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sk_svm_reset(&vp);
        flat32(0x1000);
        set_ok(N(RFLAGS), 0x202);
        const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .intinfo = bad[i], .request_stop = true) };
        script(s, 1);
        command(SIDECAR_COMMAND_RUN_VP);
        uint64_t p = get(N(PENDING_INTERRUPTION));
        cr_assert_eq(set(N(PENDING_INTERRUPTION), p), SIDECAR_HV_STATUS_SUCCESS,
                     "BUG: EXITINTINFO 0x%llx became pending interruption 0x%llx, which SET refuses",
                     (unsigned long long)bad[i], (unsigned long long)p);
        const struct step s2[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
        script(s2, 1);
        command(SIDECAR_COMMAND_RUN_VP);
        cr_assert(eventinj_valid(fk.event_inj[0]), "BUG: EXITINTINFO 0x%llx injected as EVENTINJ 0x%llx",
                  (unsigned long long)bad[i], (unsigned long long)fk.event_inj[0]);
    }
}

Test(svm_run, reserved_exit_int_info_bits_are_not_reinjected)
{
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x202);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_INTR, .intinfo = EV(0, 0x30) | (1ull << 20) | (1ull << 12)),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], EV(0, 0x30), "EVENTINJ bits 12-30 are reserved");
}

/* ---- the interrupt window ---- */

Test(svm_run, vintr_is_an_interruption_deliverable_message)
{
    flat32(0x1000);
    set_ok(N(DELIVERABILITY_NOTIFICATIONS), SK_SVM_DN_INTERRUPT);
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR), STEP(SK_SVM_EXIT_VINTR) };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert(fk.int_ctl[0] & SK_SVM_V_IRQ);
    cr_assert(fk.int_ctl[0] & SK_SVM_V_IGN_TPR);
    cr_assert(fk.int_ctl[0] & SK_SVM_V_INTR_MASKING);
    cr_assert(fk.misc1[0] & SK_SVM_I1_VINTR);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_INTERRUPTION_DELIVERABLE);
    cr_assert_eq(message()->header.payload_size, sizeof(struct sidecar_hv_x64_interruption_deliverable_message));
    PAYLOAD(struct sidecar_hv_x64_interruption_deliverable_message, d);
    cr_assert_eq(d.deliverable_type, 0);
    cr_assert_eq(d.header.rip, 0x1000);
    cr_assert_eq(get(N(DELIVERABILITY_NOTIFICATIONS)), 0, "one notification per request");
    cr_assert_eq(vmcb->control.int_ctl & SK_SVM_V_IRQ, 0);
    cr_assert_eq(vmcb->control.intercept_misc1 & SK_SVM_I1_VINTR, 0);
    /* No request: no window. */
    const struct step s2[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.int_ctl[0] & SK_SVM_V_IRQ, 0);
    cr_assert_eq(fk.misc1[0] & SK_SVM_I1_VINTR, 0);
}

Test(svm_run, no_window_while_an_event_is_injected)
{
    flat32(0x1000);
    set_ok(N(DELIVERABILITY_NOTIFICATIONS), SK_SVM_DN_INTERRUPT);
    set_ok(N(PENDING_INTERRUPTION), pi(3, 6, false, 0, 0));
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR), STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], UD);
    cr_assert_eq(fk.int_ctl[0] & SK_SVM_V_IRQ, 0);
    cr_assert(fk.int_ctl[1] & SK_SVM_V_IRQ, "the window comes at the next entry");
}

Test(svm_run, a_halted_vp_with_if_set_notifies_interrupt_deliverability)
{
    /* The idle guest (STI; HLT) can take an interrupt: a VMM that asks to
     * be told when it can must be told, not left waiting for STOP. */
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x202);
    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    set_ok(N(DELIVERABILITY_NOTIFICATIONS), SK_SVM_DN_INTERRUPT);
    const struct step s[] = { STEP(SK_SVM_EXIT_VINTR) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.halt_waits, 0, "BUG: a halted VP with IF=1 waits instead of notifying");
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_INTERRUPTION_DELIVERABLE);
    cr_assert(fk.int_ctl[0] & SK_SVM_V_IRQ);
    /* With IF clear it stays halted. */
    set_ok(N(RFLAGS), 0x2);
    set_ok(N(INTERNAL_ACTIVITY_STATE), SK_SVM_ACTIVITY_HALT_SUSPEND);
    set_ok(N(DELIVERABILITY_NOTIFICATIONS), SK_SVM_DN_INTERRUPT);
    script(NULL, 0);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(intercept(), 0);
    cr_assert_eq(fk.halt_waits, 1);
    cr_assert_eq(get(N(INTERNAL_ACTIVITY_STATE)), SK_SVM_ACTIVITY_HALT_SUSPEND);
}

Test(svm_run, a_held_interrupt_arms_the_interrupt_window)
{
    /* A pending interrupt held while IF=0 must go in as soon as the guest
     * sets IF, not at whatever exit happens to come next (a guest that
     * runs STI; JMP $ never exits). */
    flat32(0x1000);
    set_ok(N(RFLAGS), 0x2);
    set_ok(N(PENDING_INTERRUPTION), pi(0, 0x41, false, 0, 0));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_VINTR, .rflags = 0x202),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], 0);
    cr_assert(fk.int_ctl[0] & SK_SVM_V_IRQ, "BUG: no interrupt window for a held interrupt");
    cr_assert(fk.misc1[0] & SK_SVM_I1_VINTR);
    cr_assert_eq(intercept(), 0, "the VMM asked for no notification: the window is the sidecar's");
    cr_assert_eq(fk.next, 2);
    cr_assert_eq(fk.event_inj[1], EV(0, 0x41));
    cr_assert_eq(fk.int_ctl[1] & SK_SVM_V_IRQ, 0, "no window once nothing is held");
}

/* NMI deliverability is not notified by this backend: SET refuses the
 * bit (invalid register value) rather than accepting a request it would
 * never answer, and nothing changes. */
Test(svm_run, nmi_deliverability_is_refused)
{
    flat32(0x1000);
    struct sidecar_hv_register_value v = { SK_SVM_DN_NMI, 0 };
    cr_assert_eq(sk_svm_set_register(&vp, N(DELIVERABILITY_NOTIFICATIONS), &v),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(DELIVERABILITY_NOTIFICATIONS)), 0);
}

/* ---- memory, shutdown ---- */

Test(svm_run, npf_is_an_unmapped_gpa_message)
{
    flat32(0x1000);
    const uint8_t mov[] = { 0x89, 0x08 };                /* mov [eax], ecx */
    code(0x1000, mov, 2);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_W | SK_SVM_NPF_FINAL, .info2 = 0xfed00040),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m);
    cr_assert_eq(m.guest_physical_address, 0xfed00040);
    cr_assert_eq(m.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(m.header.instruction_length_and_cr8 & 0xf, 2);
    cr_assert_eq(m.instruction_bytes[0], 0x89);
    cr_assert_geq(m.instruction_byte_count, 2);
    cr_assert_eq(m.guest_virtual_address, 0, "no decode assists: no GVA");
    cr_assert_eq(m.memory_access_info, 0);
    /* A read. */
    const struct step s2[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_US | SK_SVM_NPF_FINAL, .info2 = 0x100000000ull),
    };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, r);
    cr_assert_eq(r.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r.guest_physical_address, 0x100000000ull);
}

Test(svm_run, instruction_fetch_npf_carries_no_bytes)
{
    flat32(0xfee00000);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_ID | SK_SVM_NPF_FINAL, .info2 = 0xfee00000),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m);
    cr_assert_eq(m.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_EXECUTE);
    cr_assert_eq(m.instruction_byte_count, 0);
    cr_assert_eq(m.header.instruction_length_and_cr8 & 0xf, 0);
    cr_assert_eq(fk.reads, 0);
}

Test(svm_run, instruction_fetch_stops_at_the_end_of_ram)
{
    flat32(RAM_SIZE - 1);
    ram[RAM_SIZE - 1] = 0x0f;                            /* a truncated instruction */
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_FINAL, .info2 = 0xfec00000),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m);
    cr_assert_eq(m.instruction_byte_count, 1);
    cr_assert_eq(m.instruction_bytes[0], 0x0f);
    cr_assert_eq(m.header.instruction_length_and_cr8 & 0xf, 0, "not decodable: length 0");
}

Test(svm_run, npf_on_a_reserved_bit_fails_the_run)
{
    flat32(0x1000);
    const struct step s[] = { STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_RSVD, .info2 = 0x1000) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("reserved bit");
}

Test(svm_run, shutdown_is_an_unrecoverable_exception)
{
    flat32(0x1000);
    const struct step s[] = { STEP(SK_SVM_EXIT_SHUTDOWN) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION);
    PAYLOAD(struct sidecar_hv_x64_intercept_message_header, h);
    cr_assert_eq(h.rip, 0x1000);
    cr_assert_eq(h.vp_index, VP_INDEX);
}

/* ---- failures ---- */

static void vmexit_invalid(uint64_t code)
{
    flat32(0x1000);
    set_ok(N(EFER), 0x800);
    cmd->cpu_context.gps[3] = 0x33;
    cmd->cpu_context.fx_state.fcw = 0x37f;
    const struct step s[] = { STEP(code) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("VMEXIT_INVALID");
    cr_assert_eq(get(N(RIP)), 0xfff0);
    cr_assert_eq(vmcb->save.cs.base, 0xffff0000);
    cr_assert_eq(vmcb->save.cr0, 0x60000010);
    cr_assert_eq(vmcb->save.efer, EFER_SVME);
    cr_assert_eq(get(N(EFER)), 0);
    cr_assert_eq(cmd->cpu_context.gps[3], 0, "GPRs reset in cpu_context");
    cr_assert_eq(cmd->cpu_context.gps[2], CPUID1_EAX, "RDX = family/model/stepping");
    cr_assert_eq(cmd->cpu_context.fx_state.mxcsr, 0x1f80);
    cr_assert_eq(cmd->cpu_context.fx_state.fcw, 0x40,
                 "BUG: the reset FX state was overwritten by fx_store (FCW 0x%x)",
                 cmd->cpu_context.fx_state.fcw);
}

Test(svm_run, vmexit_invalid_32_bit_resets_the_vp) { vmexit_invalid(SK_SVM_EXIT_INVALID_32); }
Test(svm_run, vmexit_invalid_64_bit_resets_the_vp) { vmexit_invalid(UINT64_MAX); }

Test(svm_run, an_unknown_exit_code_fails_with_the_code)
{
    flat32(0x1000);
    const struct step s[] = { STEP(0x401) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("unexpected #VMEXIT 0x401");
    const struct step s2[] = { STEP(SK_SVM_EXIT_TASK_SWITCH) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("0x7d");
    const struct step s3[] = { STEP(0) };                /* CR0 read: not intercepted */
    script(s3, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("#VMEXIT 0x0");
    const struct step s4[] = { STEP(0x123456789abcdef0ull) };
    script(s4, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("0x123456789abcdef0");
}

Test(svm_run, a_state_vmrun_would_refuse_fails_before_entry)
{
    vmcb->save.cr0 = 0x80000010;                         /* PG without PE, behind SET's back */
    script(NULL, 0);
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("CR0: PG set without PE");
    cr_assert_eq(fk.next, 0);
}

Test(svm_run, no_arch_half_fails)
{
    vp.ops = NULL;
    command(SIDECAR_COMMAND_RUN_VP);
    assert_failed_with("no arch half");
}

/* ---- the run loop ---- */

Test(svm_run, stop_before_entry_ends_the_run_with_rc_0)
{
    script(NULL, 0);
    cmd->cpu_context.gps[2] = 0x22;
    cmd->cpu_context.fx_state.xmm[5].low = 0x55;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    cr_assert_eq(sk_svm_run(&cpu, &vp, &cmd->intercept_message), 0);
    cr_assert_eq(fk.next, 0);
    cr_assert_eq(vp.stats.vmruns, 0);
    cr_assert_eq(cmd->cpu_context.gps[2], 0x22, "context round-trips unchanged");
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[5].low, 0x55);
    cr_assert_eq(fk.fx_loads, fk.fx_stores, "every fx_load has its fx_store");
}

Test(svm_run, cpu_context_round_trip)
{
    flat32(0x1000);
    for (unsigned i = 0; i < 16; i++)
        cmd->cpu_context.gps[i] = 0x1000 + i;
    cmd->cpu_context.fx_state.xmm[1].low = 7;
    cmd->cpu_context.fx_state.mxcsr = 0xffffffff;
    set_ok(N(RSP), 0x8000);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_INTR, .rax = 0xaa, .fx_write = true),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true, .rip = 0x2000),
    };
    script(s, 2);
    vmcb->save.cr2 = 0;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.rax[0], 0x1000);
    cr_assert_eq(fk.cr2[0], 0x1004, "cpu_context slot 4 is CR2");
    cr_assert_eq(vmcb->save.rsp, 0x8000, "RSP from the VP, not cpu_context");
    cr_assert_eq(fk.fx_loads, 1);
    cr_assert_eq(fk.fx_stores, 1);
    cr_assert_eq(fk.cpu_fx.xmm[1].low, 7);
    cr_assert_eq(fk.cpu_fx.mxcsr, 0xffff, "MXCSR masked with the CPU's MXCSR_MASK");
    cr_assert_eq(cmd->cpu_context.gps[0], 0xaa);
    cr_assert_eq(cmd->cpu_context.gps[4], 0x1004);
    cr_assert_eq(cmd->cpu_context.gps[15], 0x100f);
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[0].low, 0xabc, "the guest's FX change stored back");
    cr_assert_eq(get(N(RIP)), 0x2000);
    cr_assert_eq(fk.tlb[1], SK_SVM_TLB_NONE, "no flush without a reason");
    cr_assert_eq(vp.stats.vmruns, 2);
    cr_assert_eq(vp.stats.interrupts, 2);
}

Test(svm_run, host_interrupts_resume)
{
    flat32(0x1000);
    const struct step s[] = {
        STEP(SK_SVM_EXIT_INTR), STEP(SK_SVM_EXIT_NMI), STEP(SK_SVM_EXIT_SMI), STEP(SK_SVM_EXIT_INIT),
        STEP(SK_SVM_EXIT_FERR_FREEZE), STEP(SK_SVM_EXIT_CPUID),
    };
    script(s, 6);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.next, 6);
    cr_assert_eq(vp.stats.interrupts, 4);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(fk.event_inj[i], 0, "nothing injected for a host event");
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT);
}

Test(svm_run, svm_instructions_get_ud)
{
    static const uint64_t codes[] = {
        SK_SVM_EXIT_VMRUN, SK_SVM_EXIT_VMMCALL, SK_SVM_EXIT_VMLOAD, SK_SVM_EXIT_VMSAVE,
        SK_SVM_EXIT_STGI, SK_SVM_EXIT_CLGI, SK_SVM_EXIT_SKINIT, SK_SVM_EXIT_INVLPGA,
        SK_SVM_EXIT_MONITOR, SK_SVM_EXIT_MWAIT, SK_SVM_EXIT_MWAIT_C, SK_SVM_EXIT_RDPRU,
    };
    flat32(0x1000);
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const struct step s[] = { STEP(codes[i]), STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
        script(s, 2);
        command(SIDECAR_COMMAND_RUN_VP);
        cr_assert_eq(cmd->has_error, 0);
        cr_assert_eq(intercept(), 0, "exit 0x%llx handled", (unsigned long long)codes[i]);
        cr_assert_eq(fk.event_inj[1], UD, "exit 0x%llx", (unsigned long long)codes[i]);
        cr_assert_eq(fk.rip[1], 0x1000, "a fault: RIP stays");
    }
}

Test(svm_run, mov_dr0_3_is_emulated)
{
    flat32(0x1000);
    const uint8_t movs[] = {
        0x0f, 0x23, 0xc3,        /* mov dr0, ebx */
        0x0f, 0x21, 0xc9,        /* mov ecx, dr1 */
    };
    code(0x1000, movs, sizeof(movs));
    set_ok(N(DR1), 0xffffffff12345678ull);
    cmd->cpu_context.gps[3] = 0xffffffffaabbccddull;
    cmd->cpu_context.gps[1] = 0x1111111111111111ull;
    const struct step s[] = {
        STEP(SK_SVM_EXIT_DR0_WRITE + 0),
        STEP(SK_SVM_EXIT_DR0_READ + 1),
        STEP(SK_SVM_EXIT_INTR, .request_stop = true),
    };
    script(s, 3);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(get(N(DR0)), 0xaabbccdd, "32-bit code writes 32 bits");
    cr_assert_eq(cmd->cpu_context.gps[1], 0x12345678);
    cr_assert_eq(fk.rip[1], 0x1003);
    cr_assert_eq(fk.rip[2], 0x1006);
    cr_assert_eq(fk.event_inj[2], 0);
    /* At CPL 3: #GP. */
    cr_assert_eq(set_seg(N(SS), 0, 0xffffffff, 0x23, 0xc0f3), SIDECAR_HV_STATUS_SUCCESS);
    set_ok(N(RIP), 0x1000);
    const struct step s2[] = { STEP(SK_SVM_EXIT_DR0_WRITE), STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s2, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], GP0);
    cr_assert_eq(fk.rip[1], 0x1000);
    cr_assert_eq(get(N(DR0)), 0xaabbccdd);
    /* Not a MOV DR at RIP: #UD. */
    const uint8_t nop[] = { 0x90 };
    code(0x1000, nop, 1);
    script(s2, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], UD);
}

Test(svm_run, intercepted_exceptions_are_exception_messages)
{
    flat32(0x1000);
    set_ok(SK_SVM_REG_INTERCEPT_CONTROL, (1ull << (32 + 14)) | (1ull << (32 + 1)) | (1ull << (32 + 6)));
    const uint8_t mov[] = { 0x8b, 0x03 };                /* mov eax, [ebx] */
    code(0x1000, mov, 2);
    cmd->cpu_context.gps[3] = 0x400000;
    const struct step s[] = {
        STEP(SK_SVM_EXIT_EXCP_BASE + 14, .info1 = SK_VP_PF_WRITE, .info2 = 0x400000),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(vmcb->control.intercept_exceptions, (1u << 18) | (1u << 14) | (1u << 1) | (1u << 6));
    cr_assert_eq(message()->header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
    PAYLOAD(struct sidecar_hv_x64_exception_intercept_message, e);
    cr_assert_eq(e.exception_vector, 14);
    cr_assert_eq(e.exception_info & 1, 1, "error code valid");
    cr_assert_eq(e.error_code, SK_VP_PF_WRITE);
    cr_assert_eq(e.exception_parameter, 0x400000);
    cr_assert_eq(e.rbx, 0x400000);
    cr_assert_eq(e.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(fk.event_inj[0], 0);
    /* #DB: DR6 is the parameter, no error code. */
    set_ok(N(DR6), 0xffff4ff1);
    const struct step s2[] = { STEP(SK_SVM_EXIT_EXCP_BASE + 1, .info1 = 0x55) };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_exception_intercept_message, d);
    cr_assert_eq(d.exception_vector, 1);
    cr_assert_eq(d.exception_info & 1, 0);
    cr_assert_eq(d.error_code, 0);
    cr_assert_eq(d.exception_parameter, 0xffff4ff1);
    /* #UD: the instruction length of the faulting instruction. */
    const struct step s3[] = { STEP(SK_SVM_EXIT_EXCP_BASE + 6) };
    script(s3, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_exception_intercept_message, u);
    cr_assert_eq(u.exception_vector, 6);
    cr_assert_eq(u.header.instruction_length_and_cr8 & 0xf, 2);
}

/* HvRegisterPendingEvent0: an exception with its parameter. A #PF with
 * error code 2 and CR2 0xdead000 is delivered with CR2 set as the CPU would
 * before delivering; it reads back through both pending registers until
 * then; non-exception types and reserved bits are refused. */
Test(svm_run, pending_event0_delivers_a_page_fault_with_its_cr2)
{
    flat32(0x1000);
    struct sidecar_hv_register_value ev = { 1 | (1ull << 8) | (14ull << 16) | (2ull << 32), 0xdead000 };
    cr_assert_eq(sk_svm_set_register(&vp, N(PENDING_EVENT0), &ev), SIDECAR_HV_STATUS_SUCCESS);
    struct sidecar_hv_register_value back;
    cr_assert_eq(sk_svm_get_register(&vp, N(PENDING_EVENT0), &back), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(back.low, ev.low);
    cr_assert_eq(back.high, 0xdead000);
    uint64_t pi = get(N(PENDING_INTERRUPTION));
    cr_assert_eq(pi & 0xf, 1 | (3 << 1), "pending, type exception");
    cr_assert_eq((pi >> 16) & 0xffff, 14);
    const struct step s[] = { STEP(SK_SVM_EXIT_INTR, .request_stop = true) };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[0], SK_SVM_EVENT_VALID | SK_SVM_EVENT_EV | (3ull << 8) | 14 | (2ull << 32));
    cr_assert_eq(fk.cr2[0], 0xdead000, "CR2 set before the #PF is delivered");
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
    cr_assert_eq(sk_svm_get_register(&vp, N(PENDING_EVENT0), &back), SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(back.low, 0);
    struct sidecar_hv_register_value bad = { 1 | (1ull << 1) | (0x30ull << 16), 0 };   /* type 1 */
    cr_assert_eq(sk_svm_set_register(&vp, N(PENDING_EVENT0), &bad), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    bad.low = 1 | (1ull << 8) | (3ull << 16);   /* #BP has no error code */
    cr_assert_eq(sk_svm_set_register(&vp, N(PENDING_EVENT0), &bad), SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(get(N(PENDING_INTERRUPTION)), 0);
}
