/* SPDX-License-Identifier: MIT */
/* The sidecar kernel's x86-64 internals: shared tables in the kernel image
 * (visible to every CPU) and the per-CPU page. */
#ifndef SK_KERNEL_H
#define SK_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/kboot.h>
#include <sidecar/svm.h>
#include <sidecar/vp.h>
#include <sidecar_config.h>

#include "layout.h"

#define SK_MAX_CPUS SIDECAR_CONFIG_MAX_CPUS

/* Start-up state of a CPU (sk_cpu_entry.state), changed with atomics. */
enum {
    KS_IDLE_MAIN = 0,    /* main-kernel CPU: never started by us */
    KS_WAITING,          /* sidecar CPU, not yet claimed */
    KS_STARTING,         /* a starter sent INIT-SIPI-SIPI and waits */
    KS_UP,               /* the CPU checked in (sk_ap_build_tables, before it writes anything) */
    KS_READY,            /* the CPU is IDLE in its dispatch loop */
    KS_ABANDONED,        /* the starter gave up (no answer) */
    KS_FAILED,           /* the CPU took an exception and parked */
};

/* What the AP entry code searches: 16 bytes, layout fixed by entry.asm. */
struct sk_ap_slot {
    uint32_t apic_id;
    uint32_t cpu;           /* CPU index */
    uint64_t boot_stack;    /* physical top of its kernel stack: sk_ap_build_tables runs on it */
};

/* Everything the kernel knows about one CPU, by CPU index. */
struct sk_cpu_entry {
    uint32_t apic_id;
    uint32_t state;
    uint32_t node;          /* SIDECAR_NO_CPU for main CPUs */
    uint32_t node_cpu;      /* index within the node */
    uint32_t started_by;
    uint8_t role;
    uint8_t round;
    uint8_t failure;
    uint8_t vector;
    uint64_t start_tsc;
    uint64_t ready_tsc;
    /* Its own fan-out, as a starter (boot.c, sk_fan_out_step). */
    uint32_t fan_cpu;       /* the CPU it started and waits for (SIDECAR_NO_CPU: none) */
    bool fan_done;          /* no CPU left for it to start */
    bool fan_second;        /* the second SIPI to fan_cpu went out */
    uint64_t fan_sent;      /* TSC after the SIPI to fan_cpu */
};

struct sk_node {
    uint32_t next;          /* atomic: next node-local index to claim */
    uint32_t kicked;        /* atomic: someone claimed from this node */
    uint32_t base_cpu;
    uint32_t cpu_count;
    uint64_t memory_base;
    uint32_t setup;         /* atomic: NODE_SETUP_* of the node's shared pages */
};

/* A node's shared pages (control page, guest-RAM tables, nested tables) are
 * set up by the first of its CPUs to check in, or by the BSP after the
 * fan-out for a node none of whose CPUs did (boot.c, node_setup). */
#define NODE_SETUP_NONE 0u
#define NODE_SETUP_BUSY 1u
#define NODE_SETUP_DONE 2u

