/* SPDX-License-Identifier: MIT */
/* Interrupts on exception vectors (vectors.h). */

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "vectors.h"
#include "vp.h"

extern const uint8_t mk_guest_start[], mk_guest_loop[];

#define TIMEOUT_NS 10000000000ull       /* a bound against a hang, per command */
#define RUNNING_TIMEOUT_US 30000000ull  /* a started loop shows it runs (TCG under load is slow) */
#define STACK_BYTES 64u                 /* as vp.c: per CPU, at the top of guest RAM */

/* Every exception vector but 0 (QEMU's APIC never delivers vector 0, see
 * docs/robustness.md): first the ones whose exceptions push an error code
 * (17 first: the one that took the whole VM down), then the rest. */
static const uint8_t vectors[] = { 17, 8, 10, 11, 12, 13, 14, 21, 29, 30, 2, 19, 1, 3, 4, 5, 6, 7, 9, 15, 16,
                                   18, 20, 22, 23, 24, 25, 26, 27, 28, 31 };


static uint64_t now_us(uint64_t khz)
{
    uint64_t t = mk_rdtsc();
    return t / khz * 1000 + t % khz * 1000 / khz;
}

static volatile uint64_t *counter_of(const struct sidecar_params *p, uint32_t cpu)
{
    return (volatile uint64_t *)(uintptr_t)(p->guest_ram_base + p->guest_ram_size - STACK_BYTES * (uint64_t)(cpu + 1));
}

static int set_reg(struct sidecar_host *h, uint32_t cpu, uint32_t name, uint64_t low)
{
    struct sidecar_hv_register_assoc a;
    sc_memset(&a, 0, sizeof(a));
    a.name = name;
    a.value.low = low;
    struct sidecar_host_hv_error e = { 0, 0 };
    return sidecar_host_set_registers(h, cpu, 0, &a, 1, TIMEOUT_NS, &e);
}

/* Waits (bounded) until the guest loop's counter differs from before. */
static bool loop_moves(const struct sidecar_params *p, uint32_t cpu, uint64_t before, uint64_t khz)
{
    uint64_t t0 = now_us(khz);
    while (*counter_of(p, cpu) == before && now_us(khz) - t0 < RUNNING_TIMEOUT_US)
        mk_pause();
    return *counter_of(p, cpu) != before;
}

/* Starts the endless loop on cpu (acquired) and waits until it runs. */
static bool start_loop(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu, uint64_t khz,
                       struct mk_vectors_result *r)
{
    *counter_of(p, cpu) = 0;
    int rc = set_reg(h, cpu, SIDECAR_HV_REGISTER_NAME_RIP,
                     p->guest_ram_base + (uint64_t)(mk_guest_loop - mk_guest_start));
    if (!rc)
        rc = set_reg(h, cpu, SIDECAR_HV_REGISTER_NAME_RSP, (uint64_t)(uintptr_t)counter_of(p, cpu));
    if (!rc)
        rc = sidecar_host_run_vp_start(h, cpu);
    if (rc)
        return MK_FAIL(r, "cpu %u: starting the guest loop: %s", cpu, sidecar_host_strerror(rc));
    if (!loop_moves(p, cpu, 0, khz))
        return MK_FAIL(r, "cpu %u: the guest loop never ran", cpu);
    return true;
}

/* Pings twice: an IPI still pending behind the first ping's request IPI
 * is taken when the CPU parks again, before the second. */
static int ping2(struct sidecar_host *h, uint32_t cpu)
{
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++)
        rc = sidecar_host_ping(h, cpu, TIMEOUT_NS);
    return rc;
}

static bool ping_failed(struct sidecar_host *h, uint32_t cpu, int rc, const char *when,
                        struct mk_vectors_result *r)
{
    char text[64] = "";
    sidecar_host_error_text(h, cpu, text, sizeof(text));
    return MK_FAIL(r, "cpu %u: ping %s: %s (status %d) %s", cpu, when, sidecar_host_strerror(rc),
                sidecar_host_cpu_status(h, cpu), text);
}

