/* SPDX-License-Identifier: MIT */
/* The SVM VP backend, arch half (sidecar/svm.h says what it supplies).
 *
 * At boot the BSP decides the backend (sk_svm_probe), fills the shared
 * permission maps (every I/O port and every MSR intercepted but the few
 * the guest owns outright) and builds each node's nested page tables
 * (boot.c). Each sidecar CPU then sets EFER.SVME and its host save area,
 * maps its VMCB at SLOT_VMCB and initializes its VP in the reset state.
 *
 * One VMRUN (sk_svm_vmrun_asm) runs with GIF clear around it; after the
 * #VMEXIT the CPU still has the guest's TR, LDTR, FS and GS (VMRUN does not
 * restore them; VMSAVE stored them in the VMCB), so the kernel's TR is
 * loaded again before STGI lets held interrupts and NMIs in: the kernel's
 * interrupt gates may switch stacks through the TSS. The guest's
 * STAR/LSTAR/CSTAR/SFMASK, KernelGsBase and SYSENTER MSRs stay loaded; the
 * kernel never executes SYSCALL, SYSENTER or SWAPGS, and a converted CPU
 * is INITed and set up by the main kernel. DR0-3 are emulated (svm/run.c),
 * so the hardware's hold the guest's only while its DR7 enables them. */
#include <scfree/scfree.h>
#include <scfree/x86.h>

#include <sidecar/kcore.h>
#include <sidecar/svm.h>

#include "kernel.h"

#define MSR_EFER 0xc0000080u
#define EFER_SVME (1ull << 12)
#define MSR_VM_CR 0xc0010114u
#define VM_CR_SVMDIS (1ull << 4)
#define MSR_VM_HSAVE_PA 0xc0010117u

void sk_svm_vmrun_asm(uint64_t vmcb_pa, uint64_t *gprs);

/* The permission maps, shared by every CPU (they never change after boot). */
static uint8_t iopm[SK_SVM_IOPM_SIZE] __attribute__((aligned(4096)));
static uint8_t msrpm[SK_SVM_MSRPM_SIZE] __attribute__((aligned(4096)));

static uint64_t image_pa(const void *p)
{
    return sk_g.kernel_pa + ((uint64_t)(uintptr_t)p - KERNEL_VBASE);
}

const char *sk_svm_probe(void)
{
    if (cpuid(0x80000000u, 0).eax < 0x8000000au)
        return "CPUID has no leaf 0x8000000A";
    if (!(cpuid(0x80000001u, 0).ecx & (1u << 2)))
        return "no SVM (CPUID 0x80000001 ECX bit 2)";
    struct cpuid_regs a = cpuid(0x8000000au, 0);
    if (!(a.edx & 1u))
        return "no nested paging (CPUID 0x8000000A EDX bit 0)";
    if (a.ebx < 2)
        return "fewer than 2 ASIDs (CPUID 0x8000000A EBX)";
    uint64_t vmcr = 0;
    if (!sk_rdmsr_safe(MSR_VM_CR, &vmcr))
        return "VM_CR (0xC0010114) cannot be read";
    if (vmcr & VM_CR_SVMDIS)
        return "SVM disabled by the firmware (VM_CR.SVMDIS)";
    return NULL;
}

/* MSRs the guest reads and writes directly: VMLOAD/VMSAVE swap them. */
static void msr_pass(uint32_t msr, bool read, bool write)
{
    uint32_t base;
    if (msr < 0x2000u)
        base = 0;
    else if (msr >= 0xc0000000u && msr < 0xc0002000u)
        base = 0x800, msr -= 0xc0000000u;
    else
        return;
    uint32_t bit = 2 * msr;
    uint8_t *b = &msrpm[base + bit / 8];
    if (read)
        *b &= (uint8_t)~(1u << (bit % 8));
    if (write)
        *b &= (uint8_t)~(2u << (bit % 8));
}

void sk_svm_bsp_init(void)
{
    sk_fill64(iopm, ~0ull, sizeof(iopm));
    sk_fill64(msrpm, ~0ull, sizeof(msrpm));
    static const uint32_t own[] = {
        0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u,   /* STAR, LSTAR, CSTAR, SFMASK */
        0xc0000100u, 0xc0000101u, 0xc0000102u,                /* FS/GS base, KernelGsBase */
        0x174u, 0x175u, 0x176u,                               /* SYSENTER_CS/ESP/EIP */
    };
    for (unsigned i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        msr_pass(own[i], true, true);
    msr_pass(0x10u, true, false);   /* TSC: reads run natively (with the offset), writes are virtualized */
}

/* ---- the ops ------------------------------------------------------------------ */

static uint64_t arch_vmrun(void *ctx, struct sk_svm_vp *vp)
{
    struct sk_percpu *pc = ctx;
    uint64_t dr7 = vp->vmcb->save.dr7;
    if (dr7 & 0xffu) {
        /* The guest has breakpoints enabled: they need its DR0-3. */
        __asm__ volatile("mov %0, %%dr0" : : "r"(vp->dr[0]));
        __asm__ volatile("mov %0, %%dr1" : : "r"(vp->dr[1]));
        __asm__ volatile("mov %0, %%dr2" : : "r"(vp->dr[2]));
        __asm__ volatile("mov %0, %%dr3" : : "r"(vp->dr[3]));
    }
    cpu_cli();
    __asm__ volatile("clgi" ::: "memory");
    sk_svm_vmrun_asm(pc->vmcb_pa, vp->base.gpr);
    /* The kernel's TR (clear the busy bit first), no LDTR. */
    pc->gdt[GDT_TSS / 8] &= ~(1ull << 41);
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)GDT_TSS) : "memory");
    __asm__ volatile("lldt %w0" : : "r"((uint16_t)0) : "memory");
    if (vp->vmcb->save.dr7 & 0xffu)
        __asm__ volatile("mov %0, %%dr7" : : "r"((uint64_t)0x400));
    __asm__ volatile("stgi" ::: "memory");   /* held interrupts are taken here (IF is set) */
    cpu_cli();
    return vp->vmcb->control.exit_code;
}

