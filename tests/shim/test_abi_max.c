/* SPDX-License-Identifier: MIT */
/* The ABI maximum, SIDECAR_MAX_CPUS (2048) CPUs, through the shim's ACPI
 * parser, its plan, the hand-off and the generated validators, from
 * synthetic tables: the QEMU tests stop at 1024 vCPUs (docs/x2apic.md),
 * Hyper-V allows it. The machine: 16 sockets of 32 cores x 4 threads, APIC
 * ID = socket * 256 + core * 4 + thread (so IDs up to 3967, with a gap of
 * 128 after every socket), one NUMA node per socket with a sparse SRAT
 * proximity domain (100 + socket) and 192 MiB of its own memory, below
 * 4 GiB where the shim puts node memory (3 GiB in all).
 * MADT type 9 (x2APIC) and SRAT type 2 (x2APIC affinity) entries, as
 * Hyper-V writes them; a second machine mixes type 0 / type 0 SRAT entries
 * for IDs below 255, as QEMU does. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

#include "acpi_image.h"
#include "plan_fixture.h"

#define SOCKETS 16u
#define PER_SOCKET 128u
#define NUMA_MEM 0xc000000ull   /* 192 MiB */

_Static_assert(SOCKETS * PER_SOCKET == SIDECAR_MAX_CPUS, "the machine has the ABI maximum of CPUs");

static struct sidecar_handoff *h;

static void setup(void)
{
    fake_reset();
    plan_setup();
    policy_words = "";   /* the default policy: auto (openhcl with x2APIC) */
    h = aligned_alloc(4096, sizeof(*h));
    /* 3 GiB below 4 GiB: NUMA node s owns [s, s + 1) * 192 MiB. */
    map.count = 2;
    map.ranges[0] = (struct shim_range){ 0, 0x9fc00, 1 };
    map.ranges[1] = (struct shim_range){ 0x100000, SOCKETS * NUMA_MEM - 0x100000, 1 };
}

static void teardown(void)
{
    free(h);
    plan_teardown();
}

TestSuite(abi_max, .init = setup, .fini = teardown);

static uint32_t apic_of(uint32_t i) { return (i / PER_SOCKET) * 256 + i % PER_SOCKET; }

/* The MADT and SRAT of the machine; mixed: IDs below 255 as xAPIC
 * entries (MADT type 0, SRAT type 0), the others as x2APIC ones. */
static void machine(uint32_t n, bool mixed)
{
    struct tb m = tb_begin(MADT_PA, "APIC", 8);
    wr32(MADT_PA + 36, 0xfee00000u);
    for (uint32_t i = 0; i < n; i++) {
        if (mixed && apic_of(i) < 255)
            madt_lapic(&m, (uint8_t)i, (uint8_t)apic_of(i), 1);
        else
            madt_x2apic(&m, apic_of(i), 1, i);
    }
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    for (uint32_t i = 0; i < n; i++) {
        if (mixed && apic_of(i) < 255)
            srat_apic(&s, (uint8_t)apic_of(i), 100 + i / PER_SOCKET);
        else
            srat_x2apic(&s, apic_of(i), 100 + i / PER_SOCKET);
    }
    for (uint32_t k = 0; k < SOCKETS; k++)
        srat_mem(&s, 100 + k, k * NUMA_MEM, NUMA_MEM, 1);
    tb_end(&s);
    uint64_t tables[] = { MADT_PA, SRAT_PA };
    put_root(true, tables, 2);
}

static void parse_machine(void)
{
    uint64_t rsdp;
    cr_assert_eq(shim_acpi_find_rsdp(&fake, &rsdp), SHIM_OK);
    cr_assert_eq(shim_acpi_parse(&fake, rsdp, &topo, err), SHIM_OK, "%s", err);
}

