/* SPDX-License-Identifier: MIT */
/* A guest page-table walker (kernel/core/vp/walk.c).
 *
 * Translates a guest virtual (linear) address the way the guest's own MMU
 * would, from the guest's control registers and its page tables in guest
 * physical memory, which the caller reads through a callback. For a VP
 * backend whose guest has its own paging (the SVM backend with nested
 * paging): TRANSLATE_GVA, the #PF a hardware walk would raise, and fetching
 * instruction bytes through the guest's tables. Freestanding C11, no libc;
 * built natively for tests/kernel/test_vp_walk.c and tests/fuzz/fuzz_walk.c.
 *
 * Modes (from CR0.PG, CR4.PAE, EFER.LMA, CR4.LA57):
 *   paging off      GPA = linear address, truncated to 32 bits (long mode
 *                   needs paging, so this is always outside it)
 *   32-bit paging   4 KiB pages; 4 MiB pages with CR4.PSE (PSE-36: PDE bits
 *                   20:13 are GPA bits 39:32, up to MAXPHYADDR)
 *   PAE             the PDPTE of CR3 bits 31:5 read at every walk (not
 *                   cached at MOV CR3, as under AMD nested paging); 2 MiB and
 *                   4 KiB pages; NX with EFER.NXE
 *   4-level         EFER.LMA with CR0.PG (CR4.PAE is then taken as set);
 *                   1 GiB, 2 MiB and 4 KiB pages; canonical 48-bit addresses
 *   5-level         CR4.LA57 with EFER.LMA: one more level, canonical 57-bit
 * Checks (Intel SDM vol. 3 ch. 4.5-4.7, AMD APM vol. 2 ch. 5): present bits;
 * reserved bits of every mode (above MAXPHYADDR, the large-page bits, bit 63
 * without EFER.NXE, PS in a PML4E/PML5E, PDPTE bits in PAE mode) ->
 * INVALID_PAGE_TABLE_FLAGS with #PF RSVD; R/W (supervisor writes honour
 * CR0.WP), U/S, NX, SMEP, SMAP (RFLAGS.AC unless an implicit access);
 * non-canonical addresses in long mode. Not modelled: protection keys
 * (CR4.PKE/PKS: the key bits are ignored), CET shadow-stack pages (a
 * shadow-stack access is refused as a privilege violation), MTRRs (the
 * cache type is the PAT type alone), SME/SEV C-bits.
 */
#ifndef SIDECAR_WALK_H
#define SIDECAR_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

/* Control register bits the walker reads. */
#define SK_CR0_PE   (1ull << 0)
#define SK_CR0_WP   (1ull << 16)
#define SK_CR0_CD   (1ull << 30)
#define SK_CR0_PG   (1ull << 31)
#define SK_CR4_PSE  (1ull << 4)
#define SK_CR4_PAE  (1ull << 5)
#define SK_CR4_LA57 (1ull << 12)
#define SK_CR4_SMEP (1ull << 20)
#define SK_CR4_SMAP (1ull << 21)
#define SK_EFER_LME (1ull << 8)
#define SK_EFER_LMA (1ull << 10)
#define SK_EFER_NXE (1ull << 11)
#define SK_WALK_RFLAGS_AC (1ull << 18)

/* The guest's physical memory. read_gpa copies n bytes at gpa to dst and
 * returns false when any of them is not guest RAM (MMIO or nothing); it must
 * have no side effects. cmpxchg_gpa (only for SK_WALK_SET_AD; may be NULL,
 * then A/D bits are never written) atomically replaces the size-byte (4 or
 * 8) little-endian entry at gpa with desired if it still holds expected:
 * returns 0 when stored, 1 when the entry held something else, -1 when gpa
 * is not guest RAM. */
struct sk_walk_mem {
    bool (*read_gpa)(void *ctx, uint64_t gpa, void *dst, uint32_t n);
    int (*cmpxchg_gpa)(void *ctx, uint64_t gpa, uint32_t size, uint64_t expected,
                       uint64_t desired);
    void *ctx;
};

/* The guest's state that paging depends on. */
struct sk_walk_state {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t rflags;      /* AC, for SMAP */
    uint64_t pat;         /* IA32_PAT; 0 = the power-on value 0x0007040600070406 */
    uint8_t cpl;          /* 3 = user-mode accesses (unless forced) */
    uint8_t maxphyaddr;   /* the guest's MAXPHYADDR; 0 = 52. Clamped to 32..52 */
};

/* sk_walk access bits. READ/WRITE/FETCH are the access types validated (any
 * combination; none: only present and reserved bits, and U/S for a user
 * access). USER/SUPERVISOR force the privilege (neither: CPL 3 is user).
 * SMAP_ENFORCE: SMAP applies whatever RFLAGS.AC says (an implicit
 * supervisor access: GDT, IDT, TSS; with SUPERVISOR). SMAP_OVERRIDE: no SMAP
 * check.
 * PRIV_EXEMPT: no U/S, SMEP or SMAP check (R/W and NX still apply).
 * SET_AD: set the accessed bits of every entry used and the dirty bit of the
 * leaf on a write, when the walk succeeds (through cmpxchg_gpa). */
