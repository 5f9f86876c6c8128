/* SPDX-License-Identifier: MIT */
/* Descriptor tables and the trap handler.
 *
 * Every CPU has its own GDT and TSS (in its per-CPU page); all share one
 * IDT in the kernel image. Exceptions never take the machine down: the
 * faulting sidecar CPU reports on serial (CPU, vector, RIP, CR2, error
 * code), marks itself failed and parks with interrupts off. */
#include <scfree/scfree.h>
#include <scfree/x86.h>

#include <sidecar/kboot.h>
#include <sidecar/kcore.h>

#include "kernel.h"

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
};

extern const uint64_t sk_trap_stubs[256];
void sk_load_tables(const void *gdtr, const void *idtr, uint16_t tss_sel);

/* Two IDTs with the same stubs: the APs' gives #DF and #MC (IST1) and NMI
 * (IST2) their own stacks (kernel.h); the BSP's has no IST, because the BSP
 * keeps the shim's GDT and task register, whose TSS (if any) is not ours. */
static struct idt_gate idt[256] __attribute__((aligned(16)));
/* The APs' IDT sits with .rodata (kernel.ld): read-only on every sidecar CPU. */
static struct idt_gate idt_ap[256] __attribute__((aligned(16), section(".idt_ap")));
static struct dtr shim_idtr;

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = sk_trap_stubs[v];
        idt[v] = (struct idt_gate){
            .off_lo = (uint16_t)a, .sel = GDT_KCODE, .ist = 0,
            /* present, 64-bit interrupt gate; DPL 0, but 3 for INT3 and
             * INTO so a ring-3 VP gets #BP/#OF rather than #GP */
            .type = v == 3 || v == 4 ? 0xee : 0x8e,
            .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
        };
        idt_ap[v] = idt[v];
        if (v == 8 || v == 18)
            idt_ap[v].ist = SK_IST_TERMINAL;
        else if (v == 2)
            idt_ap[v].ist = SK_IST_NMI;
    }
}

