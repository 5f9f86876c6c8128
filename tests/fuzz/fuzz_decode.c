/* SPDX-License-Identifier: MIT */
/* libFuzzer: the instruction decoder of the VP backends on arbitrary guest
 * bytes (a guest controls what is at RIP), in 64-, 32- and 16-bit code. The
 * input is copied to a buffer of exactly its size, so ASan sees any
 * over-read. Checks: the length is bounded, INVALID iff length 0, exactly
 * len bytes decode the same way (the decoder reads only what it needs), the
 * fields describe the bytes (prefixes + opcode + displacement + immediates
 * fit in the length), sizes are ones the mode can have, no REX outside
 * 64-bit mode, and sk_insn_decode is the 64-bit mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/vp.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void one(const uint8_t *b, uint32_t n, enum sk_insn_mode mode)
{
    struct sk_insn insn, again;
    enum sk_insn_kind k = sk_insn_decode_mode(b, n, mode, &insn);
    uint32_t len = sk_insn_length_mode(b, n, mode);
    CHECK(len == insn.len);
    CHECK(len <= n && len <= 15);
    CHECK((k == SK_INSN_INVALID) == (len == 0));
    CHECK(k == insn.kind);
    if (!len)
        return;
    CHECK(insn.mode == mode);
    CHECK(insn.prefix_count + 1u + insn.disp_size + insn.imm_size <= len);
    CHECK(insn.opsize == 2 || insn.opsize == 4 || insn.opsize == 8);
    if (mode == SK_INSN_MODE_64) {
        CHECK(insn.addrsize == 4 || insn.addrsize == 8);
    } else {
        CHECK(insn.addrsize == 2 || insn.addrsize == 4);
        CHECK(insn.rex == 0 && insn.opsize != 8);
        CHECK(!(insn.flags & SK_INSN_F_RIPREL));
    }
    if (insn.addrsize == 2)
        CHECK(!(insn.flags & SK_INSN_F_SIB));
    CHECK(insn.reg < 16 && insn.rm < 16);
    switch (k) {
    case SK_INSN_MOV: case SK_INSN_MOVZX: case SK_INSN_MOVSX:
    case SK_INSN_MOVS: case SK_INSN_STOS: case SK_INSN_LODS:
        CHECK(insn.size == 1 || insn.size == 2 || insn.size == 4 || insn.size == 8);
        break;
    case SK_INSN_IN: case SK_INSN_OUT: case SK_INSN_INS: case SK_INSN_OUTS:
        CHECK(insn.size == 1 || insn.size == 2 || insn.size == 4);
        break;
    case SK_INSN_INVLPG:
        CHECK(insn.flags & SK_INSN_F_MEM);
        break;
    case SK_INSN_MOV_CR:
        CHECK(!(insn.flags & SK_INSN_F_MEM) && len == insn.prefix_count + 3u);
        break;
    default:
        break;
    }
    /* Exactly len bytes, in their own buffer, decode the same. */
    uint8_t *exact = malloc(len);
    memcpy(exact, b, len);
    sk_insn_decode_mode(exact, len, mode, &again);
    CHECK(memcmp(&again, &insn, sizeof(insn)) == 0);
    free(exact);
    CHECK(sk_insn_next_rip(&insn, 0) == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t n = size > 16 ? 16 : (uint32_t)size;
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, data, n);
    one(b, n, SK_INSN_MODE_64);
    one(b, n, SK_INSN_MODE_32);
    one(b, n, SK_INSN_MODE_16);
    struct sk_insn a, c;
    sk_insn_decode(b, n, &a);
    sk_insn_decode_mode(b, n, SK_INSN_MODE_64, &c);
    CHECK(memcmp(&a, &c, sizeof(a)) == 0);
    CHECK(sk_insn_length(b, n) == a.len);
    free(b);
    return 0;
}
