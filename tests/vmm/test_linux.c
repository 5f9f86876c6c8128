/* SPDX-License-Identifier: MIT */
/* The Linux guest loader (vmm/linux.h): placement, boot_params, the e820
 * table, the identity map, the GDT and the 64-bit entry state, and every
 * refusal naming its input. Synthetic bzImages (tests/linuxboot), and
 * Debian's kernel when a configured build fetched it (else skipped). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmm/linux.h>

#include "../linuxboot/bzimage_fixture.h"
#include "slurp.h"

#define MIB (1ull << 20)

static char err[VMM_ERR_SIZE];
static uint8_t *ram;
static uint64_t ram_size;
static struct vmm_linux_boot out;
static uint8_t initrd[100 * 1024 + 123];

static void use_ram(uint64_t size)
{
    free(ram);
    ram_size = size;
    ram = calloc(1, size);
    cr_assert_not_null(ram);
}

static void setup(void)
{
    bz_good();
    use_ram(64 * MIB);
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 7 + 1);
}

static void teardown(void)
{
    free(ram);
    ram = NULL;
}

static struct vmm_linux_config cfg(void)
{
    return (struct vmm_linux_config){ .kernel = bz, .kernel_size = BZ_SIZE, .initrd = initrd,
                                      .initrd_size = sizeof(initrd), .cmdline = "console=ttyS0 earlyprintk=serial" };
}

static int load(const struct vmm_linux_config *c) { return vmm_linux_load(ram, ram_size, c, &out, err); }

static uint32_t r32(uint64_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }
static uint64_t r64(uint64_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }

/* Walks the guest's page tables from CR3 as the CPU would (4 levels, 2 MiB
 * leaves expected); returns the GPA or ~0 when not mapped. */
static uint64_t translate(uint64_t cr3, uint64_t va)
{
    uint64_t e = r64((cr3 & ~0xfffull) + 8 * ((va >> 39) & 511));
    if (!(e & 1))
        return ~0ull;
    e = r64((e & 0xffffffffff000ull) + 8 * ((va >> 30) & 511));
    if (!(e & 1) || (e & 0x80))
        return ~0ull;
    e = r64((e & 0xffffffffff000ull) + 8 * ((va >> 21) & 511));
    if (!(e & 1) || !(e & 0x80) || !(e & 2))
        return ~0ull;
    return (e & 0xfffffffe00000ull) + (va & 0x1fffff);
}

/* The Hyper-V attribute word of a GDT descriptor (access byte, then the
 * flags nibble at bits 12-15). */
static uint16_t attributes(uint64_t desc) { return (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 52) & 0xf) << 12); }

static void refused(int rc, int want, const char *field)
{
    cr_assert_eq(rc, want, "rc %d, expected %d (%s): %s", rc, want, field, err);
    cr_assert(strstr(err, field), "error \"%s\" does not name %s", err, field);
}

TestSuite(vmm_linux, .init = setup, .fini = teardown);