/* Vector v as a fixed IPI (MK_NMI: an NMI), then proof that the CPU took
 * it and carries on: an idle CPU (acquired) answers two pings, a running
 * guest's loop counter moves on. One vector at a time, so that each is
 * taken on its own (sent together, an NMI would overtake them). */
#define MK_NMI 0x100u
static bool one_ipi(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu, uint32_t v,
                    bool guest_running, uint64_t khz, struct mk_vectors_result *r)
{
    uint32_t apic = p->cpus[cpu].apic_id;
    uint64_t before = *counter_of(p, cpu);
    if (v == MK_NMI)
        mk_send_nmi(apic);
    else
        mk_send_ipi(apic, v);
    r->ipis++;
    if (guest_running) {
        /* Taken as an exception, the IPI would end the run (an intercept):
         * the status byte goes back to IDLE and the loop stops. */
        if (!loop_moves(p, cpu, before, khz) || sidecar_host_cpu_status(h, cpu) != SIDECAR_CPU_STATUS_RUN)
            return MK_FAIL(r, "cpu %u: the guest run ended after %s %u (status %d)", cpu,
                        v == MK_NMI ? "an NMI" : "vector", v == MK_NMI ? 0 : v, sidecar_host_cpu_status(h, cpu));
        return true;
    }
    int rc = ping2(h, cpu);
    if (rc) {
        char when[32];
        sc_snprintf(when, sizeof(when), "after %s %u", v == MK_NMI ? "NMI" : "vector", v == MK_NMI ? 0 : v);
        return ping_failed(h, cpu, rc, when, r);
    }
    return true;
}

/* Then, on an idle CPU, NMIs each followed at once by a ping: the NMI
 * often lands as the CPU goes back to sleep after the previous ping,
 * between its STI and HLT, with the ping's request IPI right behind it. */
#define NMI_ROUNDS 50u
static void all_vectors(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu, bool guest_running,
                        uint64_t khz, struct mk_vectors_result *r)
{
    for (uint32_t k = 0; k < sizeof(vectors); k++)
        if (!one_ipi(h, p, cpu, vectors[k], guest_running, khz, r))
            return;
    for (uint32_t k = 0; k < (guest_running ? 1 : NMI_ROUNDS); k++)
        if (!one_ipi(h, p, cpu, MK_NMI, guest_running, khz, r))
            return;
}

