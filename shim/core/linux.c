/* SPDX-License-Identifier: MIT */
/* Booting Linux as the main kernel: placing the images, the e820 table
 * and the command line. The setup header check and boot_params are
 * linuxboot's (shared with the small VMM). */
#include <shim/linux.h>
#include <sidecar/validate.h>

#include "util.h"

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return as && bs && a < b + bs && b < a + as;
}

/* Every byte of [b, b + size) is in a usable entry and in no other entry.
 * A non-usable entry whose end wraps past 2^64 (firmware's mistake) counts
 * as reaching the top and the wrapped rest from 0 (it was ignored, so
 * Linux could be placed in it: found by fuzz-shimboot). */
bool shim_memmap_usable(const struct shim_memmap *map, uint64_t b, uint64_t size)
{
    if (b + size < b)
        return false;
    uint64_t e = b + size;
    uint32_t n = map->count < SHIM_MAX_RANGES ? map->count : SHIM_MAX_RANGES;
    for (uint32_t i = 0; i < n; i++) {
        const struct shim_range *r = &map->ranges[i];
        if (r->type == LINUXBOOT_E820_RAM)
            continue;
        uint64_t end = r->base + r->size;
        if (end < r->base ? e > r->base || b < end : overlaps(b, e - b, r->base, r->size))
            return false;
    }
    uint64_t cur = b;
    while (cur < e) {
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++) {
            const struct shim_range *r = &map->ranges[i];
            if (r->type == LINUXBOOT_E820_RAM && r->base + r->size > r->base && r->base <= cur &&
                cur < r->base + r->size) {
                cur = r->base + r->size;
                found = true;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static bool fits(const struct shim_memmap *map, const struct shim_range *avoid, uint32_t navoid,
                 uint64_t b, uint64_t size, uint64_t lo, uint64_t hi)
{
    if (b < lo || b > hi || size > hi - b)
        return false;
    for (uint32_t k = 0; k < navoid; k++)
        if (overlaps(b, size, avoid[k].base, avoid[k].size))
            return false;
    return shim_memmap_usable(map, b, size);
}

bool shim_linux_place(const struct shim_memmap *map, const struct shim_range *avoid, uint32_t navoid,
                      uint64_t size, uint64_t align, uint64_t lo, uint64_t hi, bool highest, uint64_t *out)
{
    if (!size || !align || (align & (align - 1)) || lo >= hi || size > hi - lo)
        return false;
    uint32_t n = map->count < SHIM_MAX_RANGES ? map->count : SHIM_MAX_RANGES;
    bool found = false;
    uint64_t best = 0;
    /* Candidates: free space starts and ends where a map entry or an
     * avoided range starts or ends, or at lo / hi. Lowest: each such point
     * aligned up is a start; highest: each such point is an end. */
    for (uint32_t i = 0; i < 2 * (n + navoid) + 1; i++) {
        uint64_t x;
        if (i < 2 * n)
            x = map->ranges[i / 2].base + (i & 1 ? map->ranges[i / 2].size : 0);
        else if (i < 2 * (n + navoid))
            x = avoid[(i - 2 * n) / 2].base + (i & 1 ? avoid[(i - 2 * n) / 2].size : 0);
        else
            x = highest ? hi : lo;
        uint64_t c;
        if (!highest) {
            if (x < lo)
                x = lo;
            if (x > ~0ull - (align - 1))
                continue;
            c = (x + align - 1) & ~(align - 1);
        } else {
            if (x > hi)
                x = hi;
            if (x < size)
                continue;
            c = (x - size) & ~(align - 1);
        }
        if (fits(map, avoid, navoid, c, size, lo, hi) && (!found || (highest ? c > best : c < best))) {
            best = c;
            found = true;
        }
    }
    if (found)
        *out = best;
    return found;
}

static uint32_t linux_type(uint32_t t)
{
    switch (t) {
    case 1: case 2: case 3: case 4: case 5: case 7: case 12:
        return t;
    default:
        return LINUXBOOT_E820_RESERVED;   /* sidecar memory (0x5344) and anything unknown */
    }
}

int shim_linux_e820(const struct sidecar_handoff *h, struct linuxboot_e820 out[LINUXBOOT_E820_MAX],
                    uint32_t *count, char err[SHIM_ERR_SIZE])
{
    uint32_t n = 0;
    uint32_t total = h->memory_range_count < SIDECAR_MAX_MEMORY_RANGES ? h->memory_range_count
                                                                         : SIDECAR_MAX_MEMORY_RANGES;
    for (uint32_t i = 0; i < total; i++) {
        const struct sidecar_memory_range *r = &h->memory_map[i];
        if (!r->size)
            continue;
        uint32_t t = linux_type(r->type);
        if (n && out[n - 1].type == t && out[n - 1].base + out[n - 1].size == r->base) {
            out[n - 1].size += r->size;
            continue;
        }
        if (n >= LINUXBOOT_E820_MAX)
            return shim_fail(err, SHIM_E_LIMIT, "e820: more than %u ranges", LINUXBOOT_E820_MAX);
        out[n++] = (struct linuxboot_e820){ r->base, r->size, t };
    }
    *count = n;
    return SHIM_OK;
}

int shim_linux_cmdline(const char *base, uint32_t main_cpus, uint64_t handoff_pa, uint32_t limit,
                       char *out, size_t out_size, char err[SHIM_ERR_SIZE])
{
    if (!out_size)
        return shim_fail(err, SHIM_E_INVALID, "cmdline: no room");
    size_t len = 0;
    out[0] = 0;
    size_t n = shim_strlen(base, SIDECAR_CMDLINE_SIZE);
    if (n + 1 > out_size)
        return shim_fail(err, SHIM_E_INVALID, "cmdline: %lu bytes do not fit", (unsigned long)n);
    shim_copy(out, base, n);
    len = n;
    out[len] = 0;
    char extra[64];
    if (main_cpus) {
        size_t k = shim_fmt(extra, sizeof(extra), "%smaxcpus=%u", len ? " " : "", main_cpus);
        if (len + k + 1 > out_size)
            return shim_fail(err, SHIM_E_INVALID, "cmdline: no room for maxcpus=");
        shim_copy(out + len, extra, k + 1);
        len += k;
    }
    if (handoff_pa) {
        size_t k = shim_fmt(extra, sizeof(extra), "%ssidecar.handoff=0x%lx", len ? " " : "", handoff_pa);
        if (len + k + 1 > out_size)
            return shim_fail(err, SHIM_E_INVALID, "cmdline: no room for sidecar.handoff=");
        shim_copy(out + len, extra, k + 1);
        len += k;
    }
    if (len > limit)
        return shim_fail(err, SHIM_E_INVALID, "cmdline: %lu bytes, the kernel takes at most %u (setup_header.cmdline_size)",
                    (unsigned long)len, limit);
    return SHIM_OK;
}

uint32_t shim_linux_cpu_order(const struct sidecar_params *p, uint32_t *out, uint32_t *main_count)
{
    uint32_t n = 0, cpus = p->cpu_count < SIDECAR_MAX_CPUS ? p->cpu_count : SIDECAR_MAX_CPUS;
    if (p->bsp_cpu < cpus)
        out[n++] = p->cpus[p->bsp_cpu].apic_id;
    for (uint32_t i = 0; i < cpus; i++)
        if (i != p->bsp_cpu && p->cpus[i].role == SIDECAR_CPU_ROLE_MAIN)
            out[n++] = p->cpus[i].apic_id;
    *main_count = n;
    for (uint32_t i = 0; i < cpus; i++)
        if (i != p->bsp_cpu && p->cpus[i].role != SIDECAR_CPU_ROLE_MAIN)
            out[n++] = p->cpus[i].apic_id;
    return n;
}

uint32_t shim_linux_cpu_order_vp(const struct sidecar_params *p, uint32_t *out)
{
    uint32_t n = 0, cpus = p->cpu_count < SIDECAR_MAX_CPUS ? p->cpu_count : SIDECAR_MAX_CPUS;
    if (p->bsp_cpu < cpus)
        out[n++] = p->cpus[p->bsp_cpu].apic_id;
    for (uint32_t i = 0; i < cpus; i++)
        if (i != p->bsp_cpu)
            out[n++] = p->cpus[i].apic_id;
    return n;
}
