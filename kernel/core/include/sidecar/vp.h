/* SPDX-License-Identifier: MIT */
/* The ring-3 VP backend, portable half (issue #6).
 *
 * The default VP backend runs a guest VP at CPL3 (DESIGN.md section 5):
 * guest RAM is one region mapped user-accessible at GVA == GPA, the VP runs
 * with IOPL 0, and every trap out of ring 3 becomes either nothing (an
 * interrupt: re-enter or stop) or a Hyper-V TLFS intercept message. This
 * header is everything about that backend that needs no hardware: the VP's
 * saved state, the copy to/from OpenHCL's cpu_context, an x86-64 instruction
 * decoder, the intercept message builders, GET/SET of registers by TLFS name,
 * and TRANSLATE_GVA. Freestanding C11, no libc; also built natively for the
 * unit tests (tests/kernel/test_vp_*.c).
 *
 * What the arch half (kernel/arch/x86_64: vp.c, vp.asm; docs/boot.md
 * section 6) must do, and when:
 *
 *   At CPU bring-up, once per sidecar CPU:
 *     sk_vp_init(&vp, vp_index, &config) with the guest RAM range, the user
 *     selectors of its GDT, the CPU's MXCSR_MASK (from one FXSAVE; 0 means
 *     the architectural default 0xFFBF) and its sk_vp_ops. Then pass
 *     &sk_vp_ring3_backend and &vp to sk_cpu_init().
 *
 *   sk_vp_ops.enter (called by sk_vp_run, i.e. by RUN_VP):
 *     load vp->gpr[0..15] (gpr[4] is RSP), vp->rip, vp->rflags, vp->fx
 *     (FXRSTOR; aligned 16 at offset 0, MXCSR already sanitized), vp->cr2
 *     (into CR2), vp->fs_base/gs_base if the arch lets the guest use them,
 *     and IRETQ to vp->cs:rip with vp->ss. On the next trap out of CPL3,
 *     save all of it back (CR2 is NOT saved back: the guest never saw the
 *     #PF, the fault address goes to vp->exit.fault_address), fill vp->exit
 *     (vector, has_error_code/error_code, and fault_address = CR2 for #PF,
 *     DR6 for #DB) and return 0. Return negative if the VP cannot run
 *     (sk_vp_run then fails the command). vp->rflags is sanitized by
 *     sk_vp_run before every call (IF 1, IOPL 0, no NT/RF/VM/AC).
 *     Interrupts (vector >= 32, NMI) are returned the same way; sk_vp_run
 *     then checks for STOP and re-enters.
 *
 *   sk_vp_ops.read_guest (for the instruction bytes of an intercept):
 *     copy n bytes at guest address gpa (always inside guest RAM: sk_vp_run
 *     clamps the range) into dst with user-access rules (STAC/CLAC under
 *     SMAP); return the bytes copied.
 *
 *   sk_vp_ops.cpuid (optional, NULL = zeros): the default results of a
 *     CPUID leaf/subleaf for the CPUID intercept message.
 *
 * Everything else is portable: sk_vp_run() is the backend's run op (it
 * loads cpu_context, loops enter/classify, builds the intercept message and
 * stores cpu_context back), and sk_vp_ring3_backend wires run, get/set
 * register and translate into the dispatch core. An arch half that wants its
 * own loop can call the pieces directly: sk_vp_load_context,
 * sk_vp_fetch_limit + its own read, sk_vp_handle_exit, sk_vp_save_context.
 *
 * Choices (TLFS leaves them to the implementation):
 *  - Registers are read and written in the VP's saved state; RAX-R15 except
 *    RSP, CR2 and the FX/XMM state live in the command page's cpu_context
 *    between runs (the host writes them there directly, as with OpenHCL), so
 *    the backend ops reload from it before a GET/SET and store back after a
 *    SET.
 *  - Unsupported or unknown register names: HV_STATUS_UNKNOWN_REGISTER_NAME
 *    (protocol/enums.yaml: "the others get unknown_register_name").
 *  - Writes to read-only registers (CR2, CS/SS/DS/ES/FS/GS, VP index):
 *    HV_STATUS_ACCESS_DENIED. (CR2 is writable only through cpu_context
 *    slot 4, as in OpenHCL.)
 *  - Values the backend cannot run with (non-canonical RIP, MXCSR reserved
 *    bits): HV_STATUS_INVALID_REGISTER_VALUE.
 *  - RFLAGS writes are sanitized, not refused: IOPL 0, IF 1, reserved bit 1
 *    set; VM, NT, AC, RF, VIF, VIP and every reserved bit cleared.
 *  - TRANSLATE_GVA is the identity: success inside guest RAM; a canonical
 *    lower-half address outside it is GPA_UNMAPPED with gpa_page = gvn (the
 *    walk succeeded, the GPA has no RAM: an MMIO address); a higher-half or
 *    non-canonical one is PAGE_NOT_PRESENT. See sk_vp_translate_gva.
 *  - Intercepts never advance RIP (the host emulates and sets RIP). The
 *    header's access type is read for HLT, CPUID and exceptions other than
 *    #PF; unmapped-GPA messages say cache type UC, GVA and GPA valid; the
 *    instruction bytes are the ones fetched at RIP (up to 16), not only the
 *    instruction's own.
 */
