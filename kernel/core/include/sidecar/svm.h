/* SPDX-License-Identifier: MIT */
/* The AMD SVM VP backend, portable half.
 *
 * A sidecar CPU runs its VP as a real SVM guest with nested paging: any
 * CPL, any mode from the x86 reset state, its own page tables, IDT and
 * interrupts, in one guest-physical address space that every sidecar VP of
 * the VM shares (docs/svm.md). This half is everything that needs no
 * hardware: the VP's reset state in the VMCB, GET/SET of registers by TLFS
 * name, event injection, turning a #VMEXIT into a TLFS intercept message or
 * into work the sidecar does itself (HLT, the MSRs it virtualizes, SVM
 * instructions the guest may not use), TRANSLATE_GVA over the guest's own
 * page tables, and the RUN_VP loop. It runs natively in unit tests against
 * a fake arch half (tests/kernel/test_svm_*.c).
 *
 * The arch half (kernel/arch/x86_64/svm.c) supplies struct sk_svm_ops:
 * VMRUN itself, guest-physical reads for instruction fetches and page
 * walks, the CPUID defaults, waiting while the guest is halted, and the
 * FX state, which stays in the CPU's registers while the guest runs (the
 * kernel never uses the FPU) and is exchanged with cpu_context at the start
 * and end of every run.
 *
 * Choices (TLFS leaves them to the implementation; docs/svm.md):
 *  - RAX-R15 except RSP, CR2 and the FX state live in cpu_context between
 *    runs, as with the ring-3 backend; everything else in the VMCB and in
 *    struct sk_svm_vp.
 *  - HLT is handled here: the VP is halted (HvRegisterInternalActivityState
 *    bit 1) until an interrupt or NMI the VMM made pending can be delivered;
 *    RUN_VP on a halted VP without one waits for STOP. With
 *    SK_SVM_INTERCEPT_HLT (HvRegisterInterceptSuspend... not TLFS: our
 *    register SK_SVM_REG_INTERCEPT_CONTROL) the VMM gets x64_halt instead.
 *  - MSRs: EFER, PAT, TSC_AUX and the TSC (write) are virtualized here; FS/GS base,
 *    KernelGsBase, STAR/LSTAR/CSTAR/SFMASK and SYSENTER_* are the guest's
 *    own (VMLOAD/VMSAVE); every other MSR goes to the VMM as an MSR (or, when
 *    the VMM listed the MSRs it handles, only those do and the rest are
 *    refused with #GP)
 *    intercept, whose answer the VMM writes into RAX/RDX (or it injects #GP).
 *  - The guest can never use SVM itself: VMRUN, VMMCALL, VMLOAD, VMSAVE,
 *    STGI, CLGI, SKINIT, INVLPGA, MONITOR, MWAIT and RDPRU get #UD; EFER.SVME
 *    is hidden from it and cannot be cleared by it.
 */
#ifndef SIDECAR_SVM_H
#define SIDECAR_SVM_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/kcore.h>
#include <sidecar/vmcb.h>
#include <sidecar/vp.h>

/* Our own register names, outside the TLFS ranges (0x7fxxxxxx is unused by
 * Hyper-V). SK_SVM_REG_INTERCEPT_CONTROL: bit 0 send HLT to the VMM as
 * x64_halt; bit 1 send the VMM only the MSRs in its ranges (below) and
 * refuse every other one with #GP (clear: every MSR the sidecar does not
 * virtualize goes to the VMM); bits 32-63 a mask of exception vectors 0-31
 * to intercept. SK_SVM_REG_MSR_RANGE(i), i < SK_SVM_MSR_RANGES: the MSRs
 * the VMM handles, first in bits 0-31 and count in bits 32-63 (0: unused). */
#define SK_SVM_REG_INTERCEPT_CONTROL 0x7f000001u
#define SK_SVM_INTERCEPT_HLT 0x1ull
#define SK_SVM_INTERCEPT_MSR_LISTED 0x2ull
#define SK_SVM_INTERCEPT_KNOWN (SK_SVM_INTERCEPT_HLT | SK_SVM_INTERCEPT_MSR_LISTED | 0xffffffff00000000ull)
#define SK_SVM_MSR_RANGES 4u
#define SK_SVM_REG_MSR_RANGE(i) (0x7f000010u + (i))

/* HvRegisterInternalActivityState bits. */
#define SK_SVM_ACTIVITY_STARTUP_SUSPEND 0x1ull
#define SK_SVM_ACTIVITY_HALT_SUSPEND 0x2ull

