/* SPDX-License-Identifier: MIT */
/* Unit tests of the ring-3 VP's x86-64 instruction decoder
 * (kernel/core/vp/decode.c): every IN/OUT/INS/OUTS form and size, prefixes,
 * REX, the other intercepted instructions, general lengths, and truncated
 * or invalid input. */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS under -std=c11 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sidecar/vp.h>

#define K(x) SK_INSN_##x
#define F(x) SK_INSN_F_##x

struct io_case {
    const char *what;
    uint8_t bytes[16];
    uint8_t n;            /* bytes given */
    uint8_t kind;
    uint8_t len;
    uint8_t size;
    int port;             /* -1: from DX */
    uint16_t flags;       /* checked: STRING, REP, PORT_IMM */
};

static const struct io_case io_cases[] = {
    { "in al, imm8",          {0xe4, 0x60}, 2, K(IN), 2, 1, 0x60, F(PORT_IMM) },
    { "in eax, imm8",         {0xe5, 0x71}, 2, K(IN), 2, 4, 0x71, F(PORT_IMM) },
    { "in ax, imm8",          {0x66, 0xe5, 0x71}, 3, K(IN), 3, 2, 0x71, F(PORT_IMM) },
    { "out imm8, al",         {0xe6, 0x80}, 2, K(OUT), 2, 1, 0x80, F(PORT_IMM) },
    { "out imm8, eax",        {0xe7, 0xff}, 2, K(OUT), 2, 4, 0xff, F(PORT_IMM) },
    { "out imm8, ax",         {0x66, 0xe7, 0x00}, 3, K(OUT), 3, 2, 0x00, F(PORT_IMM) },
    { "in al, dx",            {0xec}, 1, K(IN), 1, 1, -1, 0 },
    { "in eax, dx",           {0xed}, 1, K(IN), 1, 4, -1, 0 },
    { "in ax, dx",            {0x66, 0xed}, 2, K(IN), 2, 2, -1, 0 },
    { "out dx, al",           {0xee}, 1, K(OUT), 1, 1, -1, 0 },
    { "out dx, eax",          {0xef}, 1, K(OUT), 1, 4, -1, 0 },
    { "out dx, ax",           {0x66, 0xef}, 2, K(OUT), 2, 2, -1, 0 },
    { "insb",                 {0x6c}, 1, K(INS), 1, 1, -1, F(STRING) },
    { "insd",                 {0x6d}, 1, K(INS), 1, 4, -1, F(STRING) },
    { "insw",                 {0x66, 0x6d}, 2, K(INS), 2, 2, -1, F(STRING) },
    { "outsb",                {0x6e}, 1, K(OUTS), 1, 1, -1, F(STRING) },
    { "outsd",                {0x6f}, 1, K(OUTS), 1, 4, -1, F(STRING) },
    { "outsw",                {0x66, 0x6f}, 2, K(OUTS), 2, 2, -1, F(STRING) },
    { "rep insb",             {0xf3, 0x6c}, 2, K(INS), 2, 1, -1, F(STRING) | F(REP) },
    { "rep insw",             {0xf3, 0x66, 0x6d}, 3, K(INS), 3, 2, -1, F(STRING) | F(REP) },
    { "rep outsd",            {0xf3, 0x6f}, 2, K(OUTS), 2, 4, -1, F(STRING) | F(REP) },
    { "repne outsb (acts as rep)", {0xf2, 0x6e}, 2, K(OUTS), 2, 1, -1, F(STRING) | F(REP) },
    { "rep outsw, 66 first",  {0x66, 0xf3, 0x6f}, 3, K(OUTS), 3, 2, -1, F(STRING) | F(REP) },
    { "rep on in (ignored)",  {0xf3, 0xec}, 2, K(IN), 2, 1, -1, 0 },
    { "REX.W in eax, dx",     {0x48, 0xed}, 2, K(IN), 2, 4, -1, 0 },
    { "REX.W 66 out dx, ax",  {0x66, 0x48, 0xef}, 3, K(OUT), 3, 2, -1, 0 },
    { "REX.W rep outsd",      {0xf3, 0x48, 0x6f}, 3, K(OUTS), 3, 4, -1, F(STRING) | F(REP) },
    { "REX then 66: REX void",{0x48, 0x66, 0xed}, 3, K(IN), 3, 2, -1, 0 },
    { "67 rep insb",          {0x67, 0xf3, 0x6c}, 3, K(INS), 3, 1, -1, F(STRING) | F(REP) },
    { "es: outsb",            {0x26, 0x6e}, 2, K(OUTS), 2, 1, -1, F(STRING) },
    { "fs: rep outsd",        {0x64, 0xf3, 0x6f}, 3, K(OUTS), 3, 4, -1, F(STRING) | F(REP) },
    { "66 66 in ax, imm8",    {0x66, 0x66, 0xe5, 0x42}, 4, K(IN), 4, 2, 0x42, F(PORT_IMM) },
    { "trailing bytes ignored", {0xe4, 0x60, 0x90, 0x90}, 4, K(IN), 2, 1, 0x60, F(PORT_IMM) },
    { "hlt",                  {0xf4}, 1, K(HLT), 1, 0, -2, 0 },
    { "rdmsr",                {0x0f, 0x32}, 2, K(RDMSR), 2, 0, -2, 0 },
    { "wrmsr",                {0x0f, 0x30}, 2, K(WRMSR), 2, 0, -2, 0 },
    { "cpuid",                {0x0f, 0xa2}, 2, K(CPUID), 2, 0, -2, 0 },
    { "REX cpuid",            {0x48, 0x0f, 0xa2}, 3, K(CPUID), 3, 0, -2, 0 },
    { "66 hlt",               {0x66, 0xf4}, 2, K(HLT), 2, 0, -2, 0 },
};