#ifndef SIDECAR_VP_H
#define SIDECAR_VP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/kcore.h>

/* ---- The VP's saved state ------------------------------------------------ */

/* GPR indices: the TLFS register-name order, which is also the hardware
 * encoding order (ModRM reg/rm, REX.B/R extended). */
enum sk_vp_gpr {
    SK_VP_RAX = 0, SK_VP_RCX, SK_VP_RDX, SK_VP_RBX,
    SK_VP_RSP, SK_VP_RBP, SK_VP_RSI, SK_VP_RDI,
    SK_VP_R8, SK_VP_R9, SK_VP_R10, SK_VP_R11,
    SK_VP_R12, SK_VP_R13, SK_VP_R14, SK_VP_R15,
};

/* Guest RAM permissions (sk_vp_ram.flags). The ring-3 backend maps all of
 * guest RAM user, writable and executable; the flags exist so that a
 * narrower mapping is described, translated and tested the same way. */
#define SK_VP_RAM_USER  0x1u
#define SK_VP_RAM_WRITE 0x2u
#define SK_VP_RAM_EXEC  0x4u
#define SK_VP_RAM_ALL   (SK_VP_RAM_USER | SK_VP_RAM_WRITE | SK_VP_RAM_EXEC)

/* The one guest RAM region: [base, base + size), GPA == GVA. */
struct sk_vp_ram {
    uint64_t base;
    uint64_t size;
    uint32_t flags;
};

/* Why the VP left CPL3 last time (filled by the arch's enter). Vectors 0-31
 * are exceptions the guest caused (except 2, NMI); 32-255 are interrupts. */
struct sk_vp_exit {
    uint8_t vector;
    uint8_t has_error_code;     /* 1: error_code is valid */
    uint16_t reserved;
    uint32_t error_code;
    uint64_t fault_address;     /* CR2 after a #PF, DR6 after a #DB; else 0 */
};

/* Exception vectors the classifier names. */
#define SK_VP_VECTOR_DE 0u
#define SK_VP_VECTOR_DB 1u
#define SK_VP_VECTOR_NMI 2u
#define SK_VP_VECTOR_BP 3u
#define SK_VP_VECTOR_OF 4u
#define SK_VP_VECTOR_UD 6u
#define SK_VP_VECTOR_NM 7u
#define SK_VP_VECTOR_GP 13u
#define SK_VP_VECTOR_PF 14u
#define SK_VP_VECTOR_MC 18u
#define SK_VP_FIRST_INTERRUPT 32u

/* #PF error code bits. */
#define SK_VP_PF_PRESENT 0x1u
#define SK_VP_PF_WRITE   0x2u
#define SK_VP_PF_USER    0x4u
#define SK_VP_PF_RSVD    0x8u
#define SK_VP_PF_FETCH   0x10u

struct sk_vp;

/* How intercept messages describe the VP when it is not the ring-3
 * backend's flat CPL3 one: a hardware backend (sidecar/svm.h) fills this
 * from its guest state before building a message, and the builders take
 * CS, DS, ES and SS, the execution-state word and CR8 from it. */
struct sk_vp_view {
    struct sidecar_hv_x64_segment_register es, cs, ss, ds;
    uint16_t execution_state;
    uint8_t cr8;
};

/* What the arch half supplies (see the comment at the top). */
struct sk_vp_ops {
    /* Run the VP at CPL3 until the next trap; fill vp->exit. 0 or negative. */
    int (*enter)(void *ctx, struct sk_vp *vp);
    /* Copy n bytes of guest memory at gpa (inside guest RAM) to dst; return
     * the bytes copied. May be NULL (messages then carry no bytes, and
     * IO/MSR/CPUID/HLT cannot be recognized: they become #GP exceptions). */
    uint32_t (*read_guest)(void *ctx, uint64_t gpa, void *dst, uint32_t n);
    /* Default CPUID results (out[0..3] = EAX, EBX, ECX, EDX). May be NULL. */
    void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
};

