/* SPDX-License-Identifier: MIT */
/* libFuzzer: the sidecar kernel's portable boot and trap checks
 * (sidecar/kboot.h, kernel/core/boot_checks.c), compiled natively.
 *
 * First byte even: params. A healthy params page (2 nodes of 4 CPUs, CPU 0
 * the main CPU) is changed by the input's patches (offset, 1/2/4/8 bytes,
 * set/add/xor) and checked at fuzzed params/output addresses and CPU
 * maximum by sk_params_check, then by sk_params_check_memory against a
 * fuzzed kernel image and page tables that identity-map [0, limit) less a
 * hole. Each verdict is compared with an oracle written here apart (128-bit
 * range arithmetic, so a wrapping range cannot hide an overlap), and a
 * refusal's text must name the field it refuses.
 *
 * First byte odd: a trap frame on any vector (the vector word with or
 * without SK_TRAP_ERROR_PUSHED, CS, the APIC's in-service answer, error
 * code, CR2/DR6) through sk_trap_classify as entry.asm routes it, then, for
 * a CPL3 frame that is not handled, through sk_trap_vp_exit and the ring-3
 * backend's sk_vp_handle_exit with fuzzed instruction bytes: an interrupt
 * on an exception vector is never an exception nor a guest exit, #DF/#MC
 * always end the CPU, the exit carries the frame's vector and error code,
 * and every intercept message passes the generated validator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/kboot.h>
#include <sidecar/kcore.h>
#include <sidecar/validate.h>
#include <sidecar/vp.h>

#define PAGE 4096ull
#define NODES 2u
#define PER_NODE 4u
#define CPUS (NODES * PER_NODE)
#define CONTROL_PA(n) (0x10000000ull + (uint64_t)(n) * 0x100000ull)   /* node n's memory */
#include "fuzz_world.h"

typedef unsigned __int128 u128;

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t next8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static uint64_t next_n(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)next8() << (8 * i);
    return v;
}

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* The text is terminated inside its buffer. */
static void check_text(const struct sk_boot_error *e)
{
    if (!memchr(e->text, 0, sizeof(e->text)) || !e->text[0])
        abort();
}

/* ---- params ----------------------------------------------------------------- */

static struct sidecar_params *params;

static void __attribute__((constructor)) setup(void)
{
    params = aligned_alloc(PAGE, sizeof(*params));
    if (!params)
        abort();
}

static void healthy(void)
{
    fuzz_params_healthy(params);
    for (uint32_t c = 0; c < CPUS; c++) {
        params->cpus[c].apic_id = c;
        params->cpus[c].role = c ? SIDECAR_CPU_ROLE_SIDECAR : SIDECAR_CPU_ROLE_MAIN;
    }
}

/* One patch: op (size in bits 0-1, set/add/xor in bits 2-3, bit 4: an
 * offset in the header, nodes and first CPUs rather than anywhere), offset,
 * value. */
static void patch(void)
{
    uint8_t op = next8();
    unsigned size = 1u << (op & 3);
    uint64_t off = next_n(2);
    off = op & 0x10 ? off % (4096 + 16 * sizeof(struct sidecar_params_cpu)) : off % sizeof(*params);
    if (off > sizeof(*params) - size)
        off = sizeof(*params) - size;
    uint64_t val = next_n(size), old = 0;
    uint8_t *at = (uint8_t *)params + off;
    memcpy(&old, at, size);
    switch ((op >> 2) & 3) {
    case 0: case 3: break;
    case 1: val += old; break;
    case 2: val ^= old; break;
    }
    memcpy(at, &val, size);
}

static int overlap128(u128 a, u128 as, u128 b, u128 bs) { return as && bs && a < b + bs && b < a + as; }

