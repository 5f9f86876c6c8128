/* Booting Linux as the main kernel: the bzImage setup header, placing the
 * images, the e820 table, the command line and boot_params. Offsets are
 * those of the Linux x86 boot protocol (setup header at 0x1f1 of both the
 * bzImage and boot_params; boot_params fields from zero-page.rst). */
#include <shim/linux.h>
#include <sidecar/validate.h>

#include "util.h"

/* Setup header (file and boot_params offsets are the same). */
#define HDR_START 0x1f1u
#define HDR_SETUP_SECTS 0x1f1u
#define HDR_SYSSIZE 0x1f4u
#define HDR_BOOT_FLAG 0x1feu
#define HDR_JUMP_LEN 0x201u
#define HDR_MAGIC 0x202u
#define HDR_VERSION 0x206u
#define HDR_TYPE_OF_LOADER 0x210u
#define HDR_RAMDISK_IMAGE 0x218u
#define HDR_RAMDISK_SIZE 0x21cu
#define HDR_CMD_LINE_PTR 0x228u
#define HDR_INITRD_ADDR_MAX 0x22cu
#define HDR_KERNEL_ALIGNMENT 0x230u
#define HDR_RELOCATABLE 0x234u
#define HDR_XLOADFLAGS 0x236u
#define HDR_CMDLINE_SIZE 0x238u
#define HDR_SETUP_DATA 0x250u
#define HDR_PREF_ADDRESS 0x258u
#define HDR_INIT_SIZE 0x260u
#define HDR_MAX_END 0x290u        /* boot_params.edd_mbr_sig_buffer follows the header */

/* boot_params outside the header. */
#define BP_ACPI_RSDP_ADDR 0x070u
#define BP_EXT_RAMDISK_IMAGE 0x0c0u
#define BP_EXT_RAMDISK_SIZE 0x0c4u
#define BP_EXT_CMD_LINE_PTR 0x0c8u
#define BP_E820_ENTRIES 0x1e8u
#define BP_E820_TABLE 0x2d0u

#define XLF_KERNEL_64 (1u << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)


bool shim_linux_is_bzimage(const uint8_t *image, uint64_t size)
{
    return size >= HDR_MAGIC + 4 && rd32(image + HDR_MAGIC) == 0x53726448u;   /* "HdrS" */
}

int shim_linux_check(const uint8_t *p, uint64_t size, struct shim_linux_image *o, char err[SHIM_ERR_SIZE])
{
    shim_zero(o, sizeof(*o));
    if (size < 1024)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: %lu bytes, too small for a setup header", size);
    if (rd16(p + HDR_BOOT_FLAG) != 0xaa55)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.boot_flag: 0x%x, expected 0xaa55",
                    rd16(p + HDR_BOOT_FLAG));
    if (!shim_linux_is_bzimage(p, size))
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.header: not \"HdrS\"");
    o->version = rd16(p + HDR_VERSION);
    if (o->version < SHIM_LINUX_MIN_VERSION)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.version: %u.%u, need 2.12 or later (64-bit entry)",
                    o->version >> 8, o->version & 0xff);
    o->header_end = HDR_MAGIC + p[HDR_JUMP_LEN];
    if (o->header_end < HDR_PREF_ADDRESS + 8 + 4 || o->header_end > HDR_MAX_END)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.jump: header end 0x%x out of range", o->header_end);
    uint32_t sects = p[HDR_SETUP_SECTS] ? p[HDR_SETUP_SECTS] : 4;
    o->setup_size = (sects + 1) * 512;
    if (o->setup_size < o->header_end || o->setup_size >= size)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.setup_sects: %u setup sectors do not fit a %lu-byte file",
                    sects, size);
    o->kernel_size = size - o->setup_size;
    uint64_t syssize = (uint64_t)rd32(p + HDR_SYSSIZE) * 16;
    if (syssize == 0 || syssize > o->kernel_size)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.syssize: %lu bytes, the file has %lu after the setup",
                    syssize, o->kernel_size);
    o->xloadflags = rd16(p + HDR_XLOADFLAGS);
    if (!(o->xloadflags & XLF_KERNEL_64))
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.xloadflags: 0x%x has no 64-bit entry (XLF_KERNEL_64)",
                    o->xloadflags);
    if (!p[HDR_RELOCATABLE])
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.relocatable_kernel: 0, the shim loads relocatable kernels only");
    o->kernel_alignment = rd32(p + HDR_KERNEL_ALIGNMENT);
    if (o->kernel_alignment < 4096 || (o->kernel_alignment & (o->kernel_alignment - 1)) ||
        o->kernel_alignment > 0x40000000u)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.kernel_alignment: 0x%x is not a power of two from 4 KiB to 1 GiB",
                    o->kernel_alignment);
    o->initrd_addr_max = rd32(p + HDR_INITRD_ADDR_MAX);
    if (o->initrd_addr_max < 0xfffff)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.initrd_addr_max: 0x%x below 1 MiB", o->initrd_addr_max);
    o->cmdline_size = rd32(p + HDR_CMDLINE_SIZE);
    if (o->cmdline_size < 255)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.cmdline_size: %u, too small", o->cmdline_size);
    o->pref_address = rd64(p + HDR_PREF_ADDRESS);
    o->init_size = rd32(p + HDR_INIT_SIZE);
    if (o->init_size < syssize || o->init_size > 0x40000000u)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: setup_header.init_size: 0x%x, smaller than the kernel (0x%lx) or above 1 GiB",
                    o->init_size, syssize);
    if (o->kernel_size < SHIM_LINUX_ENTRY_64 + 16)
        return shim_fail(err, SHIM_E_INVALID, "bzImage: %lu bytes of kernel, no 64-bit entry at 0x200", o->kernel_size);
    return SHIM_OK;
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return as && bs && a < b + bs && b < a + as;
}

