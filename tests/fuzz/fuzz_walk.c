/* SPDX-License-Identifier: MIT */
/* libFuzzer: the guest page-table walker (kernel/core/vp/walk.c) on random
 * tables in random modes. The input is a 48-byte header (CR0/CR3/CR4/EFER,
 * RFLAGS, PAT, CPL, MAXPHYADDR, access bits, GVA, a read length, a
 * compare-exchange behaviour) followed by the guest RAM image: 64 KiB at GPA
 * 0, its own exact-size allocation. Checks what sidecar/walk.h promises:
 * the walk terminates (a bounded number of memory calls), codes are TLFS
 * codes, success means the GPA is RAM and keeps the page offset, the page
 * size and level agree, the #PF error code matches the result, walks are
 * deterministic, A/D bits land where they should, and sk_walk_read copies
 * exactly the bytes a per-byte walk finds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/vp.h>
#include <sidecar/walk.h>

#define RAM_SIZE 0x10000u
#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x
#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct fake {
    uint8_t *ram;
    unsigned calls;
    uint8_t cx_mode;   /* 0 honest, 1 fails once in a while, 2 always changed, 3 unmapped */
    unsigned cx_count;
};

static bool rd(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    struct fake *f = ctx;
    f->calls++;
    CHECK(n >= 1 && n <= 4096);
    if (gpa >= RAM_SIZE || n > RAM_SIZE - gpa)
        return false;
    memcpy(dst, f->ram + gpa, n);
    return true;
}

static int cx(void *ctx, uint64_t gpa, uint32_t size, uint64_t expected, uint64_t desired)
{
    struct fake *f = ctx;
    f->calls++;
    CHECK(size == 4 || size == 8);
    CHECK((gpa & (size - 1)) == 0);
    if (gpa >= RAM_SIZE || size > RAM_SIZE - gpa)
        return -1;
    f->cx_count++;
    if (f->cx_mode == 2 || (f->cx_mode == 1 && f->cx_count % 3 == 1))
        return 1;
    if (f->cx_mode == 3)
        return -1;
    uint64_t cur = 0;
    memcpy(&cur, f->ram + gpa, size);
    if (cur != expected)
        return 1;
    CHECK((desired & ~expected) != 0);            /* only ever sets bits */
    CHECK((desired & expected) == expected);
    CHECK(((desired ^ expected) & ~0x60ull) == 0); /* A and D only */
    memcpy(f->ram + gpa, &desired, size);
    return 0;
}

