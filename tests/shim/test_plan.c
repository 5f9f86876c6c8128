/* SPDX-License-Identifier: MIT */
/* The CPU and memory policy, table driven. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

#include "plan_fixture.h"

TestSuite(plan, .init = plan_setup, .fini = plan_teardown);

/* Checks every invariant of an enabled plan. */
static void check_plan(void)
{
    struct sidecar_abi_error e;
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(sidecar_params_validate(params, &e), SIDECAR_ABI_OK, "%s", e.message);
    uint32_t mains = 0, sidecars = 0, in_nodes = 0;
    for (uint32_t i = 0; i < params->cpu_count; i++) {
        mains += params->cpus[i].role == SIDECAR_CPU_ROLE_MAIN;
        sidecars += params->cpus[i].role == SIDECAR_CPU_ROLE_SIDECAR;
    }
    cr_assert_eq(mains, plan.main_cpu_count);
    cr_assert_eq(sidecars, plan.sidecar_cpu_count);
    cr_assert_eq(params->cpus[params->bsp_cpu].apic_id, bsp_apic_id);
    cr_assert_eq(params->cpus[params->bsp_cpu].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[params->bsp_cpu].reason, SIDECAR_CPU_REASON_BOOT_CPU);
    for (uint32_t i = 0; i < params->cpu_count; i++) {
        /* The reason agrees with the role, and a NUMA-first CPU is first. */
        bool is_main = params->cpus[i].role == SIDECAR_CPU_ROLE_MAIN;
        cr_assert_eq(is_main, params->cpus[i].reason != SIDECAR_CPU_REASON_SIDECAR_NODE, "cpu %u", i);
        if (params->cpus[i].reason == SIDECAR_CPU_REASON_NUMA_FIRST)
            cr_assert(i == 0 || params->cpus[i - 1].numa_node != params->cpus[i].numa_node, "cpu %u", i);
    }
    for (uint32_t n = 0; n < params->node_count; n++) {
        const struct sidecar_params_node *nd = &params->nodes[n];
        uint16_t numa = params->cpus[nd->base_cpu].numa_node;
        cr_assert_leq(nd->cpu_count, opt.node_size + opt.main_cpu_count + topo.numa_count);
        cr_assert_eq(params->cpus[nd->base_cpu].role, SIDECAR_CPU_ROLE_SIDECAR);
        cr_assert_eq(params->cpus[nd->base_cpu + nd->cpu_count - 1].role, SIDECAR_CPU_ROLE_SIDECAR);
        for (uint32_t c = nd->base_cpu; c < nd->base_cpu + nd->cpu_count; c++) {
            cr_assert_eq(params->cpus[c].numa_node, numa, "node %u spans NUMA nodes", n);
            in_nodes += params->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR;
        }
        cr_assert_geq(nd->memory_base, 0x100000ull);
        cr_assert_leq(nd->memory_base + nd->memory_size, 0x100000000ull);
    }
    cr_assert_eq(in_nodes, sidecars, "every sidecar CPU in a node");
    cr_assert_geq(params->trampoline_page, 0x1000ull);
    cr_assert_leq(params->trampoline_page, 0x9f000ull);
    cr_assert_eq(params->guest_ram_size, opt.guest_ram);
    if (opt.guest_ram)
        cr_assert_leq(params->guest_ram_base + params->guest_ram_size, 0x100000000ull);
    /* reserved: every allocation, inside usable RAM, outside in_use, disjoint */
    cr_assert_eq(plan.reserved_count, params->node_count + 1 + (opt.guest_ram != 0));
    for (uint32_t i = 0; i < plan.reserved_count; i++) {
        const struct shim_range *r = &plan.reserved[i];
        bool usable = false;
        for (uint32_t k = 0; k < map.count; k++)
            usable |= map.ranges[k].type == 1 && r->base >= map.ranges[k].base &&
                      r->base + r->size <= map.ranges[k].base + map.ranges[k].size;
        cr_assert(usable, "reserved %u in usable RAM", i);
        for (uint32_t k = 0; k < map.count; k++)
            cr_assert(map.ranges[k].type == 1 || r->base + r->size <= map.ranges[k].base ||
                      r->base >= map.ranges[k].base + map.ranges[k].size, "reserved %u in a type %u range", i,
                      map.ranges[k].type);
        for (uint32_t k = 0; k < in_use_count; k++)
            cr_assert(r->base + r->size <= in_use[k].base || r->base >= in_use[k].base + in_use[k].size,
                      "reserved %u avoids in_use %u", i, k);
        for (uint32_t k = 0; k < i; k++)
            cr_assert(r->base + r->size <= plan.reserved[k].base ||
                      r->base >= plan.reserved[k].base + plan.reserved[k].size, "reserved %u/%u overlap", i, k);
    }
}

