/* SPDX-License-Identifier: MIT */
/* The fault tests' memory guard (guard.h). */
#include <stddef.h>

#include <scfree/scfree.h>

#include "../../kernel/arch/x86_64/layout.h"   /* node memory layout (docs/boot.md section 5) */
#include "canary.h"
#include "guard.h"

enum { KIND_PLAIN, KIND_TABLE, KIND_CONTROL };

#define PTE_ACCESSED_DIRTY 0x60ull
#define UNUSED_PATTERN 0xa5c3a5c3a5c3a5c3ull
#define MAP_LIMIT 0x100000000ull

static uint64_t mix(uint64_t h, uint64_t w) { return (h ^ w) * 0x100000001b3ull + (h >> 29); }

static uint64_t hash_region(const struct mk_guard_region *r, uint32_t cpu_count)
{
    const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)r->base;
    uint64_t h = 0xcbf29ce484222325ull ^ r->size;
    uint64_t n = r->size / 8;
    if (r->kind == KIND_CONTROL) {
        /* The run-time fields: response_cpu, response_vector and
         * needs_attention (offsets 16-27), the status bytes in use. */
        const volatile uint8_t *b = (const volatile uint8_t *)(uintptr_t)r->base;
        for (uint64_t i = 0; i < r->size; i++) {
            bool live = (i >= offsetof(struct sidecar_control_page, response_cpu) &&
                         i < offsetof(struct sidecar_control_page, needs_attention) + 4) ||
                        (i >= offsetof(struct sidecar_control_page, cpu_status) &&
                         i < offsetof(struct sidecar_control_page, cpu_status) + cpu_count);
            h = mix(h, live ? 0 : b[i]);
        }
        return h;
    }
    uint64_t mask = r->kind == KIND_TABLE ? ~PTE_ACCESSED_DIRTY : ~0ull;
    for (uint64_t i = 0; i < n; i++)
        h = mix(h, w[i] & mask);
    return h;
}

static void add(struct mk_guard *g, uint64_t base, uint64_t size, uint8_t kind, const char *what, uint32_t cpu,
                uint32_t cpu_count)
{
    if (!size || base >= MAP_LIMIT || size > MAP_LIMIT - base)
        return;
    if (g->count >= MK_GUARD_MAX_REGIONS) {
        g->overflow = true;
        return;
    }
    struct mk_guard_region *r = &g->r[g->count++];
    r->base = base;
    r->size = size;
    r->kind = kind;
    r->what = what;
    r->cpu = cpu;
    r->cpu_count = cpu_count;
    r->hash = hash_region(r, cpu_count);
    g->bytes += size;
}

/* A node CPU slot nobody uses: not a sidecar CPU, or one that never came up. */
static bool unused_slot(const struct sidecar_params *p, const struct sidecar_output *o, uint32_t cpu)
{
    return p->cpus[cpu].role != SIDECAR_CPU_ROLE_SIDECAR || o->cpus[cpu].status != SIDECAR_CPU_STATUS_IDLE;
}

static void fill_page(uint64_t pa)
{
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)pa;
    for (uint32_t i = 0; i < PAGE_SIZE / 8; i++)
        w[i] = UNUSED_PATTERN ^ pa ^ i;
}

uint32_t mk_guard_fill_unused(const struct sidecar_params *p, const struct sidecar_output *o)
{
    uint32_t pages = 0;
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        for (uint32_t i = 0; i < nd->cpu_count; i++) {
            if (!unused_slot(p, o, nd->base_cpu + i))
                continue;
            fill_page(node_command_pa(nd->memory_base, i));
            fill_page(node_register_pa(nd->memory_base, i));
            for (unsigned k = 0; k < PRIV_PAGES; k++)
                fill_page(node_private_pa(nd->memory_base, nd->cpu_count, i, k));
            pages += 2 + PRIV_PAGES;
        }
    }
    return pages;
}