/* Configuration for sk_vp_init. */
struct sk_vp_config {
    struct sk_vp_ram ram;
    uint16_t cs, ss;                 /* user code/stack selectors (RPL 3) */
    uint16_t ds, es, fs, gs;         /* data selectors; 0 = null */
    uint32_t mxcsr_mask;             /* from FXSAVE; 0 = 0xFFBF */
    const struct sk_vp_ops *ops;
    void *ops_ctx;
};

/* Counters, for logs and tests. */
struct sk_vp_stats {
    uint64_t entries;       /* calls of ops->enter */
    uint64_t interrupts;    /* exits that were not the guest's doing */
    uint64_t intercepts;    /* messages built */
    uint64_t fx_loads;      /* runs in which the guest used the FPU/SSE state */
};

/* One VP. fx is at offset 0 so that FXSAVE/FXRSTOR on the struct address
 * works (the struct is 16-aligned because fx is); the SK_VP_OFF_* macros
 * give the arch's assembly the offsets it needs. */
struct sk_vp {
    struct sidecar_fxsave_area fx;   /* @0 FXSAVE image */
    uint64_t gpr[16];                /* @512 enum sk_vp_gpr order; [4] = RSP */
    uint64_t rip;                    /* @640 */
    uint64_t rflags;                 /* @648 */
    uint64_t cr2;                    /* @656 the guest's CR2 (cpu_context slot 4) */
    uint64_t fs_base;                /* @664 */
    uint64_t gs_base;                /* @672 */
    uint16_t cs, ss, ds, es, fs, gs; /* @680 selectors (read-only to the host) */
    uint32_t vp_index;               /* @692 */
    struct sk_vp_exit exit;          /* @696 last exit */
    struct sk_vp_ram ram;
    uint32_t mxcsr_mask;
    const struct sk_vp_ops *ops;
    void *ops_ctx;
    const struct sk_vp_view *view;   /* NULL: the ring-3 backend's flat view */
    struct sk_vp_stats stats;
    /* The FX state is loaded lazily: a run starts with fx_live 0 and the
     * arch half enters the guest with CR0.TS set; the guest's first x87 or
     * SSE instruction traps (#NM), sk_vp_run copies cpu_context's FX image
     * into fx, sets fx_live and re-enters; from then on until the run ends
     * the arch half has fx in the FPU while the guest runs (FXRSTOR on
     * entry, clear TS) and FXSAVEs it on every exit. Only then is fx stored
     * back to cpu_context. A run that never touches the FPU costs neither
     * the 512-byte copies nor FXSAVE/FXRSTOR. */
    bool fx_live;
};

#define SK_VP_OFF_FX 0
#define SK_VP_OFF_GPR 512
#define SK_VP_OFF_RIP 640
#define SK_VP_OFF_RFLAGS 648
#define SK_VP_OFF_CR2 656
#define SK_VP_OFF_FS_BASE 664
#define SK_VP_OFF_GS_BASE 672
#define SK_VP_OFF_CS 680
#define SK_VP_OFF_SS 682
#define SK_VP_OFF_DS 684
#define SK_VP_OFF_ES 686
#define SK_VP_OFF_FS 688
#define SK_VP_OFF_GS 690
#define SK_VP_OFF_VP_INDEX 692
#define SK_VP_OFF_EXIT 696
#define SK_VP_OFF_EXIT_VECTOR (SK_VP_OFF_EXIT + 0)
#define SK_VP_OFF_EXIT_HAS_ERROR_CODE (SK_VP_OFF_EXIT + 1)
#define SK_VP_OFF_EXIT_ERROR_CODE (SK_VP_OFF_EXIT + 4)
#define SK_VP_OFF_EXIT_FAULT_ADDRESS (SK_VP_OFF_EXIT + 8)

