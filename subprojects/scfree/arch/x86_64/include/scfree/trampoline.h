/* SPDX-License-Identifier: MIT */
/* The AP start-up trampoline (trampoline.asm): real mode -> long mode ->
 * a 64-bit entry point, for INIT-SIPI-SIPI. Shared by the sidecar kernel
 * (starting sidecar CPUs) and the bare-metal main kernel (restarting
 * converted ones). */
#ifndef SCFREE_TRAMPOLINE_H
#define SCFREE_TRAMPOLINE_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes the trampoline needs (less than one page). */
uint64_t scfree_trampoline_size(void);

/* Copies the trampoline to `page` (a writable mapping of physical page
 * page_pa, page aligned, below 1 MiB) and patches it: an AP that takes a
 * SIPI with vector page_pa >> 12 loads cr3 (below 4 GiB; the tables must
 * identity-map page_pa) and jumps to entry64 with interrupts off, no stack,
 * CS = 0x08 and data segments 0x10 of the trampoline's own GDT (which stays
 * in the page). False when page_pa or cr3 does not qualify. */
bool scfree_trampoline_install(void *page, uint64_t page_pa, uint64_t cr3, uint64_t entry64);

#endif
