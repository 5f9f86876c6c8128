/* SPDX-License-Identifier: MIT */
/* The guest page-table walker (sidecar/walk.h). Rules from the Intel SDM
 * vol. 3 ch. 4 (paging modes, 4.3-4.5; access rights, 4.6; #PF error code,
 * 4.7) and the AMD APM vol. 2 ch. 5 (page translation and protection). */
#include <sidecar/walk.h>

#include "vp_internal.h"

#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x
#define T(x) SK_TRANSLATE_##x

#define E_P   (1ull << 0)
#define E_RW  (1ull << 1)
#define E_US  (1ull << 2)
#define E_PWT (1ull << 3)
#define E_PCD (1ull << 4)
#define E_A   (1ull << 5)
#define E_D   (1ull << 6)
#define E_PS  (1ull << 7)
#define E_PAT4K (1ull << 7)
#define E_PATBIG (1ull << 12)
#define E_XD  (1ull << 63)

#define DEFAULT_PAT 0x0007040600070406ull

/* Bits hi..lo (inclusive); empty when hi < lo. */
static uint64_t bits(unsigned hi, unsigned lo)
{
    if (hi < lo)
        return 0;
    uint64_t upto = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return upto & ~((1ull << lo) - 1);
}

enum mode { M_32, M_PAE, M_LONG4, M_LONG5 };

/* One walk's view of the guest state. */
struct ctx {
    const struct sk_walk_mem *mem;
    const struct sk_walk_state *st;
    enum mode mode;
    unsigned maxphy;
    bool nxe;
    uint64_t rsv64;    /* reserved bits of every PAE/long-mode entry */
};

/* An entry the walk used, for A/D updates. */
struct used {
    uint64_t addr, value;
    uint32_t size;
    bool has_a;        /* the entry has an accessed bit (not a PAE PDPTE) */
};

static bool read_entry(const struct ctx *c, uint64_t addr, uint32_t size, uint64_t *out)
{
    uint8_t b[8];
    if (!c->mem->read_gpa(c->mem->ctx, addr, b, size))
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
    *out = v;
    return true;
}

/* The TLFS cache type of a leaf from the guest's PAT. */
static uint8_t cache_type(const struct sk_walk_state *st, uint64_t e, bool big)
{
    if (st->cr0 & SK_CR0_CD)
        return 0;
    uint64_t pat = st->pat ? st->pat : DEFAULT_PAT;
    unsigned idx = ((e & (big ? E_PATBIG : E_PAT4K)) ? 4u : 0u) | ((e & E_PCD) ? 2u : 0u) |
                   ((e & E_PWT) ? 1u : 0u);
    uint8_t t = (uint8_t)((pat >> (8 * idx)) & 7u);
    return (t == 1 || t == 4 || t == 5 || t == 6) ? t : 0;   /* UC-, reserved: UC */
}

/* Reserved bits of an entry at level l (present; ps = its PS bit). */
static uint64_t reserved(const struct ctx *c, unsigned l, bool ps)
{
    switch (c->mode) {
    case M_32:
        /* Only a 4 MiB PDE has any: bit 21 and PSE-36 bits above MAXPHYADDR. */
        if (l == 2 && ps && (c->st->cr4 & SK_CR4_PSE)) {
            unsigned m = c->maxphy < 40 ? c->maxphy : 40;
            return bits(21, 21) | bits(20, m - 19);
        }
        return 0;
    case M_PAE:
        if (l == 3)
            return bits(63, c->maxphy) | bits(8, 5) | bits(2, 1);
        return c->rsv64 | (l == 2 && ps ? bits(20, 13) : 0);
    default:
        if (l >= 4)
            return c->rsv64 | E_PS;
        if (l == 3 && ps)
            return c->rsv64 | bits(29, 13);
        if (l == 2 && ps)
            return c->rsv64 | bits(20, 13);
        return c->rsv64;
    }
}

static void fail(struct sk_walk_result *r, uint32_t code, uint32_t pf, unsigned level)
{
    r->code = code;
    r->pf_error = pf;
    r->level = (uint8_t)level;
    r->gpa = 0;
    r->page_size = 0;
    r->cache_type = 0;
}