/* The kernel's own checks (after the validator), written apart. */
static const char *oracle_params(const struct sk_boot_env *env)
{
    const struct sidecar_params *p = params;
    if (p->cpu_count > env->max_cpus)
        return "params.cpu_count";
    if (overlap128(env->output_pa, sizeof(struct sidecar_output), env->params_pa, sizeof(*p)))
        return "output";
    for (uint32_t n = 0; n < p->node_count; n++) {
        if (overlap128(env->output_pa, sizeof(struct sidecar_output), p->nodes[n].memory_base, p->nodes[n].memory_size))
            return "output";
        if (overlap128(env->params_pa, sizeof(*p), p->nodes[n].memory_base, p->nodes[n].memory_size))
            return "params";
    }
    u128 gb = p->guest_ram_base, gs = p->guest_ram_size;
    if (gs) {
        if (gb + gs > ((u128)1 << 39))
            return "params.guest_ram_base";
        if (overlap128(env->params_pa, sizeof(*p), gb, gs) || overlap128(env->output_pa, sizeof(struct sidecar_output), gb, gs))
            return "params.guest_ram_base";
    }
    if (p->cpus[p->bsp_cpu].role != SIDECAR_CPU_ROLE_MAIN)
        return "params.cpus[";
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        int inside = 0;
        for (uint32_t n = 0; n < p->node_count; n++)
            inside |= (u128)c >= p->nodes[n].base_cpu && (u128)c < (u128)p->nodes[n].base_cpu + p->nodes[n].cpu_count;
        if (!inside)
            return "params.cpus[";
    }
    return NULL;
}

/* The fake page tables: [0, map_limit) identity mapped but the hole. */
struct fake_map {
    uint64_t limit, hole, hole_size;
    uint64_t calls, max_calls;
};

static int fake_is_mapped(const struct fake_map *m, u128 pa)
{
    return pa < m->limit && !(pa >= m->hole && pa < (u128)m->hole + m->hole_size);
}

static bool fake_mapped(void *ctx, uint64_t pa)
{
    struct fake_map *m = ctx;
    if (++m->calls > m->max_calls)
        abort();   /* more page lookups than node pages + the trampoline */
    if (pa & (PAGE - 1))
        abort();   /* node memory and the trampoline are page aligned (validated) */
    return fake_is_mapped(m, pa);
}

/* Is every page of [b, b + size) mapped? (the hole and the limit are page
 * multiples, so it is enough to look at the boundaries) */
static int range_mapped(const struct fake_map *m, u128 b, u128 size)
{
    if (!size)
        return 1;
    if (b + size > m->limit)
        return 0;
    return !overlap128(m->hole, m->hole_size, b, size);
}

static const char *oracle_memory(uint64_t kernel_pa, uint64_t kernel_size, const struct fake_map *m)
{
    const struct sidecar_params *p = params;
    for (uint32_t n = 0; n < p->node_count; n++) {
        if (overlap128(p->nodes[n].memory_base, p->nodes[n].memory_size, kernel_pa, kernel_size))
            return "params.nodes[";
        if (!range_mapped(m, p->nodes[n].memory_base, p->nodes[n].memory_size))
            return "params.nodes[";
    }
    if (!fake_is_mapped(m, p->trampoline_page))
        return "params.trampoline_page";
    if (overlap128(p->guest_ram_base, p->guest_ram_size, kernel_pa, kernel_size))
        return "params.guest_ram_base";
    return NULL;
}

