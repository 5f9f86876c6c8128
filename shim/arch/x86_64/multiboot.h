/* Multiboot (version 1) information, as the loader (QEMU -kernel) passes it.
 * Facts from the Multiboot 0.6.96 specification. Only what the shim reads. */
#ifndef SHIM_MULTIBOOT_H
#define SHIM_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_LOADER_MAGIC 0x2badb002u
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MMAP (1u << 6)

struct __attribute__((packed)) mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
};

/* One module (QEMU: one file of the comma-separated -initrd list). */
struct __attribute__((packed)) mb_module {
    uint32_t mod_start, mod_end;   /* [start, end) */
    uint32_t string;               /* the module's command line */
    uint32_t reserved;
};

/* Each entry is preceded by its size (not counting the size field). */
struct __attribute__((packed)) mb_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type;
};

#endif