static void check_disabled(const char *why)
{
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, why), "reason: %s", plan.reason);
}

struct split_case {
    uint32_t cpus, numa;
    const char *cmdline;
    uint32_t mains, nodes;
    uint32_t sizes[8];
};

static const struct split_case cases[] = {
    { 2, 1, "", 1, 1, { 1 } },
    { 8, 1, "", 1, 1, { 7 } },
    { 33, 1, "", 1, 1, { 32 } },
    { 34, 1, "", 1, 2, { 17, 16 } },
    { 71, 1, "", 1, 3, { 24, 23, 23 } },
    { 70, 1, "", 1, 3, { 23, 23, 23 } },
    { 255, 1, "", 1, 8, { 32, 32, 32, 32, 32, 32, 31, 31 } },
    { 16, 2, "", 2, 2, { 7, 7 } },
    { 8, 4, "", 4, 4, { 1, 1, 1, 1 } },
    { 8, 1, "sidecar.node_size=3", 1, 3, { 3, 2, 2 } },
    { 8, 1, "sidecar.node_size=1", 1, 7, { 1, 1, 1, 1, 1, 1, 1 } },
    { 8, 1, "sidecar.guest_ram=0", 1, 1, { 7 } },
    { 4, 1, "sidecar.guest_ram=512M", 1, 1, { 3 } },
};

Test(plan, splits_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct split_case *c = &cases[i];
        plan_setup();
        cpus(c->cpus, c->numa);
        cr_assert_eq(run(c->cmdline), SHIM_OK);
        check_plan();
        cr_assert_eq(plan.main_cpu_count, c->mains, "case %zu", i);
        cr_assert_eq(params->node_count, c->nodes, "case %zu", i);
        for (uint32_t n = 0; n < c->nodes; n++)
            cr_assert_eq(params->nodes[n].cpu_count, c->sizes[n], "case %zu node %u", i, n);
        plan_teardown();
    }
}

Test(plan, one_cpu_disables)
{
    cpus(1, 1);
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("nothing to gain");
}

Test(plan, one_cpu_per_numa_node_disables)
{
    cpus(4, 4);
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("nothing to gain");
}

Test(plan, off_disables)
{
    cpus(8, 1);
    run("sidecar=off");
    check_disabled("sidecar=off");
}

Test(plan, uneven_numa_nodes_interleaved)
{
    /* 2 NUMA nodes: CPUs 0-9 alternate, then 10-19 all in node 1 */
    cpus(20, 2);
    for (uint32_t i = 10; i < 20; i++)
        topo.cpus[i].numa_node = 1;
    cr_assert_eq(run(""), SHIM_OK);
    check_plan();
    cr_assert_eq(plan.main_cpu_count, 2);
    /* indices run NUMA node by NUMA node: 0,2,4,6,8 then 1,3,5,7,9,10..19 */
    cr_assert_eq(params->cpus[0].apic_id, 0);
    cr_assert_eq(params->cpus[4].apic_id, 8);
    cr_assert_eq(params->cpus[5].apic_id, 1);
    cr_assert_eq(params->cpus[5].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[5].reason, SIDECAR_CPU_REASON_NUMA_FIRST);
    cr_assert_eq(params->cpus[10].apic_id, 10);
    cr_assert_eq(params->node_count, 2);
    cr_assert_eq(params->nodes[0].cpu_count, 4);
    cr_assert_eq(params->nodes[1].cpu_count, 14);
}

