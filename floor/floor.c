/* SPDX-License-Identifier: MIT */
/* The floor kernel: the least any kernel must do to bring up its APs, as
 * the denominator of the bring-up benchmark (tests/bench/bringup.py,
 * docs/benchmarks.md).
 *
 * It boots like the shim (QEMU -kernel, Multiboot, the shim's entry.asm:
 * long mode on an identity map of 0-4 GiB, then shim_main below), reads the
 * CPUs from ACPI with the shim's own parser, and starts every AP with the
 * sidecar kernel's fan-out: the BSP and every AP that comes up claim the
 * next CPU from one atomic counter and send it INIT-SIPI (a second SIPI
 * when it has not checked in after about 1 ms), so the number of CPUs
 * running doubles every round. An AP reaches 64-bit code through the same
 * trampoline, enables its local APIC, checks in (a store, and a wake-up
 * IPI to its starter), starts its share of the others and halts. Nothing
 * else: no page tables of its own (every CPU runs on the boot tables), no
 * GDT or TSS, an IDT only for the wake-up vector, no TSC calibration before
 * or during the bring-up (the TSC rate is taken after it, for the report).
 *
 * Waiting: like the sidecar kernel, a starter sleeps in HLT until its
 * CPU's check-in IPI (or a TSC-deadline wake-up; the CPUs otherwise spin);
 * "floor.wait=spin" on the command line makes every starter spin instead.
 * "floor.phantom_apic=ID" adds a CPU that does not exist (the no-answer
 * path, for the test).
 *
 * Serial: "floor: starting N CPUs", "floor: done ..." (the wall-time
 * marks) and one "FLOOR-REPORT {json}" line; exit through isa-debug-exit
 * with 0x10 (QEMU exit status 33) when every AP checked in, 0x11 (35)
 * otherwise. */
#include <scfree/scfree.h>
#include <scfree/trampoline.h>
#include <scfree/x86.h>
#include <shim/core.h>

#include "apic_icr.h"
#include <shim/multiboot.h>
#include "tscfreq.h"

#define COM1 0x3f8
#define EXIT_PORT 0xf4
#define EXIT_OK 0x10
#define EXIT_FAILED 0x11
#define FLOOR_STACK 2048u              /* entry.asm */
#define WAKE_VECTOR 0xf0u
#define SPURIOUS_VECTOR 0xffu
#define TRAMPOLINE_PA 0x10000ull

/* Bounds in TSC ticks, so that nothing needs the TSC rate before the
 * bring-up: about 1 ms (second SIPI) and about 5 s (no answer) at 2 GHz,
 * longer on a faster TSC. */
#define SECOND_SIPI_TICKS 2000000ull
#define TIMEOUT_TICKS 10000000000ull

enum { F_WAITING, F_STARTING, F_UP, F_FAILED, F_BSP };

/* One CPU, by MADT index; entry.asm searches apic_id (first, 32 bytes). */
struct floor_cpu {
    uint32_t apic_id;
    uint32_t state;
    uint32_t started_by;
    uint8_t round;
    uint8_t pad[3];
    uint64_t start_tsc;                /* ticks from t0 to its INIT */
    uint64_t checkin_tsc;              /* ticks from t0 to its check-in */
};
_Static_assert(sizeof(struct floor_cpu) == 32, "entry.asm: ENTRY_SIZE");

struct floor_cpu floor_cpus[SHIM_MAX_CPUS];
uint32_t floor_cpu_count;
uint8_t floor_stacks[SHIM_MAX_CPUS][FLOOR_STACK] __attribute__((aligned(16)));

void floor_ap_entry64(void);
void floor_ap_main(uint32_t cpu) __attribute__((noreturn));
void shim_main(uint32_t magic, uint64_t info_pa);

static struct shim_topology topo;
static uint32_t next_claim;
static uint64_t t0;
static uint64_t apic_base;
static bool x2apic, tsc_deadline, sleep_wait;

static uint32_t load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static bool cas32(uint32_t *p, uint32_t old, uint32_t v)
{
    return __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* ---- output ----------------------------------------------------------- */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    serial_write(COM1, line, n);
}