static bool arch_read_gpa(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    uint64_t size = sk_g.guest_ram_size, hpa;
    if (gpa < size && n <= size - gpa)
        hpa = sk_g.guest_ram_base + gpa;
    else if (size >= SK_SVM_RESET_ALIAS_SIZE && gpa >= SK_SVM_RESET_ALIAS &&
             gpa < SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE &&
             n <= SK_SVM_RESET_ALIAS + SK_SVM_RESET_ALIAS_SIZE - gpa)
        hpa = sk_g.guest_ram_base + size - SK_SVM_RESET_ALIAS_SIZE + (gpa - SK_SVM_RESET_ALIAS);
    else
        return false;
    const volatile uint8_t *s = (const volatile uint8_t *)(uintptr_t)hpa;
    uint8_t *d = dst;
    for (uint32_t i = 0; i < n; i++)
        d[i] = s[i];
    return true;
}

static void arch_halt_wait(void *ctx, const volatile uint8_t *status)
{
    (void)ctx;
    cpu_cli();
    if (sk_g.use_mwait) {
        __asm__ volatile("monitor" : : "a"(status), "c"(0), "d"(0));
        if (__atomic_load_n(status, __ATOMIC_ACQUIRE) == SIDECAR_CPU_STATUS_RUN)
            __asm__ volatile("sti; mwait; cli" : : "a"(0), "c"(0) : "memory");
        return;
    }
    if (__atomic_load_n(status, __ATOMIC_ACQUIRE) == SIDECAR_CPU_STATUS_RUN)
        cpu_sti_hlt();
    cpu_cli();
}

static void arch_fx_load(void *ctx, const struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    __asm__ volatile("fxrstor %0" : : "m"(*fx));
}

static void arch_fx_store(void *ctx, struct sidecar_fxsave_area *fx)
{
    (void)ctx;
    __asm__ volatile("fxsave %0" : "=m"(*fx));
}

static uint64_t arch_rdtsc(void *ctx)
{
    (void)ctx;
    return rdtsc();
}

/* XCR0: the guest's own (XSETBV is not intercepted). The kernel turns on
 * CR4.OSXSAVE where the CPU has XSAVE (sk_svm_cpu_init) so that it can read
 * and set it for GET/SET; it never uses XSAVE itself. */
static uint64_t xsave_supported;

static uint64_t arch_xcr0_get(void *ctx, uint64_t *supported)
{
    (void)ctx;
    *supported = xsave_supported;
    if (!xsave_supported)
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void arch_xcr0_set(void *ctx, uint64_t v)
{
    (void)ctx;
    if (xsave_supported && sk_svm_xcr0_valid(v, xsave_supported))
        __asm__ volatile("xsetbv" : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(0) : "memory");
}

static const struct sk_svm_ops svm_ops = {
    .vmrun = arch_vmrun,
    .read_gpa = arch_read_gpa,
    .cpuid = sk_vp_arch_cpuid,
    .halt_wait = arch_halt_wait,
    .fx_load = arch_fx_load,
    .fx_store = arch_fx_store,
    .rdtsc = arch_rdtsc,
    .xcr0_get = arch_xcr0_get,
    .xcr0_set = arch_xcr0_set,
};

/* On the AP, on its own page tables: SVM on, its host save area, its VP. */
void sk_svm_cpu_init(struct sk_percpu *pc, uint64_t vmcb_pa, uint64_t hsave_pa, uint64_t ncr3)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, hsave_pa);
    if (cpuid(1, 0).ecx & (1u << 26)) {     /* XSAVE */
        struct cpuid_regs d = cpuid(0xd, 0);
        write_cr4(read_cr4() | (1ull << 18));   /* OSXSAVE */
        __atomic_store_n(&xsave_supported, ((uint64_t)d.edx << 32) | d.eax, __ATOMIC_RELAXED);
    }
    pc->vmcb_pa = vmcb_pa;
    __asm__ volatile("fxsave %0" : "=m"(pc->svm.base.fx));
    uint32_t mxcsr_mask = pc->svm.base.fx.mxcsr_mask;
    struct sk_svm_config cfg = {
        .vmcb = (struct sk_vmcb *)SLOT_VA(SLOT_VMCB),
        .iopm_pa = image_pa(iopm),
        .msrpm_pa = image_pa(msrpm),
        .ncr3 = ncr3,
        .asid = 1,
        .ram_size = sk_g.guest_ram_size,
        .mxcsr_mask = mxcsr_mask,
        .cpuid1_eax = cpuid(1, 0).eax,
        .ops = &svm_ops,
        .ops_ctx = pc,
    };
    sk_svm_init(&pc->svm, pc->cpu_index, &cfg);
}

/* A CPU leaving the sidecar: SVM off again. */
void sk_svm_cpu_off(void)
{
    wrmsr(MSR_VM_HSAVE_PA, 0);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SVME);
}
