/* SPDX-License-Identifier: MIT */
/* The ring-3 VP backend, arch half (sidecar/vp.h says what it must do).
 *
 * Guest RAM is mapped user-accessible at GVA == GPA in every sidecar CPU's
 * page tables (boot.c). RUN_VP's sk_vp_run calls arch_enter, which IRETQs
 * to the VP at CPL3 (vp.asm). Every trap taken at CPL3 comes to sk_vp_trap
 * (entry.asm checks the frame's CS): it saves the guest's registers and FX
 * state into the VP, records the exit (vector, error code, CR2/DR6), EOIs
 * an interrupt, and returns from arch_enter through sk_vp_leave_asm. The
 * portable half then turns the exit into an intercept message, or (an
 * interrupt such as the request IPI) checks for STOP and re-enters. */
#include <scfree/scfree.h>
#include <scfree/x86.h>

#include <sidecar/kcore.h>
#include <sidecar/vp.h>

#include "kernel.h"

#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR4_MCE (1ull << 6)
#define CR4_OSFXSR (1ull << 9)
#define CPUID1_EDX_MCE (1u << 7)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)

/* CPUID faulting (Intel; also what KVM emulates): MSR_PLATFORM_INFO bit 31
 * says the CPU has it, MSR_MISC_FEATURES_ENABLES bit 0 turns it on; then
 * CPUID at CPL > 0 raises #GP(0), which the portable half classifies as a
 * CPUID intercept (0F A2 at RIP). */
#define MSR_PLATFORM_INFO 0xceu
#define PLATFORM_INFO_CPUID_FAULTING (1ull << 31)
#define MSR_MISC_FEATURES_ENABLES 0x140u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_EFER 0xc0000080u
#define EFER_SCE (1ull << 0)
#define MISC_FEATURES_CPUID_FAULTING (1ull << 0)

static void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static void stac(void) { if (sk_g.smap) __asm__ volatile("stac" ::: "memory", "cc"); }
static void clac(void) { if (sk_g.smap) __asm__ volatile("clac" ::: "memory", "cc"); }

/* Either MSR may be missing (#GP: CPUs and hypervisors without the
 * feature, QEMU TCG), hence the safe accessors; writing back the value
 * read checks that the enable register is writable. */
static const char *probe_why;
static uint64_t probe_info;

bool sk_vp_probe_cpuid_faulting(void)
{
    uint64_t info = 0, misc = 0;
    const char *why = NULL;
    if (!sk_rdmsr_safe(MSR_PLATFORM_INFO, &info))
        why = "RDMSR MSR_PLATFORM_INFO (0xce) raised #GP";
    else if (!(info & PLATFORM_INFO_CPUID_FAULTING))
        why = "MSR_PLATFORM_INFO bit 31 clear";
    else if (!sk_rdmsr_safe(MSR_MISC_FEATURES_ENABLES, &misc) || !sk_wrmsr_safe(MSR_MISC_FEATURES_ENABLES, misc))
        why = "MSR_MISC_FEATURES_ENABLES (0x140) raised #GP";
    probe_why = why;
    probe_info = info;
    return !why;
}

/* What the probe found, logged by the BSP once it has started its CPUs
 * (a serial line costs about 1 ms under TCG: not before the first INIT). */
void sk_vp_log_cpuid_faulting(void)
{
    klog("CPUID faulting: %s%s (platform_info %lx)", probe_why ? "none, " : "available",
         probe_why ? probe_why : "", probe_info);
}

/* On for as long as the CPU is a sidecar CPU: it runs nothing else at CPL3,
 * and CPL0 CPUID is unaffected, so there is no need for two WRMSRs (each a
 * VM exit under a hypervisor) around every run. Off again when the CPU
 * leaves (sk_vp_cpu_off): the main kernel gets it back as it was. */
static void cpuid_faulting(bool on)
{
    uint64_t misc;
    if (!sk_rdmsr_safe(MSR_MISC_FEATURES_ENABLES, &misc))
        return;
    uint64_t want = on ? misc | MISC_FEATURES_CPUID_FAULTING : misc & ~MISC_FEATURES_CPUID_FAULTING;
    if (want != misc && !sk_wrmsr_safe(MSR_MISC_FEATURES_ENABLES, want) && on)
        __atomic_store_n(&sk_g.cpuid_faulting, false, __ATOMIC_RELAXED);   /* this CPU could not: report none */
}

