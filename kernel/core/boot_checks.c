/* SPDX-License-Identifier: MIT */
/* The portable parts of boot and trap handling (sidecar/kboot.h). */
#include <scfree/scfree.h>
#include <sidecar/kboot.h>
#include <sidecar/validate.h>

#define PAGE 4096u

static bool refuse(struct sk_boot_error *e, uint32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool refuse(struct sk_boot_error *e, uint32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
    e->code = code;
    return false;
}

/* [a, a + as) and [b, b + bs) share a byte (sizes whose end wraps are
 * compared as the validators left them: the callers' ranges do not wrap). */
static bool overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

bool sk_params_check(const struct sidecar_params *p, const struct sk_boot_env *env, struct sk_boot_error *e)
{
    struct sidecar_abi_error err;
    sidecar_abi_result_t rc = sidecar_params_validate(p, &err);
    if (rc != SIDECAR_ABI_OK)
        return refuse(e, rc, "params.%s", err.message);
    if (p->cpu_count > env->max_cpus)
        return refuse(e, SK_E_CONFIG, "params.cpu_count: %u exceeds this kernel's maximum (%u)",
                      p->cpu_count, env->max_cpus);
    uint64_t params_pa = env->params_pa, output_pa = env->output_pa;
    uint64_t psize = sizeof(*p), osize = sizeof(struct sidecar_output);
    if (overlap(output_pa, osize, params_pa, psize))
        return refuse(e, SK_E_PARAMS_OUTPUT, "output: overlaps params");
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        if (overlap(output_pa, osize, nd->memory_base, nd->memory_size))
            return refuse(e, SK_E_PARAMS_OUTPUT, "output: overlaps nodes[%u] memory", n);
        if (overlap(params_pa, psize, nd->memory_base, nd->memory_size))
            return refuse(e, SK_E_PARAMS_OUTPUT, "params: overlaps nodes[%u] memory", n);
    }
    /* Guest RAM (the validator checked alignment, size and that it is
     * disjoint from node memory and the trampoline): it must lie under PML4
     * entry 0 (so below the kernel window, in the low canonical half) and
     * must not hold the params or output pages, which the VP could then
     * reach. */
    uint64_t gb = p->guest_ram_base, gs = p->guest_ram_size;
    if (gs) {
        if (gb + gs > (1ull << 39) || (gb >> 39) == env->kernel_pml4_slot)
            return refuse(e, SK_E_GUEST_RAM, "params.guest_ram_base: %lx + %lx is not below 512 GiB",
                          (unsigned long)gb, (unsigned long)gs);
        if (overlap(params_pa, psize, gb, gs))
            return refuse(e, SK_E_GUEST_RAM, "params.guest_ram_base: guest RAM overlaps params");
        if (overlap(output_pa, osize, gb, gs))
            return refuse(e, SK_E_GUEST_RAM, "params.guest_ram_base: guest RAM overlaps output");
    }
    const struct sidecar_params_cpu *bsp = &p->cpus[p->bsp_cpu];
    if (bsp->role != SIDECAR_CPU_ROLE_MAIN)
        return refuse(e, SK_E_BSP, "params.cpus[%u].role: the BSP must be a main CPU", p->bsp_cpu);
    /* Every sidecar CPU must belong to a node. */
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        bool inside = false;
        for (uint32_t n = 0; n < p->node_count && !inside; n++)
            inside = c >= p->nodes[n].base_cpu && c - p->nodes[n].base_cpu < p->nodes[n].cpu_count;
        if (!inside)
            return refuse(e, SK_E_NODE, "params.cpus[%u].role: sidecar CPU outside every node", c);
    }
    return true;
}

/* Node memory the validators accept can still be memory the kernel cannot
 * use: on top of its own image, or where the page tables it was given do
 * not map it at its physical address (every node page is written through
 * that identity map while the CPUs are set up). Refused by name before
 * anything changes, instead of a page fault that parks the BSP. */
bool sk_params_check_memory(const struct sidecar_params *p, uint64_t kernel_pa, uint64_t kernel_size,
                            sk_identity_mapped_fn mapped, void *ctx, struct sk_boot_error *e)
{
    for (uint32_t n = 0; n < p->node_count; n++) {
        uint64_t b = p->nodes[n].memory_base, sz = p->nodes[n].memory_size;
        if (overlap(b, sz, kernel_pa, kernel_size))
            return refuse(e, SK_E_NODE, "params.nodes[%u].memory_base: node memory %lx + %lx overlaps the kernel image",
                          n, (unsigned long)b, (unsigned long)sz);
        for (uint64_t a = b; a < b + sz; a += PAGE)
            if (!mapped(ctx, a))
                return refuse(e, SK_E_NODE, "params.nodes[%u].memory_base: %lx is not mapped at its physical address "
                              "by the page tables the kernel was given", n, (unsigned long)a);
    }
    if (!mapped(ctx, p->trampoline_page))
        return refuse(e, SK_E_NODE, "params.trampoline_page: %lx is not mapped at its physical address",
                      (unsigned long)p->trampoline_page);
    if (p->guest_ram_size && overlap(p->guest_ram_base, p->guest_ram_size, kernel_pa, kernel_size))
        return refuse(e, SK_E_GUEST_RAM, "params.guest_ram_base: guest RAM overlaps the kernel image");
    return true;
}

/* ---- traps ------------------------------------------------------------------ */

bool sk_trap_vector_has_error_code(uint8_t v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

/* - An exception that pushed its error code is one (the hot guest exits,
 *   #PF and #GP, need no APIC read); a #DF is the CPU's end at any CPL,
 *   never a guest exit.
 * - An interrupt on an exception vector (a fixed IPI with vector 0-31): it
 *   pushed no error code where the exception would have, or its in-service
 *   bit is set.
 * - An NMI (vector 2, not in service).
 * - A #MC, at any CPL: the CPU's end.
 * - A #DB at CPL0: left-over debug state (the kernel sets no breakpoints
 *   and never single-steps itself). */
enum sk_trap_action sk_trap_classify(uint64_t vector_word, uint64_t cs,
                                     bool (*in_service)(void *ctx, uint8_t v), void *ctx)
{
    uint8_t v = (uint8_t)vector_word;
    if (vector_word & SK_TRAP_ERROR_PUSHED)
        return v == 8 ? SK_TRAP_TERMINAL : SK_TRAP_EXCEPTION;
    bool is = in_service(ctx, v);
    if (sk_trap_vector_has_error_code(v) || is)
        return SK_TRAP_STRAY;
    if (v == 2)
        return SK_TRAP_NMI;
    if (v == 18)
        return SK_TRAP_TERMINAL;
    if (v == 1 && !(cs & 3))
        return SK_TRAP_DEBUG_RESET;
    return SK_TRAP_EXCEPTION;
}

struct sk_vp_exit sk_trap_vp_exit(uint64_t vector_word, uint64_t error, uint64_t cr2, uint64_t dr6)
{
    struct sk_vp_exit x = { 0, 0, 0, 0, 0 };
    x.vector = (uint8_t)vector_word;
    x.has_error_code = (vector_word & SK_TRAP_ERROR_PUSHED) != 0;
    x.error_code = x.has_error_code ? (uint32_t)error : 0;
    x.fault_address = x.vector == SK_VP_VECTOR_PF ? cr2 : x.vector == SK_VP_VECTOR_DB ? dr6 : 0;
    return x;
}
