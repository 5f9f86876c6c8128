/* SPDX-License-Identifier: MIT */
/* The Linux boot protocol parts the shim and the VMM share
 * (linuxboot/linuxboot.h): the bzImage setup header check and boot_params. */
#include <criterion/criterion.h>
#include <string.h>

#include <linuxboot/linuxboot.h>

#include "bzimage_fixture.h"

static char err[LINUXBOOT_ERR_SIZE];

static int check(struct linuxboot_image *img) { return linuxboot_check(bz, BZ_SIZE, img, err); }

static void check_fails(const char *field)
{
    struct linuxboot_image img;
    cr_assert_eq(check(&img), LINUXBOOT_E_INVALID, "accepted; expected an error naming %s", field);
    cr_assert(strstr(err, field), "error \"%s\" does not name %s", err, field);
}

TestSuite(linux_image, .init = bz_good);

Test(linux_image, good)
{
    struct linuxboot_image img;
    cr_assert_eq(check(&img), LINUXBOOT_OK, "%s", err);
    cr_assert(linuxboot_is_bzimage(bz, BZ_SIZE));
    cr_assert_eq(img.version, 0x020f);
    cr_assert_eq(img.setup_size, 0x800);
    cr_assert_eq(img.kernel_size, BZ_SIZE - 0x800);
    cr_assert_eq(img.header_end, 0x26c);
    cr_assert_eq(img.kernel_alignment, 0x200000);
    cr_assert_eq(img.pref_address, 0x1000000);
    cr_assert_eq(img.init_size, 0x400000);
    cr_assert_eq(img.cmdline_size, 2047);
    cr_assert_eq(img.initrd_addr_max, 0x7fffffff);
}

Test(linux_image, setup_sects_zero_means_four)
{
    bz[0x1f1] = 0;
    bz32(0x1f4, (BZ_SIZE - 5 * 512) / 16);
    struct linuxboot_image img;
    cr_assert_eq(check(&img), LINUXBOOT_OK, "%s", err);
    cr_assert_eq(img.setup_size, 5 * 512);
}

Test(linux_image, too_small)
{
    struct linuxboot_image img;
    cr_assert_eq(linuxboot_check(bz, 600, &img, err), LINUXBOOT_E_INVALID);
    cr_assert(strstr(err, "too small"), "%s", err);
}

Test(linux_image, boot_flag) { bz16(0x1fe, 0x1234); check_fails("setup_header.boot_flag"); }

Test(linux_image, magic)
{
    memcpy(bz + 0x202, "HdrX", 4);
    cr_assert_not(linuxboot_is_bzimage(bz, BZ_SIZE));
    check_fails("setup_header.header");
}

Test(linux_image, old_protocol) { bz16(0x206, 0x020b); check_fails("setup_header.version: 2.11"); }
Test(linux_image, header_too_short) { bz[0x201] = 0x10; check_fails("setup_header.jump"); }
Test(linux_image, header_too_long) { bz[0x201] = 0xff; check_fails("setup_header.jump"); }

Test(linux_image, setup_sects_past_the_file)
{
    bz[0x1f1] = 200;   /* 201 * 512 > 64 KiB */
    check_fails("setup_header.setup_sects");
}

Test(linux_image, syssize_zero) { bz32(0x1f4, 0); check_fails("setup_header.syssize"); }
Test(linux_image, syssize_past_the_file) { bz32(0x1f4, BZ_SIZE / 16); check_fails("setup_header.syssize"); }
Test(linux_image, no_64bit_entry) { bz16(0x236, 0x7e); check_fails("setup_header.xloadflags"); }
Test(linux_image, not_relocatable) { bz[0x234] = 0; check_fails("setup_header.relocatable_kernel"); }
Test(linux_image, alignment_not_power_of_two) { bz32(0x230, 0x300000); check_fails("setup_header.kernel_alignment"); }
Test(linux_image, alignment_zero) { bz32(0x230, 0); check_fails("setup_header.kernel_alignment"); }
Test(linux_image, initrd_addr_max_low) { bz32(0x22c, 0x1000); check_fails("setup_header.initrd_addr_max"); }
Test(linux_image, cmdline_size_small) { bz32(0x238, 16); check_fails("setup_header.cmdline_size"); }
Test(linux_image, init_size_below_kernel) { bz32(0x260, 0x100); check_fails("setup_header.init_size"); }
Test(linux_image, init_size_huge) { bz32(0x260, 0x80000000u); check_fails("setup_header.init_size"); }

/* Every single-byte corruption of the header is either accepted with
 * consistent sizes or refused: never a size that leaves the file. */
