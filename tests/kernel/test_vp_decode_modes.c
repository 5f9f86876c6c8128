/* SPDX-License-Identifier: MIT */
/* Unit tests of the decoder in 16-, 32- and 64-bit code segments
 * (sk_insn_decode_mode, kernel/core/vp/decode.c): default sizes and the
 * 66/67 toggles, REX only in 64-bit mode, opcodes only 16/32-bit code has,
 * 16-bit ModRM addressing, moffs/immediate/relative sizes, and the kinds an
 * emulating VMM needs (MOV, MOVZX/MOVSX, string stores, MOV CR, INVLPG). */
#include <criterion/criterion.h>
#include <string.h>

#include <sidecar/vp.h>

#define K(x) SK_INSN_##x
#define F(x) SK_INSN_F_##x
#define M16 SK_INSN_MODE_16
#define M32 SK_INSN_MODE_32
#define M64 SK_INSN_MODE_64

struct mcase {
    const char *what;
    uint8_t mode;
    uint8_t bytes[15];
    uint8_t n;
    uint8_t len;          /* 0: invalid */
    uint8_t kind;
};

static const struct mcase cases[] = {
    /* 16-bit code: ModRM without SIB, disp16 */
    { "mov ax, [bx]",              M16, {0x8b, 0x07}, 2, 2, K(MOV) },
    { "mov ax, [0x1234]",          M16, {0x8b, 0x06, 0x34, 0x12}, 4, 4, K(MOV) },
    { "mov ax, [bp-2]",            M16, {0x8b, 0x46, 0xfe}, 3, 3, K(MOV) },
    { "mov ax, [bp+0x100]",        M16, {0x8b, 0x86, 0x00, 0x01}, 4, 4, K(MOV) },
    { "mov ax, [si] (rm 4: no SIB)", M16, {0x8b, 0x04}, 2, 2, K(MOV) },
    { "mov ax, [di] (rm 5: no disp)", M16, {0x8b, 0x05}, 2, 2, K(MOV) },
    { "67: 32-bit SIB form",       M16, {0x67, 0x8b, 0x04, 0x24}, 4, 4, K(MOV) },
    { "67: disp32",                M16, {0x67, 0x8b, 0x05, 1, 2, 3, 4}, 7, 7, K(MOV) },
    { "mov ax, imm16",             M16, {0xb8, 0x34, 0x12}, 3, 3, K(OTHER) },
    { "66 mov eax, imm32",         M16, {0x66, 0xb8, 1, 2, 3, 4}, 6, 6, K(OTHER) },
    { "mov ax, moffs16",           M16, {0xa1, 0x34, 0x12}, 3, 3, K(MOV) },
    { "67 mov ax, moffs32",        M16, {0x67, 0xa1, 1, 2, 3, 4}, 6, 6, K(MOV) },
    { "add ax, imm16",             M16, {0x05, 0x34, 0x12}, 3, 3, K(OTHER) },
    { "66 add eax, imm32",         M16, {0x66, 0x05, 1, 2, 3, 4}, 6, 6, K(OTHER) },
    { "call rel16",                M16, {0xe8, 0x34, 0x12}, 3, 3, K(OTHER) },
    { "66 call rel32",             M16, {0x66, 0xe8, 1, 2, 3, 4}, 6, 6, K(OTHER) },
    { "jz rel16",                  M16, {0x0f, 0x84, 0x34, 0x12}, 4, 4, K(OTHER) },
    { "call far ptr16:16",         M16, {0x9a, 0, 0, 0, 0xf0}, 5, 5, K(OTHER) },
    { "66 jmp far ptr16:32",       M16, {0x66, 0xea, 1, 2, 3, 4, 5, 6}, 8, 8, K(OTHER) },
    { "inc ax (40, not REX)",      M16, {0x40}, 1, 1, K(OTHER) },
    { "dec ax then a mov (48)",    M16, {0x48, 0x8b, 0x07}, 3, 1, K(OTHER) },
    { "dec di",                    M16, {0x4f}, 1, 1, K(OTHER) },
    { "push es",                   M16, {0x06}, 1, 1, K(OTHER) },
    { "pop ds",                    M16, {0x1f}, 1, 1, K(OTHER) },
    { "daa",                       M16, {0x27}, 1, 1, K(OTHER) },
    { "aaa",                       M16, {0x37}, 1, 1, K(OTHER) },
    { "pusha",                     M16, {0x60}, 1, 1, K(OTHER) },
    { "into",                      M16, {0xce}, 1, 1, K(OTHER) },
    { "salc",                      M16, {0xd6}, 1, 1, K(OTHER) },
    { "aam",                       M16, {0xd4, 0x0a}, 2, 2, K(OTHER) },
    { "82 alias of 80",            M16, {0x82, 0xc0, 0x01}, 3, 3, K(OTHER) },
    { "les bx, [0x1234]",          M16, {0xc4, 0x1e, 0x34, 0x12}, 4, 4, K(OTHER) },
    { "lds ax, [bx]",              M16, {0xc5, 0x07}, 2, 2, K(OTHER) },
    { "bound ax, [bx]",            M16, {0x62, 0x07}, 2, 2, K(OTHER) },
    { "vzeroupper (C5, mod 3)",    M16, {0xc5, 0xf8, 0x77}, 3, 3, K(OTHER) },
    { "arpl",                      M16, {0x63, 0x07}, 2, 2, K(OTHER) },
    { "mov word [0x1234], imm16",  M16, {0xc7, 0x06, 0x34, 0x12, 0x78, 0x56}, 6, 6, K(MOV) },
    { "66 mov dword [..], imm32",  M16, {0x66, 0xc7, 0x06, 0x34, 0x12, 1, 2, 3, 4}, 9, 9, K(MOV) },
    { "stosw",                     M16, {0xab}, 1, 1, K(STOS) },
    { "mov eax, cr0",              M16, {0x0f, 0x20, 0xc0}, 3, 3, K(MOV_CR) },
    { "invlpg [bx+si]",            M16, {0x0f, 0x01, 0x38}, 3, 3, K(INVLPG) },
    { "invlpg [0x1234]",           M16, {0x0f, 0x01, 0x3e, 0x34, 0x12}, 5, 5, K(INVLPG) },
    { "0F 01 F8 (mod 3 /7)",       M16, {0x0f, 0x01, 0xf8}, 3, 3, K(OTHER) },
    { "movzx ax, byte [bx]",       M16, {0x0f, 0xb6, 0x07}, 3, 3, K(MOVZX) },
    { "hlt",                       M16, {0xf4}, 1, 1, K(HLT) },
    { "cpuid",                     M16, {0x0f, 0xa2}, 2, 2, K(CPUID) },
    { "wrmsr",                     M16, {0x0f, 0x30}, 2, 2, K(WRMSR) },
    { "out dx, al",                M16, {0xee}, 1, 1, K(OUT) },
    /* 32-bit code */
    { "mov eax, [disp32]",         M32, {0x8b, 0x05, 0x78, 0x56, 0x34, 0x12}, 6, 6, K(MOV) },
    { "mov eax, [esp]",            M32, {0x8b, 0x04, 0x24}, 3, 3, K(MOV) },
    { "67 mov eax, [bx]",          M32, {0x67, 0x8b, 0x07}, 3, 3, K(MOV) },
    { "67 mov eax, [0x1234]",      M32, {0x67, 0x8b, 0x06, 0x34, 0x12}, 5, 5, K(MOV) },
    { "mov eax, moffs32",          M32, {0xa1, 1, 2, 3, 4}, 5, 5, K(MOV) },
    { "67 mov eax, moffs16",       M32, {0x67, 0xa1, 1, 2}, 4, 4, K(MOV) },
    { "inc eax",                   M32, {0x40}, 1, 1, K(OTHER) },
    { "jmp rel32",                 M32, {0xe9, 1, 2, 3, 4}, 5, 5, K(OTHER) },
    { "66 jmp rel16",              M32, {0x66, 0xe9, 1, 2}, 4, 4, K(OTHER) },
    { "66 jnz rel16",              M32, {0x66, 0x0f, 0x85, 1, 2}, 5, 5, K(OTHER) },
    { "call far ptr16:32",         M32, {0x9a, 1, 2, 3, 4, 5, 6}, 7, 7, K(OTHER) },
    { "66 call far ptr16:16",      M32, {0x66, 0x9a, 1, 2, 3, 4}, 6, 6, K(OTHER) },
    { "mov eax, imm32",            M32, {0xb8, 1, 2, 3, 4}, 5, 5, K(OTHER) },
    { "66 mov ax, imm16",          M32, {0x66, 0xb8, 1, 2}, 4, 4, K(OTHER) },
    { "VEX (C4, mod 3)",           M32, {0xc4, 0xe2, 0x79, 0x00, 0x00}, 5, 5, K(OTHER) },
    { "les eax, [eax]",            M32, {0xc4, 0x00}, 2, 2, K(OTHER) },
    { "EVEX (62, mod 3)",          M32, {0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00}, 6, 6, K(OTHER) },
    { "bound eax, [eax]",          M32, {0x62, 0x00}, 2, 2, K(OTHER) },
    { "mov [0x1000], ebx",         M32, {0x89, 0x1d, 0x00, 0x10, 0x00, 0x00}, 6, 6, K(MOV) },
    { "push ss",                   M32, {0x16}, 1, 1, K(OTHER) },
    { "aas",                       M32, {0x3f}, 1, 1, K(OTHER) },
    { "popa",                      M32, {0x61}, 1, 1, K(OTHER) },
    { "aad",                       M32, {0xd5, 0x0a}, 2, 2, K(OTHER) },
    { "arpl [eax], ax",            M32, {0x63, 0x00}, 2, 2, K(OTHER) },
    { "syscall",                   M32, {0x0f, 0x05}, 2, 2, K(OTHER) },
    { "rep movsd",                 M32, {0xf3, 0xa5}, 2, 2, K(MOVS) },
    { "lodsb",                     M32, {0xac}, 1, 1, K(LODS) },
    /* 64-bit code */
    { "mov eax, cr0 [mod ignored]", M64, {0x0f, 0x20, 0x05}, 3, 3, K(MOV_CR) },
    { "mov dr7, rax [mod ignored]", M64, {0x0f, 0x23, 0x38}, 3, 3, K(OTHER) },
    { "mov rax, cr8",              M64, {0x44, 0x0f, 0x20, 0xc0}, 4, 4, K(MOV_CR) },
    { "mov cr3, r8",               M64, {0x41, 0x0f, 0x22, 0xd8}, 4, 4, K(MOV_CR) },
    { "invlpg [rip+d32]",          M64, {0x0f, 0x01, 0x3d, 1, 2, 3, 4}, 7, 7, K(INVLPG) },
    { "mov [rbx], rax",            M64, {0x48, 0x89, 0x03}, 3, 3, K(MOV) },
    { "mov byte [rip+d], imm8",    M64, {0xc6, 0x05, 1, 2, 3, 4, 0x5a}, 7, 7, K(MOV) },
    { "movsxd rax, [rcx]",         M64, {0x48, 0x63, 0x01}, 3, 3, K(MOVSX) },
    { "mov moffs64, rax",          M64, {0x48, 0xa3, 1, 2, 3, 4, 5, 6, 7, 8}, 10, 10, K(MOV) },
    { "rep stosq",                 M64, {0xf3, 0x48, 0xab}, 3, 3, K(STOS) },
    { "push es: invalid",          M64, {0x06}, 1, 0, K(INVALID) },
    { "aaa: invalid",              M64, {0x37}, 1, 0, K(INVALID) },
    { "82: invalid",               M64, {0x82, 0xc0, 0x01}, 3, 0, K(INVALID) },
    { "far call: invalid",         M64, {0x9a, 1, 2, 3, 4, 5, 6}, 7, 0, K(INVALID) },
    { "C4 is always VEX",          M64, {0xc4, 0x00, 0x79, 0x00, 0x00}, 5, 0, K(INVALID) },
    { "xabort imm8 (C6 F8)",       M64, {0xc6, 0xf8, 0x01}, 3, 3, K(OTHER) },
};

