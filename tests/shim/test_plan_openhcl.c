/* SPDX-License-Identifier: MIT */
/* sidecar.policy=openhcl: OpenHCL's boot-shim split (openhcl_boot's
 * sidecar.rs), reproduced for the layouts its users meet. Expected splits
 * are written out by hand from OpenHCL's rule: each run of consecutive VPs
 * of one NUMA node is cut into ceil(len / 32) chunks of ceil(len / chunks)
 * VPs (the last one smaller); the chunk's first VP stays with the main
 * kernel (OpenHCL's base_vp, in boot_cpus=), the rest is a sidecar node. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

#include "plan_fixture.h"

static void setup(void)
{
    plan_setup();
    policy_words = "";   /* the default: auto, openhcl with x2APIC (topo.no_x2apic false) */
}

TestSuite(plan_openhcl, .init = setup, .fini = plan_teardown);

/* n CPUs in VP order, NUMA node of each from numa[] (dense). */
static void layout(uint32_t n, uint32_t numa_count, const uint32_t *numa)
{
    cpus(n, numa_count);
    for (uint32_t i = 0; i < n; i++)
        topo.cpus[i].numa_node = numa[i];
}

/* n CPUs, the first half (rounded up) in NUMA node 0, the rest in 1... as
 * QEMU and Hyper-V number them: node k holds a contiguous range. */
static void contiguous(uint32_t n, uint32_t numa_count)
{
    cpus(n, numa_count);
    for (uint32_t i = 0; i < n; i++)
        topo.cpus[i].numa_node = (uint32_t)((uint64_t)i * numa_count / n);
}

/* The plan has exactly these chunks: chunk k starts at VP base[k] (a main
 * CPU) and has len[k] VPs, and node k is that chunk (nodes tile every VP
 * from 0, as OpenHCL's sidecar_client asserts). */
static void expect_chunks(uint32_t count, const uint32_t *base, const uint32_t *len)
{
    struct sidecar_abi_error e;
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(sidecar_params_validate(params, &e), SIDECAR_ABI_OK, "%s", e.message);
    /* index = VP index = MADT position */
    for (uint32_t i = 0; i < params->cpu_count; i++)
        cr_assert_eq(params->cpus[i].apic_id, topo.cpus[i].apic_id, "cpu %u", i);
    uint32_t mains = 0, nodes = 0, vp = 0;
    for (uint32_t k = 0; k < count; k++) {
        cr_assert_eq(base[k], vp, "chunks cover every VP in order (chunk %u)", k);
        cr_assert_eq(params->cpus[base[k]].role, SIDECAR_CPU_ROLE_MAIN, "chunk %u base VP %u", k, base[k]);
        mains++;
        for (uint32_t c = base[k] + 1; c < base[k] + len[k]; c++)
            cr_assert_eq(params->cpus[c].role, SIDECAR_CPU_ROLE_SIDECAR, "VP %u", c);
        cr_assert_lt(nodes, params->node_count);
        cr_assert_eq(params->nodes[nodes].base_cpu, base[k], "node %u", nodes);
        cr_assert_eq(params->nodes[nodes].cpu_count, len[k], "node %u", nodes);
        cr_assert_eq(params->nodes[nodes].memory_size, ((uint64_t)SIDECAR_NODE_FIXED_PAGES + (uint64_t)SIDECAR_CPU_PAGES * len[k]) * 4096, "node %u", nodes);
        nodes++;
        vp += len[k];
    }
    cr_assert_eq(vp, params->cpu_count);
    cr_assert_eq(nodes, params->node_count);
    cr_assert_eq(plan.main_cpu_count, mains);
    cr_assert_eq(plan.sidecar_cpu_count, params->cpu_count - mains);
}

Test(plan_openhcl, vps_64_numa_1)
{
    contiguous(64, 1);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(2, (uint32_t[]){ 0, 32 }, (uint32_t[]){ 32, 32 });
    cr_assert_eq(params->cpus[0].reason, SIDECAR_CPU_REASON_BOOT_CPU);
    cr_assert_eq(params->cpus[32].reason, SIDECAR_CPU_REASON_NODE_FIRST);
    cr_assert_eq(params->cpus[1].reason, SIDECAR_CPU_REASON_SIDECAR_NODE);
}

Test(plan_openhcl, vps_70_numa_1)
{
    /* three chunks of ceil(70 / 3) = 24: 24, 24, 22; three main CPUs */
    contiguous(70, 1);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(3, (uint32_t[]){ 0, 24, 48 }, (uint32_t[]){ 24, 24, 22 });
    cr_assert_eq(plan.main_cpu_count, 3);
    cr_assert_eq(params->nodes[0].cpu_count, 24);
    cr_assert_eq(params->nodes[2].cpu_count, 22);
}