Test(vmm_linux, places_everything)
{
    struct vmm_linux_config c = cfg();
    cr_assert_eq(load(&c), VMM_OK, "%s", err);
    cr_assert_eq(out.kernel_gpa, 0x1000000, "pref_address 16 MiB, 2 MiB aligned");
    cr_assert_eq(out.kernel_extent, 0x400000, "init_size");
    cr_assert_eq(memcmp(ram + out.kernel_gpa, bz + 0x800, BZ_SIZE - 0x800), 0, "the protected-mode part");
    cr_assert_eq(ram[out.kernel_gpa + LINUXBOOT_ENTRY_64], 0xcc);
    cr_assert_eq(out.initrd_gpa, (64 * MIB - sizeof(initrd)) & ~0xfffull, "as high as possible");
    cr_assert_eq(out.initrd_size, sizeof(initrd));
    cr_assert_eq(memcmp(ram + out.initrd_gpa, initrd, sizeof(initrd)), 0);
    cr_assert_geq(out.initrd_gpa, out.kernel_gpa + out.kernel_extent);

    /* boot_params */
    uint64_t bp = out.boot_params_gpa;
    cr_assert_eq(bp, VMM_LINUX_BOOT_PARAMS_GPA);
    cr_assert_eq(memcmp(ram + bp + 0x202, "HdrS", 4), 0, "setup header copied");
    cr_assert_eq(ram[bp + 0x210], 0xff, "type_of_loader");
    cr_assert_eq(r32(bp + 0x228), VMM_LINUX_CMDLINE_GPA, "cmd_line_ptr");
    cr_assert_eq(r32(bp + 0x218), out.initrd_gpa, "ramdisk_image");
    cr_assert_eq(r32(bp + 0x21c), sizeof(initrd), "ramdisk_size");
    cr_assert_eq(ram[bp + 0x1e8], 1, "e820_entries");
    cr_assert_eq(r64(bp + 0x2d0), 0);
    cr_assert_eq(r64(bp + 0x2d0 + 8), 64 * MIB);
    cr_assert_eq(r32(bp + 0x2d0 + 16), LINUXBOOT_E820_RAM);
    cr_assert_str_eq((const char *)ram + VMM_LINUX_CMDLINE_GPA, "console=ttyS0 earlyprintk=serial");
    cr_assert_eq(out.cmdline_len, strlen("console=ttyS0 earlyprintk=serial"));

    /* the entry state and what it points at */
    const struct vmm_x64_entry_state *r = &out.regs;
    cr_assert_eq(r->rip, out.kernel_gpa + 0x200);
    cr_assert_eq(r->rsi, bp);
    cr_assert_eq(r->rflags & 0x200, 0, "interrupts off");
    cr_assert_eq(r->cr0 & 0x80000001u, 0x80000001u, "PE and PG");
    cr_assert(r->cr4 & 0x20, "PAE");
    cr_assert_eq(r->efer & 0x500, 0x500, "LME and LMA");
    for (uint64_t va = 0; va < (4ull << 30); va += 0x1ff000)
        cr_assert_eq(translate(r->cr3, va), va, "identity map at 0x%lx", va);
    cr_assert_eq(translate(r->cr3, r->rip), r->rip);
    cr_assert_eq(translate(r->cr3, 4ull << 30), ~0ull, "nothing above 4 GiB");
    cr_assert_eq(r->cs.selector, 0x10, "__BOOT_CS");
    cr_assert_eq(r->ds.selector, 0x18, "__BOOT_DS");
    cr_assert_eq(r->ss.selector, 0x18);
    cr_assert_eq(r->es.selector, 0x18);
    cr_assert_eq(r->gdtr.base, VMM_LINUX_GDT_GPA);
    cr_assert_geq(r->gdtr.limit, 0x1f);
    uint64_t cs_desc = r64(r->gdtr.base + r->cs.selector), ds_desc = r64(r->gdtr.base + r->ds.selector);
    cr_assert_eq(attributes(cs_desc), r->cs.attributes, "the GDT and CS agree");
    cr_assert_eq(attributes(ds_desc), r->ds.attributes, "the GDT and DS agree");
    cr_assert(r->cs.attributes & 0x2000, "CS is 64-bit (L)");
    cr_assert_eq(r->cs.attributes & 0x4000, 0, "L with D/B clear");
    cr_assert_eq(r->cs.attributes & 0x8, 0x8, "code");
    cr_assert_eq(r->ds.attributes & 0xa, 0x2, "writable data");
    cr_assert_eq(r->ds.limit, 0xffffffffu, "flat");
    cr_assert_lt(r->rsp, bp + 1);
    cr_assert_gt(r->rsp, 0x1000);
}

