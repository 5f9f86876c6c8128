/* SPDX-License-Identifier: MIT */
/* The bare-metal main kernel's hardware layer: serial, TSC, page tables,
 * GDT/IDT, the local APIC, and starting CPUs (INIT-SIPI-SIPI into the
 * shared trampoline). */
#include <scfree/scfree.h>
#include <scfree/trampoline.h>
#include <scfree/x86.h>

#include "platform.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

#define APIC_ID_REG 0x20
#define APIC_EOI_REG 0xb0
#define APIC_SVR_REG 0xf0
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define X2APIC_MSR(reg) (0x800u + ((reg) >> 4))
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_EXTD (1ull << 10)

#define ICR_NMI 0x400u
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_ASSERT (1u << 14)
#define ICR_PENDING (1u << 12)

extern const char __image_start[], __image_end[];
extern const uint64_t mk_ap_exception_stubs[32];
void mk_ap_entry64(void);
void mk_ap_wake_handler(void);
void mk_ap_spurious_handler(void);
void mk_ap_boot(uint32_t slot) __attribute__((noreturn));
void mk_ap_exception(uint32_t vector, uint64_t error, uint64_t rip) __attribute__((noreturn));
void mk_ap_eoi(void);

const uint32_t mk_ap_max = MK_MAX_APS;

static bool x2apic;
static uint64_t apic_base;
static uint32_t serial_lock;

/* Identity map of 0-4 GiB with 2 MiB pages; the top 32 MiB (local and I/O
 * APIC, firmware) uncached. */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));

static const uint64_t gdt[3] = { 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull };

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};
static struct idt_gate idt[256] __attribute__((aligned(16)));

static void set_gate(unsigned v, uint64_t handler)
{
    idt[v] = (struct idt_gate){ (uint16_t)handler, 0x08, 0, 0x8e, (uint16_t)(handler >> 16),
                                (uint32_t)(handler >> 32), 0 };
}

static void paging_init(void)
{
    for (uint64_t g = 0; g < 4; g++) {
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t pa = (g << 30) | (i << 21);
            uint64_t flags = 0x83;                       /* present, writable, 2 MiB */
            if (pa >= 0xfe000000ull)
                flags |= 0x18;                           /* PCD | PWT */
            pd[g][i] = pa | flags;
        }
        pdpt[g] = (uint64_t)(uintptr_t)pd[g] | 3;
    }
    pml4[0] = (uint64_t)(uintptr_t)pdpt | 3;
    write_cr3((uint64_t)(uintptr_t)pml4);

    struct table_ptr g = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "mov $0x10, %%eax\n\t"
                     "mov %%eax, %%ds\n\t"
                     "mov %%eax, %%es\n\t"
                     "mov %%eax, %%ss\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:"
                     : : "m"(g) : "rax", "memory");

    for (unsigned v = 0; v < 32; v++)
        set_gate(v, mk_ap_exception_stubs[v]);
    set_gate(MK_WAKE_VECTOR, (uint64_t)(uintptr_t)mk_ap_wake_handler);
    set_gate(0xff, (uint64_t)(uintptr_t)mk_ap_spurious_handler);
}

static uint64_t boot_cr3;

uint64_t mk_boot_cr3(void) { return boot_cr3; }
uint64_t mk_own_cr3(void) { return (uint64_t)(uintptr_t)pml4; }

void mk_platform_init(void)
{
    boot_cr3 = read_cr3();   /* the shim's tables, which the main kernel leaves at once */
    serial_init(COM1);
    apic_base = rdmsr(MSR_APIC_BASE) & 0xffffff000ull;
    paging_init();
}

uint64_t mk_image_start(void) { return (uint64_t)(uintptr_t)__image_start; }
uint64_t mk_image_end(void) { return (uint64_t)(uintptr_t)__image_end; }

void mk_set_x2apic(bool on) { x2apic = on; }

void mk_write(const char *s, unsigned long len)
{
    while (__atomic_exchange_n(&serial_lock, 1, __ATOMIC_ACQUIRE))
        cpu_pause();
    serial_write(COM1, s, len);
    __atomic_store_n(&serial_lock, 0, __ATOMIC_RELEASE);
}

uint64_t mk_rdtsc(void) { return rdtsc(); }

bool mk_cpu_has_umip(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7)
        return false;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return c & (1u << 2);
}

void mk_pause(void) { cpu_pause(); }

static volatile uint32_t *apic_reg(uint32_t reg)
{
    return (volatile uint32_t *)(uintptr_t)(apic_base + reg);
}

uint32_t mk_apic_id(void)
{
    if (x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR(APIC_ID_REG));
    return *apic_reg(APIC_ID_REG) >> 24;
}

static void icr_send(uint32_t apic_id, uint32_t low)
{
    if (x2apic) {
        wrmsr(X2APIC_MSR(APIC_ICR_LOW), ((uint64_t)apic_id << 32) | low);
        return;
    }
    *apic_reg(APIC_ICR_HIGH) = apic_id << 24;
    *apic_reg(APIC_ICR_LOW) = low;
    for (unsigned spin = 0; spin < 1000000 && (*apic_reg(APIC_ICR_LOW) & ICR_PENDING); spin++)
        cpu_pause();
}

