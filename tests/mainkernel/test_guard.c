/* SPDX-License-Identifier: MIT */
/* The fault tests' memory guard (mainkernel/scenarios/guard.c), natively: a fake
 * node at a fixed low address (the guard works on physical addresses
 * below 4 GiB, identity mapped), changes in each kind of region, and
 * which ones it must see. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include "../../kernel/arch/x86_64/layout.h"
#include "canary.h"
#include "guard.h"

#define BASE 0x20000000ull          /* the fake "physical" memory */
#define SPAN 0x400000ull
#define NODE (BASE + 0x10000)       /* node memory; below it: "kernel image" */
#define GUEST (BASE + 0x200000)     /* guest RAM */
#define NCPU 3u                     /* node CPUs 1-3; CPU 2 is a main CPU (an unused slot) */

static struct sidecar_params *p;
static struct sidecar_output *o;
static struct sidecar_handoff *h;
static struct mk_guard g;
static bool target[SIDECAR_MAX_CPUS];
static char err[160];

static void setup(void)
{
    void *m = mmap((void *)(uintptr_t)BASE, SPAN, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    cr_assert(m == (void *)(uintptr_t)BASE, "cannot map the fake memory");
    memset(m, 0x11, SPAN);
    p = calloc(1, sizeof(*p));
    o = calloc(1, sizeof(*o));
    h = calloc(1, sizeof(*h));
    p->cpu_count = 4;
    p->node_count = 1;
    p->nodes[0] = (struct sidecar_params_node){ NODE, ((uint64_t)SIDECAR_NODE_FIXED_PAGES + (uint64_t)SIDECAR_CPU_PAGES * NCPU) * PAGE_SIZE, 1, NCPU };
    p->guest_ram_base = GUEST;
    p->guest_ram_size = 0x100000;
    for (uint32_t c = 0; c < 4; c++) {
        p->cpus[c].role = c == 0 || c == 2 ? SIDECAR_CPU_ROLE_MAIN : SIDECAR_CPU_ROLE_SIDECAR;
        o->cpus[c].status = c == 1 || c == 3 ? SIDECAR_CPU_STATUS_IDLE : SIDECAR_CPU_STATUS_REMOVED;
    }
    o->nodes[0].control_page = NODE;
    struct sidecar_control_page *cp = (void *)(uintptr_t)NODE;
    memset(cp, 0, PAGE_SIZE);
    cp->cpu_count = NCPU;
    h->memory_range_count = 1;
    h->memory_map[0] = (struct sidecar_memory_range){ BASE, SPAN, MK_MEMORY_TYPE_SIDECAR, 0 };
    target[1] = true;
}

static void teardown(void)
{
    munmap((void *)(uintptr_t)BASE, SPAN);
    free(p);
    free(o);
    free(h);
}

static volatile uint8_t *at(uint64_t pa) { return (volatile uint8_t *)(uintptr_t)pa; }

/* Flips the byte, checks the guard's verdict, restores it. */
static void expect(uint64_t pa, uint8_t flip, bool seen, const char *what)
{
    mk_guard_snapshot(&g, h, p, o, target);
    cr_assert(mk_guard_check(&g, err, sizeof(err)), "clean: %s", err);
    *at(pa) ^= flip;
    bool ok = mk_guard_check(&g, err, sizeof(err));
    *at(pa) ^= flip;
    cr_assert_eq(!ok, seen, "%s at %llx: %s", what, (unsigned long long)pa, ok ? "not seen" : err);
    if (seen)
        cr_assert(strstr(err, what), "%s: message \"%s\"", what, err);
}

TestSuite(guard, .init = setup, .fini = teardown);

Test(guard, unused_slots_get_the_pattern)
{
    /* CPU 2 (index 1 in the node) is a main CPU: all its pages. */
    cr_assert_eq(mk_guard_fill_unused(p, o), SIDECAR_CPU_PAGES);
    uint64_t cmd = node_command_pa(NODE, 1);
    cr_assert_neq(*(volatile uint64_t *)(uintptr_t)cmd, 0x1111111111111111ull);
    expect(cmd + 100, 1, true, "unused slot");
    expect(node_private_pa(NODE, NCPU, 1, PRIV_PERCPU) + 8, 1, true, "unused slot");
}

Test(guard, targets_may_change_their_own_pages_only)
{
    expect(node_command_pa(NODE, 0) + 2000, 0xff, false, "target command page");
    expect(node_private_pa(NODE, NCPU, 0, PRIV_PERCPU) + 4000, 0xff, false, "target globals");
    expect(node_command_pa(NODE, 2) + 2000, 0xff, true, "bystander command page");
    expect(node_private_pa(NODE, NCPU, 2, PRIV_PERCPU) + 4000, 0xff, true, "bystander globals and stack");
    expect(node_register_pa(NODE, 0) + 5, 1, true, "register page");
    expect(node_private_pa(NODE, NCPU, 0, PRIV_VMCB) + 0x400, 1, false, "target VMCB");
    expect(node_private_pa(NODE, NCPU, 2, PRIV_VMCB) + 0x400, 1, true, "bystander VMCB");
    expect(node_table_pa(NODE, NCPU, NODE_NPT_PD_LOW) + 8, 1, true, "shared page tables");
}

Test(guard, page_tables_without_accessed_and_dirty)
{
    uint64_t pt = node_private_pa(NODE, NCPU, 0, PRIV_PD) + 16;
    expect(pt, 0x20, false, "accessed bit");
    expect(pt, 0x40, false, "dirty bit");
    expect(pt, 0x02, true, "page tables");
    expect(node_guest_tables_pa(NODE, NCPU) + 8, 0x60, false, "guest accessed/dirty");
    expect(node_guest_tables_pa(NODE, NCPU) + 8, 0x04, true, "shared page tables");
}

Test(guard, control_page_live_fields_only)
{
    uint64_t status = NODE + offsetof(struct sidecar_control_page, cpu_status);
    expect(status + 2, 0x7f, false, "status byte");
    expect(NODE + offsetof(struct sidecar_control_page, needs_attention), 1, false, "needs_attention");
    expect(NODE + offsetof(struct sidecar_control_page, response_vector), 0x30, false, "response_vector");
    expect(status + NCPU, 1, true, "control page");   /* a status byte past cpu_count */
    expect(NODE + offsetof(struct sidecar_control_page, request_vector), 1, true, "control page");
}

Test(guard, other_sidecar_memory_but_guest_ram)
{
    expect(BASE + 0x100, 1, true, "sidecar memory");       /* the "kernel image" below the node */
    expect(GUEST + 0x1234, 1, false, "guest RAM");
    expect(GUEST + 0x100000 + 8, 1, true, "sidecar memory"); /* just past guest RAM */
}
