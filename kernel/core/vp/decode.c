/* SPDX-License-Identifier: MIT */
/* An x86 instruction decoder for intercepts, in 64-, 32- and 16-bit code
 * segments: the length of any instruction whose length the opcode maps tell
 * (legacy prefixes, REX in 64-bit mode, the one-byte, 0F, 0F38 and 0F3A
 * maps, VEX and EVEX), the effective operand and address sizes, the ModRM
 * operand (16-bit or 32/64-bit addressing), displacement and immediate, and
 * what an IN/OUT/INS/OUTS/HLT/RDMSR/WRMSR/CPUID/INVLPG/MOV CR and the
 * memory moves (MOV, MOVZX, MOVSX, MOVS, STOS, LODS) do. It never reads past
 * the bytes it is given, nor past 15 bytes (the architectural limit).
 * Facts from the Intel SDM vol. 2 opcode maps (appendix A) and the AMD APM
 * vol. 3; where they differ, 64-bit near branches follow Intel (66 does not
 * shorten rel32; AMD would read a rel16). */
#include "vp_internal.h"

/* Operand descriptors of one opcode. */
enum {
    O_NONE = 0,
    O_MODRM = 0x01,   /* a ModRM byte (and SIB/displacement it implies) */
    O_IMM8 = 0x02,    /* an 8-bit immediate */
    O_IMMZ = 0x04,    /* a 16-bit (66 prefix, no REX.W) or 32-bit immediate */
    O_IMM16 = 0x08,   /* a 16-bit immediate */
    O_REL32 = 0x10,   /* a 32-bit displacement (near CALL/JMP/Jcc in 64-bit mode) */
    O_BAD = 0x20,     /* invalid in 64-bit mode (or a prefix, handled earlier) */
    O_SPECIAL = 0x40, /* decided in code */
};

/* Short names for the tables only. */
#define _ O_NONE
#define M O_MODRM
#define B O_IMM8
#define Z O_IMMZ
#define W O_IMM16
#define D O_REL32
#define X O_BAD
#define S O_SPECIAL

static const uint8_t one_byte_map[256] = {
    /*        0    1    2    3    4    5    6    7    8    9    A    B    C    D    E    F */
    /* 0 */   M,   M,   M,   M,   B,   Z,   X,   X,   M,   M,   M,   M,   B,   Z,   X,   S,
    /* 1 */   M,   M,   M,   M,   B,   Z,   X,   X,   M,   M,   M,   M,   B,   Z,   X,   X,
    /* 2 */   M,   M,   M,   M,   B,   Z,   X,   X,   M,   M,   M,   M,   B,   Z,   X,   X,
    /* 3 */   M,   M,   M,   M,   B,   Z,   X,   X,   M,   M,   M,   M,   B,   Z,   X,   X,
    /* 4 */   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
    /* 5 */   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,
    /* 6 */   X,   X,   S,   M,   X,   X,   X,   X,   Z, M|Z,   B, M|B,   _,   _,   _,   _,
    /* 7 */   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,   B,
    /* 8 */ M|B, M|Z,   X, M|B,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   S,
    /* 9 */   _,   _,   _,   _,   _,   _,   _,   _,   _,   _,   X,   _,   _,   _,   _,   _,
    /* A */   S,   S,   S,   S,   _,   _,   _,   _,   B,   Z,   _,   _,   _,   _,   _,   _,
    /* B */   B,   B,   B,   B,   B,   B,   B,   B,   S,   S,   S,   S,   S,   S,   S,   S,
    /* C */ M|B, M|B,   W,   _,   S,   S, M|B, M|Z, W|B,   _,   W,   _,   _,   B,   X,   _,
    /* D */   M,   M,   M,   M,   X,   X,   X,   _,   M,   M,   M,   M,   M,   M,   M,   M,
    /* E */   B,   B,   B,   B,   B,   B,   B,   B,   D,   D,   X,   B,   _,   _,   _,   _,
    /* F */   X,   _,   X,   X,   _,   _,   S,   S,   _,   _,   _,   _,   _,   _,   M,   M,
};

