/* SPDX-License-Identifier: MIT */
/* Reading the Multiboot information (shim/multiboot.h). */
#include <shim/multiboot.h>

#include "util.h"

int shim_multiboot_read(const struct shim_mem *m, uint32_t magic, uint64_t info_pa, uint64_t shim_start,
                        uint64_t shim_end, struct shim_multiboot *out, char err[SHIM_ERR_SIZE])
{
    shim_zero(out, sizeof(*out));
    if (magic != MULTIBOOT_LOADER_MAGIC)
        return shim_fail(err, SHIM_E_INVALID, "not started by a Multiboot loader");
    const struct mb_info *mb = m->map(m->ctx, info_pa, sizeof(*mb));
    if (!mb)
        return shim_fail(err, SHIM_E_MALFORMED, "Multiboot information unreadable");
    if (mb->flags & MB_INFO_CMDLINE) {
        const char *s = m->map(m->ctx, mb->cmdline, 1);
        if (s) {
            size_t n = 0;
            while (n + 1 < sizeof(out->cmdline) && m->map(m->ctx, (uint64_t)mb->cmdline + n, 1) && s[n])
                n++;
            /* Multiboot loaders (GRUB, QEMU -kernel) put the image's path
             * first: drop that word (a first word with '=' is an option). */
            size_t w = 0;
            while (w < n && s[w] == ' ')
                w++;
            size_t e = w;
            bool option = false;
            while (e < n && s[e] != ' ')
                option |= s[e++] == '=';
            if (e > w && !option)
                w = e;
            while (w < n && s[w] == ' ')
                w++;
            shim_copy(out->cmdline, s + w, n - w);
            out->cmdline[n - w] = '\0';
        }
    }
    if ((mb->flags & MB_INFO_MODS) && mb->mods_count) {
        if (mb->mods_count > SHIM_MULTIBOOT_MAX_MODULES)
            return shim_fail(err, SHIM_E_LIMIT,
                             "Multiboot: %u modules; the shim takes a Linux bzImage and at most one initramfs",
                             mb->mods_count);
        const struct mb_module *mod = m->map(m->ctx, mb->mods_addr, mb->mods_count * sizeof(*mod));
        if (!mod)
            return shim_fail(err, SHIM_E_MALFORMED, "Multiboot: module list unreadable");
        for (uint32_t i = 0; i < mb->mods_count; i++) {
            uint64_t b = mod[i].mod_start, e = mod[i].mod_end;
            if (e <= b || !m->map(m->ctx, b, e - b))
                return shim_fail(err, SHIM_E_MALFORMED, "Multiboot: module %u: [0x%lx, 0x%lx) empty or unreadable", i,
                                 (unsigned long)b, (unsigned long)e);
            if (b < shim_end && e > shim_start)
                return shim_fail(err, SHIM_E_INVALID, "Multiboot: module %u: [0x%lx, 0x%lx) overlaps the shim", i,
                                 (unsigned long)b, (unsigned long)e);
            out->modules[out->module_count].start = b;
            out->modules[out->module_count].end = e;
            out->module_count++;
        }
    }
    if (!(mb->flags & MB_INFO_MMAP))
        return shim_fail(err, SHIM_E_NOT_FOUND, "no memory map from the loader");
    uint64_t p = mb->mmap_addr, end = (uint64_t)mb->mmap_addr + mb->mmap_length;
    while (p + sizeof(struct mb_mmap_entry) <= end && out->memmap.count < SHIM_MAX_RANGES) {
        const struct mb_mmap_entry *e = m->map(m->ctx, p, sizeof(*e));
        if (!e || e->size < 20)
            break;
        if (e->len)
            out->memmap.ranges[out->memmap.count++] = (struct shim_range){ e->addr, e->len, e->type };
        p += (uint64_t)e->size + 4;
    }
    if (!out->memmap.count)
        return shim_fail(err, SHIM_E_NOT_FOUND, "empty memory map");
    return SHIM_OK;
}