/* One walk from CR3. Returns 1 when an A/D compare-exchange lost a race (walk
 * again), else 0 with r filled. */
static int walk_once(const struct ctx *c, uint64_t gva, uint32_t access, struct sk_walk_result *r)
{
    const struct sk_walk_state *st = c->st;
    bool user = (access & SK_WALK_USER) || (!(access & SK_WALK_SUPERVISOR) && st->cpl == 3);
    bool fetch = (access & SK_WALK_FETCH) != 0, write = (access & SK_WALK_WRITE) != 0;
    uint32_t pf = (write ? SK_VP_PF_WRITE : 0u) | (user ? SK_VP_PF_USER : 0u);
    if (fetch && ((st->cr4 & SK_CR4_SMEP) || (c->mode != M_32 && c->nxe)))
        pf |= SK_VP_PF_FETCH;

    unsigned top, level;
    uint64_t base;
    uint32_t esize = c->mode == M_32 ? 4 : 8;
    uint64_t addr_mask = bits(c->maxphy - 1, 12);
    switch (c->mode) {
    case M_32: top = 2; base = st->cr3 & 0xfffff000ull; break;
    case M_PAE: top = 3; base = st->cr3 & 0xffffffe0ull; break;
    case M_LONG4: top = 4; base = st->cr3 & addr_mask; break;
    default: top = 5; base = st->cr3 & addr_mask; break;
    }

    struct used used[5];
    unsigned nused = 0;
    bool user_page = true, writable = true, nx = false;
    uint64_t e = 0, gpa = 0, size = 0;
    for (level = top;; level--) {
        unsigned shift, width;
        if (c->mode == M_32) {
            shift = level == 2 ? 22 : 12;
            width = 10;
        } else {
            shift = 12 + 9 * (level - 1);
            width = (c->mode == M_PAE && level == 3) ? 2 : 9;
        }
        uint64_t ea = base + ((gva >> shift) & ((1ull << width) - 1)) * esize;
        r->entry = 0;
        if (!read_entry(c, ea, esize, &e)) {
            fail(r, R(GPA_UNMAPPED), 0, level);
            r->flags |= SK_WALK_R_TABLE;
            r->gpa = ea;
            return 0;
        }
        r->entry = e;
        if (!(e & E_P)) {
            fail(r, R(PAGE_NOT_PRESENT), pf, level);
            return 0;
        }
        bool ps = (e & E_PS) != 0;
        if (e & reserved(c, level, ps)) {
            fail(r, R(INVALID_PAGE_TABLE_FLAGS), pf | SK_VP_PF_PRESENT | SK_VP_PF_RSVD, level);
            return 0;
        }
        bool pdpte_pae = c->mode == M_PAE && level == 3;
        used[nused++] = (struct used){ ea, e, esize, !pdpte_pae };
        if (!pdpte_pae) {
            user_page = user_page && (e & E_US);
            writable = writable && (e & E_RW);
            if (c->mode != M_32 && c->nxe && (e & E_XD))
                nx = true;
        }
        bool leaf = level == 1 ||
                    (ps && ((c->mode == M_32 && level == 2 && (st->cr4 & SK_CR4_PSE)) ||
                            (c->mode == M_PAE && level == 2) ||
                            (c->mode >= M_LONG4 && (level == 2 || level == 3))));
        if (leaf) {
            size = 1ull << shift;
            if (c->mode == M_32 && level == 2)
                gpa = (e & 0xffc00000ull) | (((e >> 13) & 0xffull) << 32);
            else if (c->mode == M_32)
                gpa = e & 0xfffff000ull;
            else
                gpa = e & addr_mask & ~(size - 1);
            gpa |= gva & (size - 1);
            break;
        }
        base = c->mode == M_32 ? (e & 0xfffff000ull) : (e & addr_mask);
    }
    r->level = (uint8_t)level;
    r->page_size = size;
    if (user_page)
        r->flags |= SK_WALK_R_USER_PAGE;
    if (writable)
        r->flags |= SK_WALK_R_WRITABLE;
    if (nx)
        r->flags |= SK_WALK_R_NX;

    /* Access rights (SDM 4.6). */
    bool deny = (access & SK_WALK_SHADOW_STACK) != 0;
    if (!(access & SK_WALK_PRIV_EXEMPT)) {
        if (user && !user_page)
            deny = true;
        if (!user && user_page) {
            if (fetch && (st->cr4 & SK_CR4_SMEP))
                deny = true;
            if ((access & (SK_WALK_READ | SK_WALK_WRITE)) && (st->cr4 & SK_CR4_SMAP) &&
                !(access & SK_WALK_SMAP_OVERRIDE) &&
                ((access & SK_WALK_SMAP_ENFORCE) || !(st->rflags & SK_WALK_RFLAGS_AC)))
                deny = true;
        }
    }
    if (write && !writable && (user || (st->cr0 & SK_CR0_WP)))
        deny = true;
    if (fetch && nx)
        deny = true;
    if (deny) {
        fail(r, R(PRIVILEGE_VIOLATION), pf | SK_VP_PF_PRESENT, level);
        r->page_size = size;
        return 0;
    }

    /* Accessed and dirty bits, top down, as the CPU sets them. */
    if ((access & SK_WALK_SET_AD) && c->mem->cmpxchg_gpa) {
        for (unsigned i = 0; i < nused; i++) {
            if (!used[i].has_a)
                continue;
            uint64_t v = used[i].value | E_A;
            if (i == nused - 1 && write)
                v |= E_D;
            if (v == used[i].value)
                continue;
            int x = c->mem->cmpxchg_gpa(c->mem->ctx, used[i].addr, used[i].size,
                                        used[i].value, v);
            if (x > 0)
                return 1;
            if (x < 0) {
                fail(r, R(GPA_UNMAPPED), 0, top - i);
                r->flags |= SK_WALK_R_TABLE;
                r->gpa = used[i].addr;
                return 0;
            }
            if (i == nused - 1)
                r->entry = v;
        }
    }

    r->code = R(SUCCESS);
    r->pf_error = 0;
    r->gpa = gpa;
    r->cache_type = cache_type(st, e, level > 1);
    uint8_t probe;
    if (!c->mem->read_gpa(c->mem->ctx, gpa, &probe, 1)) {
        r->code = R(GPA_UNMAPPED);
        r->cache_type = 0;
    }
    return 0;
}

