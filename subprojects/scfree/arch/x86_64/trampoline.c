/* SPDX-License-Identifier: MIT */
/* Installing the AP trampoline (trampoline.asm) in a low page. */
#include <scfree/scfree.h>
#include <scfree/trampoline.h>

extern const char scfree_trampoline_start[], scfree_trampoline_end[];
extern const char scfree_tramp_gdtr[], scfree_tramp_pm_ptr[], scfree_tramp_lm_ptr[];
extern const char scfree_tramp_cr3[], scfree_tramp_entry[];

uint64_t scfree_trampoline_size(void)
{
    return (uint64_t)(scfree_trampoline_end - scfree_trampoline_start);
}

static void put32(char *t, const char *sym, uint32_t add)
{
    uint32_t v;
    sc_memcpy(&v, t + (sym - scfree_trampoline_start), 4);
    v += add;
    sc_memcpy(t + (sym - scfree_trampoline_start), &v, 4);
}

static void put64(char *t, const char *sym, uint64_t v)
{
    sc_memcpy(t + (sym - scfree_trampoline_start), &v, 8);
}

bool scfree_trampoline_install(void *page, uint64_t page_pa, uint64_t cr3, uint64_t entry64)
{
    if (!page || (page_pa & 0xfff) || page_pa == 0 || page_pa >= 0x100000 || cr3 >= (1ull << 32) ||
        (cr3 & 0xfff) || !entry64 || scfree_trampoline_size() > 4096)
        return false;
    char *t = page;
    sc_memcpy(t, scfree_trampoline_start, scfree_trampoline_size());
    /* The GDT base and the two far pointers are page-relative in the image. */
    put32(t, scfree_tramp_gdtr + 2, (uint32_t)page_pa);
    put32(t, scfree_tramp_pm_ptr, (uint32_t)page_pa);
    put32(t, scfree_tramp_lm_ptr, (uint32_t)page_pa);
    put64(t, scfree_tramp_cr3, cr3);
    put64(t, scfree_tramp_entry, entry64);
    return true;
}
