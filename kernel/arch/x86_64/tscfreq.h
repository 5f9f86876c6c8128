/* SPDX-License-Identifier: MIT */
/* The TSC frequency, for the sidecar kernel (apic.c, boot.c) and the floor
 * kernel (floor/): what CPUID says, where it says it, and a measurement
 * against PIT channel 2 otherwise. Inline arch code, header only, so both
 * images compile it with their own flags. */
#ifndef SK_TSCFREQ_H
#define SK_TSCFREQ_H

#include <stdint.h>

#include <scfree/x86.h>

/* TSC ticks per millisecond from CPUID, 0 when no leaf says it:
 *  - leaf 0x15, the TSC/crystal ratio with the crystal frequency (Intel);
 *  - the hypervisor leaf 0x40000010 (EAX: TSC kHz; KVM with
 *    "vmware-cpuid-freq", VMware, Hyper-V's compatible leaf), when the
 *    hypervisor's maximum leaf (0x40000000.EAX) reaches it;
 *  - leaf 0x16 (base frequency in MHz; on Intel CPUs with an invariant
 *    TSC the TSC runs at it), the coarsest, last.
 * *source names the leaf taken. */
static inline uint64_t tsc_khz_from_cpuid(const char **source)
{
    uint32_t max = cpuid(0, 0).eax;
    if (max >= 0x15) {
        struct cpuid_regs t = cpuid(0x15, 0);
        if (t.eax && t.ebx && t.ecx) {
            *source = "cpuid 0x15";
            return (uint64_t)t.ecx * t.ebx / t.eax / 1000;
        }
    }
    if (cpuid(1, 0).ecx & (1u << 31)) {   /* running under a hypervisor */
        struct cpuid_regs h = cpuid(0x40000000, 0);
        if (h.eax >= 0x40000010 && h.eax < 0x40010000) {
            uint32_t khz = cpuid(0x40000010, 0).eax;
            if (khz) {
                *source = "cpuid 0x40000010";
                return khz;
            }
        }
    }
    if (max >= 0x16) {
        uint32_t mhz = cpuid(0x16, 0).eax & 0xffff;
        if (mhz) {
            *source = "cpuid 0x16";
            return (uint64_t)mhz * 1000;
        }
    }
    return 0;
}

/* PIT channel 2 as a stopwatch: pit_start loads its counter with the
 * largest count (mode 0, counting down at 1.193182 MHz, about 54.9 ms to
 * zero), pit_read latches and reads it, pit_expired tells whether it
 * reached zero (its OUT pin, port 0x61 bit 5). */
#define PIT_HZ 1193182u
#define PIT_FULL 0xffffu

static inline void pit_start(void)
{
    uint8_t gate = inb(0x61);
    outb(0x61, (uint8_t)((gate & ~0x02) | 0x01));   /* gate on, speaker off */
    outb(0x43, 0xb0);                                /* channel 2, lo/hi, mode 0 */
    outb(0x42, (uint8_t)PIT_FULL);
    outb(0x42, (uint8_t)(PIT_FULL >> 8));
}

static inline uint32_t pit_read(void)
{
    outb(0x43, 0x80);                                /* latch channel 2 */
    uint32_t lo = inb(0x42);
    return lo | ((uint32_t)inb(0x42) << 8);
}

static inline int pit_expired(void) { return (inb(0x61) & 0x20) != 0; }

#endif