_Static_assert(offsetof(struct sk_vp, fx) == SK_VP_OFF_FX, "sk_vp.fx");
_Static_assert(offsetof(struct sk_vp, gpr) == SK_VP_OFF_GPR, "sk_vp.gpr");
_Static_assert(offsetof(struct sk_vp, rip) == SK_VP_OFF_RIP, "sk_vp.rip");
_Static_assert(offsetof(struct sk_vp, rflags) == SK_VP_OFF_RFLAGS, "sk_vp.rflags");
_Static_assert(offsetof(struct sk_vp, cr2) == SK_VP_OFF_CR2, "sk_vp.cr2");
_Static_assert(offsetof(struct sk_vp, fs_base) == SK_VP_OFF_FS_BASE, "sk_vp.fs_base");
_Static_assert(offsetof(struct sk_vp, gs_base) == SK_VP_OFF_GS_BASE, "sk_vp.gs_base");
_Static_assert(offsetof(struct sk_vp, cs) == SK_VP_OFF_CS, "sk_vp.cs");
_Static_assert(offsetof(struct sk_vp, ss) == SK_VP_OFF_SS, "sk_vp.ss");
_Static_assert(offsetof(struct sk_vp, ds) == SK_VP_OFF_DS, "sk_vp.ds");
_Static_assert(offsetof(struct sk_vp, es) == SK_VP_OFF_ES, "sk_vp.es");
_Static_assert(offsetof(struct sk_vp, fs) == SK_VP_OFF_FS, "sk_vp.fs");
_Static_assert(offsetof(struct sk_vp, gs) == SK_VP_OFF_GS, "sk_vp.gs");
_Static_assert(offsetof(struct sk_vp, vp_index) == SK_VP_OFF_VP_INDEX, "sk_vp.vp_index");
_Static_assert(offsetof(struct sk_vp, exit) == SK_VP_OFF_EXIT, "sk_vp.exit");
_Static_assert(offsetof(struct sk_vp_exit, error_code) == 4, "sk_vp_exit.error_code");
_Static_assert(offsetof(struct sk_vp_exit, fault_address) == 8, "sk_vp_exit.fault_address");
_Static_assert(_Alignof(struct sk_vp) == 16, "sk_vp is 16-aligned for FXSAVE");

/* RFLAGS bits. */
#define SK_RFLAGS_CF   (1ull << 0)
#define SK_RFLAGS_FIXED1 (1ull << 1)
#define SK_RFLAGS_PF   (1ull << 2)
#define SK_RFLAGS_AF   (1ull << 4)
#define SK_RFLAGS_ZF   (1ull << 6)
#define SK_RFLAGS_SF   (1ull << 7)
#define SK_RFLAGS_TF   (1ull << 8)
#define SK_RFLAGS_IF   (1ull << 9)
#define SK_RFLAGS_DF   (1ull << 10)
#define SK_RFLAGS_OF   (1ull << 11)
#define SK_RFLAGS_IOPL (3ull << 12)
#define SK_RFLAGS_NT   (1ull << 14)
#define SK_RFLAGS_RF   (1ull << 16)
#define SK_RFLAGS_VM   (1ull << 17)
#define SK_RFLAGS_AC   (1ull << 18)
#define SK_RFLAGS_VIF  (1ull << 19)
#define SK_RFLAGS_VIP  (1ull << 20)
#define SK_RFLAGS_ID   (1ull << 21)
/* Bits a guest at CPL3 may hold (IF is added, bit 1 forced). */
#define SK_RFLAGS_GUEST_MASK (SK_RFLAGS_CF | SK_RFLAGS_PF | SK_RFLAGS_AF | SK_RFLAGS_ZF | \
                              SK_RFLAGS_SF | SK_RFLAGS_TF | SK_RFLAGS_DF | SK_RFLAGS_OF | \
                              SK_RFLAGS_ID)

/* The value RUN loads into RFLAGS for a written value v. */
uint64_t sk_vp_sanitize_rflags(uint64_t v);

/* Zeroes vp and sets the reset state: RIP 0, RSP 0, RFLAGS 0x202, FCW 0x37F,
 * MXCSR 0x1F80, the selectors, RAM and ops from config. */
void sk_vp_init(struct sk_vp *vp, uint32_t vp_index, const struct sk_vp_config *config);

/* cpu_context (host-written, untrusted) -> vp: RAX-R15 except RSP, CR2 from
 * slot 4, the FXSAVE image with MXCSR masked to vp->mxcsr_mask (so FXRSTOR
 * cannot fault). */
void sk_vp_load_context(struct sk_vp *vp, const struct sidecar_cpu_context *ctx);
/* vp -> cpu_context: the same fields; reserved bytes are left alone. */
void sk_vp_save_context(const struct sk_vp *vp, struct sidecar_cpu_context *ctx);
/* The two halves of each: the general-purpose registers and CR2, and the
 * FXSAVE image (MXCSR masked on load). */
void sk_vp_load_gprs(struct sk_vp *vp, const struct sidecar_cpu_context *ctx);
void sk_vp_load_fx(struct sk_vp *vp, const struct sidecar_cpu_context *ctx);
void sk_vp_save_gprs(const struct sk_vp *vp, struct sidecar_cpu_context *ctx);
void sk_vp_save_fx(const struct sk_vp *vp, struct sidecar_cpu_context *ctx);

/* A segment register in TLFS format: base 0 (FS/GS: their base), limit
 * 0xFFFFFFFF, the selector, and flat 64-bit code (CS) or data attributes
 * with DPL = the selector's RPL; a null selector gives limit 0 and
 * attributes 0 (unusable). which: SIDECAR_HV_REGISTER_NAME_ES..GS.
 * Returns false for another name. */