void sk_vp_cpu_off(void)
{
    if (sk_g.cpuid_faulting)
        cpuid_faulting(false);
}

void sk_vp_cpu_setup(void)
{
    if (sk_g.cpuid_faulting)
        cpuid_faulting(true);
    /* No hardware breakpoint left armed from before the CPU was ours (the
     * kernel never sets any, and a guest at CPL3 cannot: MOV DR faults). */
    __asm__ volatile("mov %0, %%dr7" : : "r"(0x400ull));
    /* FXSAVE/FXRSTOR with the XMM state, SSE for the guest, no lazy FPU. */
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    this_cpu()->cr0_ts = false;
    uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
    /* Machine checks as #MC (the CPU reports and leaves, cpu.c) instead
     * of a shutdown, which takes a whole VM down. */
    if (cpuid(1, 0).edx & CPUID1_EDX_MCE)
        cr4 |= CR4_MCE;
    if (sk_g.smep)
        cr4 |= CR4_SMEP;   /* the kernel never runs guest code */
    if (sk_g.smap)
        cr4 |= CR4_SMAP;   /* nor reads guest RAM but in read_guest (STAC/CLAC) */
    /* SGDT, SIDT, SLDT, SMSW and STR at CPL3 raise #GP instead of telling
     * a ring-3 guest where the kernel's tables are and what CR0 holds. */
    if (sk_g.umip)
        cr4 |= CR4_UMIP;
    write_cr4(cr4);
    /* The ring-3 guest's SYSCALL and SYSENTER must fault (#UD, #GP), not
     * enter the kernel at whatever STAR/LSTAR or SYSENTER_EIP firmware or
     * an earlier kernel left: INIT need not clear them and the AP path
     * keeps the EFER bits it finds. EFER.SCE off, SYSENTER_CS 0 (SYSENTER
     * then raises #GP where it exists in long mode, #UD elsewhere). The
     * svm backend's guests have their own EFER and SYSENTER state in the
     * VMCB; these are the host's. */
    uint64_t efer;
    if (sk_rdmsr_safe(MSR_EFER, &efer) && (efer & EFER_SCE))
        sk_wrmsr_safe(MSR_EFER, efer & ~EFER_SCE);
    sk_wrmsr_safe(MSR_SYSENTER_CS, 0);
    sk_wrmsr_safe(MSR_SYSENTER_ESP, 0);
    sk_wrmsr_safe(MSR_SYSENTER_EIP, 0);
}

/* CR0.TS as this CPU has it: set, the guest's FPU use traps (#NM), which
 * is how the portable half loads the FX state only for runs that use it.
 * The kernel never uses the FPU itself (-mgeneral-regs-only). */
static void set_ts(struct sk_percpu *pc, bool on)
{
    if (pc->cr0_ts == on)
        return;
    if (on)
        write_cr0(read_cr0() | CR0_TS);
    else
        __asm__ volatile("clts" ::: "memory");
    pc->cr0_ts = on;
}

static int arch_enter(void *ctx, struct sk_vp *vp)
{
    struct sk_percpu *pc = ctx;
    /* Parked with MWAIT, this CPU saw RUN by the status write alone; the
     * host's request IPI follows and is usually pending by now. Take it
     * here, in the kernel, rather than as an interrupt exit from the guest
     * right after entering (one more trip out and back in). */
    if (sk_g.use_mwait)
        __asm__ volatile("sti; nop; cli" ::: "memory");
    cpu_cli();
    if (vp->fx_live) {
        set_ts(pc, false);
        __asm__ volatile("fxrstor %0" : : "m"(vp->fx));
    } else {
        set_ts(pc, true);
    }
    /* TSS.rsp0 becomes the RSP below the registers enter saves (vp.asm);
     * restored afterwards for the kernel's own traps (there are none at
     * CPL0 that switch stacks, but keep the documented value). */
    int rc = sk_vp_enter_asm(vp, &pc->vp_kernel_rsp, &pc->tss);
    pc->tss.rsp[0] = PERCPU_STACK_TOP;
    return rc;
}

