/* SPDX-License-Identifier: MIT */
/* The CPU and memory policy (DESIGN.md section 3, docs/shim.md):
 *  - sidecar.policy=openhcl: OpenHCL's split, split_openhcl(); the
 *    default (auto) where the boot CPU has x2APIC, numa elsewhere;
 *  - sidecar.policy=numa: main CPUs are the BSP, the first CPU of each NUMA
 *    node, and the APIC IDs in sidecar.main_cpus; each NUMA node's other
 *    CPUs are split into nodes of at most node_size CPUs, as evenly as
 *    possible; CPU indices (params.cpus order) run NUMA node by NUMA node,
 *    in ACPI order within a NUMA node, so every sidecar node is one index
 *    range;
 *  - each node's memory comes from its NUMA node's RAM when SRAT says where
 *    (else from anywhere, logged), below 4 GiB, never from in-use ranges;
 *  - sidecar is disabled, with a reason, when it is off, when no NUMA node
 *    has a second CPU, when memory is short or the topology is invalid. */
#include <shim/core.h>
#include <sidecar/validate.h>
#include <sidecar_config.h>

#include "util.h"

#define LOW_LIMIT 0x100000ull
#define HIGH_LIMIT 0x100000000ull
#define TRAMPOLINE_LOW 0x1000ull
#define TRAMPOLINE_HIGH 0xa0000ull

struct freelist {
    uint32_t count;
    struct shim_range r[SHIM_MAX_RANGES * 2];
};