bool sk_vp_segment(const struct sk_vp *vp, uint32_t which,
                   struct sidecar_hv_x64_segment_register *out);

/* The execution_state word of an intercept header: CPL 3, CR0.PE, EFER.LMA. */
#define SK_VP_EXECUTION_STATE 0x17u

/* ---- GET/SET registers by TLFS name -------------------------------------- */

/* An HvStatus: SIDECAR_HV_STATUS_SUCCESS, _UNKNOWN_REGISTER_NAME,
 * _ACCESS_DENIED (read-only) or _INVALID_REGISTER_VALUE. Supported: RAX-R15,
 * RIP, RFLAGS, XMM0-15, FpMmx0-7, FpControlStatus, XmmControlStatus, CR2 and
 * the six segments (read-only), VpIndex (read-only). */
uint16_t sk_vp_get_register(const struct sk_vp *vp, uint32_t name,
                            struct sidecar_hv_register_value *value);
uint16_t sk_vp_set_register(struct sk_vp *vp, uint32_t name,
                            const struct sidecar_hv_register_value *value);

/* ---- Instruction decoding ------------------------------------------------ */

/* TLFS instruction-byte buffers hold 16 bytes; an x86 instruction is at
 * most 15. */
#define SK_INSN_MAX_BYTES 16u
#define SK_INSN_MAX_LENGTH 15u

enum sk_insn_kind {
    SK_INSN_INVALID = 0,  /* truncated, too long, or undecodable: len 0 */
    SK_INSN_OTHER,        /* decoded length, not one of the kinds below */
    SK_INSN_IN,           /* E4 E5 EC ED */
    SK_INSN_OUT,          /* E6 E7 EE EF */
    SK_INSN_INS,          /* 6C 6D */
    SK_INSN_OUTS,         /* 6E 6F */
    SK_INSN_HLT,          /* F4 */
    SK_INSN_RDMSR,        /* 0F 32 */
    SK_INSN_WRMSR,        /* 0F 30 */
    SK_INSN_CPUID,        /* 0F A2 */
    /* Added with the decoder modes (sk_insn_decode_mode): */
    SK_INSN_INVLPG,       /* 0F 01 /7, memory operand */
    SK_INSN_MOV_CR,       /* 0F 20 (from CR), 0F 22 (to CR: SK_INSN_F_WRITE);
                             reg = the CR number, rm = the GPR */
    SK_INSN_MOV,          /* 88 89 8A 8B, C6 /0, C7 /0, A0-A3 (moffs) */
    SK_INSN_MOVZX,        /* 0F B6 0F B7 */
    SK_INSN_MOVSX,        /* 0F BE 0F BF, 63 in 64-bit mode (MOVSXD) */
    SK_INSN_MOVS,         /* A4 A5 */
    SK_INSN_STOS,         /* AA AB */
    SK_INSN_LODS,         /* AC AD */
};

/* sk_insn.flags */
#define SK_INSN_F_STRING   0x001u  /* INS/OUTS */
#define SK_INSN_F_REP      0x002u  /* F3 (or F2) prefix on INS/OUTS */
#define SK_INSN_F_PORT_IMM 0x004u  /* port is the imm8; otherwise DX */
#define SK_INSN_F_LOCK     0x008u  /* F0 prefix */
#define SK_INSN_F_OPSIZE   0x010u  /* 66 prefix */
#define SK_INSN_F_ADDRSIZE 0x020u  /* 67 prefix (address size toggled: addrsize) */
#define SK_INSN_F_REPNE    0x040u  /* F2 prefix (last of F2/F3) */
#define SK_INSN_F_REPE     0x080u  /* F3 prefix (last of F2/F3) */
#define SK_INSN_F_MODRM    0x100u  /* has a ModRM byte */
#define SK_INSN_F_VEX      0x200u  /* VEX (C4/C5) or EVEX (62) encoded */
#define SK_INSN_F_MEM      0x400u  /* a memory operand (ModRM mod != 3, moffs, string) */
#define SK_INSN_F_RIPREL   0x800u  /* RIP-relative (64-bit mode, mod 0 rm 5) */
#define SK_INSN_F_WRITE    0x1000u /* MOV/MOVS/STOS: memory is written; MOV_CR: to CR */
#define SK_INSN_F_SIB      0x2000u /* the ModRM has a SIB byte (sib) */

