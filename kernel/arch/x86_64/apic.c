/* SPDX-License-Identifier: MIT */
/* Local APIC (xAPIC through the mapped registers, x2APIC through MSRs) and
 * the TSC. */
#include <scfree/x86.h>

#include "apic_icr.h"
#include "kernel.h"
#include "tscfreq.h"

#define XAPIC_ID 0x20
#define XAPIC_EOI 0xb0
#define XAPIC_SVR 0xf0
#define XAPIC_ICR_LOW 0x300
#define XAPIC_ICR_HIGH 0x310
#define XAPIC_LVT_TIMER 0x320
#define XAPIC_TIMER_INITIAL 0x380
#define XAPIC_TIMER_DIVIDE 0x3e0

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
#define TIMER_DIVIDE_BY_1 0xbu

/* Without TSC deadline (QEMU's TCG has none) a sleeping CPU is woken by
 * the APIC timer, one shot, divide by 1, after this many bus cycles: 1 ms
 * on QEMU's 1 GHz APIC bus, 5-40 ms on hardware's 25-200 MHz. It is only
 * the safety net of a wait (the check-in IPI is what wakes a starter) and
 * every deadline is checked against the TSC after the wake-up, so its
 * rate needs no calibration. */
#define APIC_TIMER_WAKE_COUNT 1000000u

/* What the BSP had before: restored by apic_restore_bsp. */
static uint32_t bsp_lvt_timer;
static uint8_t bsp_pic_mask[2];

/* The wake-up timer: TSC deadline where the CPU has it, else the APIC
 * timer in one-shot mode, both on SK_WAKE_VECTOR. */
static void timer_init(void)
{
    if (sk_g.tsc_deadline) {
        wr(XAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | SK_WAKE_VECTOR);
        return;
    }
    wr(XAPIC_TIMER_INITIAL, 0);
    wr(XAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
    wr(XAPIC_LVT_TIMER, SK_WAKE_VECTOR);   /* one shot */
}

/* The BSP may sleep (sti; hlt) while it waits: the legacy PIC is masked so
 * that no firmware-programmed IRQ arrives on a vector our IDT treats as an
 * exception, and its timer is set up for wake-ups. */
void apic_init_bsp(void)
{
    sk_g.apic_base = rdmsr(MSR_APIC_BASE) & PTE_ADDR;
    enable();
    bsp_pic_mask[0] = inb(PIC1_DATA);
    bsp_pic_mask[1] = inb(PIC2_DATA);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
    bsp_lvt_timer = rd(XAPIC_LVT_TIMER);
    timer_init();
}

void apic_restore_bsp(void)
{
    apic_arm_deadline(0);
    wr(XAPIC_LVT_TIMER, bsp_lvt_timer | LVT_MASKED);
    outb(PIC2_DATA, bsp_pic_mask[1]);
    outb(PIC1_DATA, bsp_pic_mask[0]);
}

void apic_init_ap(void)
{
    enable();
    timer_init();
}

/* One wake-up at TSC value tsc (0 disarms); with the APIC timer, about
 * APIC_TIMER_WAKE_COUNT bus cycles from now, whatever tsc says. */
void apic_arm_deadline(uint64_t tsc)
{
    if (sk_g.tsc_deadline)
        wrmsr(MSR_TSC_DEADLINE, tsc);
    else
        wr(XAPIC_TIMER_INITIAL, tsc ? APIC_TIMER_WAKE_COUNT : 0);
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

/* The TSC rate without a fixed cost before the first INIT (docs/boot.md
 * section 3): tsc_calibrate_start takes it from CPUID where a leaf says it;
 * otherwise it starts PIT channel 2 as a stopwatch and returns a
 * provisional rate, and tsc_calibrate_poll, called by the BSP whenever it
 * wakes during the bring-up, replaces it once at least 2 ms of PIT time
 * have passed (the PIT counts 54.9 ms before it expires; a BSP that
 * slept past that starts over). The provisional rate is a 5 GHz TSC: a
 * slower TSC only makes the timeouts computed from it longer. */
#define PROVISIONAL_KHZ 5000000u

static uint64_t calib_tsc0;
static uint8_t calib_gate;

uint64_t tsc_calibrate_start(const char **source)
{
    uint64_t khz = tsc_khz_from_cpuid(source);
    if (khz) {
        sk_g.calibrating = false;
        return khz;
    }
    *source = "pit";
    calib_gate = inb(0x61);
    pit_start();
    calib_tsc0 = rdtsc();
    sk_g.calibrating = true;
    return PROVISIONAL_KHZ;
}

bool tsc_calibrate_poll(void)
{
    if (!sk_g.calibrating)
        return true;
    uint64_t a = rdtsc();
    uint32_t left = pit_read();
    uint64_t b = rdtsc();
    if (pit_expired()) {
        pit_start();
        calib_tsc0 = rdtsc();
        return false;
    }
    uint32_t ticks = PIT_FULL - left;
    /* Under 2 ms, or the read itself took over 20 us (at the provisional
     * rate; the vCPU was descheduled): not yet. */
    if (ticks < PIT_HZ / 500u || b - a > PROVISIONAL_KHZ / 50u)
        return false;
    sk_g.tsc_khz = ((a + b) / 2 - calib_tsc0) * PIT_HZ / ticks / 1000;
    sk_g.calibrating = false;
    outb(0x61, calib_gate);
    return true;
}

void tsc_delay(uint64_t ticks)
{
    uint64_t end = rdtsc() + ticks;
    while (rdtsc() < end)
        cpu_pause();
}
