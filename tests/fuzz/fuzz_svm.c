/* SPDX-License-Identifier: MIT */
/* libFuzzer: the SVM VP backend's portable half (kernel/core/svm) on a
 * fake arch half, compiled natively. The input is a program: SETs of any
 * register name with raw, small or one-bit-flipped values; #VMEXITs with
 * any exit code, EXITINFO1/2, EXITINTINFO, RIP, RAX, RFLAGS and interrupt
 * shadow through sk_svm_handle_exit + sk_svm_prepare_entry; whole RUN_VP
 * commands whose VMRUNs take their exits from the input; TRANSLATE_GVA;
 * guest RAM bytes (the instructions the backend decodes); resets.
 *
 * Checked after every step (abort on violation):
 *  - the backend reads guest memory only through read_gpa, whose every
 *    call is non-empty and inside one guest page (the RAM buffer is an
 *    exact-size allocation, so ASan catches the fake mapping it wrongly);
 *  - EVENTINJ, when valid, is an event VMRUN accepts: type 0, 2, 3 or 4,
 *    reserved bits 12-30 clear, NMI only as vector 2, exceptions below 32
 *    and not 2, an error code only for an exception whose vector has one;
 *  - the VMCB's EFER has SVME, and the guest's EFER never shows it;
 *  - after a successful SET, sk_svm_check_state() is NULL; after a refused
 *    one, the VMCB and the VP are unchanged;
 *  - a FAILED exit says why; an intercept's payload fits the message;
 *  - TRANSLATE_GVA's status is SUCCESS or INVALID_PARAMETER, results are
 *    known codes, and paging off gives the 32-bit identity.
 * A run ends: each VMRUN consumes input, and once the input is exhausted
 * the fake VMRUN asks for STOP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/kcore.h>
#include <sidecar/svm.h>

#define PAGE 4096
#define BIG_RAM 0x210000u        /* 2 MiB + 64 KiB: the alias shows [64 KiB, end) */
#define SMALL_RAM 0x10000u
#define MAX_VMRUNS 16
#define MAX_HALT_WAITS 4
#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define EFER_SVME (1ull << 12)

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_svm: %s:%d: %s: ", __FILE__, __LINE__, #cond);             \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static _Alignas(4096) uint8_t control[PAGE], command[PAGE];
static struct sk_vmcb *vmcb;
static uint8_t *ram;              /* exactly ram_size bytes */
static uint32_t ram_size;
static uint32_t dirty_lo = UINT32_MAX, dirty_hi;   /* RAM bytes an input wrote */
static _Alignas(64) struct sk_svm_vp vp;
static struct sk_cpu cpu;
static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned vmruns, halt_waits;

static uint8_t next(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static bool more(void) { return in_pos < in_len; }

static uint64_t next64(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)next() << (8 * i);
    return v;
}

static struct sidecar_control_page *cp(void) { return (struct sidecar_control_page *)control; }

/* ---- the fake arch half ---- */

static const uint64_t exit_codes[] = {
    SK_SVM_EXIT_INTR, SK_SVM_EXIT_NMI, SK_SVM_EXIT_SMI, SK_SVM_EXIT_INIT, SK_SVM_EXIT_VINTR,
    SK_SVM_EXIT_IRET, SK_SVM_EXIT_CPUID, SK_SVM_EXIT_HLT, SK_SVM_EXIT_INVLPGA, SK_SVM_EXIT_IOIO,
    SK_SVM_EXIT_MSR, SK_SVM_EXIT_TASK_SWITCH, SK_SVM_EXIT_FERR_FREEZE, SK_SVM_EXIT_SHUTDOWN,
    SK_SVM_EXIT_VMRUN, SK_SVM_EXIT_VMMCALL, SK_SVM_EXIT_VMLOAD, SK_SVM_EXIT_VMSAVE, SK_SVM_EXIT_STGI,
    SK_SVM_EXIT_CLGI, SK_SVM_EXIT_SKINIT, SK_SVM_EXIT_RDTSCP, SK_SVM_EXIT_ICEBP, SK_SVM_EXIT_WBINVD,
    SK_SVM_EXIT_MONITOR, SK_SVM_EXIT_MWAIT, SK_SVM_EXIT_MWAIT_C, SK_SVM_EXIT_XSETBV, SK_SVM_EXIT_RDPRU,
    SK_SVM_EXIT_NPF, SK_SVM_EXIT_INVALID_32, UINT64_MAX,
};
#define N_EXIT_CODES (sizeof(exit_codes) / sizeof(exit_codes[0]))

