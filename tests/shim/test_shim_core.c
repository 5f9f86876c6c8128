/* Unit tests of the shim's portable core: command line, policy, hand-off. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

static char err[SHIM_ERR_SIZE];

Test(cmdline, defaults_and_options)
{
    struct shim_options o;
    shim_options_default(&o);
    cr_assert(o.enabled);
    cr_assert_eq(o.node_size, 32);
    cr_assert_eq(shim_cmdline_parse("/shim.elf console=ttyS0 sidecar.node_size=8 sidecar.guest_ram=128M "
                                    "sidecar.main_cpus=0,4-6 sidecar.apic=xapic sidecar.log=0", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.node_size, 8);
    cr_assert_eq(o.guest_ram, 128ull << 20);
    cr_assert_eq(o.main_cpu_count, 4);
    cr_assert_eq(o.main_cpus[3], 6);
    cr_assert_eq(o.apic_mode, SIDECAR_APIC_MODE_XAPIC);
    cr_assert_not(o.log);
    cr_assert_eq(shim_cmdline_parse("sidecar=off", &o, err), SHIM_OK);
    cr_assert_not(o.enabled);
}

Test(cmdline, bad_values_name_the_option_and_keep_defaults)
{
    struct shim_options o;
    shim_options_default(&o);
    cr_assert_eq(shim_cmdline_parse("sidecar.node_size=abc", &o, err), SHIM_E_INVALID);
    cr_assert_str_eq(err, "sidecar.node_size: \"abc\" is not a number from 1 to 4032");
    cr_assert_eq(o.node_size, 32);
    cr_assert_eq(shim_cmdline_parse("sidecar.guest_ram=3M", &o, err), SHIM_E_INVALID);
    cr_assert(strstr(err, "sidecar.guest_ram") == err, "%s", err);
    cr_assert_eq(shim_cmdline_parse("sidecar=maybe", &o, err), SHIM_E_INVALID);
    cr_assert_eq(shim_cmdline_parse("sidecar.main_cpus=3-1", &o, err), SHIM_E_INVALID);
    cr_assert_eq(shim_cmdline_parse("sidecar.node_size=99999999999999999999999", &o, err), SHIM_E_INVALID);
}

static struct shim_topology topo;
static struct shim_memmap map;
static struct sidecar_params *params;
static struct shim_plan plan;

static void setup(void)
{
    memset(&topo, 0, sizeof(topo));
    memset(&map, 0, sizeof(map));
    params = aligned_alloc(4096, sizeof(*params));
    map.count = 2;
    map.ranges[0] = (struct shim_range){ 0, 0x9fc00, 1 };
    map.ranges[1] = (struct shim_range){ 0x100000, 0x3ff00000, 1 };
}

static void teardown(void) { free(params); }

static void cpus(uint32_t n, uint32_t numa_nodes)
{
    topo.cpu_count = n;
    topo.numa_count = numa_nodes;
    for (uint32_t i = 0; i < n; i++)
        topo.cpus[i] = (struct shim_cpu){ i, i, i % numa_nodes };
}

static int run(const char *cmdline)
{
    struct shim_options o;
    shim_options_default(&o);
    cr_assert_eq(shim_cmdline_parse(cmdline, &o, err), SHIM_OK, "%s", err);
    struct shim_range in_use[] = { { 0x100000, 0xf00000, 2 } };
    return shim_plan_build(&topo, &o, &map, in_use, 1, 0, params, &plan, NULL);
}

TestSuite(plan, .init = setup, .fini = teardown);

Test(plan, one_cpu_disables)
{
    cpus(1, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, "nothing to gain"), "%s", plan.reason);
}

Test(plan, off_disables)
{
    cpus(8, 1);
    run("sidecar=off");
    cr_assert_not(plan.enabled);
    cr_assert_str_eq(plan.reason, "sidecar=off");
}

Test(plan, splits_evenly_and_validates)
{
    cpus(71, 1);   /* 1 main + 70 sidecar: 3 nodes of 24/23/23 */
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(params->node_count, 3);
    cr_assert_eq(params->nodes[0].cpu_count, 24);
    cr_assert_eq(params->nodes[1].cpu_count, 23);
    cr_assert_eq(params->nodes[2].cpu_count, 23);
    struct sidecar_abi_error e;
    cr_assert_eq(sidecar_params_validate(params, &e), SIDECAR_ABI_OK, "%s", e.message);
    for (uint32_t n = 0; n < params->node_count; n++)
        cr_assert_geq(params->nodes[n].memory_base, 0x1000000ull, "in-use range avoided");
    cr_assert_lt(params->trampoline_page, 0xa0000ull);
}

Test(plan, one_main_cpu_per_numa_node)
{
    cpus(16, 2);   /* CPUs alternate between two NUMA nodes */
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(plan.main_cpu_count, 2);
    cr_assert_eq(params->node_count, 2);
    /* CPU indices run NUMA node by NUMA node: indices 0-7 are node 0's. */
    cr_assert_eq(params->cpus[0].apic_id, 0);
    cr_assert_eq(params->cpus[1].apic_id, 2);
    cr_assert_eq(params->cpus[8].apic_id, 1);
    cr_assert_eq(params->cpus[8].role, SIDECAR_CPU_ROLE_MAIN);
}

Test(plan, main_cpus_override)
{
    cpus(8, 1);
    cr_assert_eq(run("sidecar.main_cpus=3,5"), SHIM_OK);
    cr_assert_eq(plan.main_cpu_count, 3);
    cr_assert_eq(params->cpus[3].role, SIDECAR_CPU_ROLE_MAIN);
    cr_assert_eq(params->cpus[5].role, SIDECAR_CPU_ROLE_MAIN);
}

Test(plan, memory_short_disables)
{
    cpus(64, 1);
    map.ranges[1].size = 0xf40000;   /* only in-use memory above 1 MiB */
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, "memory short"), "%s", plan.reason);
}

Test(plan, bsp_missing_is_invalid_topology)
{
    cpus(4, 1);
    topo.cpus[0].apic_id = 9;
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert(strstr(plan.reason, "boot CPU"), "%s", plan.reason);
}

Test(handoff, reserves_sidecar_memory_and_lists_boot_cpus, .init = setup, .fini = teardown)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    struct sidecar_handoff *h = aligned_alloc(4096, sizeof(*h));
    cr_assert_eq(shim_handoff_build(&map, &plan, params, 0x200000, 0x300000,
                                    "/shim.elf console=ttyS0 sidecar.log", h, err), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "console=ttyS0 boot_cpus=0");
    cr_assert_eq(h->main_cpu_count, 1);
    bool found = false;
    for (uint32_t i = 0; i < h->memory_range_count; i++)
        if (h->memory_map[i].base == params->nodes[0].memory_base)
            found = h->memory_map[i].type == 0x5344 && h->memory_map[i].size == params->nodes[0].memory_size;
    cr_assert(found, "node memory reserved in the map");
    struct sidecar_abi_error e;
    cr_assert_eq(sidecar_handoff_validate(h, &e), SIDECAR_ABI_OK, "%s", e.message);
    free(h);
}
