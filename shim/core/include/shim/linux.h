/* SPDX-License-Identifier: MIT */
/* Booting Linux as the main kernel. The bzImage check and boot_params
 * (the "zero page") come from linuxboot/linuxboot.h, which the small VMM
 * shares; here: placing the images, the e820 table from the hand-off map,
 * the command line and the ACPI copy.
 *
 * The shim loads the protected-mode part of the bzImage (everything after
 * the setup sectors) at a 2 MiB aligned address, the initramfs high, and
 * enters the kernel's 64-bit entry (load address + LINUXBOOT_ENTRY_64)
 * with RSI = the boot_params built by linuxboot_boot_params. */
#ifndef SHIM_LINUX_H
#define SHIM_LINUX_H

#include <linuxboot/linuxboot.h>
#include <shim/core.h>

#define SHIM_SIDECAR_MEMORY 0x5344u        /* the hand-off map's type for sidecar memory */

_Static_assert(SHIM_ERR_SIZE == LINUXBOOT_ERR_SIZE, "one error buffer serves the shim and linuxboot");
_Static_assert(SHIM_E_INVALID == LINUXBOOT_E_INVALID, "linuxboot's error is the shim's SHIM_E_INVALID");

/* true when every byte of [base, base + size) lies in a usable (type 1)
 * entry of map and in no entry of another type (firmware maps may
 * overlap); an empty range is usable. The shim checks each fixed load
 * address with it before copying an image there. */
bool shim_memmap_usable(const struct shim_memmap *map, uint64_t base, uint64_t size);

/* Finds size bytes, aligned to align, inside [lo, hi) that are usable (type
 * 1) in map in every byte, and overlap none of the avoid ranges: the
 * lowest such block, or the highest when highest is true. false when there
 * is none. */
bool shim_linux_place(const struct shim_memmap *map, const struct shim_range *avoid, uint32_t avoid_count,
                      uint64_t size, uint64_t align, uint64_t lo, uint64_t hi, bool highest, uint64_t *out);

/* The e820 table Linux gets, from the hand-off memory map: sidecar memory
 * (type 0x5344) becomes reserved (2), types Linux knows (1-5, 7, 12) stay,
 * any other becomes reserved; adjacent ranges of one type are merged.
 * SHIM_E_LIMIT when more than LINUXBOOT_E820_MAX entries remain. */
int shim_linux_e820(const struct sidecar_handoff *h, struct linuxboot_e820 out[LINUXBOOT_E820_MAX],
                    uint32_t *count, char err[SHIM_ERR_SIZE]);

/* The command line Linux gets: base (the hand-off block's line), then
 * "maxcpus=<main_cpus>" when main_cpus != 0 and "sidecar.handoff=0x<pa>"
 * when handoff_pa != 0. SHIM_E_INVALID when it is longer than limit
 * (the image's cmdline_size) or out_size - 1. */
int shim_linux_cmdline(const char *base, uint32_t main_cpus, uint64_t handoff_pa, uint32_t limit,
                       char *out, size_t out_size, char err[SHIM_ERR_SIZE]);

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