static uint64_t pick_exit_code(void)
{
    uint8_t k = next();
    if (k < 0x80)
        return exit_codes[k % N_EXIT_CODES];
    if (k < 0xc0)
        return SK_SVM_EXIT_EXCP_BASE + (k & 31u);                /* exceptions */
    if (k < 0xe0)
        return SK_SVM_EXIT_CR0_READ + (next() & 0x3fu);          /* CR and DR accesses */
    return next64(8);                                            /* anything */
}

/* What the hardware writes at a #VMEXIT: the exit fields and the guest
 * state the guest can change without an intercept. EFER keeps SVME (the
 * guest cannot clear it: its EFER writes are intercepted). */
static uint64_t simulate_exit(void)
{
    struct sk_vmcb_control *c = &vmcb->control;
    struct sk_vmcb_save *s = &vmcb->save;
    uint64_t code = pick_exit_code();
    uint8_t what = next();
    c->exit_code = code;
    c->exit_info1 = what & 1 ? next64(8) : next64(4);
    c->exit_info2 = what & 2 ? next64(8) : s->rip + (next() & 15);
    c->exit_int_info = what & 4 ? next64(8) : 0;
    if (what & 8)
        s->rip = what & 0x80 ? next64(8) : next64(2);
    if (what & 16)
        s->rax = next64(8);
    if (what & 32)
        s->rflags = (next64(4) & 0x3f7fd7ull) | 2;              /* the CPU keeps reserved bits */
    if (what & 64)
        c->int_state = next() & 1;
    return code;
}

static uint64_t f_vmrun(void *ctx, struct sk_svm_vp *v)
{
    (void)ctx;
    CHECK(v == &vp && v->vmcb == vmcb, "vmrun on another VP");
    CHECK(vmcb->save.efer & EFER_SVME, "VMRUN with EFER.SVME clear: 0x%llx",
          (unsigned long long)vmcb->save.efer);
    CHECK(vmcb->control.intercept_misc2 & SK_SVM_I2_VMRUN, "VMRUN without the VMRUN intercept");
    CHECK(vmcb->control.asid != 0, "ASID 0");
    vmruns++;
    if (vmruns > MAX_VMRUNS || !more()) {
        cp()->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
        vmcb->control.exit_code = SK_SVM_EXIT_INTR;
        vmcb->control.exit_int_info = 0;
        return SK_SVM_EXIT_INTR;
    }
    uint64_t code = simulate_exit();
    if (next() & 1)
        cp()->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;           /* the host stops the run */
    return code;
}

static bool f_read_gpa(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    CHECK(n > 0 && n <= PAGE && (gpa & (PAGE - 1)) + n <= PAGE,
          "read_gpa(0x%llx, %u) crosses a page", (unsigned long long)gpa, n);
    uint64_t off;
    if (gpa < ram_size && n <= ram_size - gpa)
        off = gpa;
    else if (ram_size >= SK_SVM_RESET_ALIAS_SIZE && gpa >= SK_SVM_RESET_ALIAS &&
             gpa + n <= SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE)
        off = ram_size - SK_SVM_RESET_ALIAS_SIZE + (gpa - SK_SVM_RESET_ALIAS);
    else
        return false;
    memcpy(dst, ram + off, n);
    return true;
}

static void f_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)ctx;
    out[0] = leaf;
    out[1] = subleaf;
    out[2] = 0;
    out[3] = 0;
}

static void f_halt_wait(void *ctx, const volatile uint8_t *status)
{
    (void)ctx;
    CHECK(status == &cp()->cpu_status[1], "halt_wait on another status byte");
    if (++halt_waits >= MAX_HALT_WAITS || next() & 1)
        cp()->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
}

static struct sidecar_fxsave_area cpu_fx;
static int fx_depth;

static void f_fx_load(void *ctx, const struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    memcpy(&cpu_fx, fx, sizeof(cpu_fx));
    fx_depth = 1;
}

