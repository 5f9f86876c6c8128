/* SPDX-License-Identifier: MIT */
/* Unit tests of the guest page-table walker (kernel/core/vp/walk.c): a fake
 * guest RAM [0, ram_limit) with hand-built tables for every paging mode. */
#include <criterion/criterion.h>
#include <string.h>

#include <sidecar/vp.h>
#include <sidecar/walk.h>

#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x
#define T(x) SK_TRANSLATE_##x

#define RAM_SIZE (8u << 20)
static uint8_t ram[RAM_SIZE];
static uint64_t ram_limit;
static unsigned reads, writes, cx_fail_left;
static int cx_fail_result;

static bool rd(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    reads++;
    if (gpa >= ram_limit || n > ram_limit - gpa)
        return false;
    memcpy(dst, ram + gpa, n);
    return true;
}

static int cx(void *ctx, uint64_t gpa, uint32_t size, uint64_t expected, uint64_t desired)
{
    (void)ctx;
    if (gpa >= ram_limit || size > ram_limit - gpa)
        return -1;
    if (cx_fail_left) {
        cx_fail_left--;
        return cx_fail_result;
    }
    uint64_t cur = 0;
    memcpy(&cur, ram + gpa, size);
    if (cur != expected)
        return 1;
    memcpy(ram + gpa, &desired, size);
    writes++;
    return 0;
}

static const struct sk_walk_mem mem = { rd, cx, NULL };
static struct sk_walk_state st;
static struct sk_walk_result r;

static void setup(void)
{
    memset(ram, 0, sizeof(ram));
    ram_limit = RAM_SIZE;
    reads = writes = cx_fail_left = 0;
    cx_fail_result = 1;
    memset(&st, 0, sizeof(st));
    memset(&r, 0xcc, sizeof(r));
}

TestSuite(walk, .init = setup);

static void put32(uint64_t gpa, uint32_t v) { memcpy(ram + gpa, &v, 4); }
static void put64(uint64_t gpa, uint64_t v) { memcpy(ram + gpa, &v, 8); }
static uint64_t get64(uint64_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }

#define P 1ull
#define RW 2ull
#define US 4ull
#define PWT 8ull
#define PCD 0x10ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define XD (1ull << 63)
#define PRW (P | RW)
#define ALL (P | RW | US)

static uint32_t walk(uint64_t gva, uint32_t access)
{
    memset(&r, 0xcc, sizeof(r));
    sk_walk(&mem, &st, gva, access, &r);
    return r.code;
}

/* ---- paging off ---------------------------------------------------------- */