static void plan_log(const struct shim_log *log, const char *fmt, ...)
{
    if (!log || !log->write)
        return;
    char line[SHIM_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    shim_vfmt(line, sizeof(line), fmt, ap);
    va_end(ap);
    log->write(log->ctx, line);
}

static int disable(struct shim_plan *plan, const struct shim_log *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shim_vfmt(plan->reason, sizeof(plan->reason), fmt, ap);
    va_end(ap);
    plan->enabled = false;
    plan_log(log, "sidecar disabled: %s", plan->reason);
    return SHIM_OK;
}

/* Removes [base, base+size) from the free list. */
static void carve(struct freelist *f, uint64_t base, uint64_t size)
{
    uint64_t end = base + size < base ? ~0ull : base + size;
    for (uint32_t i = 0; i < f->count; i++) {
        struct shim_range *r = &f->r[i];
        uint64_t rend = r->base + r->size;
        if (end <= r->base || base >= rend)
            continue;
        if (base > r->base && end < rend && f->count < SHIM_MAX_RANGES * 2) {
            f->r[f->count++] = (struct shim_range){ end, rend - end, 1 };
            r->size = base - r->base;
        } else if (base <= r->base) {
            r->size = end >= rend ? 0 : rend - end;
            r->base = end >= rend ? r->base : end;
        } else {
            r->size = base - r->base;
        }
    }
}

static void build_freelist(struct freelist *f, const struct shim_memmap *map,
                           const struct shim_range *in_use, uint32_t in_use_count,
                           uint64_t lo, uint64_t hi)
{
    f->count = 0;
    for (uint32_t i = 0; i < map->count && i < SHIM_MAX_RANGES; i++) {
        const struct shim_range *m = &map->ranges[i];
        if (m->type != 1 || m->base + m->size < m->base)
            continue;
        uint64_t b = m->base < lo ? lo : m->base;
        uint64_t e = m->base + m->size > hi ? hi : m->base + m->size;
        if (b < e)
            f->r[f->count++] = (struct shim_range){ b, e - b, 1 };
    }
    /* Usable entries of a bad map may overlap: the in-use carving below
     * is per entry, and allocation carves every entry again. */
    for (uint32_t i = 0; i < in_use_count; i++)
        carve(f, in_use[i].base, in_use[i].size);
    /* A byte that any entry calls not usable is not usable. */
    for (uint32_t i = 0; i < map->count && i < SHIM_MAX_RANGES; i++)
        if (map->ranges[i].type != 1)
            carve(f, map->ranges[i].base, map->ranges[i].size);
}

/* Lowest aligned block of size bytes inside [lo, hi); carved out. */
static bool alloc(struct freelist *f, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi, uint64_t *out)
{
    bool found = false;
    uint64_t best = 0;
    for (uint32_t i = 0; i < f->count; i++) {
        const struct shim_range *r = &f->r[i];
        uint64_t b = r->base < lo ? lo : r->base;
        if (b > ~0ull - (align - 1))
            continue;   /* aligning up would wrap past 2^64 */
        b = (b + align - 1) & ~(align - 1);
        uint64_t e = r->base + r->size > hi ? hi : r->base + r->size;
        if (b < e && e - b >= size && (!found || b < best)) {
            best = b;
            found = true;
        }
    }
    if (found) {
        carve(f, best, size);
        /* the same bytes may appear in another (overlapping) entry */
        carve(f, best, size);
        *out = best;
    }
    return found;
}

static bool listed(const struct shim_options *opt, uint32_t apic_id)
{
    for (uint32_t i = 0; i < opt->main_cpu_count; i++)
        if (opt->main_cpus[i] == apic_id)
            return true;
    return false;
}

/* A sidecar node before its memory: an index range and its dense NUMA node. */
struct span {
    uint32_t base, count, numa;
};

static uint8_t main_reason(const struct shim_options *opt, uint32_t apic_id, uint32_t bsp_apic_id, uint8_t other)
{
    return apic_id == bsp_apic_id ? SIDECAR_CPU_REASON_BOOT_CPU
           : listed(opt, apic_id) ? SIDECAR_CPU_REASON_MAIN_CPUS
                                  : other;
}

/* One params entry; returns whether it is a main CPU. */
static bool put_cpu(struct sidecar_params *p, struct shim_plan *plan, const struct shim_topology *topo,
                    const struct shim_cpu *c, uint32_t idx, bool main_cpu, uint8_t reason)
{
    struct sidecar_params_cpu *pc = &p->cpus[idx];
    pc->apic_id = c->apic_id;
    pc->numa_node = (uint16_t)topo->numa_domain[c->numa_node];
    pc->role = main_cpu ? SIDECAR_CPU_ROLE_MAIN : SIDECAR_CPU_ROLE_SIDECAR;
    pc->reason = main_cpu ? reason : SIDECAR_CPU_REASON_SIDECAR_NODE;
    plan->main_cpu_count += main_cpu;
    plan->sidecar_cpu_count += !main_cpu;
    return main_cpu;
}

/* Adds the node [first sidecar CPU, last sidecar CPU] of [from, to). */
static bool add_span(const struct sidecar_params *p, uint32_t from, uint32_t to, uint32_t numa,
                     struct span *spans, uint32_t *count)
{
    while (from < to && p->cpus[from].role != SIDECAR_CPU_ROLE_SIDECAR)
        from++;
    while (to > from && p->cpus[to - 1].role != SIDECAR_CPU_ROLE_SIDECAR)
        to--;
    if (from == to)
        return true;   /* no sidecar CPU: no node */
    if (*count >= SIDECAR_MAX_NODES)
        return false;
    spans[(*count)++] = (struct span){ from, to - from, numa };
    return true;
}

/* Policy numa: CPUs NUMA node by NUMA node; the BSP, each NUMA node's
 * first CPU and sidecar.main_cpus are main; each NUMA node's sidecar CPUs in
 * nodes of at most node_size, as evenly as possible. */
static int split_numa(const struct shim_topology *topo, const struct shim_options *opt, uint32_t bsp_apic_id,
                      struct sidecar_params *p, struct shim_plan *plan, struct span *spans, uint32_t *span_count,
                      uint32_t *bsp, const struct shim_log *log)
{
    uint32_t n = topo->cpu_count, idx = 0;
    uint32_t numa_first[SHIM_MAX_NUMA + 1];
    for (uint32_t d = 0; d < topo->numa_count; d++) {
        numa_first[d] = idx;
        bool first = true;
        for (uint32_t i = 0; i < n; i++) {
            const struct shim_cpu *c = &topo->cpus[i];
            if (c->numa_node != d)
                continue;
            bool main_cpu = first || c->apic_id == bsp_apic_id || listed(opt, c->apic_id);
            put_cpu(p, plan, topo, c, idx, main_cpu,
                    main_reason(opt, c->apic_id, bsp_apic_id, SIDECAR_CPU_REASON_NUMA_FIRST));
            if (c->apic_id == bsp_apic_id)
                *bsp = idx;
            first = false;
            idx++;
        }
    }
    numa_first[topo->numa_count] = idx;
    if (idx != n)
        return disable(plan, log, "invalid topology: a CPU names a NUMA node that does not exist");
    for (uint32_t d = 0; d < topo->numa_count; d++) {
        uint32_t sc = 0;
        for (uint32_t i = numa_first[d]; i < numa_first[d + 1]; i++)
            sc += p->cpus[i].role == SIDECAR_CPU_ROLE_SIDECAR;
        if (!sc)
            continue;
        uint32_t chunks = (sc + opt->node_size - 1) / opt->node_size;
        uint32_t i = numa_first[d];
        for (uint32_t k = 0; k < chunks; k++) {
            uint32_t want = sc / chunks + (k < sc % chunks);
            while (p->cpus[i].role != SIDECAR_CPU_ROLE_SIDECAR)
                i++;
            uint32_t base = i, got = 0;
            while (got < want) {
                got += p->cpus[i].role == SIDECAR_CPU_ROLE_SIDECAR;
                i++;
            }
            if (!add_span(p, base, i, d, spans, span_count))
                return disable(plan, log, "more than %u sidecar nodes (raise sidecar.node_size)",
                               (unsigned)SIDECAR_MAX_NODES);
        }
    }
    return SHIM_OK;
}

/* Policy openhcl (OpenHCL's openhcl_boot sidecar split): CPU index = MADT
 * position (the VP index); every run of consecutive CPUs of one NUMA node
 * is cut into chunks = ceil(len / node_size) pieces of ceil(len / chunks)
 * CPUs, the last one smaller; each chunk is a node whose first CPU stays
 * with the main kernel (a chunk of one CPU is a node without sidecar CPU). */
static int split_openhcl(const struct shim_topology *topo, const struct shim_options *opt, uint32_t bsp_apic_id,
                         struct sidecar_params *p, struct shim_plan *plan, struct span *spans,
                         uint32_t *span_count, uint32_t *bsp, const struct shim_log *log)
{
    uint32_t n = topo->cpu_count;
    for (uint32_t i = 0; i < n; i++)
        if (topo->cpus[i].numa_node >= topo->numa_count)
            return disable(plan, log, "invalid topology: a CPU names a NUMA node that does not exist");
    bool any_big = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t d = topo->cpus[i].numa_node, j = i;
        while (j < n && topo->cpus[j].numa_node == d)
            j++;
        uint32_t len = j - i;
        uint32_t chunks = (len + opt->node_size - 1) / opt->node_size;
        uint32_t size = (len + chunks - 1) / chunks;
        for (uint32_t b = i; b < j; b += size) {
            uint32_t e = b + size < j ? b + size : j;
            any_big = any_big || e - b > 1;
            for (uint32_t k = b; k < e; k++) {
                const struct shim_cpu *c = &topo->cpus[k];
                bool main_cpu = k == b || c->apic_id == bsp_apic_id || listed(opt, c->apic_id);
                put_cpu(p, plan, topo, c, k, main_cpu,
                        main_reason(opt, c->apic_id, bsp_apic_id,
                                    b == i ? SIDECAR_CPU_REASON_NUMA_FIRST : SIDECAR_CPU_REASON_NODE_FIRST));
                if (c->apic_id == bsp_apic_id)
                    *bsp = k;
            }
            /* The node is the whole chunk, its main CPU first, as in
             * OpenHCL: node ranges then tile every VP from 0, which its
             * client requires, and the main CPU has a (REMOVED) slot. */
            if (*span_count >= SIDECAR_MAX_NODES)
                return disable(plan, log, "more than %u sidecar nodes (raise sidecar.node_size)",
                               (unsigned)SIDECAR_MAX_NODES);
            spans[(*span_count)++] = (struct span){ b, e - b, d };
        }
        i = j;
    }
    if (!any_big)
        return disable(plan, log, "nothing to gain: every chunk of a NUMA node has one CPU (sidecar.policy=openhcl)");
    return SHIM_OK;
}