static void f_fx_store(void *ctx, struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    CHECK(fx_depth == 1, "fx_store without fx_load");
    memcpy(fx, &cpu_fx, sizeof(cpu_fx));
    fx_depth = 0;
}

static uint64_t f_rdtsc(void *ctx)
{
    (void)ctx;
    return 0x123456789ull;
}

static const struct sk_svm_ops ops = { f_vmrun, f_read_gpa, f_cpuid, f_halt_wait, f_fx_load, f_fx_store, f_rdtsc,
                                      NULL, NULL };
static void f_park(void *ctx, const volatile uint8_t *s) { (void)ctx; (void)s; }
static const struct sk_arch arch = { NULL, f_park, NULL, NULL, NULL, NULL };

/* ---- invariants ---- */

static bool has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

static void check_eventinj(void)
{
    uint64_t e = vmcb->control.event_inj;
    if (!(e & SK_SVM_EVENT_VALID))
        return;
    unsigned type = (unsigned)((e & SK_SVM_EVENT_TYPE_MASK) >> SK_SVM_EVENT_TYPE_SHIFT);
    unsigned vector = (unsigned)(e & 0xffu);
    bool ev = e & SK_SVM_EVENT_EV;
    CHECK(type == 0 || type == 2 || type == 3 || type == 4, "EVENTINJ 0x%llx: type %u", (unsigned long long)e, type);
    CHECK(!(e & 0x7ffff000ull), "EVENTINJ 0x%llx: reserved bits", (unsigned long long)e);
    if (type == 2)
        CHECK(vector == 2 && !ev, "EVENTINJ 0x%llx: NMI", (unsigned long long)e);
    if (type == 3)
        CHECK(vector < 32 && vector != 2 && (!ev || has_error_code(vector)),
              "EVENTINJ 0x%llx: exception", (unsigned long long)e);
    if (type != 3)
        CHECK(!ev, "EVENTINJ 0x%llx: error code on a non-exception", (unsigned long long)e);
}

static void check_always(void)
{
    CHECK(vmcb->save.efer & EFER_SVME, "VMCB EFER 0x%llx without SVME", (unsigned long long)vmcb->save.efer);
    CHECK(!(vp.efer & EFER_SVME), "the guest's EFER shows SVME");
    CHECK(vmcb->control.intercept_misc2 & SK_SVM_I2_VMRUN, "the VMRUN intercept is gone");
    CHECK(vmcb->control.np_control & 1, "nested paging off");
    CHECK(vmcb->control.n_cr3 == 0x7100000, "nCR3 changed");
    CHECK(vmcb->control.iopm_base_pa == 0x7000000 && vmcb->control.msrpm_base_pa == 0x7003000,
          "permission maps changed");
    CHECK(vmcb->control.intercept_misc1 & SK_SVM_I1_IOIO && vmcb->control.intercept_misc1 & SK_SVM_I1_MSR,
          "IO/MSR intercepts gone");
}

static void check_message(const struct sidecar_hv_message *m)
{
    CHECK(m->header.payload_size <= sizeof(m->payload), "payload size %u", m->header.payload_size);
    uint32_t t = m->header.message_type;
    CHECK(t == SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA || t == SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION ||
          t == SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT || t == SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT ||
          t == SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT || t == SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT ||
          t == SIDECAR_HV_MESSAGE_TYPE_X64_INTERRUPTION_DELIVERABLE || t == SIDECAR_HV_MESSAGE_TYPE_X64_HALT,
          "message type 0x%x", t);
    struct sidecar_hv_x64_intercept_message_header h;
    memcpy(&h, m->payload, sizeof(h));
    CHECK(h.vp_index == 7, "vp_index %u", h.vp_index);
}

/* ---- the program's steps ---- */

