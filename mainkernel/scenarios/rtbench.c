/* The command round-trip bench (rtbench.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "rtbench.h"

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

/* The sidecar side: RUN_VP to an immediate HLT, and NONE. */
static bool sidecar_side(const struct mk_convert_env *env, uint32_t cpu, uint32_t n, struct mk_rtbench_result *r)
{
    struct sidecar_host *h = env->host;
    const struct sidecar_params *p = env->params;
    if (!p->guest_ram_size || p->guest_ram_size <= STACK_OFFSET || p->guest_ram_base + p->guest_ram_size > (1ull << 32))
        return failed(r, "guest RAM", SIDECAR_HOST_E_INVALID);
    *(volatile uint8_t *)(uintptr_t)(p->guest_ram_base + GUEST_OFFSET) = 0xf4;   /* hlt */
    struct sidecar_hv_register_assoc a[3];
    sc_memset(a, 0, sizeof(a));
    a[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    a[0].value.low = p->guest_ram_base + GUEST_OFFSET;
    a[1].name = SIDECAR_HV_REGISTER_NAME_RSP;
    a[1].value.low = p->guest_ram_base + STACK_OFFSET;
    a[2].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
    a[2].value.low = 0x2;
    int rc = sidecar_host_acquire(h, cpu);
    if (rc)
        return failed(r, "acquire", rc);
    rc = sidecar_host_set_registers(h, cpu, 0, a, 3, TIMEOUT_NS, 0);
    uint32_t type = 0;
    /* Intercepts never move RIP: every run exits at the same HLT. */
    for (uint32_t i = 0; !rc && i < WARMUP + n; i++) {
        uint64_t t0 = mk_rdtsc();
        rc = sidecar_host_run_vp(h, cpu, TIMEOUT_NS);
        uint64_t t1 = mk_rdtsc();
        if (rc == SIDECAR_HOST_RUN_INTERCEPT && !sidecar_host_intercept_type(h, cpu, &type) &&
            type == SIDECAR_HV_MESSAGE_TYPE_X64_HALT) {
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

void mk_rtbench(const struct mk_convert_env *env, uint32_t cpu, uint32_t n, struct mk_rtbench_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    r->cpu = cpu;
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    if (cpu >= env->params->cpu_count || !sidecar_side(env, cpu, n, r))
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
