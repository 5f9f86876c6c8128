/* SPDX-License-Identifier: MIT */
/* Kernel entry on the BSP, per-node memory layout, per-CPU page tables,
 * and the fan-out start of every sidecar CPU.
 *
 * The shim calls sk_entry(params_pa, output_pa) on the BSP in long mode,
 * on page tables that identity-map all memory the params name and map the
 * kernel at KERNEL_VBASE. The kernel validates params (changing nothing if
 * they are bad), lays out each node's memory (layout.h), then starts CPUs
 * in a fan-out: the BSP and every CPU that comes up claim the next
 * not-yet-started CPU from an atomic per-node counter and start it with
 * INIT-SIPI-SIPI, so N CPUs come up in about log2(N) rounds. A CPU that
 * does not check in within ap_timeout_us is reported and skipped. The kernel
 * returns when every sidecar CPU is IDLE or has failed. */
#include <scfree/image.h>
#include <scfree/scfree.h>
#include <scfree/trampoline.h>
#include <scfree/x86.h>
#include <sidecar/kboot.h>
#include <sidecar/validate.h>

#include "apic_icr.h"
#include "kernel.h"

struct sk_globals sk_g;
struct sk_cpu_entry sk_cpus[SK_MAX_CPUS];
struct sk_node sk_nodes[SIDECAR_MAX_NODES];
struct sk_ap_slot sk_ap_table[SK_MAX_CPUS];
uint32_t sk_ap_table_count;
uint64_t sk_percpu_stack_top = PERCPU_STACK_TOP;

void sk_ap_entry64(void);

bool sk_entry(uint64_t params_pa, uint64_t output_pa);

SCFREE_IMAGE_HEADER(sk_entry);

_Static_assert(SIDECAR_REQUEST_VECTOR >= SIDECAR_MIN_VECTOR && SIDECAR_REQUEST_VECTOR <= 0xff,
               "the request vector is no exception vector");

static void *pa_ptr(uint64_t pa) { return (void *)(uintptr_t)pa; }

static uint64_t ticks_since_entry(void) { return rdtsc() - sk_g.t0; }

/* ---- errors --------------------------------------------------------------- */

