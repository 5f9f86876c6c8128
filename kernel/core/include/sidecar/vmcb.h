/* SPDX-License-Identifier: MIT */
/* The AMD SVM virtual machine control block (VMCB), as data.
 *
 * The layout is the hardware's (AMD64 Architecture Programmer's Manual,
 * vol. 2, appendix B: the control area at 0x000, the state-save area at
 * 0x400); every offset the SVM backend uses is checked below. It is plain
 * data so that the portable half of the backend (kernel/core/svm) can build
 * and read it natively in unit tests; only kernel/arch/x86_64 hands it to
 * VMRUN. Freestanding C11, no libc. */
#ifndef SIDECAR_VMCB_H
#define SIDECAR_VMCB_H

#include <stddef.h>
#include <stdint.h>

/* A segment in the state-save area: attributes are the descriptor's bits
 * 40-47 (type, S, DPL, P) in bits 0-7 and bits 52-55 (AVL, L, D/B, G) in
 * bits 8-11. */
struct sk_vmcb_seg {
    uint16_t selector;
    uint16_t attrib;
    uint32_t limit;
    uint64_t base;
};

struct sk_vmcb_control {
    uint32_t intercept_cr;          /* 0x000 bits 0-15 reads, 16-31 writes */
    uint32_t intercept_dr;          /* 0x004 bits 0-15 reads, 16-31 writes */
    uint32_t intercept_exceptions;  /* 0x008 one bit per vector */
    uint32_t intercept_misc1;       /* 0x00c SK_SVM_I1_* */
    uint32_t intercept_misc2;       /* 0x010 SK_SVM_I2_* */
    uint32_t intercept_misc3;       /* 0x014 */
    uint8_t reserved0[0x3c - 0x18];
    uint16_t pause_filter_threshold; /* 0x03c */
    uint16_t pause_filter_count;    /* 0x03e */
    uint64_t iopm_base_pa;          /* 0x040 */
    uint64_t msrpm_base_pa;         /* 0x048 */
    uint64_t tsc_offset;            /* 0x050 */
    uint32_t asid;                  /* 0x058 */
    uint8_t tlb_control;            /* 0x05c */
    uint8_t reserved1[3];
    uint64_t int_ctl;               /* 0x060 V_TPR, V_IRQ, V_INTR_MASKING, V_INTR_VECTOR... */
    uint64_t int_state;             /* 0x068 bit 0 interrupt shadow, bit 1 GIF-masked */
    uint64_t exit_code;             /* 0x070 */
    uint64_t exit_info1;            /* 0x078 */
    uint64_t exit_info2;            /* 0x080 */
    uint64_t exit_int_info;         /* 0x088 */
    uint64_t np_control;            /* 0x090 bit 0 nested paging */
    uint64_t avic_apic_bar;         /* 0x098 */
    uint64_t ghcb_pa;               /* 0x0a0 */
    uint64_t event_inj;             /* 0x0a8 */
    uint64_t n_cr3;                 /* 0x0b0 */
    uint64_t lbr_control;           /* 0x0b8 */
    uint32_t clean;                 /* 0x0c0 */
    uint32_t reserved2;
    uint64_t next_rip;              /* 0x0c8 (NRIP save; not on QEMU TCG) */
    uint8_t insn_len;               /* 0x0d0 (decode assists; not on QEMU TCG) */
    uint8_t insn_bytes[15];
    uint8_t reserved3[0x400 - 0xe0];
};

struct sk_vmcb_save {
    struct sk_vmcb_seg es, cs, ss, ds, fs, gs;   /* 0x400 .. 0x45f */
    struct sk_vmcb_seg gdtr, ldtr, idtr, tr;     /* 0x460 .. 0x49f */
    uint8_t reserved0[0x4cb - 0x4a0];
    uint8_t cpl;                    /* 0x4cb */
    uint32_t reserved1;
    uint64_t efer;                  /* 0x4d0 */
    uint8_t reserved2[0x548 - 0x4d8];
    uint64_t cr4;                   /* 0x548 */
    uint64_t cr3;                   /* 0x550 */
    uint64_t cr0;                   /* 0x558 */
    uint64_t dr7;                   /* 0x560 */
    uint64_t dr6;                   /* 0x568 */
    uint64_t rflags;                /* 0x570 */
    uint64_t rip;                   /* 0x578 */
    uint8_t reserved3[0x5d8 - 0x580];
    uint64_t rsp;                   /* 0x5d8 */
    uint8_t reserved4[0x5f8 - 0x5e0];
    uint64_t rax;                   /* 0x5f8 */
    uint64_t star;                  /* 0x600 */
    uint64_t lstar;                 /* 0x608 */
    uint64_t cstar;                 /* 0x610 */
    uint64_t sfmask;                /* 0x618 */
    uint64_t kernel_gs_base;        /* 0x620 */
    uint64_t sysenter_cs;           /* 0x628 */
    uint64_t sysenter_esp;          /* 0x630 */
    uint64_t sysenter_eip;          /* 0x638 */
    uint64_t cr2;                   /* 0x640 */
    uint8_t reserved5[0x668 - 0x648];
    uint64_t g_pat;                 /* 0x668 */
    uint64_t dbgctl;                /* 0x670 */
    uint8_t reserved6[0x1000 - 0x678];
};

