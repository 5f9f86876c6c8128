/* SPDX-License-Identifier: MIT */
/* Which sidecar CPUs left, and why (cpureport.h). */

#include <scfree/scfree.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "cpureport.h"
#include "vp.h"

#define TIMEOUT_NS 10000000000ull


/* The text as a JSON string body: no quotes, backslashes or controls. */
static void json_safe(char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

void mk_cpureport(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                  uint64_t tsc_khz, struct mk_cpureport_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    bool vp = mk_vp_load_guest(p);
    if (!vp)
        MK_FAIL(r, "no usable guest RAM");
    for (uint32_t k = 0; k < n; k++) {
        uint32_t c = cpus[k];
        int rc = sidecar_host_acquire(h, c);
        if (rc) {
            MK_FAIL(r, "cpu %u: acquire: %s", c, sidecar_host_strerror(rc));
            continue;
        }
        rc = sidecar_host_ping(h, c, TIMEOUT_NS);
        if (rc == SIDECAR_HOST_E_REMOVED) {
            if (r->removed_count < MK_CPUREPORT_MAX) {
                r->removed[r->removed_count].cpu = c;
                sidecar_host_error_text(h, c, r->removed[r->removed_count].error,
                                        sizeof(r->removed[r->removed_count].error));
                json_safe(r->removed[r->removed_count].error);
            }
            r->removed_count++;
            sidecar_host_release(h, c);
            continue;
        }
        r->others++;
        if (!rc)
            rc = sidecar_host_ping(h, c, TIMEOUT_NS);
        sidecar_host_release(h, c);
        if (rc) {
            MK_FAIL(r, "cpu %u: ping: %s (status %d)", c, sidecar_host_strerror(rc), sidecar_host_cpu_status(h, c));
            continue;
        }
        const char *why = "";
        if (vp && mk_vp_run_and_stop(h, p, c, tsc_khz, &why)) {
            MK_FAIL(r, "cpu %u: VP: %s", c, why);
            continue;
        }
        r->others_ok++;
    }
}

/* ---- the scenario (mk.cpu_report; scenarios.def) ---- */

static struct mk_cpureport_result crr;

/* Which CPUs left and why; the others must work. (It reports; the test
 * that uses it checks the report.) */
bool mk_cpu_report_run(struct mk_ctx *ctx)
{
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, ctx->cpus);
    mk_cpureport(ctx->host, ctx->params, ctx->cpus, n, ctx->tsc_khz, &crr);
    for (uint32_t k = 0; k < crr.removed_count && k < MK_CPUREPORT_MAX; k++)
        mk_out("main: cpu %u left the sidecar: %s\n", crr.removed[k].cpu, crr.removed[k].error);
    mk_out("main: cpu report: %s; %u removed, %u/%u others answered and ran a VP%s%s\n", crr.ok ? "ok" : "FAILED",
           crr.removed_count, crr.others_ok, crr.others, crr.error[0] ? ": " : "", crr.error);
    return true;
}

void mk_cpu_report_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"others\":%u,\"others_ok\":%u,\"error\":\"%s\",\"removed\":[",
           crr.ok ? "true" : "false", crr.others, crr.others_ok, crr.error);
    for (uint32_t k = 0; k < crr.removed_count && k < MK_CPUREPORT_MAX; k++)
        mk_out("%s{\"cpu\":%u,\"error\":\"%s\"}", k ? "," : "", crr.removed[k].cpu, crr.removed[k].error);
    mk_out("]}");
}