Test(vp_decode_modes, lengths_and_kinds)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mcase *c = &cases[i];
        struct sk_insn insn;
        enum sk_insn_kind k = sk_insn_decode_mode(c->bytes, c->n, c->mode, &insn);
        cr_assert_eq(insn.len, c->len, "%s: len %u, want %u", c->what, insn.len, c->len);
        cr_assert_eq(k, c->kind, "%s: kind %d, want %d", c->what, k, c->kind);
        cr_assert_eq(sk_insn_length_mode(c->bytes, c->n, c->mode), c->len, "%s", c->what);
        if (c->len) {
            cr_assert_eq(insn.mode, c->mode, "%s", c->what);
            /* Exactly len bytes suffice, one fewer does not. */
            cr_assert_eq(sk_insn_length_mode(c->bytes, c->len, c->mode), c->len, "%s", c->what);
            cr_assert_eq(sk_insn_length_mode(c->bytes, c->len - 1u, c->mode), 0, "%s", c->what);
        }
        if (c->mode == M64) {
            struct sk_insn old;
            cr_assert_eq(sk_insn_decode(c->bytes, c->n, &old), k, "%s", c->what);
            cr_assert_eq(memcmp(&old, &insn, sizeof(old)), 0, "%s: the 64-bit wrapper", c->what);
        }
    }
}