Test(walk, paging_off_is_identity_with_a_32_bit_wrap)
{
    st.cr0 = 0;                       /* real mode */
    cr_assert_eq(walk(0x1234, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x1234);
    cr_assert_eq(r.level, 0);
    cr_assert_eq(r.page_size, 4096);
    cr_assert_eq(r.flags & SK_WALK_R_PAGING, 0);
    cr_assert_eq(r.cache_type, 6);
    st.cr0 = SK_CR0_PE;               /* protected mode, no paging */
    st.efer = SK_EFER_LME | SK_EFER_LMA;   /* LMA without PG means nothing */
    cr_assert_eq(walk(0x100005000ull, SK_WALK_WRITE | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x5000);
    cr_assert_eq(r.gva, 0x5000);
    cr_assert_eq(walk(0xfee00000ull, SK_WALK_READ), R(GPA_UNMAPPED));
    cr_assert_eq(r.gpa, 0xfee00000ull);
    cr_assert_eq(r.flags & SK_WALK_R_TABLE, 0);
    cr_assert_eq(r.pf_error, 0);
    st.cr0 |= SK_CR0_CD;
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.cache_type, 0);
}

/* ---- 32-bit paging ------------------------------------------------------- */

static void paging32(void)
{
    st.cr0 = SK_CR0_PE | SK_CR0_PG;
    st.cr3 = 0x1000;
    put32(0x1000 + 0 * 4, 0x2000 | ALL);        /* PDE 0 -> PT at 0x2000 */
    put32(0x2000 + 5 * 4, 0x7000 | ALL);        /* 0x5000 -> 0x7000 */
    put32(0x2000 + 6 * 4, 0x8000 | P);          /* 0x6000 -> 0x8000, supervisor RO */
}

Test(walk, paging32_4k)
{
    paging32();
    cr_assert_eq(walk(0x5123, SK_WALK_READ | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x7123);
    cr_assert_eq(r.level, 1);
    cr_assert_eq(r.page_size, 4096);
    cr_assert_eq(r.entry, 0x7000 | ALL);
    /* Upper 32 bits of the GVA are dropped outside long mode. */
    cr_assert_eq(walk(0xabcd00005123ull, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x7123);
    /* Bit 63 (and every other high bit) of a 4-byte entry cannot exist: NX
     * does not apply; a fetch of a user page is fine for a user. */
    st.efer = SK_EFER_NXE;
    cr_assert_eq(walk(0x5000, SK_WALK_FETCH | SK_WALK_USER), R(SUCCESS));
    /* Not present PTE and PDE. */
    cr_assert_eq(walk(0x9000, SK_WALK_WRITE | SK_WALK_USER), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 1);
    cr_assert_eq(r.pf_error, SK_VP_PF_WRITE | SK_VP_PF_USER);
    cr_assert_eq(walk(0x400000, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 2);
    cr_assert_eq(r.pf_error, 0);
    /* The fetch bit of the error code needs SMEP in 32-bit paging. */
    cr_assert_eq(walk(0x9000, SK_WALK_FETCH), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.pf_error, 0);
    st.cr4 = SK_CR4_SMEP;
    cr_assert_eq(walk(0x9000, SK_WALK_FETCH), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.pf_error, SK_VP_PF_FETCH);
}

Test(walk, paging32_4m_pages_and_pse36)
{
    paging32();
    put32(0x1000 + 1 * 4, 0x00400000 | PS | ALL);
    /* Without CR4.PSE the PS bit is ignored: the PDE points at a table at
     * 0x400000, which is zero here. */
    cr_assert_eq(walk(0x412345, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 1);
    st.cr4 = SK_CR4_PSE;
    cr_assert_eq(walk(0x412345, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x412345);
    cr_assert_eq(r.level, 2);
    cr_assert_eq(r.page_size, 4u << 20);
    /* PSE-36: PDE bits 20:13 are GPA bits 39:32. */
    put32(0x1000 + 2 * 4, 0x00c00000 | (0x12u << 13) | PS | ALL);
    st.maxphyaddr = 40;
    cr_assert_eq(walk(0x00800010, SK_WALK_READ), R(GPA_UNMAPPED));
    cr_assert_eq(r.gpa, 0x1200c00010ull);
    cr_assert_eq(r.flags & SK_WALK_R_TABLE, 0);
    cr_assert_eq(r.level, 2);
    /* ... but only up to MAXPHYADDR: with 36 bits, bit 17 (GPA bit 36) is reserved. */
    st.maxphyaddr = 36;
    cr_assert_eq(walk(0x00800010, SK_WALK_READ | SK_WALK_USER), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_RSVD | SK_VP_PF_USER);
    cr_assert_eq(r.level, 2);
    /* Bit 21 is always reserved in a 4 MiB PDE. */
    st.maxphyaddr = 40;
    put32(0x1000 + 2 * 4, 0x00c00000 | (1u << 21) | PS | ALL);
    cr_assert_eq(walk(0x00800010, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    /* A 4 KiB PDE/PTE has no reserved bits: bit 7 of a PTE is PAT. */
    put32(0x2000 + 5 * 4, 0x7000 | PS | ALL);
    cr_assert_eq(walk(0x5000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.cache_type, 6);      /* PAT index 4 of the default PAT: WB */
}

/* ---- PAE ------------------------------------------------------------------ */

static void pae(void)
{
    st.cr0 = SK_CR0_PE | SK_CR0_PG | SK_CR0_WP;
    st.cr4 = SK_CR4_PAE;
    st.cr3 = 0x1020;                             /* 32-byte aligned PDPT */
    put64(0x1020 + 0 * 8, 0x2000 | P);           /* PDPTE 0 */
    put64(0x1020 + 3 * 8, 0x4000 | P);           /* PDPTE 3 */
    put64(0x2000 + 0 * 8, 0x3000 | ALL);         /* PDE 0 -> PT */
    put64(0x2000 + 1 * 8, 0x200000 | PS | ALL);  /* 2 MiB at 0x200000 -> 0x200000 */
    put64(0x3000 + 5 * 8, 0x7000 | ALL);
    put64(0x3000 + 6 * 8, 0x8000 | ALL | XD);
    put64(0x4000 + 511 * 8, 0x5000 | ALL);       /* 0xffe00000 -> PT at 0x5000 */
    put64(0x5000 + 511 * 8, 0x6000 | ALL);       /* 0xfffff000 -> 0x6000 */
}

Test(walk, pae_4k_2m_and_the_pdptes)
{
    pae();
    cr_assert_eq(walk(0x5abc, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x7abc);
    cr_assert_eq(r.level, 1);
    cr_assert_eq(walk(0x2fffff, SK_WALK_WRITE | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x2fffff);
    cr_assert_eq(r.level, 2);
    cr_assert_eq(r.page_size, 2u << 20);
    cr_assert_eq(walk(0xfffff010, SK_WALK_READ | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x6010);
    /* The PDPTE has no U/S or R/W: a user write through it is allowed. */
    cr_assert(r.flags & SK_WALK_R_USER_PAGE);
    cr_assert(r.flags & SK_WALK_R_WRITABLE);
    /* Not-present PDPTE. */
    cr_assert_eq(walk(0x40000000, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 3);
    /* Reserved PDPTE bits: 2:1 (no R/W there), 8:5, above MAXPHYADDR, 63. */
    const uint64_t bad[] = { RW, US, A, 1ull << 8, 1ull << 40, XD, 1ull << 55 };
    st.maxphyaddr = 40;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put64(0x1020, 0x2000 | P | bad[i]);
        cr_assert_eq(walk(0x5000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS), "bit %u", i);
        cr_assert_eq(r.level, 3);
        cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_RSVD);
    }
    /* The PWT/PCD bits of a PDPTE are fine. */
    put64(0x1020, 0x2000 | P | PWT | PCD);
    cr_assert_eq(walk(0x5000, SK_WALK_READ), R(SUCCESS));
}

Test(walk, pae_nx_and_reserved_bits)
{
    pae();
    /* Without EFER.NXE bit 63 is reserved. */
    cr_assert_eq(walk(0x6000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 1);
    cr_assert_eq(walk(0x6000, SK_WALK_FETCH), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_RSVD);   /* no I/D without NXE/SMEP */
    st.efer = SK_EFER_NXE;
    cr_assert_eq(walk(0x6000, SK_WALK_READ), R(SUCCESS));
    cr_assert(r.flags & SK_WALK_R_NX);
    cr_assert_eq(walk(0x6000, SK_WALK_FETCH), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_FETCH);
    cr_assert_eq(walk(0x5000, SK_WALK_FETCH), R(SUCCESS));
    /* Legacy PAE reserves bits 62:52 (long mode ignores them). */
    put64(0x3000 + 5 * 8, 0x7000 | ALL | (1ull << 52));
    cr_assert_eq(walk(0x5000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    /* A 2 MiB PDE reserves bits 20:13 (bit 12 is PAT). */
    put64(0x2000 + 1 * 8, 0x200000 | PS | ALL | (1ull << 13));
    cr_assert_eq(walk(0x200000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 2);
    put64(0x2000 + 1 * 8, 0x200000 | PS | ALL | (1ull << 12));
    cr_assert_eq(walk(0x200000, SK_WALK_READ), R(SUCCESS));
    /* Not present entries are not checked for reserved bits. */
    put64(0x3000 + 5 * 8, 0xffffffffffff0ull);
    cr_assert_eq(walk(0x5000, SK_WALK_READ), R(PAGE_NOT_PRESENT));
}

/* ---- long mode ------------------------------------------------------------- */

static void long4(void)
{
    st.cr0 = SK_CR0_PE | SK_CR0_PG | SK_CR0_WP;
    st.cr4 = SK_CR4_PAE;
    st.efer = SK_EFER_LME | SK_EFER_LMA | SK_EFER_NXE;
    st.cr3 = 0x1000;
    put64(0x1000 + 0 * 8, 0x2000 | ALL);          /* PML4E 0 */
    put64(0x1000 + 256 * 8, 0x9000 | PRW);        /* PML4E 256: kernel half, supervisor */
    put64(0x2000 + 0 * 8, 0x3000 | ALL);          /* PDPTE 0 -> PD */
    put64(0x2000 + 1 * 8, 0x40000000 | PS | ALL); /* 1 GiB at 1 GiB */
    put64(0x3000 + 0 * 8, 0x4000 | ALL);          /* PDE 0 -> PT */
    put64(0x3000 + 1 * 8, 0x400000 | PS | ALL);   /* 2 MiB at 0x200000 -> 0x400000 */
    put64(0x3000 + 2 * 8, 0x5000 | P | US);       /* PDE 2: read-only, user */
    put64(0x3000 + 3 * 8, 0x6000 | PRW);          /* PDE 3: supervisor */
    put64(0x4000 + 1 * 8, 0x11000 | ALL);         /* 0x1000 -> 0x11000 */
    put64(0x4000 + 2 * 8, 0x12000 | ALL | XD);    /* 0x2000 -> 0x12000, NX */
    put64(0x4000 + 3 * 8, 0x13000 | P | US);      /* 0x3000 -> 0x13000, read-only */
    put64(0x5000 + 0 * 8, 0x14000 | ALL);         /* 0x400000: PDE read-only */
    put64(0x6000 + 0 * 8, 0x15000 | ALL);         /* 0x600000: PDE supervisor */
    put64(0x9000 + 0 * 8, 0xa000 | PRW);
    put64(0xa000 + 0 * 8, 0xb000 | PRW);
    put64(0xb000 + 0 * 8, 0x16000 | PRW);         /* 0xffff800000000000 -> 0x16000 */
}

Test(walk, long4_page_sizes)
{
    long4();
    cr_assert_eq(walk(0x1fff, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x11fff);
    cr_assert_eq(r.level, 1);
    cr_assert_eq(r.page_size, 4096);
    cr_assert_eq(walk(0x212345, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x412345);
    cr_assert_eq(r.level, 2);
    cr_assert_eq(r.page_size, 2u << 20);
    cr_assert_eq(walk(0x7654321f, SK_WALK_READ), R(GPA_UNMAPPED));   /* 1 GiB page */
    cr_assert_eq(r.gpa, 0x7654321f);
    cr_assert_eq(r.level, 3);
    cr_assert_eq(r.page_size, 1u << 30);
    cr_assert_eq(r.flags & SK_WALK_R_TABLE, 0);
    cr_assert_eq(walk(0xffff800000000abcull, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x16abc);
    cr_assert_eq(r.gva, 0xffff800000000abcull);
    /* The GVA is not truncated in long mode: bit 32 selects PDPTE 4. */
    cr_assert_eq(walk(0x100001000ull, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 3);
}

Test(walk, long4_reserved_and_ignored_bits)
{
    long4();
    /* Bits 62:52 are ignored in long mode (software bits, protection keys). */
    put64(0x4000 + 1 * 8, 0x11000 | ALL | (0x7ffull << 52));
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x11000);
    /* Above MAXPHYADDR. */
    st.maxphyaddr = 40;
    put64(0x4000 + 1 * 8, 0x11000 | ALL | (1ull << 45));
    cr_assert_eq(walk(0x1000, SK_WALK_WRITE), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_RSVD | SK_VP_PF_WRITE);
    st.maxphyaddr = 52;
    cr_assert_eq(walk(0x1000, SK_WALK_WRITE), R(GPA_UNMAPPED));
    cr_assert_eq(r.gpa, (1ull << 45) | 0x11000);
    /* PS in a PML4E is reserved. */
    put64(0x1000, 0x2000 | ALL | PS);
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 4);
    put64(0x1000, 0x2000 | ALL);
    /* Large-page bits 29:13 / 20:13. */
    put64(0x2000 + 1 * 8, 0x40000000 | PS | ALL | (1ull << 20));
    cr_assert_eq(walk(0x40000000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 3);
    put64(0x3000 + 1 * 8, 0x400000 | PS | ALL | (1ull << 16));
    cr_assert_eq(walk(0x200000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 2);
    /* XD without NXE is reserved, with it NX. */
    st.efer &= ~SK_EFER_NXE;
    cr_assert_eq(walk(0x2000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 1);
}

Test(walk, long4_non_canonical)
{
    long4();
    cr_assert_eq(walk(0x0000800000000000ull, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert(r.flags & SK_WALK_R_NONCANONICAL);
    cr_assert_eq(r.pf_error, 0);
    cr_assert_eq(reads, 0);
    cr_assert_eq(walk(0xfff0000000000000ull, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert(r.flags & SK_WALK_R_NONCANONICAL);
    cr_assert_eq(walk(0x00007ffffffff000ull, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.flags & SK_WALK_R_NONCANONICAL, 0);
}

Test(walk, la57)
{
    long4();
    st.cr4 |= SK_CR4_LA57;
    st.cr3 = 0x20000;                             /* PML5 */
    put64(0x20000 + 0 * 8, 0x1000 | ALL);         /* PML5E 0 -> the PML4 */
    put64(0x20000 + 1 * 8, 0x1000 | ALL);         /* PML5E 1 -> the same PML4 */
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x11000);
    /* 0x0001000000001000 is canonical with 57 bits, not with 48. */
    cr_assert_eq(walk(0x0001000000001000ull, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.gpa, 0x11000);
    cr_assert_eq(walk(0x0002000000001000ull, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 5);
    cr_assert_eq(walk(0x0100000000000000ull, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert(r.flags & SK_WALK_R_NONCANONICAL);
    cr_assert_eq(r.level, 5);
    put64(0x20000, 0x1000 | ALL | PS);
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert_eq(r.level, 5);
    /* LA57 means nothing outside long mode. */
    st.efer = 0;
    st.cr3 = 0x1020;
    put64(0x1020, 0);
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.level, 3);
}

/* ---- access rights ----------------------------------------------------------- */

Test(walk, user_supervisor_and_write_protect)
{
    long4();
    /* A user access to a supervisor page (U/S 0 at the PDE). */
    cr_assert_eq(walk(0x600000, SK_WALK_READ | SK_WALK_USER), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_USER);
    cr_assert_eq(r.level, 1);
    cr_assert_eq(r.gpa, 0);
    /* The default privilege is the CPL's. */
    st.cpl = 3;
    cr_assert_eq(walk(0x600000, SK_WALK_READ), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(walk(0x600000, SK_WALK_READ | SK_WALK_SUPERVISOR), R(SUCCESS));
    cr_assert_eq(walk(0x600000, SK_WALK_READ | SK_WALK_PRIV_EXEMPT), R(SUCCESS));
    st.cpl = 0;
    cr_assert_eq(walk(0x600000, SK_WALK_READ), R(SUCCESS));
    /* User writes need R/W at every level, whatever CR0.WP. */
    st.cr0 &= ~SK_CR0_WP;
    cr_assert_eq(walk(0x400000, SK_WALK_WRITE | SK_WALK_USER), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_WRITE | SK_VP_PF_USER);
    cr_assert_eq(walk(0x3000, SK_WALK_WRITE | SK_WALK_USER), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(walk(0x3000, SK_WALK_READ | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(r.flags & SK_WALK_R_WRITABLE, 0);
    /* Supervisor writes to read-only pages: allowed with WP 0, not with WP 1. */
    cr_assert_eq(walk(0x400000, SK_WALK_WRITE), R(SUCCESS));
    cr_assert_eq(walk(0x3000, SK_WALK_WRITE), R(SUCCESS));
    st.cr0 |= SK_CR0_WP;
    cr_assert_eq(walk(0x3000, SK_WALK_WRITE), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_WRITE);
    /* Privilege exempt does not lift R/W. */
    cr_assert_eq(walk(0x3000, SK_WALK_WRITE | SK_WALK_PRIV_EXEMPT), R(PRIVILEGE_VIOLATION));
    /* No validation: only U/S for a user. */
    cr_assert_eq(walk(0x3000, 0), R(SUCCESS));
    cr_assert_eq(walk(0x600000, SK_WALK_USER), R(PRIVILEGE_VIOLATION));
}

Test(walk, nx_smep_smap)
{
    long4();
    cr_assert_eq(walk(0x2000, SK_WALK_FETCH | SK_WALK_USER), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_USER | SK_VP_PF_FETCH);
    cr_assert_eq(walk(0x2000, SK_WALK_FETCH | SK_WALK_PRIV_EXEMPT), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(walk(0x2000, SK_WALK_READ | SK_WALK_USER), R(SUCCESS));
    /* Supervisor fetch from a user page: fine without SMEP, not with it. */
    cr_assert_eq(walk(0x1000, SK_WALK_FETCH), R(SUCCESS));
    st.cr4 |= SK_CR4_SMEP;
    cr_assert_eq(walk(0x1000, SK_WALK_FETCH), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_FETCH);
    cr_assert_eq(walk(0x1000, SK_WALK_FETCH | SK_WALK_PRIV_EXEMPT), R(SUCCESS));
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));       /* SMEP is fetches only */
    cr_assert_eq(walk(0x600000, SK_WALK_FETCH), R(SUCCESS));    /* supervisor page */
    /* SMAP: supervisor data accesses to user pages, unless RFLAGS.AC. */
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    st.cr4 |= SK_CR4_SMAP;
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT);
    cr_assert_eq(walk(0x1000, SK_WALK_WRITE), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_USER), R(SUCCESS));
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_SMAP_OVERRIDE), R(SUCCESS));
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_PRIV_EXEMPT), R(SUCCESS));
    cr_assert_eq(walk(0x1000, 0), R(SUCCESS));                  /* nothing validated */
    cr_assert_eq(walk(0x600000, SK_WALK_READ), R(SUCCESS));     /* U/S 0 at the PDE */
    st.rflags = SK_WALK_RFLAGS_AC;
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(walk(0x1000, SK_WALK_WRITE), R(SUCCESS));
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_SMAP_ENFORCE), R(PRIVILEGE_VIOLATION));
    /* Shadow-stack accesses are not modelled: refused. */
    cr_assert_eq(walk(0x1000, SK_WALK_SHADOW_STACK), R(PRIVILEGE_VIOLATION));
}

/* ---- tables and pages outside RAM -------------------------------------------- */

Test(walk, tables_outside_ram)
{
    long4();
    st.cr3 = 0x900000;                 /* past ram_limit below */
    ram_limit = 0x800000;
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(GPA_UNMAPPED));
    cr_assert(r.flags & SK_WALK_R_TABLE);
    cr_assert_eq(r.gpa, 0x900000);
    cr_assert_eq(r.level, 4);
    cr_assert_eq(r.pf_error, 0);
    st.cr3 = 0x1000;
    put64(0x3000 + 4 * 8, 0xfee00000ull | ALL);  /* PDE 4 -> a "table" in MMIO */
    cr_assert_eq(walk(0x800123, SK_WALK_READ), R(GPA_UNMAPPED));
    cr_assert(r.flags & SK_WALK_R_TABLE);
    cr_assert_eq(r.gpa, 0xfee00000ull);
    cr_assert_eq(r.level, 1);
    /* A leaf pointing at MMIO: the GPA, not a table. */
    put64(0x4000 + 7 * 8, 0xfee00000ull | ALL);
    cr_assert_eq(walk(0x7030, SK_WALK_WRITE), R(GPA_UNMAPPED));
    cr_assert_eq(r.flags & SK_WALK_R_TABLE, 0);
    cr_assert_eq(r.gpa, 0xfee00030ull);
    cr_assert_eq(r.level, 1);
    cr_assert_eq(r.page_size, 4096);
    /* Access rights come first (a #PF before the nested fault). */
    cr_assert_eq(walk(0x7030, SK_WALK_WRITE | SK_WALK_SUPERVISOR | SK_WALK_SMAP_ENFORCE),
                 R(GPA_UNMAPPED));
    st.cr4 |= SK_CR4_SMAP;
    cr_assert_eq(walk(0x7030, SK_WALK_WRITE), R(PRIVILEGE_VIOLATION));
}

/* ---- accessed and dirty bits ------------------------------------------------- */

Test(walk, set_accessed_and_dirty)
{
    long4();
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(writes, 0);
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(writes, 4);
    cr_assert_eq(get64(0x1000), 0x2000 | ALL | A);
    cr_assert_eq(get64(0x2000), 0x3000 | ALL | A);
    cr_assert_eq(get64(0x3000), 0x4000 | ALL | A);
    cr_assert_eq(get64(0x4008), 0x11000 | ALL | A);
    cr_assert_eq(r.entry, 0x11000 | ALL | A);
    cr_assert_eq(walk(0x1000, SK_WALK_WRITE | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(writes, 5);          /* only D on the leaf */
    cr_assert_eq(get64(0x4008), 0x11000 | ALL | A | D);
    cr_assert_eq(get64(0x3000), 0x4000 | ALL | A);  /* no D on a non-leaf */
    /* A 2 MiB leaf gets D. */
    cr_assert_eq(walk(0x200000, SK_WALK_WRITE | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(get64(0x3008), 0x400000 | PS | ALL | A | D);
    /* Nothing is written when the walk fails. */
    unsigned w = writes;
    cr_assert_eq(walk(0x3000, SK_WALK_WRITE | SK_WALK_SET_AD), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(writes, w);
    cr_assert_eq(get64(0x4018), 0x13000 | P | US);
}

Test(walk, set_ad_in_32_bit_and_pae)
{
    paging32();
    cr_assert_eq(walk(0x5000, SK_WALK_WRITE | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(get32(0x1000), 0x2000 | ALL | A);
    cr_assert_eq(get32(0x2014), 0x7000 | ALL | A | D);
    cr_assert_eq(get32(0x1004), 0);   /* the 4-byte write stays in its entry */
    setup();
    pae();
    cr_assert_eq(walk(0x5000, SK_WALK_WRITE | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(get64(0x1020), 0x2000 | P);   /* a PAE PDPTE has no A bit */
    cr_assert_eq(get64(0x2000), 0x3000 | ALL | A);
    cr_assert_eq(get64(0x3028), 0x7000 | ALL | A | D);
}

Test(walk, set_ad_races)
{
    long4();
    /* Two lost compare-exchanges: walked again from CR3, then done. */
    cx_fail_left = 2;
    cr_assert_eq(walk(0x1000, SK_WALK_READ | SK_WALK_SET_AD), R(SUCCESS));
    cr_assert_eq(get64(0x4008), 0x11000 | ALL | A);
    /* Endless: gives up. */
    cx_fail_left = 1000;
    put64(0x4010, 0x12000 | ALL);
    cr_assert_eq(walk(0x2000, SK_WALK_READ | SK_WALK_SET_AD), R(PAGE_NOT_PRESENT));
    cr_assert(r.flags & SK_WALK_R_CONTENDED);
    cr_assert_eq(cx_fail_left, 1000 - SK_WALK_MAX_RETRIES);
    /* The entry's page stopped being RAM. */
    cx_fail_left = 1;
    cx_fail_result = -1;
    cr_assert_eq(walk(0x2000, SK_WALK_READ | SK_WALK_SET_AD), R(GPA_UNMAPPED));
    cr_assert(r.flags & SK_WALK_R_TABLE);
    /* No cmpxchg op: nothing written, still translated. */
    struct sk_walk_mem ro = { rd, NULL, NULL };
    sk_walk(&ro, &st, 0x2000, SK_WALK_READ | SK_WALK_SET_AD, &r);
    cr_assert_eq(r.code, R(SUCCESS));
    cr_assert_eq(get64(0x4010), 0x12000 | ALL);
}

Test(walk, cache_type_from_pat)
{
    long4();
    const struct { uint64_t bits; uint8_t type; } c[] = {
        { 0, 6 }, { PWT, 4 }, { PCD, 0 /* UC- */ }, { PCD | PWT, 0 }, { PS /* PAT */, 6 },
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        put64(0x4008, 0x11000 | ALL | c[i].bits);
        cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
        cr_assert_eq(r.cache_type, c[i].type, "case %u", i);
    }
    st.pat = 0x0000000000000001ull;    /* entry 0 WC */
    put64(0x4008, 0x11000 | ALL);
    cr_assert_eq(walk(0x1000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.cache_type, 1);
    /* A large page's PAT bit is bit 12. */
    st.pat = 0x0000000500000006ull;    /* entry 4 WP */
    put64(0x3008, 0x400000 | PS | ALL | (1ull << 12));
    cr_assert_eq(walk(0x200000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.cache_type, 5);
    st.cr0 |= SK_CR0_CD;
    cr_assert_eq(walk(0x200000, SK_WALK_READ), R(SUCCESS));
    cr_assert_eq(r.cache_type, 0);
}

Test(walk, bad_access_bits)
{
    long4();
    cr_assert_eq(walk(0x1000, 0x400), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert(r.flags & SK_WALK_R_BAD_ARGS);
    cr_assert_eq(walk(0x1000, SK_WALK_USER | SK_WALK_SUPERVISOR), R(INVALID_PAGE_TABLE_FLAGS));
    cr_assert(r.flags & SK_WALK_R_BAD_ARGS);
    cr_assert_eq(reads, 0);
}

/* ---- TRANSLATE_GVA ------------------------------------------------------------- */

static struct sidecar_translate_gva_response resp;

static uint32_t translate(uint64_t gvn, uint64_t flags)
{
    struct sidecar_translate_gva_request req = { .gvn = gvn, .control_flags = flags };
    memset(&resp, 0xcc, sizeof(resp));
    sk_walk_translate_gva(&mem, &st, &req, &resp);
    return resp.output.translation_result.result_code;
}

Test(walk, translate_gva)
{
    long4();
    st.cpl = 3;
    cr_assert_eq(translate(1, T(VALIDATE_READ)), R(SUCCESS));
    cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(resp.output.gpa_page, 0x11);
    cr_assert_eq(resp.output.translation_result.cache_type_and_flags, 6);
    cr_assert_eq(resp.output.reserved0, 0);
    cr_assert_eq(resp.output.event_info[0], 0);
    cr_assert_eq(resp.reserved[0], 0);
    /* CPL 3: a supervisor page is a violation unless forced or exempt. */
    cr_assert_eq(translate(0x600, T(VALIDATE_READ)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(resp.output.gpa_page, 0);
    cr_assert_eq(translate(0x600, T(VALIDATE_READ) | T(FORCE_SUPERVISOR)), R(SUCCESS));
    cr_assert_eq(translate(0x600, T(VALIDATE_READ) | T(PRIVILEGE_EXEMPT)), R(SUCCESS));
    st.cpl = 0;
    cr_assert_eq(translate(0x600, T(VALIDATE_READ) | T(FORCE_USER)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(3, T(VALIDATE_WRITE)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(2, T(VALIDATE_EXECUTE)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(2, T(VALIDATE_READ)), R(SUCCESS));
    cr_assert_eq(translate(0x10, T(VALIDATE_READ)), R(PAGE_NOT_PRESENT));
    cr_assert_eq(translate(0x800000000ull, T(VALIDATE_READ)), R(INVALID_PAGE_TABLE_FLAGS));
    /* SMAP flags. */
    st.cr4 |= SK_CR4_SMAP;
    st.rflags = SK_WALK_RFLAGS_AC;
    cr_assert_eq(translate(1, T(VALIDATE_READ)), R(SUCCESS));
    cr_assert_eq(translate(1, T(VALIDATE_READ) | T(ENFORCE_SMAP)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(1, T(VALIDATE_READ) | T(ENFORCE_SMAP) | T(OVERRIDE_SMAP)), R(SUCCESS));
    cr_assert_eq(translate(1, T(VALIDATE_READ) | T(SHADOW_STACK)), R(PRIVILEGE_VIOLATION));
    /* Ignored: TLB flush inhibit, input VTL. */
    cr_assert_eq(translate(1, T(VALIDATE_READ) | T(TLB_FLUSH_INHIBIT) | (2ull << 56)), R(SUCCESS));
    /* Set A/D. */
    cr_assert_eq(translate(1, T(VALIDATE_WRITE) | T(SET_PAGE_TABLE_BITS)), R(SUCCESS));
    cr_assert_eq(get64(0x4008), 0x11000 | ALL | A | D);
    /* GPA unmapped: the final GPA, or the table page. */
    put64(0x4000 + 7 * 8, 0xfee00000ull | ALL);
    cr_assert_eq(translate(7, T(VALIDATE_READ)), R(GPA_UNMAPPED));
    cr_assert_eq(resp.output.gpa_page, 0xfee00);
    cr_assert_eq(resp.output.translation_result.cache_type_and_flags, 0);
    put64(0x3000 + 4 * 8, 0xfec00000ull | ALL);
    cr_assert_eq(translate(0x800, T(VALIDATE_READ)), R(GPA_UNMAPPED));
    cr_assert_eq(resp.output.gpa_page, 0xfec00);
}

Test(walk, translate_gva_refuses_bad_flags)
{
    long4();
    const uint64_t bad[] = { 1ull << 11, 1ull << 40, T(FORCE_USER) | T(FORCE_SUPERVISOR) };
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(translate(1, bad[i]), 0);
        cr_assert_eq(resp.status, SIDECAR_HV_STATUS_INVALID_PARAMETER);
        cr_assert_eq(resp.output.gpa_page, 0);
    }
    cr_assert_eq(reads, 0);
}

/* ---- reading through the tables ------------------------------------------------ */

Test(walk, read_across_pages)
{
    long4();
    for (unsigned i = 0; i < 4096; i++) {
        ram[0x11000 + i] = (uint8_t)i;
        ram[0x14000 + i] = (uint8_t)(0x80 + i);
    }
    /* 0x1ffd..0x2006: page 1 -> 0x11000, page 2 -> 0x12000 (NX, readable). */
    ram[0x12000] = 0xaa;
    uint8_t buf[15];
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(sk_walk_read(&mem, &st, 0x1ffd, SK_WALK_READ, buf, 10, &r), 10);
    cr_assert_eq(buf[0], 0xfd);
    cr_assert_eq(buf[2], 0xff);
    cr_assert_eq(buf[3], 0xaa);
    /* A fetch stops at the NX page, with the fault for it. */
    memset(&r, 0, sizeof(r));
    cr_assert_eq(sk_walk_read(&mem, &st, 0x1ffd, SK_WALK_FETCH, buf, 15, &r), 3);
    cr_assert_eq(r.code, R(PRIVILEGE_VIOLATION));
    cr_assert_eq(r.gva, 0x2000);
    cr_assert_eq(r.pf_error, SK_VP_PF_PRESENT | SK_VP_PF_FETCH);
    /* Into a page that is not present. */
    cr_assert_eq(sk_walk_read(&mem, &st, 0x3ffe, SK_WALK_READ, buf, 15, &r), 2);
    cr_assert_eq(r.code, R(PAGE_NOT_PRESENT));
    cr_assert_eq(r.gva, 0x4000);
    /* Nothing at all, and NULL stop. */
    cr_assert_eq(sk_walk_read(&mem, &st, 0x5000, SK_WALK_READ, buf, 15, NULL), 0);
    /* Partly RAM: the page is translated, RAM ends inside it. */
    ram_limit = 0x11000 + 0x800;
    cr_assert_eq(sk_walk_read(&mem, &st, 0x17fa, SK_WALK_READ, buf, 15, &r), 6);
    cr_assert_eq(r.code, R(SUCCESS));
    cr_assert_eq(buf[5], 0xff);
    /* n 0. */
    cr_assert_eq(sk_walk_read(&mem, &st, 0x1000, SK_WALK_READ, buf, 0, &r), 0);
}

Test(walk, read_wraps_at_4g_outside_long_mode)
{
    paging32();
    put32(0x1000 + 1023 * 4, 0x3000 | ALL);        /* 0xffc00000 -> PT at 0x3000 */
    put32(0x3000 + 1023 * 4, 0x9000 | ALL);        /* 0xfffff000 -> 0x9000 */
    put32(0x2000 + 0 * 4, 0xa000 | ALL);           /* 0x0 -> 0xa000 */
    ram[0x9ffe] = 1;
    ram[0x9fff] = 2;
    ram[0xa000] = 3;
    ram[0xa001] = 4;
    uint8_t buf[4];
    cr_assert_eq(sk_walk_read(&mem, &st, 0xfffffffe, SK_WALK_READ, buf, 4, &r), 4);
    cr_assert_eq(buf[0], 1);
    cr_assert_eq(buf[3], 4);
    /* Paging off (real mode): linear wraps the same way. */
    st.cr0 = 0;
    ram[0] = 9;
    ram_limit = 0x10000;
    cr_assert_eq(sk_walk_read(&mem, &st, 0xffffffffull, SK_WALK_READ, buf, 2, &r), 0);
    cr_assert_eq(r.code, R(GPA_UNMAPPED));
    cr_assert_eq(sk_walk_read(&mem, &st, 0x100000000ull, SK_WALK_READ, buf, 1, &r), 1);
    cr_assert_eq(buf[0], 9);
}