static uint64_t u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void check_result(const struct sk_walk_state *st, uint64_t gva, uint32_t access,
                         const struct sk_walk_result *r, uint8_t cx_mode)
{
    bool paging = (st->cr0 & SK_CR0_PG) != 0;
    bool lma = paging && (st->efer & SK_EFER_LMA);
    CHECK(r->code <= R(GPA_UNMAPPED));
    if (!lma)
        CHECK(r->gva == (gva & 0xffffffffull) || (r->flags & SK_WALK_R_BAD_ARGS));
    CHECK(r->level <= 5);
    if (r->flags & SK_WALK_R_BAD_ARGS) {
        CHECK(r->code == R(INVALID_PAGE_TABLE_FLAGS));
        return;
    }
    bool user = (access & SK_WALK_USER) || (!(access & SK_WALK_SUPERVISOR) && st->cpl == 3);
    if (r->code == R(SUCCESS)) {
        CHECK(r->gpa < RAM_SIZE);
        CHECK(r->pf_error == 0);
        uint64_t ps = r->page_size;
        CHECK(ps == 1ull << 12 || ps == 1ull << 21 || ps == 1ull << 22 || ps == 1ull << 30);
        CHECK((r->gpa & (ps - 1)) == (r->gva & (ps - 1)));
        if (!paging)
            CHECK(r->level == 0 && r->gpa == r->gva && ps == 4096);
        else
            CHECK(r->level == 1 ? ps == 4096 : r->level == 2 ? (ps == 1ull << 21 || ps == 1ull << 22)
                  : (r->level == 3 && ps == 1ull << 30));
        if (paging && !(access & SK_WALK_PRIV_EXEMPT) && user)
            CHECK(r->flags & SK_WALK_R_USER_PAGE);
        if ((access & SK_WALK_FETCH))
            CHECK(!(r->flags & SK_WALK_R_NX));
        CHECK(!(access & SK_WALK_SHADOW_STACK));
        return;
    }
    if (r->code == R(GPA_UNMAPPED) || (r->flags & (SK_WALK_R_NONCANONICAL | SK_WALK_R_CONTENDED))) {
        CHECK(r->pf_error == 0);
        if (r->flags & SK_WALK_R_TABLE)   /* that entry is not (all) RAM */
            CHECK(r->code == R(GPA_UNMAPPED) && (r->gpa > RAM_SIZE - 4 || cx_mode == 3 ||
                                                 ((st->cr4 & SK_CR4_PAE) && r->gpa > RAM_SIZE - 8)));
        if (r->code == R(GPA_UNMAPPED) && !(r->flags & SK_WALK_R_TABLE))
            CHECK((r->gpa & 0xfff) == (r->gva & 0xfff));
        return;
    }
    CHECK(paging || r->code == R(PRIVILEGE_VIOLATION));
    if (!paging)
        return;
    CHECK(((r->pf_error & SK_VP_PF_USER) != 0) == user);
    CHECK(((r->pf_error & SK_VP_PF_WRITE) != 0) == ((access & SK_WALK_WRITE) != 0));
    if (r->pf_error & SK_VP_PF_FETCH)
        CHECK(access & SK_WALK_FETCH);
    if (r->code == R(PAGE_NOT_PRESENT))
        CHECK(!(r->pf_error & (SK_VP_PF_PRESENT | SK_VP_PF_RSVD)) && !(r->entry & 1));
    if (r->code == R(PRIVILEGE_VIOLATION))
        CHECK((r->pf_error & SK_VP_PF_PRESENT) && !(r->pf_error & SK_VP_PF_RSVD));
    if (r->code == R(INVALID_PAGE_TABLE_FLAGS))
        CHECK((r->pf_error & (SK_VP_PF_PRESENT | SK_VP_PF_RSVD)) ==
              (SK_VP_PF_PRESENT | SK_VP_PF_RSVD));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 48)
        return 0;
    struct fake f = { .ram = calloc(1, RAM_SIZE) };
    size_t img = size - 48 < RAM_SIZE ? size - 48 : RAM_SIZE;
    memcpy(f.ram, data + 48, img);
    const uint8_t *h = data;
    struct sk_walk_state st = {
        .cr0 = ((h[0] & 1) ? SK_CR0_PE : 0) | ((h[0] & 2) ? SK_CR0_PG : 0) |
               ((h[0] & 4) ? SK_CR0_WP : 0) | ((h[0] & 8) ? SK_CR0_CD : 0),
        .cr4 = ((h[1] & 1) ? SK_CR4_PSE : 0) | ((h[1] & 2) ? SK_CR4_PAE : 0) |
               ((h[1] & 4) ? SK_CR4_LA57 : 0) | ((h[1] & 8) ? SK_CR4_SMEP : 0) |
               ((h[1] & 16) ? SK_CR4_SMAP : 0),
        .efer = ((h[2] & 1) ? SK_EFER_LMA | SK_EFER_LME : 0) | ((h[2] & 2) ? SK_EFER_NXE : 0),
        .rflags = (h[2] & 4) ? SK_WALK_RFLAGS_AC : 0,
        .cpl = h[3] & 3,
        .maxphyaddr = h[4],
        .cr3 = u64(h + 8) & 0xffffull,
        .pat = u64(h + 16),
    };
    if (h[0] & 0x80)
        st.cr3 = u64(h + 8);                       /* anywhere at all */
    uint32_t access = (uint32_t)(h[5] | (h[6] << 8));
    if (!(h[6] & 0x80))
        access &= SK_WALK_KNOWN;
    f.cx_mode = h[7] & 3;
    uint64_t gva = u64(h + 24);
    uint32_t n = h[32] & 31;
    struct sk_walk_mem mem = { rd, (h[7] & 4) ? NULL : cx, &f };

    struct sk_walk_result r, r2;
    f.calls = 0;
    sk_walk(&mem, &st, gva, access, &r);
    /* Bounded: per attempt at most 5 entries read, 5 compare-exchanges and a probe. */
    CHECK(f.calls <= SK_WALK_MAX_RETRIES * 11u);
    check_result(&st, gva, access, &r, f.cx_mode);

    /* A/D bits: after an honest success the entries carry them. */
    if (r.code == R(SUCCESS) && (access & SK_WALK_SET_AD) && mem.cmpxchg_gpa && f.cx_mode == 0 &&
        (st.cr0 & SK_CR0_PG)) {
        CHECK(r.entry & 0x20);
        if (access & SK_WALK_WRITE)
            CHECK(r.entry & 0x40);
    }
    /* Deterministic, and A/D do not change the translation (except in PAE
     * mode, where an A bit set in a PDE that is also the PDPT makes that
     * PDPTE reserved, as it would on hardware). */
    bool pae = (st.cr0 & SK_CR0_PG) && (st.cr4 & SK_CR4_PAE) && !(st.efer & SK_EFER_LMA);
    if (!(access & SK_WALK_SET_AD) || (f.cx_mode == 0 && !pae)) {
        uint32_t a2 = access & ~SK_WALK_SET_AD;
        if ((access & SK_WALK_SET_AD) && !(r.code == R(SUCCESS)))
            a2 = access;                            /* nothing was written */
        sk_walk(&mem, &st, gva, a2, &r2);
        if (!(r.flags & SK_WALK_R_CONTENDED)) {
            CHECK(r2.code == r.code);
            CHECK(r2.gpa == r.gpa);
            CHECK(r2.page_size == r.page_size);
            CHECK(r2.level == r.level);
            CHECK(r2.pf_error == r.pf_error);
        }
    }

    /* sk_walk_read: every byte copied is the byte a single walk finds. */
    uint8_t buf[32];
    uint32_t got = sk_walk_read(&mem, &st, gva, access & ~SK_WALK_SET_AD, buf, n, &r);
    CHECK(got <= n);
    bool lma = (st.cr0 & SK_CR0_PG) && (st.efer & SK_EFER_LMA);
    for (uint32_t i = 0; i < got; i++) {
        uint64_t a = gva + i;
        if (!lma)
            a &= 0xffffffffull;
        sk_walk(&mem, &st, a, access & ~SK_WALK_SET_AD, &r2);
        CHECK(r2.code == R(SUCCESS));
        CHECK(f.ram[r2.gpa] == buf[i]);
    }
    if (got < n) {
        uint64_t a = gva + got;
        if (!lma)
            a &= 0xffffffffull;
        CHECK(r.gva == a || (r.flags & SK_WALK_R_BAD_ARGS));
    }

    /* TRANSLATE_GVA: refuses exactly the bad flags. */
    struct sidecar_translate_gva_request req = { .gvn = gva >> 12, .control_flags = u64(h + 36) };
    struct sidecar_translate_gva_response resp;
    sk_walk_translate_gva(&mem, &st, &req, &resp);
    uint64_t fl = req.control_flags;
    bool bad = (fl & ~SK_TRANSLATE_KNOWN_FLAGS) ||
               ((fl & SK_TRANSLATE_FORCE_SUPERVISOR) && (fl & SK_TRANSLATE_FORCE_USER));
    CHECK(bad == (resp.status == SIDECAR_HV_STATUS_INVALID_PARAMETER));
    CHECK(bad || resp.status == SIDECAR_HV_STATUS_SUCCESS);
    CHECK(resp.output.translation_result.result_code <= R(GPA_UNMAPPED));
    if (resp.output.translation_result.result_code == R(SUCCESS) && !bad)
        CHECK(resp.output.gpa_page < RAM_SIZE / 4096);
    free(f.ram);
    return 0;
}
