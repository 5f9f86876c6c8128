/* SPDX-License-Identifier: MIT */
/* The Linux x86 boot protocol parts the shim and the VMM share
 * (linuxboot/linuxboot.h): the bzImage setup header check and boot_params.
 * Offsets are those of the boot protocol (setup header at 0x1f1 of both the
 * bzImage and boot_params; boot_params fields from zero-page.rst). */
#include <linuxboot/linuxboot.h>

#include <stdarg.h>

#include <scfree/le.h>
#include <scfree/scfree.h>

/* Setup header (file and boot_params offsets are the same). */
#define HDR_START LINUXBOOT_HEADER_START
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
#define HDR_MAX_END LINUXBOOT_HEADER_MAX_END

/* boot_params outside the header. */
#define BP_ACPI_RSDP_ADDR 0x070u
#define BP_EXT_RAMDISK_IMAGE 0x0c0u
#define BP_EXT_RAMDISK_SIZE 0x0c4u
#define BP_EXT_CMD_LINE_PTR 0x0c8u
#define BP_E820_ENTRIES 0x1e8u
#define BP_E820_TABLE 0x2d0u

#define XLF_KERNEL_64 LINUXBOOT_XLF_KERNEL_64
#define XLF_CAN_BE_LOADED_ABOVE_4G LINUXBOOT_XLF_CAN_BE_LOADED_ABOVE_4G

static int fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(err, LINUXBOOT_ERR_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

bool linuxboot_is_bzimage(const uint8_t *image, uint64_t size)
{
    return size >= HDR_MAGIC + 4 && sc_rd32(image + HDR_MAGIC) == 0x53726448u;   /* "HdrS" */
}

int linuxboot_check(const uint8_t *p, uint64_t size, struct linuxboot_image *o, char err[LINUXBOOT_ERR_SIZE])
{
    sc_memset(o, 0, sizeof(*o));
    if (size < 1024)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: %lu bytes, too small for a setup header", size);
    if (sc_rd16(p + HDR_BOOT_FLAG) != 0xaa55)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.boot_flag: 0x%x, expected 0xaa55",
                    sc_rd16(p + HDR_BOOT_FLAG));
    if (!linuxboot_is_bzimage(p, size))
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.header: not \"HdrS\"");
    o->version = sc_rd16(p + HDR_VERSION);
    if (o->version < LINUXBOOT_MIN_VERSION)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.version: %u.%u, need 2.12 or later (64-bit entry)",
                    o->version >> 8, o->version & 0xff);
    o->header_end = HDR_MAGIC + p[HDR_JUMP_LEN];
    if (o->header_end < HDR_PREF_ADDRESS + 8 + 4 || o->header_end > HDR_MAX_END)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.jump: header end 0x%x out of range", o->header_end);
    uint32_t sects = p[HDR_SETUP_SECTS] ? p[HDR_SETUP_SECTS] : 4;
    o->setup_size = (sects + 1) * 512;
    if (o->setup_size < o->header_end || o->setup_size >= size)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.setup_sects: %u setup sectors do not fit a %lu-byte file",
                    sects, size);
    o->kernel_size = size - o->setup_size;
    uint64_t syssize = (uint64_t)sc_rd32(p + HDR_SYSSIZE) * 16;
    if (syssize == 0 || syssize > o->kernel_size)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.syssize: %lu bytes, the file has %lu after the setup",
                    syssize, o->kernel_size);
    o->xloadflags = sc_rd16(p + HDR_XLOADFLAGS);
    if (!(o->xloadflags & XLF_KERNEL_64))
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.xloadflags: 0x%x has no 64-bit entry (XLF_KERNEL_64)",
                    o->xloadflags);
    if (!p[HDR_RELOCATABLE])
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.relocatable_kernel: 0, the shim loads relocatable kernels only");
    o->kernel_alignment = sc_rd32(p + HDR_KERNEL_ALIGNMENT);
    if (o->kernel_alignment < 4096 || (o->kernel_alignment & (o->kernel_alignment - 1)) ||
        o->kernel_alignment > 0x40000000u)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.kernel_alignment: 0x%x is not a power of two from 4 KiB to 1 GiB",
                    o->kernel_alignment);
    o->initrd_addr_max = sc_rd32(p + HDR_INITRD_ADDR_MAX);
    if (o->initrd_addr_max < 0xfffff)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.initrd_addr_max: 0x%x below 1 MiB", o->initrd_addr_max);
    o->cmdline_size = sc_rd32(p + HDR_CMDLINE_SIZE);
    if (o->cmdline_size < 255)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.cmdline_size: %u, too small", o->cmdline_size);
    o->pref_address = sc_rd64(p + HDR_PREF_ADDRESS);
    o->init_size = sc_rd32(p + HDR_INIT_SIZE);
    if (o->init_size < syssize || o->init_size > 0x40000000u)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: setup_header.init_size: 0x%x, smaller than the kernel (0x%lx) or above 1 GiB",
                    o->init_size, syssize);
    if (o->kernel_size < LINUXBOOT_ENTRY_64 + 16)
        return fail(err, LINUXBOOT_E_INVALID, "bzImage: %lu bytes of kernel, no 64-bit entry at 0x200", o->kernel_size);
    return LINUXBOOT_OK;
}