struct sk_insn {
    uint8_t kind;          /* enum sk_insn_kind */
    uint8_t len;           /* total length, 0 when kind is INVALID */
    uint8_t size;          /* IN/OUT/INS/OUTS: operand size 1, 2 or 4; MOV,
                              MOVZX, MOVSX, MOVS, STOS, LODS: the memory
                              operand's size 1, 2, 4 or 8; else 0 */
    uint8_t port_imm;      /* the imm8 port when SK_INSN_F_PORT_IMM */
    uint16_t flags;        /* SK_INSN_F_* */
    uint8_t rex;           /* the effective REX byte (0x40-0x4F) or 0 */
    uint8_t segment;       /* the last segment override prefix byte, or 0 */
    uint8_t prefix_count;  /* legacy + REX prefix bytes */
    uint8_t map;           /* 0 one-byte, 1 0F, 2 0F38, 3 0F3A (VEX/EVEX: mmmmm) */
    uint8_t opcode;        /* the opcode byte in its map */
    uint8_t modrm;         /* when SK_INSN_F_MODRM */
    /* Added with the decoder modes: */
    uint8_t mode;          /* enum sk_insn_mode decoded in */
    uint8_t opsize;        /* effective operand size 2, 4 or 8 (mode, 66, REX.W);
                              byte forms: see size */
    uint8_t addrsize;      /* effective address size 2, 4 or 8 (mode, 67) */
    uint8_t reg;           /* ModRM.reg with REX.R/VEX.R (MOV_CR: CR number) */
    uint8_t rm;            /* ModRM.rm with REX.B/VEX.B (a register if mod 3) */
    uint8_t sib;           /* when SK_INSN_F_SIB */
    uint8_t disp_size;     /* 0, 1, 2 or 4; moffs: addrsize */
    uint8_t imm_size;      /* bytes of immediate (all of them: ENTER, far ptr) */
    int64_t disp;          /* sign-extended displacement; moffs: the address */
    uint64_t imm;          /* the immediate bytes, little-endian (first 8) */
};

/* The code segment an instruction is decoded for. */
enum sk_insn_mode {
    SK_INSN_MODE_64 = 0,   /* long mode, CS.L 1 */
    SK_INSN_MODE_32 = 1,   /* CS.D 1 (protected or compatibility mode) */
    SK_INSN_MODE_16 = 2,   /* real mode, virtual-8086, or CS.D 0 */
};

/* Decodes the instruction at bytes[0..n) as 64-bit user code. Never reads
 * beyond n (or beyond 15 bytes). Returns insn->kind; INVALID (len 0) when
 * the bytes are truncated, longer than 15, or not an instruction this
 * decoder knows the length of (e.g. invalid in 64-bit mode, XOP, 3DNow!
 * without its suffix, VEX/EVEX with a map it does not know). */
enum sk_insn_kind sk_insn_decode(const uint8_t *bytes, uint32_t n, struct sk_insn *insn);

/* The length only: 0 when unknown. */
uint32_t sk_insn_length(const uint8_t *bytes, uint32_t n);

/* The same in any code segment: default operand and address sizes (16-bit:
 * 2/2, 32-bit: 4/4, 64-bit: 4/8), 66/67 toggling them, REX only in 64-bit
 * mode (40-4F are INC/DEC elsewhere), the opcodes only 16/32-bit code has
 * (PUSH/POP ES/CS/SS/DS, DAA/DAS/AAA/AAS, PUSHA/POPA, BOUND, LES/LDS when
 * not VEX, 82, far CALL/JMP ptr, INTO, AAM/AAD, SALC, ARPL), 16-bit ModRM
 * addressing, moffs, relative and immediate sizes by the effective sizes.
 * sk_insn_decode(b, n, i) is sk_insn_decode_mode(b, n, SK_INSN_MODE_64, i).
 * Also fills opsize/addrsize/reg/rm/sib/disp/imm and, for the memory kinds,
 * size = the bytes of memory accessed. An unknown mode is INVALID. */
enum sk_insn_kind sk_insn_decode_mode(const uint8_t *bytes, uint32_t n, enum sk_insn_mode mode,
                                      struct sk_insn *insn);
uint32_t sk_insn_length_mode(const uint8_t *bytes, uint32_t n, enum sk_insn_mode mode);

/* The mode of the guest's code segment: CR0.PE 0 or RFLAGS.VM -> 16;
 * EFER.LMA and CS.L -> 64; else CS.D ? 32 : 16. */
enum sk_insn_mode sk_insn_mode_of(uint64_t cr0, uint64_t efer, uint64_t rflags, bool cs_l,
                                  bool cs_d);

/* RIP after a decoded instruction that does not branch: rip + len, wrapped
 * to 16 or 32 bits outside 64-bit mode. */
