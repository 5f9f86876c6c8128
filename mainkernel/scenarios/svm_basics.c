/* SPDX-License-Identifier: MIT */
/* The SVM backend's basics (mk.svm_basics): on every sidecar CPU in turn,
 * a VP from the x86 reset state runs a small real-mode program through the
 * reset alias, the way a VMM on Hyper-V drives a VP (svm_basics.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "svm_basics.h"

#define TIMEOUT_NS 10000000000ull
#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define COM1 0x3f8u
#define CODE_GPA 0x1000u
#define HANDLER_GPA 0x1100u
#define VECTOR 0x30u
#define RESET_ALIAS_SIZE 0x200000ull
#define ACTIVITY_HALTED 0x2ull
#define PI_PENDING 0x1ull
#define STOP_TRIES 200u

/* Real mode, reached from the reset vector by a far jump. */
static const uint8_t reset_vector[] = { 0xea, CODE_GPA & 0xff, CODE_GPA >> 8, 0x00, 0x00 }; /* jmp 0:1000 */
static const uint8_t program[] = {
    0xba, COM1 & 0xff, COM1 >> 8,   /* mov dx, 0x3f8 */
    0xb0, 'S',                      /* mov al, 'S' */
    0xee,                           /* out dx, al        -> IO intercept */
    0x0f, 0xa2,                     /* cpuid             -> CPUID intercept */
    0xfb,                           /* sti */
    0xf4,                           /* hlt               -> halted in the sidecar */
    0xb0, 'W',                      /* mov al, 'W' */
    0xee,                           /* out dx, al        -> IO intercept after the wake-up */
    0xfa, 0xf4,                     /* cli; hlt          -> halted until STOP */
};
static const uint8_t handler[] = {
    0xb0, 'I',                      /* mov al, 'I' */
    0xee,                           /* out dx, al        -> IO intercept in the handler */
    0xcf,                           /* iret */
};

static void put(const struct sidecar_params *p, uint64_t gpa, const uint8_t *b, uint32_t n)
{
    volatile uint8_t *d = (volatile uint8_t *)(uintptr_t)(p->guest_ram_base + gpa);
    for (uint32_t i = 0; i < n; i++)
        d[i] = b[i];
}

bool mk_svm_basics_load(const struct sidecar_params *p)
{
    if (p->guest_ram_size < RESET_ALIAS_SIZE)
        return false;
    /* GPA 0xFFFFFFF0 is the last 16 bytes of guest RAM (the reset alias). */
    put(p, p->guest_ram_size - 16, reset_vector, sizeof(reset_vector));
    put(p, CODE_GPA, program, sizeof(program));
    put(p, HANDLER_GPA, handler, sizeof(handler));
    uint8_t ivt[4] = { HANDLER_GPA & 0xff, HANDLER_GPA >> 8, 0, 0 };   /* IVT[0x30] = 0000:1100 */
    put(p, VECTOR * 4, ivt, sizeof(ivt));
    return true;
}

struct ctx {
    struct sidecar_host *h;
    uint64_t khz;
    uint32_t cpu;
    char *err;
    uint32_t intercepts;
};

static bool fail(struct ctx *c, const char *what, int rc)
{
    char text[64];
    sidecar_host_error_text(c->h, c->cpu, text, sizeof(text));
    sc_snprintf(c->err, 96, "cpu %u: %s (%d%s%s)", c->cpu, what, rc, text[0] ? ": " : "", text);
    return false;
}

static bool get(struct ctx *c, uint32_t name, uint64_t *v)
{
    struct sidecar_hv_register_assoc r = { .name = name };
    int rc = sidecar_host_get_registers(c->h, c->cpu, 0, &r, 1, TIMEOUT_NS, NULL);
    if (rc)
        return fail(c, "get register", rc);
    *v = r.value.low;
    return true;
}

static bool set(struct ctx *c, uint32_t name, uint64_t v)
{
    struct sidecar_hv_register_assoc r = { .name = name };
    r.value.low = v;
    int rc = sidecar_host_set_registers(c->h, c->cpu, 0, &r, 1, TIMEOUT_NS, NULL);
    return rc ? fail(c, "set register", rc) : true;
}