static const uint8_t two_byte_map[256] = {
    /*        0    1    2    3    4    5    6    7    8    9    A    B    C    D    E    F */
    /* 0 */   M,   M,   M,   M,   X,   _,   _,   _,   _,   _,   X,   _,   X,   M,   _, M|B,
    /* 1 */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* 2 */   M,   M,   M,   M,   X,   X,   X,   X,   M,   M,   M,   M,   M,   M,   M,   M,
    /* 3 */   _,   _,   _,   _,   _,   _,   X,   _,   S,   X,   S,   X,   X,   X,   X,   X,
    /* 4 */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* 5 */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* 6 */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* 7 */ M|B, M|B, M|B, M|B,   M,   M,   M,   _,   S,   M,   X,   X,   M,   M,   M,   M,
    /* 8 */   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,   D,
    /* 9 */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* A */   _,   _,   _,   M, M|B,   M,   X,   X,   _,   _,   _,   M, M|B,   M,   M,   M,
    /* B */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M, M|B,   M,   M,   M,   M,   M,
    /* C */   M,   M, M|B,   M, M|B, M|B, M|B,   M,   _,   _,   _,   _,   _,   _,   _,   _,
    /* D */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* E */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
    /* F */   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,   M,
};

#undef _
#undef M
#undef B
#undef Z
#undef W
#undef D
#undef X
#undef S

#define REX_W 0x08u
#define REX_R 0x04u
#define REX_B 0x01u

/* Decoding state: the bytes, how far we may read, and where we are. */
struct cursor {
    const uint8_t *bytes;
    uint32_t limit;   /* min(n, 15) */
    uint32_t pos;
    bool legacy;      /* 16- or 32-bit code */
    uint8_t vex_rb;   /* VEX/EVEX R and B, as REX_R/REX_B (64-bit mode) */
};

static bool has(const struct cursor *c, uint32_t k)
{
    return c->pos + k <= c->limit;
}

static enum sk_insn_kind invalid(struct sk_insn *insn)
{
    insn->kind = SK_INSN_INVALID;
    insn->len = 0;
    insn->size = 0;
    return SK_INSN_INVALID;
}

/* Little-endian k bytes at the cursor (k <= 8), consumed. */
static uint64_t take(struct cursor *c, uint32_t k)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < k; i++)
        v |= (uint64_t)c->bytes[c->pos + i] << (8 * i);
    c->pos += k;
    return v;
}

static bool skip_imm(struct cursor *c, struct sk_insn *insn, uint32_t k)
{
    if (!has(c, k))
        return false;
    uint32_t at = insn->imm_size;
    uint64_t v = take(c, k);
    if (at < 8)
        insn->imm |= v << (8 * at);
    insn->imm_size = (uint8_t)(at + k);
    return true;
}

static bool displacement(struct cursor *c, struct sk_insn *insn, uint32_t k)
{
    if (!has(c, k))
        return false;
    uint64_t v = take(c, k);
    if (k && k < 8 && (v >> (8 * k - 1)) & 1)
        v |= ~0ull << (8 * k);     /* sign-extend */
    insn->disp = (int64_t)v;
    insn->disp_size = (uint8_t)k;
    return true;
}

/* Consumes a ModRM byte with its SIB and displacement: 16-bit addressing
 * (no SIB; mod 0 rm 6 is disp16) or 32/64-bit (SIB with rm 4; mod 0 rm 5 is
 * disp32, RIP-relative in 64-bit mode). */
static bool modrm(struct cursor *c, struct sk_insn *insn)
{
    if (!has(c, 1))
        return false;
    uint8_t m = c->bytes[c->pos++];
    insn->modrm = m;
    insn->flags |= SK_INSN_F_MODRM;
    uint8_t mod = m >> 6, rm = m & 7u;
    if (mod == 3)
        return true;
    insn->flags |= SK_INSN_F_MEM;
    uint32_t disp;
    if (insn->addrsize == 2) {
        disp = mod == 1 ? 1 : mod == 2 ? 2 : rm == 6 ? 2 : 0;
    } else {
        disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        if (rm == 4) {
            if (!has(c, 1))
                return false;
            insn->sib = c->bytes[c->pos++];
            insn->flags |= SK_INSN_F_SIB;
            if (mod == 0 && (insn->sib & 7u) == 5)
                disp = 4;
        } else if (mod == 0 && rm == 5) {
            disp = 4;
            if (insn->mode == SK_INSN_MODE_64)
                insn->flags |= SK_INSN_F_RIPREL;
        }
    }
    return displacement(c, insn, disp);
}