void sk_walk(const struct sk_walk_mem *mem, const struct sk_walk_state *st, uint64_t gva,
             uint32_t access, struct sk_walk_result *r)
{
    vp_zero(r, sizeof(*r));
    bool paging = (st->cr0 & SK_CR0_PG) != 0;
    bool lma = paging && (st->efer & SK_EFER_LMA);
    if ((access & ~SK_WALK_KNOWN) ||
        ((access & SK_WALK_USER) && (access & SK_WALK_SUPERVISOR))) {
        r->code = R(INVALID_PAGE_TABLE_FLAGS);
        r->flags = SK_WALK_R_BAD_ARGS;
        return;
    }
    if (!lma)
        gva &= 0xffffffffull;
    r->gva = gva;
    if (!paging) {
        /* Linear == physical; the shadow-stack refusal still holds. */
        r->page_size = 1ull << 12;
        if (access & SK_WALK_SHADOW_STACK) {
            r->code = R(PRIVILEGE_VIOLATION);
            r->page_size = 0;
            return;
        }
        uint8_t probe;
        r->gpa = gva;
        r->code = mem->read_gpa(mem->ctx, gva, &probe, 1) ? R(SUCCESS) : R(GPA_UNMAPPED);
        r->cache_type = (st->cr0 & SK_CR0_CD) ? 0 : (r->code == R(SUCCESS) ? 6 : 0);
        return;
    }
    r->flags = SK_WALK_R_PAGING;

    struct ctx c = { .mem = mem, .st = st };
    c.maxphy = st->maxphyaddr == 0 ? 52u : st->maxphyaddr < 32 ? 32u
             : st->maxphyaddr > 52 ? 52u : st->maxphyaddr;
    c.nxe = (st->efer & SK_EFER_NXE) != 0;
    if (lma)
        c.mode = (st->cr4 & SK_CR4_LA57) ? M_LONG5 : M_LONG4;
    else
        c.mode = (st->cr4 & SK_CR4_PAE) ? M_PAE : M_32;
    c.rsv64 = bits(51, c.maxphy) | (c.nxe ? 0 : E_XD) | (c.mode == M_PAE ? bits(62, 52) : 0);

    if (lma) {
        unsigned vbits = c.mode == M_LONG5 ? 57 : 48;
        int64_t high = (int64_t)gva >> (vbits - 1);
        if (high != 0 && high != -1) {
            r->code = R(INVALID_PAGE_TABLE_FLAGS);
            r->flags |= SK_WALK_R_NONCANONICAL;
            r->level = c.mode == M_LONG5 ? 5 : 4;
            return;
        }
    }
    for (unsigned tries = 0; tries < SK_WALK_MAX_RETRIES; tries++) {
        r->flags = SK_WALK_R_PAGING;
        if (walk_once(&c, gva, access, r) == 0)
            return;
    }
    /* The entries kept changing under the walk. */
    r->code = R(PAGE_NOT_PRESENT);
    r->pf_error = 0;
    r->gpa = 0;
    r->page_size = 0;
    r->flags = SK_WALK_R_PAGING | SK_WALK_R_CONTENDED;
}