Test(plan, four_numa_nodes_uneven_with_memory_affinity)
{
    /* node sizes 1, 3, 6, 40 */
    static const uint32_t sizes[] = { 1, 3, 6, 40 };
    uint32_t k = 0;
    topo.numa_count = 4;
    topo.has_srat = true;
    for (uint32_t d = 0; d < 4; d++) {
        topo.numa_domain[d] = 10 + d;
        for (uint32_t i = 0; i < sizes[d]; i++, k++)
            topo.cpus[k] = (struct shim_cpu){ k * 2, k, d };
        topo.mem_affinity[d] = (struct shim_mem_affinity){ 0x8000000ull * (d + 1), 0x8000000ull, d };
    }
    topo.cpu_count = k;
    topo.mem_affinity_count = 4;
    cr_assert_eq(run(""), SHIM_OK);
    check_plan();
    cr_assert_eq(plan.main_cpu_count, 4);
    cr_assert_eq(params->node_count, 4);   /* 2, 5, 20+19 */
    cr_assert_eq(params->nodes[0].cpu_count, 2);
    cr_assert_eq(params->nodes[1].cpu_count, 5);
    cr_assert_eq(params->nodes[2].cpu_count, 20);
    cr_assert_eq(params->nodes[3].cpu_count, 19);
    cr_assert_eq(params->cpus[params->nodes[0].base_cpu].numa_node, 11);
    for (uint32_t n = 0; n < 4; n++) {
        uint32_t d = params->cpus[params->nodes[n].base_cpu].numa_node - 10;
        cr_assert_geq(params->nodes[n].memory_base, 0x8000000ull * (d + 1), "node %u memory local", n);
        cr_assert_lt(params->nodes[n].memory_base, 0x8000000ull * (d + 2), "node %u memory local", n);
    }
}

static struct shim_range logged_fallback;
static int log_lines;
static char last_log[SHIM_ERR_SIZE];
static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    log_lines++;
    strncpy(last_log, line, sizeof(last_log) - 1);
    if (strstr(line, "no free memory in NUMA node"))
        logged_fallback.size = 1;
}

Test(plan, numa_memory_fallback_is_logged)
{
    cpus(8, 2);
    topo.has_srat = true;
    topo.numa_domain[1] = 1;
    /* node 1's memory lies above 4 GiB only: its sidecar node falls back */
    topo.mem_affinity[0] = (struct shim_mem_affinity){ 0, 0x40000000ull, 0 };
    topo.mem_affinity[1] = (struct shim_mem_affinity){ 0x100000000ull, 0x40000000ull, 1 };
    topo.mem_affinity_count = 2;
    struct shim_log log = { log_line, NULL };
    cr_assert_eq(run_log("", &log), SHIM_OK);
    check_plan();
    cr_assert_eq(logged_fallback.size, 1, "last log: %s", last_log);
    cr_assert(strstr(plan.reason, "fallback"), "%s", plan.reason);
    cr_assert_leq(params->nodes[1].memory_base, 0x40000000ull);
}

/* A NUMA node whose SRAT range starts in the last page below 2^64 (found
 * by the plan fuzzer): aligning it up must not wrap to address 0; the
 * node falls back to other memory instead. One that straddles 4 GiB only
 * gives memory below it. */
Test(plan, numa_memory_at_the_top_of_the_address_space)
{
    cpus(8, 2);
    topo.has_srat = true;
    topo.numa_domain[1] = 1;
    topo.mem_affinity[0] = (struct shim_mem_affinity){ 0, 0x40000000ull, 0 };
    topo.mem_affinity[1] = (struct shim_mem_affinity){ ~0ull - 0x7ff, 0x800, 1 };
    topo.mem_affinity_count = 2;
    cr_assert_eq(run(""), SHIM_OK);
    check_plan();
    cr_assert_neq(params->nodes[1].memory_base, 0);
    topo.mem_affinity[1] = (struct shim_mem_affinity){ 0xfff00000ull, 0x40000000ull, 1 };
    cr_assert_eq(run(""), SHIM_OK);
    check_plan();
}

