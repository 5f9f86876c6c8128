/* SPDX-License-Identifier: MIT */
/* Multiboot (version 1) information, as the loader (QEMU -kernel) passes it.
 * Facts from the Multiboot 0.6.96 specification. Only what the shim reads.
 * shim_multiboot_read (shim/core/multiboot.c) reads it through the shim's
 * memory accessor, so that it is unit-tested and fuzzed natively. */
#ifndef SHIM_MULTIBOOT_H
#define SHIM_MULTIBOOT_H

#include <stdint.h>

#include <shim/core.h>

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

#define SHIM_MULTIBOOT_MAX_MODULES 2u

/* What the shim takes from the loader. */
struct shim_multiboot {
    char cmdline[SIDECAR_CMDLINE_SIZE];         /* NUL-terminated; the image path dropped */
    uint32_t module_count;
    struct { uint64_t start, end; } modules[SHIM_MULTIBOOT_MAX_MODULES];   /* [start, end), readable */
    struct shim_memmap memmap;                  /* the non-empty entries, at least one */
};

/* Reads the Multiboot information at info_pa (magic: what the loader left
 * in EAX) through m: the command line (when given; the loader's first
 * word, the image path, dropped unless it is an option), at most
 * SHIM_MULTIBOOT_MAX_MODULES modules, each non-empty, readable and apart
 * from the shim's image [shim_start, shim_end), and the memory map (its
 * non-empty entries, at most SHIM_MAX_RANGES; a truncated or malformed
 * entry ends it). SHIM_E_* and err naming what is wrong otherwise. */
int shim_multiboot_read(const struct shim_mem *m, uint32_t magic, uint64_t info_pa, uint64_t shim_start,
                        uint64_t shim_end, struct shim_multiboot *out, char err[SHIM_ERR_SIZE]);

#endif