static uint32_t arch_read_guest(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    uint64_t base = sk_g.guest_ram_base, size = sk_g.guest_ram_size;
    if (gpa < base || gpa - base >= size)
        return 0;
    if (n > size - (gpa - base))
        n = (uint32_t)(size - (gpa - base));
    uint8_t *d = dst;
    uint32_t i = 0;
    stac();
    /* Eight bytes at a time (x86 allows unaligned loads), the rest by byte;
     * never past n, which stays inside guest RAM. */
    for (; i + 8 <= n; i += 8) {
        typedef uint64_t __attribute__((may_alias, aligned(1))) u64_unaligned;
        *(u64_unaligned *)(d + i) = *(const volatile uint64_t *)(uintptr_t)(gpa + i);
    }
    for (; i < n; i++)
        d[i] = *(const volatile uint8_t *)(uintptr_t)(gpa + i);
    clac();
    return n;
}

void sk_vp_arch_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)ctx;
    struct cpuid_regs r = cpuid(leaf, subleaf);
    out[0] = r.eax;
    out[1] = r.ebx;
    out[2] = r.ecx;
    out[3] = r.edx;
}

static const struct sk_vp_ops vp_ops = {
    .enter = arch_enter,
    .read_guest = arch_read_guest,
    .cpuid = sk_vp_arch_cpuid,
};

void sk_vp_cpu_init(struct sk_percpu *pc)
{
    /* MXCSR_MASK from one FXSAVE (the VP's FX area is the scratch). */
    __asm__ volatile("fxsave %0" : "=m"(pc->vp.fx));
    uint32_t mxcsr_mask = pc->vp.fx.mxcsr_mask;
    struct sk_vp_config cfg = {
        .ram = { sk_g.guest_ram_base, sk_g.guest_ram_size, SK_VP_RAM_ALL },
        .cs = GDT_UCODE | 3, .ss = GDT_UDATA | 3,
        .ds = GDT_UDATA | 3, .es = GDT_UDATA | 3, .fs = 0, .gs = 0,
        .mxcsr_mask = mxcsr_mask,
        .ops = &vp_ops,
        .ops_ctx = pc,
    };
    sk_vp_init(&pc->vp, pc->cpu_index, &cfg);
    pc->tss.rsp[0] = PERCPU_STACK_TOP;
}

void sk_vp_trap(struct trap_frame *f)
{
    struct sk_percpu *pc = this_cpu();
    struct sk_vp *vp = &pc->vp;
    /* A CPL3 frame only comes from a VP this CPU entered; anything else
     * (a frame that is not what it seems) must not send the CPU back onto
     * a stack that is no longer there: it is reported as an exception. */
    if (!pc->vp_kernel_rsp) {
        sk_trap(f);
        sk_park_forever();
    }
    if (vp->fx_live)
        __asm__ volatile("fxsave %0" : "=m"(vp->fx));
    vp->gpr[SK_VP_RAX] = f->rax;
    vp->gpr[SK_VP_RCX] = f->rcx;
    vp->gpr[SK_VP_RDX] = f->rdx;
    vp->gpr[SK_VP_RBX] = f->rbx;
    vp->gpr[SK_VP_RSP] = f->rsp;
    vp->gpr[SK_VP_RBP] = f->rbp;
    vp->gpr[SK_VP_RSI] = f->rsi;
    vp->gpr[SK_VP_RDI] = f->rdi;
    vp->gpr[SK_VP_R8] = f->r8;
    vp->gpr[SK_VP_R9] = f->r9;
    vp->gpr[SK_VP_R10] = f->r10;
    vp->gpr[SK_VP_R11] = f->r11;
    vp->gpr[SK_VP_R12] = f->r12;
    vp->gpr[SK_VP_R13] = f->r13;
    vp->gpr[SK_VP_R14] = f->r14;
    vp->gpr[SK_VP_R15] = f->r15;
    vp->rip = f->rip;
    vp->rflags = f->rflags;
    uint8_t v = (uint8_t)f->vector;
    uint64_t cr2 = 0, dr6 = 0;
    if (v == SK_VP_VECTOR_PF)
        cr2 = read_cr2();
    else if (v == SK_VP_VECTOR_DB)
        __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    vp->exit = sk_trap_vp_exit(f->vector, f->error, cr2, dr6);
    if (vp->exit.vector >= 32 && vp->exit.vector != SIDECAR_SPURIOUS_VECTOR)
        apic_eoi();
    uint64_t rsp = pc->vp_kernel_rsp;
    pc->vp_kernel_rsp = 0;   /* until the next entry */
    sk_vp_leave_asm(rsp);
}
