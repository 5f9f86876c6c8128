/* SPDX-License-Identifier: MIT */
/* A fake arch half for the SVM backend's unit tests (test_svm_*.c): a
 * page-aligned VMCB, guest RAM at GPA 0 with its last 2 MiB also at the
 * reset alias (0xFFE00000..4 GiB), and a scripted VMRUN that writes the
 * exit code, EXITINFO1/2, EXITINTINFO and guest state into the VMCB as the
 * hardware (QEMU TCG: no NRIP save, no decode assists) would. */
#ifndef TEST_SVM_FAKE_H
#define TEST_SVM_FAKE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/svm.h>

#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define FAKE_FN __attribute__((unused)) static
#define RAM_SIZE (4ull << 20)
#define ALIAS_RAM (RAM_SIZE - SK_SVM_RESET_ALIAS_SIZE)   /* RAM offset the alias shows */
#define CPUID1_EAX 0x00a00f11u
#define VP_INDEX 3u
#define KEEP UINT64_MAX                                  /* a step leaves the field alone */
#define EFER_SVME (1ull << 12)

/* STEP() gives "unchanged" defaults that a test's designators override. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* One scripted #VMEXIT. */
struct step {
    uint64_t code, info1, info2, intinfo;
    uint64_t rip, rax, rflags;          /* KEEP: unchanged */
    uint64_t int_state;                 /* KEEP: unchanged */
    bool request_stop;                  /* the host writes STOP while the guest runs */
    bool fx_write;                      /* the guest changes XMM0 in the CPU */
    uint64_t efer;                      /* 0: unchanged; else the VMCB EFER after the exit */
};

#define STEP(c, ...) { .code = (c), .rip = KEEP, .rax = KEEP, .rflags = KEEP, .int_state = KEEP, __VA_ARGS__ }

static struct {
    const struct step *steps;
    int nsteps, next;
    /* What each VMRUN saw. */
    uint64_t event_inj[16], rip[16], rax[16], rflags[16], int_ctl[16], misc1[16], cr2[16];
    uint8_t tlb[16];
    int reads, bad_reads, cpuids, halt_waits, halt_waits_before_stop, fx_loads, fx_stores;
    uint64_t last_read_gpa;
    uint64_t tsc;
    struct sidecar_fxsave_area cpu_fx;  /* the FX state "in the CPU" */
} fk;

static uint8_t *ram;
static uint64_t fake_ram_size = RAM_SIZE;   /* what read_gpa maps (a test may shrink it) */
static struct sk_vmcb *vmcb;
static struct sidecar_control_page *cp;
static struct sidecar_command_page *cmd;
static struct sk_cpu cpu;
static struct sk_svm_vp vp;

FAKE_FN uint64_t f_vmrun(void *ctx, struct sk_svm_vp *v)
{
    (void)ctx;
    cr_assert(fk.next < fk.nsteps, "VMRUN %d times, %d scripted", fk.next + 1, fk.nsteps);
    cr_assert_eq(v->vmcb, vmcb);
    struct sk_vmcb *b = v->vmcb;
    const struct step *s = &fk.steps[fk.next];
    int i = fk.next++;
    fk.event_inj[i] = b->control.event_inj;
    fk.rip[i] = b->save.rip;
    fk.rax[i] = b->save.rax;
    fk.rflags[i] = b->save.rflags;
    fk.int_ctl[i] = b->control.int_ctl;
    fk.misc1[i] = b->control.intercept_misc1;
    fk.cr2[i] = b->save.cr2;
    fk.tlb[i] = b->control.tlb_control;
    cr_assert(b->save.efer & EFER_SVME, "VMRUN with EFER.SVME clear");
    b->control.exit_code = s->code;
    b->control.exit_info1 = s->info1;
    b->control.exit_info2 = s->info2;
    b->control.exit_int_info = s->intinfo;
    if (s->rip != KEEP)
        b->save.rip = s->rip;
    if (s->rax != KEEP)
        b->save.rax = s->rax;
    if (s->rflags != KEEP)
        b->save.rflags = s->rflags;
    if (s->int_state != KEEP)
        b->control.int_state = s->int_state;
    if (s->efer)
        b->save.efer = s->efer;
    if (s->fx_write)
        fk.cpu_fx.xmm[0].low = 0xabc;
    if (s->request_stop)
        cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    return s->code;
}