/* A run that must end in an IO intercept writing value to COM1; then RIP
 * moves past the OUT as a VMM does. */
static bool expect_out(struct ctx *c, uint8_t value)
{
    int rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    if (rc != SIDECAR_HOST_RUN_INTERCEPT)
        return fail(c, "run: no intercept", rc);
    struct sidecar_hv_x64_io_port_intercept_message m;
    rc = sidecar_host_intercept_io_port(c->h, c->cpu, &m);
    if (rc)
        return fail(c, "not an IO intercept", rc);
    if (m.port_number != COM1 || (uint8_t)m.rax != value || sidecar_host_instruction_length(&m.header) != 1 ||
        m.header.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_WRITE)
        return fail(c, "wrong IO intercept", (int)(m.rax & 0xff));
    c->intercepts++;
    return set(c, N(RIP), m.header.rip + 1);
}

/* Start a run, STOP it, collect it: until the VP is halted. */
static bool until_halted(struct ctx *c)
{
    for (unsigned i = 0; i < STOP_TRIES; i++) {
        int rc = sidecar_host_run_vp_start(c->h, c->cpu);
        if (rc)
            return fail(c, "run start", rc);
        uint64_t until = mk_rdtsc() + c->khz / 5;   /* let the guest reach its HLT */
        while (mk_rdtsc() < until)
            __asm__ volatile("pause");
        rc = sidecar_host_stop(c->h, c->cpu);
        if (rc)
            return fail(c, "stop", rc);
        rc = sidecar_host_wait(c->h, c->cpu, TIMEOUT_NS);
        if (rc != SIDECAR_HOST_RUN_STOPPED)
            return fail(c, "a halted run must end by STOP only", rc);
        uint64_t act;
        if (!get(c, N(INTERNAL_ACTIVITY_STATE), &act))
            return false;
        if (act & ACTIVITY_HALTED)
            return true;
    }
    return fail(c, "never halted", 0);
}

static bool one_cpu(struct ctx *c)
{
    uint64_t v;
    /* The library says which backend runs the VPs (the control page's flags). */
    const char *b = sidecar_host_vp_backend(c->h);
    if (b[0] != 's' || b[1] != 'v' || b[2] != 'm')
        return fail(c, "sidecar_host_vp_backend is not svm", 0);
    /* The reset state, as a VMM on Hyper-V reads it on its intercept paths. */
    if (!get(c, N(CR0), &v) || v != 0x60000010ull)
        return fail(c, "CR0 at reset", (int)v);
    if (!get(c, N(EFER), &v) || v != 0)
        return fail(c, "EFER at reset", (int)v);
    if (!get(c, N(RIP), &v) || v != 0xfff0)
        return fail(c, "RIP at reset", (int)v);
    /* XCR0: x87 only at reset, then x87 and SSE (the CPU's own register). */
    if (!get(c, N(XFEM), &v) || v != 1 || !set(c, N(XFEM), 3) || !get(c, N(XFEM), &v) || v != 3)
        return fail(c, "XCR0", (int)v);
    struct sidecar_hv_register_assoc cs = { .name = N(CS) };
    int rc = sidecar_host_get_registers(c->h, c->cpu, 0, &cs, 1, TIMEOUT_NS, NULL);
    struct sidecar_hv_x64_segment_register seg;
    sc_memcpy(&seg, &cs.value, sizeof(seg));
    if (rc || seg.base != 0xffff0000ull || seg.selector != 0xf000)
        return fail(c, "CS at reset", rc);
    /* Impossible values are refused by name, nothing changes. */
    struct sidecar_hv_register_assoc bad = { .name = N(CR0) };
    bad.value.low = 0x80000000ull;   /* PG without PE */
    struct sidecar_host_hv_error herr;
    rc = sidecar_host_set_registers(c->h, c->cpu, 0, &bad, 1, TIMEOUT_NS, &herr);
    if (rc != SIDECAR_HOST_E_HV_STATUS || herr.status != SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE)
        return fail(c, "CR0 PG without PE accepted", rc);
    if (!get(c, N(CR0), &v) || v != 0x60000010ull)
        return fail(c, "CR0 changed by a refused SET", (int)v);
    /* Its own stack, so that the VPs do not share one. */
    if (!set(c, N(RSP), 0x8000u + 0x100u * c->cpu))
        return false;
    if (!expect_out(c, 'S'))
        return false;
    rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    struct sidecar_hv_x64_cpuid_intercept_message cm;
    if (rc != SIDECAR_HOST_RUN_INTERCEPT || sidecar_host_intercept_cpuid(c->h, c->cpu, &cm))
        return fail(c, "no CPUID intercept", rc);
    c->intercepts++;
    if (!set(c, N(RIP), cm.header.rip + sidecar_host_instruction_length(&cm.header)) ||
        !set(c, N(RAX), cm.default_result_rax))
        return false;
    /* sti; hlt: the sidecar holds the VP halted; a run ends only by STOP. */
    if (!until_halted(c))
        return false;
    /* An interrupt through the guest's IVT wakes it. */
    if (!set(c, N(PENDING_INTERRUPTION), PI_PENDING | ((uint64_t)VECTOR << 16)))
        return false;
    if (!expect_out(c, 'I') || !expect_out(c, 'W'))
        return false;
    if (!get(c, N(INTERNAL_ACTIVITY_STATE), &v) || (v & ACTIVITY_HALTED))
        return fail(c, "still halted after the interrupt", (int)v);
    /* cli; hlt: halted until STOP, and the state says so. */
    if (!until_halted(c))
        return false;
    /* Paging is off: a GVA is its GPA. */
    struct sidecar_translate_gva_output out;
    uint16_t st = 0;
    rc = sidecar_host_translate_gva(c->h, c->cpu, 0x1234000ull, 1, TIMEOUT_NS, &out, &st);
    if (rc || out.translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS ||
        out.gpa_page != 0x1234)
        return fail(c, "translate with paging off", rc ? rc : (int)st);
    return true;
}

