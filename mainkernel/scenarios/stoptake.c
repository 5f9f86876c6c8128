/* SPDX-License-Identifier: MIT */
/* The STOP-before-take test (stoptake.h). */

#include <scfree/scfree.h>

#include "arch/x86_64/platform.h"
#include "seqhost.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "stoptake.h"

#define T_NS 5000000000ull              /* a completion's bound */
#define STALE_TEXT "stale error of an earlier command"

static struct mk_seq_vp seq[SIDECAR_MAX_CPUS];
static bool in_set[SIDECAR_MAX_CPUS];


/* What an earlier failed command would have left. */
static void poison(struct sidecar_host *h, uint32_t cpu)
{
    volatile struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    uint32_t k = 0;
    for (const char *t = STALE_TEXT; *t; t++)
        c->error.buf[k++] = (uint8_t)*t;
    c->error.len = (uint8_t)k;
    c->has_error = 1;
}

/* One completion: the command was taken and its result is fresh. */
static void check(struct sidecar_host *h, const struct sidecar_host_completion *d, struct mk_stoptake_result *r)
{
    volatile struct sidecar_command_page *c = sidecar_host_command_page(h, d->cpu);
    r->completions++;
    /* hostlib resets an untaken command to NONE and answers E_STATE. */
    if (d->result == SIDECAR_HOST_E_STATE || c->command != SIDECAR_COMMAND_NONE) {
        r->skipped++;
        MK_FAIL(r, "cpu %u: a command was not taken (%s)", d->cpu, sidecar_host_strerror(d->result));
        return;
    }
    if (c->has_error || c->error.len) {
        r->stale++;
        MK_FAIL(r, "cpu %u: has_error %u, error text of %u bytes after the command", d->cpu, c->has_error,
             c->error.len);
        return;
    }
    if (c->request_data[0] > 1) {
        MK_FAIL(r, "cpu %u: RUN_VP answer %u (not written)", d->cpu, c->request_data[0]);
        return;
    }
    const char *why = mk_seqg_completed(h, d->cpu, d->result, &seq[d->cpu]);
    if (why) {
        MK_FAIL(r, "%s", why);
        return;
    }
    if (d->result == SIDECAR_HOST_RUN_STOPPED)
        r->stopped++;
    else
        r->intercepts++;
}

void mk_stoptake_run(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                     uint32_t pairs, struct mk_stoptake_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    r->cpus = n;
    r->pairs = pairs;
    if (!n) {
        MK_FAIL(r, "no sidecar CPU to test");
        return;
    }
    if (!mk_seqg_load(p)) {
        MK_FAIL(r, "guest RAM too small");
        return;
    }
    uint32_t acquired = 0;
    for (; acquired < n; acquired++) {
        uint32_t cpu = cpus[acquired];
        int rc = sidecar_host_acquire(h, cpu);
        if (!rc)
            rc = mk_seqg_setup(h, p, cpu);
        if (rc) {
            MK_FAIL(r, "cpu %u: setup: %s", cpu, sidecar_host_strerror(rc));
            break;
        }
        sc_memset(&seq[cpu], 0, sizeof(seq[cpu]));
        mk_seqg_data(p, cpu)->mode = MK_SEQ_EXIT;
        in_set[cpu] = true;
    }
    for (uint32_t it = 0; it < pairs && r->ok; it++) {
        uint32_t started = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t cpu = cpus[k];
            poison(h, cpu);
            int rc = sidecar_host_run_vp_start(h, cpu);
            if (rc) {
                MK_FAIL(r, "pair %u: cpu %u: start: %s", it, cpu, sidecar_host_strerror(rc));
                break;
            }
            mk_seq_started(&seq[cpu]);
            started++;
            sidecar_host_stop(h, cpu);
        }
        for (uint32_t k = 0; k < started; k++) {
            struct sidecar_host_completion d;
            int rc = sidecar_host_wait_any(h, T_NS, &d);
            if (rc) {
                MK_FAIL(r, "pair %u: %s with %u runs started", it, sidecar_host_strerror(rc), started);
                break;
            }
            if (d.cpu >= SIDECAR_MAX_CPUS || !in_set[d.cpu]) {
                MK_FAIL(r, "a completion for cpu %u, which runs nothing", d.cpu);
                break;
            }
            check(h, &d, r);
        }
        struct sidecar_host_completion d;
        if (r->ok && sidecar_host_wait_any(h, 0, &d) != SIDECAR_HOST_E_NOTHING)
            MK_FAIL(r, "pair %u: an extra completion (cpu %u)", it, d.cpu);
    }
    /* The end: one run without STOP per CPU, then the guest's own count
     * must equal what the host saw. */
    for (uint32_t k = 0; k < acquired && r->ok; k++) {
        uint32_t cpu = cpus[k];
        mk_seq_started(&seq[cpu]);
        const char *why = mk_seqg_completed(h, cpu, sidecar_host_run_vp(h, cpu, T_NS), &seq[cpu]);
        uint64_t g = mk_seqg_data(p, cpu)->seq;
        if (why)
            MK_FAIL(r, "%s", why);
        else if (!mk_seq_consistent(&seq[cpu], g))
            MK_FAIL(r, "cpu %u: guest counted %lu runs, the host saw %lu OUTs, %lu starts, %lu completions", cpu, g,
                 seq[cpu].seen, seq[cpu].starts, seq[cpu].completions);
    }
    for (uint32_t k = 0; k < acquired; k++) {
        sidecar_host_release(h, cpus[k]);
        in_set[cpus[k]] = false;
    }
}

/* ---- the scenario (mk.stop_take; scenarios.def) ---- */

static struct mk_stoptake_result stk;

/* START+STOP pairs on every ready sidecar CPU not converted. */
bool mk_stop_take_run(struct mk_ctx *ctx)
{
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, ctx->cpus);
    mk_stoptake_run(ctx->host, ctx->params, ctx->cpus, n, ctx->opt->stop_take_pairs, &stk);
    mk_out("main: stop_take: %s; %u CPUs x %u START+STOP pairs: %lu completions (%lu stopped, %lu intercepts), "
           "%lu skipped, %lu stale%s%s\n", stk.ok ? "ok" : "FAILED", stk.cpus, stk.pairs, stk.completions,
           stk.stopped, stk.intercepts, stk.skipped, stk.stale, stk.error[0] ? ": " : "", stk.error);
    return stk.ok;
}

void mk_stop_take_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"pairs\":%u,\"completions\":%lu,\"stopped\":%lu,\"intercepts\":%lu,"
           "\"skipped\":%lu,\"stale\":%lu,\"error\":\"%s\"}",
           stk.ok ? "true" : "false", stk.cpus, stk.pairs, stk.completions, stk.stopped, stk.intercepts,
           stk.skipped, stk.stale, stk.error);
}
