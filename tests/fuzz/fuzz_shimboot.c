/* SPDX-License-Identifier: MIT */
/* libFuzzer: what the shim reads before it plans, and the helpers that
 * place and describe Linux (shim/multiboot.h, shim/linux.h), natively.
 * First byte % 5:
 *
 * 0  the Multiboot information: the loader's magic, the info address and
 *    the shim's image range from the input, then a memory image at
 *    0x10000 (only that is readable, exact size) holding the info, the
 *    command line, the module list and the memory map wherever the input
 *    points them. On success: the command line is terminated, does not
 *    start with a blank and is a tail of what the loader gave; at most two
 *    modules, each non-empty, readable and apart from the shim; 1 to
 *    SHIM_MAX_RANGES memory map entries, none empty, each one the loader
 *    gave. On failure: a text naming what is wrong. The accessor is called
 *    a bounded number of times.
 * 1  shim_linux_place: a memory map (usable and other ranges, overlapping
 *    or not), ranges to avoid, size, alignment, window and direction. A
 *    block it returns is aligned, inside the window, usable in every byte
 *    and clear of every avoided range; in a small address space every
 *    aligned candidate is tried apart, so a block is the lowest (highest)
 *    that fits and "none" means none fits.
 * 2  shim_linux_e820: a hand-off memory map (sorted and apart, as the
 *    hand-off validator requires, or raw). Types Linux knows stay, the
 *    rest become reserved; the bytes per type are kept; no two adjacent
 *    entries of one type stay apart; at most LINUXBOOT_E820_MAX entries.
 * 3  shim_linux_cmdline: the base line (any bytes, terminated or not in
 *    its SIDECAR_CMDLINE_SIZE buffer), maxcpus=, the hand-off address, the
 *    image's limit and the output size (exact allocation). The result is
 *    the line built here apart; a refusal names "cmdline" and happens
 *    exactly when that line does not fit.
 * 4  shim_linux_cpu_order and _vp: params with any CPU count, roles, APIC
 *    IDs and boot CPU: the order is a permutation of the CPUs' APIC IDs
 *    (up to SIDECAR_MAX_CPUS), the boot CPU first, then the main CPUs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <shim/linux.h>
#include <shim/multiboot.h>

typedef unsigned __int128 u128;

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t next8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static uint64_t next_n(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)next8() << (8 * i);
    return v;
}

static void check_err(const char *err, const char *const *prefixes)
{
    if (!memchr(err, 0, SHIM_ERR_SIZE) || !err[0])
        abort();
    for (unsigned i = 0; prefixes[i]; i++)
        if (!strncmp(err, prefixes[i], strlen(prefixes[i])))
            return;
    abort();
}

/* ---- Multiboot ---------------------------------------------------------- */

#define IMAGE_BASE 0x10000ull

static const uint8_t *image;
static size_t image_size;
static uint64_t map_calls;

static const void *map(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    map_calls++;
    if (pa < IMAGE_BASE || len > image_size || pa - IMAGE_BASE > image_size - len)
        return NULL;
    return image + (pa - IMAGE_BASE);
}

static int readable(uint64_t pa, uint64_t len) { return pa >= IMAGE_BASE && len <= image_size && pa - IMAGE_BASE <= image_size - len; }

static struct shim_multiboot mb;

