/* SPDX-License-Identifier: MIT */
/* Loading a Linux guest (vmm/linux.h). The header check and boot_params
 * are linuxboot's, shared with the boot shim; this file decides where
 * things go in guest RAM and builds the 64-bit entry state. */
#include <vmm/linux.h>

#include <stdarg.h>

#include <scfree/le.h>
#include <scfree/scfree.h>

#define PAGE UINT64_C(0x1000)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

static int fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(err, VMM_ERR_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return as && bs && a < b + bs && b < a + as;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* The first reserved range overlapping [b, b + size), or -1. */
static int reserved_hit(const struct vmm_range *r, uint32_t n, uint64_t b, uint64_t size)
{
    for (uint32_t i = 0; i < n; i++)
        if (overlaps(b, size, r[i].base, r[i].size))
            return (int)i;
    return -1;
}

static int check_reserved(const struct vmm_linux_config *c, uint64_t ram_size, char *err)
{
    if (c->reserved_count > VMM_LINUX_MAX_RESERVED)
        return fail(err, VMM_E_INVALID, "reserved_count: %u, at most %u", c->reserved_count, VMM_LINUX_MAX_RESERVED);
    if (c->reserved_count && !c->reserved)
        return fail(err, VMM_E_INVALID, "reserved: NULL with reserved_count %u", c->reserved_count);
    for (uint32_t i = 0; i < c->reserved_count; i++) {
        const struct vmm_range *r = &c->reserved[i];
        if (!r->size || (r->base | r->size) % PAGE)
            return fail(err, VMM_E_INVALID, "reserved[%u]: [0x%lx, +0x%lx) is empty or not page aligned", i,
                        r->base, r->size);
        if (r->base >= ram_size || r->size > ram_size - r->base)
            return fail(err, VMM_E_INVALID, "reserved[%u]: [0x%lx, +0x%lx) is not inside guest RAM (0x%lx bytes)", i,
                        r->base, r->size, ram_size);
        for (uint32_t j = 0; j < i; j++)
            if (overlaps(r->base, r->size, c->reserved[j].base, c->reserved[j].size))
                return fail(err, VMM_E_INVALID, "reserved[%u]: overlaps reserved[%u]", i, j);
    }
    return VMM_OK;
}

/* RAM [0, ram_size) with the reserved ranges cut out as type 2, in address
 * order (the ranges are disjoint and inside RAM). */
static uint32_t build_e820(const struct vmm_linux_config *c, uint64_t ram_size, struct linuxboot_e820 *e)
{
    uint32_t n = 0;
    uint64_t cur = 0;
    for (;;) {
        /* the lowest reserved range at or above cur */
        int next = -1;
        for (uint32_t i = 0; i < c->reserved_count; i++)
            if (c->reserved[i].base >= cur && (next < 0 || c->reserved[i].base < c->reserved[next].base))
                next = (int)i;
        uint64_t end = next < 0 ? ram_size : c->reserved[next].base;
        if (end > cur)
            e[n++] = (struct linuxboot_e820){ cur, end - cur, LINUXBOOT_E820_RAM };
        if (next < 0)
            break;
        e[n++] = (struct linuxboot_e820){ c->reserved[next].base, c->reserved[next].size, LINUXBOOT_E820_RESERVED };
        cur = c->reserved[next].base + c->reserved[next].size;
    }
    return n;
}

/* The lowest align-aligned block of size bytes from lo that is inside RAM
 * and clear of the reserved ranges. */
static bool place_low(const struct vmm_linux_config *c, uint64_t ram_size, uint64_t size, uint64_t align,
                      uint64_t lo, uint64_t *out)
{
    uint64_t at = align_up(lo, align);
    while (at < ram_size && size <= ram_size - at) {
        int hit = reserved_hit(c->reserved, c->reserved_count, at, size);
        if (hit < 0) {
            *out = at;
            return true;
        }
        at = align_up(c->reserved[hit].base + c->reserved[hit].size, align);
    }
    return false;
}

/* The highest page-aligned block of size bytes inside [lo, hi) clear of
 * the reserved ranges. */
static bool place_high(const struct vmm_linux_config *c, uint64_t size, uint64_t lo, uint64_t hi, uint64_t *out)
{
    while (hi > lo && size <= hi - lo) {
        uint64_t at = (hi - size) & ~(PAGE - 1);
        if (at < lo)
            return false;
        int hit = reserved_hit(c->reserved, c->reserved_count, at, size);
        if (hit < 0) {
            *out = at;
            return true;
        }
        hi = c->reserved[hit].base;
    }
    return false;
}

static void build_tables(uint8_t *ram)
{
    sc_memset(ram + VMM_LINUX_GDT_GPA, 0, VMM_LINUX_LOW_END - VMM_LINUX_GDT_GPA);
    uint8_t *gdt = ram + VMM_LINUX_GDT_GPA;
    sc_wr64(gdt + VMM_LINUX_BOOT_CS, 0x00af9b000000ffffull);   /* 64-bit code, flat */
    sc_wr64(gdt + VMM_LINUX_BOOT_DS, 0x00cf93000000ffffull);   /* data, flat */
    sc_wr64(ram + VMM_LINUX_PML4_GPA, VMM_LINUX_PDPT_GPA | 0x3);
    for (uint64_t g = 0; g < 4; g++) {
        uint64_t pd = VMM_LINUX_PD_GPA + g * PAGE;
        sc_wr64(ram + VMM_LINUX_PDPT_GPA + 8 * g, pd | 0x3);
        for (uint64_t i = 0; i < 512; i++)
            sc_wr64(ram + pd + 8 * i, (g * GIB + i * 2 * MIB) | 0x83);   /* present, writable, 2 MiB */
    }
}

static void entry_state(struct vmm_x64_entry_state *r, uint64_t kernel_gpa)
{
    const struct vmm_segment code = { 0, 0xffffffff, VMM_LINUX_BOOT_CS, 0xa09b };   /* P S type 0xb, L, G */
    const struct vmm_segment data = { 0, 0xffffffff, VMM_LINUX_BOOT_DS, 0xc093 };   /* P S type 0x3, D/B, G */
    *r = (struct vmm_x64_entry_state){
        .rip = kernel_gpa + LINUXBOOT_ENTRY_64,
        .rsi = VMM_LINUX_BOOT_PARAMS_GPA,
        .rsp = VMM_LINUX_STACK_TOP,
        .rflags = 0x2,                            /* IF clear */
        .cr0 = 0x80000031,                        /* PG NE ET PE */
        .cr3 = VMM_LINUX_PML4_GPA,
        .cr4 = 0x20,                              /* PAE */
        .efer = 0x500,                            /* LMA LME */
        .cs = code, .ds = data, .es = data, .ss = data, .fs = data, .gs = data,
        .tr = { 0, 0xffff, 0, 0x008b },           /* busy TSS, as after reset */
        .ldtr = { 0, 0xffff, 0, 0x0082 },
        .gdtr = { VMM_LINUX_GDT_GPA, 4 * 8 - 1 },
        .idtr = { 0, 0 },
    };
}

int vmm_linux_load(uint8_t *ram, uint64_t ram_size, const struct vmm_linux_config *c,
                   struct vmm_linux_boot *out, char err[VMM_ERR_SIZE])
{
    if (!ram || !c || !out)
        return fail(err, VMM_E_INVALID, "vmm_linux_load: NULL argument");
    sc_memset(out, 0, sizeof(*out));
    if (ram_size % PAGE || ram_size < 2 * MIB || ram_size > 4 * GIB)
        return fail(err, VMM_E_INVALID, "ram_size: 0x%lx, need a multiple of 4 KiB from 2 MiB to 4 GiB", ram_size);
    if (!c->kernel)
        return fail(err, VMM_E_INVALID, "kernel: NULL");
    if (c->initrd_size && !c->initrd)
        return fail(err, VMM_E_INVALID, "initrd: NULL with initrd_size %lu", c->initrd_size);
    int rc = check_reserved(c, ram_size, err);
    if (rc != VMM_OK)
        return rc;
    int hit = reserved_hit(c->reserved, c->reserved_count, VMM_LINUX_BOOT_PARAMS_GPA - PAGE,
                           VMM_LINUX_LOW_END - (VMM_LINUX_BOOT_PARAMS_GPA - PAGE));
    if (hit < 0)
        hit = reserved_hit(c->reserved, c->reserved_count, VMM_LINUX_CMDLINE_GPA, VMM_LINUX_CMDLINE_MAX);
    if (hit >= 0)
        return fail(err, VMM_E_INVALID, "reserved[%d]: covers the boot structures at [0x%lx, 0x%lx) or [0x%lx, 0x%lx)",
                    hit, VMM_LINUX_BOOT_PARAMS_GPA - PAGE, VMM_LINUX_LOW_END, VMM_LINUX_CMDLINE_GPA,
                    VMM_LINUX_CMDLINE_GPA + VMM_LINUX_CMDLINE_MAX);

    struct linuxboot_image *img = &out->image;
    char lerr[LINUXBOOT_ERR_SIZE];
    if (linuxboot_check(c->kernel, c->kernel_size, img, lerr) != LINUXBOOT_OK)
        return fail(err, VMM_E_INVALID, "%s", lerr);

    const char *cmdline = c->cmdline ? c->cmdline : "";
    uint64_t limit = img->cmdline_size < VMM_LINUX_CMDLINE_MAX - 1 ? img->cmdline_size : VMM_LINUX_CMDLINE_MAX - 1;
    size_t len = sc_strnlen(cmdline, limit + 1);
    if (len > limit)
        return fail(err, VMM_E_INVALID, "cmdline: longer than %lu bytes (setup_header.cmdline_size %u)", limit,
                    img->cmdline_size);

    /* The kernel: from max(pref_address, 16 MiB), kernel_alignment. */
    uint64_t extent = align_up(img->kernel_size > img->init_size ? img->kernel_size : img->init_size, PAGE);
    uint64_t lo = img->pref_address > LINUXBOOT_MIN_LOAD ? img->pref_address : LINUXBOOT_MIN_LOAD;
    if (!place_low(c, ram_size, extent, img->kernel_alignment, lo, &out->kernel_gpa))
        return fail(err, VMM_E_NO_ROOM, "kernel: 0x%lx bytes (setup_header.init_size) from 0x%lx do not fit %lu MiB of guest RAM",
                    extent, lo, ram_size / MIB);
    out->kernel_extent = extent;

    /* The initramfs: as high as allowed, above the kernel. */
    if (c->initrd_size) {
        uint64_t hi = (uint64_t)img->initrd_addr_max + 1;
        if (hi > ram_size)
            hi = ram_size;
        if (c->initrd_size > 0xffffffffull)
            return fail(err, VMM_E_INVALID, "initrd_size: %lu bytes, more than 4 GiB", c->initrd_size);
        if (!place_high(c, align_up(c->initrd_size, PAGE), out->kernel_gpa + extent, hi, &out->initrd_gpa))
            return fail(err, VMM_E_NO_ROOM, "initrd: %lu bytes do not fit between the kernel's end 0x%lx and 0x%lx",
                        c->initrd_size, out->kernel_gpa + extent, hi);
        out->initrd_size = c->initrd_size;
    }

    out->e820_count = build_e820(c, ram_size, out->e820);
    out->boot_params_gpa = VMM_LINUX_BOOT_PARAMS_GPA;
    out->cmdline_gpa = VMM_LINUX_CMDLINE_GPA;
    out->cmdline_len = (uint32_t)len;
    struct linuxboot_boot boot = {
        out->e820, out->e820_count, VMM_LINUX_CMDLINE_GPA, out->initrd_gpa, out->initrd_size, c->rsdp_gpa,
    };
    if (linuxboot_boot_params(ram + VMM_LINUX_BOOT_PARAMS_GPA, c->kernel, img, &boot, lerr) != LINUXBOOT_OK)
        return fail(err, VMM_E_INVALID, "%s", lerr);

    sc_memset(ram + VMM_LINUX_CMDLINE_GPA, 0, VMM_LINUX_CMDLINE_MAX);
    sc_memcpy(ram + VMM_LINUX_CMDLINE_GPA, cmdline, len);
    build_tables(ram);
    sc_memcpy(ram + out->kernel_gpa, c->kernel + img->setup_size, img->kernel_size);
    sc_memset(ram + out->kernel_gpa + img->kernel_size, 0, extent - img->kernel_size);
    if (c->initrd_size)
        sc_memcpy(ram + out->initrd_gpa, c->initrd, c->initrd_size);
    entry_state(&out->regs, out->kernel_gpa);
    return VMM_OK;
}