#define SK_WALK_READ          0x001u
#define SK_WALK_WRITE         0x002u
#define SK_WALK_FETCH         0x004u
#define SK_WALK_USER          0x008u
#define SK_WALK_SUPERVISOR    0x010u
#define SK_WALK_SMAP_ENFORCE  0x020u
#define SK_WALK_SMAP_OVERRIDE 0x040u
#define SK_WALK_PRIV_EXEMPT   0x080u
#define SK_WALK_SET_AD        0x100u
#define SK_WALK_SHADOW_STACK  0x200u
#define SK_WALK_KNOWN         0x3ffu

/* sk_walk_result.flags */
#define SK_WALK_R_PAGING      0x01u  /* paging was on */
#define SK_WALK_R_TABLE       0x02u  /* GPA_UNMAPPED: a page-table entry's GPA is
                                        not RAM (gpa = that entry's address) */
#define SK_WALK_R_NONCANONICAL 0x04u /* long mode, non-canonical address: hardware
                                        raises #GP (or #SS), not #PF; pf_error 0 */
#define SK_WALK_R_USER_PAGE   0x08u  /* U/S 1 at every level */
#define SK_WALK_R_WRITABLE    0x10u  /* R/W 1 at every level */
#define SK_WALK_R_NX          0x20u  /* XD 1 at some level (with EFER.NXE) */
#define SK_WALK_R_BAD_ARGS    0x40u  /* unknown access bits, or both USER and SUPERVISOR */
#define SK_WALK_R_CONTENDED   0x80u  /* SET_AD lost the race for the entries too often */

/* Walks give up updating A/D bits after this many lost compare-exchanges
 * (each restarts the walk from CR3) and report PAGE_NOT_PRESENT: the guest
 * is rewriting its tables under the walk and will retry the access. */
#define SK_WALK_MAX_RETRIES 64u

struct sk_walk_result {
    uint32_t code;        /* SIDECAR_TRANSLATE_GVA_RESULT_CODE_*: SUCCESS,
                             PAGE_NOT_PRESENT, PRIVILEGE_VIOLATION,
                             INVALID_PAGE_TABLE_FLAGS or GPA_UNMAPPED */
    uint32_t pf_error;    /* the #PF error code a hardware walk would push
                             (SK_VP_PF_* bits); 0 on SUCCESS, GPA_UNMAPPED and
                             non-canonical */
    uint64_t gva;         /* the linear address walked (truncated outside long mode) */
    uint64_t gpa;         /* SUCCESS and final GPA_UNMAPPED: the GPA; GPA_UNMAPPED
                             with SK_WALK_R_TABLE: the entry's GPA; else 0 */
    uint64_t page_size;   /* the page the leaf maps (4 KiB when paging is off);
                             0 when the walk stopped before a leaf */
    uint64_t entry;       /* the last entry read (the leaf on success) */
    uint8_t level;        /* the level it stopped at: 1 PTE, 2 PDE, 3 PDPTE,
                             4 PML4E, 5 PML5E; 0 paging off */
    uint8_t flags;        /* SK_WALK_R_* */
    uint8_t cache_type;   /* success: the PAT memory type (TLFS cache type:
                             0 UC, 1 WC, 4 WT, 5 WP, 6 WB; UC- is 0); 6 when
                             paging is off, 0 with CR0.CD */
    uint8_t reserved;
};

/* Translates gva for access (SK_WALK_*). r is always fully written. */
void sk_walk(const struct sk_walk_mem *mem, const struct sk_walk_state *st, uint64_t gva,
             uint32_t access, struct sk_walk_result *r);

/* TRANSLATE_GVA over the guest's tables: req->control_flags are the TLFS
 * flags (SK_TRANSLATE_* in vp.h). resp is fully written: status
 * INVALID_PARAMETER (unknown flag bits, or both force supervisor and force
 * user) with a zero result, else SUCCESS with a result code:
 *   SUCCESS                  gpa_page, cache type from the PAT bits
 *   PAGE_NOT_PRESENT, PRIVILEGE_VIOLATION, INVALID_PAGE_TABLE_FLAGS (also
 *                            for a non-canonical address)
 *   GPA_UNMAPPED             the final GPA is not RAM: gpa_page is it, cache
 *                            type UC; or a page-table page is not RAM:
 *                            gpa_page is the page holding that entry
 * Flags: validate read/write/execute, privilege exempt, set page table bits
 * (A/D), force supervisor/user (default: CPL 3 is user), enforce SMAP (even
 * with RFLAGS.AC), override SMAP; shadow stack is refused as a privilege
 * violation; TLB flush inhibit and the input VTL are ignored. */
void sk_walk_translate_gva(const struct sk_walk_mem *mem, const struct sk_walk_state *st,
                           const struct sidecar_translate_gva_request *req,
                           struct sidecar_translate_gva_response *resp);

/* Copies n bytes starting at gva (linear; wraps at 4 GiB outside long mode)
 * through the guest's tables into dst, page by page, each page translated
 * for access (e.g. SK_WALK_FETCH for instruction bytes). Returns how many
 * bytes were copied; when fewer than n, *stop (may be NULL) is the walk that
 * stopped it (for a GPA that is not RAM: code GPA_UNMAPPED, or SUCCESS when
 * the page is translated but part of it is not RAM). */
uint32_t sk_walk_read(const struct sk_walk_mem *mem, const struct sk_walk_state *st, uint64_t gva,
                      uint32_t access, void *dst, uint32_t n, struct sk_walk_result *stop);

#endif