static __attribute__((noreturn)) void die(const char *why)
{
    out("floor: FATAL: %s\n", why);
    qemu_exit(EXIT_PORT, 0x7f);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

/* ---- local APIC ------------------------------------------------------- */

#define APIC_EOI 0xb0u
#define APIC_SVR 0xf0u
#define APIC_ICR_LOW 0x300u
#define APIC_ICR_HIGH 0x310u
#define APIC_LVT_TIMER 0x320u
#define APIC_TIMER_INITIAL 0x380u
#define APIC_TIMER_DIVIDE 0x3e0u
#define MSR_TSC_DEADLINE 0x6e0u
/* The wake-up without TSC deadline (QEMU's TCG has none): the APIC timer,
 * one shot, divide by 1; 10^6 bus cycles are 1 ms on QEMU's 1 GHz APIC
 * bus, 5-40 ms on hardware. Only a safety net: the check-in IPI is what
 * wakes a starter, and every deadline is checked against the TSC. */
#define APIC_WAKE_COUNT 1000000u

static uint32_t apic_rd(uint32_t off)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x800u + (off >> 4));
    return *(volatile uint32_t *)(uintptr_t)(apic_base + off);
}

static void apic_wr(uint32_t off, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800u + (off >> 4), v);
    else
        *(volatile uint32_t *)(uintptr_t)(apic_base + off) = v;
}

static void apic_enable(void)
{
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1ull << 11) | (x2apic ? 1ull << 10 : 0));
    apic_wr(APIC_SVR, 0x100u | SPURIOUS_VECTOR);
    if (!sleep_wait) {
        apic_wr(APIC_LVT_TIMER, 1u << 16);   /* masked */
        return;
    }
    apic_wr(APIC_TIMER_DIVIDE, 0xb);          /* divide by 1 */
    apic_wr(APIC_LVT_TIMER, tsc_deadline ? (2u << 17) | WAKE_VECTOR : WAKE_VECTOR);
}

/* One wake-up at (or, with the APIC timer, about) TSC value until; 0 disarms. */
static void arm_wake(uint64_t until)
{
    if (tsc_deadline)
        wrmsr(MSR_TSC_DEADLINE, until);
    else
        apic_wr(APIC_TIMER_INITIAL, until ? APIC_WAKE_COUNT : 0);
}

static void apic_send(uint32_t dest, uint32_t low)
{
    if (x2apic) {
        wrmsr(0x800u + (APIC_ICR_LOW >> 4), icr_x2apic(dest, low));
        return;
    }
    uint32_t high = 0;
    (void)icr_xapic_high(dest, &high);   /* checked when the table was filled */
    apic_wr(APIC_ICR_HIGH, high);
    apic_wr(APIC_ICR_LOW, low);
    for (unsigned spin = 0; spin < 1000000 && (apic_rd(APIC_ICR_LOW) & ICR_DELIVERY_PENDING); spin++)
        cpu_pause();
}

/* ---- the one IDT: the wake-up vector and the spurious vector ------------ */

struct __attribute__((packed)) gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));
static struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr;

struct interrupt_frame;
__attribute__((interrupt)) static void wake_isr(struct interrupt_frame *f)
{
    (void)f;
    apic_wr(APIC_EOI, 0);
}

__attribute__((interrupt)) static void spurious_isr(struct interrupt_frame *f) { (void)f; }