void mk_svm_basics(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                   uint32_t n, uint64_t tsc_khz, struct mk_svm_basics_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->cpus = n;
    if (!mk_svm_basics_load(p)) {
        sc_snprintf(r->error, sizeof(r->error), "guest RAM smaller than 2 MiB");
        return;
    }
    for (uint32_t k = 0; k < n; k++) {
        struct ctx c = { .h = h, .khz = tsc_khz, .cpu = cpus[k], .err = r->error };
        int rc = sidecar_host_acquire(h, cpus[k]);
        if (rc) {
            fail(&c, "acquire", rc);
            return;
        }
        bool ok = one_cpu(&c);
        sidecar_host_release(h, cpus[k]);
        r->intercepts += c.intercepts;
        if (!ok)
            return;
        r->passed++;
    }
    r->ok = r->passed == n && n > 0;
}

/* ---- the scenario (mk.svm_basics; scenarios.def) ---- */

static struct mk_svm_basics_result sbr;

/* The SVM backend's basics on every sidecar CPU that came up. */
bool mk_svm_basics_run(struct mk_ctx *ctx)
{
    const struct sidecar_output *o = ctx->output;
    uint32_t *cpu_list = ctx->cpus;
    uint32_t n = mk_ready_cpus(ctx->params, o, ctx->converted, cpu_list);
    if (o->vp_backend != SIDECAR_VP_BACKEND_SVM) {
        sc_snprintf(sbr.error, sizeof(sbr.error), "mk.svm_basics needs the svm backend; this boot has %s",
                    o->vp_backend == SIDECAR_VP_BACKEND_RING3 ? "ring3" : "none");
    } else {
        mk_svm_basics(ctx->host, ctx->params, cpu_list, n, ctx->tsc_khz, &sbr);
    }
    mk_out("main: svm basics: %s; %u/%u CPUs passed, %u intercepts%s%s\n", sbr.ok ? "ok" : "FAILED",
           sbr.passed, n, sbr.intercepts, sbr.error[0] ? ": " : "", sbr.error);
    return sbr.ok;
}

void mk_svm_basics_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"intercepts\":%u,\"error\":\"%s\"}",
           sbr.ok ? "true" : "false", sbr.cpus, sbr.passed, sbr.intercepts, sbr.error);
}