uint64_t sk_insn_next_rip(const struct sk_insn *insn, uint64_t rip);

/* The port of a decoded IN/OUT/INS/OUTS: the imm8 or DX (from rdx). */
uint16_t sk_insn_port(const struct sk_insn *insn, uint64_t rdx);

/* ---- Intercept messages -------------------------------------------------- */

/* Every builder zeroes the whole message, then fills the hv_message header
 * (type, payload size = the TLFS payload's size) and the x64 intercept header
 * from vp (VP index, instruction length, access type, execution state, CS,
 * RIP, RFLAGS). bytes/nbytes are the instruction bytes at RIP (at most 16
 * are copied; may be NULL/0). */

struct sk_vp_io_access {
    uint16_t port;
    uint8_t size;              /* 1, 2 or 4 */
    bool write;                /* OUT/OUTS */
    bool string;
    bool rep;
    uint8_t instruction_length;
};
void sk_vp_build_io(const struct sk_vp *vp, const struct sk_vp_io_access *io,
                    const uint8_t *bytes, uint32_t nbytes, struct sidecar_hv_message *msg);

/* Unmapped GPA (or another of the memory types): GVA == GPA. access is
 * SIDECAR_INTERCEPT_ACCESS_READ/WRITE/EXECUTE. */
void sk_vp_build_memory(const struct sk_vp *vp, sidecar_hv_message_type_t type,
                        uint8_t access, uint64_t gva, uint64_t gpa,
                        uint8_t instruction_length, const uint8_t *bytes,
                        uint32_t nbytes, struct sidecar_hv_message *msg);

/* RDMSR (write false) or WRMSR: MSR = ECX, RDX, RAX from vp. */
void sk_vp_build_msr(const struct sk_vp *vp, bool write, uint8_t instruction_length,
                     struct sidecar_hv_message *msg);

/* CPUID: RAX, RCX, RDX, RBX from vp; defaults = EAX, EBX, ECX, EDX (NULL: 0). */
void sk_vp_build_cpuid(const struct sk_vp *vp, uint8_t instruction_length,
                       const uint32_t defaults[4], struct sidecar_hv_message *msg);

/* A message of the given type whose payload is the intercept header
 * followed by zeros up to payload_size (at least the header's 40 bytes). */
void sk_vp_build_header_message(const struct sk_vp *vp, sidecar_hv_message_type_t type,
                                uint8_t instruction_length, uint32_t payload_size,
                                struct sidecar_hv_message *msg);

/* HLT: the intercept header only (payload 40 bytes). */
void sk_vp_build_halt(const struct sk_vp *vp, uint8_t instruction_length,
                      struct sidecar_hv_message *msg);

/* An exception: vector, error code (when has_error_code), parameter (CR2 of
 * a #PF, DR6 of a #DB), software bit for #BP/#OF, all GPRs, DS and SS. The
 * header's access type is from the #PF error code for #PF, read otherwise. */
void sk_vp_build_exception(const struct sk_vp *vp, const struct sk_vp_exit *ex,
                           uint64_t parameter, const uint8_t *bytes, uint32_t nbytes,
                           struct sidecar_hv_message *msg);

/* ---- Classifying an exit -------------------------------------------------- */

enum sk_vp_exit_action {
    SK_VP_EXIT_RESUME = 0,      /* not the guest's doing: re-enter (after STOP check) */
    SK_VP_EXIT_INTERCEPT = 1,   /* msg holds an intercept for the host */
};

/* How many instruction bytes may be read at rip: min(16, RAM end - rip), 0
 * when rip is outside guest RAM. */
uint32_t sk_vp_fetch_limit(const struct sk_vp *vp, uint64_t rip);

/* Turns vp->exit into an intercept. bytes/nbytes: the instruction bytes at
 * vp->rip (as far as sk_vp_fetch_limit allows). cpuid_defaults: EAX, EBX,
 * ECX, EDX for a CPUID intercept (NULL: zeros).
 *   vector >= 32 or NMI          -> RESUME
 *   #GP(0) on IN/OUT/INS/OUTS    -> x64 IO port intercept
 *   #GP(0) on HLT                -> x64 halt
 *   #GP(0) on RDMSR/WRMSR        -> MSR intercept
 *   #GP(0) on CPUID (faulting)   -> x64 CPUID intercept
 *   #PF outside guest RAM        -> unmapped GPA (GVA = GPA = CR2; the
 *                                   instruction length when decodable; no
 *                                   bytes for an instruction fetch)
 *   anything else                -> exception intercept (parameter: CR2 for
 *                                   #PF, DR6 for #DB, from fault_address;
 *                                   for faults the instruction length when
 *                                   decodable, 0 for traps and aborts)
 * The instruction bytes given are copied as they are (up to 16) into the
 * messages that carry them.
 * RIP is never advanced: the host emulates and sets RIP. */
