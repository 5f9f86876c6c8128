/* SPDX-License-Identifier: MIT */
/* The scenario mk.vp_test (scenarios.def): the VP test (the main kernel's
 * VMM side, vp.h and guest.asm) on every sidecar CPU that came up, all at
 * once. Report key "vp". */
#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "vp.h"

static struct mk_vp_result vpr;
static uint64_t vp_us;

bool mk_vp_test_run(struct mk_ctx *ctx)
{
    uint64_t khz = ctx->tsc_khz;
    uint32_t *cpu_list = ctx->cpus;
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, cpu_list);
    uint64_t t0 = mk_rdtsc();
    mk_vp_test(ctx->host, ctx->params, cpu_list, n, khz, ctx->output->cpuid_faulting, &vpr);
    vp_us = (mk_rdtsc() - t0) * 1000 / khz;
    mk_out("main: vp test: %s; %u/%u CPUs passed, %u intercepts, %u stops, CPUID %s (leaf 0 EAX %u), %lu us%s%s\n",
           vpr.ok ? "ok" : "FAILED", vpr.passed, vpr.cpus, vpr.intercepts, vpr.stops,
           vpr.cpuid_intercept ? "intercepted" : "native", vpr.cpuid_max_leaf,
           vp_us, vpr.error[0] ? ": " : "", vpr.error);
    return vpr.ok;
}

void mk_vp_test_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"intercepts\":%u,\"stops\":%u,"
           "\"cpuid\":\"%s\",\"cpuid_max_leaf\":%u,\"us\":%lu,\"error\":\"%s\"}",
           vpr.ok ? "true" : "false", vpr.cpus, vpr.passed, vpr.intercepts, vpr.stops,
           vpr.cpuid_intercept ? "intercept" : "native", vpr.cpuid_max_leaf, vp_us, vpr.error);
}