/* [base, base + size) less node memory and guest RAM. */
static void add_sidecar_range(struct mk_guard *g, const struct sidecar_params *p, uint64_t base, uint64_t size)
{
    uint64_t end = base + size;
    while (base < end) {
        /* The first excluded range that overlaps [base, end). */
        uint64_t cut_b = end, cut_e = end;
        for (uint32_t n = 0; n <= p->node_count; n++) {
            uint64_t b = n < p->node_count ? p->nodes[n].memory_base : p->guest_ram_base;
            uint64_t e = b + (n < p->node_count ? p->nodes[n].memory_size : p->guest_ram_size);
            if (e <= base || b >= end || b == e)
                continue;
            uint64_t bb = b < base ? base : b;
            if (bb < cut_b) {
                cut_b = bb;
                cut_e = e;
            }
        }
        add(g, base, cut_b - base, KIND_PLAIN, "sidecar memory", SIDECAR_NO_CPU, 0);
        base = cut_b < end ? cut_e : end;
    }
}

void mk_guard_snapshot(struct mk_guard *g, const struct sidecar_handoff *h, const struct sidecar_params *p,
                       const struct sidecar_output *o, const bool *target)
{
    g->count = 0;
    g->overflow = false;
    g->bytes = 0;
    uint32_t nr = h->memory_range_count < SIDECAR_MAX_MEMORY_RANGES ? h->memory_range_count
                                                                    : SIDECAR_MAX_MEMORY_RANGES;
    for (uint32_t i = 0; i < nr; i++)
        if (h->memory_map[i].type == MK_MEMORY_TYPE_SIDECAR)
            add_sidecar_range(g, p, h->memory_map[i].base, h->memory_map[i].size);
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        uint64_t mb = nd->memory_base;
        add(g, o->nodes[n].control_page, PAGE_SIZE, KIND_CONTROL, "control page", SIDECAR_NO_CPU, nd->cpu_count);
        add(g, node_guest_tables_pa(mb, nd->cpu_count), NODE_TABLE_PAGES * PAGE_SIZE, KIND_TABLE,
            "shared page tables", SIDECAR_NO_CPU, 0);
        for (uint32_t i = 0; i < nd->cpu_count; i++) {
            uint32_t cpu = nd->base_cpu + i;
            bool unused = unused_slot(p, o, cpu);
            bool mine = !unused && target && target[cpu];
            add(g, node_register_pa(mb, i), PAGE_SIZE, KIND_PLAIN, unused ? "unused slot" : "register page", cpu, 0);
            if (!mine)
                add(g, node_command_pa(mb, i), PAGE_SIZE, KIND_PLAIN,
                    unused ? "unused slot" : "bystander command page", cpu, 0);
            add(g, node_private_pa(mb, nd->cpu_count, i, PRIV_PML4), 4 * PAGE_SIZE,
                unused ? KIND_PLAIN : KIND_TABLE, unused ? "unused slot" : "page tables", cpu, 0);
            if (!mine) {
                add(g, node_private_pa(mb, nd->cpu_count, i, PRIV_PERCPU), PAGE_SIZE, KIND_PLAIN,
                    unused ? "unused slot" : "bystander globals and stack", cpu, 0);
                /* The SVM backend's VMCB and host save area (zero and
                 * unused with the ring-3 backend). */
                add(g, node_private_pa(mb, nd->cpu_count, i, PRIV_VMCB), 2 * PAGE_SIZE, KIND_PLAIN,
                    unused ? "unused slot" : "bystander VMCB", cpu, 0);
            }
        }
    }
}

bool mk_guard_check(const struct mk_guard *g, char *err, unsigned long size)
{
    if (g->overflow) {
        sc_snprintf(err, size, "guard: more than %u regions", MK_GUARD_MAX_REGIONS);
        return false;
    }
    for (uint32_t k = 0; k < g->count; k++) {
        const struct mk_guard_region *r = &g->r[k];
        if (hash_region(r, r->cpu_count) != r->hash) {
            if (r->cpu != SIDECAR_NO_CPU)
                sc_snprintf(err, size, "guard: %s of cpu %u at %lx changed", r->what, r->cpu, r->base);
            else
                sc_snprintf(err, size, "guard: %s at %lx (%lu bytes) changed", r->what, r->base, r->size);
            return false;
        }
    }
    return true;
}