Test(vp_decode, io_and_intercepted_forms)
{
    for (size_t i = 0; i < sizeof(io_cases) / sizeof(io_cases[0]); i++) {
        const struct io_case *c = &io_cases[i];
        struct sk_insn insn;
        enum sk_insn_kind k = sk_insn_decode(c->bytes, c->n, &insn);
        cr_assert_eq(k, c->kind, "%s: kind %d", c->what, k);
        cr_assert_eq(insn.kind, c->kind, "%s", c->what);
        cr_assert_eq(insn.len, c->len, "%s: len %u", c->what, insn.len);
        cr_assert_eq(insn.size, c->size, "%s: size %u", c->what, insn.size);
        cr_assert_eq(insn.flags & (F(STRING) | F(REP) | F(PORT_IMM)), c->flags,
                     "%s: flags 0x%x", c->what, insn.flags);
        if (c->port >= 0)
            cr_assert_eq(sk_insn_port(&insn, 0xabcd), c->port, "%s", c->what);
        else if (c->port == -1)
            cr_assert_eq(sk_insn_port(&insn, 0xffffffff0000abcdull), 0xabcd, "%s: DX", c->what);
        cr_assert_eq(sk_insn_length(c->bytes, c->n), c->len, "%s", c->what);
    }
}

Test(vp_decode, prefix_details)
{
    struct sk_insn insn;
    const uint8_t b1[] = {0xf0, 0x2e, 0x67, 0x66, 0x41, 0xed};
    cr_assert_eq(sk_insn_decode(b1, sizeof(b1), &insn), K(IN));
    cr_assert_eq(insn.len, 6);
    cr_assert_eq(insn.prefix_count, 5);
    cr_assert_eq(insn.rex, 0x41);
    cr_assert_eq(insn.segment, 0x2e);
    cr_assert(insn.flags & F(LOCK));
    cr_assert(insn.flags & F(ADDRSIZE));
    cr_assert(insn.flags & F(OPSIZE));
    cr_assert_eq(insn.size, 2);
    cr_assert_eq(insn.opcode, 0xed);
    cr_assert_eq(insn.map, 0);

    /* F2 then F3: the last one wins. */
    const uint8_t b2[] = {0xf2, 0xf3, 0x6c};
    sk_insn_decode(b2, sizeof(b2), &insn);
    cr_assert(insn.flags & F(REPE));
    cr_assert_not(insn.flags & F(REPNE));
    const uint8_t b3[] = {0xf3, 0xf2, 0x6c};
    sk_insn_decode(b3, sizeof(b3), &insn);
    cr_assert(insn.flags & F(REPNE));
    cr_assert_not(insn.flags & F(REPE));

    /* Every segment override. */
    const uint8_t segs[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};
    for (size_t i = 0; i < sizeof(segs); i++) {
        const uint8_t b[] = {segs[i], 0x8b, 0x00};
        cr_assert_eq(sk_insn_decode(b, sizeof(b), &insn), K(MOV));
        cr_assert_eq(insn.len, 3);
        cr_assert_eq(insn.segment, segs[i]);
    }
}

