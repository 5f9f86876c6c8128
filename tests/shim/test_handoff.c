/* SPDX-License-Identifier: MIT */
/* The hand-off block. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

#include "plan_fixture.h"

static struct sidecar_handoff *h;

static void setup(void)
{
    plan_setup();
    h = aligned_alloc(4096, sizeof(*h));
}

static void teardown(void)
{
    free(h);
    plan_teardown();
}

TestSuite(handoff, .init = setup, .fini = teardown);

#define PARAMS_PA 0x20000ull
#define OUTPUT_PA 0x30000ull

static int build(const char *cmdline)
{
    return shim_handoff_build(&map, &plan, params, PARAMS_PA, OUTPUT_PA, cmdline, h, err);
}

static bool covered_as_sidecar(uint64_t base, uint64_t size)
{
    uint64_t cur = base;
    for (uint32_t i = 0; i < h->memory_range_count; i++) {
        const struct sidecar_memory_range *r = &h->memory_map[i];
        if (r->base <= cur && cur < r->base + r->size) {
            if (r->type != 0x5344)
                return false;
            cur = r->base + r->size;
            if (cur >= base + size)
                return true;
        }
    }
    return false;
}

static void check_map(void)
{
    struct sidecar_abi_error e;
    cr_assert_eq(sidecar_handoff_validate(h, &e), SIDECAR_ABI_OK, "%s", e.message);
    for (uint32_t i = 1; i < h->memory_range_count; i++)
        cr_assert_leq(h->memory_map[i - 1].base + h->memory_map[i - 1].size, h->memory_map[i].base,
                      "map sorted and disjoint at %u", i);
    for (uint32_t i = 0; i < plan.reserved_count; i++)
        cr_assert(covered_as_sidecar(plan.reserved[i].base, plan.reserved[i].size), "reserved %u", i);
    cr_assert(covered_as_sidecar(PARAMS_PA, sizeof(struct sidecar_params)));
    cr_assert(covered_as_sidecar(OUTPUT_PA, sizeof(struct sidecar_output)));
}

Test(handoff, reserves_sidecar_memory_and_lists_boot_cpus)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_eq(build("/shim.elf console=ttyS0 sidecar.log sidecar=on sidecarfoo=1 quiet"), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "console=ttyS0 sidecarfoo=1 quiet boot_cpus=0");
    cr_assert_eq(h->main_cpu_count, 1);
    cr_assert(h->sidecar_enabled);
    cr_assert_eq(h->params_pa, PARAMS_PA);
    cr_assert_eq(h->output_pa, OUTPUT_PA);
    cr_assert_eq(h->disabled_reason.len, 0);
    cr_assert_eq(h->magic, SIDECAR_HANDOFF_MAGIC);
    check_map();
    /* bytes around the reserved ranges stay usable */
    uint64_t usable = 0, total = 0;
    for (uint32_t i = 0; i < h->memory_range_count; i++) {
        total += h->memory_map[i].size;
        if (h->memory_map[i].type == 1)
            usable += h->memory_map[i].size;
    }
    cr_assert_eq(total, 0x9fc00 + 0x3ff00000 + 0x1000);
    uint64_t reserved = sizeof(struct sidecar_params) + sizeof(struct sidecar_output);
    for (uint32_t i = 0; i < plan.reserved_count; i++)
        reserved += plan.reserved[i].size;
    cr_assert_eq(usable, 0x9fc00 + 0x3ff00000 - reserved);
}

Test(handoff, boot_cpus_are_vp_indices_under_the_openhcl_policy)
{
    /* APIC IDs 100.. so that VP indices and APIC IDs differ; 64 VPs in
     * one NUMA node: OpenHCL's boot_cpus=0,32 (the chunks' first VPs). */
    cpus(64, 1);
    for (uint32_t i = 0; i < 64; i++)
        topo.cpus[i].apic_id = 100 + i;
    bsp_apic_id = 100;
    policy_words = "sidecar.policy=openhcl";
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "boot_cpus=0,32");
    cr_assert_eq(h->main_cpu_count, 2);
    /* our policy: APIC IDs */
    plan_setup();
    cpus(64, 1);
    for (uint32_t i = 0; i < 64; i++)
        topo.cpus[i].apic_id = 100 + i;
    bsp_apic_id = 100;
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "boot_cpus=100");
}

Test(handoff, boot_cpus_ranges_of_apic_ids)
{
    cpus(16, 2);   /* main: 0, 1 (first of each NUMA node) */
    cr_assert_eq(run("sidecar.main_cpus=2-5,9,12"), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "boot_cpus=0-5,9,12");
    cr_assert_eq(h->main_cpu_count, 8);
    check_map();
}

