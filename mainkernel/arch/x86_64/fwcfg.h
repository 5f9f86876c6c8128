/* SPDX-License-Identifier: MIT */
/* QEMU's firmware configuration device (fw_cfg): how the bare-metal main
 * kernel receives files from the QEMU command line (-fw_cfg
 * name=opt/...,file=PATH), such as the Linux kernel and initramfs it runs
 * as a guest on a sidecar VP. QEMU-specific, like the main kernel's exit
 * port; absent elsewhere (mk_fwcfg_find then answers false). */
#ifndef MK_FWCFG_H
#define MK_FWCFG_H

#include <stdbool.h>
#include <stdint.h>

struct mk_fwcfg_file {
    uint32_t size;
    uint16_t select;
};

/* Finds a file by name in fw_cfg's directory. */
bool mk_fwcfg_find(const char *name, struct mk_fwcfg_file *f);

/* Reads the file's bytes [0, n) into physical memory at pa (identity
 * mapped), with the DMA interface when QEMU offers it. False on a device
 * error or n > f->size. */
bool mk_fwcfg_read(const struct mk_fwcfg_file *f, uint64_t pa, uint32_t n);

#endif
