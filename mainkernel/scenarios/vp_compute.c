/* SPDX-License-Identifier: MIT */
/* The scenario mk.vp_compute (scenarios.def): the computation (the main
 * kernel's VMM side, compute.h and compute.asm) on every sidecar CPU at
 * once. Report key "compute". */
#include "compute.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"

static struct mk_compute_result cr;

bool mk_vp_compute_run(struct mk_ctx *ctx)
{
    uint32_t *cpu_list = ctx->cpus;
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, cpu_list);
    mk_compute_all(ctx->host, ctx->params, cpu_list, n, ctx->tsc_khz, &cr);
    mk_out("main: compute on %u VPs at once: %s; %u right, %u intercepts, %lu us%s%s\n", cr.cpus,
           cr.ok ? "ok" : "FAILED", cr.passed, cr.intercepts, cr.us, cr.error[0] ? ": " : "", cr.error);
    return cr.ok;
}

void mk_vp_compute_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"intercepts\":%u,\"us\":%lu,\"error\":\"%s\"}",
           cr.ok ? "true" : "false", cr.cpus, cr.passed, cr.intercepts, cr.us, cr.error);
}
