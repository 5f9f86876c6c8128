/* SPDX-License-Identifier: MIT */
/* The AP's dispatch loop: the arch services (park, IPI, clock, log,
 * quiesce) around the portable core in kernel/core (sidecar/kcore.h), with
 * the ring-3 VP backend (vp.c, sidecar/vp.h). */
#include <scfree/scfree.h>
#include <scfree/x86.h>
#include <sidecar/kcore.h>

#include "apic_icr.h"
#include "kernel.h"

_Static_assert(sizeof(struct sk_cpu) <= sizeof(((struct sk_percpu *)0)->core_space),
               "struct sk_cpu fits in the per-CPU page");

void sk_park_forever(void)
{
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

static bool has_work(uint8_t s) { return sk_status_has_work(s); }

/* Sleep until the host writes the status byte and IPIs us. The check and
 * the hlt are one window with interrupts off (sti takes effect after hlt
 * starts), so a request that lands in between still wakes us. */
/* params.test_fault_kind 1: the test CPU overflows its kernel stack when
 * its first command wakes it (after IDLE, so the #DF goes through
 * sk_cpu_failed). Only a shim started with a test option sets it. */
/* Kinds 2 and 3: a write to the kernel's text and a call into a writable
 * page (a `ret` in .data), which W^X and NX turn into a #PF. */
static uint8_t test_ret_in_data[16] = { 0xc3 };

static void test_fault(struct sk_percpu *pc, const volatile uint8_t *status)
{
    if (!sk_g.test_fault_kind || sk_g.test_fault_cpu != pc->cpu_index + 1 ||
        !has_work(__atomic_load_n(status, __ATOMIC_ACQUIRE)))
        return;
    if (sk_g.test_fault_kind == 1)
        sk_test_stack_overflow();
    if (sk_g.test_fault_kind == 2)
        *(volatile uint8_t *)(uintptr_t)&sk_test_stack_overflow = 0xc3;
    if (sk_g.test_fault_kind == 3)
        ((void (*)(void))(uintptr_t)test_ret_in_data)();
}

static void arch_park(void *ctx, const volatile uint8_t *status)
{
    struct sk_percpu *pc = ctx;
    /* What sk_trap_filter (cpu.c) only counted, on a small stack: the first
     * NMI, each exception vector an interrupt landed on. */
    if (pc->nmi_count != pc->nmi_logged) {
        if (!pc->nmi_logged)
            klog_cpu(pc->cpu_index, "NMI taken and returned from");
        pc->nmi_logged = pc->nmi_count;
    }
    for (uint32_t fresh = pc->stray_seen & ~pc->stray_logged; fresh; fresh &= fresh - 1) {
        unsigned v = (unsigned)__builtin_ctz(fresh);
        klog_cpu(pc->cpu_index, "interrupt on exception vector %u ignored (EOI; %u such so far)", v,
                 pc->stray_count);
        pc->stray_logged |= 1u << v;
    }
    /* Still starting others (boot.c): one step, then back to the loop,
     * which serves any command before the next. */
    if (sk_fan_out_pending(pc)) {
        sk_fan_out_step(pc, status);
        test_fault(pc, status);
        return;
    }
    if (sk_g.use_mwait) {
        __asm__ volatile("monitor" : : "a"(status), "c"(0), "d"(0));
        if (!has_work(__atomic_load_n(status, __ATOMIC_ACQUIRE)))
            __asm__ volatile("sti; mwait; cli" : : "a"(0), "c"(0) : "memory");
    } else {
        cpu_cli();
        if (!has_work(__atomic_load_n(status, __ATOMIC_ACQUIRE)))
            cpu_sti_hlt();
        cpu_cli();
    }
    test_fault(pc, status);
}

/* params.test_fault_kind 5: the test CPU sends each completion IPI 500 ms
 * after it read the response pair (the window a host that gives its
 * vector back must wait out: responses_in_flight). */
static void arch_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    const struct sk_percpu *pc = ctx;
    if (sk_g.test_fault_kind == 5 && sk_g.test_fault_cpu == pc->cpu_index + 1)
        tsc_delay(sk_g.tsc_khz * 500);
    apic_send(apic_id, icr_low(ICR_FIXED, (uint8_t)vector));
}

static uint64_t arch_now_ns(void *ctx)
{
    (void)ctx;
    uint64_t t = rdtsc();
    return t / sk_g.tsc_khz * 1000000 + t % sk_g.tsc_khz * 1000000 / sk_g.tsc_khz;
}

static void arch_log(void *ctx, const char *line)
{
    klog_cpu(((struct sk_percpu *)ctx)->cpu_index, "%s", line);
}

/* Before the CPU publishes REMOVED: the host may send INIT the moment it
 * sees REMOVED, so this is the last log line (one written after it could
 * be cut off by the INIT with the log lock held). */
static void arch_quiesce(void *ctx)
{
    cpu_cli();
    apic_quiesce();
    klog_cpu(((struct sk_percpu *)ctx)->cpu_index, "leaving: APIC quiet, parking for INIT");
}

static const struct sk_arch arch_ops = {
    .ctx = (void *)PERCPU_VA,
    .park = arch_park,
    .send_ipi = arch_send_ipi,
    .now_ns = arch_now_ns,
    .log = arch_log,
    .quiesce = arch_quiesce,
};

void sk_dispatch_start(struct sk_percpu *pc)
{
    struct sk_cpu *cpu = (struct sk_cpu *)pc->core_space;
    bool svm = sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM;
    if (svm) {
        const struct sk_node *nd = &sk_nodes[pc->node];
        sk_svm_cpu_init(pc, node_private_pa(nd->memory_base, nd->cpu_count, pc->node_cpu, PRIV_VMCB),
                        node_private_pa(nd->memory_base, nd->cpu_count, pc->node_cpu, PRIV_HSAVE),
                        node_table_pa(nd->memory_base, nd->cpu_count, NODE_NPT_PML4));
    } else {
        sk_vp_cpu_init(pc);
    }
    sk_cpu_init(cpu, (struct sidecar_control_page *)SLOT_VA(SLOT_CONTROL),
                (struct sidecar_command_page *)SLOT_VA(SLOT_COMMAND),
                (void *)SLOT_VA(SLOT_REGISTER), pc->node_cpu, pc->cpu_index,
                &arch_ops, svm ? &sk_svm_backend : &sk_vp_ring3_backend,
                svm ? (void *)&pc->svm : (void *)&pc->vp);
    sk_ap_ready(pc);
    sk_dispatch_loop(cpu);
    /* REMOVED: wait, interrupts off, for the main kernel's INIT-SIPI-SIPI.
     * Nothing is logged from here on (arch_quiesce). The VP's state stays
     * in the command page (cpu_context, removed_state; docs/svm.md). */
    if (svm)
        sk_svm_cpu_off();
    else
        sk_vp_cpu_off();
    sk_park_forever();
}
