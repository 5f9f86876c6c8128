#include <scfree/x86.h>

#include "platform.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

static bool x2apic;
static uint64_t apic_base;

void mk_platform_init(void)
{
    serial_init(COM1);
    apic_base = rdmsr(MSR_APIC_BASE) & 0xffffff000ull;
}

void mk_set_x2apic(bool on) { x2apic = on; }

void mk_write(const char *s, unsigned long len) { serial_write(COM1, s, len); }

uint64_t mk_rdtsc(void) { return rdtsc(); }

void mk_pause(void) { cpu_pause(); }

uint32_t mk_apic_id(void)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x802);
    return *(volatile uint32_t *)(uintptr_t)(apic_base + 0x20) >> 24;
}

void mk_send_ipi(uint32_t apic_id, uint32_t vector)
{
    uint32_t low = (1u << 14) | (vector & 0xff);   /* fixed, assert, physical */
    if (x2apic) {
        wrmsr(0x830, ((uint64_t)apic_id << 32) | low);
        return;
    }
    volatile uint32_t *icr_high = (volatile uint32_t *)(uintptr_t)(apic_base + 0x310);
    volatile uint32_t *icr_low = (volatile uint32_t *)(uintptr_t)(apic_base + 0x300);
    *icr_high = apic_id << 24;
    *icr_low = low;
    for (unsigned spin = 0; spin < 1000000 && (*icr_low & (1u << 12)); spin++)
        cpu_pause();
}

void mk_exit(uint32_t code)
{
    outl(DEBUG_EXIT_PORT, code);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}
