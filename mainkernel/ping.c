/* SPDX-License-Identifier: MIT */
/* Pinging every ready sidecar CPU with the NONE command, through
 * libsidecar-host's bare-metal transport (identity-mapped memory, IPIs
 * from this CPU's local APIC, the TSC as clock). */
#include <sidecar/host.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"

static uint64_t tsc_khz = 1;
static const struct sidecar_params *opened_params;
static const struct sidecar_output *opened_output;
static struct sidecar_host host;

static void *map(void *ctx, uint64_t pa, uint64_t size)
{
    (void)ctx;
    if (size > (1ull << 32) || pa >= (1ull << 32) - size)
        return 0;   /* the shim identity-maps 4 GiB */
    return (void *)(uintptr_t)pa;
}

static void send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    (void)ctx;
    mk_send_ipi(apic_id, vector);
}

static uint64_t now_ns(void *ctx)
{
    (void)ctx;
    uint64_t t = mk_rdtsc();
    return t / tsc_khz * 1000000 + t % tsc_khz * 1000000 / tsc_khz;
}

static void relax(void *ctx)
{
    (void)ctx;
    mk_pause();
}

int mk_host_open(const struct sidecar_params *p, const struct sidecar_output *o)
{
    tsc_khz = o->tsc_khz ? o->tsc_khz : 1;
    opened_params = p;
    opened_output = o;
    const struct sidecar_host_transport t = { .map = map, .send_ipi = send_ipi, .now_ns = now_ns, .relax = relax };
    return sidecar_host_open_baremetal(&host, &t, p, o);
}

struct sidecar_host *mk_host(void) { return &host; }

int mk_host_open_other(struct sidecar_host *h)
{
    const struct sidecar_host_transport t = { .map = map, .send_ipi = send_ipi, .now_ns = now_ns, .relax = relax };
    if (!opened_params)
        return SIDECAR_HOST_E_INVALID;
    return sidecar_host_open_baremetal(h, &t, opened_params, opened_output);
}

struct mk_ping_result mk_ping_all(const struct sidecar_params *p, const struct sidecar_output *o,
                                  const bool *skip)
{
    struct mk_ping_result r = { true, 0, 0, "", SIDECAR_NO_CPU, 0 };
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        if (o->cpus[c].status != SIDECAR_CPU_STATUS_IDLE || (skip && skip[c]))
            continue;
        r.asked++;
        int rc = sidecar_host_acquire(&host, c);
        if (!rc) {
            rc = sidecar_host_ping(&host, c, 5000000000ull);
            sidecar_host_release(&host, c);
        }
        if (rc) {
            if (r.ok) {
                r.first_failed_cpu = c;
                r.first_failed_status = sidecar_host_cpu_status(&host, c);
            }
            r.ok = false;
            r.error = sidecar_host_strerror(rc);
        } else {
            r.answered++;
        }
    }
    return r;
}

bool mk_ping_rest(const struct sidecar_params *p, const struct sidecar_output *o, const bool *skip,
                  const char *when)
{
    struct mk_ping_result r = mk_ping_all(p, o, skip);
    mk_out("main: ping %s: %s (%u/%u answered)\n", when, r.ok ? "ok" : r.error, r.answered, r.asked);
    return r.ok;
}

uint32_t mk_ready_cpus(const struct sidecar_params *p, const struct sidecar_output *o, const bool *skip,
                       uint32_t *to)
{
    uint32_t n = 0;
    for (uint32_t c = 0; c < p->cpu_count; c++)
        if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE &&
            !(skip && skip[c]))
            to[n++] = c;
    return n;
}

#define MAX_SAMPLES 4096u
static uint64_t samples[MAX_SAMPLES];

struct mk_stats mk_ping_roundtrip(const struct sidecar_params *p, const struct sidecar_output *o,
                                      uint32_t rounds)
{
    struct mk_stats r = { 0, 0, 0, 0 };
    for (uint32_t k = 0; k < rounds; k++) {
        for (uint32_t c = 0; c < p->cpu_count && r.samples < MAX_SAMPLES; c++) {
            if (o->cpus[c].status != SIDECAR_CPU_STATUS_IDLE || sidecar_host_acquire(&host, c))
                continue;
            uint64_t t0 = mk_rdtsc();
            int rc = sidecar_host_ping(&host, c, 5000000000ull);
            uint64_t t1 = mk_rdtsc();
            sidecar_host_release(&host, c);
            if (!rc)
                samples[r.samples++] = t1 - t0;
        }
    }
    return mk_stats_of(samples, r.samples);
}
