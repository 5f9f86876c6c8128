/* INIT right after REMOVED while other CPUs log (hotinit.h). */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "hotinit.h"

#define TIMEOUT_NS 10000000000ull   /* a bound against a hang, per command */
#define STEP_US 4u                  /* the sweep: target j waits (j % 64) * STEP_US after REMOVED */
#define SWEEP 64u
#define FINAL_VECTOR 3u             /* the bystanders' last log line (not among the sweep's 16-31) */

static bool fail(struct mk_hotinit_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct mk_hotinit_result *r, const char *fmt, ...)
{
    if (!r->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        sc_vsnprintf(r->error, sizeof(r->error), fmt, ap);
        va_end(ap);
    }
    r->ok = false;
    return false;
}

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
        fail(r, "needs 2 sidecar CPUs, has %u", n);
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
            fail(r, "cpu %u: remove: %s", c, sidecar_host_strerror(rc));
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
            fail(r, "bystander cpu %u: ping after the INITs: %s (status %d)", c, sidecar_host_strerror(rc),
                 sidecar_host_cpu_status(h, c));
        else
            r->answered++;
    }
    if (r->inited != r->targets || r->answered != nb)
        fail(r, "%u/%u targets INITed, %u/%u bystanders answered", r->inited, r->targets, r->answered, nb);
}