void mk_send_ipi(uint32_t apic_id, uint32_t vector) { icr_send(apic_id, ICR_ASSERT | (vector & 0xff)); }

void mk_send_nmi(uint32_t apic_id) { icr_send(apic_id, ICR_ASSERT | ICR_NMI); }

void mk_send_init(uint32_t apic_id) { icr_send(apic_id, ICR_ASSERT | ICR_INIT); }

void mk_send_sipi(uint32_t apic_id, uint64_t trampoline_pa)
{
    icr_send(apic_id, ICR_ASSERT | ICR_STARTUP | (uint32_t)((trampoline_pa >> 12) & 0xff));
}

static const struct mk_ap_hooks *ap_hooks;

bool mk_ap_install(uint64_t trampoline_pa, const struct mk_ap_hooks *hooks)
{
    if (!hooks || !hooks->main || !hooks->fault)
        return false;
    __atomic_store_n(&ap_hooks, hooks, __ATOMIC_RELEASE);
    return scfree_trampoline_install((void *)(uintptr_t)trampoline_pa, trampoline_pa,
                                     (uint64_t)(uintptr_t)pml4, (uint64_t)(uintptr_t)mk_ap_entry64);
}

extern uint8_t mk_ap_stacks[];

/* A started CPU's slot, from where its stack is (ap.asm). */
static uint32_t current_slot(void)
{
    uint8_t here;
    return (uint32_t)((uint64_t)(uintptr_t)&here - (uint64_t)(uintptr_t)mk_ap_stacks) / 8192u;
}

/* A started CPU's own set-up: the IDT, its local APIC software-enabled (in
 * the mode it is in: INIT leaves x2APIC mode as it was), then the portable
 * part. */
static uint64_t ap_cr0[MK_MAX_APS];
static uint32_t ap_apic[MK_MAX_APS];
static uint32_t ap_seen[MK_MAX_APS];

bool mk_ap_entry_cr0(uint32_t apic_id, uint64_t *cr0)
{
    for (uint32_t s = 0; s < MK_MAX_APS; s++) {
        if (__atomic_load_n(&ap_seen[s], __ATOMIC_ACQUIRE) && ap_apic[s] == apic_id) {
            *cr0 = ap_cr0[s];
            return true;
        }
    }
    return false;
}

void mk_ap_boot(uint32_t slot)
{
    uint64_t cr0 = read_cr0();
    struct table_ptr i = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(i));
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    bool x2 = (base & APIC_BASE_EXTD) != 0;
    if (x2 != x2apic)   /* one mode for every CPU: reported as a fault */
        mk_ap_exception(0xffffffffu, base, 0);
    uint32_t id;
    if (x2) {
        wrmsr(X2APIC_MSR(APIC_SVR_REG), 0x1ff);      /* enabled, spurious vector 0xff */
        id = (uint32_t)rdmsr(X2APIC_MSR(APIC_ID_REG));
    } else {
        *apic_reg(APIC_SVR_REG) = 0x1ff;
        id = *apic_reg(APIC_ID_REG) >> 24;
    }
    if (slot < MK_MAX_APS) {
        ap_cr0[slot] = cr0;
        ap_apic[slot] = id;
        __atomic_store_n(&ap_seen[slot], 1, __ATOMIC_RELEASE);
    }
    __atomic_load_n(&ap_hooks, __ATOMIC_ACQUIRE)->main(slot, id);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

void mk_ap_eoi(void)
{
    if (x2apic)
        wrmsr(X2APIC_MSR(APIC_EOI_REG), 0);
    else
        *apic_reg(APIC_EOI_REG) = 0;
}

void mk_ap_exception(uint32_t vector, uint64_t error, uint64_t rip)
{
    const struct mk_ap_hooks *hooks = __atomic_load_n(&ap_hooks, __ATOMIC_ACQUIRE);
    if (hooks)
        hooks->fault(current_slot(), vector, error, rip);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

static bool ap_mwait;

void mk_ap_set_mwait(bool on)
{
    __atomic_store_n(&ap_mwait, on, __ATOMIC_RELEASE);
}

bool mk_ap_mwait(void)
{
    return __atomic_load_n(&ap_mwait, __ATOMIC_ACQUIRE);
}

void mk_ap_wait(const uint32_t *word, uint32_t value)
{
    if (__atomic_load_n(&ap_mwait, __ATOMIC_ACQUIRE)) {
        /* A store to the word or an interrupt ends the MWAIT. */
        cpu_cli();
        __asm__ volatile("monitor" : : "a"(word), "c"(0), "d"(0));
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value)
            __asm__ volatile("sti; mwait; cli" : : "a"(0), "c"(0) : "memory");
        return;
    }
    cpu_cli();
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value)
        cpu_sti_hlt();
    cpu_cli();
}

void mk_exit(uint32_t code)
{
    outl(DEBUG_EXIT_PORT, code);
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}
