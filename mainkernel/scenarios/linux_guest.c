/* SPDX-License-Identifier: MIT */
/* Debian's Linux kernel as a guest on a sidecar VP (mk.linux_guest; the
 * svm backend): the bare-metal main kernel is its VMM (linux_vmm.c). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "linux_vmm.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"

static struct mk_linux_guest_result res;

bool mk_linux_guest_run(struct mk_ctx *ctx)
{
    sc_memset(&res, 0, sizeof(res));
    const struct sidecar_output *o = ctx->output;
    uint32_t n = mk_ready_cpus(ctx->params, o, ctx->converted, ctx->cpus);
    if (o->vp_backend != SIDECAR_VP_BACKEND_SVM)
        sc_snprintf(res.error, sizeof(res.error), "mk.linux_guest needs the svm backend");
    else if (!n)
        sc_snprintf(res.error, sizeof(res.error), "no sidecar CPU");
    else
        mk_linux_guest_boot(ctx->host, ctx->params, ctx->cpus[0], ctx->tsc_khz, &res);
    mk_out("main: linux guest on cpu %u: %s; banner %s, command line %s, memory map %s; %u console lines, "
           "%u intercepts (%u IO, %u CPUID, %u MSR, %u MMIO); ended: %s%s%s\n", res.cpu, res.ok ? "ok" : "FAILED",
           res.banner ? "yes" : "no", res.cmdline ? "yes" : "no", res.e820 ? "yes" : "no", res.lines,
           res.intercepts, res.io, res.cpuid, res.msr, res.mmio, res.end[0] ? res.end : "-",
           res.error[0] ? "; " : "", res.error);
    return res.ok;
}

void mk_linux_guest_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpu\":%u,\"banner\":%s,\"cmdline\":%s,\"e820\":%s,\"lines\":%u,\"intercepts\":%u,"
           "\"io\":%u,\"cpuid\":%u,\"msr\":%u,\"mmio\":%u,\"kernel_size\":%lu,\"initrd_size\":%lu,"
           "\"end\":\"%s\",\"last\":\"%s\",\"error\":\"%s\"}",
           res.ok ? "true" : "false", res.cpu, res.banner ? "true" : "false", res.cmdline ? "true" : "false",
           res.e820 ? "true" : "false", res.lines, res.intercepts, res.io, res.cpuid, res.msr, res.mmio,
           res.kernel_size, res.initrd_size, res.end, res.last, res.error);
}