static void set_gate(unsigned v, void (*fn)(struct interrupt_frame *))
{
    uint64_t a = (uint64_t)(uintptr_t)fn;
    idt[v] = (struct gate){ (uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0 };
}

static void load_idt(void) { __asm__ volatile("lidt %0" : : "m"(idtr)); }

/* ---- the fan-out ------------------------------------------------------- */

/* Waits until the started CPU leaves F_STARTING or the TSC reaches until:
 * asleep (HLT, woken by its check-in IPI or the TSC deadline) or spinning. */
static bool wait_checkin(struct floor_cpu *e, uint64_t until)
{
    while (load32(&e->state) == F_STARTING) {
        if (rdtsc() >= until)
            return false;
        if (sleep_wait) {
            arm_wake(until);
            cpu_cli();
            if (load32(&e->state) == F_STARTING)
                cpu_sti_hlt();
            cpu_cli();
        } else {
            cpu_pause();
        }
    }
    return true;
}

static void start_cpu(uint32_t c, uint32_t self, uint8_t round)
{
    struct floor_cpu *e = &floor_cpus[c];
    e->started_by = self;
    e->round = (uint8_t)(round + 1);
    e->start_tsc = rdtsc() - t0;
    uint8_t vector = (uint8_t)(TRAMPOLINE_PA >> 12);
    apic_send(e->apic_id, icr_low(ICR_INIT, 0));
    apic_send(e->apic_id, icr_low(ICR_STARTUP, vector));
    uint64_t sent = rdtsc();
    if (!wait_checkin(e, sent + SECOND_SIPI_TICKS))
        apic_send(e->apic_id, icr_low(ICR_STARTUP, vector));
    if (!wait_checkin(e, sent + TIMEOUT_TICKS))
        (void)cas32(&e->state, F_STARTING, F_FAILED);
}

static void fan_out(uint32_t self, uint8_t round)
{
    for (;;) {
        uint32_t c = __atomic_fetch_add(&next_claim, 1, __ATOMIC_ACQ_REL);
        if (c >= floor_cpu_count)
            return;
        if (cas32(&floor_cpus[c].state, F_WAITING, F_STARTING))
            start_cpu(c, self, round);
    }
}

void floor_ap_main(uint32_t cpu)
{
    struct floor_cpu *e = &floor_cpus[cpu];
    apic_enable();
    if (sleep_wait)
        load_idt();
    e->checkin_tsc = rdtsc() - t0;
    if (!cas32(&e->state, F_STARTING, F_UP))
        for (;;) {   /* the starter gave up on us */
            cpu_cli();
            cpu_hlt();
        }
    if (sleep_wait)
        apic_send(floor_cpus[e->started_by].apic_id, icr_low(ICR_FIXED, WAKE_VECTOR));
    fan_out(cpu, e->round);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

/* ---- the BSP ----------------------------------------------------------- */

static const void *map_phys(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    if (len > (1ull << 32) || pa >= (1ull << 32) - len)
        return NULL;
    return (const void *)(uintptr_t)pa;
}

static const struct shim_mem phys = { map_phys, NULL };

/* The command line's value of key ("key=value"), or NULL. */
static const char *option(const char *cmdline, const char *key)
{
    size_t kn = sc_strnlen(key, 64);
    for (const char *s = cmdline; s && *s; s++) {
        if ((s == cmdline || s[-1] == ' ') && !sc_memcmp(s, key, kn) && s[kn] == '=')
            return s + kn + 1;
    }
    return NULL;
}

static const char *read_multiboot(uint32_t magic, uint64_t info_pa)
{
    if (magic != MULTIBOOT_LOADER_MAGIC)
        die("not started by a Multiboot loader");
    const struct mb_info *mb = map_phys(NULL, info_pa, sizeof(*mb));
    if (!mb)
        die("Multiboot information unreadable");
    /* The trampoline page must be usable RAM. */
    bool usable = false;
    if (mb->flags & MB_INFO_MMAP) {
        uint64_t p = mb->mmap_addr, end = (uint64_t)mb->mmap_addr + mb->mmap_length;
        while (p + sizeof(struct mb_mmap_entry) <= end) {
            const struct mb_mmap_entry *e = map_phys(NULL, p, sizeof(*e));
            if (!e || e->size < 20)
                break;
            usable |= e->type == 1 && e->addr <= TRAMPOLINE_PA && TRAMPOLINE_PA + 4096 <= e->addr + e->len;
            p += (uint64_t)e->size + 4;
        }
    }
    if (!usable)
        die("the trampoline page (0x10000) is not usable RAM in the loader's memory map");
    if ((mb->flags & MB_INFO_CMDLINE) && map_phys(NULL, mb->cmdline, 4096))
        return (const char *)(uintptr_t)mb->cmdline;
    return "";
}

static uint64_t parse_u32(const char *s, bool *ok)
{
    uint64_t v = 0;
    *ok = s && *s >= '0' && *s <= '9';
    for (; s && *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    *ok = *ok && v <= 0xffffffffull && (!*s || *s == ' ');
    return v;
}

/* The TSC rate, after the bring-up (only the report needs it): CPUID where
 * it says it, else the smallest of three 2 ms measurements against PIT
 * channel 2, as the sidecar kernel measured before it overlapped this. */
static uint64_t report_khz(const char **source)
{
    uint64_t khz = tsc_khz_from_cpuid(source);
    if (khz)
        return khz;
    *source = "pit";
    khz = ~0ull;
    for (int i = 0; i < 3; i++) {
        pit_start();
        uint64_t a = rdtsc();
        while (PIT_FULL - pit_read() < PIT_HZ / 500u && !pit_expired())
            ;
        uint32_t ticks = PIT_FULL - pit_read();
        uint64_t b = rdtsc();
        uint64_t k = ticks ? (b - a) * PIT_HZ / ticks / 1000 : 0;
        if (k && k < khz)
            khz = k;
    }
    return khz != ~0ull ? khz : 1000000;
}

void shim_main(uint32_t magic, uint64_t info_pa)
{
    const char *cmdline = read_multiboot(magic, info_pa);
    const char *w = option(cmdline, "floor.wait");
    sleep_wait = !(w && !sc_memcmp(w, "spin", 4));
    char err[SHIM_ERR_SIZE];
    uint64_t rsdp = 0;
    if (shim_acpi_find_rsdp(&phys, &rsdp) != SHIM_OK || shim_acpi_parse(&phys, rsdp, &topo, err) != SHIM_OK)
        die("ACPI: no usable MADT");
    const char *ph = option(cmdline, "floor.phantom_apic");
    if (ph) {
        bool ok;
        uint32_t id = (uint32_t)parse_u32(ph, &ok);
        if (!ok || topo.cpu_count >= SHIM_MAX_CPUS)
            die("floor.phantom_apic: not an APIC ID, or no room");
        topo.cpus[topo.cpu_count++] = (struct shim_cpu){ id, id, 0 };
        out("floor: test: a phantom CPU with APIC ID %u\n", id);
    }
    struct cpuid_regs f1 = cpuid(1, 0);
    x2apic = f1.ecx & (1u << 21);
    tsc_deadline = f1.ecx & (1u << 24);
    uint32_t bsp_apic = f1.ebx >> 24;
    if (cpuid(0, 0).eax >= 0xb && cpuid(0xb, 0).ebx)
        bsp_apic = cpuid(0xb, 0).edx;
    apic_base = rdmsr(MSR_APIC_BASE) & 0xfffff000ull;
    uint32_t bsp = SHIM_MAX_CPUS, aps = 0;
    floor_cpu_count = topo.cpu_count;
    for (uint32_t c = 0; c < topo.cpu_count; c++) {
        struct floor_cpu *e = &floor_cpus[c];
        e->apic_id = topo.cpus[c].apic_id;
        e->started_by = ~0u;
        uint32_t high;
        bool addressable = x2apic ? icr_x2apic_dest_ok(e->apic_id) : icr_xapic_high(e->apic_id, &high);
        if (e->apic_id == bsp_apic) {
            e->state = F_BSP;
            bsp = c;
        } else {
            e->state = addressable ? F_WAITING : F_FAILED;
            aps++;
        }
    }
    if (bsp == SHIM_MAX_CPUS)
        die("the boot CPU is not in the MADT");

    out("floor: starting %u CPUs (%s, %s waits)\n", aps, x2apic ? "x2apic" : "xapic",
        !sleep_wait ? "spinning" : tsc_deadline ? "hlt, TSC deadline" : "hlt, APIC timer");
    /* The clock starts where the sidecar kernel's does (its entry, right
     * after the shim's "starting" line): what a starter needs comes first,
     * its APIC, the wake-up vector, the trampoline. */
    t0 = rdtsc();
    outb(0x21, 0xff);   /* no legacy PIC interrupt while the BSP sleeps */
    outb(0xa1, 0xff);
    set_gate(WAKE_VECTOR, wake_isr);
    set_gate(SPURIOUS_VECTOR, spurious_isr);
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint64_t)(uintptr_t)idt;
    if (sleep_wait)
        load_idt();
    apic_enable();
    if (!scfree_trampoline_install((void *)(uintptr_t)TRAMPOLINE_PA, TRAMPOLINE_PA, read_cr3(),
                                   (uint64_t)(uintptr_t)floor_ap_entry64))
        die("cannot install the trampoline");
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    fan_out(bsp, 0);
    for (;;) {
        uint32_t pending = 0;
        for (uint32_t c = 0; c < floor_cpu_count; c++) {
            uint32_t s = load32(&floor_cpus[c].state);
            pending += s == F_WAITING || s == F_STARTING;
        }
        if (!pending)
            break;
        if (sleep_wait) {
            arm_wake(rdtsc() + SECOND_SIPI_TICKS / 5);
            cpu_sti_hlt();
            cpu_cli();
        } else {
            cpu_pause();
        }
    }
    /* The bring-up ends at the last check-in (the BSP, asleep, may notice
     * later), as the sidecar kernel's ends at the last IDLE; or now when
     * a CPU failed. */
    uint64_t bringup = 0;
    if (sleep_wait)
        arm_wake(0);
    uint32_t up = 0, failed = 0, rounds = 0;
    for (uint32_t c = 0; c < floor_cpu_count; c++) {
        const struct floor_cpu *e = &floor_cpus[c];
        up += e->state == F_UP;
        failed += e->state == F_FAILED;
        if (e->state == F_UP && e->round > rounds)
            rounds = e->round;
        if (e->state == F_UP && e->checkin_tsc > bringup)
            bringup = e->checkin_tsc;
    }
    if (failed)
        bringup = rdtsc() - t0;
    out("floor: done: %u checked in, %u failed, %lu TSC ticks\n", up, failed, bringup);

    const char *source = "";
    uint64_t khz = report_khz(&source);
    uint64_t first_init = ~0ull;
    for (uint32_t c = 0; c < floor_cpu_count; c++)
        if (floor_cpus[c].state == F_UP && floor_cpus[c].start_tsc < first_init)
            first_init = floor_cpus[c].start_tsc;
    if (first_init == ~0ull)
        first_init = 0;
    out("FLOOR-REPORT {\"cpus\":%u,\"aps\":%u,\"checked_in\":%u,\"failed\":%u,\"rounds\":%u,"
        "\"apic_mode\":\"%s\",\"wait\":\"%s\",\"tsc_khz\":%lu,\"tsc_source\":\"%s\",\"bringup_tsc\":%lu,"
        "\"bringup_us\":%lu,\"first_init_us\":%lu,\"failed_apic\":[",
        floor_cpu_count, aps, up, failed, rounds, x2apic ? "x2apic" : "xapic",
        sleep_wait ? "hlt" : "spin", khz, source, bringup, bringup * 1000 / khz,
        first_init * 1000 / khz);
    for (uint32_t c = 0, first = 1; c < floor_cpu_count; c++) {
        if (floor_cpus[c].state != F_FAILED)
            continue;
        out("%s%u", first ? "" : ",", floor_cpus[c].apic_id);
        first = 0;
    }
    /* Every AP: [cpu, apic_id, round, started_by, init_us, checkin_us]
     * (checkin_us 0 when it never checked in). */
    out("],\"timeline\":[");
    for (uint32_t c = 0, first = 1; c < floor_cpu_count; c++) {
        const struct floor_cpu *e = &floor_cpus[c];
        if (c == bsp)
            continue;
        out("%s[%u,%u,%u,%d,%lu,%lu]", first ? "" : ",", c, e->apic_id, e->round,
            e->started_by == ~0u ? -1 : (int)e->started_by, e->start_tsc * 1000 / khz,
            e->state == F_UP ? e->checkin_tsc * 1000 / khz : 0);
        first = 0;
    }
    out("]}\n");
    qemu_exit(EXIT_PORT, failed || up != aps ? EXIT_FAILED : EXIT_OK);
    die("isa-debug-exit did not end QEMU");
}