static void fuzz_params(void)
{
    healthy();
    uint8_t how = next8();
    struct sk_boot_env env = { 0x20000, 0x30000, 256, 511 };
    if (how & 1)
        env.params_pa = next_n(4) << 12;
    if (how & 2)
        env.output_pa = next_n(4) << 12;
    if (how & 4)
        env.max_cpus = (uint32_t)next_n(2);
    struct fake_map m = { 0x100000000ull, 0, 0, 0, 0 };
    uint64_t kernel_pa = 0x400000, kernel_size = 0x40000;
    if (how & 8) {
        m.limit = (next_n(2) + 1) << 16;              /* up to 4 GiB, 64 KiB steps */
        m.hole = next_n(2) << 16;
        m.hole_size = next_n(1) << 12;
    }
    if (how & 16) {
        kernel_pa = next_n(2) << 16;
        kernel_size = (next_n(1) + 1) << 12;
    }
    unsigned patches = next8() % 16;
    for (unsigned i = 0; i < patches; i++)
        patch();

    struct sidecar_abi_error verr;
    sidecar_abi_result_t vrc = sidecar_params_validate(params, &verr);
    struct sk_boot_error e;
    memset(&e, 0x55, sizeof(e));
    bool ok = sk_params_check(params, &env, &e);
    if (!ok)
        check_text(&e);
    if (vrc != SIDECAR_ABI_OK) {
        /* The validator's refusal, as it is, naming the field. */
        if (ok || e.code != (uint32_t)vrc || !starts(e.text, "params.") || strncmp(e.text + 7, verr.message, strlen(e.text + 7)))
            abort();
        return;
    }
    const char *want = oracle_params(&env);
    if (ok != !want || (want && !starts(e.text, want)))
        abort();
    if (!ok)
        return;
    /* What the kernel's set-up relies on once params pass. */
    if (params->cpu_count > env.max_cpus || params->bsp_cpu >= params->cpu_count || params->node_count > SIDECAR_MAX_NODES)
        abort();

    /* Every page of node memory is looked up at most once, plus the trampoline. */
    u128 pages = 1;
    for (uint32_t n = 0; n < params->node_count; n++)
        pages += params->nodes[n].memory_size / PAGE;
    if (pages > (1u << 20))
        return;   /* a valid but huge node: the loop is linear, nothing more to learn */
    m.max_calls = (uint64_t)pages;
    memset(&e, 0x55, sizeof(e));
    ok = sk_params_check_memory(params, kernel_pa, kernel_size, fake_mapped, &m, &e);
    if (!ok)
        check_text(&e);
    want = oracle_memory(kernel_pa, kernel_size, &m);
    if (ok != !want || (want && !starts(e.text, want)))
        abort();
    if (!ok && e.code != SK_E_NODE && e.code != SK_E_GUEST_RAM)
        abort();
}

/* ---- traps ------------------------------------------------------------------ */

struct in_service_answer {
    bool value;
    unsigned calls;
};

static bool fake_in_service(void *ctx, uint8_t v)
{
    (void)v;
    struct in_service_answer *a = ctx;
    a->calls++;
    return a->value;
}

static struct sk_vp vp;

static int never_enter(void *ctx, struct sk_vp *v)
{
    (void)ctx;
    (void)v;
    abort();   /* sk_vp_handle_exit never runs the VP */
}

static const struct sk_vp_ops ops = { never_enter, NULL, NULL };

