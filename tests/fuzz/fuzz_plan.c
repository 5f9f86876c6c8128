/* SPDX-License-Identifier: MIT */
/* libFuzzer: the shim's CPU/memory policy and hand-off over fuzzed
 * topologies, memory maps, in-use ranges, boot CPUs and command lines
 * (shim_plan_build, then shim_handoff_build), without going through ACPI
 * (the shim target does that), so that odd topologies and maps are cheap
 * to reach. Besides the sanitizers, it checks what shim/core.h promises:
 *  - an enabled plan has params that pass sidecar_params_validate, the
 *    boot CPU among the main CPUs, main + sidecar = every CPU, and memory
 *    (node memory, trampoline, guest RAM) that is usable in the map, below
 *    4 GiB, outside the in-use ranges, outside every non-usable entry, and
 *    not shared between two reservations;
 *  - a disabled plan never says "internal error" (params the plan itself
 *    built failing validation), unless two CPUs share an APIC ID (which
 *    shim_acpi_parse refuses before any plan is made);
 *  - a hand-off that builds passes sidecar_handoff_validate, and every
 *    piece of its map that overlaps sidecar memory is typed 0x5344. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar/validate.h>

#define BROKEN(what)                                                              \
    do {                                                                          \
        fprintf(stderr, "fuzz_plan.c:%d: contract broken: %s\n", __LINE__, what); \
        abort();                                                                  \
    } while (0)

#define SD_TYPE 0x5344u
#define FOUR_GIB 0x100000000ull

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void)
{
    return in_pos < in_len ? in[in_pos++] : 0;
}

static uint32_t u16(void)
{
    uint32_t v = u8();
    return v | (uint32_t)u8() << 8;
}

static uint32_t u32(void)
{
    return u16() | u16() << 16;
}

static uint64_t u64(void)
{
    return (uint64_t)u32() | (uint64_t)u32() << 32;
}

/* An address or size: mostly page multiples below 8 GiB, sometimes raw. */
static uint64_t addr(uint8_t how)
{
    switch (how & 3) {
    case 0: return (uint64_t)u16() << 12;          /* < 256 MiB */
    case 1: return (uint64_t)u16() << 17;          /* < 8 GiB, 128 KiB steps */
    case 2: return (uint64_t)u32();
    default: return u64();
    }
}

static struct shim_topology topo;
static struct shim_memmap map;
static struct shim_plan plan;
static struct sidecar_params params;
static struct sidecar_handoff handoff;

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    uint64_t ae = a + an < a ? ~0ull : a + an, be = b + bn < b ? ~0ull : b + bn;
    return an && bn && a < be && b < ae;
}

/* Every byte of [base, base + size) is inside some usable entry. */
static bool usable(uint64_t base, uint64_t size)
{
    uint64_t pos = base, end = base + size;
    while (pos < end) {
        uint64_t next = pos;
        for (uint32_t i = 0; i < map.count && i < SHIM_MAX_RANGES; i++) {
            const struct shim_range *r = &map.ranges[i];
            if (r->type == 1 && r->base + r->size >= r->base && r->base <= pos && pos < r->base + r->size &&
                r->base + r->size > next)
                next = r->base + r->size;
        }
        if (next == pos)
            return false;
        pos = next;
    }
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Two CPUs with one APIC ID: shim_acpi_parse refuses such a MADT, so the
 * plan need not explain it well (it refuses it as an internal error). */
static bool duplicate_apic_ids(void)
{
    static uint32_t ids[SHIM_MAX_CPUS];
    uint32_t n = topo.cpu_count > SHIM_MAX_CPUS ? SHIM_MAX_CPUS : topo.cpu_count;
    for (uint32_t i = 0; i < n; i++)
        ids[i] = topo.cpus[i].apic_id;
    qsort(ids, n, sizeof(ids[0]), cmp_u32);
    for (uint32_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1])
            return true;
    return false;
}

static void check_plan(const struct shim_range *in_use, uint32_t in_use_count, uint32_t bsp_apic)
{
    if (!plan.enabled) {
        if (strncmp(plan.reason, "internal error", 14) == 0 && !duplicate_apic_ids())
            BROKEN(plan.reason);
        if (memchr(plan.reason, 0, sizeof(plan.reason)) == NULL)
            BROKEN("reason not NUL-terminated");
        return;
    }
    struct sidecar_abi_error e;
    if (sidecar_params_validate(&params, &e) != SIDECAR_ABI_OK)
        BROKEN(e.message);
    if (plan.main_cpu_count + plan.sidecar_cpu_count != topo.cpu_count || params.cpu_count != topo.cpu_count)
        BROKEN("CPU counts");
    uint32_t mains = 0;
    for (uint32_t i = 0; i < params.cpu_count; i++)
        mains += params.cpus[i].role == SIDECAR_CPU_ROLE_MAIN;
    if (mains != plan.main_cpu_count)
        BROKEN("main CPU count vs roles");
    if (params.cpus[params.bsp_cpu].apic_id != bsp_apic || params.cpus[params.bsp_cpu].role != SIDECAR_CPU_ROLE_MAIN)
        BROKEN("the boot CPU is not a main CPU");
    for (uint32_t k = 0; k < plan.reserved_count; k++) {
        const struct shim_range *r = &plan.reserved[k];
        if (!r->size || r->base + r->size < r->base || r->base + r->size > FOUR_GIB)
            BROKEN("a reservation that is empty, wraps or is above 4 GiB");
        if (!usable(r->base, r->size))
            BROKEN("a reservation outside usable memory");
        for (uint32_t i = 0; i < in_use_count; i++)
            if (overlaps(r->base, r->size, in_use[i].base, in_use[i].size))
                BROKEN("a reservation over an in-use range");
        for (uint32_t i = 0; i < map.count && i < SHIM_MAX_RANGES; i++)
            if (map.ranges[i].type != 1 && overlaps(r->base, r->size, map.ranges[i].base, map.ranges[i].size))
                BROKEN("a reservation over a non-usable entry");
        for (uint32_t j = 0; j < k; j++)
            if (overlaps(r->base, r->size, plan.reserved[j].base, plan.reserved[j].size))
                BROKEN("two reservations overlap");
    }
}