/* GPA -> RAM offset for [gpa, gpa + n); false outside RAM and the alias. */
FAKE_FN bool f_map(uint64_t gpa, uint32_t n, uint64_t *off)
{
    if (gpa < fake_ram_size && n <= fake_ram_size - gpa) {
        *off = gpa;
        return true;
    }
    if (fake_ram_size >= SK_SVM_RESET_ALIAS_SIZE && gpa >= SK_SVM_RESET_ALIAS && gpa < SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE &&
        n <= SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE - gpa) {
        *off = fake_ram_size - SK_SVM_RESET_ALIAS_SIZE + (gpa - SK_SVM_RESET_ALIAS);
        return true;
    }
    return false;
}

FAKE_FN bool f_read_gpa(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    uint64_t off;
    fk.reads++;
    fk.last_read_gpa = gpa;
    if (!f_map(gpa, n, &off)) {
        fk.bad_reads++;
        return false;
    }
    memcpy(dst, ram + off, n);
    return true;
}

FAKE_FN void f_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)ctx;
    fk.cpuids++;
    out[0] = leaf + 1;
    out[1] = subleaf + 2;
    out[2] = 0xc;
    out[3] = 0xd;
}

FAKE_FN void f_halt_wait(void *ctx, const volatile uint8_t *status)
{
    (void)ctx;
    cr_assert_eq(status, &cp->cpu_status[1], "halt_wait watches this CPU's status byte");
    fk.halt_waits++;
    if (fk.halt_waits >= fk.halt_waits_before_stop)
        cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
}

FAKE_FN void f_fx_load(void *ctx, const struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    fk.fx_loads++;
    memcpy(&fk.cpu_fx, fx, sizeof(fk.cpu_fx));
}

FAKE_FN void f_fx_store(void *ctx, struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    fk.fx_stores++;
    memcpy(fx, &fk.cpu_fx, sizeof(fk.cpu_fx));
}

FAKE_FN uint64_t f_rdtsc(void *ctx)
{
    (void)ctx;
    return fk.tsc;
}

/* XCR0: the fake CPU's, with the bits fk_xsave_supported says it has
 * (0: no XSAVE). */
static uint64_t fk_xcr0 = 1, fk_xsave_supported = 0x7;

FAKE_FN uint64_t f_xcr0_get(void *ctx, uint64_t *supported)
{
    (void)ctx;
    *supported = fk_xsave_supported;
    return fk_xcr0;
}

FAKE_FN void f_xcr0_set(void *ctx, uint64_t v)
{
    (void)ctx;
    fk_xcr0 = v;
}

static const struct sk_svm_ops fake_ops = {
    f_vmrun, f_read_gpa, f_cpuid, f_halt_wait, f_fx_load, f_fx_store, f_rdtsc, f_xcr0_get, f_xcr0_set,
};

FAKE_FN void f_park(void *ctx, const volatile uint8_t *s) { (void)ctx; (void)s; }
static const struct sk_arch fake_arch = { NULL, f_park, NULL, NULL, NULL, NULL };

FAKE_FN struct sk_svm_config fake_config(void)
{
    struct sk_svm_config c = {
        .vmcb = vmcb, .iopm_pa = 0x7000000, .msrpm_pa = 0x7003000, .ncr3 = 0x7100000,
        .asid = 5, .ram_size = RAM_SIZE, .mxcsr_mask = 0xffff, .cpuid1_eax = CPUID1_EAX,
        .ops = &fake_ops, .ops_ctx = NULL,
    };
    return c;
}