Test(vmm_linux, reserved_ranges_shape_e820_and_placement)
{
    /* the legacy hole, pref_address itself, and the firmware area at the top */
    struct vmm_range res[] = { { 62 * MIB, 2 * MIB }, { 0x9f000, 0x61000 }, { 16 * MIB, 2 * MIB } };
    struct vmm_linux_config c = cfg();
    c.reserved = res;
    c.reserved_count = 3;
    cr_assert_eq(load(&c), VMM_OK, "%s", err);
    cr_assert_eq(out.kernel_gpa, 18 * MIB, "next 2 MiB boundary after the reserved pref_address");
    cr_assert_lt(out.initrd_gpa + out.initrd_size, 62 * MIB + 1, "below the firmware area");
    cr_assert_geq(out.initrd_gpa, 60 * MIB);
    struct linuxboot_e820 want[] = {
        { 0, 0x9f000, 1 }, { 0x9f000, 0x61000, 2 }, { 0x100000, 15 * MIB, 1 }, { 16 * MIB, 2 * MIB, 2 },
        { 18 * MIB, 44 * MIB, 1 }, { 62 * MIB, 2 * MIB, 2 },
    };
    cr_assert_eq(out.e820_count, 6);
    cr_assert_eq(ram[out.boot_params_gpa + 0x1e8], 6);
    for (uint32_t i = 0; i < 6; i++) {
        uint64_t e = out.boot_params_gpa + 0x2d0 + 20 * i;
        cr_assert_eq(r64(e), want[i].base, "e820[%u].base", i);
        cr_assert_eq(r64(e + 8), want[i].size, "e820[%u].size", i);
        cr_assert_eq(r32(e + 16), want[i].type, "e820[%u].type", i);
    }
}

Test(vmm_linux, initrd_addr_max_caps_the_initramfs)
{
    use_ram(256 * MIB);
    bz32(0x22c, 80 * MIB - 1);   /* initrd_addr_max: 80 MiB - 1 */
    struct vmm_linux_config c = cfg();
    cr_assert_eq(load(&c), VMM_OK, "%s", err);
    cr_assert_leq(out.initrd_gpa + out.initrd_size - 1, 80 * MIB - 1);
    cr_assert_gt(out.initrd_gpa, 79 * MIB);
}

Test(vmm_linux, no_initrd_no_cmdline)
{
    struct vmm_linux_config c = cfg();
    c.initrd = NULL;
    c.initrd_size = 0;
    c.cmdline = NULL;
    cr_assert_eq(load(&c), VMM_OK, "%s", err);
    cr_assert_eq(r32(out.boot_params_gpa + 0x218), 0, "ramdisk_image");
    cr_assert_eq(r32(out.boot_params_gpa + 0x21c), 0, "ramdisk_size");
    cr_assert_eq(ram[VMM_LINUX_CMDLINE_GPA], 0, "empty command line");
}

Test(vmm_linux, bad_headers_named)
{
    struct vmm_linux_config c = cfg();
    bz16(0x1fe, 0x1234);
    refused(load(&c), VMM_E_INVALID, "setup_header.boot_flag");
    bz_good();
    memcpy(bz + 0x202, "HdrX", 4);
    refused(load(&c), VMM_E_INVALID, "setup_header.header");
    bz_good();
    bz16(0x206, 0x020b);
    refused(load(&c), VMM_E_INVALID, "setup_header.version");
    bz_good();
    bz16(0x236, 0x7e);
    refused(load(&c), VMM_E_INVALID, "setup_header.xloadflags");
    bz_good();
    c.kernel_size = 600;
    refused(load(&c), VMM_E_INVALID, "too small");
}

Test(vmm_linux, cmdline_longer_than_the_kernel_takes)
{
    bz32(0x238, 255);
    char line[300];
    memset(line, 'a', sizeof(line) - 1);
    line[sizeof(line) - 1] = 0;
    struct vmm_linux_config c = cfg();
    c.cmdline = line;
    refused(load(&c), VMM_E_INVALID, "cmdline");
    line[255] = 0;
    cr_assert_eq(load(&c), VMM_OK, "255 bytes fit: %s", err);
    cr_assert_eq(strlen((const char *)ram + VMM_LINUX_CMDLINE_GPA), 255);
}