static void fuzz_trap(void)
{
    uint8_t v = next8();
    uint8_t flags = next8();
    uint64_t word = v | (flags & 1 ? SK_TRAP_ERROR_PUSHED : 0) | (flags & 2 ? (next_n(2) << 9) : 0);
    uint64_t cs = flags & 4 ? 0x2b : 0x08;
    if (flags & 8)
        cs = next_n(2);
    struct in_service_answer is = { (flags & 16) != 0, 0 };
    uint64_t error = next_n(8), cr2 = next_n(8), dr6 = next_n(8);
    bool pushed = (word & SK_TRAP_ERROR_PUSHED) != 0;
    bool cpl3 = (cs & 3) != 0;

    /* entry.asm: vectors 0-31 go through the filter, at any CPL. */
    if (v < 32) {
        enum sk_trap_action a = sk_trap_classify(word, cs, fake_in_service, &is);
        if (is.calls != (pushed ? 0u : 1u))
            abort();
        bool has_code = sk_trap_vector_has_error_code(v);
        if (has_code != (v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30))
            abort();
        /* Finding 1: an interrupt on an exception vector (no error code where
         * the exception has one, or in service) is ignored, never an
         * exception, a guest exit or the CPU's end. */
        if (!pushed && (has_code || is.value) && a != SK_TRAP_STRAY)
            abort();
        if (a == SK_TRAP_STRAY && (pushed || !(has_code || is.value)))
            abort();
        if (a == SK_TRAP_TERMINAL && !(v == 8 || v == 18))
            abort();
        if ((v == 8 && pushed) && a != SK_TRAP_TERMINAL)
            abort();
        if (v == 18 && !pushed && !is.value && a != SK_TRAP_TERMINAL)
            abort();
        if (a == SK_TRAP_NMI && (v != 2 || pushed || is.value))
            abort();
        if (a == SK_TRAP_DEBUG_RESET && (v != 1 || cpl3 || pushed || is.value))
            abort();
        if (v == 1 && !cpl3 && !pushed && !is.value && a != SK_TRAP_DEBUG_RESET)
            abort();
        if (pushed && v != 8 && a != SK_TRAP_EXCEPTION)
            abort();
        if (a != SK_TRAP_EXCEPTION)
            return;   /* handled in the kernel: no guest exit */
    }
    if (!cpl3)
        return;       /* sk_trap: reported (an exception), or an interrupt EOId */

    /* sk_vp_trap: the exit, then the portable half's verdict. */
    struct sk_vp_exit x = sk_trap_vp_exit(word, error, cr2, dr6);
    if (x.vector != v || x.has_error_code != pushed || x.error_code != (pushed ? (uint32_t)error : 0) ||
        x.fault_address != (v == 14 ? cr2 : v == 1 ? dr6 : 0))
        abort();
    const struct sk_vp_config cfg = {
        .ram = { 0x100000, 0x400000, SK_VP_RAM_ALL },
        .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23,
        .ops = &ops,
    };
    sk_vp_init(&vp, 1, &cfg);
    for (unsigned r = 0; r < 16; r++)
        vp.gpr[r] = next_n(2);
    uint8_t where = next8();
    vp.rip = where & 1 ? next_n(8) : cfg.ram.base + (next_n(3) % cfg.ram.size);
    vp.rflags = next_n(4);
    vp.exit = x;
    uint8_t bytes[16];
    uint32_t limit = sk_vp_fetch_limit(&vp, vp.rip);
    if (limit > 16)
        abort();
    uint32_t n = next8() % (limit + 1);
    for (uint32_t i = 0; i < n; i++)
        bytes[i] = next8();
    const uint32_t defaults[4] = { 1, 2, 3, 4 };
    struct sidecar_hv_message msg;
    memset(&msg, 0xa5, sizeof(msg));
    enum sk_vp_exit_action act = sk_vp_handle_exit(&vp, bytes, n, defaults, &msg);
    if (v >= 32 || v == 2) {
        if (act != SK_VP_EXIT_RESUME)
            abort();   /* an interrupt (or NMI) is never the guest's intercept */
        return;
    }
    if (act != SK_VP_EXIT_INTERCEPT)
        abort();
    struct sidecar_abi_error err;
    if (sidecar_hv_message_validate(&msg, &err) != SIDECAR_ABI_OK)
        abort();
    if (msg.header.message_type == SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT) {
        const struct sidecar_hv_x64_exception_intercept_message *ex = (const void *)msg.payload;
        if (sidecar_hv_x64_exception_intercept_message_validate(ex, &err) != SIDECAR_ABI_OK)
            abort();
        if (ex->exception_vector != v || ex->instruction_byte_count > 16 ||
            (pushed && ex->error_code != (uint32_t)error) || (!pushed && ex->error_code))
            abort();
    } else if (v != 13 && v != 14) {
        abort();   /* only #GP (IO, MSR, CPUID, HLT) and #PF (unmapped GPA) become other intercepts */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    in = data + 1;
    in_len = size - 1;
    in_pos = 0;
    if (data[0] & 1)
        fuzz_trap();
    else
        fuzz_params();
    return 0;
}