int shim_plan_build(const struct shim_topology *topo, const struct shim_options *opt,
                    const struct shim_memmap *map, const struct shim_range *in_use,
                    uint32_t in_use_count, uint32_t bsp_apic_id,
                    struct sidecar_params *p, struct shim_plan *plan,
                    const struct shim_log *log)
{
    shim_zero(plan, sizeof(*plan));
    shim_zero(p, sizeof(*p));
    plan->enabled = true;
    uint32_t n = topo->cpu_count;
    plan->cpu_count = n;
    if (!opt->enabled)
        return disable(plan, log, "sidecar=off");
    if (opt->node_size == 0 || opt->node_size > SIDECAR_MAX_NODE_CPUS)
        return disable(plan, log, "invalid sidecar.node_size %u", opt->node_size);
    if (opt->policy != SHIM_POLICY_AUTO && opt->policy != SHIM_POLICY_OPENHCL && opt->policy != SHIM_POLICY_NUMA)
        return disable(plan, log, "invalid sidecar.policy %u", opt->policy);
    if (n == 0 || n > SHIM_MAX_CPUS || n > SIDECAR_CONFIG_MAX_CPUS || topo->numa_count == 0 ||
        topo->numa_count > SHIM_MAX_NUMA)
        return disable(plan, log, "invalid topology (%u CPUs, %u NUMA nodes)", n, topo->numa_count);
    /* OpenHCL runs no sidecar without x2APIC (its kernel speaks only
     * x2APIC); ours speaks xAPIC too. */
    uint32_t policy = opt->policy;
    if (policy == SHIM_POLICY_AUTO)
        policy = topo->no_x2apic ? SHIM_POLICY_NUMA : SHIM_POLICY_OPENHCL;
    if (topo->no_x2apic)
        plan_log(log, "no x2APIC: OpenHCL would run no sidecar here; %s", policy == SHIM_POLICY_NUMA
                 ? "sidecar.policy=numa" : "sidecar.policy=openhcl runs with xAPIC");
    plan->policy = policy;

    struct span spans[SIDECAR_MAX_NODES];
    uint32_t span_count = 0, bsp = SIDECAR_NO_CPU;
    int rc = policy == SHIM_POLICY_OPENHCL
                 ? split_openhcl(topo, opt, bsp_apic_id, p, plan, spans, &span_count, &bsp, log)
                 : split_numa(topo, opt, bsp_apic_id, p, plan, spans, &span_count, &bsp, log);
    if (rc != SHIM_OK || !plan->enabled)
        return rc;
    for (uint32_t k = 0; k < opt->main_cpu_count && k < 64; k++) {
        bool known = false;
        for (uint32_t i = 0; i < n && !known; i++)
            known = topo->cpus[i].apic_id == opt->main_cpus[k];
        if (!known)
            plan_log(log, "sidecar.main_cpus: no CPU has APIC ID %u", opt->main_cpus[k]);
    }
    if (bsp == SIDECAR_NO_CPU)
        return disable(plan, log, "invalid topology: the boot CPU (APIC ID %u) is not in the MADT", bsp_apic_id);
    if (plan->sidecar_cpu_count == 0)
        return disable(plan, log, "nothing to gain: no NUMA node has a CPU besides its main CPUs");

    p->magic = SIDECAR_PARAMS_MAGIC;
    p->abi_major = SIDECAR_ABI_MAJOR;
    p->abi_minor = SIDECAR_ABI_MINOR;
    p->size = sizeof(*p);
    p->enable_logging = opt->log;
    p->use_mwait = opt->mwait;
    p->apic_mode = (uint8_t)opt->apic_mode;
    p->vp_backend = (uint8_t)opt->vp_backend;
    p->cpu_count = n;
    p->bsp_cpu = bsp;
    p->ap_timeout_us = opt->ap_timeout_us;
    p->serial_port = 0x3f8;

    struct freelist f;
    /* One free list for everything: the trampoline below 640 KiB, the rest
     * above 1 MiB (the bounds are passed to alloc). */
    build_freelist(&f, map, in_use, in_use_count, TRAMPOLINE_LOW, HIGH_LIMIT);

    /* Each node's memory: from its NUMA node's RAM where the SRAT says. */
    for (uint32_t s = 0; s < span_count; s++) {
        uint32_t d = spans[s].numa;
        struct sidecar_params_node *nd = &p->nodes[p->node_count];
        nd->base_cpu = spans[s].base;
        nd->cpu_count = spans[s].count;
        nd->memory_size = ((uint64_t)SIDECAR_NODE_FIXED_PAGES +
                           (uint64_t)SIDECAR_CPU_PAGES * nd->cpu_count) * SIDECAR_PAGE_SIZE;
        bool local = false;
        for (uint32_t a = 0; a < topo->mem_affinity_count && !local; a++) {
            const struct shim_mem_affinity *ma = &topo->mem_affinity[a];
            uint64_t lo = ma->base < LOW_LIMIT ? LOW_LIMIT : ma->base;
            uint64_t hi = ma->base + ma->size < ma->base ? ~0ull : ma->base + ma->size;
            if (hi > HIGH_LIMIT)
                hi = HIGH_LIMIT;   /* node memory stays below 4 GiB, local or not */
            if (ma->numa_node == d && lo < hi)
                local = alloc(&f, nd->memory_size, SIDECAR_PAGE_SIZE, lo, hi, &nd->memory_base);
        }
        if (!local) {
            if (!alloc(&f, nd->memory_size, SIDECAR_PAGE_SIZE, LOW_LIMIT, HIGH_LIMIT, &nd->memory_base))
                return disable(plan, log, "memory short: no %lu bytes below 4 GiB for node %u",
                               nd->memory_size, p->node_count);
            if (topo->has_srat) {
                plan_log(log, "node %u: no free memory in NUMA node %u; using 0x%lx", p->node_count,
                         topo->numa_domain[d], nd->memory_base);
                if (!plan->reason[0])
                    shim_fmt(plan->reason, sizeof(plan->reason),
                             "fallback: node %u memory is not NUMA-local", p->node_count);
            }
        }
        plan->reserved[plan->reserved_count++] = (struct shim_range){ nd->memory_base, nd->memory_size, 0 };
        p->node_count++;
    }

    /* The trampoline page, below 640 KiB. */
    if (!alloc(&f, SIDECAR_PAGE_SIZE, SIDECAR_PAGE_SIZE, TRAMPOLINE_LOW, TRAMPOLINE_HIGH, &p->trampoline_page))
        return disable(plan, log, "memory short: no free page below 640 KiB for the AP trampoline");
    plan->reserved[plan->reserved_count++] = (struct shim_range){ p->trampoline_page, SIDECAR_PAGE_SIZE, 0 };

    if (opt->guest_ram) {
        if (!alloc(&f, opt->guest_ram, SIDECAR_LARGE_PAGE_SIZE, LOW_LIMIT, HIGH_LIMIT, &p->guest_ram_base))
            return disable(plan, log, "memory short: no %lu bytes of guest RAM below 4 GiB", opt->guest_ram);
        p->guest_ram_size = opt->guest_ram;
        plan->reserved[plan->reserved_count++] = (struct shim_range){ p->guest_ram_base, p->guest_ram_size, 0 };
    }

    struct sidecar_abi_error e;
    if (sidecar_params_validate(p, &e) != SIDECAR_ABI_OK)
        return disable(plan, log, "internal error: params.%s", e.message);
    plan_log(log, "sidecar.policy=%s: %u main CPUs, %u sidecar CPUs in %u nodes",
             policy == SHIM_POLICY_OPENHCL ? "openhcl" : "numa", plan->main_cpu_count,
         plan->sidecar_cpu_count, p->node_count);
    return SHIM_OK;
}

bool shim_plan_reserve(struct shim_plan *plan, uint64_t base, uint64_t size)
{
    if (plan->reserved_count >= sizeof(plan->reserved) / sizeof(plan->reserved[0]) || !size ||
        base + size < base)
        return false;
    plan->reserved[plan->reserved_count++] = (struct shim_range){ base, size, 0 };
    return true;
}