/* Operands from a descriptor (O_MODRM first: immediates follow it). */
static bool operands(struct cursor *c, struct sk_insn *insn, uint8_t desc)
{
    if (desc & O_BAD)
        return false;
    if ((desc & O_MODRM) && !modrm(c, insn))
        return false;
    uint32_t imm = 0;
    if (desc & O_IMM8)
        imm += 1;
    if (desc & O_IMM16)
        imm += 2;
    if (desc & O_IMMZ)
        imm += insn->opsize == 2 ? 2 : 4;
    if (desc & O_REL32)   /* near CALL/JMP/Jcc: rel32 in 64-bit mode (66 ignored) */
        imm += (insn->mode != SK_INSN_MODE_64 && insn->opsize == 2) ? 2 : 4;
    return skip_imm(c, insn, imm);
}

/* The VEX/EVEX maps: 1 = 0F, 2 = 0F38, 3 = 0F3A; EVEX also 5 and 6. */
static bool vex_operands(struct cursor *c, struct sk_insn *insn, bool evex)
{
    uint8_t op = insn->opcode;
    switch (insn->map) {
    case 1:
        if (op == 0x77 && !evex)
            return true;   /* VZEROUPPER/VZEROALL: no ModRM */
        if ((op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6))
            return operands(c, insn, O_MODRM | O_IMM8);
        return operands(c, insn, O_MODRM);
    case 2:
        return operands(c, insn, O_MODRM);
    case 3:
        return operands(c, insn, O_MODRM | O_IMM8);
    case 5:
    case 6:
        return evex && operands(c, insn, O_MODRM);
    default:
        return false;
    }
}

/* After C4/C5/62: the VEX/EVEX payload, opcode and operands. */
static bool vex(struct cursor *c, struct sk_insn *insn, uint8_t escape)
{
    /* VEX/EVEX after 66, F2, F3, LOCK or REX is #UD. */
    if (insn->rex || (insn->flags & (SK_INSN_F_OPSIZE | SK_INSN_F_REPE |
                                     SK_INSN_F_REPNE | SK_INSN_F_LOCK)))
        return false;
    insn->flags |= SK_INSN_F_VEX;
    uint32_t payload = escape == 0xc5 ? 1 : escape == 0xc4 ? 2 : 3;
    if (!has(c, payload + 1))
        return false;
    const uint8_t *p = &c->bytes[c->pos];
    if (escape == 0xc5)
        insn->map = 1;
    else if (escape == 0xc4)
        insn->map = p[0] & 0x1fu;
    else
        insn->map = p[0] & 0x07u;
    if (insn->mode == SK_INSN_MODE_64) {
        /* R and B are stored inverted (C5 has no B). */
        c->vex_rb = (uint8_t)(((p[0] & 0x80u) ? 0 : REX_R) |
                              (escape != 0xc5 && !(p[0] & 0x20u) ? REX_B : 0));
    }
    c->pos += payload;
    insn->opcode = c->bytes[c->pos++];
    return vex_operands(c, insn, escape == 0x62);
}

/* In 16/32-bit code C4, C5 and 62 are VEX/EVEX only when the next byte
 * would be a register ModRM (mod 3); otherwise LES, LDS, BOUND. */
static bool vex_in_legacy(const struct cursor *c)
{
    return has(c, 1) && (c->bytes[c->pos] >> 6) == 3;
}

/* 0F xx, 0F 38 xx, 0F 3A xx. */
static bool escape_0f(struct cursor *c, struct sk_insn *insn)
{
    if (!has(c, 1))
        return false;
    uint8_t op = c->bytes[c->pos++];
    insn->map = 1;
    insn->opcode = op;
    if (op == 0x38 || op == 0x3a) {
        if (!has(c, 1))
            return false;
        insn->map = op == 0x38 ? 2 : 3;
        insn->opcode = c->bytes[c->pos++];
        return operands(c, insn, op == 0x38 ? O_MODRM : O_MODRM | O_IMM8);
    }
    switch (op) {
    case 0x30: insn->kind = SK_INSN_WRMSR; break;
    case 0x32: insn->kind = SK_INSN_RDMSR; break;
    case 0xa2: insn->kind = SK_INSN_CPUID; break;
    case 0x01:
        if (!has(c, 1))
            return false;
        if ((c->bytes[c->pos] >> 6) != 3 && ((c->bytes[c->pos] >> 3) & 7u) == 7)
            insn->kind = SK_INSN_INVLPG;
        break;
    case 0x20: case 0x21: case 0x22: case 0x23:
        /* MOV to/from CR/DR: the mod field is ignored, always a register
         * form (no SIB, no displacement). */
        if (!has(c, 1))
            return false;
        insn->modrm = c->bytes[c->pos++];
        insn->flags |= SK_INSN_F_MODRM;
        if (op == 0x20 || op == 0x22) {
            insn->kind = SK_INSN_MOV_CR;
            if (op == 0x22)
                insn->flags |= SK_INSN_F_WRITE;
        }
        insn->opsize = insn->mode == SK_INSN_MODE_64 ? 8 : 4;
        return true;
    case 0xb6: case 0xb7:
        insn->kind = SK_INSN_MOVZX;
        insn->size = op == 0xb6 ? 1 : 2;
        break;
    case 0xbe: case 0xbf:
        insn->kind = SK_INSN_MOVSX;
        insn->size = op == 0xbe ? 1 : 2;
        break;
    case 0x78:
        /* 66 0F 78 /0 ib ib (EXTRQ), F2 0F 78 /r ib ib (INSERTQ); else VMREAD. */
        if (insn->flags & (SK_INSN_F_OPSIZE | SK_INSN_F_REPNE))
            return operands(c, insn, O_MODRM) && skip_imm(c, insn, 2);
        return operands(c, insn, O_MODRM);
    default:
        break;
    }
    return operands(c, insn, two_byte_map[op]);
}

