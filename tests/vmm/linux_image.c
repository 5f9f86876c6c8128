/* SPDX-License-Identifier: MIT */
/* Test tool: runs vmm_linux_load on a bzImage into a guest-RAM buffer and
 * writes what it put there as files for QEMU's generic loader (-device
 * loader,file=F,addr=A,force-raw=on), plus the entry state as a block at
 * STATE_GPA that entry_stub.asm (the -bios image) takes the VP into. This
 * lets a real kernel boot under QEMU TCG from exactly the memory and
 * state the VMM's loader produced (run_linux_tcg.py).
 *
 *   vmm-linux-image BZIMAGE OUT_DIR RAM_MIB CMDLINE [INITRD]
 * prints one QEMU argument per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmm/linux.h>

#include "slurp.h"

#define MIB (1ull << 20)
#define STATE_GPA 0x5000u   /* below VMM_LINUX_BOOT_PARAMS_GPA's stack page, unused by the loader */

static int emit(const char *dir, const char *name, const uint8_t *ram, uint64_t gpa, uint64_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(ram + gpa, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "%s: cannot write\n", path);
        return 1;
    }
    printf("-device\nloader,file=%s,addr=0x%llx,force-raw=on\n", path, (unsigned long long)gpa);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s BZIMAGE OUT_DIR RAM_MIB CMDLINE [INITRD]\n", argv[0]);
        return 2;
    }
    uint64_t ksize = 0, isize = 0, ram_size = strtoull(argv[3], NULL, 0) * MIB;
    uint8_t *kernel = slurp(argv[1], &ksize);
    uint8_t *initrd = argc == 6 ? slurp(argv[5], &isize) : NULL;
    uint8_t *ram = calloc(1, ram_size);
    if (!kernel || !ram || (argc == 6 && !initrd)) {
        fprintf(stderr, "%s: cannot read the kernel or the initramfs (or no memory)\n", argv[0]);
        return 1;
    }
    /* The legacy hole (QEMU has VGA and the BIOS there) and the top 2 MiB
     * (the sidecar VM's firmware area) are the VMM's. */
    const struct vmm_range reserved[] = { { 0x9f000, 0x61000 }, { ram_size - 2 * MIB, 2 * MIB } };
    struct vmm_linux_config cfg = { .kernel = kernel, .kernel_size = ksize, .initrd = initrd, .initrd_size = isize,
                                    .cmdline = argv[4], .reserved = reserved, .reserved_count = 2 };
    static struct vmm_linux_boot b;
    char err[VMM_ERR_SIZE];
    if (vmm_linux_load(ram, ram_size, &cfg, &b, err) != VMM_OK) {
        fprintf(stderr, "vmm_linux_load: %s\n", err);
        return 1;
    }
    const struct vmm_x64_entry_state *r = &b.regs;
    uint64_t state[] = { 0x45544154534d4d56ull /* "VMMSTATE" */, r->rip, r->rsi, r->rsp, r->rflags, r->cr0, r->cr3,
                         r->cr4, r->efer, r->gdtr.base, r->gdtr.limit, r->cs.selector, r->ds.selector };
    memcpy(ram + STATE_GPA, state, sizeof(state));
    fprintf(stderr, "vmm_linux_load: protocol %u.%u, kernel 0x%llx (+0x%llx), entry 0x%llx, initramfs 0x%llx "
            "(%llu bytes), %u e820 entries\n", b.image.version >> 8, b.image.version & 0xff,
            (unsigned long long)b.kernel_gpa, (unsigned long long)b.kernel_extent, (unsigned long long)r->rip,
            (unsigned long long)b.initrd_gpa, (unsigned long long)b.initrd_size, b.e820_count);
    return emit(argv[2], "low.bin", ram, STATE_GPA, VMM_LINUX_LOW_END - STATE_GPA) ||
           emit(argv[2], "cmdline.bin", ram, VMM_LINUX_CMDLINE_GPA, b.cmdline_len + 1) ||
           emit(argv[2], "kernel.bin", ram, b.kernel_gpa, b.image.kernel_size) ||
           (b.initrd_size && emit(argv[2], "initrd.bin", ram, b.initrd_gpa, b.initrd_size));
}