/* HvX64PendingInterruptionRegister */
#define SK_SVM_PI_PENDING 0x1ull
#define SK_SVM_PI_TYPE_SHIFT 1
#define SK_SVM_PI_TYPE_MASK (7ull << 1)
#define SK_SVM_PI_ERROR_CODE 0x10ull
#define SK_SVM_PI_LENGTH_SHIFT 5
#define SK_SVM_PI_NESTED (1ull << 9)
#define SK_SVM_PI_RESERVED (0x3full << 10)
#define SK_SVM_PI_VECTOR_SHIFT 16
#define SK_SVM_PI_TYPE_INTERRUPT 0u
#define SK_SVM_PI_TYPE_NMI 2u
#define SK_SVM_PI_TYPE_EXCEPTION 3u
#define SK_SVM_PI_TYPE_SOFTWARE_INTERRUPT 4u
#define SK_SVM_PI_TYPE_PRIV_SOFTWARE_EXCEPTION 5u
#define SK_SVM_PI_TYPE_SOFTWARE_EXCEPTION 6u

/* HvX64InterruptStateRegister */
#define SK_SVM_IS_SHADOW 0x1ull
#define SK_SVM_IS_NMI_MASKED 0x2ull

/* HvX64RegisterDeliverabilityNotifications */
#define SK_SVM_DN_NMI 0x1ull
#define SK_SVM_DN_INTERRUPT 0x2ull
#define SK_SVM_DN_PRIORITY_SHIFT 2
#define SK_SVM_DN_KNOWN 0x3full

/* The guest-physical address map every sidecar VP shares (docs/svm.md):
 * GPA [0, ram_size) is guest RAM; the last 2 MiB of RAM is also at
 * [SK_SVM_RESET_ALIAS, 4 GiB), so firmware placed at the end of RAM holds
 * the reset vector; every other GPA is unmapped (a memory intercept). */
#define SK_SVM_RESET_ALIAS 0xffe00000ull
#define SK_SVM_RESET_ALIAS_SIZE 0x200000ull

struct sk_svm_vp;

/* What the arch half supplies. */
struct sk_svm_ops {
    /* VMLOAD, VMRUN, VMSAVE with the guest's GPRs (vp->base.gpr except RAX
     * and RSP, which are in the VMCB); host interrupts are taken after the
     * #VMEXIT. Returns the exit code (vmcb->control.exit_code). */
    uint64_t (*vmrun)(void *ctx, struct sk_svm_vp *vp);
    /* Copy n bytes at a guest-physical address; false when any of them is
     * not guest RAM. */
    bool (*read_gpa)(void *ctx, uint64_t gpa, void *dst, uint32_t n);
    /* The hardware's CPUID results (EAX, EBX, ECX, EDX). May be NULL. */
    void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
    /* Sleep until an interrupt or until *status is no longer RUN. */
    void (*halt_wait)(void *ctx, const volatile uint8_t *status);
    /* The FX state: load the image into the CPU / store the CPU's. */
    void (*fx_load)(void *ctx, const struct sidecar_fxsave_area *fx);
    void (*fx_store)(void *ctx, struct sidecar_fxsave_area *fx);
    /* The host TSC now (for the TSC register and TSC MSR writes). */
    uint64_t (*rdtsc)(void *ctx);
    /* XCR0, which the guest sets itself with XSETBV (not intercepted) and
     * which stays in the CPU: read it, or write a value sk_svm_xcr0_valid
     * accepted. supported: the bits the CPU has (CPUID 0xD). NULL, or
     * supported 0: no XSAVE here (the register is unknown). */
    uint64_t (*xcr0_get)(void *ctx, uint64_t *supported);
    void (*xcr0_set)(void *ctx, uint64_t value);
};

/* An XCR0 value XSETBV accepts given the supported bits (x87 on; AVX only
 * with SSE; the AVX-512 trio together and only with AVX; the AMX pair
 * together). */
bool sk_svm_xcr0_valid(uint64_t value, uint64_t supported);

/* Configuration for sk_svm_init. */
struct sk_svm_config {
    struct sk_vmcb *vmcb;            /* this CPU's VMCB (page aligned) */
    uint64_t iopm_pa, msrpm_pa;      /* the shared permission maps */
    uint64_t ncr3;                   /* the node's nested page tables */
    uint32_t asid;                   /* >= 1 */
    uint64_t ram_size;               /* guest RAM bytes at GPA 0 */
    uint32_t mxcsr_mask;             /* from FXSAVE; 0 = 0xFFBF */
    uint32_t cpuid1_eax;             /* family/model/stepping for RDX at reset */
    const struct sk_svm_ops *ops;
    void *ops_ctx;
};

struct sk_svm_stats {
    uint64_t vmruns;
    uint64_t interrupts;     /* INTR/NMI/SMI exits */
    uint64_t intercepts;     /* messages to the VMM */
    uint64_t handled;        /* exits the sidecar handled (HLT, EFER, #UD...) */
    uint64_t halts;          /* HLTs handled */
};

/* One VP. base holds the GPRs (RAX and RSP are copied to and from the VMCB
 * around each VMRUN), RIP and RFLAGS likewise, the FX image used for GET/SET
 * between runs, and the message view. */