Test(linux_image, byte_flips)
{
    for (uint32_t off = 0x1f1; off < 0x26c; off++) {
        for (int bit = 0; bit < 8; bit++) {
            bz_good();
            bz[off] ^= (uint8_t)(1u << bit);
            struct linuxboot_image img;
            if (check(&img) == LINUXBOOT_OK) {
                cr_assert_leq(img.setup_size + img.kernel_size, BZ_SIZE);
                cr_assert_geq(img.init_size, 16);
                cr_assert_leq(img.header_end, 0x290);
                cr_assert_eq(img.kernel_alignment & (img.kernel_alignment - 1), 0);
            } else {
                cr_assert(strstr(err, "bzImage"), "%s", err);
            }
        }
    }
}

TestSuite(linux_boot_params, .init = bz_good);

static const struct linuxboot_e820 e820_two[] = { { 0, 0x9fc00, 1 }, { 0x100000, 0x3ff00000, 1 } };

Test(linux_boot_params, boot_params)
{
    struct linuxboot_image img;
    cr_assert_eq(linuxboot_check(bz, BZ_SIZE, &img, err), LINUXBOOT_OK, "%s", err);
    static uint8_t bp[LINUXBOOT_BOOT_PARAMS_SIZE];
    memset(bp, 0xaa, sizeof(bp));
    struct linuxboot_boot b = { e820_two, 2, 0x13c000, 0x3fe00000, 0x12345, 0x12f000 };
    cr_assert_eq(linuxboot_boot_params(bp, bz, &img, &b, err), LINUXBOOT_OK, "%s", err);
    cr_assert_eq(memcmp(bp + 0x202, "HdrS", 4), 0);
    cr_assert_eq(bp[0x1f1], 3);
    cr_assert_eq(bp[0x210], 0xff, "type_of_loader");
    cr_assert_eq(bp[0x1ef], 0, "sentinel");
    cr_assert_eq(bp[0x26c], 0, "nothing past the header");
    uint32_t v32;
    uint64_t v64;
    memcpy(&v32, bp + 0x228, 4); cr_assert_eq(v32, 0x13c000, "cmd_line_ptr");
    memcpy(&v32, bp + 0x0c8, 4); cr_assert_eq(v32, 0, "ext_cmd_line_ptr");
    memcpy(&v32, bp + 0x218, 4); cr_assert_eq(v32, 0x3fe00000, "ramdisk_image");
    memcpy(&v32, bp + 0x21c, 4); cr_assert_eq(v32, 0x12345, "ramdisk_size");
    memcpy(&v64, bp + 0x070, 8); cr_assert_eq(v64, 0x12f000, "acpi_rsdp_addr");
    cr_assert_eq(bp[0x1e8], 2, "e820_entries");
    memcpy(&v64, bp + 0x2d0 + 20 + 0, 8); cr_assert_eq(v64, 0x100000);
    memcpy(&v64, bp + 0x2d0 + 20 + 8, 8); cr_assert_eq(v64, 0x3ff00000);
    memcpy(&v32, bp + 0x2d0 + 20 + 16, 4); cr_assert_eq(v32, 1);
    cr_assert_eq(bp[0x2d0 + 40], 0, "nothing after the last entry");
}

Test(linux_boot_params, boot_params_refuses_bad_addresses)
{
    struct linuxboot_image img;
    cr_assert_eq(linuxboot_check(bz, BZ_SIZE, &img, err), LINUXBOOT_OK, "%s", err);
    static uint8_t bp[LINUXBOOT_BOOT_PARAMS_SIZE];
    bz16(0x236, 1);   /* 64-bit entry, but not XLF_CAN_BE_LOADED_ABOVE_4G */
    cr_assert_eq(linuxboot_check(bz, BZ_SIZE, &img, err), LINUXBOOT_OK, "%s", err);
    struct linuxboot_boot b = { e820_two, 2, 0x13c000, 0x7ffff000, 0x2000, 0 };
    cr_assert_eq(linuxboot_boot_params(bp, bz, &img, &b, err), LINUXBOOT_E_INVALID, "initramfs above initrd_addr_max");
    cr_assert(strstr(err, "initrd_addr_max"), "%s", err);
    b.initrd_pa = 0x1000000;
    b.e820_count = 0;
    cr_assert_eq(linuxboot_boot_params(bp, bz, &img, &b, err), LINUXBOOT_E_INVALID, "no e820");
    b.e820_count = 2;
    b.cmdline_pa = 0;
    cr_assert_eq(linuxboot_boot_params(bp, bz, &img, &b, err), LINUXBOOT_E_INVALID, "no command line");
}