static struct sk_insn d(enum sk_insn_mode mode, const uint8_t *b, uint32_t n)
{
    struct sk_insn insn;
    sk_insn_decode_mode(b, n, mode, &insn);
    cr_assert_neq(insn.len, 0);
    return insn;
}
#define D(mode, ...) ({ const uint8_t b_[] = { __VA_ARGS__ }; d(mode, b_, sizeof(b_)); })

Test(vp_decode_modes, default_sizes_and_toggles)
{
    struct sk_insn i;
    i = D(M16, 0x90);
    cr_assert(i.opsize == 2 && i.addrsize == 2);
    i = D(M16, 0x66, 0x67, 0x90);
    cr_assert(i.opsize == 4 && i.addrsize == 4);
    i = D(M32, 0x90);
    cr_assert(i.opsize == 4 && i.addrsize == 4);
    i = D(M32, 0x66, 0x67, 0x90);
    cr_assert(i.opsize == 2 && i.addrsize == 2);
    i = D(M64, 0x90);
    cr_assert(i.opsize == 4 && i.addrsize == 8);
    i = D(M64, 0x66, 0x67, 0x90);
    cr_assert(i.opsize == 2 && i.addrsize == 4);
    i = D(M64, 0x66, 0x48, 0x90);
    cr_assert_eq(i.opsize, 8);      /* REX.W beats 66 */
    cr_assert_eq(i.rex, 0x48);
    i = D(M32, 0x48);
    cr_assert_eq(i.rex, 0);         /* no REX outside 64-bit mode */
    cr_assert_eq(i.opcode, 0x48);
    cr_assert_eq(i.prefix_count, 0);
    /* IN/OUT sizes follow the mode. */
    i = D(M16, 0xed);
    cr_assert_eq(i.size, 2);
    i = D(M16, 0x66, 0xed);
    cr_assert_eq(i.size, 4);
    i = D(M32, 0x66, 0xed);
    cr_assert_eq(i.size, 2);
    i = D(M64, 0x66, 0x48, 0xef);
    cr_assert_eq(i.size, 2);
    /* Unknown mode. */
    const uint8_t nop[] = {0x90};
    struct sk_insn x;
    cr_assert_eq(sk_insn_decode_mode(nop, 1, (enum sk_insn_mode)3, &x), K(INVALID));
    cr_assert_eq(x.len, 0);
}