static bool fail(struct sidecar_output *out, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(struct sidecar_output *out, uint32_t code, const char *fmt, ...)
{
    char text[SIDECAR_ERROR_TEXT_SIZE + 1];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    out->status = code;
    out->error.len = (uint8_t)n;
    sc_memcpy(out->error.buf, text, n);
    sk_g.logging = sk_g.logging || SIDECAR_CONFIG_DEFAULT_LOGGING;
    klog("boot failed: %s", text);
    return false;
}

/* A refusal of the portable checks (sidecar/kboot.h). */
static bool fail_with(struct sidecar_output *out, const struct sk_boot_error *e)
{
    return fail(out, e->code, "%s", e->text);
}

/* ---- page tables ------------------------------------------------------------ */

/* Physical address behind a kernel virtual address, by walking the page
 * tables the shim gave us (4 KiB, 2 MiB or 1 GiB leaves). 0 if unmapped. */
/* The physical address va maps to, and in *span_out the size of the page
 * that maps it (0, and 0 returned, where nothing does). */
static uint64_t virt_to_phys_span(uint64_t va, uint64_t *span_out)
{
    *span_out = 0;
    uint64_t *t = pa_ptr(read_cr3() & PTE_ADDR);
    for (int level = 3; level >= 0; level--) {
        uint64_t e = t[(va >> (12 + 9 * level)) & 511];
        if (!(e & PTE_P))
            return 0;
        if (level == 0 || (level <= 2 && (e & PTE_PS))) {
            uint64_t span = 1ull << (12 + 9 * level);
            *span_out = span;
            return (e & PTE_ADDR & ~(span - 1)) + (va & (span - 1));
        }
        t = pa_ptr(e & PTE_ADDR);
    }
    return 0;
}

static uint64_t virt_to_phys(uint64_t va)
{
    uint64_t span;
    return virt_to_phys_span(va, &span);
}

static void zero_page(uint64_t pa) { sk_fill64(pa_ptr(pa), 0, PAGE_SIZE); }

/* Guest RAM, shared by the node's CPUs: the node's guest-RAM PDPT and two
 * page directories (layout.h) map [guest_ram_base, + guest_ram_size) at
 * GVA == GPA with 2 MiB pages, present, writable, user, executable. The
 * range is at most 1 GiB (max_guest_ram), so it touches at most two 1 GiB
 * slots of one PDPT, all under PML4 entry 0 (checked at entry). */
static void build_guest_tables(uint32_t n)
{
    const struct sk_node *nd = &sk_nodes[n];
    uint64_t t = node_guest_tables_pa(nd->memory_base, nd->cpu_count);
    for (unsigned k = 0; k < 3; k++)
        zero_page(t + k * PAGE_SIZE);
    if (!sk_g.guest_ram_size)
        return;
    uint64_t *pdpt = pa_ptr(t);
    uint64_t first = sk_g.guest_ram_base >> 30;
    for (uint64_t a = sk_g.guest_ram_base; a < sk_g.guest_ram_base + sk_g.guest_ram_size;
         a += SIDECAR_LARGE_PAGE_SIZE) {
        uint64_t pd_pa = t + ((a >> 30) == first ? 1 : 2) * PAGE_SIZE;
        pdpt[(a >> 30) & 511] = pd_pa | PTE_P | PTE_W | PTE_U;
        ((uint64_t *)pa_ptr(pd_pa))[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_U | PTE_PS;
    }
}

/* The SVM backend's nested page tables for the node (the same mapping in
 * every node, so that all sidecar VPs share one guest-physical space):
 * GPA [0, guest_ram_size) -> guest RAM, and GPA [4 GiB - 2 MiB, 4 GiB) ->
 * the last 2 MiB of guest RAM (the reset vector's page, docs/svm.md), with
 * 2 MiB pages, readable, writable, executable. Nested walks are user
 * accesses, so every entry has U. Nothing else is mapped. */
static void build_npt(uint32_t n)
{
    const struct sk_node *nd = &sk_nodes[n];
    uint64_t t[NODE_TABLE_PAGES];
    for (unsigned k = NODE_NPT_PML4; k < NODE_TABLE_PAGES; k++) {
        t[k] = node_table_pa(nd->memory_base, nd->cpu_count, k);
        zero_page(t[k]);
    }
    uint64_t *pml4 = pa_ptr(t[NODE_NPT_PML4]);
    uint64_t *pdpt = pa_ptr(t[NODE_NPT_PDPT]);
    uint64_t *low = pa_ptr(t[NODE_NPT_PD_LOW]);
    uint64_t *high = pa_ptr(t[NODE_NPT_PD_HIGH]);
    uint64_t size = sk_g.guest_ram_size, base = sk_g.guest_ram_base;
    pml4[0] = t[NODE_NPT_PDPT] | PTE_P | PTE_W | PTE_U;
    if (!size)
        return;
    pdpt[0] = t[NODE_NPT_PD_LOW] | PTE_P | PTE_W | PTE_U;
    for (uint64_t g = 0; g < size; g += SIDECAR_LARGE_PAGE_SIZE)
        low[g >> 21] = (base + g) | PTE_P | PTE_W | PTE_U | PTE_PS;
    pdpt[SK_SVM_RESET_ALIAS >> 30] = t[NODE_NPT_PD_HIGH] | PTE_P | PTE_W | PTE_U;
    high[(SK_SVM_RESET_ALIAS >> 21) & 511] = (base + size - SK_SVM_RESET_ALIAS_SIZE) | PTE_P | PTE_W | PTE_U | PTE_PS;
}

extern const char __text_end[], __rodata_end[];
uint32_t sk_ap_nxe;   /* entry.asm: set EFER.NXE before loading a CPU's own CR3 */

/* The protection of kernel image page k (kernel.ld's section bounds). */
static uint64_t image_page_flags(uint32_t k, uint64_t nx)
{
    uint64_t va = KERNEL_VBASE + (uint64_t)k * PAGE_SIZE;
    if (va < (uint64_t)(uintptr_t)__text_end)
        return 0;
    if (va < (uint64_t)(uintptr_t)__rodata_end)
        return nx;
    return PTE_W | nx;
}

/* Where a CPU's kernel stack starts, in its per-CPU page. */
#define STACK_TOP_OFFSET (PERCPU_STACK_TOP - SLOT_VA(SLOT_PERCPU))

/* A CPU's own page tables and pages, built by that CPU (entry.asm calls
 * sk_ap_build_tables on the shim's page tables, which identity-map node
 * memory, with RSP at the physical top of its own kernel stack), so that
 * the BSP builds nothing per CPU before the first INIT and the CPUs build
 * theirs in parallel. The per-CPU page is zeroed from the stack's top up
 * (globals, NMI stack, IST1 gap); the stack below it, in use right now,
 * needs no zeroing. */
static void build_cpu_tables(uint32_t n, uint32_t i, uint64_t kernel_pa, uint32_t image_pages)
{
    const struct sk_node *nd = &sk_nodes[n];
    uint64_t base = nd->memory_base;
    uint64_t p[PRIV_PAGES];
    for (unsigned k = 0; k < PRIV_PAGES; k++) {
        p[k] = node_private_pa(base, nd->cpu_count, i, k);
        if (k == PRIV_PERCPU)
            sk_fill64(pa_ptr(p[k] + STACK_TOP_OFFSET), 0, PAGE_SIZE - STACK_TOP_OFFSET);
        else
            zero_page(p[k]);
    }
    uint64_t *pml4 = pa_ptr(p[PRIV_PML4]);
    uint64_t *pdpt = pa_ptr(p[PRIV_PDPT]);
    uint64_t *pd = pa_ptr(p[PRIV_PD]);
    uint64_t *pt = pa_ptr(p[PRIV_PT]);
    pml4[(KERNEL_VBASE >> 39) & 511] = p[PRIV_PDPT] | PTE_P | PTE_W;
    /* Guest RAM at its physical address: the ring-3 guest's own mapping
     * (the only user-accessible one), or, with svm, the kernel's view of
     * guest memory for instruction fetches (supervisor only). */
    bool svm = sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM;
    if (sk_g.guest_ram_size)
        pml4[0] = node_guest_tables_pa(base, nd->cpu_count) | PTE_P | PTE_W | (svm ? (sk_g.nx ? PTE_NX : 0) : PTE_U);
    pdpt[(KERNEL_VBASE >> 30) & 511] = p[PRIV_PD] | PTE_P | PTE_W;
    pd[(KERNEL_VBASE >> 21) & 511] = p[PRIV_PT] | PTE_P | PTE_W;
    /* W^X: text read-only, .rodata and the APs' IDT read-only, the rest
     * of the image and every other page writable but never executable
     * (CR0.WP and EFER.NXE are set before this CR3 is loaded, entry.asm). */
    uint64_t nx = sk_g.nx ? PTE_NX : 0;
    for (uint32_t k = 0; k < image_pages; k++)
        pt[k] = (kernel_pa + (uint64_t)k * PAGE_SIZE) | PTE_P | PTE_G | image_page_flags(k, nx);
    if (!sk_g.x2apic)
        pt[SLOT_APIC] = sk_g.apic_base | PTE_P | PTE_W | PTE_PCD | PTE_PWT | nx;
    pt[SLOT_CONTROL] = node_control_pa(base) | PTE_P | PTE_W | nx;
    pt[SLOT_COMMAND] = node_command_pa(base, i) | PTE_P | PTE_W | nx;
    pt[SLOT_REGISTER] = node_register_pa(base, i) | PTE_P | PTE_W | nx;
    pt[SLOT_PERCPU] = p[PRIV_PERCPU] | PTE_P | PTE_W | nx;
    if (svm)
        pt[SLOT_VMCB] = p[PRIV_VMCB] | PTE_P | PTE_W | nx;
    zero_page(node_command_pa(base, i));
    zero_page(node_register_pa(base, i));

    uint32_t cpu = nd->base_cpu + i;
    struct sk_percpu *pc = pa_ptr(p[PRIV_PERCPU] + PAGE_SIZE - sizeof(struct sk_percpu));
    pc->cpu_index = cpu;
    pc->apic_id = sk_cpus[cpu].apic_id;
    pc->node = n;
    pc->node_cpu = i;
    pc->vmcb_pa = p[PRIV_VMCB];
}

/* params.test_fault_kind 4: the test CPU answers late. It waits, on the
 * shim's page tables, until three start timeouts have passed since its
 * starter sent INIT-SIPI-SIPI, then drops its whole TLB (as a long stall
 * would), and only then checks in: what a vCPU the hypervisor did not run
 * for that long would do. */
static void test_answer_late(uint32_t cpu)
{
    if (sk_g.test_fault_kind != 4 || sk_g.test_fault_cpu != cpu + 1)
        return;
    uint64_t until = sk_g.t0 + sk_cpus[cpu].start_tsc + 3 * sk_g.timeout_tsc;
    while (rdtsc() < until)
        cpu_pause();
    tlb_flush_all();
}

/* entry.asm, on the shim's page tables: check in, build this CPU's
 * tables, answer its CR3 (0: not a CPU we are starting, or one its
 * starter gave up on).
 *
 * The check-in (STARTING -> UP) comes first, before anything is written:
 * once it has happened the starter no longer gives up on this CPU, and if
 * the starter gave up first this CPU writes nothing and parks. A starter
 * that gives up sends INIT (still_starting), so a CPU that answers late
 * is back in wait-for-SIPI and never runs on the shim's page tables or
 * trampoline after the main kernel has taken them back. */
static void node_setup(uint32_t n);

uint64_t sk_ap_build_tables(uint32_t cpu)
{
    if (cpu >= sk_g.cpu_count)
        return 0;
    struct sk_cpu_entry *e = &sk_cpus[cpu];
    test_answer_late(cpu);
    if (e->node >= sk_g.node_count || !cas32(&e->state, KS_STARTING, KS_UP))
        return 0;
    /* Wake the starter now (it sleeps until this IPI, docs/boot.md section
     * 4): it starts its next CPU while this one builds its tables and its
     * node's pages. The APIC registers are at their physical address on
     * the shim's tables (apic.c); interrupts stay off until the dispatch
     * loop parks. */
    apic_init_ap();
    if (e->started_by < sk_g.cpu_count)
        apic_send(sk_cpus[e->started_by].apic_id, icr_low(ICR_FIXED, SK_WAKE_VECTOR));
    const struct sk_node *nd = &sk_nodes[e->node];
    build_cpu_tables(e->node, e->node_cpu, sk_g.kernel_pa, sk_g.image_pages);
    node_setup(e->node);
    return node_private_pa(nd->memory_base, nd->cpu_count, e->node_cpu, PRIV_PML4);
}

static void init_control_page(uint32_t n)
{
    const struct sk_node *nd = &sk_nodes[n];
    struct sidecar_control_page *cp = pa_ptr(node_control_pa(nd->memory_base));
    sk_fill64(cp, 0, sizeof(*cp));
    cp->index = n;
    cp->base_cpu = nd->base_cpu;
    cp->cpu_count = nd->cpu_count;
    cp->request_vector = SIDECAR_REQUEST_VECTOR;
    /* Parked with MWAIT on its status byte, a CPU wakes on the host's
     * write alone: the host may skip the IPI for RUN and REMOVE. */
    cp->flags = (sk_g.use_mwait ? SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE : 0) |
                (sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM ? SIDECAR_CONTROL_FLAG_VP_BACKEND_SVM : 0);
    cp->magic = SIDECAR_CONTROL_MAGIC;
    cp->abi_major = SIDECAR_ABI_MAJOR;
    cp->abi_minor = SIDECAR_ABI_MINOR;
    /* Every CPU starts REMOVED (not ours yet); a sidecar CPU sets itself
     * IDLE when it is ready for commands. */
}

/* Node n's shared pages, once: the first caller builds them, the others
 * wait until it is done (a few page fills). Called by a CPU of the node on
 * the shim's page tables, before it checks in (sk_ap_build_tables; its
 * IDLE is a store into the control page), and by the BSP for every node
 * after the fan-out, so that
 * the first INIT waits for none of it: the first touch of each node's
 * memory costs 0.5-2 ms per node under QEMU TCG (13-18 ms for 8 nodes at
 * 255 vCPUs on the BSP before), now spread over the nodes' first CPUs. */
static void node_setup(uint32_t n)
{
    struct sk_node *nd = &sk_nodes[n];
    if (cas32(&nd->setup, NODE_SETUP_NONE, NODE_SETUP_BUSY)) {
        init_control_page(n);
        build_guest_tables(n);
        if (sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM)
            build_npt(n);
        __atomic_store_n(&nd->setup, NODE_SETUP_DONE, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&nd->setup, __ATOMIC_ACQUIRE) != NODE_SETUP_DONE)
        cpu_pause();
}

/* ---- the fan-out ---------------------------------------------------------------- */

static uint32_t claim_from(uint32_t n)
{
    struct sk_node *nd = &sk_nodes[n];
    __atomic_store_n(&nd->kicked, 1, __ATOMIC_RELAXED);
    for (;;) {
        uint32_t i = __atomic_fetch_add(&nd->next, 1, __ATOMIC_ACQ_REL);
        if (i >= nd->cpu_count)
            return SIDECAR_NO_CPU;
        uint32_t c = nd->base_cpu + i;
        if (sk_cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR &&
            cas32(&sk_cpus[c].state, KS_WAITING, KS_STARTING))
            return c;
    }
}

/* The next CPU to start: from the caller's own node first, then the first
 * CPU of a node nobody has started yet, then any CPU left anywhere. */
static uint32_t claim(uint32_t own_node)
{
    uint32_t c;
    if (own_node != SIDECAR_NO_CPU && (c = claim_from(own_node)) != SIDECAR_NO_CPU)
        return c;
    for (uint32_t n = 0; n < sk_g.node_count; n++) {
        if (!__atomic_load_n(&sk_nodes[n].kicked, __ATOMIC_RELAXED) &&
            (c = claim_from(n)) != SIDECAR_NO_CPU)
            return c;
    }
    for (;;) {
        uint32_t n = load32(&sk_g.kick_cursor);
        if (n >= sk_g.node_count)
            return SIDECAR_NO_CPU;
        if ((c = claim_from(n)) != SIDECAR_NO_CPU)
            return c;
        cas32(&sk_g.kick_cursor, n, n + 1);
    }
}

/* The BSP's share of the TSC calibration (apic.c): each time it wakes
 * during the bring-up it looks at the PIT; once the rate is final, the
 * timeouts follow it. */
static const struct sidecar_params *entry_params;

static void bsp_calibrate(void)
{
    if (!sk_g.calibrating || !tsc_calibrate_poll())
        return;
    sk_g.timeout_tsc = (uint64_t)entry_params->ap_timeout_us * sk_g.tsc_khz / 1000;
    sk_g.init_delay_tsc = (uint64_t)entry_params->init_delay_us * sk_g.tsc_khz / 1000;
}

/* Sends INIT-SIPI to CPU c, claimed by starter; false when c cannot be
 * started (then marked failed). *sent: the TSC after the SIPI. */
static bool send_start(uint32_t c, uint32_t starter, uint8_t starter_round, uint64_t *sent)
{
    struct sk_cpu_entry *e = &sk_cpus[c];
    e->started_by = starter;
    e->round = (uint8_t)(starter_round + 1);
    e->start_tsc = ticks_since_entry();
    if (!sk_g.x2apic && e->apic_id > 0xfe) {
        e->failure = SIDECAR_CPU_FAILURE_NO_X2APIC;
        store32(&e->state, KS_ABANDONED);
        klog_cpu(starter, "cpu %u (APIC ID %u) needs x2APIC; not started", c, e->apic_id);
        return false;
    }
    if (sk_g.x2apic && !icr_x2apic_dest_ok(e->apic_id)) {
        e->failure = SIDECAR_CPU_FAILURE_NOT_STARTED;
        store32(&e->state, KS_ABANDONED);
        klog_cpu(starter, "cpu %u: params.cpus[%u].apic_id is the x2APIC broadcast ID; not started", c, c);
        return false;
    }
    uint8_t vector = 0;
    (void)icr_sipi_vector(sk_g.trampoline_pa, &vector);   /* validated at entry */
    uint64_t none = 0;
    (void)__atomic_compare_exchange_n(&sk_g.first_init_tsc, &none, e->start_tsc ? e->start_tsc : 1, false,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    apic_send(e->apic_id, icr_low(ICR_INIT, 0));
    if (sk_g.init_delay_tsc)
        tsc_delay(sk_g.init_delay_tsc);
    apic_send(e->apic_id, icr_low(ICR_STARTUP, vector));
    *sent = rdtsc();
    return true;
}

/* One look at a CPU started at TSC sent: true while it has not checked in
 * and is still waited for, with *until the TSC of the next thing due. A
 * second SIPI goes out if it has not checked in after 1 ms, as the MP
 * start-up sequence prescribes (a hypervisor may still be processing the
 * INIT when the first arrives; a CPU already running ignores it); after
 * ap_timeout_us it is marked no_answer and the claim moves on. */
static bool still_starting(uint32_t c, uint32_t starter, uint64_t sent, bool *second, uint64_t *until)
{
    struct sk_cpu_entry *e = &sk_cpus[c];
    if (load32(&e->state) != KS_STARTING)
        return false;
    uint64_t now = rdtsc();
    if (!*second && now >= sent + sk_g.tsc_khz) {
        uint8_t vector = 0;
        (void)icr_sipi_vector(sk_g.trampoline_pa, &vector);
        apic_send(e->apic_id, icr_low(ICR_STARTUP, vector));
        *second = true;
    }
    if (now >= sent + sk_g.timeout_tsc) {
        if (cas32(&e->state, KS_STARTING, KS_ABANDONED)) {
            /* It has not checked in, so it has written nothing; INIT puts
             * it back into wait-for-SIPI wherever it is (still waiting,
             * in the trampoline, or on its way to the check-in), so that
             * it cannot resume later on the shim's page tables, which the
             * main kernel reuses once the kernel has returned. */
            apic_send(e->apic_id, icr_low(ICR_INIT, 0));
            e->failure = SIDECAR_CPU_FAILURE_NO_ANSWER;
            klog_cpu(starter, "cpu %u (APIC ID %u) did not answer within %lu us; INIT sent, skipped",
                     c, e->apic_id, sk_g.timeout_tsc * 1000 / sk_g.tsc_khz);
        }
        return false;
    }
    *until = *second ? sent + sk_g.timeout_tsc : sent + sk_g.tsc_khz;
    return true;
}

/* Sleeps until an interrupt: the check-in IPI of the CPU being started
 * (SK_WAKE_VECTOR), a request IPI, or the wake-up timer armed for until.
 * The condition is checked again with interrupts off (sti takes effect
 * after hlt starts), so a check-in in between still wakes it. Every
 * starter sleeps (under a hypervisor each vCPU is a host thread, and a
 * spinning starter takes host time from the CPUs it starts: under QEMU's
 * TCG, which has no TSC deadline, that was the stalls of docs/boot.md
 * section 4). */
static void sleep_until(uint64_t until, const uint32_t *state, const volatile uint8_t *status)
{
    apic_arm_deadline(until);
    cpu_cli();
    if (load32(state) == KS_STARTING && !(status && sk_status_has_work(*status)))
        cpu_sti_hlt();
    cpu_cli();
}

/* The BSP's fan-out: start CPUs until none is left to claim, each until
 * it checks in or is given up. */
static void bsp_fan_out(uint32_t self)
{
    uint32_t c;
    while ((c = claim(SIDECAR_NO_CPU)) != SIDECAR_NO_CPU) {
        uint64_t sent, until = 0;
        bool second = false;
        if (!send_start(c, self, 0, &sent))
            continue;
        while (still_starting(c, self, sent, &second, &until)) {
            bsp_calibrate();
            sleep_until(until, &sk_cpus[c].state, NULL);
        }
    }
    apic_arm_deadline(0);
}

/* An AP's fan-out, one step at a time from its dispatch loop's park
 * (dispatch.c), after it is IDLE: claim and start a CPU, or look at the
 * one it started and sleep until its check-in, a command (status) or the
 * next deadline. A command is served between two steps, so starting the
 * others never delays this CPU's readiness. */
void sk_fan_out_step(struct sk_percpu *pc, const volatile uint8_t *status)
{
    struct sk_cpu_entry *me = &sk_cpus[pc->cpu_index];
    if (me->fan_cpu == SIDECAR_NO_CPU) {
        uint32_t c = claim(pc->node);
        if (c == SIDECAR_NO_CPU) {
            me->fan_done = true;
            apic_arm_deadline(0);
            return;
        }
        me->fan_second = false;
        if (send_start(c, pc->cpu_index, pc->round, &me->fan_sent))
            me->fan_cpu = c;
        return;
    }
    uint64_t until = 0;
    bool second = me->fan_second;
    bool waiting = still_starting(me->fan_cpu, pc->cpu_index, me->fan_sent, &second, &until);
    me->fan_second = second;
    if (!waiting) {
        me->fan_cpu = SIDECAR_NO_CPU;
        return;
    }
    sleep_until(until, &sk_cpus[me->fan_cpu].state, status);
}

/* dispatch.c's park: is this CPU still starting others? */
bool sk_fan_out_pending(const struct sk_percpu *pc)
{
    return !sk_cpus[pc->cpu_index].fan_done;
}

#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)

/* An AP, on its own page tables and stack, interrupts off, caching on
 * (entry.asm cleared CR0.CD and NW; cr0_at_entry is what it found). */
void sk_ap_main(uint32_t cpu, uint64_t cr0_at_entry)
{
    struct sk_cpu_entry *e = &sk_cpus[cpu];
    struct sk_percpu *pc = this_cpu();
    if (cr0_at_entry & (CR0_CD | CR0_NW))
        __atomic_fetch_add(&sk_g.cache_off_at_entry, 1, __ATOMIC_RELAXED);
    if (read_cr0() & (CR0_CD | CR0_NW))
        __atomic_fetch_add(&sk_g.cache_still_off, 1, __ATOMIC_RELAXED);
    cpu_tables_init(pc, PERCPU_STACK_TOP);
    sk_vp_cpu_setup();
    /* The APIC is on and the starter woken already (sk_ap_build_tables). */
    pc->round = e->round;
    e->fan_cpu = SIDECAR_NO_CPU;
    e->fan_done = false;
    /* IDLE as soon as the dispatch loop can serve commands (sk_ap_ready);
     * the fan-out goes on from its park (sk_fan_out_step). */
    sk_dispatch_start(pc);
}

/* dispatch.c, once the CPU can serve commands: IDLE. No log line per CPU:
 * with hundreds of CPUs the serial port (one lock, one slow device)
 * serialized them and, at 255 vCPUs under TCG, took most of the bring-up.
 * The BSP logs the progress instead. */
void sk_ap_ready(struct sk_percpu *pc)
{
    uint32_t cpu = pc->cpu_index;
    struct sk_cpu_entry *e = &sk_cpus[cpu];
    struct sidecar_control_page *cp = (struct sidecar_control_page *)SLOT_VA(SLOT_CONTROL);
    if (sk_g.test_fault_cpu == cpu + 1 && sk_g.test_fault_kind == 0)
        __asm__ volatile("ud2");   /* params.test_fault_cpu: the exception report, tested */
    e->ready_tsc = ticks_since_entry();
    sidecar_control_page_cpu_status_store(cp, pc->node_cpu, SIDECAR_CPU_STATUS_IDLE);
    store32(&e->state, KS_READY);
    /* The last one wakes the BSP, asleep in its wait for everyone. */
    if (__atomic_add_fetch(&sk_g.ready_count, 1, __ATOMIC_ACQ_REL) == load32(&sk_ap_table_count))
        apic_send(sk_cpus[sk_g.bsp_cpu].apic_id, icr_low(ICR_FIXED, SK_WAKE_VECTOR));
}

/* ---- entry ----------------------------------------------------------------------- */

/* The page at pa is mapped at pa by the page tables the shim gave us. */
/* Node memory is checked page by page (sk_params_check_memory): one walk
 * per 2 MiB or 1 GiB page of the shim's tables, not one per 4 KiB page.
 * [id_lo, id_hi) is the last leaf found to map its addresses at
 * themselves; sk_entry empties it (the CR3 is the shim's throughout). */
static uint64_t id_lo, id_hi;

static bool identity_mapped(void *ctx, uint64_t pa)
{
    (void)ctx;
    if (pa >= id_lo && pa < id_hi)
        return true;
    uint64_t span;
    if (virt_to_phys_span(pa, &span) != pa || !span)
        return false;
    id_lo = pa & ~(span - 1);
    id_hi = id_lo + span;
    return true;
}

bool sk_entry(uint64_t params_pa, uint64_t output_pa)
{
    const char *no_svm;
    sk_g.t0 = rdtsc();
    sk_g.shim_cr3 = read_cr3();
    id_lo = id_hi = 0;
    struct sidecar_output *out = pa_ptr(output_pa);
    const struct sidecar_params *p = pa_ptr(params_pa);
    if (!output_pa || (output_pa & (PAGE_SIZE - 1)))
        return false;   /* nowhere to say why */
    sk_fill64(out, 0, sizeof(*out));
    out->magic = SIDECAR_OUTPUT_MAGIC;
    out->abi_major = SIDECAR_ABI_MAJOR;
    out->abi_minor = SIDECAR_ABI_MINOR;
    out->pages_per_cpu = SIDECAR_CPU_PAGES;
    sk_g.serial_port = p->serial_port ? p->serial_port : 0x3f8;
    if (!params_pa || (params_pa & (PAGE_SIZE - 1)))
        return fail(out, SK_E_PARAMS_OUTPUT, "params: address %lx not page aligned", params_pa);
    struct sk_boot_error e;
    const struct sk_boot_env env = { params_pa, output_pa, SK_MAX_CPUS, (KERNEL_VBASE >> 39) & 511 };
    if (!sk_params_check(p, &env, &e))
        return fail_with(out, &e);
    sk_g.logging = p->enable_logging;

    /* The environment: our image, the APIC mode. */
    uint64_t kernel_pa = virt_to_phys(KERNEL_VBASE);
    uint64_t image_bytes = (uint64_t)(__image_end - __image_start);
    uint32_t image_pages = (uint32_t)((image_bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    if (!kernel_pa || (kernel_pa & (PAGE_SIZE - 1)) || image_pages > WINDOW_FIRST)
        return fail(out, SK_E_IMAGE, "kernel image: bad mapping (pa %lx, %u pages)", kernel_pa, image_pages);
    for (uint32_t k = 1; k < image_pages; k++) {
        if (virt_to_phys(KERNEL_VBASE + (uint64_t)k * PAGE_SIZE) != kernel_pa + (uint64_t)k * PAGE_SIZE)
            return fail(out, SK_E_IMAGE, "kernel image: not physically contiguous at page %u", k);
    }
    if (!sk_params_check_memory(p, kernel_pa, (uint64_t)image_pages * PAGE_SIZE, identity_mapped, NULL, &e))
        return fail_with(out, &e);
    struct cpuid_regs f1 = cpuid(1, 0);
    bool has_x2apic = f1.ecx & (1u << 21);
    if (p->apic_mode == SIDECAR_APIC_MODE_X2APIC && !has_x2apic)
        return fail(out, SK_E_X2APIC, "params.apic_mode: x2apic requested but the CPU lacks it");
    sk_g.x2apic = p->apic_mode == SIDECAR_APIC_MODE_X2APIC ||
                  (p->apic_mode == SIDECAR_APIC_MODE_AUTO && has_x2apic);
    sk_g.use_mwait = p->use_mwait && (f1.ecx & (1u << 3));
    sk_g.tsc_deadline = f1.ecx & (1u << 24);
    if (cpuid(0x80000000u, 0).eax >= 0x80000001u)
        sk_g.nx = cpuid(0x80000001u, 0).edx & (1u << 20);
    sk_ap_nxe = sk_g.nx;
    if (cpuid(0, 0).eax >= 7) {
        struct cpuid_regs f7 = cpuid(7, 0);
        sk_g.smep = f7.ebx & (1u << 7);
        sk_g.smap = f7.ebx & (1u << 20);
        sk_g.umip = f7.ecx & (1u << 2);
    }
    sk_g.guest_ram_base = p->guest_ram_base;
    sk_g.guest_ram_size = p->guest_ram_size;
    sk_g.kernel_pa = kernel_pa;
    /* The VP backend: what params ask, else the build's default, else
     * svm where the CPU can (docs/svm.md). */
    uint8_t want = p->vp_backend != SIDECAR_VP_BACKEND_AUTO ? p->vp_backend
                                                            : (uint8_t)SIDECAR_CONFIG_VP_BACKEND;
    no_svm = sk_svm_probe();
    if (want == SIDECAR_VP_BACKEND_SVM && no_svm)
        return fail(out, SK_E_VP_BACKEND, "params.vp_backend: svm requested but %s", no_svm);
    sk_g.vp_backend = want == SIDECAR_VP_BACKEND_RING3 || no_svm ? SIDECAR_VP_BACKEND_RING3
                                                                : SIDECAR_VP_BACKEND_SVM;
    if (read_cr3() >> 32)
        return fail(out, SK_E_IMAGE, "shim page tables above 4 GiB (cr3 %lx): APs cannot use them", read_cr3());

    uint64_t validated = ticks_since_entry();

    /* From here on the kernel changes state. The TSC rate first: from
     * CPUID, or a PIT measurement that runs on while the CPUs start. */
    const char *tsc_source = "";
    entry_params = p;
    sk_g.tsc_khz = tsc_calibrate_start(&tsc_source);
    sk_g.first_init_tsc = 0;
    sk_g.image_pages = image_pages;
    idt_init();
    idt_load_bsp();
    sk_g.cpuid_faulting = sk_vp_probe_cpuid_faulting();   /* needs our IDT: may #GP */
    apic_init_bsp();
    sk_g.timeout_tsc = (uint64_t)p->ap_timeout_us * sk_g.tsc_khz / 1000;
    sk_g.init_delay_tsc = (uint64_t)p->init_delay_us * sk_g.tsc_khz / 1000;
    sk_g.trampoline_pa = p->trampoline_page;
    sk_g.test_fault_cpu = p->test_fault_cpu;
    sk_g.test_fault_kind = p->test_fault_kind;
    sk_g.cpu_count = p->cpu_count;
    sk_g.node_count = p->node_count;
    sk_g.bsp_cpu = p->bsp_cpu;
    sk_g.kick_cursor = 0;
    sk_g.cache_off_at_entry = 0;
    sk_g.cache_still_off = 0;
    sk_g.ready_count = 0;
    uint64_t set_up = ticks_since_entry();
    uint32_t sidecars = 0;
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        struct sk_cpu_entry *e = &sk_cpus[c];
        sc_memset(e, 0, sizeof(*e));
        e->apic_id = p->cpus[c].apic_id;
        e->role = p->cpus[c].role;
        e->node = SIDECAR_NO_CPU;
        e->started_by = SIDECAR_NO_CPU;
        e->state = e->role == SIDECAR_CPU_ROLE_SIDECAR ? KS_WAITING : KS_IDLE_MAIN;
    }
    for (uint32_t n = 0; n < p->node_count; n++) {
        struct sk_node *nd = &sk_nodes[n];
        nd->next = 0;
        nd->kicked = 0;
        nd->base_cpu = p->nodes[n].base_cpu;
        nd->cpu_count = p->nodes[n].cpu_count;
        nd->memory_base = p->nodes[n].memory_base;
        nd->setup = NODE_SETUP_NONE;   /* node_setup: by its first CPU up */
        /* Each CPU builds its own tables when it arrives (entry.asm,
         * sk_ap_build_tables); here only the slot entry.asm finds it by. */
        for (uint32_t i = 0; i < nd->cpu_count; i++) {
            uint32_t c = nd->base_cpu + i;
            sk_cpus[c].node = n;
            sk_cpus[c].node_cpu = i;
            if (sk_cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR)
                continue;
            struct sk_ap_slot *slot = &sk_ap_table[sidecars++];
            slot->apic_id = sk_cpus[c].apic_id;
            slot->cpu = c;
            slot->boot_stack = node_private_pa(nd->memory_base, nd->cpu_count, i, PRIV_PERCPU) + STACK_TOP_OFFSET;
        }
        out->nodes[n].control_page = node_control_pa(nd->memory_base);
        out->nodes[n].shmem_pages_base = node_command_pa(nd->memory_base, 0);
        out->nodes[n].shmem_pages_size = (uint64_t)nd->cpu_count * 2 * PAGE_SIZE;
    }

    /* The trampoline, patched for its page (the page and CR3 were checked
     * at entry, so this cannot fail). */
    scfree_trampoline_install(pa_ptr(p->trampoline_page), p->trampoline_page, read_cr3(),
                              (uint64_t)(uintptr_t)sk_ap_entry64);
    store32(&sk_ap_table_count, sidecars);
    uint64_t tables = ticks_since_entry();
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    /* Fan out, then wait for everyone started to be ready or failed. */
    bsp_fan_out(p->bsp_cpu);
    /* The svm backend's IO and MSR permission maps (20 KiB): only a VMRUN
     * reads them, and none runs before this kernel returns, so they are
     * filled here, while the last CPUs come up, not before the first INIT
     * (the VMCBs only hold their addresses). */
    if (sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM)
        sk_svm_bsp_init();
    /* Nothing left for the BSP to start: now the lines that would have
     * delayed the first INIT (about 1 ms each on a serial port under TCG). */
    klog("entry: %u CPUs, %u nodes, %s, BSP cpu %u, VP backend %s", p->cpu_count, p->node_count,
         sk_g.x2apic ? "x2apic" : "xapic", p->bsp_cpu,
         sk_g.vp_backend == SIDECAR_VP_BACKEND_SVM ? "svm" : "ring3");
    if (sk_g.vp_backend != SIDECAR_VP_BACKEND_SVM && no_svm)
        klog("svm backend unavailable: %s", no_svm);
    sk_vp_log_cpuid_faulting();
    uint64_t deadline = rdtsc() + sk_g.timeout_tsc * (sidecars + 4);
    uint32_t logged_tenths = 0;
    for (;;) {
        uint32_t pending = 0, ready = 0;
        for (uint32_t c = 0; c < p->cpu_count; c++) {
            uint32_t s = load32(&sk_cpus[c].state);
            pending += s == KS_STARTING || s == KS_UP || s == KS_WAITING;
            ready += s == KS_READY;
        }
        /* Progress for people watching the console (the demo): a line
         * each time another tenth of the sidecar CPUs is ready. */
        if (sidecars && ready * 10 / sidecars > logged_tenths && pending) {
            logged_tenths = ready * 10 / sidecars;
            klog("%u/%u sidecar CPUs ready (%lu us)", ready, sidecars,
                 ticks_since_entry() * 1000 / sk_g.tsc_khz);
        }
        uint64_t now = rdtsc();
        if (!pending || now >= deadline)
            break;
        /* Sleep in short slices (200 us with TSC deadline, about 1 ms on
         * the APIC timer): CPUs still coming up get the host time. */
        bsp_calibrate();
        uint64_t slice = now + sk_g.tsc_khz / 5;
        apic_arm_deadline(slice < deadline ? slice : deadline);
        cpu_sti_hlt();
        cpu_cli();
    }
    /* Every node's shared pages, also where none of its CPUs came up (a
     * node whose first CPU is still at it is waited for). */
    for (uint32_t n = 0; n < p->node_count; n++)
        node_setup(n);
    /* The bring-up ends when the last CPU became IDLE (the BSP, asleep,
     * may notice up to a wake-up slice later), or now if one failed. */
    out->bringup_tsc = 0;
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        const struct sk_cpu_entry *e = &sk_cpus[c];
        if (e->role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        if (load32(&e->state) != KS_READY) {
            out->bringup_tsc = ticks_since_entry();
            break;
        }
        if (e->ready_tsc > out->bringup_tsc)
            out->bringup_tsc = e->ready_tsc;
    }
    /* A bring-up shorter than the PIT measurement: its end, after. */
    while (sk_g.calibrating) {
        bsp_calibrate();
        apic_arm_deadline(rdtsc() + sk_g.tsc_khz / 5);
        cpu_sti_hlt();
        cpu_cli();
    }
    apic_arm_deadline(0);

    /* The report. */
    out->tsc_khz = sk_g.tsc_khz;
    out->node_count = p->node_count;
    out->cpu_count = p->cpu_count;
    out->apic_mode = sk_g.x2apic ? SIDECAR_APIC_MODE_X2APIC : SIDECAR_APIC_MODE_XAPIC;
    out->use_mwait = sk_g.use_mwait;
    out->cpuid_faulting = sk_g.cpuid_faulting;
    out->vp_backend = sk_g.vp_backend;
    out->cache_off_at_entry = load32(&sk_g.cache_off_at_entry);
    out->cache_still_off = load32(&sk_g.cache_still_off);
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        struct sk_cpu_entry *e = &sk_cpus[c];
        struct sidecar_output_cpu *o = &out->cpus[c];
        uint32_t s = load32(&e->state);
        o->apic_id = e->apic_id;
        o->node = e->node;
        o->started_by = e->started_by;
        o->round = e->round;
        o->start_tsc = e->start_tsc;
        o->status = SIDECAR_CPU_STATUS_REMOVED;
        if (e->role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        if (s == KS_READY) {
            o->status = SIDECAR_CPU_STATUS_IDLE;
            o->ready_tsc = e->ready_tsc;
            out->ready_count++;
            continue;
        }
        out->failed_count++;
        o->failure = e->failure ? e->failure :
                     s == KS_WAITING ? SIDECAR_CPU_FAILURE_NOT_STARTED : SIDECAR_CPU_FAILURE_NO_ANSWER;
        o->vector = e->vector;
    }
    klog("bring-up done: %u ready, %u failed, %lu us; caching was off on %u CPUs at entry, now on (still off: %u)",
         out->ready_count, out->failed_count, out->bringup_tsc * 1000 / sk_g.tsc_khz, out->cache_off_at_entry,
         out->cache_still_off);
    /* Where the time before the first INIT went (docs/boot.md section 3). */
    klog("first INIT %lu us after entry; by then params checked %lu, BSP set up %lu, tables %lu us; TSC %lu kHz (%s)",
         sk_g.first_init_tsc * 1000 / sk_g.tsc_khz, validated * 1000 / sk_g.tsc_khz, set_up * 1000 / sk_g.tsc_khz,
         tables * 1000 / sk_g.tsc_khz, sk_g.tsc_khz, tsc_source);
    apic_restore_bsp();
    idt_restore_bsp();
    return true;
}