int linuxboot_boot_params(uint8_t bp[LINUXBOOT_BOOT_PARAMS_SIZE], const uint8_t *image,
                           const struct linuxboot_image *img, const struct linuxboot_boot *b,
                           char err[LINUXBOOT_ERR_SIZE])
{
    sc_memset(bp, 0, LINUXBOOT_BOOT_PARAMS_SIZE);
    if (img->header_end > HDR_MAX_END || img->header_end <= HDR_START)
        return fail(err, LINUXBOOT_E_INVALID, "boot_params: setup header end 0x%x out of range", img->header_end);
    if (b->e820_count == 0 || b->e820_count > LINUXBOOT_E820_MAX)
        return fail(err, LINUXBOOT_E_INVALID, "boot_params: %u e820 entries (1 to %u)", b->e820_count, LINUXBOOT_E820_MAX);
    bool above4g = img->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G;
    if (b->cmdline_pa == 0 || (!above4g && b->cmdline_pa >= (1ull << 32)))
        return fail(err, LINUXBOOT_E_INVALID, "boot_params: command line at 0x%lx", b->cmdline_pa);
    if (b->initrd_size) {
        uint64_t end = b->initrd_pa + b->initrd_size;
        if (end < b->initrd_pa || (!above4g && end - 1 > img->initrd_addr_max))
            return fail(err, LINUXBOOT_E_INVALID, "boot_params: initramfs [0x%lx, 0x%lx) above initrd_addr_max 0x%x",
                        b->initrd_pa, end, img->initrd_addr_max);
    }
    sc_memcpy(bp + HDR_START, image + HDR_START, img->header_end - HDR_START);
    bp[HDR_TYPE_OF_LOADER] = 0xff;   /* no assigned boot loader ID */
    sc_wr64(bp + HDR_SETUP_DATA, 0);
    sc_wr32(bp + HDR_CMD_LINE_PTR, (uint32_t)b->cmdline_pa);
    sc_wr32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(b->cmdline_pa >> 32));
    sc_wr32(bp + HDR_RAMDISK_IMAGE, (uint32_t)b->initrd_pa);
    sc_wr32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(b->initrd_pa >> 32));
    sc_wr32(bp + HDR_RAMDISK_SIZE, (uint32_t)b->initrd_size);
    sc_wr32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(b->initrd_size >> 32));
    sc_wr64(bp + BP_ACPI_RSDP_ADDR, b->rsdp_pa);
    bp[BP_E820_ENTRIES] = (uint8_t)b->e820_count;
    for (uint32_t i = 0; i < b->e820_count; i++) {
        uint8_t *e = bp + BP_E820_TABLE + 20 * i;
        sc_wr64(e, b->e820[i].base);
        sc_wr64(e + 8, b->e820[i].size);
        sc_wr32(e + 16, b->e820[i].type);
    }
    return LINUXBOOT_OK;
}