void mk_vectors_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                     uint32_t n, uint64_t tsc_khz, struct mk_vectors_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    r->cpus = n;
    if (n < 3) {
        MK_FAIL(r, "needs 3 sidecar CPUs, has %u", n);
        return;
    }
    if (!mk_vp_load_guest(p)) {
        MK_FAIL(r, "no usable guest RAM");
        return;
    }
    /* Group 1: a guest ran, then the CPU is idle again. */
    for (uint32_t k = 1; k < n; k += 3) {
        const char *why = "";
        if (mk_vp_run_and_stop(h, p, cpus[k], tsc_khz, &why))
            MK_FAIL(r, "cpu %u: VP before the IPIs: %s", cpus[k], why);
    }
    /* Group 2: the guest loop runs while the IPIs come. */
    static bool running[SIDECAR_MAX_CPUS];
    for (uint32_t k = 2; k < n; k += 3) {
        int rc = sidecar_host_acquire(h, cpus[k]);
        if (rc) {
            MK_FAIL(r, "cpu %u: acquire: %s", cpus[k], sidecar_host_strerror(rc));
            continue;
        }
        running[k] = start_loop(h, p, cpus[k], tsc_khz, r);
        if (!running[k])
            sidecar_host_release(h, cpus[k]);
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t c = cpus[k];
        r->idle += k % 3 == 0;
        r->ran += k % 3 == 1;
        r->running += k % 3 == 2;
        if (k % 3 == 2) {
            if (running[k])
                all_vectors(h, p, c, true, tsc_khz, r);
            continue;
        }
        int rc = sidecar_host_acquire(h, c);
        if (rc) {
            MK_FAIL(r, "cpu %u: acquire: %s", c, sidecar_host_strerror(rc));
            continue;
        }
        all_vectors(h, p, c, false, tsc_khz, r);
        sidecar_host_release(h, c);
    }
    /* The running guests run on, and a STOP ends them STOPPED. */
    for (uint32_t k = 2; k < n; k += 3) {
        if (!running[k])
            continue;
        uint32_t c = cpus[k];
        bool moved = loop_moves(p, c, *counter_of(p, c), tsc_khz);
        sidecar_host_stop(h, c);
        int rc = sidecar_host_wait(h, c, TIMEOUT_NS);
        if (rc == SIDECAR_HOST_RUN_STOPPED && moved) {
            r->stopped++;
        } else if (rc == SIDECAR_HOST_RUN_INTERCEPT) {
            struct sidecar_hv_x64_exception_intercept_message ex;
            uint32_t type = 0;
            sidecar_host_intercept_type(h, c, &type);
            if (!sidecar_host_intercept_exception(h, c, &ex))
                MK_FAIL(r, "cpu %u: the running guest took exception %u (the IPI as an exception)", c,
                     ex.exception_vector);
            else
                MK_FAIL(r, "cpu %u: the running guest ended in intercept %x", c, type);
        } else {
            MK_FAIL(r, "cpu %u: the running guest %s, run ended with %d", c, moved ? "ran on" : "stopped running", rc);
        }
        sidecar_host_release(h, c);
    }
    /* Every target answers and runs a VP. */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t c = cpus[k];
        int rc = sidecar_host_acquire(h, c);
        if (rc) {
            MK_FAIL(r, "cpu %u: acquire after the IPIs: %s", c, sidecar_host_strerror(rc));
            continue;
        }
        rc = ping2(h, c);
        sidecar_host_release(h, c);
        if (rc) {
            ping_failed(h, c, rc, "after the IPIs", r);
            continue;
        }
        r->answered++;
        const char *why = "";
        if (mk_vp_run_and_stop(h, p, c, tsc_khz, &why))
            MK_FAIL(r, "cpu %u: VP after the IPIs: %s", c, why);
        else
            r->vp_ok++;
    }
    if (r->answered != n || r->vp_ok != n || r->stopped != r->running)
        MK_FAIL(r, "%u/%u answered, %u ran a VP, %u/%u running guests stopped", r->answered, n, r->vp_ok,
             r->stopped, r->running);
}

/* ---- the scenario (mk.vectors; scenarios.def) ---- */

static struct mk_vectors_result vr;

/* Interrupts on exception vectors (first: some targets must never have run a guest). */
bool mk_vectors_run(struct mk_ctx *ctx)
{
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, ctx->cpus);
    mk_vectors_test(ctx->host, ctx->params, ctx->cpus, n, ctx->tsc_khz, &vr);
    mk_out("main: vectors: %s; %u IPIs to %u CPUs (%u idle, %u after a guest, %u running one), %u answered, "
           "%u ran a VP, %u running guests stopped%s%s\n", vr.ok ? "ok" : "FAILED", vr.ipis, vr.cpus, vr.idle,
           vr.ran, vr.running, vr.answered, vr.vp_ok, vr.stopped, vr.error[0] ? ": " : "", vr.error);
    return vr.ok;
}

void mk_vectors_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"idle\":%u,\"ran\":%u,\"running\":%u,\"ipis\":%u,"
           "\"answered\":%u,\"vp_ok\":%u,\"stopped\":%u,\"error\":\"%s\"}",
           vr.ok ? "true" : "false", vr.cpus, vr.idle, vr.ran, vr.running, vr.ipis, vr.answered, vr.vp_ok,
           vr.stopped, vr.error);
}