Test(handoff, disabled_passes_reason_and_no_boot_cpus)
{
    cpus(1, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert_not(plan.enabled);
    cr_assert_eq(build("/shim sidecar=off root=/dev/vda"), SHIM_OK, "%s", err);
    cr_assert_str_eq((const char *)h->cmdline, "root=/dev/vda");
    cr_assert_not(h->sidecar_enabled);
    cr_assert_eq(h->main_cpu_count, 1, "the VM's one CPU is the main kernel's");
    cr_assert_eq(h->params_pa, 0);
    cr_assert_eq(h->disabled_reason.len, strlen(plan.reason));
    cr_assert(memcmp(h->disabled_reason.buf, plan.reason, h->disabled_reason.len) == 0);
    for (uint32_t i = 0; i < h->memory_range_count; i++)
        cr_assert_neq(h->memory_map[i].type, 0x5344);
    struct sidecar_abi_error e;
    cr_assert_eq(sidecar_handoff_validate(h, &e), SIDECAR_ABI_OK, "%s", e.message);
}

Test(handoff, unsorted_overlapping_input_map)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    /* same map, reversed, with an overlapping duplicate and odd types */
    struct shim_range r[3] = { map.ranges[2], map.ranges[1], map.ranges[0] };
    map.count = 0;
    map.ranges[map.count++] = r[0];
    map.ranges[map.count++] = r[1];
    map.ranges[map.count++] = (struct shim_range){ 0x200000, 0x100000, 0x12345 };
    map.ranges[map.count++] = r[2];
    map.ranges[map.count++] = (struct shim_range){ 0x50000000, 0, 1 };
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    check_map();
    /* the bad-typed entry inside usable RAM stays reserved (type 2) */
    bool seen = false;
    for (uint32_t i = 0; i < h->memory_range_count; i++) {
        const struct sidecar_memory_range *r = &h->memory_map[i];
        if (r->base <= 0x200000 && r->base + r->size > 0x200000) {
            cr_assert_eq(r->type, 2);
            cr_assert_eq(r->base, 0x200000);
            cr_assert_eq(r->size, 0x100000);
            seen = true;
        }
    }
    cr_assert(seen);
}

Test(handoff, too_many_ranges)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    /* 128 usable ranges, three of them split in three by a reserved page */
    map.count = SHIM_MAX_RANGES;
    for (uint32_t i = 0; i < SHIM_MAX_RANGES; i++)
        map.ranges[i] = (struct shim_range){ 0x100000000ull + i * 0x20000, 0x10000, 1 };
    plan.reserved_count = 0;
    for (uint32_t i = 0; i < 3; i++)
        plan.reserved[plan.reserved_count++] = (struct shim_range){ 0x100000000ull + i * 0x20000 + 0x4000, 0x1000, 0 };
    cr_assert_eq(build(""), SHIM_E_INVALID);
    cr_assert(strstr(err, "memory map"), "%s", err);
}

Test(handoff, cmdline_overflow)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    static char line[SIDECAR_CMDLINE_SIZE + 8];
    memset(line, 'x', SIDECAR_CMDLINE_SIZE - 5);
    line[SIDECAR_CMDLINE_SIZE - 5] = 0;
    cr_assert_eq(build(line), SHIM_E_INVALID);
    cr_assert(strstr(err, "cmdline"), "%s", err);
    /* without boot_cpus it fits */
    plan.enabled = false;
    cr_assert_eq(build(line), SHIM_OK, "%s", err);
    cr_assert_eq(strlen((const char *)h->cmdline), SIDECAR_CMDLINE_SIZE - 5);
}

Test(handoff, adjacent_ranges_of_one_type_merge)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(plan.enabled, "%s", plan.reason);
    map.count = 0;
    map.ranges[map.count++] = (struct shim_range){ 0, 0x9fc00, 1 };
    for (uint32_t i = 0; i < 64; i++)
        map.ranges[map.count++] = (struct shim_range){ 0x100000 + i * 0x1000000ull, 0x1000000, 1 };
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    check_map();
    for (uint32_t i = 1; i < h->memory_range_count; i++)
        cr_assert(h->memory_map[i].type != h->memory_map[i - 1].type ||
                  h->memory_map[i - 1].base + h->memory_map[i - 1].size != h->memory_map[i].base,
                  "ranges %u and %u not merged", i - 1, i);
    cr_assert_leq(h->memory_range_count, 2 * (plan.reserved_count + 2) + 2);
}

/* Random, unsorted, overlapping maps: the hand-off map is always valid and
 * marks every sidecar byte, or the build fails with an error. */
Test(handoff, random_maps)
{
    uint32_t seed = 4242;
    int ok = 0;
    for (int iter = 0; iter < 300; iter++) {
        cpus(8 + iter % 50, 1 + iter % 3);
        map.count = 2 + iter % 60;
        for (uint32_t i = 2; i < map.count; i++) {
            seed = seed * 1103515245u + 12345u;
            uint64_t base = (uint64_t)(seed >> 12) * 0x1000;
            seed = seed * 1103515245u + 12345u;
            map.ranges[i] = (struct shim_range){ base, (uint64_t)(1 + (seed >> 16) % 0x4000) * 0x100,
                                                 (seed >> 8) % 6 };
        }
        cr_assert_eq(run(""), SHIM_OK);
        int rc = build("console=ttyS0");
        if (rc != SHIM_OK) {
            cr_assert(strstr(err, "memory map"), "%s", err);
            continue;
        }
        ok++;
        if (plan.enabled)
            check_map();
        else {
            struct sidecar_abi_error e;
            cr_assert_eq(sidecar_handoff_validate(h, &e), SIDECAR_ABI_OK, "%s", e.message);
        }
    }
    cr_assert_gt(ok, 250);
}

/* The sidecar kernel image, appended by the caller after the kernel ran,
 * is reserved like node memory; a full list refuses more. */
Test(handoff, kernel_image_reserved)
{
    cpus(8, 1);
    cr_assert_eq(run(""), SHIM_OK);
    cr_assert(shim_plan_reserve(&plan, 0x400000, 0x31000));
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    check_map();
    cr_assert(covered_as_sidecar(0x400000, 0x31000));
    cr_assert_not(shim_plan_reserve(&plan, 0x1000000, 0));
    cr_assert_not(shim_plan_reserve(&plan, ~0ull - 10, 0x1000));
    while (plan.reserved_count < sizeof(plan.reserved) / sizeof(plan.reserved[0]))
        cr_assert(shim_plan_reserve(&plan, 0x2000000 + plan.reserved_count * 0x1000ull, 0x1000));
    cr_assert_not(shim_plan_reserve(&plan, 0x8000000, 0x1000));
    cr_assert_eq(build(""), SHIM_OK, "%s", err);
    check_map();
}