struct sk_vmcb {
    struct sk_vmcb_control control;
    struct sk_vmcb_save save;
};

#define SK_VMCB_CHECK(f, off) _Static_assert(offsetof(struct sk_vmcb, f) == (off), "vmcb " #f)
SK_VMCB_CHECK(control.intercept_misc1, 0x00c);
SK_VMCB_CHECK(control.pause_filter_threshold, 0x03c);
SK_VMCB_CHECK(control.iopm_base_pa, 0x040);
SK_VMCB_CHECK(control.msrpm_base_pa, 0x048);
SK_VMCB_CHECK(control.tsc_offset, 0x050);
SK_VMCB_CHECK(control.asid, 0x058);
SK_VMCB_CHECK(control.tlb_control, 0x05c);
SK_VMCB_CHECK(control.int_ctl, 0x060);
SK_VMCB_CHECK(control.int_state, 0x068);
SK_VMCB_CHECK(control.exit_code, 0x070);
SK_VMCB_CHECK(control.exit_int_info, 0x088);
SK_VMCB_CHECK(control.np_control, 0x090);
SK_VMCB_CHECK(control.event_inj, 0x0a8);
SK_VMCB_CHECK(control.n_cr3, 0x0b0);
SK_VMCB_CHECK(control.next_rip, 0x0c8);
SK_VMCB_CHECK(control.insn_len, 0x0d0);
SK_VMCB_CHECK(save.es, 0x400);
SK_VMCB_CHECK(save.cs, 0x410);
SK_VMCB_CHECK(save.gdtr, 0x460);
SK_VMCB_CHECK(save.ldtr, 0x470);
SK_VMCB_CHECK(save.idtr, 0x480);
SK_VMCB_CHECK(save.tr, 0x490);
SK_VMCB_CHECK(save.cpl, 0x4cb);
SK_VMCB_CHECK(save.efer, 0x4d0);
SK_VMCB_CHECK(save.cr4, 0x548);
SK_VMCB_CHECK(save.cr0, 0x558);
SK_VMCB_CHECK(save.dr7, 0x560);
SK_VMCB_CHECK(save.rflags, 0x570);
SK_VMCB_CHECK(save.rip, 0x578);
SK_VMCB_CHECK(save.rsp, 0x5d8);
SK_VMCB_CHECK(save.rax, 0x5f8);
SK_VMCB_CHECK(save.star, 0x600);
SK_VMCB_CHECK(save.kernel_gs_base, 0x620);
SK_VMCB_CHECK(save.sysenter_eip, 0x638);
SK_VMCB_CHECK(save.cr2, 0x640);
SK_VMCB_CHECK(save.g_pat, 0x668);
_Static_assert(sizeof(struct sk_vmcb) == 4096, "a VMCB is one page");

/* intercept_misc1 */
#define SK_SVM_I1_INTR        (1u << 0)
#define SK_SVM_I1_NMI         (1u << 1)
#define SK_SVM_I1_SMI         (1u << 2)
#define SK_SVM_I1_INIT        (1u << 3)
#define SK_SVM_I1_VINTR       (1u << 4)
#define SK_SVM_I1_RDPMC       (1u << 15)
#define SK_SVM_I1_CPUID       (1u << 18)
#define SK_SVM_I1_INVD        (1u << 22)
#define SK_SVM_I1_HLT         (1u << 24)
#define SK_SVM_I1_INVLPGA     (1u << 26)
#define SK_SVM_I1_IOIO        (1u << 27)
#define SK_SVM_I1_MSR         (1u << 28)
#define SK_SVM_I1_TASK_SWITCH (1u << 29)
#define SK_SVM_I1_FERR_FREEZE (1u << 30)
#define SK_SVM_I1_SHUTDOWN    (1u << 31)
/* intercept_misc2 */
#define SK_SVM_I2_VMRUN   (1u << 0)
#define SK_SVM_I2_VMMCALL (1u << 1)
#define SK_SVM_I2_VMLOAD  (1u << 2)
#define SK_SVM_I2_VMSAVE  (1u << 3)
#define SK_SVM_I2_STGI    (1u << 4)
#define SK_SVM_I2_CLGI    (1u << 5)
#define SK_SVM_I2_SKINIT  (1u << 6)
#define SK_SVM_I2_RDTSCP  (1u << 7)
#define SK_SVM_I2_ICEBP   (1u << 8)
#define SK_SVM_I2_WBINVD  (1u << 9)
#define SK_SVM_I2_MONITOR (1u << 10)
#define SK_SVM_I2_MWAIT   (1u << 11)
#define SK_SVM_I2_MWAIT_C (1u << 12)
#define SK_SVM_I2_XSETBV  (1u << 13)
#define SK_SVM_I2_RDPRU   (1u << 14)
/* intercept_misc1 bit 20: IRET (to see an NMI handler's end) */
#define SK_SVM_I1_IRET    (1u << 20)