static void fuzz_multiboot(void)
{
    uint8_t how = next8();
    uint32_t magic = how & 1 ? (uint32_t)next_n(4) : MULTIBOOT_LOADER_MAGIC;
    uint64_t info = IMAGE_BASE + (how & 2 ? next_n(2) : 0);
    if (how & 4)
        info = next_n(8);
    uint64_t shim_start = 0x100000, shim_end = 0x200000;
    if (how & 8) {
        shim_start = IMAGE_BASE + next_n(2);
        shim_end = shim_start + next_n(2);
    }
    image_size = in_len - in_pos;
    uint8_t *copy = malloc(image_size ? image_size : 1);
    memcpy(copy, in + in_pos, image_size);
    image = copy;
    map_calls = 0;
    char err[SHIM_ERR_SIZE];
    memset(err, 0x55, sizeof(err));
    int rc = shim_multiboot_read(&(struct shim_mem){ map, NULL }, magic, info, shim_start, shim_end, &mb, err);
    /* the info, the line byte by byte, the module list and each module,
     * the memory map entry by entry */
    if (map_calls > 1 + 1 + SIDECAR_CMDLINE_SIZE + 1 + SHIM_MULTIBOOT_MAX_MODULES + image_size / 24 + SHIM_MAX_RANGES + 1)
        abort();
    if (rc != SHIM_OK) {
        static const char *const prefixes[] = { "Multiboot", "not started by a Multiboot loader", "no memory map",
                                                "empty memory map", NULL };
        check_err(err, prefixes);
        free(copy);
        return;
    }
    if (magic != MULTIBOOT_LOADER_MAGIC || !readable(info, sizeof(struct mb_info)))
        abort();
    const struct mb_info *mi = (const void *)(image + (info - IMAGE_BASE));
    /* The command line: terminated, no leading blank, a tail of the loader's. */
    size_t n = strnlen(mb.cmdline, sizeof(mb.cmdline));
    if (n == sizeof(mb.cmdline) || (n && mb.cmdline[0] == ' '))
        abort();
    if (n) {
        if (!(mi->flags & MB_INFO_CMDLINE) || !readable(mi->cmdline, 1))
            abort();
        const char *src = (const char *)image + (mi->cmdline - IMAGE_BASE);
        size_t avail = image_size - (mi->cmdline - IMAGE_BASE), k = 0;
        while (k < avail && k + 1 < SIDECAR_CMDLINE_SIZE && src[k])
            k++;
        if (n > k || memcmp(src + k - n, mb.cmdline, n))
            abort();
    }
    if (mb.module_count > SHIM_MULTIBOOT_MAX_MODULES)
        abort();
    for (uint32_t i = 0; i < mb.module_count; i++) {
        uint64_t b = mb.modules[i].start, e = mb.modules[i].end;
        if (e <= b || !readable(b, e - b) || (b < shim_end && e > shim_start))
            abort();
    }
    if (!mb.memmap.count || mb.memmap.count > SHIM_MAX_RANGES || !(mi->flags & MB_INFO_MMAP))
        abort();
    for (uint32_t i = 0; i < mb.memmap.count; i++) {
        const struct shim_range *r = &mb.memmap.ranges[i];
        if (!r->size)
            abort();
        /* one of the loader's entries, inside the map it named */
        int found = 0;
        uint64_t p = mi->mmap_addr, end = (uint64_t)mi->mmap_addr + mi->mmap_length;
        while (!found && p + sizeof(struct mb_mmap_entry) <= end && readable(p, sizeof(struct mb_mmap_entry))) {
            const struct mb_mmap_entry *e = (const void *)(image + (p - IMAGE_BASE));
            if (e->size < 20)
                break;
            found = e->addr == r->base && e->len == r->size && e->type == r->type;
            p += (uint64_t)e->size + 4;
        }
        if (!found)
            abort();
    }
    free(copy);
}

/* ---- placing Linux ------------------------------------------------------ */

static struct shim_memmap memmap;

/* A value in pages of a small space, or (when raw) any 64-bit value. */
static uint64_t small_or_raw(int raw) { return raw ? next_n(8) : next_n(1) << 12; }

static int overlaps128(u128 a, u128 as, u128 b, u128 bs) { return as && bs && a < b + bs && b < a + as; }

/* [b, b + size) usable in every byte: inside the union of usable entries
 * (walked interval by interval, in 128 bits), in no other entry, clear of
 * every avoided range. */
static int fits_oracle(const struct shim_range *avoid, uint32_t navoid, u128 b, u128 size)
{
    for (uint32_t k = 0; k < navoid; k++)
        if (overlaps128(b, size, avoid[k].base, avoid[k].size))
            return 0;
    for (uint32_t i = 0; i < memmap.count; i++) {
        const struct shim_range *r = &memmap.ranges[i];
        if (r->type != 1 && overlaps128(b, size, r->base, r->size))
            return 0;
    }
    u128 cur = b;
    for (uint32_t step = 0; cur < b + size; step++) {
        if (step > memmap.count)
            return 0;
        int moved = 0;
        for (uint32_t i = 0; i < memmap.count && !moved; i++) {
            const struct shim_range *r = &memmap.ranges[i];
            if (r->type == 1 && r->size && cur >= r->base && cur < (u128)r->base + r->size) {
                cur = (u128)r->base + r->size;
                moved = 1;
            }
        }
        if (!moved)
            return 0;
    }
    return 1;
}