Test(vp_decode_modes, memory_operands)
{
    struct sk_insn i;
    /* 16-bit [bp-2]: disp8 sign-extended. */
    i = D(M16, 0x8b, 0x46, 0xfe);
    cr_assert(i.flags & F(MEM));
    cr_assert_eq(i.disp, -2);
    cr_assert_eq(i.disp_size, 1);
    cr_assert_eq(i.reg, 0);
    cr_assert_eq(i.rm, 6);
    cr_assert_eq(i.size, 2);
    cr_assert_eq(i.flags & F(WRITE), 0);
    cr_assert_eq(i.flags & F(SIB), 0);
    /* mov word [0x1234], 0x5678. */
    i = D(M16, 0xc7, 0x06, 0x34, 0x12, 0x78, 0x56);
    cr_assert(i.flags & F(WRITE));
    cr_assert_eq(i.disp, 0x1234);
    cr_assert_eq(i.disp_size, 2);
    cr_assert_eq(i.imm, 0x5678);
    cr_assert_eq(i.imm_size, 2);
    cr_assert_eq(i.size, 2);
    i = D(M16, 0x66, 0xc7, 0x06, 0x34, 0x12, 1, 2, 3, 4);
    cr_assert_eq(i.size, 4);
    cr_assert_eq(i.imm, 0x04030201);
    /* 32-bit [disp32] is absolute, 64-bit is RIP-relative. */
    i = D(M32, 0x89, 0x1d, 0x00, 0x10, 0x00, 0x00);
    cr_assert_eq(i.flags & F(RIPREL), 0);
    cr_assert_eq(i.disp, 0x1000);
    cr_assert_eq(i.reg, 3);
    cr_assert(i.flags & F(WRITE));
    i = D(M64, 0x89, 0x1d, 0x00, 0x10, 0x00, 0x00);
    cr_assert(i.flags & F(RIPREL));
    /* REX.R/B extend reg/rm; the SIB is kept. */
    i = D(M64, 0x44, 0x89, 0x43, 0x08);
    cr_assert_eq(i.reg, 8);
    cr_assert_eq(i.rm, 3);
    cr_assert_eq(i.disp, 8);
    cr_assert_eq(i.size, 4);
    i = D(M64, 0x41, 0x8b, 0x04, 0x24);
    cr_assert(i.flags & F(SIB));
    cr_assert_eq(i.sib, 0x24);
    cr_assert_eq(i.rm, 12);
    i = D(M64, 0x66, 0x48, 0x89, 0x03);
    cr_assert_eq(i.size, 8);
    i = D(M64, 0x88, 0x07);
    cr_assert_eq(i.size, 1);
    cr_assert(i.flags & F(WRITE));
    i = D(M64, 0x8a, 0x07);
    cr_assert_eq(i.flags & F(WRITE), 0);
    /* A register MOV is still MOV, without MEM. */
    i = D(M64, 0x89, 0xc8);
    cr_assert_eq(i.kind, K(MOV));
    cr_assert_eq(i.flags & F(MEM), 0);
    /* VEX.R extends reg in 64-bit mode (vmovaps xmm8, xmm1). */
    i = D(M64, 0xc5, 0x78, 0x28, 0xc1);
    cr_assert_eq(i.reg, 8);
    cr_assert_eq(i.rm, 1);
    /* moffs: the address, its size. */
    i = D(M64, 0x48, 0xa3, 1, 2, 3, 4, 5, 6, 7, 0x88);
    cr_assert_eq((uint64_t)i.disp, 0x8807060504030201ull);
    cr_assert_eq(i.disp_size, 8);
    cr_assert_eq(i.size, 8);
    cr_assert(i.flags & F(WRITE));
    cr_assert(i.flags & F(MEM));
    i = D(M16, 0xa0, 0x34, 0x12);
    cr_assert_eq(i.disp, 0x1234);
    cr_assert_eq(i.disp_size, 2);
    cr_assert_eq(i.size, 1);
    cr_assert_eq(i.flags & F(WRITE), 0);
    /* MOVZX/MOVSX: the source size; MOVSXD. */
    i = D(M32, 0x0f, 0xb7, 0x00);
    cr_assert_eq(i.kind, K(MOVZX));
    cr_assert_eq(i.size, 2);
    cr_assert_eq(i.opsize, 4);
    i = D(M16, 0x0f, 0xbe, 0x07);
    cr_assert_eq(i.kind, K(MOVSX));
    cr_assert_eq(i.size, 1);
    cr_assert_eq(i.opsize, 2);
    i = D(M64, 0x48, 0x63, 0x01);
    cr_assert_eq(i.size, 4);
    cr_assert_eq(i.opsize, 8);
    /* String kinds. */
    i = D(M64, 0xf3, 0x48, 0xab);
    cr_assert_eq(i.kind, K(STOS));
    cr_assert_eq(i.size, 8);
    cr_assert(i.flags & F(REP));
    cr_assert(i.flags & F(STRING));
    cr_assert(i.flags & F(WRITE));
    i = D(M16, 0xf3, 0x66, 0xab);
    cr_assert_eq(i.size, 4);
    i = D(M32, 0xa4);
    cr_assert_eq(i.kind, K(MOVS));
    cr_assert_eq(i.size, 1);
    i = D(M32, 0xad);
    cr_assert_eq(i.kind, K(LODS));
    cr_assert_eq(i.flags & F(WRITE), 0);
    /* ENTER: both immediates; far pointer: offset and selector. */
    i = D(M16, 0xc8, 0x10, 0x00, 0x01);
    cr_assert_eq(i.imm_size, 3);
    cr_assert_eq(i.imm, 0x010010);
    i = D(M32, 0xea, 0x78, 0x56, 0x34, 0x12, 0x08, 0x00);
    cr_assert_eq(i.imm_size, 6);
    cr_assert_eq(i.imm, 0x000812345678ull);
}