Test(plan, main_cpus_override)
{
    cpus(8, 1);
    cr_assert_eq(run("sidecar.main_cpus=3,5"), SHIM_OK);
    check_plan();
    cr_assert_eq(plan.main_cpu_count, 3);
    cr_assert_eq(params->cpus[3].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[5].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[3].reason, SIDECAR_CPU_REASON_MAIN_CPUS);
    cr_assert_eq(params->cpus[5].reason, SIDECAR_CPU_REASON_MAIN_CPUS);
    cr_assert_eq(plan.sidecar_cpu_count, 5);
}

Test(plan, main_cpus_taking_every_cpu_disables)
{
    cpus(8, 2);
    cr_assert_eq(run("sidecar.main_cpus=0-7"), SHIM_OK);
    check_disabled("nothing to gain");
}

Test(plan, main_cpus_emptying_a_node_drops_it)
{
    cpus(8, 2);   /* node 0: 0,2,4,6; node 1: 1,3,5,7 */
    cr_assert_eq(run("sidecar.main_cpus=2,4,6"), SHIM_OK);
    check_plan();
    cr_assert_eq(params->node_count, 1);
    cr_assert_eq(params->cpus[params->nodes[0].base_cpu].numa_node, 1);
}

Test(plan, bsp_not_first)
{
    cpus(8, 1);
    bsp_apic_id = 5;
    cr_assert_eq(run(""), SHIM_OK);
    check_plan();
    cr_assert_eq(plan.main_cpu_count, 2);
    cr_assert_eq(params->bsp_cpu, 5);
}

Test(plan, bsp_missing_is_invalid_topology)
{
    cpus(4, 1);
    topo.cpus[0].apic_id = 9;
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("boot CPU");
}

Test(plan, bad_numa_index_is_invalid_topology)
{
    cpus(4, 1);
    topo.cpus[2].numa_node = 3;
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("invalid topology");
}

Test(plan, memory_short_disables)
{
    cpus(64, 1);
    map.ranges[1].size = 0xf40000;   /* only in-use memory above 1 MiB */
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("memory short");
}

Test(plan, guest_ram_short_disables)
{
    cpus(4, 1);
    map.ranges[1].size = 0x1800000;   /* 8 MiB free above the in-use range */
    cr_assert_eq(run("sidecar.guest_ram=16M"), SHIM_OK);
    check_disabled("guest RAM");
}

Test(plan, no_trampoline_page_disables)
{
    cpus(4, 1);
    in_use[1] = (struct shim_range){ 0, 0xa0000, 2 };
    in_use_count = 2;
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("trampoline");
}

Test(plan, fragmented_map_and_in_use)
{
    cpus(40, 1);
    /* 64 KiB usable fragments alternating with reserved holes, plus a
     * large block above 4 GiB that must not be used */
    map.count = 0;
    map.ranges[map.count++] = (struct shim_range){ 0, 0x9fc00, 1 };
    for (uint32_t i = 0; i < 100; i++)
        map.ranges[map.count++] = (struct shim_range){ 0x1000000 + i * 0x20000, 0x10000, i % 3 ? 1 : 2 };
    map.ranges[map.count++] = (struct shim_range){ 0x8000000, 0x400000, 1 };
    map.ranges[map.count++] = (struct shim_range){ 0x100000000ull, 0x100000000ull, 1 };
    in_use[1] = (struct shim_range){ 0x1000000, 0x80000, 2 };
    in_use[2] = (struct shim_range){ 0x8000000, 0x1000, 2 };
    in_use_count = 3;
    cr_assert_eq(run("sidecar.guest_ram=2M"), SHIM_OK);
    check_plan();
    /* a 20-CPU node needs 144 pages: more than a fragment */
    cr_assert_geq(params->nodes[0].memory_base, 0x8001000ull);
}

