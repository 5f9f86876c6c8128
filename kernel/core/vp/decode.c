/* An x86-64 instruction decoder for intercepts from 64-bit user code: the
 * length of any instruction whose length the opcode maps tell (legacy
 * prefixes, REX, the one-byte, 0F, 0F38 and 0F3A maps, VEX and EVEX), and
 * what an IN/OUT/INS/OUTS/HLT/RDMSR/WRMSR/CPUID does. It never reads past
 * the bytes it is given, nor past 15 bytes (the architectural limit).
 * Facts from the Intel SDM vol. 2 opcode maps (appendix A). */
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

/* Decoding state: the bytes, how far we may read, and where we are. */
struct cursor {
    const uint8_t *bytes;
    uint32_t limit;   /* min(n, 15) */
    uint32_t pos;
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

/* Consumes a ModRM byte with its SIB and displacement (64-bit or 32-bit
 * addressing: the same forms). */
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
    uint32_t disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        if (!has(c, 1))
            return false;
        uint8_t sib = c->bytes[c->pos++];
        if (mod == 0 && (sib & 7u) == 5)
            disp = 4;
    } else if (mod == 0 && rm == 5) {
        disp = 4; /* RIP-relative */
    }
    if (!has(c, disp))
        return false;
    c->pos += disp;
    return true;
}

static bool skip(struct cursor *c, uint32_t k)
{
    if (!has(c, k))
        return false;
    c->pos += k;
    return true;
}

/* Operands from a descriptor (O_MODRM first: immediates follow it). */
static bool operands(struct cursor *c, struct sk_insn *insn, uint8_t desc)
{
    bool opsize = (insn->flags & SK_INSN_F_OPSIZE) && !(insn->rex & REX_W);
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
        imm += opsize ? 2 : 4;
    if (desc & O_REL32)
        imm += 4;
    return skip(c, imm);
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
    c->pos += payload;
    insn->opcode = c->bytes[c->pos++];
    return vex_operands(c, insn, escape == 0x62);
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
    case 0x78:
        /* 66 0F 78 /0 ib ib (EXTRQ), F2 0F 78 /r ib ib (INSERTQ); else VMREAD. */
        if (insn->flags & (SK_INSN_F_OPSIZE | SK_INSN_F_REPNE))
            return operands(c, insn, O_MODRM) && skip(c, 2);
        return operands(c, insn, O_MODRM);
    default:
        break;
    }
    return operands(c, insn, two_byte_map[op]);
}

static void io(struct sk_insn *insn, enum sk_insn_kind kind, bool byte, bool imm)
{
    insn->kind = (uint8_t)kind;
    insn->size = byte ? 1 : (insn->flags & SK_INSN_F_OPSIZE) ? 2 : 4;
    if (imm)
        insn->flags |= SK_INSN_F_PORT_IMM;
    if (kind == SK_INSN_INS || kind == SK_INSN_OUTS) {
        insn->flags |= SK_INSN_F_STRING;
        if (insn->flags & (SK_INSN_F_REPE | SK_INSN_F_REPNE))
            insn->flags |= SK_INSN_F_REP;
    }
}

static bool one_byte(struct cursor *c, struct sk_insn *insn, uint8_t op)
{
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
        /* MOV with a full-width absolute address (moffs). */
        return skip(c, (insn->flags & SK_INSN_F_ADDRSIZE) ? 4 : 8);
    case 0xb8: case 0xb9: case 0xba: case 0xbb:
    case 0xbc: case 0xbd: case 0xbe: case 0xbf:
        /* MOV r, imm: 64-bit with REX.W. */
        return skip(c, (insn->rex & REX_W) ? 8 : (insn->flags & SK_INSN_F_OPSIZE) ? 2 : 4);
    case 0xf6:
    case 0xf7:
        /* Group 3: TEST (/0, /1) has an immediate, the others none. */
        if (!has(c, 1))
            return false;
        if (((c->bytes[c->pos] >> 3) & 7u) <= 1)
            return operands(c, insn, (uint8_t)(O_MODRM | (op == 0xf6 ? O_IMM8 : O_IMMZ)));
        return operands(c, insn, O_MODRM);
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

enum sk_insn_kind sk_insn_decode(const uint8_t *bytes, uint32_t n, struct sk_insn *insn)
{
    vp_zero(insn, sizeof(*insn));
    if (!bytes)
        return invalid(insn);
    struct cursor c = { bytes, n < SK_INSN_MAX_LENGTH ? n : SK_INSN_MAX_LENGTH, 0 };
    insn->kind = SK_INSN_OTHER;

    /* Prefixes, any order and count (the 15-byte limit bounds them). A REX
     * counts only right before the opcode: a legacy prefix after it cancels it. */
    for (;;) {
        if (!has(&c, 1))
            return invalid(insn);
        uint8_t b = bytes[c.pos];
        if ((b & 0xf0u) == 0x40) {
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
    insn->prefix_count = (uint8_t)c.pos;
    uint8_t op = bytes[c.pos++];
    insn->map = 0;
    insn->opcode = op;
    if (!one_byte(&c, insn, op))
        return invalid(insn);
    insn->len = (uint8_t)c.pos;
    return (enum sk_insn_kind)insn->kind;
}

uint32_t sk_insn_length(const uint8_t *bytes, uint32_t n)
{
    struct sk_insn insn;
    sk_insn_decode(bytes, n, &insn);
    return insn.len;
}

uint16_t sk_insn_port(const struct sk_insn *insn, uint64_t rdx)
{
    if (insn->flags & SK_INSN_F_PORT_IMM)
        return insn->port_imm;
    return (uint16_t)rdx;
}