enum sk_vp_exit_action sk_vp_handle_exit(struct sk_vp *vp, const uint8_t *bytes, uint32_t nbytes,
                                         const uint32_t cpuid_defaults[4],
                                         struct sidecar_hv_message *msg);

/* ---- TRANSLATE_GVA ----------------------------------------------------------- */

/* Control flag bits (TLFS HV_TRANSLATE_GVA_CONTROL_FLAGS). */
#define SK_TRANSLATE_VALIDATE_READ    (1ull << 0)
#define SK_TRANSLATE_VALIDATE_WRITE   (1ull << 1)
#define SK_TRANSLATE_VALIDATE_EXECUTE (1ull << 2)
#define SK_TRANSLATE_PRIVILEGE_EXEMPT (1ull << 3)
#define SK_TRANSLATE_SET_PAGE_TABLE_BITS (1ull << 4)
#define SK_TRANSLATE_TLB_FLUSH_INHIBIT (1ull << 5)
#define SK_TRANSLATE_FORCE_SUPERVISOR (1ull << 6)
#define SK_TRANSLATE_FORCE_USER       (1ull << 7)
#define SK_TRANSLATE_ENFORCE_SMAP     (1ull << 8)
#define SK_TRANSLATE_OVERRIDE_SMAP    (1ull << 9)
#define SK_TRANSLATE_SHADOW_STACK     (1ull << 10)
#define SK_TRANSLATE_INPUT_VTL_MASK   (0xffull << 56)
#define SK_TRANSLATE_KNOWN_FLAGS      (0x7ffull | SK_TRANSLATE_INPUT_VTL_MASK)

/* Translates req->gvn. resp is fully written: status SUCCESS with a result
 * code, or status INVALID_PARAMETER (unknown flag bits, or both force
 * supervisor and force user) with a zero result. Result codes:
 *   SUCCESS                 inside guest RAM and the access is allowed;
 *                           gpa_page = gvn, cache type WB (6)
 *   PRIVILEGE_VIOLATION     inside guest RAM but: write validation on RAM
 *                           without SK_VP_RAM_WRITE, execute validation
 *                           without SK_VP_RAM_EXEC, a user access (the
 *                           default: the VP runs at CPL3; or force user) to
 *                           RAM without SK_VP_RAM_USER unless privilege
 *                           exempt, a supervisor read/write validation of
 *                           user RAM with enforce SMAP and not override SMAP
 *                           unless privilege exempt, or a shadow-stack access
 *                           (no page is a shadow-stack page). Supervisor
 *                           execution of user RAM is allowed: the VP has no
 *                           supervisor mode, and no CR4.SMEP to report.
 *                           A page is inside guest RAM when all of it is.
 *   GPA_UNMAPPED            canonical lower-half address outside guest RAM;
 *                           gpa_page = gvn (identity), cache type UC (0)
 *   PAGE_NOT_PRESENT        higher-half or non-canonical address
 * Set A/D bits and TLB flush inhibit are accepted and have no effect; the
 * input VTL byte (bits 56-63) is ignored. */
void sk_vp_translate_gva(const struct sk_vp *vp, const struct sidecar_translate_gva_request *req,
                         struct sidecar_translate_gva_response *resp);

/* ---- The backend ------------------------------------------------------------ */

/* The run op: loads cpu->command->cpu_context into vp, then loops: STOP
 * requested -> store the context, return 0; ops->enter; classify with
 * sk_vp_handle_exit (fetching bytes with ops->read_guest and the CPUID
 * defaults with ops->cpuid); intercept -> store the context, return 1.
 * vp must be a struct sk_vp. */
int sk_vp_run(struct sk_cpu *cpu, void *vp, struct sidecar_hv_message *msg);

/* The dispatch core's ops over a struct sk_vp (see "Choices" above). */
uint16_t sk_vp_op_get_register(struct sk_cpu *cpu, void *vp, uint32_t name,
                               struct sidecar_hv_register_value *value);
uint16_t sk_vp_op_set_register(struct sk_cpu *cpu, void *vp, uint32_t name,
                               const struct sidecar_hv_register_value *value);
int sk_vp_op_translate_gva(struct sk_cpu *cpu, void *vp,
                           const struct sidecar_translate_gva_request *req,
                           struct sidecar_translate_gva_response *resp);

/* name "ring3": sk_vp_run + the three ops above. */
extern const struct sk_vp_backend sk_vp_ring3_backend;

#endif