Test(vp_decode, fourteen_prefixes_fit_fifteen_do_not)
{
    uint8_t b[16];
    memset(b, 0x66, sizeof(b));
    b[14] = 0xec;                      /* 14 prefixes + opcode = 15 bytes */
    struct sk_insn insn;
    cr_assert_eq(sk_insn_decode(b, 16, &insn), K(IN));
    cr_assert_eq(insn.len, 15);
    memset(b, 0x66, sizeof(b));
    b[15] = 0xec;                      /* 15 prefixes + opcode = 16 bytes: #GP */
    cr_assert_eq(sk_insn_decode(b, 16, &insn), K(INVALID));
    cr_assert_eq(insn.len, 0);
    const uint8_t imm[] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                           0x66, 0x66, 0x66, 0xe4, 0x10};
    cr_assert_eq(sk_insn_length(imm, sizeof(imm)), 15);
    const uint8_t imm16[] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                             0x66, 0x66, 0x66, 0x66, 0xe4, 0x10};
    cr_assert_eq(sk_insn_length(imm16, sizeof(imm16)), 0, "16 bytes long");
}

struct len_case {
    const char *what;
    uint8_t bytes[16];
    uint8_t n;
    uint8_t len;     /* 0: invalid */
};

static const struct len_case len_cases[] = {
    /* one-byte map, ModRM forms */
    { "mov eax, [rbx]",              {0x8b, 0x03}, 2, 2 },
    { "mov [rax], eax",              {0x89, 0x00}, 2, 2 },
    { "mov eax, [rip+disp32]",       {0x8b, 0x05, 1, 2, 3, 4}, 6, 6 },
    { "mov eax, [rsp]",              {0x8b, 0x04, 0x24}, 3, 3 },
    { "mov eax, [disp32] via SIB",   {0x8b, 0x04, 0x25, 0, 0, 0, 0xfe}, 7, 7 },
    { "mov eax, [rbp+disp32] SIB",   {0x8b, 0x84, 0x25, 0, 0, 0, 0xfe}, 7, 7 },
    { "mov eax, [rax+disp8]",        {0x8b, 0x40, 0x10}, 3, 3 },
    { "mov eax, [rax+rbx*4+disp8]",  {0x8b, 0x44, 0x98, 0x10}, 4, 4 },
    { "mov eax, [rax+disp32]",       {0x8b, 0x80, 1, 2, 3, 4}, 6, 6 },
    { "mov eax, [rbp+0]",            {0x8b, 0x45, 0x00}, 3, 3 },
    { "mov eax, ecx",                {0x8b, 0xc1}, 2, 2 },
    { "mov r8, [r13+disp8]",         {0x4d, 0x8b, 0x45, 0x08}, 4, 4 },
    { "REX.B [r12] needs SIB too",   {0x41, 0x8b, 0x04, 0x24}, 4, 4 },
    { "REX.B [r13] disp32 RIP form", {0x41, 0x8b, 0x05, 0, 0, 0, 0}, 7, 7 },
    { "mov byte [rax], imm8",        {0xc6, 0x00, 0x12}, 3, 3 },
    { "mov dword [rax], imm32",      {0xc7, 0x00, 1, 2, 3, 4}, 6, 6 },
    { "mov word [rax], imm16",       {0x66, 0xc7, 0x00, 1, 2}, 5, 5 },
    { "mov qword [rax], imm32 (W)",  {0x48, 0xc7, 0x00, 1, 2, 3, 4}, 7, 7 },
    { "66 REX.W: imm32",             {0x66, 0x48, 0xc7, 0x00, 1, 2, 3, 4}, 8, 8 },
    { "mov [rip+d32], imm32",        {0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8}, 10, 10 },
    { "add [rax+rcx*8+d32], imm8",   {0x83, 0x84, 0xc8, 1, 2, 3, 4, 0x7f}, 8, 8 },
    { "add dword [rax], imm32",      {0x81, 0x00, 1, 2, 3, 4}, 6, 6 },
    { "add al, imm8",                {0x04, 0x01}, 2, 2 },
    { "add eax, imm32",              {0x05, 1, 2, 3, 4}, 5, 5 },
    { "add ax, imm16",               {0x66, 0x05, 1, 2}, 4, 4 },
    { "test byte [rax], imm8",       {0xf6, 0x00, 0x01}, 3, 3 },
    { "test dword [rax], imm32",     {0xf7, 0x00, 1, 2, 3, 4}, 6, 6 },
    { "test (/1 alias) [rax], imm8", {0xf6, 0x08, 0x01}, 3, 3 },
    { "not dword [rax]",             {0xf7, 0x10}, 2, 2 },
    { "neg byte [rax]",              {0xf6, 0x18}, 2, 2 },
    { "mov eax, imm32",              {0xb8, 1, 2, 3, 4}, 5, 5 },
    { "mov ax, imm16",               {0x66, 0xb8, 1, 2}, 4, 4 },
    { "mov rax, imm64",              {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, 10, 10 },
    { "mov al, imm8",                {0xb0, 1}, 2, 2 },
    { "mov eax, moffs64",            {0xa1, 1, 2, 3, 4, 5, 6, 7, 8}, 9, 9 },
    { "mov moffs64, al",             {0xa2, 1, 2, 3, 4, 5, 6, 7, 8}, 9, 9 },
    { "67 mov eax, moffs32",         {0x67, 0xa1, 1, 2, 3, 4}, 6, 6 },
    { "movsb",                       {0xa4}, 1, 1 },
    { "rep stosq",                   {0xf3, 0x48, 0xab}, 3, 3 },
    { "push imm32",                  {0x68, 1, 2, 3, 4}, 5, 5 },
    { "push imm8",                   {0x6a, 1}, 2, 2 },
    { "imul eax, [rax], imm32",      {0x69, 0x00, 1, 2, 3, 4}, 6, 6 },
    { "imul eax, [rax], imm8",       {0x6b, 0x00, 1}, 3, 3 },
    { "jz rel8",                     {0x74, 0x10}, 2, 2 },
    { "call rel32",                  {0xe8, 1, 2, 3, 4}, 5, 5 },
    { "66 jmp rel32 (64-bit)",       {0x66, 0xe9, 1, 2, 3, 4}, 6, 6 },
    { "ret imm16",                   {0xc2, 1, 2}, 3, 3 },
    { "enter imm16, imm8",           {0xc8, 1, 2, 3}, 4, 4 },
    { "int imm8",                    {0xcd, 0x80}, 2, 2 },
    { "int3",                        {0xcc}, 1, 1 },
    { "shl dword [rax], imm8",       {0xc1, 0x20, 3}, 3, 3 },
    { "fld qword [rax]",             {0xdd, 0x00}, 2, 2 },
    { "pop qword [rax]",             {0x8f, 0x00}, 2, 2 },
    { "lock xadd [rax], ecx",        {0xf0, 0x0f, 0xc1, 0x08}, 4, 4 },
    { "lock cmpxchg16b [rdi]",       {0xf0, 0x48, 0x0f, 0xc7, 0x0f}, 5, 5 },
    { "inc dword [rax]",             {0xff, 0x00}, 2, 2 },
    { "nop",                         {0x90}, 1, 1 },
    { "push rbp",                    {0x55}, 1, 1 },
    { "movsxd rax, dword [rcx]",     {0x48, 0x63, 0x01}, 3, 3 },
    /* 0F map */
    { "movzx eax, byte [rax]",       {0x0f, 0xb6, 0x00}, 3, 3 },
    { "movups xmm0, [rax]",          {0x0f, 0x10, 0x00}, 3, 3 },
    { "movdqa xmm0, [rax+d32]",      {0x66, 0x0f, 0x6f, 0x80, 1, 2, 3, 4}, 8, 8 },
    { "movdqu [rax], xmm1",          {0xf3, 0x0f, 0x7f, 0x08}, 4, 4 },
    { "movnti [rax], eax",           {0x0f, 0xc3, 0x00}, 3, 3 },
    { "pshufd xmm0, [rax], imm8",    {0x66, 0x0f, 0x70, 0x00, 0x1b}, 5, 5 },
    { "psrlw xmm0, imm8",            {0x66, 0x0f, 0x71, 0xd0, 0x02}, 5, 5 },
    { "bt dword [rax], imm8",        {0x0f, 0xba, 0x20, 5}, 4, 4 },
    { "shld [rax], ecx, imm8",       {0x0f, 0xa4, 0x08, 5}, 4, 4 },
    { "cmpps xmm0, [rax], imm8",     {0x0f, 0xc2, 0x00, 1}, 4, 4 },
    { "jnz rel32",                   {0x0f, 0x85, 1, 2, 3, 4}, 6, 6 },
    { "66 jnz rel32 (64-bit)",       {0x66, 0x0f, 0x85, 1, 2, 3, 4}, 7, 7 },
    { "setz byte [rax]",             {0x0f, 0x94, 0x00}, 3, 3 },
    { "clflush [rax]",               {0x0f, 0xae, 0x38}, 3, 3 },
    { "prefetcht0 [rax]",            {0x0f, 0x18, 0x08}, 3, 3 },
    { "nop dword [rax+rax+0]",       {0x0f, 0x1f, 0x44, 0x00, 0x00}, 5, 5 },
    { "syscall",                     {0x0f, 0x05}, 2, 2 },
    { "ud2",                         {0x0f, 0x0b}, 2, 2 },
    { "rdtsc",                       {0x0f, 0x31}, 2, 2 },
    { "bswap eax",                   {0x0f, 0xc8}, 2, 2 },
    { "3DNow! pfadd mm0, [rax]",     {0x0f, 0x0f, 0x00, 0x9e}, 4, 4 },
    { "extrq xmm0, imm8, imm8",      {0x66, 0x0f, 0x78, 0xc0, 1, 2}, 6, 6 },
    { "vmread [rax], rcx",           {0x0f, 0x78, 0x08}, 3, 3 },
    /* 0F 38 / 0F 3A */
    { "pshufb xmm0, [rax]",          {0x66, 0x0f, 0x38, 0x00, 0x00}, 5, 5 },
    { "movbe eax, [rax+d8]",         {0x0f, 0x38, 0xf0, 0x40, 0x08}, 5, 5 },
    { "crc32 eax, byte [rax]",       {0xf2, 0x0f, 0x38, 0xf0, 0x00}, 5, 5 },
    { "pextrd [rax], xmm0, imm8",    {0x66, 0x0f, 0x3a, 0x16, 0x00, 1}, 6, 6 },
    { "roundss xmm0, [rip+d], imm8", {0x66, 0x0f, 0x3a, 0x0a, 0x05, 1, 2, 3, 4, 9}, 10, 10 },
    /* VEX / EVEX */
    { "vmovups ymm0, [rax] (C5)",    {0xc5, 0xfc, 0x10, 0x00}, 4, 4 },
    { "vzeroupper",                  {0xc5, 0xf8, 0x77}, 3, 3 },
    { "vpshufd xmm0, [rax], imm8",   {0xc5, 0xf9, 0x70, 0x00, 0x1b}, 5, 5 },
    { "vpshufb (C4 map 2)",          {0xc4, 0xe2, 0x79, 0x00, 0x00}, 5, 5 },
    { "vpermq (C4 map 3, imm8)",     {0xc4, 0xe3, 0xfd, 0x00, 0x00, 0x1b}, 6, 6 },
    { "vmovdqu [rax+d32] (C4 map 1)",{0xc4, 0xe1, 0x7e, 0x7f, 0x80, 1, 2, 3, 4}, 9, 9 },
    { "vmovups zmm0, [rax] (EVEX)",  {0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00}, 6, 6 },
    { "EVEX disp8",                  {0x62, 0xf1, 0x7c, 0x48, 0x10, 0x40, 0x01}, 7, 7 },
    { "EVEX map 3 imm8",             {0x62, 0xf3, 0x7d, 0x48, 0x00, 0x00, 0x01}, 7, 7 },
    { "EVEX map 5",                  {0x62, 0xf5, 0x7c, 0x48, 0x10, 0x00}, 6, 6 },
    { "segment prefix then VEX",     {0x2e, 0xc5, 0xfc, 0x10, 0x00}, 5, 5 },
    /* invalid in 64-bit mode, or not decodable */
    { "push es",                     {0x06}, 1, 0 },
    { "pusha",                       {0x60}, 1, 0 },
    { "daa",                         {0x27}, 1, 0 },
    { "aam",                         {0xd4, 0x0a}, 2, 0 },
    { "far call ptr16:32",           {0x9a, 1, 2, 3, 4, 5, 6}, 7, 0 },
    { "into",                        {0xce}, 1, 0 },
    { "82 alias",                    {0x82, 0x00, 0x01}, 3, 0 },
    { "0F 04",                       {0x0f, 0x04}, 2, 0 },
    { "0F 0A",                       {0x0f, 0x0a}, 2, 0 },
    { "0F 39",                       {0x0f, 0x39}, 2, 0 },
    { "0F A6",                       {0x0f, 0xa6, 0x00}, 3, 0 },
    { "XOP (8F /1)",                 {0x8f, 0xe8, 0x78, 0xc0, 0x00, 0x01}, 6, 0 },
    { "66 VEX: #UD",                 {0x66, 0xc5, 0xfc, 0x10, 0x00}, 5, 0 },
    { "REX VEX: #UD",                {0x48, 0xc5, 0xfc, 0x10, 0x00}, 5, 0 },
    { "F3 EVEX: #UD",                {0xf3, 0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00}, 7, 0 },
    { "VEX map 0",                   {0xc4, 0xe0, 0x7c, 0x10, 0x00}, 5, 0 },
    { "VEX map 4",                   {0xc4, 0xe4, 0x7c, 0x10, 0x00}, 5, 0 },
    { "VEX map 5 (EVEX only)",       {0xc4, 0xe5, 0x7c, 0x10, 0x00}, 5, 0 },
    { "EVEX map 4",                  {0x62, 0xf4, 0x7c, 0x48, 0x10, 0x00}, 6, 0 },
    { "EVEX map 7",                  {0x62, 0xf7, 0x7c, 0x48, 0x10, 0x00}, 6, 0 },
    { "only prefixes",               {0x66, 0xf3, 0x48}, 3, 0 },
    { "only REX",                    {0x41}, 1, 0 },
};

Test(vp_decode, general_lengths)
{
    for (size_t i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
        const struct len_case *c = &len_cases[i];
        struct sk_insn insn;
        enum sk_insn_kind k = sk_insn_decode(c->bytes, c->n, &insn);
        cr_assert_eq(insn.len, c->len, "%s: len %u, want %u", c->what, insn.len, c->len);
        /* OTHER, or one of the memory kinds (MOV, MOVZX, ...: test_vp_decode_modes.c). */
        cr_assert_eq(k == K(INVALID), c->len == 0, "%s: kind %d", c->what, k);
        cr_assert(k == K(INVALID) || k == K(OTHER) || k >= K(INVLPG), "%s: kind %d", c->what, k);
        /* A valid length stays the same with all 16 bytes available. */
        uint8_t padded[16] = {0};
        memcpy(padded, c->bytes, c->n);
        if (c->len)
            cr_assert_eq(sk_insn_length(padded, 16), c->len, "%s (padded)", c->what);
    }
}

/* n bytes placed right before an unreadable page: a read past n crashes. */
static uint8_t *guard_end;

static void guard_setup(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    cr_assert_eq(mprotect(p + page, (size_t)page, PROT_NONE), 0);
    guard_end = p + page;
}

static const uint8_t *guarded(const uint8_t *bytes, uint32_t n)
{
    memcpy(guard_end - n, bytes, n);
    return guard_end - n;
}

/* Every proper prefix of a valid instruction is truncated, and the decoder
 * reads no byte at or beyond n. */
Test(vp_decode, truncation_never_reads_past_n, .init = guard_setup)
{
    const struct io_case *ic = io_cases;
    size_t nio = sizeof(io_cases) / sizeof(io_cases[0]);
    size_t nlen = sizeof(len_cases) / sizeof(len_cases[0]);
    for (size_t i = 0; i < nio + nlen; i++) {
        const uint8_t *bytes = i < nio ? ic[i].bytes : len_cases[i - nio].bytes;
        uint8_t len = i < nio ? ic[i].len : len_cases[i - nio].len;
        uint8_t given = i < nio ? ic[i].n : len_cases[i - nio].n;
        struct sk_insn insn;
        /* The whole case, at the edge. */
        sk_insn_decode(guarded(bytes, given), given, &insn);
        cr_assert_eq(insn.len, len, "case %zu at the guard page", i);
        if (!len)
            continue;
        for (uint8_t n = 0; n < len; n++) {
            cr_assert_eq(sk_insn_decode(guarded(bytes, n), n, &insn), K(INVALID),
                         "case %zu cut to %u", i, n);
            cr_assert_eq(insn.len, 0);
        }
        cr_assert_eq(sk_insn_decode(guarded(bytes, len), len, &insn), insn.kind);
        cr_assert_eq(insn.len, len, "case %zu: exactly len bytes suffice", i);
    }
}

Test(vp_decode, null_and_empty)
{
    struct sk_insn insn;
    cr_assert_eq(sk_insn_decode(NULL, 16, &insn), K(INVALID));
    const uint8_t b[] = {0xec};
    cr_assert_eq(sk_insn_decode(b, 0, &insn), K(INVALID));
    cr_assert_eq(sk_insn_length(NULL, 0), 0);
}

/* Every byte sequence of length 1-3 (and random 15-byte ones) decodes to a
 * length within bounds, and a valid length is stable when more bytes are
 * appended (the decoder looks only at what it needs). */
Test(vp_decode, exhaustive_short_sequences_are_safe, .init = guard_setup)
{
    for (uint32_t v = 0; v < (1u << 16); v++) {
        uint8_t b[16] = {(uint8_t)v, (uint8_t)(v >> 8)};
        for (uint32_t n = 1; n <= 2; n++) {
            uint32_t len = sk_insn_length(guarded(b, n), n);
            cr_assert(len <= n, "0x%04x n=%u len=%u", v, n, len);
            if (len)
                cr_assert_eq(sk_insn_length(b, 16), len, "0x%04x stable", v);
        }
    }
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        uint8_t b[15];
        for (int j = 0; j < 15; j++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b[j] = (uint8_t)seed;
        }
        struct sk_insn insn;
        uint32_t n = 1 + (uint32_t)(seed >> 60) % 15;
        sk_insn_decode(guarded(b, n), n, &insn);
        cr_assert(insn.len <= n);
        cr_assert_eq(insn.kind == K(INVALID), insn.len == 0);
        if (insn.len)
            cr_assert_eq(sk_insn_length(guarded(b, insn.len), insn.len), insn.len,
                         "exactly len bytes suffice");
    }
}