static void check_topology(void)
{
    cr_assert_eq(topo.cpu_count, SIDECAR_MAX_CPUS);
    cr_assert(topo.has_srat);
    cr_assert_eq(topo.numa_count, SOCKETS);
    for (uint32_t i = 0; i < topo.cpu_count; i++) {
        cr_assert_eq(topo.cpus[i].apic_id, apic_of(i), "cpu %u", i);
        cr_assert_eq(topo.numa_domain[topo.cpus[i].numa_node], 100 + i / PER_SOCKET, "cpu %u", i);
    }
    cr_assert_eq(topo.cpus[SIDECAR_MAX_CPUS - 1].apic_id, 3967);
    cr_assert_eq(topo.mem_affinity_count, SOCKETS);
}

/* Params, validated; every node's memory inside its own NUMA node's range. */
static void check_params(void)
{
    struct sidecar_abi_error e;
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(plan.reason[0], 0, "no fallback: %s", plan.reason);
    cr_assert_eq(sidecar_params_validate(params, &e), SIDECAR_ABI_OK, "%s", e.message);
    cr_assert_eq(params->cpu_count, SIDECAR_MAX_CPUS);
    cr_assert_eq(plan.main_cpu_count + plan.sidecar_cpu_count, SIDECAR_MAX_CPUS);
    for (uint32_t n = 0; n < params->node_count; n++) {
        uint32_t d = params->cpus[params->nodes[n].base_cpu + params->nodes[n].cpu_count - 1].numa_node - 100;
        uint64_t base = params->nodes[n].memory_base, end = base + params->nodes[n].memory_size;
        cr_assert_lt(d, SOCKETS, "node %u", n);
        cr_assert(base >= d * NUMA_MEM && end <= (d + 1) * NUMA_MEM,
                  "node %u memory [%#llx, %#llx) is not in NUMA node %u", n,
                  (unsigned long long)base, (unsigned long long)end, d);
    }
}

/* OpenHCL's split: each socket's 128 VPs in 4 chunks of 32, 64 nodes, the
 * chunks' first VPs main CPUs; the hand-off names them as VP indices. */
static void check_openhcl(void)
{
    check_params();
    cr_assert_eq(plan.policy, SHIM_POLICY_OPENHCL);
    cr_assert_eq(plan.main_cpu_count, 64);
    cr_assert_eq(plan.sidecar_cpu_count, 64 * 31);
    cr_assert_eq(params->node_count, 64);
    for (uint32_t n = 0; n < 64; n++) {
        cr_assert_eq(params->nodes[n].base_cpu, 32 * n, "node %u", n);
        cr_assert_eq(params->nodes[n].cpu_count, 32, "node %u", n);
        cr_assert_eq(params->cpus[32 * n].role, SIDECAR_CPU_ROLE_MAIN, "node %u", n);
        cr_assert_eq(params->cpus[32 * n].reason,
                     n == 0 ? SIDECAR_CPU_REASON_BOOT_CPU
                            : n % 4 == 0 ? SIDECAR_CPU_REASON_NUMA_FIRST : SIDECAR_CPU_REASON_NODE_FIRST,
                     "node %u", n);
    }
    for (uint32_t i = 0; i < SIDECAR_MAX_CPUS; i++) {
        cr_assert_eq(params->cpus[i].apic_id, apic_of(i), "cpu %u", i);
        cr_assert_eq(params->cpus[i].numa_node, 100 + i / PER_SOCKET, "cpu %u", i);
        if (i % 32)
            cr_assert_eq(params->cpus[i].role, SIDECAR_CPU_ROLE_SIDECAR, "cpu %u", i);
    }
    cr_assert_eq(params->cpus[SIDECAR_MAX_CPUS - 1].apic_id, 3967);

    cr_assert_eq(shim_handoff_build(&map, &plan, params, 0x20000, 0x30000, "console=ttyS0", h, err),
                 SHIM_OK, "%s", err);
    struct sidecar_abi_error e;
    cr_assert_eq(sidecar_handoff_validate(h, &e), SIDECAR_ABI_OK, "%s", e.message);
    char want[SIDECAR_CMDLINE_SIZE] = "console=ttyS0 boot_cpus=0";
    for (uint32_t n = 1; n < 64; n++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), ",%u", 32 * n);
    cr_assert_str_eq((const char *)h->cmdline, want);
}