static void io(struct sk_insn *insn, enum sk_insn_kind kind, bool byte, bool imm)
{
    insn->kind = (uint8_t)kind;
    /* 16-bit with 66 (64-bit mode: whatever REX.W says) or in 16-bit code. */
    bool word = insn->mode == SK_INSN_MODE_64 ? (insn->flags & SK_INSN_F_OPSIZE) != 0
                                              : insn->opsize == 2;
    insn->size = byte ? 1 : word ? 2 : 4;
    if (imm)
        insn->flags |= SK_INSN_F_PORT_IMM;
    if (kind == SK_INSN_INS || kind == SK_INSN_OUTS) {
        insn->flags |= SK_INSN_F_STRING;
        if (insn->flags & (SK_INSN_F_REPE | SK_INSN_F_REPNE))
            insn->flags |= SK_INSN_F_REP;
    }
}

/* A memory-moving kind: size from the byte form or the operand size. */
static void mem_kind(struct sk_insn *insn, enum sk_insn_kind kind, bool byte, bool write)
{
    insn->kind = (uint8_t)kind;
    insn->size = byte ? 1 : insn->opsize;
    if (write)
        insn->flags |= SK_INSN_F_WRITE;
    if (kind == SK_INSN_MOVS || kind == SK_INSN_STOS || kind == SK_INSN_LODS) {
        insn->flags |= SK_INSN_F_STRING | SK_INSN_F_MEM;
        if (insn->flags & (SK_INSN_F_REPE | SK_INSN_F_REPNE))
            insn->flags |= SK_INSN_F_REP;
    }
}

/* One-byte opcodes that only 16/32-bit code has, or that differ there.
 * Returns 1 decoded, 0 failed, -1 not one of them. */
static int legacy_one_byte(struct cursor *c, struct sk_insn *insn, uint8_t op)
{
    switch (op) {
    case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
    case 0x27: case 0x2f: case 0x37: case 0x3f:
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
    case 0x60: case 0x61: case 0xce: case 0xd6:
        return 1;                                   /* no operands */
    case 0x62: case 0xc4: case 0xc5:
        if (vex_in_legacy(c))
            return vex(c, insn, op);
        return operands(c, insn, O_MODRM);          /* BOUND, LES, LDS */
    case 0x63:                                      /* ARPL */
        return operands(c, insn, O_MODRM);
    case 0x82:                                      /* alias of 80 */
        return operands(c, insn, O_MODRM | O_IMM8);
    case 0x9a: case 0xea:                           /* far CALL/JMP ptr16:16/32 */
        return skip_imm(c, insn, insn->opsize + 2u);
    case 0xd4: case 0xd5:                           /* AAM, AAD */
        return skip_imm(c, insn, 1);
    default:
        return -1;
    }
}