Test(plan, no_memory_below_4g_disables)
{
    cpus(4, 1);
    map.ranges[1] = (struct shim_range){ 0x100000000ull, 0x100000000ull, 1 };
    cr_assert_eq(run(""), SHIM_OK);
    check_disabled("memory short");
}

Test(plan, params_always_validate)
{
    /* every CPU count and NUMA layout from 1 to 80 CPUs, node sizes 1..40 */
    for (uint32_t n = 1; n <= 80; n += 3) {
        for (uint32_t numa = 1; numa <= 5; numa++) {
            for (uint32_t ns = 1; ns <= 40; ns += 13) {
                plan_setup();
                cpus(n, numa);
                char line[64];
                snprintf(line, sizeof(line), "sidecar.node_size=%u", ns);
                cr_assert_eq(run(line), SHIM_OK);
                if (n > numa)
                    check_plan();
                else
                    check_disabled("nothing to gain");
                plan_teardown();
            }
        }
    }
}

Test(plan, unknown_main_cpu_is_logged)
{
    cpus(8, 1);
    log_lines = 0;
    struct shim_log log = { log_line, NULL };
    last_log[0] = 0;
    cr_assert_eq(run_log("sidecar.main_cpus=99", &log), SHIM_OK);
    check_plan();
    cr_assert_eq(plan.main_cpu_count, 1);
    cr_assert_geq(log_lines, 2);
}

/* Random topologies, maps and in-use ranges: an enabled plan always keeps
 * every invariant; otherwise it is disabled with a reason. */
static uint32_t seed = 777;
static uint32_t rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

Test(plan, random_inputs_keep_invariants)
{
    int enabled = 0, disabled = 0;
    for (int iter = 0; iter < 400; iter++) {
        plan_setup();
        uint32_t n = 1 + rnd() % 300, numa = 1 + rnd() % 6;
        cpus(n, numa);
        for (uint32_t i = 0; i < n; i++) {
            topo.cpus[i].numa_node = rnd() % numa;
            topo.cpus[i].apic_id = i * 3 + rnd() % 3;   /* distinct */
        }
        topo.has_srat = rnd() % 2;
        topo.mem_affinity_count = topo.has_srat ? numa : 0;
        for (uint32_t d = 0; d < topo.mem_affinity_count; d++)
            topo.mem_affinity[d] = (struct shim_mem_affinity){ (uint64_t)d << 28, 1ull << 28, d };
        map.count = 1 + rnd() % 40;
        map.ranges[0] = (struct shim_range){ 0x1000 * (rnd() % 4), 0x9e000, 1 };
        for (uint32_t i = 1; i < map.count; i++)
            map.ranges[i] = (struct shim_range){ 0x100000ull + (uint64_t)(rnd() % 0x4000) * 0x10000,
                                                 (uint64_t)(1 + rnd() % 0x8000) * 0x1000, 1 + rnd() % 3 };
        in_use_count = 1 + rnd() % 4;
        for (uint32_t i = 1; i < in_use_count; i++)
            in_use[i] = (struct shim_range){ (uint64_t)(rnd() % 0x40000) * 0x1000, (uint64_t)(rnd() % 0x800) * 0x1000, 2 };
        bsp_apic_id = topo.cpus[rnd() % n].apic_id;
        char line[96];
        uint32_t ns = 1 + rnd() % 40, ram = 2 * (rnd() % 8), lo = rnd() % 600, hi = lo + rnd() % 40;
        snprintf(line, sizeof(line), "sidecar.node_size=%u sidecar.guest_ram=%uM sidecar.main_cpus=%u-%u",
                 ns, ram, lo, hi);
        cr_assert_eq(run(line), SHIM_OK, "%s", line);
        if (plan.enabled) {
            check_plan();
            enabled++;
        } else {
            cr_assert(plan.reason[0], "disabled without a reason");
            disabled++;
        }
        plan_teardown();
    }
    cr_log_info("%d enabled, %d disabled", enabled, disabled);
    cr_assert_gt(enabled, 100);
    cr_assert_gt(disabled, 10);
}