struct sk_svm_vp {
    struct sk_vp base;
    struct sk_vp_view view;
    struct sk_vmcb *vmcb;
    uint64_t dr[4];                  /* DR0-3: not in the VMCB */
    uint64_t pending_interruption;   /* HvRegisterPendingInterruption as set */
    uint64_t pending_parameter;      /* HvRegisterPendingEvent0's: CR2 (#PF) or DR6 (#DB) at delivery */
    bool pending_has_parameter;
    uint64_t deliverability;         /* HvX64RegisterDeliverabilityNotifications */
    uint64_t intercept_control;      /* SK_SVM_REG_INTERCEPT_CONTROL */
    uint64_t activity;               /* SK_SVM_ACTIVITY_* */
    uint64_t efer;                   /* the guest's EFER (without SVME) */
    uint64_t tsc_aux;                /* the guest's TSC_AUX (RDTSCP, RDMSR) */
    uint64_t ram_size;
    uint64_t iopm_pa, msrpm_pa, ncr3;
    uint32_t asid;
    uint32_t cpuid1_eax;
    bool nmi_masked;                 /* an NMI was delivered and no IRET yet */
    bool nmi_unmask_at_exit;         /* the guest reached IRET: unmask at the next exit */
    bool vintr_armed;                /* an interrupt-window exit is requested */
    const struct sk_svm_ops *ops;
    void *ops_ctx;
    struct sk_svm_stats stats;
    uint64_t msr_ranges[SK_SVM_MSR_RANGES]; /* SK_SVM_REG_MSR_RANGE: the VMM's MSRs */
    char why[48];                    /* a failed run's formatted reason (this VP's own) */
};

/* Zeroes vp, sets up its VMCB's control area (intercepts, maps, ASID,
 * nested paging) and puts the VP in the x86 reset state. */
void sk_svm_init(struct sk_svm_vp *vp, uint32_t vp_index, const struct sk_svm_config *config);

/* The x86 reset state (real mode, CS F000 base FFFF0000, RIP FFF0, ...).
 * GPRs zero but RDX = family/model/stepping; the FX state reset. Keeps the
 * control area and the configuration. */
void sk_svm_reset(struct sk_svm_vp *vp);

/* The execution-state word of an intercept header for the VP now. */
uint16_t sk_svm_execution_state(const struct sk_svm_vp *vp);

/* VMCB segment attributes <-> TLFS segment attributes. */
uint16_t sk_svm_attrib_to_hv(uint16_t attrib);
uint16_t sk_svm_attrib_from_hv(uint16_t attributes);

/* An HvStatus per register (see the choices above and docs/svm.md for the
 * names supported). SET refuses values VMRUN would refuse or that break
 * isolation with HV_STATUS_INVALID_REGISTER_VALUE (nothing is changed). */
uint16_t sk_svm_get_register(struct sk_svm_vp *vp, uint32_t name,
                             struct sidecar_hv_register_value *value);
uint16_t sk_svm_set_register(struct sk_svm_vp *vp, uint32_t name,
                             const struct sidecar_hv_register_value *value);

/* Checks the guest state against VMRUN's consistency checks (APM 15.5.1)
 * that a host SET can break. NULL when fine, else the reason. */
const char *sk_svm_check_state(const struct sk_svm_vp *vp);

/* Copies n bytes at a guest-virtual address through the guest's own
 * segmentation base (CS) and page tables; returns the bytes read. */
uint32_t sk_svm_read_gva(struct sk_svm_vp *vp, uint64_t gva, void *dst, uint32_t n,
                         bool fetch);

/* What sk_svm_handle_exit decided. */
enum sk_svm_action {
    SK_SVM_RESUME = 0,     /* handled, or not the guest's doing: re-enter */
    SK_SVM_INTERCEPT,      /* msg holds a message for the VMM */
    SK_SVM_HALTED,         /* the guest halted: wait for an event or STOP */
    SK_SVM_FAILED,         /* the run cannot go on; *why says why */
};

/* Turns the VMCB's last exit into an action (state already synced back
 * from the VMCB into vp->base). */
enum sk_svm_action sk_svm_handle_exit(struct sk_svm_vp *vp, uint64_t exit_code,
                                      struct sidecar_hv_message *msg, const char **why);

/* Before VMRUN: the pending interruption (if it can be delivered now) into
 * EVENTINJ, the interrupt window request, and whether a halted VP wakes.
 * Returns true when the VP can run (not halted). */
bool sk_svm_prepare_entry(struct sk_svm_vp *vp);

/* TRANSLATE_GVA over the guest's page tables in its current mode. */
void sk_svm_translate_gva(struct sk_svm_vp *vp, const struct sidecar_translate_gva_request *req,
                          struct sidecar_translate_gva_response *resp);

/* The backend ("svm"): run, get/set register, translate. */
int sk_svm_run(struct sk_cpu *cpu, void *vp, struct sidecar_hv_message *msg);
extern const struct sk_vp_backend sk_svm_backend;

#endif
