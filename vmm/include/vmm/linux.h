/* SPDX-License-Identifier: MIT */
/* Loading a Linux guest: the x86 boot protocol from the VMM's side.
 *
 * Given a bzImage, an optional initramfs, a command line and the guest's
 * RAM (the host's view of GPA [0, ram_size)), vmm_linux_load places
 * everything in guest RAM and returns the initial VP state for the
 * kernel's **64-bit entry** (load address + 0x200): long mode, paging on
 * with an identity map of [0, 4 GiB) in 2 MiB pages, a GDT with the flat
 * __BOOT_CS (0x10) and __BOOT_DS (0x18), interrupts off, RSI = boot_params.
 *
 * Why the 64-bit protocol: it is the entry the boot shim already uses for
 * the main kernel, so the header check (protocol >= 2.12, XLF_KERNEL_64,
 * relocatable) and boot_params come from linuxboot/ unchanged; and a VMM
 * that runs the guest firmware sets up long-mode VPs anyway. The 32-bit
 * entry would need no page tables but a protected-mode VP state of its
 * own, and it would accept kernels the shim refuses.
 *
 * Guest RAM layout (GPAs):
 *   VMM_LINUX_BOOT_PARAMS_GPA  boot_params (4 KiB); the stack grows down below it
 *   VMM_LINUX_GDT_GPA          the GDT (4 entries)
 *   VMM_LINUX_PML4_GPA ..      PML4, PDPT, 4 PDs (identity map, 2 MiB pages)
 *   VMM_LINUX_CMDLINE_GPA      the command line (NUL-terminated)
 *   kernel                     the protected-mode part of the bzImage at the
 *                              lowest kernel_alignment-aligned address from
 *                              max(pref_address, 16 MiB) whose init_size
 *                              bytes are free RAM
 *   initramfs                  as high as RAM and initrd_addr_max allow,
 *                              above the kernel's init_size
 * The e820 table is RAM [0, ram_size) with the VMM's reserved ranges
 * (reserved, type 2) cut out. */
#ifndef VMM_LINUX_H
#define VMM_LINUX_H

#include <linuxboot/linuxboot.h>
#include <vmm/vmm.h>

#define VMM_LINUX_BOOT_PARAMS_GPA UINT64_C(0x7000)
#define VMM_LINUX_STACK_TOP UINT64_C(0x7000)
#define VMM_LINUX_GDT_GPA UINT64_C(0x8000)
#define VMM_LINUX_PML4_GPA UINT64_C(0x9000)
#define VMM_LINUX_PDPT_GPA UINT64_C(0xa000)
#define VMM_LINUX_PD_GPA UINT64_C(0xb000)          /* four: [0xb000, 0xf000) */
#define VMM_LINUX_LOW_END UINT64_C(0xf000)         /* [BOOT_PARAMS_GPA, LOW_END): boot_params, GDT, tables */
#define VMM_LINUX_CMDLINE_GPA UINT64_C(0x20000)
#define VMM_LINUX_CMDLINE_MAX UINT64_C(0x10000)    /* bytes at CMDLINE_GPA, NUL included */
#define VMM_LINUX_MAX_RESERVED 16u
#define VMM_LINUX_BOOT_CS 0x10u
#define VMM_LINUX_BOOT_DS 0x18u

/* A range of guest RAM the VMM keeps for itself. */
struct vmm_range {
    uint64_t base, size;
};

struct vmm_linux_config {
    const uint8_t *kernel;          /* the bzImage file */
    uint64_t kernel_size;
    const uint8_t *initrd;          /* NULL with initrd_size 0: none */
    uint64_t initrd_size;
    const char *cmdline;            /* NUL-terminated; NULL: empty */
    const struct vmm_range *reserved;   /* up to VMM_LINUX_MAX_RESERVED, inside RAM, disjoint */
    uint32_t reserved_count;
    uint64_t rsdp_gpa;              /* boot_params.acpi_rsdp_addr; 0: none */
};

/* A segment register in the Hyper-V layout (HV_X64_SEGMENT_REGISTER, what
 * libsidecar-host's register calls take): attributes bits 0-3 type, 4 S,
 * 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G. */
struct vmm_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint16_t attributes;
};

struct vmm_table {
    uint64_t base;
    uint16_t limit;
};

/* The VP state at the 64-bit entry; registers not listed are 0. */
struct vmm_x64_entry_state {
    uint64_t rip, rsi, rsp, rflags;
    uint64_t cr0, cr3, cr4, efer;
    struct vmm_segment cs, ds, es, ss, fs, gs, tr, ldtr;
    struct vmm_table gdtr, idtr;
};

struct vmm_linux_boot {
    struct linuxboot_image image;   /* the checked setup header */
    uint64_t kernel_gpa;            /* protected-mode kernel */
    uint64_t kernel_extent;         /* bytes kept free from kernel_gpa: max(file part, init_size) */
    uint64_t initrd_gpa, initrd_size;
    uint64_t boot_params_gpa, cmdline_gpa;
    uint32_t cmdline_len;           /* without the NUL */
    struct linuxboot_e820 e820[2 * VMM_LINUX_MAX_RESERVED + 1];
    uint32_t e820_count;
    struct vmm_x64_entry_state regs;
};

/* Loads the guest (see above) into ram, the host's view of guest RAM
 * [0, ram_size): ram_size a multiple of 4 KiB, from 2 MiB to 4 GiB. On
 * success *out describes where everything went and the entry state. On
 * failure nothing is promised about ram, and err names the bad input:
 *   VMM_E_INVALID  ram_size, a reserved range, the bzImage header (the
 *                  linuxboot message, "bzImage: setup_header.<field>"),
 *                  the command line longer than the kernel takes, an
 *                  initramfs above 4 GiB, a low structure that is
 *                  reserved;
 *   VMM_E_NO_ROOM  the kernel's init_size or the initramfs do not fit the
 *                  free RAM. */
int vmm_linux_load(uint8_t *ram, uint64_t ram_size, const struct vmm_linux_config *cfg,
                   struct vmm_linux_boot *out, char err[VMM_ERR_SIZE]);

#endif