static bool one_byte(struct cursor *c, struct sk_insn *insn, uint8_t op)
{
    if (c->legacy) {
        int r = legacy_one_byte(c, insn, op);
        if (r >= 0)
            return r == 1;
    }
    switch (op) {
    case 0x0f:
        return escape_0f(c, insn);
    case 0x62:
    case 0xc4:
    case 0xc5:
        return vex(c, insn, op);
    case 0x8f:
        /* POP r/m is 8F /0; other reg fields are AMD's XOP escape. */
        if (!has(c, 1) || ((c->bytes[c->pos] >> 3) & 7u) != 0)
            return false;
        return operands(c, insn, O_MODRM);
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
        /* MOV with an absolute address (moffs) of the address size. */
        mem_kind(insn, SK_INSN_MOV, !(op & 1), op >= 0xa2);
        insn->flags |= SK_INSN_F_MEM;
        if (!has(c, insn->addrsize))
            return false;
        insn->disp = (int64_t)take(c, insn->addrsize);
        insn->disp_size = insn->addrsize;
        return true;
    case 0xb8: case 0xb9: case 0xba: case 0xbb:
    case 0xbc: case 0xbd: case 0xbe: case 0xbf:
        /* MOV r, imm of the operand size (64-bit with REX.W). */
        return skip_imm(c, insn, insn->opsize);
    case 0xf6:
    case 0xf7:
        /* Group 3: TEST (/0, /1) has an immediate, the others none. */
        if (!has(c, 1))
            return false;
        if (((c->bytes[c->pos] >> 3) & 7u) <= 1)
            return operands(c, insn, (uint8_t)(O_MODRM | (op == 0xf6 ? O_IMM8 : O_IMMZ)));
        return operands(c, insn, O_MODRM);
    case 0x88: case 0x89: case 0x8a: case 0x8b:
        mem_kind(insn, SK_INSN_MOV, !(op & 1), op <= 0x89);
        break;
    case 0xc6: case 0xc7:
        if (has(c, 1) && ((c->bytes[c->pos] >> 3) & 7u) == 0)
            mem_kind(insn, SK_INSN_MOV, op == 0xc6, true);
        break;
    case 0x63:
        /* MOVSXD (64-bit mode only; ARPL elsewhere). */
        mem_kind(insn, SK_INSN_MOVSX, false, false);
        insn->size = insn->opsize == 2 ? 2 : 4;
        break;
    case 0xa4: case 0xa5: mem_kind(insn, SK_INSN_MOVS, op == 0xa4, true); break;
    case 0xaa: case 0xab: mem_kind(insn, SK_INSN_STOS, op == 0xaa, true); break;
    case 0xac: case 0xad: mem_kind(insn, SK_INSN_LODS, op == 0xac, false); break;
    case 0xe4: io(insn, SK_INSN_IN, true, true); break;
    case 0xe5: io(insn, SK_INSN_IN, false, true); break;
    case 0xe6: io(insn, SK_INSN_OUT, true, true); break;
    case 0xe7: io(insn, SK_INSN_OUT, false, true); break;
    case 0xec: io(insn, SK_INSN_IN, true, false); break;
    case 0xed: io(insn, SK_INSN_IN, false, false); break;
    case 0xee: io(insn, SK_INSN_OUT, true, false); break;
    case 0xef: io(insn, SK_INSN_OUT, false, false); break;
    case 0x6c: io(insn, SK_INSN_INS, true, false); break;
    case 0x6d: io(insn, SK_INSN_INS, false, false); break;
    case 0x6e: io(insn, SK_INSN_OUTS, true, false); break;
    case 0x6f: io(insn, SK_INSN_OUTS, false, false); break;
    case 0xf4: insn->kind = SK_INSN_HLT; break;
    default:
        break;
    }
    if (!operands(c, insn, one_byte_map[op]))
        return false;
    if (insn->flags & SK_INSN_F_PORT_IMM)
        insn->port_imm = c->bytes[c->pos - 1];
    return true;
}

enum sk_insn_kind sk_insn_decode_mode(const uint8_t *bytes, uint32_t n, enum sk_insn_mode mode,
                                      struct sk_insn *insn)
{
    vp_zero(insn, sizeof(*insn));
    if (!bytes || (mode != SK_INSN_MODE_64 && mode != SK_INSN_MODE_32 &&
                   mode != SK_INSN_MODE_16))
        return invalid(insn);
    struct cursor c = { bytes, n < SK_INSN_MAX_LENGTH ? n : SK_INSN_MAX_LENGTH, 0,
                        mode != SK_INSN_MODE_64, 0 };
    insn->kind = SK_INSN_OTHER;
    insn->mode = (uint8_t)mode;

