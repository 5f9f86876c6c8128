/* The bare-metal main kernel: what runs on the BSP after the shim. It
 * validates the hand-off block and the kernel's output, prints the bring-up
 * report (a table, then one JSON line prefixed "SIDECAR-REPORT "), pings
 * every sidecar CPU through libsidecar-host's baremetal transport, and
 * exits QEMU through isa-debug-exit: success when every sidecar CPU the
 * shim planned is IDLE and answered. */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/validate.h>

#include "arch/x86_64/platform.h"
#include "ping.h"

void mk_main(uint64_t handoff_pa);

static char line[512];

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mk_write(line, n);
}

static __attribute__((noreturn)) void fatal(const char *what, const char *msg)
{
    out("main: FAIL: %s: %s\n", what, msg);
    out("SIDECAR-REPORT {\"ok\":false,\"error\":\"%s: %s\"}\n", what, msg);
    mk_exit(MK_EXIT_FAILURE);
}

static const char *failure_name(uint8_t f)
{
    const char *n = sidecar_cpu_failure_name(f);
    return n ? n : "unknown";
}

/* The JSON report is long (one entry per failed CPU); it is written in
 * pieces, never buffered whole. */
void mk_main(uint64_t handoff_pa)
{
    mk_platform_init();
    out("main: bare-metal main kernel, hand-off at %lx\n", handoff_pa);
    const struct sidecar_handoff *h = (const void *)(uintptr_t)handoff_pa;
    struct sidecar_abi_error err;
    if (!handoff_pa || sidecar_handoff_validate(h, &err) != SIDECAR_ABI_OK)
        fatal("handoff", handoff_pa ? err.message : "null address");
    char reason[SIDECAR_ERROR_TEXT_SIZE + 1];
    sc_memcpy(reason, h->disabled_reason.buf, h->disabled_reason.len);
    reason[h->disabled_reason.len] = '\0';
    out("main: command line \"%s\"\n", (const char *)h->cmdline);
    if (!h->sidecar_enabled) {
        out("main: sidecar disabled: %s\n", reason);
        out("SIDECAR-REPORT {\"ok\":true,\"sidecar\":false,\"reason\":\"%s\",\"cpus\":0,\"ready\":0,\"failed\":[],\"ping_ok\":false}\n",
            reason);
        mk_exit(MK_EXIT_SUCCESS);
    }
    const struct sidecar_params *p = (const void *)(uintptr_t)h->params_pa;
    const struct sidecar_output *o = (const void *)(uintptr_t)h->output_pa;
    if (sidecar_params_validate(p, &err) != SIDECAR_ABI_OK)
        fatal("params", err.message);
    if (sidecar_output_validate(o, &err) != SIDECAR_ABI_OK)
        fatal("output", err.message);
    if (o->status != 0 || o->cpu_count != p->cpu_count || o->node_count != p->node_count)
        fatal("output", "does not match params");
    mk_set_x2apic(o->apic_mode == SIDECAR_APIC_MODE_X2APIC);

    uint64_t khz = o->tsc_khz ? o->tsc_khz : 1;
    uint32_t main_cpus = 0, sidecars = 0, max_round = 0;
    out("main: %u CPUs, %u sidecar nodes, %s, TSC %lu kHz\n", p->cpu_count, p->node_count,
        o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic", o->tsc_khz);
    out("main:  cpu  apic  node  round  from   status   ready_us  failure\n");
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR) {
            main_cpus++;
            out("main: %4u %5u     -      -     -     main         -  -\n", c, oc->apic_id);
            continue;
        }
        sidecars++;
        if (oc->round > max_round)
            max_round = oc->round;
        const char *st = sidecar_cpu_status_name(oc->status);
        out("main: %4u %5u %5u %6u %5d %8s %9lu  %s\n", c, oc->apic_id, oc->node, oc->round,
            oc->started_by == SIDECAR_NO_CPU ? -1 : (int)oc->started_by, st ? st : "?",
            oc->ready_tsc * 1000 / khz, oc->failure ? failure_name(oc->failure) : "-");
    }

    struct mk_ping_result ping = mk_ping_all(p, o);
    if (!ping.ok)
        out("main: ping of cpu %u failed: %s (status byte now %d)\n", ping.first_failed_cpu, ping.error,
            ping.first_failed_status);
    uint64_t bringup_us = o->bringup_tsc * 1000 / khz;
    out("main: bring-up %lu us, %u/%u sidecar CPUs ready, %u rounds; ping: %s (%u/%u answered)\n",
        bringup_us, o->ready_count, sidecars, max_round, ping.ok ? "ok" : ping.error,
        ping.answered, ping.asked);

    out("SIDECAR-REPORT {\"ok\":%s,\"sidecar\":true,\"cpus\":%u,\"main_cpus\":%u,\"sidecar_cpus\":%u,",
        (o->ready_count == sidecars && ping.ok) ? "true" : "false", p->cpu_count, main_cpus, sidecars);
    out("\"apic_mode\":\"%s\",\"tsc_khz\":%lu,\"bringup_us\":%lu,\"bringup_tsc\":%lu,\"rounds\":%u,\"pages_per_cpu\":%u,",
        o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic", o->tsc_khz, bringup_us,
        o->bringup_tsc, max_round, o->pages_per_cpu);
    out("\"nodes\":[");
    for (uint32_t n = 0; n < p->node_count; n++)
        out("%s{\"index\":%u,\"base_cpu\":%u,\"cpu_count\":%u}", n ? "," : "", n,
            p->nodes[n].base_cpu, p->nodes[n].cpu_count);
    out("],\"ready\":%u,\"failed\":[", o->ready_count);
    bool first = true;
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR || oc->status == SIDECAR_CPU_STATUS_IDLE)
            continue;
        out("%s{\"cpu\":%u,\"apic_id\":%u,\"reason\":\"%s\",\"vector\":%u}", first ? "" : ",", c,
            oc->apic_id, failure_name(oc->failure), oc->vector);
        first = false;
    }
    out("],\"ping_ok\":%s,\"ping_answered\":%u,\"ping_error\":\"%s\"}\n", ping.ok ? "true" : "false",
        ping.answered, ping.ok ? "" : ping.error);
    mk_exit(MK_EXIT_SUCCESS);
}