Test(vp_decode_modes, control_registers_and_invlpg)
{
    struct sk_insn i;
    i = D(M32, 0x0f, 0x22, 0xd8);          /* mov cr3, eax */
    cr_assert_eq(i.kind, K(MOV_CR));
    cr_assert(i.flags & F(WRITE));
    cr_assert_eq(i.reg, 3);
    cr_assert_eq(i.rm, 0);
    cr_assert_eq(i.opsize, 4);
    i = D(M64, 0x0f, 0x20, 0xe1);          /* mov rcx, cr4 */
    cr_assert_eq(i.flags & F(WRITE), 0);
    cr_assert_eq(i.reg, 4);
    cr_assert_eq(i.rm, 1);
    cr_assert_eq(i.opsize, 8);
    cr_assert_eq(i.flags & F(MEM), 0);
    i = D(M64, 0x44, 0x0f, 0x20, 0xc0);    /* mov rax, cr8 */
    cr_assert_eq(i.reg, 8);
    i = D(M32, 0xf0, 0x0f, 0x20, 0xc0);    /* AMD: lock mov eax, cr0 = cr8 */
    cr_assert_eq(i.reg, 8);
    i = D(M64, 0x41, 0x0f, 0x22, 0xd8);    /* mov cr3, r8 */
    cr_assert_eq(i.reg, 3);
    cr_assert_eq(i.rm, 8);
    /* The mod bits of MOV CR/DR are ignored: no displacement follows. */
    i = D(M64, 0x0f, 0x20, 0x05, 0xff, 0xff, 0xff, 0xff);
    cr_assert_eq(i.len, 3);
    i = D(M16, 0x0f, 0x22, 0x86, 0xff, 0xff);
    cr_assert_eq(i.len, 3);
    cr_assert_eq(i.reg, 0);
    cr_assert_eq(i.rm, 6);
    i = D(M64, 0x0f, 0x01, 0x3d, 1, 2, 3, 4);
    cr_assert_eq(i.kind, K(INVLPG));
    cr_assert(i.flags & F(RIPREL));
    cr_assert_eq(i.disp, 0x04030201);
    i = D(M64, 0x0f, 0x01, 0xf8);          /* swapgs */
    cr_assert_eq(i.kind, K(OTHER));
}