FAKE_FN void fake_setup(void)
{
    memset(&fk, 0, sizeof(fk));
    fk.halt_waits_before_stop = 1;
    fake_ram_size = RAM_SIZE;
    ram = malloc(RAM_SIZE);
    cr_assert(ram);
    memset(ram, 0x90, RAM_SIZE);           /* NOPs */
    vmcb = aligned_alloc(4096, sizeof(*vmcb));
    cp = aligned_alloc(4096, 4096);
    cmd = aligned_alloc(4096, 4096);
    memset(vmcb, 0xcc, sizeof(*vmcb));     /* init must not rely on a zeroed VMCB */
    memset(cp, 0, 4096);
    memset(cmd, 0, 4096);
    cp->cpu_count = 2;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_IDLE;
    memset(&vp, 0x5a, sizeof(vp));         /* nor on a zeroed VP */
    struct sk_svm_config c = fake_config();
    sk_svm_init(&vp, VP_INDEX, &c);
    sk_cpu_init(&cpu, cp, cmd, NULL, 1, VP_INDEX, &fake_arch, &sk_svm_backend, &vp);
    cmd->cpu_context.fx_state.fcw = 0x37f;
    cmd->cpu_context.fx_state.mxcsr = 0x1f80;
}

FAKE_FN void fake_teardown(void)
{
    free(ram);
    free(vmcb);
    free(cp);
    free(cmd);
}

FAKE_FN void script(const struct step *s, int n)
{
    fk.steps = s;
    fk.nsteps = n;
    fk.next = 0;
}

/* One command through the dispatch core; the CPU is IDLE after it. */
FAKE_FN void command(uint32_t c)
{
    cmd->command = c;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_RUN;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_COMMAND);
    cr_assert_eq(cp->cpu_status[1], SIDECAR_CPU_STATUS_IDLE);
}

FAKE_FN uint64_t get(uint32_t name)
{
    struct sidecar_hv_register_value v = { 1, 1 };
    cr_assert_eq(sk_svm_get_register(&vp, name, &v), SIDECAR_HV_STATUS_SUCCESS, "GET 0x%x", name);
    return v.low;
}

FAKE_FN uint16_t set(uint32_t name, uint64_t low)
{
    struct sidecar_hv_register_value v = { low, 0 };
    return sk_svm_set_register(&vp, name, &v);
}

FAKE_FN void set_ok(uint32_t name, uint64_t low)
{
    cr_assert_eq(set(name, low), SIDECAR_HV_STATUS_SUCCESS, "SET 0x%x = 0x%llx", name,
                 (unsigned long long)low);
    cr_assert_null(sk_svm_check_state(&vp), "state checks after SET 0x%x: %s", name,
                   sk_svm_check_state(&vp));
}

FAKE_FN struct sidecar_hv_x64_segment_register get_seg(uint32_t name)
{
    struct sidecar_hv_register_value v;
    cr_assert_eq(sk_svm_get_register(&vp, name, &v), SIDECAR_HV_STATUS_SUCCESS);
    struct sidecar_hv_x64_segment_register r;
    memcpy(&r, &v, sizeof(r));
    return r;
}

FAKE_FN uint16_t set_seg(uint32_t name, uint64_t base, uint32_t limit, uint16_t sel, uint16_t attr)
{
    struct sidecar_hv_x64_segment_register r = { base, limit, sel, attr };
    struct sidecar_hv_register_value v;
    memcpy(&v, &r, sizeof(v));
    return sk_svm_set_register(&vp, name, &v);
}

/* A flat 64-bit long-mode guest at CPL0 with paging on (page tables are
 * never walked by these tests unless they say so). */
FAKE_FN void long_mode(void)
{
    set_ok(N(CR4), 0x20);                               /* PAE */
    set_ok(N(EFER), 0x500 & ~0x400ull);                 /* LME */
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 0x08, 0xa09b), SIDECAR_HV_STATUS_SUCCESS);
    set_ok(N(CR0), 0x80000011);                         /* PG PE ET */
}

FAKE_FN const struct sidecar_hv_message *message(void) { return &cmd->intercept_message; }

#define PAYLOAD(type, var) type var; memcpy(&var, message()->payload, sizeof(var))

#endif