static void fuzz_place(void)
{
    uint8_t how = next8();
    int raw = how & 1;
    memmap.count = next8() % 9;
    for (uint32_t i = 0; i < memmap.count; i++) {
        uint64_t b = small_or_raw(raw), s = small_or_raw(raw);
        uint8_t t = next8();
        memmap.ranges[i] = (struct shim_range){ b, s, t & 0x80 ? t : 1 };
    }
    struct shim_range avoid[6];
    uint32_t navoid = next8() % 7;
    for (uint32_t k = 0; k < navoid; k++) {
        /* the callers' ranges (the shim, its modules, what it placed) never wrap */
        uint64_t b = small_or_raw(raw), sz = small_or_raw(raw);
        avoid[k] = (struct shim_range){ b, sz > UINT64_MAX - b ? UINT64_MAX - b : sz, 2 };
    }
    uint64_t size = small_or_raw(raw);
    uint64_t align = raw ? next_n(8) : 0x1000ull << (next8() % 8);
    uint64_t lo = small_or_raw(raw), hi = how & 2 ? small_or_raw(raw) : 0x100000;
    bool highest = how & 4;
    uint64_t out = 0xdeadbeef;
    bool found = shim_linux_place(&memmap, avoid, navoid, size, align, lo, hi, highest, &out);
    bool sane = size && align && !(align & (align - 1)) && lo < hi && size <= hi - lo;
    if (found) {
        if (!sane || (out & (align - 1)) || out < lo || out > hi || size > hi - out ||
            !fits_oracle(avoid, navoid, out, size)) {
            abort();
        }
    } else if (out != 0xdeadbeef) {
        abort();
    }
    if (raw || !sane)
        return;
    /* Small space (page multiples below 1 MiB): every aligned candidate. */
    bool any = false;
    uint64_t best = 0;
    for (uint64_t c = (lo + align - 1) & ~(align - 1); c <= hi - size; c += align) {
        if (!fits_oracle(avoid, navoid, c, size))
            continue;
        if (!any || highest)
            best = c;
        any = true;
        if (!highest)
            break;
    }
    if (any != found || (found && out != best))
        abort();
}

/* ---- e820 ---------------------------------------------------------------- */

static struct sidecar_handoff handoff;
static struct linuxboot_e820 e820[LINUXBOOT_E820_MAX];

static uint32_t linux_type_oracle(uint32_t t)
{
    return t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 7 || t == 12 ? t : 2;
}

static void fuzz_e820(void)
{
    uint8_t how = next8();
    memset(&handoff, 0, sizeof(handoff));
    uint32_t count = how & 1 ? (uint32_t)next_n(4) : next8() % (SIDECAR_MAX_MEMORY_RANGES + 1);
    uint32_t used = count < SIDECAR_MAX_MEMORY_RANGES ? count : SIDECAR_MAX_MEMORY_RANGES;
    handoff.memory_range_count = count;
    uint64_t at = next_n(2) << 12;
    int sorted = !(how & 2);
    for (uint32_t i = 0; i < used; i++) {
        struct sidecar_memory_range *r = &handoff.memory_map[i];
        static const uint32_t types[] = { 1, 2, 3, 4, 5, 7, 12, 0x5344, 0, 6 };
        uint8_t t = next8();
        r->type = t & 0x80 ? (uint32_t)next_n(4) : types[t % 10];
        if (sorted) {
            /* apart and ascending, no wrap: what the hand-off validator accepts */
            uint64_t gap = next8() & 1 ? 0 : next_n(2) << 12;
            uint64_t size = next_n(3) << 12;
            if (at > UINT64_MAX - gap || at + gap > UINT64_MAX - size)
                break;
            r->base = at + gap;
            r->size = size;
            at = r->base + size;
        } else {
            r->base = next_n(8);
            r->size = next_n(8);
        }
    }
    char err[SHIM_ERR_SIZE];
    uint32_t n = 0xffffffff;
    int rc = shim_linux_e820(&handoff, e820, &n, err);
    if (rc != SHIM_OK) {
        static const char *const prefixes[] = { "e820: ", NULL };
        check_err(err, prefixes);
        return;
    }
    if (n > LINUXBOOT_E820_MAX)
        abort();
    if (!sorted)
        return;
    /* bytes per Linux type kept; adjacent entries of one type merged */
    u128 want[16] = { 0 }, got[16] = { 0 };
    for (uint32_t i = 0; i < used; i++)
        want[linux_type_oracle(handoff.memory_map[i].type)] += handoff.memory_map[i].size;
    for (uint32_t i = 0; i < n; i++) {
        if (e820[i].type != linux_type_oracle(e820[i].type) || !e820[i].size)
            abort();
        got[e820[i].type] += e820[i].size;
        if (i && e820[i - 1].type == e820[i].type && (u128)e820[i - 1].base + e820[i - 1].size == e820[i].base)
            abort();
        if (i && (u128)e820[i - 1].base + e820[i - 1].size > e820[i].base)
            abort();   /* still ascending and apart */
    }
    if (memcmp(want, got, sizeof(want)))
        abort();
}

/* ---- the command line ----------------------------------------------------- */