Test(vmm_linux, no_room)
{
    use_ram(18 * MIB);
    struct vmm_linux_config c = cfg();
    refused(load(&c), VMM_E_NO_ROOM, "kernel");
    use_ram(20 * MIB);
    refused(load(&c), VMM_E_NO_ROOM, "initrd");   /* 16 + 4 MiB: nothing left */
    c.initrd_size = 0;
    c.initrd = NULL;
    cr_assert_eq(load(&c), VMM_OK, "exactly fits: %s", err);
}

Test(vmm_linux, bad_arguments_named)
{
    struct vmm_linux_config c = cfg();
    cr_assert_eq(vmm_linux_load(ram, 64 * MIB + 1, &c, &out, err), VMM_E_INVALID);
    cr_assert(strstr(err, "ram_size"), "%s", err);
    cr_assert_eq(vmm_linux_load(ram, 1 * MIB, &c, &out, err), VMM_E_INVALID);
    cr_assert(strstr(err, "ram_size"), "%s", err);

    struct vmm_range outside[] = { { 63 * MIB, 2 * MIB } };
    c.reserved = outside;
    c.reserved_count = 1;
    refused(load(&c), VMM_E_INVALID, "reserved[0]");
    struct vmm_range overlap[] = { { 40 * MIB, 2 * MIB }, { 41 * MIB, 2 * MIB } };
    c.reserved = overlap;
    c.reserved_count = 2;
    refused(load(&c), VMM_E_INVALID, "reserved[1]: overlaps reserved[0]");
    struct vmm_range unaligned[] = { { 40 * MIB + 1, 2 * MIB } };
    c.reserved = unaligned;
    c.reserved_count = 1;
    refused(load(&c), VMM_E_INVALID, "reserved[0]");
    struct vmm_range low[] = { { 0x8000, 0x1000 } };
    c.reserved = low;
    refused(load(&c), VMM_E_INVALID, "reserved[0]: covers the boot structures");
    c.reserved = NULL;
    refused(load(&c), VMM_E_INVALID, "reserved: NULL");
    c.reserved_count = VMM_LINUX_MAX_RESERVED + 1;
    refused(load(&c), VMM_E_INVALID, "reserved_count");
    c = cfg();
    c.initrd = NULL;
    refused(load(&c), VMM_E_INVALID, "initrd: NULL");
}

/* Debian's kernel, where a configured build fetched it (tests/linux's
 * fetch.py into <build>/linux/boot); skipped otherwise. */
static char *debian_kernel(uint64_t *size)
{
    const char *root = getenv("SIDECAR_BUILD_ROOT");
    if (!root)
        return NULL;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/linux/boot", root);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char path[8192] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "vmlinuz-", 8))
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    closedir(d);
    return path[0] ? (char *)slurp(path, size) : NULL;
}

Test(vmm_linux, debian_kernel)
{
    uint64_t size = 0;
    uint8_t *k = (uint8_t *)debian_kernel(&size);
    if (!k)
        cr_skip_test("no fetched Debian kernel under $SIDECAR_BUILD_ROOT/linux/boot");
    use_ram(256 * MIB);
    struct vmm_range fw[] = { { 254 * MIB, 2 * MIB } };
    struct vmm_linux_config c = { .kernel = k, .kernel_size = size, .cmdline = "console=ttyS0",
                                  .initrd = initrd, .initrd_size = sizeof(initrd), .reserved = fw, .reserved_count = 1 };
    int rc = load(&c);
    cr_assert_eq(rc, VMM_OK, "%s", err);
    cr_assert_geq(out.image.version, 0x020c);
    cr_assert_eq(out.kernel_gpa % out.image.kernel_alignment, 0);
    cr_assert_geq(out.kernel_gpa, 16 * MIB);
    cr_assert_eq(memcmp(ram + out.kernel_gpa, k + out.image.setup_size, out.image.kernel_size), 0);
    cr_assert_leq(out.initrd_gpa + out.initrd_size, 254 * MIB);
    cr_assert_geq(out.initrd_gpa, out.kernel_gpa + out.kernel_extent);
    cr_assert_eq(memcmp(ram + out.boot_params_gpa + 0x1f1, k + 0x1f1, 0x210 - 0x1f1), 0, "setup header copied");
    free(k);
}