Test(vp_decode_modes, mode_of_and_next_rip)
{
    cr_assert_eq(sk_insn_mode_of(0, 0, 0, false, false), M16);                  /* real mode */
    cr_assert_eq(sk_insn_mode_of(0, 0, 0, true, true), M16);
    cr_assert_eq(sk_insn_mode_of(1, 0, 0, false, true), M32);
    cr_assert_eq(sk_insn_mode_of(1, 0, 0, false, false), M16);
    cr_assert_eq(sk_insn_mode_of(1, 0, SK_RFLAGS_VM, false, true), M16);     /* virtual-8086 */
    cr_assert_eq(sk_insn_mode_of(0x80000001, 1u << 10, 0, true, false), M64);
    cr_assert_eq(sk_insn_mode_of(0x80000001, 1u << 10, 0, false, true), M32);   /* compatibility */
    cr_assert_eq(sk_insn_mode_of(0x80000001, 0, 0, true, true), M32);          /* L without LMA */

    struct sk_insn i = D(M16, 0x0f, 0xa2);
    cr_assert_eq(sk_insn_next_rip(&i, 0x1000), 0x1002);
    cr_assert_eq(sk_insn_next_rip(&i, 0xffff), 0x1);
    i = D(M32, 0xf4);
    cr_assert_eq(sk_insn_next_rip(&i, 0xffffffffull), 0);
    i = D(M64, 0x0f, 0x30);
    cr_assert_eq(sk_insn_next_rip(&i, 0xffffffffull), 0x100000001ull);
}

/* Every two-byte sequence in each mode: bounded, and a valid length is
 * stable when more bytes follow. */
Test(vp_decode_modes, short_sequences_all_modes)
{
    for (int mode = 0; mode < 3; mode++) {
        for (uint32_t v = 0; v < (1u << 16); v++) {
            uint8_t b[16] = {(uint8_t)v, (uint8_t)(v >> 8)};
            for (uint32_t n = 1; n <= 2; n++) {
                uint32_t len = sk_insn_length_mode(b, n, (enum sk_insn_mode)mode);
                cr_assert(len <= n, "mode %d 0x%04x n=%u len=%u", mode, v, n, len);
                if (len)
                    cr_assert_eq(sk_insn_length_mode(b, 16, (enum sk_insn_mode)mode), len,
                                 "mode %d 0x%04x stable", mode, v);
            }
        }
    }
}
