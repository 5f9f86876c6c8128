/* SPDX-License-Identifier: MIT */
/* Hardware services of the bare-metal main kernel (x86-64). */
#ifndef MK_PLATFORM_H
#define MK_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#define MK_EXIT_SUCCESS 0x10u   /* QEMU exits with (0x10 << 1) | 1 = 33 */
#define MK_EXIT_FAILURE 0x11u   /* 35 */

/* The IPI that wakes a converted CPU parked in mk_ap_wait. */
#define MK_WAKE_VECTOR 0xf1u
/* Most CPUs the main kernel can take over (slots, stacks). */
#define MK_MAX_APS 256u

/* Serial console, the TSC, and the main kernel's own page tables (identity
 * map of 0-4 GiB) and GDT: after this nothing of the shim's is in use. */
void mk_platform_init(void);
/* CR3 at entry (the shim's page tables, which the kernel's APs also start
 * on), and the main kernel's own top-level table. */
uint64_t mk_boot_cr3(void);
uint64_t mk_own_cr3(void);
void mk_write(const char *s, unsigned long len);
uint64_t mk_rdtsc(void);
/* CPUID.(7,0):ECX bit 2: the CPU can refuse SGDT/SIDT/SLDT/SMSW/STR at CPL > 0. */
bool mk_cpu_has_umip(void);
void mk_pause(void);
void mk_exit(uint32_t code) __attribute__((noreturn));

/* [start, end) of the main kernel's image in physical memory. */
uint64_t mk_image_start(void);
uint64_t mk_image_end(void);

/* The local APIC of the BSP, in the mode the sidecar kernel chose. */
void mk_set_x2apic(bool on);
uint32_t mk_apic_id(void);
void mk_send_ipi(uint32_t apic_id, uint32_t vector);
/* An IPI in NMI delivery mode (the vector field is ignored). */
void mk_send_nmi(uint32_t apic_id);
void mk_send_init(uint32_t apic_id);
void mk_send_sipi(uint32_t apic_id, uint64_t trampoline_pa);

/* What a CPU the main kernel started runs once its own set-up is done:
 * main (must not return: the CPU parks if it does) with its private slot and the APIC ID its APIC
 * says, and fault when it takes an exception (then it parks). Given by
 * the portable code that starts CPUs (convert.c), so this layer calls
 * nothing of it by name. */
struct mk_ap_hooks {
    void (*main)(uint32_t slot, uint32_t apic_id);
    void (*fault)(uint32_t slot, uint32_t vector, uint64_t error, uint64_t rip);
};

/* Installs the AP trampoline in the low page trampoline_pa, pointed at the
 * main kernel's AP entry, which then goes to hooks (kept by pointer). */
bool mk_ap_install(uint64_t trampoline_pa, const struct mk_ap_hooks *hooks);

/* On a CPU the main kernel started: sleep (interrupts enabled) while
 * *word == value; returns after a wake-up IPI or a change. */
void mk_ap_wait(const uint32_t *word, uint32_t value);
/* How converted CPUs wait in mk_ap_wait: MONITOR/MWAIT on the word when
 * the sidecar CPUs parked that way (output.use_mwait), so the bare IPI
 * round trip of the bench compares like with like; HLT otherwise. */
void mk_ap_set_mwait(bool on);
bool mk_ap_mwait(void);

/* CR0 of the CPU with this APIC ID when the main kernel started it, once
 * its entry (ap.asm) had turned caching on: CR0.CD and NW must be clear.
 * false when no such CPU was started. */
bool mk_ap_entry_cr0(uint32_t apic_id, uint64_t *cr0);

#endif