static const uint32_t names[] = {
    N(RAX), N(RCX), N(RDX), N(RBX), N(RSP), N(RBP), N(RSI), N(RDI), N(R8), N(R15), N(RIP), N(RFLAGS),
    N(XMM0), N(XMM15), N(FP_MMX0), N(FP_CONTROL_STATUS), N(XMM_CONTROL_STATUS),
    N(CR0), N(CR2), N(CR3), N(CR4), N(CR8), N(XFEM), N(DR0), N(DR1), N(DR2), N(DR3), N(DR6), N(DR7),
    N(ES), N(CS), N(SS), N(DS), N(FS), N(GS), N(LDTR), N(TR), N(IDTR), N(GDTR),
    N(TSC), N(EFER), N(KERNEL_GS_BASE), N(APIC_BASE), N(PAT), N(SYSENTER_CS), N(SYSENTER_EIP),
    N(SYSENTER_ESP), N(STAR), N(LSTAR), N(CSTAR), N(SFMASK), N(TSC_AUX), N(VP_INDEX),
    N(INTERNAL_ACTIVITY_STATE), N(PENDING_INTERRUPTION), N(INTERRUPT_STATE), N(DELIVERABILITY_NOTIFICATIONS),
    SK_SVM_REG_INTERCEPT_CONTROL, 0x7f000002u, 0xffffffffu,
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static struct sk_vmcb vmcb_before;
static _Alignas(64) struct sk_svm_vp vp_before;

static void step_set(void)
{
    uint32_t name = names[next() % N_NAMES];
    uint8_t how = next();
    struct sidecar_hv_register_value v = { 0, 0 };
    if ((how & 3) == 0) {
        v.low = next64(8);
        v.high = next64(8);
    } else if ((how & 3) == 1) {
        v.low = next();
    } else {
        /* One bit flipped in the current value: the edges of every check. */
        if (sk_svm_get_register(&vp, name, &v) != SIDECAR_HV_STATUS_SUCCESS)
            v.low = v.high = 0;
        unsigned bit = next() & 127u;
        if (bit < 64)
            v.low ^= 1ull << bit;
        else
            v.high ^= 1ull << (bit - 64);
        if ((how & 3) == 3) {
            bit = next() & 63u;
            v.low ^= 1ull << bit;
        }
    }
    memcpy(&vmcb_before, vmcb, sizeof(vmcb_before));
    memcpy(&vp_before, &vp, sizeof(vp_before));
    uint16_t st = sk_svm_set_register(&vp, name, &v);
    CHECK(st == SIDECAR_HV_STATUS_SUCCESS || st == SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE ||
          st == SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME || st == SIDECAR_HV_STATUS_ACCESS_DENIED,
          "SET 0x%x: status 0x%x", name, st);
    if (st == SIDECAR_HV_STATUS_SUCCESS) {
        const char *bad = sk_svm_check_state(&vp);
        CHECK(!bad, "SET 0x%x = 0x%llx:0x%llx accepted but the state fails: %s", name,
              (unsigned long long)v.high, (unsigned long long)v.low, bad);
    } else {
        CHECK(!memcmp(&vmcb_before, vmcb, sizeof(vmcb_before)), "refused SET 0x%x changed the VMCB", name);
        CHECK(!memcmp(&vp_before, &vp, sizeof(vp_before)), "refused SET 0x%x changed the VP", name);
    }
    struct sidecar_hv_register_value r;
    uint16_t g = sk_svm_get_register(&vp, name, &r);
    CHECK(g == SIDECAR_HV_STATUS_SUCCESS || g == SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME,
          "GET 0x%x: status 0x%x", name, g);
}

/* One exit as sk_svm_run handles it, without the run. */
static void step_exit(void)
{
    struct sk_vmcb_save *s = &vmcb->save;
    s->rax = vp.base.gpr[SK_VP_RAX];
    s->rsp = vp.base.gpr[SK_VP_RSP];
    s->rip = vp.base.rip;
    s->rflags = vp.base.rflags;
    s->cr2 = vp.base.cr2;
    uint64_t code = simulate_exit();
    vp.base.gpr[SK_VP_RAX] = s->rax;
    vp.base.gpr[SK_VP_RSP] = s->rsp;
    vp.base.rip = s->rip;
    vp.base.rflags = s->rflags;
    vp.base.cr2 = s->cr2;
    vp.efer = s->efer & ~EFER_SVME;
    if (next() & 1)
        for (int i = 0; i < 16; i++)
            if (i != SK_VP_RSP)
                vp.base.gpr[i] = next() & 1 ? next64(8) : next();
    struct sidecar_hv_message msg;
    memset(&msg, 0xa5, sizeof(msg));
    const char *why = NULL;
    enum sk_svm_action a = sk_svm_handle_exit(&vp, code, &msg, &why);
    CHECK(a == SK_SVM_RESUME || a == SK_SVM_INTERCEPT || a == SK_SVM_HALTED || a == SK_SVM_FAILED, "action %d", a);
    if (a == SK_SVM_FAILED)
        CHECK(why && *why, "FAILED without a reason");
    if (a == SK_SVM_INTERCEPT)
        check_message(&msg);
    if (a == SK_SVM_HALTED)
        CHECK(vp.activity & SK_SVM_ACTIVITY_HALT_SUSPEND, "HALTED but not halted");
    if ((uint32_t)code == SK_SVM_EXIT_INVALID_32)
        CHECK(vp.base.rip == 0xfff0 && vmcb->save.cs.selector == 0xf000, "VMEXIT_INVALID without reset");
    bool runs = sk_svm_prepare_entry(&vp);
    if (runs)
        CHECK(!(vp.activity & SK_SVM_ACTIVITY_HALT_SUSPEND), "runs while halted");
    check_eventinj();
}

static void step_run(void)
{
    struct sidecar_command_page *c = (struct sidecar_command_page *)command;
    if (next() & 1)
        for (int i = 0; i < 16; i++)
            c->cpu_context.gps[i] = next64(next() & 1 ? 8 : 1);
    if (next() & 1)
        c->cpu_context.fx_state.mxcsr = (uint32_t)next64(4);
    vmruns = 0;
    halt_waits = 0;
    c->command = SIDECAR_COMMAND_RUN_VP;
    cp()->cpu_status[1] = SIDECAR_CPU_STATUS_RUN;
    enum sk_step st = sk_dispatch_poll(&cpu);
    CHECK(st == SK_STEP_COMMAND || st == SK_STEP_STOPPED, "dispatch step %d", st);
    CHECK(cp()->cpu_status[1] == SIDECAR_CPU_STATUS_IDLE, "status %u after RUN_VP", cp()->cpu_status[1]);
    CHECK(fx_depth == 0, "the run left the FX state loaded");
    if (!c->has_error && c->request_data[0] == 1)
        check_message(&c->intercept_message);
    check_eventinj();
}

static void step_translate(void)
{
    struct sidecar_translate_gva_request req = { .gvn = next64(next() & 1 ? 8 : 3), .control_flags = 0 };
    uint8_t f = next();
    req.control_flags = f & 0x80 ? next64(8) : (uint64_t)f | ((uint64_t)(next() & 7) << 8);
    struct sidecar_translate_gva_response resp;
    memset(&resp, 0xa5, sizeof(resp));
    sk_svm_translate_gva(&vp, &req, &resp);
    CHECK(resp.status == SIDECAR_HV_STATUS_SUCCESS || resp.status == SIDECAR_HV_STATUS_INVALID_PARAMETER,
          "translate status 0x%x", resp.status);
    if (resp.status != SIDECAR_HV_STATUS_SUCCESS)
        return;
    uint32_t rc = resp.output.translation_result.result_code;
    CHECK(rc <= SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNACCEPTED, "result code %u", rc);
    if (!(vmcb->save.cr0 & (1ull << 31))) {
        if (rc == SIDECAR_TRANSLATE_GVA_RESULT_CODE_PRIVILEGE_VIOLATION) {
            CHECK(req.control_flags & SK_TRANSLATE_SHADOW_STACK, "paging off: a privilege violation");
            return;
        }
        CHECK(rc == SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS || rc == SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNMAPPED,
              "paging off: result %u", rc);
        CHECK(resp.output.gpa_page == (req.gvn & 0xfffff), "paging off: not the identity");
        uint64_t gpa = resp.output.gpa_page << 12;
        bool in_ram = gpa < ram_size ||
                      (ram_size >= SK_SVM_RESET_ALIAS_SIZE && gpa >= SK_SVM_RESET_ALIAS);
        CHECK(in_ram == (rc == SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS), "paging off: RAM or not");
    }
}

static void step_ram(void)
{
    uint32_t off = (uint32_t)next64(3) % ram_size;
    uint32_t n = next() & 31u;
    for (uint32_t i = 0; i < n && off + i < ram_size; i++)
        ram[off + i] = next();
    if (off < dirty_lo)
        dirty_lo = off;
    if (off + n > dirty_hi)
        dirty_hi = off + n < ram_size ? off + n : ram_size;
}

/* Put the guest in one of the modes quickly (SETs can get there too, but
 * slowly): real mode at the reset vector, flat 32-bit, or long mode. */
static void step_mode(void)
{
    struct sidecar_hv_register_value v = { 0, 0 };
    uint8_t m = next() % 3;
    sk_svm_reset(&vp);
    if (m == 0)
        return;
    struct sidecar_hv_x64_segment_register cs = { 0, 0xffffffff, 8, m == 1 ? 0xc09b : 0xa09b };
    memcpy(&v, &cs, sizeof(cs));
    CHECK(sk_svm_set_register(&vp, N(CS), &v) == SIDECAR_HV_STATUS_SUCCESS, "CS");
    if (m == 2) {
        v = (struct sidecar_hv_register_value){ 0x20, 0 };
        CHECK(sk_svm_set_register(&vp, N(CR4), &v) == SIDECAR_HV_STATUS_SUCCESS, "CR4");
        v = (struct sidecar_hv_register_value){ 0x100, 0 };
        CHECK(sk_svm_set_register(&vp, N(EFER), &v) == SIDECAR_HV_STATUS_SUCCESS, "EFER");
    }
    v = (struct sidecar_hv_register_value){ m == 1 ? 0x11 : 0x80000011, 0 };
    CHECK(sk_svm_set_register(&vp, N(CR0), &v) == SIDECAR_HV_STATUS_SUCCESS, "CR0");
    v = (struct sidecar_hv_register_value){ next64(3), 0 };
    CHECK(sk_svm_set_register(&vp, N(RIP), &v) == SIDECAR_HV_STATUS_SUCCESS, "RIP");
    CHECK(!sk_svm_check_state(&vp), "mode %u: %s", m, sk_svm_check_state(&vp));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    if (!vmcb) {
        vmcb = aligned_alloc(PAGE, sizeof(*vmcb));
        if (!vmcb)
            abort();
    }
    uint32_t want = next() & 1 ? SMALL_RAM : BIG_RAM;
    if (!ram || ram_size != want) {
        free(ram);
        ram_size = want;
        ram = malloc(ram_size);
        if (!ram)
            abort();
        memset(ram, 0x90, ram_size);                             /* NOPs */
    } else if (dirty_lo < dirty_hi) {
        memset(ram + dirty_lo, 0x90, dirty_hi - dirty_lo);      /* what the last input wrote */
    }
    dirty_lo = UINT32_MAX;
    dirty_hi = 0;
    memset(vmcb, 0xcc, sizeof(*vmcb));
    memset(control, 0, sizeof(control));
    memset(command, 0, sizeof(command));
    cp()->cpu_count = 2;
    cp()->cpu_status[1] = SIDECAR_CPU_STATUS_IDLE;
    fx_depth = 0;
    struct sk_svm_config cfg = {
        .vmcb = vmcb, .iopm_pa = 0x7000000, .msrpm_pa = 0x7003000, .ncr3 = 0x7100000, .asid = next() & 3,
        .ram_size = ram_size, .mxcsr_mask = 0xffbf, .cpuid1_eax = 0x00a00f11, .ops = &ops,
    };
    sk_svm_init(&vp, 7, &cfg);
    sk_cpu_init(&cpu, cp(), (struct sidecar_command_page *)command, NULL, 1, 7, &arch, &sk_svm_backend, &vp);
    CHECK(!sk_svm_check_state(&vp), "reset state: %s", sk_svm_check_state(&vp));
    check_always();
    for (unsigned steps = 0; more() && steps < 64; steps++) {
        switch (next() % 8) {
        case 0: case 1: step_set(); break;
        case 2: case 3: step_exit(); break;
        case 4: step_run(); break;
        case 5: step_translate(); break;
        case 6: step_ram(); break;
        default: step_mode(); break;
        }
        check_always();
    }
    return 0;
}