Test(abi_max, x2apic_entries_openhcl_policy)
{
    machine(SIDECAR_MAX_CPUS, false);
    parse_machine();
    check_topology();
    cr_assert_eq(run(""), SHIM_OK);
    check_openhcl();
}

Test(abi_max, mixed_xapic_and_x2apic_entries)
{
    machine(SIDECAR_MAX_CPUS, true);
    parse_machine();
    check_topology();
    cr_assert_eq(run(""), SHIM_OK);
    check_openhcl();
}

/* Our numa policy: a main CPU per NUMA node (16), its 127 sidecar CPUs in
 * nodes of at most 32 (32, 32, 32, 31): 64 nodes, 2032 sidecar CPUs. */
Test(abi_max, numa_policy)
{
    machine(SIDECAR_MAX_CPUS, false);
    parse_machine();
    cr_assert_eq(run("sidecar.policy=numa"), SHIM_OK);
    check_params();
    cr_assert_eq(plan.policy, SHIM_POLICY_NUMA);
    cr_assert_eq(plan.main_cpu_count, SOCKETS);
    cr_assert_eq(plan.sidecar_cpu_count, SIDECAR_MAX_CPUS - SOCKETS);
    cr_assert_eq(params->node_count, 64);
    uint32_t sidecar = 0;
    for (uint32_t n = 0; n < params->node_count; n++) {
        cr_assert_eq(params->nodes[n].cpu_count, n % 4 == 3 ? 31 : 32, "node %u", n);
        sidecar += params->nodes[n].cpu_count;
    }
    cr_assert_eq(sidecar, SIDECAR_MAX_CPUS - SOCKETS);
    /* The main CPUs by APIC ID: the first of every socket. */
    uint32_t mains = 0;
    for (uint32_t i = 0; i < params->cpu_count; i++) {
        if (params->cpus[i].role != SIDECAR_CPU_ROLE_MAIN)
            continue;
        cr_assert_eq(params->cpus[i].apic_id % 256, 0, "main CPU %u has APIC ID %u", i, params->cpus[i].apic_id);
        mains++;
    }
    cr_assert_eq(mains, SOCKETS);
}

/* Main CPUs named by APIC IDs above 255 (sidecar.main_cpus) at the maximum. */
Test(abi_max, main_cpus_above_255)
{
    machine(SIDECAR_MAX_CPUS, false);
    parse_machine();
    cr_assert_eq(run("sidecar.policy=numa sidecar.main_cpus=3967,2049-2050"), SHIM_OK);
    check_params();
    cr_assert_eq(plan.main_cpu_count, SOCKETS + 3);
    uint32_t found = 0;
    for (uint32_t i = 0; i < params->cpu_count; i++)
        if (params->cpus[i].role == SIDECAR_CPU_ROLE_MAIN && params->cpus[i].reason == SIDECAR_CPU_REASON_MAIN_CPUS)
            found |= params->cpus[i].apic_id == 3967 ? 1u : params->cpus[i].apic_id == 2049 ? 2u
                   : params->cpus[i].apic_id == 2050 ? 4u : 8u;
    cr_assert_eq(found, 7u);
}

/* One CPU past the maximum, all x2APIC entries: refused as a limit. */
Test(abi_max, one_past_the_maximum)
{
    struct tb m = tb_begin(MADT_PA, "APIC", 8);
    wr32(MADT_PA + 36, 0xfee00000u);
    for (uint32_t i = 0; i <= SIDECAR_MAX_CPUS; i++)
        madt_x2apic(&m, 1000 + i, 1, i);
    tb_end(&m);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    uint64_t rsdp;
    cr_assert_eq(shim_acpi_find_rsdp(&fake, &rsdp), SHIM_OK);
    cr_assert_eq(shim_acpi_parse(&fake, rsdp, &topo, err), SHIM_E_LIMIT);
    cr_assert_neq(err[0], 0);
}
