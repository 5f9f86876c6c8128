/* Local APIC (xAPIC through the mapped registers, x2APIC through MSRs) and
 * the TSC. */
#include <scfree/x86.h>

#include "apic_icr.h"
#include "kernel.h"

#define XAPIC_ID 0x20
#define XAPIC_EOI 0xb0
#define XAPIC_SVR 0xf0
#define XAPIC_ICR_LOW 0x300
#define XAPIC_ICR_HIGH 0x310
#define XAPIC_LVT_TIMER 0x320

#define X2APIC_MSR(off) (0x800u + ((off) >> 4))

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)
#define SVR_ENABLE (1u << 8)

/* The xAPIC registers: through the shim's identity map on the BSP (which
 * runs on the shim's page tables), through the per-CPU window (SLOT_APIC)
 * on APs. */
static volatile uint32_t *reg(uint32_t off)
{
    uint64_t base = read_cr3() == sk_g.shim_cr3 ? sk_g.apic_base : SLOT_VA(SLOT_APIC);
    return (volatile uint32_t *)(uintptr_t)(base + off);
}

static uint32_t rd(uint32_t off)
{
    if (sk_g.x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR(off));
    return *reg(off);
}

static void wr(uint32_t off, uint32_t v)
{
    if (sk_g.x2apic)
        wrmsr(X2APIC_MSR(off), v);
    else
        *reg(off) = v;
}

static void enable(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    base |= APIC_BASE_ENABLE;
    if (sk_g.x2apic)
        base |= APIC_BASE_X2APIC;
    wrmsr(MSR_APIC_BASE, base);
    wr(XAPIC_SVR, SVR_ENABLE | SIDECAR_SPURIOUS_VECTOR);
}

#define MSR_TSC_DEADLINE 0x6e0u
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define LVT_MASKED (1u << 16)
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

/* What the BSP had before: restored by apic_restore_bsp. */
static uint32_t bsp_lvt_timer;
static uint8_t bsp_pic_mask[2];

/* The BSP may sleep (sti; hlt) while it waits: the legacy PIC is masked so
 * that no firmware-programmed IRQ arrives on a vector our IDT treats as an
 * exception, and its timer is set up for TSC-deadline wake-ups. */
void apic_init_bsp(void)
{
    sk_g.apic_base = rdmsr(MSR_APIC_BASE) & PTE_ADDR;
    enable();
    bsp_pic_mask[0] = inb(PIC1_DATA);
    bsp_pic_mask[1] = inb(PIC2_DATA);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
    bsp_lvt_timer = rd(XAPIC_LVT_TIMER);
    if (sk_g.tsc_deadline)
        wr(XAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | SK_WAKE_VECTOR);
}

void apic_restore_bsp(void)
{
    if (sk_g.tsc_deadline)
        wrmsr(MSR_TSC_DEADLINE, 0);
    wr(XAPIC_LVT_TIMER, bsp_lvt_timer | LVT_MASKED);
    outb(PIC2_DATA, bsp_pic_mask[1]);
    outb(PIC1_DATA, bsp_pic_mask[0]);
}

void apic_init_ap(void)
{
    enable();
    if (sk_g.tsc_deadline)
        wr(XAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | SK_WAKE_VECTOR);
    else
        wr(XAPIC_LVT_TIMER, LVT_MASKED);
}

/* One wake-up at TSC value tsc (0 disarms). */
void apic_arm_deadline(uint64_t tsc)
{
    wrmsr(MSR_TSC_DEADLINE, tsc);
}

uint32_t apic_read_id(void)
{
    uint32_t id = rd(XAPIC_ID);
    return sk_g.x2apic ? id : id >> 24;
}

bool apic_send(uint32_t apic_id, uint32_t low)
{
    if (sk_g.x2apic) {
        if (!icr_x2apic_dest_ok(apic_id))
            return false;   /* the broadcast ID: never (a host-written response_cpu) */
        wrmsr(X2APIC_MSR(XAPIC_ICR_LOW), icr_x2apic(apic_id, low));
        return true;
    }
    uint32_t high;
    if (!icr_xapic_high(apic_id, &high))
        return false;
    *reg(XAPIC_ICR_HIGH) = high;
    *reg(XAPIC_ICR_LOW) = low;
    for (unsigned spin = 0; spin < 1000000 && (*reg(XAPIC_ICR_LOW) & ICR_DELIVERY_PENDING); spin++)
        cpu_pause();
    return true;
}

void apic_eoi(void)
{
    wr(XAPIC_EOI, 0);
}

/* The in-service bit of vector: set while the CPU handles an interrupt
 * the local APIC delivered on it (until the EOI), never for an exception.
 * In x2APIC mode through the safe RDMSR: an AP that faults before it has
 * switched its APIC to x2APIC mode must not fault again here. */
#define XAPIC_ISR 0x100
bool apic_in_service(uint8_t vector)
{
    uint32_t off = XAPIC_ISR + (vector / 32u) * 0x10u;
    uint32_t word;
    if (sk_g.x2apic) {
        uint64_t v;
        if (!sk_rdmsr_safe(X2APIC_MSR(off), &v))
            return false;
        word = (uint32_t)v;
    } else {
        word = *reg(off);
    }
    return (word >> (vector % 32u)) & 1u;
}

void apic_quiesce(void)
{
    wr(XAPIC_LVT_TIMER, LVT_MASKED);
    wr(XAPIC_SVR, SIDECAR_SPURIOUS_VECTOR);   /* software-disabled */
}

/* One measurement: TSC ticks while PIT channel 2 counts down ms
 * milliseconds. A vCPU that is descheduled after the PIT expired but before
 * it looked only makes the result larger, never smaller. */
static uint64_t pit_measure(uint32_t ms)
{
    const uint32_t count = 1193182u * ms / 1000;
    uint8_t gate = inb(0x61);
    outb(0x61, (uint8_t)((gate & ~0x02) | 0x01));
    outb(0x43, 0xb0);               /* channel 2, lo/hi, mode 0 */
    outb(0x42, (uint8_t)count);
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t t0 = rdtsc();
    for (uint64_t spin = 0; spin < 100000000ull && !(inb(0x61) & 0x20); spin++)
        ;
    uint64_t t1 = rdtsc();
    outb(0x61, gate);
    return (t1 - t0) / ms;
}

/* TSC ticks per millisecond: CPUID leaf 0x15 when it gives the crystal
 * frequency; otherwise the smallest of three 2 ms measurements against PIT
 * channel 2 (better than 0.1 % each, which is all the timeouts and the
 * report need; the smallest, because a busy host can only inflate one). */
uint64_t tsc_calibrate_khz(void)
{
    struct cpuid_regs r = cpuid(0, 0);
    if (r.eax >= 0x15) {
        struct cpuid_regs t = cpuid(0x15, 0);
        if (t.eax && t.ebx && t.ecx)
            return (uint64_t)t.ecx * t.ebx / t.eax / 1000;
    }
    uint64_t khz = ~0ull;
    for (int i = 0; i < 3; i++) {
        uint64_t k = pit_measure(2);
        if (k && k < khz)
            khz = k;
    }
    return khz != ~0ull ? khz : 1000000;     /* never zero: assume 1 GHz */
}

void tsc_delay(uint64_t ticks)
{
    uint64_t end = rdtsc() + ticks;
    while (rdtsc() < end)
        cpu_pause();
}