    /* Prefixes, any order and count (the 15-byte limit bounds them). A REX
     * (64-bit mode only) counts only right before the opcode: a legacy
     * prefix after it cancels it. */
    for (;;) {
        if (!has(&c, 1))
            return invalid(insn);
        uint8_t b = bytes[c.pos];
        if ((b & 0xf0u) == 0x40 && !c.legacy) {
            insn->rex = b;
        } else if (b == 0xf0) {
            insn->flags |= SK_INSN_F_LOCK;
            insn->rex = 0;
        } else if (b == 0xf2 || b == 0xf3) {
            insn->flags &= (uint16_t)~(SK_INSN_F_REPE | SK_INSN_F_REPNE);
            insn->flags |= b == 0xf3 ? SK_INSN_F_REPE : SK_INSN_F_REPNE;
            insn->rex = 0;
        } else if (b == 0x66) {
            insn->flags |= SK_INSN_F_OPSIZE;
            insn->rex = 0;
        } else if (b == 0x67) {
            insn->flags |= SK_INSN_F_ADDRSIZE;
            insn->rex = 0;
        } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) {
            insn->segment = b;
            insn->rex = 0;
        } else {
            break;
        }
        c.pos++;
    }
    bool o66 = (insn->flags & SK_INSN_F_OPSIZE) != 0, a67 = (insn->flags & SK_INSN_F_ADDRSIZE) != 0;
    switch (mode) {
    case SK_INSN_MODE_64:
        insn->opsize = (insn->rex & REX_W) ? 8 : o66 ? 2 : 4;
        insn->addrsize = a67 ? 4 : 8;
        break;
    case SK_INSN_MODE_32:
        insn->opsize = o66 ? 2 : 4;
        insn->addrsize = a67 ? 2 : 4;
        break;
    default:
        insn->opsize = o66 ? 4 : 2;
        insn->addrsize = a67 ? 4 : 2;
        break;
    }
    insn->prefix_count = (uint8_t)c.pos;
    uint8_t op = bytes[c.pos++];
    insn->map = 0;
    insn->opcode = op;
    if (!one_byte(&c, insn, op))
        return invalid(insn);
    insn->len = (uint8_t)c.pos;
    if (insn->flags & SK_INSN_F_MODRM) {
        uint8_t ext = (uint8_t)(insn->rex | c.vex_rb);
        insn->reg = (uint8_t)(((insn->modrm >> 3) & 7u) | ((ext & REX_R) ? 8u : 0u));
        insn->rm = (uint8_t)((insn->modrm & 7u) | ((ext & REX_B) ? 8u : 0u));
        /* AMD's LOCK MOV CR0 is CR8. */
        if (insn->kind == SK_INSN_MOV_CR && (insn->flags & SK_INSN_F_LOCK))
            insn->reg |= 8u;
    }
    return (enum sk_insn_kind)insn->kind;
}

enum sk_insn_kind sk_insn_decode(const uint8_t *bytes, uint32_t n, struct sk_insn *insn)
{
    return sk_insn_decode_mode(bytes, n, SK_INSN_MODE_64, insn);
}

uint32_t sk_insn_length_mode(const uint8_t *bytes, uint32_t n, enum sk_insn_mode mode)
{
    struct sk_insn insn;
    sk_insn_decode_mode(bytes, n, mode, &insn);
    return insn.len;
}

uint32_t sk_insn_length(const uint8_t *bytes, uint32_t n)
{
    return sk_insn_length_mode(bytes, n, SK_INSN_MODE_64);
}

enum sk_insn_mode sk_insn_mode_of(uint64_t cr0, uint64_t efer, uint64_t rflags, bool cs_l,
                                  bool cs_d)
{
    if (!(cr0 & 1u) || (rflags & SK_RFLAGS_VM))
        return SK_INSN_MODE_16;
    if ((efer & (1ull << 10)) && cs_l)
        return SK_INSN_MODE_64;
    return cs_d ? SK_INSN_MODE_32 : SK_INSN_MODE_16;
}

uint64_t sk_insn_next_rip(const struct sk_insn *insn, uint64_t rip)
{
    uint64_t next = rip + insn->len;
    if (insn->mode == SK_INSN_MODE_32)
        return next & 0xffffffffull;
    if (insn->mode == SK_INSN_MODE_16)
        return next & 0xffffull;
    return next;
}

uint16_t sk_insn_port(const struct sk_insn *insn, uint64_t rdx)
{
    if (insn->flags & SK_INSN_F_PORT_IMM)
        return insn->port_imm;
    return (uint16_t)rdx;
}
