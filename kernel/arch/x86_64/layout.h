/* SPDX-License-Identifier: MIT */
/* Virtual layout of the sidecar kernel, and the per-CPU memory it builds.
 *
 * The kernel is linked at KERNEL_VBASE (the top 2 GiB, -mcmodel=kernel) and
 * must fit in the first WINDOW_FIRST pages of the 2 MiB that one page table
 * covers. Every sidecar CPU has its own PML4 -> PDPT -> PD -> PT chain that
 * maps, in that 2 MiB:
 *
 *   slot 0 .. image pages-1   the kernel image (shared, same physical pages)
 *   SLOT_APIC                 the xAPIC registers (uncached), xAPIC mode only
 *   SLOT_CONTROL              the node's control page
 *   SLOT_COMMAND              this CPU's command page
 *   SLOT_REGISTER             this CPU's register page
 *   SLOT_VMCB                 this CPU's VMCB (the SVM backend only)
 *   SLOT_GUARD                unmapped: a stack overflow faults here
 *   SLOT_PERCPU               this CPU's globals (top) and stack (below them)
 *
 * so every CPU finds its own data at the same virtual addresses and no CPU
 * maps another CPU's private pages.
 *
 * Node memory (params nodes[n].memory_base), in pages:
 *   0                         control page
 *   1 + 2i, 2 + 2i            command page and register page of CPU i
 *   1 + 2c .. 3 + 2c          ring-3 guest-RAM PDPT and two page directories
 *   4 + 2c .. 7 + 2c          SVM nested page tables: PML4, PDPT, PD for
 *                             GPA 0-1 GiB, PD for GPA 3-4 GiB (the reset alias)
 *   8 + 2c + 7i ..            CPU i's private pages: PML4, PDPT, PD, PT,
 *                             globals+stack, VMCB, host save area
 * where c is the node's cpu_count: SIDECAR_NODE_FIXED_PAGES + c *
 * SIDECAR_CPU_PAGES pages in all.
 */
#ifndef SK_LAYOUT_H
#define SK_LAYOUT_H

#include <sidecar/abi.h>

#define KERNEL_VBASE 0xffffffff80000000ull
#define PAGE_SIZE SIDECAR_PAGE_SIZE

#define WINDOW_FIRST 496u
#define SLOT_APIC 500u
#define SLOT_CONTROL 504u
#define SLOT_COMMAND 505u
#define SLOT_REGISTER 506u
#define SLOT_VMCB 507u
#define SLOT_GUARD 509u
#define SLOT_PERCPU 510u

#define SLOT_VA(slot) (KERNEL_VBASE + (uint64_t)(slot) * PAGE_SIZE)

/* Private pages of a CPU, in order. */
enum { PRIV_PML4, PRIV_PDPT, PRIV_PD, PRIV_PT, PRIV_PERCPU, PRIV_VMCB, PRIV_HSAVE, PRIV_PAGES };

/* The node's shared page tables, after its control page and the CPUs'
 * command/register pages. */
enum { NODE_GUEST_PDPT, NODE_GUEST_PD0, NODE_GUEST_PD1,
       NODE_NPT_PML4, NODE_NPT_PDPT, NODE_NPT_PD_LOW, NODE_NPT_PD_HIGH, NODE_TABLE_PAGES };
_Static_assert(1 + NODE_TABLE_PAGES == SIDECAR_NODE_FIXED_PAGES, "node fixed pages");

_Static_assert(PRIV_PAGES == SIDECAR_CPU_PRIVATE_PAGES, "private pages");
_Static_assert(SIDECAR_CPU_SHARED_PAGES == 2, "command + register page");

static inline uint64_t node_control_pa(uint64_t base) { return base; }
static inline uint64_t node_command_pa(uint64_t base, uint32_t i) { return base + (1 + 2ull * i) * PAGE_SIZE; }
static inline uint64_t node_register_pa(uint64_t base, uint32_t i) { return base + (2 + 2ull * i) * PAGE_SIZE; }
static inline uint64_t node_table_pa(uint64_t base, uint32_t c, unsigned which)
{
    return base + (1 + 2ull * c + which) * PAGE_SIZE;
}
static inline uint64_t node_guest_tables_pa(uint64_t base, uint32_t c) { return node_table_pa(base, c, NODE_GUEST_PDPT); }
static inline uint64_t node_private_pa(uint64_t base, uint32_t c, uint32_t i, unsigned which)
{
    return base + (SIDECAR_NODE_FIXED_PAGES + 2ull * c + (uint64_t)SIDECAR_CPU_PRIVATE_PAGES * i + which) * PAGE_SIZE;
}

/* Page-table entry bits. */
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#endif