/* tlb_control */
#define SK_SVM_TLB_NONE 0u
#define SK_SVM_TLB_FLUSH_ALL 1u

/* int_ctl */
#define SK_SVM_V_IRQ            (1ull << 8)
#define SK_SVM_V_IGN_TPR        (1ull << 20)
#define SK_SVM_V_INTR_MASKING   (1ull << 24)
#define SK_SVM_V_INTR_VECTOR_SHIFT 32
/* int_state */
#define SK_SVM_INT_SHADOW 1ull

/* EVENTINJ and EXITINTINFO */
#define SK_SVM_EVENT_VALID     (1ull << 31)
#define SK_SVM_EVENT_EV        (1ull << 11)
#define SK_SVM_EVENT_TYPE_SHIFT 8
#define SK_SVM_EVENT_TYPE_MASK (7ull << 8)
#define SK_SVM_EVENT_INTR  0u
#define SK_SVM_EVENT_NMI   2u
#define SK_SVM_EVENT_EXCEPTION 3u
#define SK_SVM_EVENT_SOFT_INT  4u

/* Exit codes. */
#define SK_SVM_EXIT_CR0_READ  0x000u
#define SK_SVM_EXIT_CR0_WRITE 0x010u
#define SK_SVM_EXIT_DR0_READ  0x020u
#define SK_SVM_EXIT_DR0_WRITE 0x030u
#define SK_SVM_EXIT_EXCP_BASE 0x040u
#define SK_SVM_EXIT_INTR      0x060u
#define SK_SVM_EXIT_NMI       0x061u
#define SK_SVM_EXIT_SMI       0x062u
#define SK_SVM_EXIT_INIT      0x063u
#define SK_SVM_EXIT_VINTR     0x064u
#define SK_SVM_EXIT_IRET      0x074u
#define SK_SVM_EXIT_RDPMC     0x06fu
#define SK_SVM_EXIT_CPUID     0x072u
#define SK_SVM_EXIT_INVD      0x076u
#define SK_SVM_EXIT_HLT       0x078u
#define SK_SVM_EXIT_INVLPGA   0x07au
#define SK_SVM_EXIT_IOIO      0x07bu
#define SK_SVM_EXIT_MSR       0x07cu
#define SK_SVM_EXIT_TASK_SWITCH 0x07du
#define SK_SVM_EXIT_FERR_FREEZE 0x07eu
#define SK_SVM_EXIT_SHUTDOWN  0x07fu
#define SK_SVM_EXIT_VMRUN     0x080u
#define SK_SVM_EXIT_VMMCALL   0x081u
#define SK_SVM_EXIT_VMLOAD    0x082u
#define SK_SVM_EXIT_VMSAVE    0x083u
#define SK_SVM_EXIT_STGI      0x084u
#define SK_SVM_EXIT_CLGI      0x085u
#define SK_SVM_EXIT_SKINIT    0x086u
#define SK_SVM_EXIT_RDTSCP    0x087u
#define SK_SVM_EXIT_ICEBP     0x088u
#define SK_SVM_EXIT_WBINVD    0x089u
#define SK_SVM_EXIT_MONITOR   0x08au
#define SK_SVM_EXIT_MWAIT     0x08bu
#define SK_SVM_EXIT_MWAIT_C   0x08cu
#define SK_SVM_EXIT_XSETBV    0x08du
#define SK_SVM_EXIT_RDPRU     0x08eu
#define SK_SVM_EXIT_NPF       0x400u
/* VMEXIT_INVALID: QEMU 7.2 writes it as a 32-bit -1, newer ones as 64-bit. */
#define SK_SVM_EXIT_INVALID_32 0xffffffffu

/* IOIO EXITINFO1 */
#define SK_SVM_IO_IN    (1u << 0)
#define SK_SVM_IO_STR   (1u << 2)
#define SK_SVM_IO_REP   (1u << 3)
#define SK_SVM_IO_SZ8   (1u << 4)
#define SK_SVM_IO_SZ16  (1u << 5)
#define SK_SVM_IO_SZ32  (1u << 6)
#define SK_SVM_IO_PORT_SHIFT 16

/* NPF EXITINFO1 */
#define SK_SVM_NPF_P     (1ull << 0)
#define SK_SVM_NPF_W     (1ull << 1)
#define SK_SVM_NPF_US    (1ull << 2)
#define SK_SVM_NPF_RSVD  (1ull << 3)
#define SK_SVM_NPF_ID    (1ull << 4)
#define SK_SVM_NPF_FINAL (1ull << 32)
#define SK_SVM_NPF_TABLE (1ull << 33)

/* The permission maps' sizes (APM 15.10, 15.11). */
#define SK_SVM_IOPM_SIZE  (3u * 4096u)
#define SK_SVM_MSRPM_SIZE (2u * 4096u)

#endif