static struct dtr idtr(void)
{
    return (struct dtr){ sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
}

static struct dtr idtr_ap(void)
{
    return (struct dtr){ sizeof(idt_ap) - 1, (uint64_t)(uintptr_t)idt_ap };
}

/* The BSP keeps the shim's GDT but takes our IDT while the kernel runs, so
 * an exception during bring-up is reported instead of triple-faulting. */
void idt_load_bsp(void)
{
    __asm__ volatile("sidt %0" : "=m"(shim_idtr));
    struct dtr d = idtr();
    __asm__ volatile("lidt %0" : : "m"(d));
}

void idt_restore_bsp(void)
{
    __asm__ volatile("lidt %0" : : "m"(shim_idtr));
}

void cpu_tables_init(struct sk_percpu *pc, uint64_t rsp0)
{
    pc->gdt[0] = 0;
    pc->gdt[1] = 0x00af9a000000ffffull;   /* kernel code, 64-bit */
    pc->gdt[2] = 0x00cf92000000ffffull;   /* kernel data */
    pc->gdt[3] = 0x00cff2000000ffffull;   /* user data, DPL 3 */
    pc->gdt[4] = 0x00affa000000ffffull;   /* user code, 64-bit, DPL 3 */
    sc_memset(&pc->tss, 0, sizeof(pc->tss));
    pc->tss.rsp[0] = rsp0;
    pc->tss.ist[SK_IST_TERMINAL - 1] = SK_IST1_TOP;
    pc->tss.ist[SK_IST_NMI - 1] = SK_NMI_STACK_TOP;
    pc->tss.iomap_base = sizeof(pc->tss);  /* no I/O bitmap: IOPL rules */
    uint64_t base = (uint64_t)(uintptr_t)&pc->tss;
    uint64_t limit = sizeof(pc->tss) - 1;
    pc->gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                 (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
                 (((base >> 24) & 0xff) << 56);
    pc->gdt[6] = base >> 32;
    struct dtr g = { sizeof(pc->gdt) - 1, (uint64_t)(uintptr_t)pc->gdt };
    struct dtr i = idtr_ap();
    sk_load_tables(&g, &i, GDT_TSS);
}

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound", "#UD invalid opcode", "#NM no FPU", "#DF double fault",
    "coprocessor overrun", "#TS invalid TSS", "#NP not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "15",
    "#MF x87", "#AC alignment", "#MC machine check", "#XM SIMD", "#VE virt",
    "#CP control protection", "22", "23", "24", "25", "26", "27", "#HV",
    "#VC", "#SX security", "31",
};

/* sk_rdmsr_safe / sk_wrmsr_safe (entry.asm): a #GP at the MSR instruction
 * (the MSR does not exist) resumes at its fixup, which returns false. */
static bool msr_fixup(struct trap_frame *f)
{
    if ((uint8_t)f->vector != 13)
        return false;
    if (f->rip == (uint64_t)(uintptr_t)sk_rdmsr_safe_insn)
        f->rip = (uint64_t)(uintptr_t)sk_rdmsr_safe_fixup;
    else if (f->rip == (uint64_t)(uintptr_t)sk_wrmsr_safe_insn)
        f->rip = (uint64_t)(uintptr_t)sk_wrmsr_safe_fixup;
    else
        return false;
    return true;
}

#define RFLAGS_TF (1ull << 8)
#define DR6_RESET 0xffff0ff0ull
#define DR7_RESET 0x400ull

/* An NMI (or #DB) can arrive between the STI and the HLT of "sti; hlt"
 * (the STI shadow holds off only maskable interrupts): it then returns to
 * the HLT, and a maskable interrupt pending meanwhile (the host's request
 * IPI) is taken at once on that return, before the HLT, which then sleeps
 * on with the wake-up already spent (found by qemu-vectors: a ping lost
 * after an NMI). Returning past the HLT instead makes it a spurious
 * wake-up, which every park loop handles. ("sti; mwait" needs nothing:
 * the status write the host makes before its IPI ends the MWAIT through
 * the monitor armed before the STI.) */
static void resume_past_halt(struct trap_frame *f)
{
    if (!(f->cs & 3) && *(const uint8_t *)(uintptr_t)f->rip == 0xf4)
        f->rip += 1;
}

/* Every trap on vectors 0-31 comes here first (entry.asm), at any CPL,
 * before anything treats it as an exception. True: it was not one, the
 * CPU returns to where it was.
 *
 * - An interrupt on an exception vector (a fixed IPI with vector 0-31,
 *   which the xAPIC should refuse below 16 but QEMU's delivers; 16-31 are
 *   legal APIC vectors): it pushed no error code where the exception would
 *   have, or its in-service bit is set. EOId, counted, logged once per
 *   vector (later, by arch_park), ignored: a guest that was running runs
 *   on.
 * - An NMI (vector 2, not in service): counted, returned from. Nothing in
 *   this kernel sends or needs one; it must not cost the CPU.
 * - A #DF or a #MC, at any CPL: straight to sk_trap, the CPU's end (a
 *   guest must not see them as its own exceptions).
 * - A #DB at CPL0: the kernel sets no breakpoints and never single-steps
 *   itself, so this is left-over state (debug registers from before the
 *   CPU was ours, TF from a corrupted RFLAGS, a guest's pending single-step
 *   delivered after its trap entered the kernel). DR7 and DR6 are reset,
 *   TF cleared in the frame, and the CPU carries on.
 * The #DB path logs its first occurrence per CPU: it may interrupt this
 * CPU inside its own log line, which the log lock lets it write through
 * (loglock.h). */
/* sk_trap_classify's question, its answer kept for the EOI. */
static bool in_service_of(void *ctx, uint8_t v)
{
    return *(bool *)ctx = apic_in_service(v);
}

bool sk_trap_filter(struct trap_frame *f)
{
    uint8_t v = (uint8_t)f->vector;
    bool bsp = read_cr3() == sk_g.shim_cr3;
    struct sk_percpu *pc = bsp ? 0 : this_cpu();
    bool in_service = false;
    switch (sk_trap_classify(f->vector, f->cs, in_service_of, &in_service)) {
    case SK_TRAP_TERMINAL:
        sk_trap(f);   /* a #DF or a machine check is the CPU's end, at any CPL */
        return false;
    case SK_TRAP_STRAY:
        if (in_service)
            apic_eoi();
        if (bsp) {
            sk_g.bsp_stray_count++;
            klog_cpu(sk_g.bsp_cpu, "interrupt on exception vector %u ignored (%s, rip %lx, cs %lx)", (unsigned)v,
                     in_service ? "EOI" : "not in service", f->rip, f->cs);
        } else {
            /* Logged later by arch_park: vectors 8 and 18 run on a small
             * IST stack here (kernel.h). */
            pc->stray_count++;
            pc->stray_seen |= 1u << v;
        }
        return true;
    case SK_TRAP_NMI:
        /* Counted only: this runs on the small NMI stack, so the first one
         * is logged later by arch_park (the BSP's never). */
        (*(bsp ? &sk_g.bsp_nmi_count : &pc->nmi_count))++;
        resume_past_halt(f);
        return true;
    case SK_TRAP_DEBUG_RESET: {
        uint32_t cpu = bsp ? sk_g.bsp_cpu : pc->cpu_index;
        uint64_t dr6, dr7;
        __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
        __asm__ volatile("mov %%dr7, %0" : "=r"(dr7));
        __asm__ volatile("mov %0, %%dr7" : : "r"(DR7_RESET));
        __asm__ volatile("mov %0, %%dr6" : : "r"(DR6_RESET));
        f->rflags &= ~RFLAGS_TF;
        resume_past_halt(f);
        if ((*(bsp ? &sk_g.bsp_db_count : &pc->db_count))++ == 0)
            klog_cpu(cpu, "#DB at CPL0 (rip %lx, dr6 %lx, dr7 %lx): debug registers reset, carrying on", f->rip,
                     dr6, dr7);
        return true;
    }
    case SK_TRAP_EXCEPTION:
        break;
    }
    return false;
}

void sk_trap(struct trap_frame *f)
{
    uint8_t v = (uint8_t)f->vector;
    if (v == SIDECAR_SPURIOUS_VECTOR)
        return;   /* no EOI for spurious interrupts */
    if (msr_fixup(f))
        return;
    if (v >= 32) {
        /* The request vector (or any stray device vector): waking from
         * hlt is all it is for; the dispatch loop then reads its status. */
        apic_eoi();
        return;
    }
    bool bsp = read_cr3() == sk_g.shim_cr3;
    uint32_t cpu = bsp ? sk_g.bsp_cpu : this_cpu()->cpu_index;
    /* Serial output even with logging off: a crash report is always wanted. */
    bool was = sk_g.logging;
    sk_g.logging = true;
    klog_cpu(cpu, "EXCEPTION %s (vector %u) rip %lx cr2 %lx error %lx cs %lx rsp %lx",
             exc_names[v], (unsigned)v, f->rip, read_cr2(),
             f->error, f->cs, f->rsp);
    sk_g.logging = was;
    if (bsp) {
        /* Nothing sane to return to during the BSP's own bring-up. */
        for (;;) {
            cpu_cli();
            cpu_hlt();
        }
    }
    sk_vp_cpu_off();   /* a restarted CPU must not inherit CPUID faulting */
    struct sk_cpu_entry *e = &sk_cpus[cpu];
    if (load32(&e->state) == KS_READY) {
        /* It was serving commands: tell the host (sidecar/kcore.h). */
        char text[96];
        sc_snprintf(text, sizeof(text), "sidecar CPU %u: exception %s (vector %u) at rip %lx", cpu,
                    exc_names[v], (unsigned)v, f->rip);
        sk_cpu_failed((struct sk_cpu *)this_cpu()->core_space, text);
    }
    e->vector = v;
    e->failure = SIDECAR_CPU_FAILURE_EXCEPTION;
    store32(&e->state, KS_FAILED);
    sk_park_forever();
}
