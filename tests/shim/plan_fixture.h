/* SPDX-License-Identifier: MIT */
/* Shared state of the plan and hand-off tests. */
#ifndef PLAN_FIXTURE_H
#define PLAN_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <shim/core.h>

static struct shim_topology topo;
static struct shim_memmap map;
static struct shim_options opt;
static struct sidecar_params *params;
static struct shim_plan plan;
static struct shim_range in_use[4];
static uint32_t in_use_count;
static uint32_t bsp_apic_id;
static char err[SHIM_ERR_SIZE];
/* Put before every command line: the older tests were written for our own
 * policy (sidecar.policy=numa); the openhcl tests set it to "". */
static const char *policy_words;

static void plan_setup(void)
{
    memset(&topo, 0, sizeof(topo));
    memset(&map, 0, sizeof(map));
    memset(&plan, 0, sizeof(plan));
    free(params);
    params = aligned_alloc(4096, sizeof(*params));
    map.count = 3;
    map.ranges[0] = (struct shim_range){ 0, 0x9fc00, 1 };
    map.ranges[1] = (struct shim_range){ 0x100000, 0x3ff00000, 1 };
    map.ranges[2] = (struct shim_range){ 0xfec00000, 0x1000, 2 };
    in_use[0] = (struct shim_range){ 0x100000, 0xf00000, 2 };   /* the shim and its modules */
    in_use_count = 1;
    bsp_apic_id = 0;
    policy_words = "sidecar.policy=numa";
}

static void plan_teardown(void) { free(params); params = NULL; }

/* n CPUs, APIC ID = index, NUMA node = index % numa_nodes. */
static inline void cpus(uint32_t n, uint32_t numa_nodes)
{
    topo.cpu_count = n;
    topo.numa_count = numa_nodes;
    for (uint32_t d = 0; d < numa_nodes; d++)
        topo.numa_domain[d] = d;
    for (uint32_t i = 0; i < n; i++)
        topo.cpus[i] = (struct shim_cpu){ i, i, i % numa_nodes };
}

static int run_log(const char *cmdline, const struct shim_log *log)
{
    shim_options_default(&opt);
    if (shim_cmdline_parse(policy_words, &opt, err) != SHIM_OK || shim_cmdline_parse(cmdline, &opt, err) != SHIM_OK)
        return -100;
    return shim_plan_build(&topo, &opt, &map, in_use, in_use_count, bsp_apic_id, params, &plan, log);
}

static int run(const char *cmdline) { return run_log(cmdline, NULL); }

#endif