struct sk_globals {
    uint64_t t0;            /* TSC at kernel entry */
    uint64_t tsc_khz;
    uint64_t timeout_tsc;   /* ap_timeout_us in TSC ticks */
    uint64_t init_delay_tsc;
    uint64_t apic_base;     /* xAPIC physical base */
    uint64_t trampoline_pa;
    uint64_t shim_cr3;      /* the page tables the BSP runs on */
    uint64_t guest_ram_base; /* params.guest_ram_base/size: GVA == GPA, user */
    uint64_t guest_ram_size;
    uint64_t kernel_pa;     /* physical address of the image (KERNEL_VBASE) */
    uint64_t first_init_tsc; /* ticks from entry to the first INIT (0: none yet) */
    uint32_t image_pages;   /* pages of the image, mapped in every CPU's window */
    uint32_t cpu_count;
    uint32_t node_count;
    uint32_t bsp_cpu;
    uint32_t kick_cursor;   /* atomic: first node that may still need a kick */
    uint32_t test_fault_cpu; /* params.test_fault_cpu */
    uint8_t test_fault_kind; /* params.test_fault_kind */
    uint64_t log_lock;       /* log.c, loglock.h */
    uint16_t serial_port;
    bool x2apic;
    bool logging;
    bool use_mwait;
    bool tsc_deadline;      /* the wake-up timer is the TSC deadline (else the APIC timer, one shot) */
    bool calibrating;       /* tsc_khz is provisional: the BSP is still timing the TSC against the PIT */
    bool smep;              /* CR4.SMEP on sidecar CPUs */
    bool smap;              /* CR4.SMAP on sidecar CPUs (read_guest uses STAC/CLAC) */
    bool nx;                /* EFER.NXE on sidecar CPUs: data, stacks and shared pages no-execute */
    bool umip;              /* CR4.UMIP on sidecar CPUs (SGDT/SIDT/SLDT/SMSW/STR at CPL3 raise #GP) */
    bool cpuid_faulting;    /* CPUID at CPL3 faults on sidecar CPUs (vp.c) */
    uint8_t vp_backend;     /* SIDECAR_VP_BACKEND_RING3 or _SVM */
    uint32_t cache_off_at_entry; /* boot.c: APs that arrived with CR0.CD/NW set */
    uint32_t cache_still_off;  /* and those that still had them after clearing */
    uint32_t ready_count;     /* boot.c: sidecar CPUs IDLE so far (the last one wakes the BSP) */
    uint32_t bsp_stray_count; /* cpu.c: the BSP's counts during bring-up (it has no per-CPU page) */
    uint32_t bsp_nmi_count;
    uint32_t bsp_db_count;
};

/* Vector of the check-in IPI and of the TSC-deadline wake-up a starter
 * sleeps on while it waits for the CPU it started. */
#define SK_WAKE_VECTOR 0xf0u

extern struct sk_globals sk_g;
extern struct sk_cpu_entry sk_cpus[SK_MAX_CPUS];
extern struct sk_node sk_nodes[SIDECAR_MAX_NODES];
extern struct sk_ap_slot sk_ap_table[SK_MAX_CPUS];
extern uint32_t sk_ap_table_count;
extern uint64_t sk_percpu_stack_top;

/* The 64-bit task-state segment. */
struct __attribute__((packed)) sk_tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct sk_tss) == 104, "TSS size");

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_UDATA 0x18
#define GDT_UCODE 0x20
#define GDT_TSS 0x28
#define GDT_ENTRIES 7

/* The per-CPU globals, at the top of the CPU's SLOT_PERCPU page; below them
 * the NMI stack (IST2, SK_NMI_STACK bytes), below that the kernel stack,
 * which grows down to the unmapped SLOT_GUARD page. The VP's saved state
 * (struct sk_vp for the ring-3 backend, ~0.8 KiB; struct sk_svm_vp for
 * svm, ~1.1 KiB, the rest of its state being the VMCB page) lives here
 * too, so a CPU needs no page for it (docs/boot.md section 5).
 *
 * #DF and #MC (IST1) start at the very top of the kernel stack, whose
 * first SK_IST1_GAP bytes the kernel never uses otherwise (its RSP starts
 * below them): an interrupt that lands on vector 8 or 18 (a fixed IPI, which
 * is EOId and returned from) stays inside the gap; a real #DF or #MC is
 * terminal (the CPU reports and parks for good, never returning to what it
 * interrupted), so running on past the gap over dead frames is harmless, and
 * a kernel stack overflow (at the bottom, into the guard page) leaves the
 * top free. NMIs return at any time, so they have their own stack. */
