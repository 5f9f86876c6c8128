/* SPDX-License-Identifier: MIT */
/* The command round-trip bench (rtbench.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "rtbench.h"
#include "scenarios.h"
#include "svm_vmm.h"

#define GUEST_OFFSET 0x180000ull    /* a HLT; the VP test and the computation use other places */
#define STACK_OFFSET 0x180800ull
#define TIMEOUT_NS 2000000000ull
#define MAX_SAMPLES 4096u
#define WARMUP 16u

static uint64_t t_run[MAX_SAMPLES], t_none[MAX_SAMPLES], t_ipi[MAX_SAMPLES];

static bool failed(struct mk_rtbench_result *r, const char *what, int rc)
{
    r->ok = false;
    sc_snprintf(r->error, sizeof(r->error), "%s: %s", what, sidecar_host_strerror(rc));
    return false;
}

/* The sidecar side: RUN_VP to an immediate exit, and NONE. With ring3 the
 * VP exits at a HLT (an x64_halt intercept); with svm, where the sidecar
 * keeps a halted VP, at an OUT (an IO intercept) in real mode, through
 * VMRUN and #VMEXIT. Intercepts never move RIP: every run exits at the
 * same instruction. */
static bool sidecar_side(const struct mk_convert_env *env, uint32_t cpu, uint32_t n, bool svm,
                         struct mk_rtbench_result *r)
{
    struct sidecar_host *h = env->host;
    const struct sidecar_params *p = env->params;
    if (!p->guest_ram_size || p->guest_ram_size <= STACK_OFFSET || p->guest_ram_base + p->guest_ram_size > (1ull << 32))
        return failed(r, "guest RAM", SIDECAR_HOST_E_INVALID);
    volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)(p->guest_ram_base + GUEST_OFFSET);
    struct sidecar_hv_register_assoc a[3];
    sc_memset(a, 0, sizeof(a));
    a[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    a[1].name = SIDECAR_HV_REGISTER_NAME_RSP;
    a[2].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
    a[2].value.low = 0x2;
    uint32_t want = SIDECAR_HV_MESSAGE_TYPE_X64_HALT;
    if (svm) {
        /* Real mode, CS base 0: GPA = IP. out 0xe0, al */
        code[0] = 0xe6;
        code[1] = 0xe0;
        a[0].value.low = GUEST_OFFSET & 0xffff;
        a[1].value.low = STACK_OFFSET & 0xffff;
        want = SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT;
    } else {
        code[0] = 0xf4;   /* hlt */
        a[0].value.low = p->guest_ram_base + GUEST_OFFSET;
        a[1].value.low = p->guest_ram_base + STACK_OFFSET;
    }
    int rc = sidecar_host_acquire(h, cpu);
    if (rc)
        return failed(r, "acquire", rc);
    if (svm) {
        /* The reset state, then CS at the code's 64 KiB segment. */
        struct sidecar_hv_register_assoc cs;
        sc_memset(&cs, 0, sizeof(cs));
        cs.name = SIDECAR_HV_REGISTER_NAME_CS;
        struct sidecar_hv_x64_segment_register seg = { .base = GUEST_OFFSET & ~0xffffull, .limit = 0xffff,
                                                       .selector = (uint16_t)(GUEST_OFFSET >> 4 & 0xf000),
                                                       .attributes = 0x9b };
        sc_memcpy(&cs.value, &seg, sizeof(seg));
        rc = mk_svm_reset_vp(h, cpu);
        if (!rc)
            rc = sidecar_host_set_registers(h, cpu, 0, &cs, 1, TIMEOUT_NS, 0);
    }
    if (!rc)
        rc = sidecar_host_set_registers(h, cpu, 0, a, 3, TIMEOUT_NS, 0);
    uint32_t type = 0;
    for (uint32_t i = 0; !rc && i < WARMUP + n; i++) {
        uint64_t t0 = mk_rdtsc();
        rc = sidecar_host_run_vp(h, cpu, TIMEOUT_NS);
        uint64_t t1 = mk_rdtsc();
        if (rc == SIDECAR_HOST_RUN_INTERCEPT && !sidecar_host_intercept_type(h, cpu, &type) && type == want) {
            rc = 0;
            if (i >= WARMUP)
                t_run[i - WARMUP] = t1 - t0;
        } else if (rc >= 0) {
            rc = SIDECAR_HOST_E_STATE;
        }
    }
    for (uint32_t i = 0; !rc && i < WARMUP + n; i++) {
        uint64_t t0 = mk_rdtsc();
        rc = sidecar_host_ping(h, cpu, TIMEOUT_NS);
        if (i >= WARMUP)
            t_none[i - WARMUP] = mk_rdtsc() - t0;
    }
    sidecar_host_release(h, cpu);
    if (rc)
        return failed(r, "RUN_VP/NONE", rc);
    r->run_vp = mk_stats_of(t_run, n);
    r->none = mk_stats_of(t_none, n);
    return true;
}

