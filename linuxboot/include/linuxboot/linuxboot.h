/* SPDX-License-Identifier: MIT */
/* The Linux x86 boot protocol, the parts every loader shares: checking a
 * bzImage's setup header and building boot_params (the "zero page").
 * Offsets and rules are those of Documentation/arch/x86/boot.rst and
 * zero-page.rst of the Linux tree (facts only). Used by the boot shim
 * (Linux as the main kernel, shim/core/linux.c) and by the small VMM
 * (Linux as a guest, vmm/linux.c); portable C11, no libc (scfree).
 *
 * The bzImage is untrusted input: every header field a loader relies on is
 * checked, and a bad one is reported by name before anything is copied.
 * Both loaders use the 64-bit entry (load address + 0x200), so the check
 * insists on protocol 2.12 or later, XLF_KERNEL_64 and a relocatable
 * kernel. */
#ifndef LINUXBOOT_H
#define LINUXBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINUXBOOT_ERR_SIZE 160
#define LINUXBOOT_OK 0
#define LINUXBOOT_E_INVALID (-5)          /* a bad header field or boot argument; the message names it */

#define LINUXBOOT_BOOT_PARAMS_SIZE 4096u
#define LINUXBOOT_E820_MAX 128u           /* entries in boot_params.e820_table */
#define LINUXBOOT_MIN_VERSION 0x020cu     /* 2.12: xloadflags, the 64-bit entry */
#define LINUXBOOT_ENTRY_64 0x200u         /* 64-bit entry: load address + 0x200 */
#define LINUXBOOT_MIN_LOAD UINT64_C(0x1000000)  /* a relocatable x86-64 kernel decompresses at or above
                                             16 MiB (LOAD_PHYSICAL_ADDR) wherever it is loaded */
#define LINUXBOOT_HEADER_START 0x1f1u     /* the setup header, in the file and in boot_params */
#define LINUXBOOT_HEADER_MAX_END 0x290u   /* boot_params.edd_mbr_sig_buffer follows the header */

#define LINUXBOOT_XLF_KERNEL_64 (1u << 0)
#define LINUXBOOT_XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

/* E820 types Linux knows and loaders emit. */
#define LINUXBOOT_E820_RAM 1u
#define LINUXBOOT_E820_RESERVED 2u

/* What a loader needs from a checked bzImage setup header. */
struct linuxboot_image {
    uint16_t version;          /* boot protocol version (>= 2.12) */
    uint32_t setup_size;       /* bytes before the protected-mode kernel: (setup_sects + 1) * 512 */
    uint64_t kernel_size;      /* bytes of the protected-mode kernel (the rest of the file) */
    uint32_t header_end;       /* file offset just past the setup header (0x202 + byte at 0x201) */
    uint32_t kernel_alignment; /* physical alignment of the load address (power of two) */
    uint32_t initrd_addr_max;  /* highest address the initramfs may occupy */
    uint32_t cmdline_size;     /* longest command line, without the NUL */
    uint32_t init_size;        /* bytes the kernel needs from its load address while it decompresses */
    uint64_t pref_address;     /* preferred load address */
    uint16_t xloadflags;
};

/* One boot_params.e820_table entry. */
struct linuxboot_e820 {
    uint64_t base, size;
    uint32_t type;
};

/* True when image looks like a bzImage at all ("HdrS" at 0x202); a loader
 * then insists that it is a valid one. */
bool linuxboot_is_bzimage(const uint8_t *image, uint64_t size);

/* Checks the setup header of a bzImage of size bytes: boot flag, "HdrS",
 * protocol >= 2.12, a 64-bit entry (xloadflags bit 0), relocatable, sizes
 * consistent with the file, a power-of-two alignment, init_size covering
 * the kernel. LINUXBOOT_E_INVALID with err naming the field on failure. */
int linuxboot_check(const uint8_t *image, uint64_t size, struct linuxboot_image *out,
                    char err[LINUXBOOT_ERR_SIZE]);

struct linuxboot_boot {
    const struct linuxboot_e820 *e820;
    uint32_t e820_count;
    uint64_t cmdline_pa;
    uint64_t initrd_pa, initrd_size; /* 0, 0: no initramfs */
    uint64_t rsdp_pa;                /* 0: Linux searches the BIOS areas itself */
};

/* Builds boot_params for image (already checked into img; only its first
 * img->header_end bytes are read): zeroed, the setup header copied from
 * the image, type_of_loader 0xff (no registered ID), setup_data 0, command
 * line and initramfs addresses (high halves in the ext_ fields),
 * acpi_rsdp_addr, the e820 table. LINUXBOOT_E_INVALID when an address does
 * not fit what the header allows (initramfs above initrd_addr_max,
 * anything above 4 GiB without XLF_CAN_BE_LOADED_ABOVE_4G) or the e820
 * table is empty or too long. */
int linuxboot_boot_params(uint8_t bp[LINUXBOOT_BOOT_PARAMS_SIZE], const uint8_t *image,
                          const struct linuxboot_image *img, const struct linuxboot_boot *boot,
                          char err[LINUXBOOT_ERR_SIZE]);

#endif