/* Every byte of [b, e) is in a usable entry and in no other entry. */
static bool usable(const struct shim_memmap *map, uint64_t b, uint64_t e)
{
    uint32_t n = map->count < SHIM_MAX_RANGES ? map->count : SHIM_MAX_RANGES;
    for (uint32_t i = 0; i < n; i++) {
        const struct shim_range *r = &map->ranges[i];
        if (r->type != SHIM_E820_RAM && r->base + r->size >= r->base && overlaps(b, e - b, r->base, r->size))
            return false;
    }
    uint64_t cur = b;
    while (cur < e) {
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++) {
            const struct shim_range *r = &map->ranges[i];
            if (r->type == SHIM_E820_RAM && r->base + r->size > r->base && r->base <= cur &&
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
    return usable(map, b, b + size);
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
        return SHIM_E820_RESERVED;   /* sidecar memory (0x5344) and anything unknown */
    }
}

int shim_linux_e820(const struct sidecar_handoff *h, struct shim_range out[SHIM_LINUX_E820_MAX],
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
        if (n >= SHIM_LINUX_E820_MAX)
            return shim_fail(err, SHIM_E_LIMIT, "e820: more than %u ranges", SHIM_LINUX_E820_MAX);
        out[n++] = (struct shim_range){ r->base, r->size, t };
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

int shim_linux_boot_params(uint8_t bp[SHIM_LINUX_BOOT_PARAMS_SIZE], const uint8_t *image,
                           const struct shim_linux_image *img, const struct shim_linux_boot *b,
                           char err[SHIM_ERR_SIZE])
{
    shim_zero(bp, SHIM_LINUX_BOOT_PARAMS_SIZE);
    if (img->header_end > HDR_MAX_END || img->header_end <= HDR_START)
        return shim_fail(err, SHIM_E_INVALID, "boot_params: setup header end 0x%x out of range", img->header_end);
    if (b->e820_count == 0 || b->e820_count > SHIM_LINUX_E820_MAX)
        return shim_fail(err, SHIM_E_INVALID, "boot_params: %u e820 entries (1 to %u)", b->e820_count, SHIM_LINUX_E820_MAX);
    bool above4g = img->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G;
    if (b->cmdline_pa == 0 || (!above4g && b->cmdline_pa >= (1ull << 32)))
        return shim_fail(err, SHIM_E_INVALID, "boot_params: command line at 0x%lx", b->cmdline_pa);
    if (b->initrd_size) {
        uint64_t end = b->initrd_pa + b->initrd_size;
        if (end < b->initrd_pa || (!above4g && end - 1 > img->initrd_addr_max))
            return shim_fail(err, SHIM_E_INVALID, "boot_params: initramfs [0x%lx, 0x%lx) above initrd_addr_max 0x%x",
                        b->initrd_pa, end, img->initrd_addr_max);
    }
    shim_copy(bp + HDR_START, image + HDR_START, img->header_end - HDR_START);
    bp[HDR_TYPE_OF_LOADER] = 0xff;   /* no assigned boot loader ID */
    wr64(bp + HDR_SETUP_DATA, 0);
    wr32(bp + HDR_CMD_LINE_PTR, (uint32_t)b->cmdline_pa);
    wr32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(b->cmdline_pa >> 32));
    wr32(bp + HDR_RAMDISK_IMAGE, (uint32_t)b->initrd_pa);
    wr32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(b->initrd_pa >> 32));
    wr32(bp + HDR_RAMDISK_SIZE, (uint32_t)b->initrd_size);
    wr32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(b->initrd_size >> 32));
    wr64(bp + BP_ACPI_RSDP_ADDR, b->rsdp_pa);
    bp[BP_E820_ENTRIES] = (uint8_t)b->e820_count;
    for (uint32_t i = 0; i < b->e820_count; i++) {
        uint8_t *e = bp + BP_E820_TABLE + 20 * i;
        wr64(e, b->e820[i].base);
        wr64(e + 8, b->e820[i].size);
        wr32(e + 16, b->e820[i].type);
    }
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