static void fuzz_cmdline(void)
{
    uint8_t how = next8();
    uint32_t main_cpus = how & 1 ? (uint32_t)next_n(4) : 0;
    uint64_t handoff_pa = how & 2 ? next_n(8) : 0;
    uint32_t limit = how & 4 ? (uint32_t)next_n(2) : 2047;
    size_t out_size = how & 8 ? next_n(2) % 4097 : 4096;
    char *base = malloc(SIDECAR_CMDLINE_SIZE);
    memset(base, 0, SIDECAR_CMDLINE_SIZE);
    size_t take = in_len - in_pos < SIDECAR_CMDLINE_SIZE ? in_len - in_pos : SIDECAR_CMDLINE_SIZE;
    memcpy(base, in + in_pos, take);
    char *out = malloc(out_size ? out_size : 1);
    char err[SHIM_ERR_SIZE];
    int rc = shim_linux_cmdline(base, main_cpus, handoff_pa, limit, out, out_size, err);
    /* The line it must make. */
    static char want[SIDECAR_CMDLINE_SIZE + 128];
    size_t n = strnlen(base, SIDECAR_CMDLINE_SIZE);
    memcpy(want, base, n);
    want[n] = 0;
    size_t len = n;
    if (main_cpus)
        len += (size_t)sprintf(want + len, "%smaxcpus=%u", len ? " " : "", main_cpus);
    if (handoff_pa)
        len += (size_t)sprintf(want + len, "%ssidecar.handoff=0x%llx", len ? " " : "", (unsigned long long)handoff_pa);
    int fits = out_size && len + 1 <= out_size && len <= limit;
    if (rc == SHIM_OK) {
        if (!fits || strlen(out) != len || memcmp(out, want, len + 1))
            abort();
    } else {
        static const char *const prefixes[] = { "cmdline: ", NULL };
        check_err(err, prefixes);
        if (fits)
            abort();
    }
    free(out);
    free(base);
}

/* ---- CPU order -------------------------------------------------------------- */

static struct sidecar_params params;
static uint32_t order[SIDECAR_MAX_CPUS];

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t sorted_a[SIDECAR_MAX_CPUS], sorted_b[SIDECAR_MAX_CPUS];

static void fuzz_order(void)
{
    uint8_t how = next8();
    memset(&params, 0, sizeof(params));
    params.cpu_count = how & 1 ? (uint32_t)next_n(4) : next8() % 80;
    params.bsp_cpu = how & 2 ? (uint32_t)next_n(4) : next8() % 80;
    uint32_t cpus = params.cpu_count < SIDECAR_MAX_CPUS ? params.cpu_count : SIDECAR_MAX_CPUS;
    for (uint32_t i = 0; i < cpus && i < 300; i++) {
        params.cpus[i].apic_id = (uint32_t)next_n(2);
        params.cpus[i].role = next8() % 3;
    }
    uint32_t main_count = 0xffffffff;
    uint32_t n = shim_linux_cpu_order(&params, order, &main_count);
    int bsp_in = params.bsp_cpu < cpus;
    if (n != cpus || main_count > n || (bsp_in && (!n || order[0] != params.cpus[params.bsp_cpu].apic_id)))
        abort();
    uint32_t mains = bsp_in;
    for (uint32_t i = 0; i < cpus; i++)
        mains += i != params.bsp_cpu && params.cpus[i].role == SIDECAR_CPU_ROLE_MAIN;
    if (main_count != mains)
        abort();
    for (uint32_t i = 0; i < cpus; i++)
        sorted_a[i] = params.cpus[i].apic_id;
    qsort(sorted_a, cpus, sizeof(uint32_t), cmp_u32);
    memcpy(sorted_b, order, cpus * sizeof(uint32_t));
    qsort(sorted_b, cpus, sizeof(uint32_t), cmp_u32);
    if (memcmp(sorted_a, sorted_b, cpus * sizeof(uint32_t)))
        abort();
    n = shim_linux_cpu_order_vp(&params, order);
    if (n != cpus || (bsp_in && order[0] != params.cpus[params.bsp_cpu].apic_id))
        abort();
    memcpy(sorted_b, order, cpus * sizeof(uint32_t));
    qsort(sorted_b, cpus, sizeof(uint32_t), cmp_u32);
    if (memcmp(sorted_a, sorted_b, cpus * sizeof(uint32_t)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    in = data + 1;
    in_len = size - 1;
    in_pos = 0;
    switch (data[0] % 5) {
    case 0: fuzz_multiboot(); break;
    case 1: fuzz_place(); break;
    case 2: fuzz_e820(); break;
    case 3: fuzz_cmdline(); break;
    case 4: fuzz_order(); break;
    }
    return 0;
}