struct sk_percpu {
    union {                    /* first: 16-aligned for FXSAVE/FXRSTOR */
        struct sk_vp vp;       /* the ring-3 backend's VP */
        struct sk_svm_vp svm;  /* the SVM backend's (its base is a struct sk_vp) */
    };
    uint64_t vp_kernel_rsp;    /* vp.asm: the kernel's RSP while the VP runs */
    uint64_t vmcb_pa;          /* svm.c: this CPU's VMCB */
    uint64_t gdt[GDT_ENTRIES];
    struct sk_tss tss;
    uint32_t cpu_index;
    uint32_t apic_id;
    uint32_t node;
    uint32_t node_cpu;
    uint8_t round;
    uint8_t in_trap;
    bool cr0_ts;               /* vp.c: CR0.TS as this CPU has it */
    uint8_t pad;
    uint32_t stray_seen;       /* cpu.c: bit v: an interrupt on exception vector v came (logged once) */
    uint32_t stray_count;      /* interrupts on exception vectors, ignored */
    uint32_t nmi_count;        /* NMIs taken and returned from */
    uint32_t db_count;         /* #DB at CPL0, cleared and returned from */
    uint32_t log_seq;          /* log.c: this CPU's log lines (loglock.h) */
    uint32_t nmi_logged;       /* dispatch.c: nmi_count when arch_park last logged it */
    uint32_t stray_logged;     /* dispatch.c: the stray_seen bits arch_park has logged */
    uint64_t core_space[16];   /* the portable dispatch state (struct sk_cpu, 104 bytes) */
};

#define PERCPU_VA (SLOT_VA(SLOT_PERCPU) + PAGE_SIZE - sizeof(struct sk_percpu))
/* The NMI path and an interrupt on vector 8 or 18 (trap_common,
 * sk_trap_filter, the APIC read, a nested #GP fixup at worst) use about
 * 0.4 KiB and log nothing (arch_park logs for them later). The kernel
 * stack's deepest use measured in the VP, hostile, compute, vector and
 * fault tests with logging on is in docs/boot.md section 5. */
#define SK_NMI_STACK 512u
#define SK_IST1_GAP 512u
#define SK_MIN_STACK 1536u
_Static_assert(sizeof(struct sk_percpu) % 16 == 0, "sk_percpu keeps the VP 16-aligned");
_Static_assert(PAGE_SIZE - sizeof(struct sk_percpu) >= SK_NMI_STACK + SK_IST1_GAP + SK_MIN_STACK,
               "per-CPU stacks too small");
#define SK_NMI_STACK_TOP (PERCPU_VA & ~15ull)
#define SK_IST1_TOP (SK_NMI_STACK_TOP - SK_NMI_STACK)
#define PERCPU_STACK_TOP (SK_IST1_TOP - SK_IST1_GAP)   /* the kernel's RSP starts here; TSS.rsp0 */
#define SK_IST_TERMINAL 1u     /* #DF, #MC */
#define SK_IST_NMI 2u

static inline struct sk_percpu *this_cpu(void) { return (struct sk_percpu *)PERCPU_VA; }

