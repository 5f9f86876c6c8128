/* Booting Linux as the main kernel: the portable parts of the Linux x86
 * boot protocol (Documentation/arch/x86/boot.rst and zero-page.rst of the
 * Linux tree; facts only). The bzImage is an untrusted input like any
 * other: every header field the shim uses is checked, and a bad one is
 * reported by name before anything is copied or entered.
 *
 * The shim loads the protected-mode part of the bzImage (everything after
 * the setup sectors) at a 2 MiB aligned address, the initramfs high, and
 * enters the kernel's 64-bit entry (load address + 0x200) with RSI = the
 * boot_params ("zero page") built here. */
#ifndef SHIM_LINUX_H
#define SHIM_LINUX_H

#include <shim/core.h>

#define SHIM_LINUX_BOOT_PARAMS_SIZE 4096u
#define SHIM_LINUX_E820_MAX 128u           /* entries in boot_params.e820_table */
#define SHIM_LINUX_MIN_VERSION 0x020cu     /* 2.12: xloadflags, the 64-bit entry */
#define SHIM_LINUX_ENTRY_64 0x200u         /* 64-bit entry: load address + 0x200 */
#define SHIM_LINUX_MIN_LOAD 0x1000000ull   /* the kernel decompresses at or above 16 MiB anyway */

/* E820 types Linux knows (anything else is passed as reserved). */
#define SHIM_E820_RAM 1u
#define SHIM_E820_RESERVED 2u
#define SHIM_SIDECAR_MEMORY 0x5344u        /* the hand-off map's type for sidecar memory */

/* What the shim needs from a checked bzImage setup header. */
struct shim_linux_image {
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

/* True when image looks like a bzImage at all ("HdrS" at 0x202); the shim
 * then insists that it is a valid one. */
bool shim_linux_is_bzimage(const uint8_t *image, uint64_t size);

/* Checks the setup header of a bzImage of size bytes: boot flag, "HdrS",
 * protocol >= 2.12, a 64-bit entry (xloadflags bit 0), relocatable, sizes
 * consistent with the file, a power-of-two alignment, init_size covering
 * the kernel. SHIM_E_INVALID with err naming the field on failure. */
int shim_linux_check(const uint8_t *image, uint64_t size, struct shim_linux_image *out,
                     char err[SHIM_ERR_SIZE]);

/* Finds size bytes, aligned to align, inside [lo, hi) that are usable (type
 * 1) in map in every byte, and overlap none of the avoid ranges: the
 * lowest such block, or the highest when highest is true. false when there
 * is none. */
bool shim_linux_place(const struct shim_memmap *map, const struct shim_range *avoid, uint32_t avoid_count,
                      uint64_t size, uint64_t align, uint64_t lo, uint64_t hi, bool highest, uint64_t *out);

/* The e820 table Linux gets, from the hand-off memory map: sidecar memory
 * (type 0x5344) becomes reserved (2), types Linux knows (1-5, 7, 12) stay,
 * any other becomes reserved; adjacent ranges of one type are merged.
 * SHIM_E_LIMIT when more than SHIM_LINUX_E820_MAX entries remain. */
int shim_linux_e820(const struct sidecar_handoff *h, struct shim_range out[SHIM_LINUX_E820_MAX],
                    uint32_t *count, char err[SHIM_ERR_SIZE]);

/* The command line Linux gets: base (the hand-off block's line), then
 * "maxcpus=<main_cpus>" when main_cpus != 0 and "sidecar.handoff=0x<pa>"
 * when handoff_pa != 0. SHIM_E_INVALID when it is longer than limit
 * (the image's cmdline_size) or out_size - 1. */
int shim_linux_cmdline(const char *base, uint32_t main_cpus, uint64_t handoff_pa, uint32_t limit,
                       char *out, size_t out_size, char err[SHIM_ERR_SIZE]);

struct shim_linux_boot {
    const struct shim_range *e820;   /* from shim_linux_e820 */
    uint32_t e820_count;
    uint64_t cmdline_pa;
    uint64_t initrd_pa, initrd_size; /* 0, 0: no initramfs */
    uint64_t rsdp_pa;                /* 0: Linux searches the BIOS areas itself */
};

/* Builds boot_params (the zero page) for image (already checked into img):
 * zeroed, the setup header copied from the image, type_of_loader 0xff (no
 * registered ID), command line and initramfs addresses (high halves in the
 * ext_ fields), acpi_rsdp_addr, the e820 table. SHIM_E_INVALID when an
 * address does not fit what the header allows (initramfs above
 * initrd_addr_max, anything above 4 GiB without XLF_CAN_BE_LOADED_ABOVE_4G). */
int shim_linux_boot_params(uint8_t bp[SHIM_LINUX_BOOT_PARAMS_SIZE], const uint8_t *image,
                           const struct shim_linux_image *img, const struct shim_linux_boot *boot,
                           char err[SHIM_ERR_SIZE]);

/* A copy of the firmware's ACPI root for Linux with a MADT whose processor
 * entries (local APIC type 0 and local x2APIC type 9, enabled or online
 * capable) come in the order of apic_ids: Linux numbers CPUs in MADT order
 * (the boot CPU is always 0), so the first entries are the CPUs it brings
 * up under maxcpus=. Processor entries of APIC IDs not in the list (none
 * normally) and every other entry follow in their original order. Written
 * into buf (buf_pa is its physical address, below 4 GiB): a new RSDP (same
 * revision), a new RSDT and/or XSDT (whichever the firmware has) naming the
 * new MADT instead of the old one and the firmware's other tables
 * unchanged, and the new MADT; every checksum recomputed. The first
 * required_count IDs must each have an entry. *rsdp_out is the new RSDP's
 * physical address, *used the bytes of buf used. */
int shim_acpi_copy_reordered(const struct shim_mem *m, uint64_t rsdp_pa,
                             const uint32_t *apic_ids, uint32_t count, uint32_t required_count,
                             uint8_t *buf, uint64_t buf_pa, uint32_t buf_size,
                             uint64_t *rsdp_out, uint32_t *used, char err[SHIM_ERR_SIZE]);

/* The order for shim_acpi_copy_reordered from params: the boot CPU, the
 * other main CPUs in params order, then the sidecar CPUs in params order.
 * Returns the count written into out (out has room for params->cpu_count);
 * *main_count is the number of main CPUs (the first entries). */
uint32_t shim_linux_cpu_order(const struct sidecar_params *params, uint32_t *out, uint32_t *main_count);

/* The order for sidecar.linux_numbering=vp: the boot CPU, then every other
 * CPU in params order, so that Linux CPU number = params index (= the VP
 * index under sidecar.policy=openhcl) when the boot CPU is params index 0.
 * Returns the count written into out; Linux then boots with maxcpus=1 and
 * the driver onlines the other main CPUs. */
uint32_t shim_linux_cpu_order_vp(const struct sidecar_params *params, uint32_t *out);

#endif