static void check_handoff(int rc, const char *err)
{
    if (rc != SHIM_OK) {
        if (memchr(err, 0, SHIM_ERR_SIZE) == NULL)
            BROKEN("handoff error not NUL-terminated");
        return;
    }
    struct sidecar_abi_error e;
    if (sidecar_handoff_validate(&handoff, &e) != SIDECAR_ABI_OK)
        BROKEN(e.message);
    if (!plan.enabled)
        return;
    for (uint32_t i = 0; i < handoff.memory_range_count; i++) {
        const struct sidecar_memory_range *m = &handoff.memory_map[i];
        for (uint32_t k = 0; k < plan.reserved_count; k++)
            if (m->type != SD_TYPE && overlaps(m->base, m->size, plan.reserved[k].base, plan.reserved[k].size))
                BROKEN("sidecar memory handed to the main kernel as another type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    memset(&topo, 0, sizeof(topo));
    memset(&map, 0, sizeof(map));

    /* Topology. */
    /* Up to 299 CPUs (more cost quadratic time in the params validator,
     * 20 ms an input at 2048 under the sanitizers, for no new code), or a
     * count above SHIM_MAX_CPUS that the plan must refuse. */
    uint8_t shape = u8();
    uint32_t n = (shape & 0x80) ? u16() % 300 : u8();
    topo.cpu_count = n;
    if (shape & 0x40)
        topo.cpu_count = SHIM_MAX_CPUS + 1;
    topo.numa_count = u8() % (SHIM_MAX_NUMA + 2);
    uint32_t stride = u8() % 8 + 1, numa_mod = topo.numa_count ? topo.numa_count : 1;
    for (uint32_t i = 0; i < n; i++) {
        struct shim_cpu *c = &topo.cpus[i];
        switch (shape & 3) {
        case 0: c->apic_id = i * stride; break;
        case 1: c->apic_id = i ^ stride; break;   /* a permutation */
        case 2: c->apic_id = u8(); break;        /* duplicates likely */
        default: c->apic_id = u32(); break;
        }
        c->acpi_uid = i;
        switch ((shape >> 2) & 3) {
        case 0: c->numa_node = i % numa_mod; break;
        case 1: c->numa_node = i * numa_mod / (n ? n : 1); break;
        case 2: c->numa_node = u8() % (numa_mod + 1); break;   /* sometimes out of range */
        default: c->numa_node = u8() % numa_mod; break;
        }
    }
    for (uint32_t d = 0; d < SHIM_MAX_NUMA; d++)
        topo.numa_domain[d] = d < topo.numa_count ? (d * 3 + u8()) : 0;
    topo.has_srat = (shape >> 4) & 1;
    topo.mem_affinity_count = u8() % (SHIM_MAX_MEM_AFFINITY + 1);
    for (uint32_t k = 0; k < topo.mem_affinity_count; k++) {
        uint8_t how = u8();
        topo.mem_affinity[k].base = addr(how);
        topo.mem_affinity[k].size = addr(how >> 2);
        topo.mem_affinity[k].numa_node = u8() % numa_mod;
    }

    /* Memory map and the shim's own ranges. */
    map.count = u8() % 24;
    if (map.count == 23)
        map.count = SHIM_MAX_RANGES + u8() % 4;   /* beyond the array's use */
    for (uint32_t k = 0; k < map.count && k < SHIM_MAX_RANGES; k++) {
        uint8_t how = u8();
        map.ranges[k].base = addr(how);
        map.ranges[k].size = addr(how >> 2);
        map.ranges[k].type = (how >> 4) < 12 ? 1 : (how >> 4) - 11;   /* mostly usable */
        if ((how >> 4) == 15)
            map.ranges[k].type = u32();
    }
    struct shim_range in_use[4];
    uint32_t in_use_count = u8() % 5;
    for (uint32_t k = 0; k < in_use_count; k++) {
        uint8_t how = u8();
        in_use[k] = (struct shim_range){ addr(how), addr(how >> 2), 2 };
    }
    uint8_t b = u8();
    uint32_t bsp_apic = b < 0xf0 && n ? topo.cpus[b % n].apic_id : u32();
    uint64_t params_pa = addr(u8()), output_pa = addr(u8());

    /* The rest: the command line. */
    size_t len = in_len - in_pos;
    char *cmdline = malloc(len + 1);
    memcpy(cmdline, in + in_pos, len);
    cmdline[len] = 0;
    struct shim_options opt;
    char err[SHIM_ERR_SIZE];
    shim_options_default(&opt);
    shim_cmdline_parse(cmdline, &opt, err);

    int rc = shim_plan_build(&topo, &opt, &map, in_use, in_use_count, bsp_apic, &params, &plan, NULL);
    if (rc == SHIM_OK) {
        check_plan(in_use, in_use_count, bsp_apic);
        if (plan.enabled)
            shim_plan_reserve(&plan, 0x200000, 0x100000);   /* the kernel image, as the shim does */
        memset(err, 0x55, sizeof(err));
        rc = shim_handoff_build(&map, &plan, &params, params_pa, output_pa, cmdline, &handoff, err);
        check_handoff(rc, err);
    }
    free(cmdline);
    return 0;
}