void mk_rtbench(const struct mk_convert_env *env, uint32_t cpu, uint32_t n, bool svm, struct mk_rtbench_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->svm = svm;
    r->ok = true;
    r->cpu = cpu;
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    if (cpu >= env->params->cpu_count || !sidecar_side(env, cpu, n, r->svm, r))
        return;
    struct mk_conversion c;
    if (mk_convert_batch(env, &cpu, 1, &c) != 1) {
        r->ok = false;
        sc_snprintf(r->error, sizeof(r->error), "converting cpu %u: %s", cpu, c.error);
        return;
    }
    for (uint32_t i = 0; i < WARMUP + n; i++) {
        uint64_t t = mk_converted_echo(env, c.reported_apic_id);
        if (!t) {
            r->ok = false;
            sc_snprintf(r->error, sizeof(r->error), "cpu %u did not answer the IPI", cpu);
            return;
        }
        if (i >= WARMUP)
            t_ipi[i - WARMUP] = t;
    }
    r->ipi = mk_stats_of(t_ipi, n);
}

/* ---- the scenario (mk.bench_roundtrip; scenarios.def) ---- */

static struct mk_rtbench_result rb;

/* The round-trip bench on the last ready sidecar CPU not converted. */
bool mk_rtbench_run(struct mk_ctx *ctx)
{
    const struct sidecar_params *p = ctx->params;
    const struct sidecar_output *o = ctx->output;
    uint64_t khz = ctx->tsc_khz;
    uint32_t cpu = SIDECAR_NO_CPU;
    for (uint32_t c = p->cpu_count; c-- > 0 && cpu == SIDECAR_NO_CPU;)
        if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE &&
            !ctx->converted[c])
            cpu = c;
    struct mk_convert_env env = { ctx->host, p, mk_low_page(ctx->handoff), khz };
    if (cpu == SIDECAR_NO_CPU || !mk_convert_install(&env)) {
        rb.ok = false;
        sc_snprintf(rb.error, sizeof(rb.error), "no CPU or no trampoline page for the bench");
    } else {
        mk_rtbench(&env, cpu, 2000, ctx->output->vp_backend == SIDECAR_VP_BACKEND_SVM, &rb);
        if (rb.ok)
            ctx->converted[cpu] = true;
    }
    mk_out("main: round trips on cpu %u (%u each, ns): RUN_VP median %lu p99 %lu; NONE median %lu p99 %lu; "
           "bare IPI median %lu p99 %lu%s%s\n", rb.cpu, rb.run_vp.samples, rb.run_vp.median * 1000000 / khz,
           rb.run_vp.p99 * 1000000 / khz, rb.none.median * 1000000 / khz, rb.none.p99 * 1000000 / khz,
           rb.ipi.median * 1000000 / khz, rb.ipi.p99 * 1000000 / khz, rb.ok ? "" : ": ", rb.error);
    return rb.ok;
}

void mk_rtbench_report(const struct mk_ctx *ctx)
{
    uint64_t khz = ctx->tsc_khz;
    mk_out("{\"ok\":%s,\"backend\":\"%s\",\"cpu\":%u,\"samples\":%u,\"run_vp\":[%lu,%lu],\"none\":[%lu,%lu],"
           "\"ipi\":[%lu,%lu],\"error\":\"%s\"}",
           rb.ok ? "true" : "false", rb.svm ? "svm" : "ring3", rb.cpu, rb.run_vp.samples, rb.run_vp.median * 1000000 / khz,
           rb.run_vp.p99 * 1000000 / khz, rb.none.median * 1000000 / khz, rb.none.p99 * 1000000 / khz,
           rb.ipi.median * 1000000 / khz, rb.ipi.p99 * 1000000 / khz, rb.error);
}