Test(plan_openhcl, vps_255_numa_2)
{
    /* NUMA 0: VPs 0-127 (4 chunks of 32); NUMA 1: VPs 128-254 (127: 4
     * chunks of ceil(127 / 4) = 32, the last 31). */
    contiguous(255, 2);
    cr_assert_eq(topo.cpus[127].numa_node, 0);
    cr_assert_eq(topo.cpus[128].numa_node, 1);
    map.ranges[1].size = 0x7ff00000;   /* room for 8 nodes and guest RAM */
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(8, (uint32_t[]){ 0, 32, 64, 96, 128, 160, 192, 224 },
                  (uint32_t[]){ 32, 32, 32, 32, 32, 32, 32, 31 });
    cr_assert_eq(params->cpus[128].reason, SIDECAR_CPU_REASON_NUMA_FIRST);
    cr_assert_eq(params->cpus[160].reason, SIDECAR_CPU_REASON_NODE_FIRST);
    cr_assert_eq(params->cpus[130].numa_node, 1);
    cr_assert_eq(plan.sidecar_cpu_count, 247);
}

Test(plan_openhcl, vps_34_numa_1)
{
    /* two chunks of 17 */
    contiguous(34, 1);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(2, (uint32_t[]){ 0, 17 }, (uint32_t[]){ 17, 17 });
}

Test(plan_openhcl, vps_32_and_33)
{
    contiguous(32, 1);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(1, (uint32_t[]){ 0 }, (uint32_t[]){ 32 });
    plan_setup();
    policy_words = "";
    contiguous(33, 1);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(2, (uint32_t[]){ 0, 17 }, (uint32_t[]){ 17, 16 });
}

Test(plan_openhcl, interleaved_numa_runs)
{
    /* runs 0-3 (NUMA 0), 4-6 (1), 7 (0, alone: a node of one VP, its main
     * CPU, no sidecar CPU), 8-12 (1), 13-15 (0): every run its own chunk,
     * NUMA nodes seen more than once */
    static const uint32_t numa[16] = { 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0 };
    layout(16, 2, numa);
    cr_assert_eq(run(""), SHIM_OK);
    expect_chunks(5, (uint32_t[]){ 0, 4, 7, 8, 13 }, (uint32_t[]){ 4, 3, 1, 5, 3 });
    cr_assert_eq(params->cpus[7].reason, SIDECAR_CPU_REASON_NUMA_FIRST);
    cr_assert_eq(params->cpus[8].numa_node, 1);
    cr_assert_eq(params->nodes[2].base_cpu, 7);
    cr_assert_eq(params->nodes[2].cpu_count, 1);
    cr_assert_eq(params->nodes[3].base_cpu, 8);
}

Test(plan_openhcl, alternating_numa_disables)
{
    /* every run one VP long: OpenHCL's "all NUMA nodes have one CPU" */
    cpus(8, 2);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, "every chunk of a NUMA node has one CPU"), "%s", plan.reason);
}

Test(plan_openhcl, no_x2apic_policy)
{
    /* auto (the default) is openhcl with x2APIC ... */
    contiguous(40, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_eq(plan.policy, SHIM_POLICY_OPENHCL);
    expect_chunks(2, (uint32_t[]){ 0, 20 }, (uint32_t[]){ 20, 20 });
    /* ... and our numa policy without it (OpenHCL would run no sidecar) */
    plan_setup();
    policy_words = "";
    contiguous(40, 1);
    topo.no_x2apic = true;
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(plan.policy, SHIM_POLICY_NUMA);
    cr_assert_eq(plan.main_cpu_count, 1);
    /* an explicit openhcl runs with xAPIC: our kernel speaks it */
    plan_setup();
    policy_words = "";
    contiguous(40, 1);
    topo.no_x2apic = true;
    cr_assert_eq(run("sidecar.policy=openhcl"), SHIM_OK);
    cr_assert_eq(plan.policy, SHIM_POLICY_OPENHCL);
    expect_chunks(2, (uint32_t[]){ 0, 20 }, (uint32_t[]){ 20, 20 });
}

Test(plan_openhcl, openhcl_sidecar_off_disables)
{
    contiguous(8, 1);
    cr_assert_eq(run("OPENHCL_SIDECAR=off"), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, "off"), "%s", plan.reason);
}

Test(plan_openhcl, node_size_and_main_cpus_apply)
{
    /* sidecar.node_size is OpenHCL's MAX_SIDECAR_NODE_SIZE (32 by
     * default); sidecar.main_cpus keeps more CPUs inside a chunk */
    contiguous(10, 1);
    cr_assert_eq(run("sidecar.node_size=4"), SHIM_OK);
    /* 10 VPs: 3 chunks of ceil(10 / 3) = 4: 4, 4, 2 */
    expect_chunks(3, (uint32_t[]){ 0, 4, 8 }, (uint32_t[]){ 4, 4, 2 });
    plan_setup();
    policy_words = "";
    contiguous(10, 1);
    cr_assert_eq(run("sidecar.main_cpus=9"), SHIM_OK);
    cr_assert(plan.enabled);
    cr_assert_eq(params->cpus[9].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[9].reason, SIDECAR_CPU_REASON_MAIN_CPUS);
    cr_assert_eq(params->node_count, 1);
    cr_assert_eq(params->nodes[0].base_cpu, 0);
    cr_assert_eq(params->nodes[0].cpu_count, 10, "the whole chunk, main CPUs included");
    cr_assert_eq(plan.sidecar_cpu_count, 8);
}

Test(plan_openhcl, bsp_not_first_stays_main)
{
    contiguous(8, 1);
    bsp_apic_id = 5;
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled);
    cr_assert_eq(params->bsp_cpu, 5);
    cr_assert_eq(params->cpus[5].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[0].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(plan.main_cpu_count, 2);
}