void sk_walk_translate_gva(const struct sk_walk_mem *mem, const struct sk_walk_state *st,
                           const struct sidecar_translate_gva_request *req,
                           struct sidecar_translate_gva_response *resp)
{
    uint64_t gvn, flags;
    if (!vp_translate_begin(req, resp, &gvn, &flags))
        return;
    static const struct { uint64_t tlfs; uint32_t walk; } map[] = {
        { T(VALIDATE_READ), SK_WALK_READ },
        { T(VALIDATE_WRITE), SK_WALK_WRITE },
        { T(VALIDATE_EXECUTE), SK_WALK_FETCH },
        { T(PRIVILEGE_EXEMPT), SK_WALK_PRIV_EXEMPT },
        { T(SET_PAGE_TABLE_BITS), SK_WALK_SET_AD },
        { T(FORCE_SUPERVISOR), SK_WALK_SUPERVISOR },
        { T(FORCE_USER), SK_WALK_USER },
        { T(ENFORCE_SMAP), SK_WALK_SMAP_ENFORCE },
        { T(OVERRIDE_SMAP), SK_WALK_SMAP_OVERRIDE },
        { T(SHADOW_STACK), SK_WALK_SHADOW_STACK },
    };
    uint32_t access = 0;
    for (uint32_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (flags & map[i].tlfs)
            access |= map[i].walk;
    struct sk_walk_result r;
    sk_walk(mem, st, gvn << 12, access, &r);
    struct sidecar_translate_gva_output *out = &resp->output;
    out->translation_result.result_code = r.code;
    if (r.code == R(SUCCESS)) {
        out->translation_result.cache_type_and_flags = r.cache_type;
        out->gpa_page = r.gpa >> 12;
    } else if (r.code == R(GPA_UNMAPPED)) {
        /* The final GPA, or the page holding the entry that is not RAM. */
        out->gpa_page = r.gpa >> 12;
    }
}

uint32_t sk_walk_read(const struct sk_walk_mem *mem, const struct sk_walk_state *st, uint64_t gva,
                      uint32_t access, void *dst, uint32_t n, struct sk_walk_result *stop)
{
    bool lma = (st->cr0 & SK_CR0_PG) && (st->efer & SK_EFER_LMA);
    uint8_t *d = dst;
    uint32_t done = 0;
    struct sk_walk_result r;
    vp_zero(&r, sizeof(r));
    while (done < n) {
        uint64_t a = gva + done;
        if (!lma)
            a &= 0xffffffffull;
        sk_walk(mem, st, a, access, &r);
        if (r.code != R(SUCCESS))
            break;
        uint64_t room = 4096 - (a & 4095);
        uint32_t chunk = n - done < room ? n - done : (uint32_t)room;
        if (mem->read_gpa(mem->ctx, r.gpa, d + done, chunk)) {
            done += chunk;
            continue;
        }
        /* Part of the page is not RAM: copy what is. */
        uint32_t k = 0;
        while (k < chunk && mem->read_gpa(mem->ctx, r.gpa + k, d + done + k, 1))
            k++;
        done += k;
        break;
    }
    if (done < n && stop)
        *stop = r;
    return done;
}
