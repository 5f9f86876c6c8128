/* SPDX-License-Identifier: MIT */
/* INIT right after REMOVED while other CPUs log (hotinit.h). */

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "hotinit.h"

#define TIMEOUT_NS 10000000000ull   /* a bound against a hang, per command */
#define STEP_US 4u                  /* the sweep: target j waits (j % 64) * STEP_US after REMOVED */
#define SWEEP 64u
#define FINAL_VECTOR 3u             /* the bystanders' last log line (not among the sweep's 16-31) */


static void delay_us(uint64_t us, uint64_t khz)
{
    uint64_t end = mk_rdtsc() + us * khz / 1000;
    while (mk_rdtsc() < end)
        mk_pause();
}

void mk_hotinit_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                     uint64_t tsc_khz, struct mk_hotinit_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    uint32_t nb = n / 8 ? n / 8 : 1;
    if (n < nb + 1) {
        MK_FAIL(r, "needs 2 sidecar CPUs, has %u", n);
        return;
    }
    r->bystanders = nb;
    for (uint32_t j = 0; j + nb < n; j++) {
        uint32_t c = cpus[nb + j];
        r->targets++;
        /* The bystanders log while the target leaves: a new vector each
         * (16-31, each logged once per CPU). */
        for (uint32_t b = 0; b < nb; b++)
            mk_send_ipi(p->cpus[cpus[b]].apic_id, 16 + j % 16);
        int rc = sidecar_host_acquire(h, c);
        if (!rc) {
            rc = sidecar_host_remove(h, c, TIMEOUT_NS);
            if (!rc) {
                uint32_t d = (j % SWEEP) * STEP_US;
                delay_us(d, tsc_khz);
                mk_send_init(p->cpus[c].apic_id);
                r->inited++;
                if (d > r->max_delay_us)
                    r->max_delay_us = d;
            }
            sidecar_host_release(h, c);
        }
        if (rc)
            MK_FAIL(r, "cpu %u: remove: %s", c, sidecar_host_strerror(rc));
    }
    /* Every bystander logs once more, then must answer. */
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t c = cpus[b];
        mk_send_ipi(p->cpus[c].apic_id, FINAL_VECTOR);
        int rc = sidecar_host_acquire(h, c);
        for (int k = 0; k < 2 && !rc; k++)
            rc = sidecar_host_ping(h, c, TIMEOUT_NS);
        sidecar_host_release(h, c);
        if (rc)
            MK_FAIL(r, "bystander cpu %u: ping after the INITs: %s (status %d)", c, sidecar_host_strerror(rc),
                 sidecar_host_cpu_status(h, c));
        else
            r->answered++;
    }
    if (r->inited != r->targets || r->answered != nb)
        MK_FAIL(r, "%u/%u targets INITed, %u/%u bystanders answered", r->inited, r->targets, r->answered, nb);
}

/* ---- the scenario (mk.hot_init; scenarios.def) ---- */

static struct mk_hotinit_result hir;

/* INIT right after REMOVED while others log (it takes CPUs away: those are
 * marked converted, so later scenarios leave them alone). */
bool mk_hot_init_run(struct mk_ctx *ctx)
{
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, ctx->cpus);
    mk_hotinit_test(ctx->host, ctx->params, ctx->cpus, n, ctx->tsc_khz, &hir);
    mk_out("main: hot INIT: %s; %u/%u targets REMOVEd and INITed (0-%u us after REMOVED), %u/%u bystanders "
           "answered%s%s\n", hir.ok ? "ok" : "FAILED", hir.inited, hir.targets, hir.max_delay_us, hir.answered,
           hir.bystanders, hir.error[0] ? ": " : "", hir.error);
    for (uint32_t k = hir.bystanders; k < n; k++)
        ctx->converted[ctx->cpus[k]] = true;   /* gone from the sidecar: no more pings */
    return hir.ok;
}

void mk_hot_init_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"targets\":%u,\"bystanders\":%u,\"inited\":%u,\"answered\":%u,"
           "\"max_delay_us\":%u,\"error\":\"%s\"}", hir.ok ? "true" : "false", hir.targets, hir.bystanders,
           hir.inited, hir.answered, hir.max_delay_us, hir.error);
}
