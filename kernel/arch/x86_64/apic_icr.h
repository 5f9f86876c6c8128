/* SPDX-License-Identifier: MIT */
/* Local APIC interrupt command register (ICR) encoding, for xAPIC and
 * x2APIC. Pure functions, unit-tested natively (tests/arch). Facts from the
 * Intel SDM vol. 3A, "Interrupt Command Register". */
#ifndef SK_APIC_ICR_H
#define SK_APIC_ICR_H

#include <stdbool.h>
#include <stdint.h>

enum icr_delivery {
    ICR_FIXED = 0,
    ICR_NMI = 4,
    ICR_INIT = 5,
    ICR_STARTUP = 6,
};

#define ICR_DELIVERY_SHIFT 8
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_DELIVERY_PENDING (1u << 12)

/* The low 32 bits (vector, delivery mode, level, trigger). Physical
 * destination mode, no shorthand. */
static inline uint32_t icr_low(enum icr_delivery mode, uint8_t vector)
{
    uint32_t v = ((uint32_t)mode << ICR_DELIVERY_SHIFT) | vector;
    if (mode == ICR_INIT)
        v |= ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL;
    else
        v |= ICR_LEVEL_ASSERT;
    return v;
}

/* xAPIC: the high dword (written first, at offset 0x310) holds the 8-bit
 * destination in bits 31:24. Returns false when dest does not fit, or is
 * 0xff, the broadcast ID: this kernel addresses one CPU at a time. */
#define ICR_XAPIC_BROADCAST 0xffu
#define ICR_X2APIC_BROADCAST 0xffffffffu
static inline bool icr_xapic_high(uint32_t dest, uint32_t *high)
{
    if (dest >= ICR_XAPIC_BROADCAST)
        return false;
    *high = dest << 24;
    return true;
}

/* x2APIC: one 64-bit write to MSR 0x830 with the 32-bit destination in
 * bits 63:32 (the caller refuses ICR_X2APIC_BROADCAST, icr_x2apic_dest_ok). */
static inline bool icr_x2apic_dest_ok(uint32_t dest) { return dest != ICR_X2APIC_BROADCAST; }
static inline uint64_t icr_x2apic(uint32_t dest, uint32_t low)
{
    return ((uint64_t)dest << 32) | low;
}

/* The startup IPI vector is the trampoline's page number (below 1 MiB). */
static inline bool icr_sipi_vector(uint64_t trampoline_pa, uint8_t *vector)
{
    if ((trampoline_pa & 0xfff) || trampoline_pa == 0 || trampoline_pa >= 0x100000)
        return false;
    *vector = (uint8_t)(trampoline_pa >> 12);
    return true;
}

#endif