/* Interrupt frame built by entry.asm. The vector word holds the vector in
 * bits 0-7 and SK_TRAP_ERROR_PUSHED (sidecar/kboot.h) when the CPU pushed the
 * error code (an exception on a vector that has one; never an interrupt). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* log.c */
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_cpu(uint32_t cpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* apic.c */
void apic_init_bsp(void);
void apic_restore_bsp(void);
void apic_init_ap(void);
uint32_t apic_read_id(void);
bool apic_send(uint32_t apic_id, uint32_t icr_low_bits);
void apic_eoi(void);
bool apic_in_service(uint8_t vector);
void apic_quiesce(void);
void apic_arm_deadline(uint64_t tsc);
uint64_t tsc_calibrate_start(const char **source);
bool tsc_calibrate_poll(void);   /* BSP: true once sk_g.tsc_khz is final */
void tsc_delay(uint64_t ticks);

/* cpu.c */
void cpu_tables_init(struct sk_percpu *pc, uint64_t rsp0);
void idt_init(void);
void idt_load_bsp(void);
void idt_restore_bsp(void);
void sk_trap(struct trap_frame *f);
bool sk_trap_filter(struct trap_frame *f);
void sk_test_stack_overflow(void) __attribute__((noreturn));
/* entry.asm: RDMSR / WRMSR that answer false instead of faulting (the
 * sk_trap fixup resumes at the _fixup label). */
bool sk_rdmsr_safe(uint32_t msr, uint64_t *value);
bool sk_wrmsr_safe(uint32_t msr, uint64_t value);
extern const char sk_rdmsr_safe_insn[], sk_rdmsr_safe_fixup[];
extern const char sk_wrmsr_safe_insn[], sk_wrmsr_safe_fixup[];

/* vp.c: the ring-3 VP backend's arch half (sidecar/vp.h). */
bool sk_vp_probe_cpuid_faulting(void);  /* BSP, with our IDT: does the CPU have it? */
void sk_vp_log_cpuid_faulting(void);     /* BSP: and say so, later */
/* The vp ops' cpuid hook for both backends: CPUID on this CPU (ctx unused). */
void sk_vp_arch_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
void sk_vp_cpu_setup(void);        /* per AP: CR0/CR4 bits for FXSAVE, SMEP/SMAP/UMIP, MCE; EFER.SCE and SYSENTER off; CPUID faulting; DR7 */
void sk_vp_cpu_off(void);          /* a CPU leaving the sidecar: CPUID faulting off */
void sk_vp_cpu_init(struct sk_percpu *pc);
void sk_vp_trap(struct trap_frame *f) __attribute__((noreturn));
/* vp.asm */
int sk_vp_enter_asm(struct sk_vp *vp, uint64_t *kernel_rsp, struct sk_tss *tss);
void sk_vp_leave_asm(uint64_t kernel_rsp) __attribute__((noreturn));

/* svm.c: the SVM backend's arch half (sidecar/svm.h). */
const char *sk_svm_probe(void);    /* BSP: NULL when the CPU can run the svm backend, else why not */
void sk_svm_bsp_init(void);        /* BSP: the shared permission maps */
void sk_svm_cpu_init(struct sk_percpu *pc, uint64_t vmcb_pa, uint64_t hsave_pa, uint64_t ncr3);
void sk_svm_cpu_off(void);

/* boot.c */
void sk_ap_main(uint32_t index, uint64_t cr0_at_entry) __attribute__((noreturn));
uint64_t sk_ap_build_tables(uint32_t index);   /* entry.asm, on the shim's tables */
void sk_ap_ready(struct sk_percpu *pc);         /* dispatch.c: the CPU can serve commands: IDLE */
void sk_fan_out_step(struct sk_percpu *pc, const volatile uint8_t *status);   /* dispatch.c's park */
bool sk_fan_out_pending(const struct sk_percpu *pc);

/* A status byte that asks the CPU for something (RUN, STOP, REMOVE). */
static inline bool sk_status_has_work(uint8_t s)
{
    return s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP || s == SIDECAR_CPU_STATUS_REMOVE;
}

/* dispatch.c: the AP's dispatch loop over the portable core. */
void sk_dispatch_start(struct sk_percpu *pc) __attribute__((noreturn));
void sk_park_forever(void) __attribute__((noreturn));

/* Fills bytes (a multiple of 8) at p with the 8-byte pattern v: one REP
 * STOSQ, where a byte loop (sc_memset) costs ~8x under QEMU's TCG. */
static inline void sk_fill64(void *p, uint64_t v, uint64_t bytes)
{
    uint64_t n = bytes / 8;
    __asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(v) : "memory");
}

static inline uint32_t load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline bool cas32(uint32_t *p, uint32_t old, uint32_t v)
{
    return __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

#endif
