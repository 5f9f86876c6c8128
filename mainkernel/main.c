/* The bare-metal main kernel: what runs on the BSP after the shim. It
 * validates the hand-off block and the kernel's output, prints the bring-up
 * report (a table, then one JSON line prefixed "SIDECAR-REPORT "), pings
 * every sidecar CPU through libsidecar-host's bare-metal transport, runs
 * what its options ask (options.h: converting CPUs, the memory canary
 * check), and exits QEMU through isa-debug-exit. "ok" in the report is
 * true when every sidecar CPU the shim planned came up and answered and
 * every requested step worked. */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/validate.h>

#include "arch/x86_64/platform.h"
#include "canary.h"
#include "compute.h"
#include "faults.h"
#include "hostile.h"
#include "rtbench.h"
#include "soak.h"
#include "convert.h"
#include "options.h"
#include "ping.h"
#include "cpureport.h"
#include "hotinit.h"
#include "vectors.h"
#include "vp.h"

void mk_main(uint64_t handoff_pa);

static char line[512];
static struct sidecar_handoff handoff __attribute__((aligned(4096)));
static struct mk_options opt;
static bool converted[SIDECAR_MAX_CPUS];
static struct mk_conversion conv[SIDECAR_MAX_CPUS];
static uint32_t conv_count;

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

static const char *name_or(const char *n, const char *fallback) { return n ? n : fallback; }

/* Converts one batch and records it. */
static void convert(const struct mk_convert_env *env, const uint32_t *cpus, uint32_t n, const char *what)
{
    if (conv_count + n > SIDECAR_MAX_CPUS)
        n = SIDECAR_MAX_CPUS - conv_count;
    struct mk_conversion *c = &conv[conv_count];
    uint64_t t0 = mk_rdtsc();
    uint32_t good = mk_convert_batch(env, cpus, n, c);
    uint64_t us = (mk_rdtsc() - t0) * 1000 / env->tsc_khz;
    for (uint32_t k = 0; k < n; k++) {
        if (c[k].cpu < SIDECAR_MAX_CPUS && !c[k].remove_rc)
            converted[c[k].cpu] = true;
        out("main: convert cpu %u (apic %u): %s%s", c[k].cpu, c[k].apic_id,
            c[k].error[0] ? "FAILED: " : "ok", c[k].error);
        if (c[k].online)
            out(", now a main-kernel CPU reporting APIC ID %u", c[k].reported_apic_id);
        out("\n");
    }
    conv_count += n;
    out("main: %s: %u/%u CPUs converted and working, %lu us\n", what, good, n, us);
}

/* The sidecar CPUs that reached IDLE at boot, ascending, into list. */
static uint32_t cpu_list[SIDECAR_MAX_CPUS];
static uint32_t ready_sidecars(const struct sidecar_params *p, const struct sidecar_output *o, uint32_t *to)
{
    uint32_t n = 0;
    for (uint32_t c = 0; c < p->cpu_count; c++)
        if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE)
            to[n++] = c;
    return n;
}

/* The other sidecar CPUs still serve commands. */
static bool ping_rest(const struct sidecar_params *p, const struct sidecar_output *o, const char *when)
{
    struct mk_ping_result r = mk_ping_all(p, o, converted);
    out("main: ping %s: %s (%u/%u answered)\n", when, r.ok ? "ok" : r.error, r.answered, r.asked);
    return r.ok;
}

void mk_main(uint64_t handoff_pa)
{
    mk_platform_init();
    out("main: bare-metal main kernel, hand-off at %lx\n", handoff_pa);
    struct sidecar_abi_error err;
    if (!handoff_pa || sidecar_handoff_validate((const void *)(uintptr_t)handoff_pa, &err) != SIDECAR_ABI_OK)
        fatal("handoff", handoff_pa ? err.message : "null address");
    /* Ours from now on: the shim's memory is usable RAM to us. */
    sc_memcpy(&handoff, (const void *)(uintptr_t)handoff_pa, sizeof(handoff));
    const struct sidecar_handoff *h = &handoff;
    char reason[SIDECAR_ERROR_TEXT_SIZE + 1];
    sc_memcpy(reason, h->disabled_reason.buf, h->disabled_reason.len);
    reason[h->disabled_reason.len] = '\0';
    out("main: command line \"%s\"\n", (const char *)h->cmdline);
    char oerr[96];
    if (!mk_options_parse((const char *)h->cmdline, &opt, oerr, sizeof(oerr)))
        fatal("command line", oerr);
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
    mk_ap_set_mwait(o->use_mwait);

    uint64_t khz = o->tsc_khz ? o->tsc_khz : 1;
    uint32_t main_cpus = 0, sidecars = 0, max_round = 0;
    out("main: %u CPUs, %u sidecar nodes, %s, park with %s, TSC %lu kHz, guest CPUID %s\n", p->cpu_count,
        p->node_count, o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic",
        o->use_mwait ? "mwait" : "hlt", o->tsc_khz,
        o->cpuid_faulting ? "intercepted (CPUID faulting)" : "native (no CPUID faulting)");
    out("main:  cpu  apic  numa  node  round  from   status   start_us   ready_us  why / failure\n");
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        const char *why = name_or(sidecar_cpu_reason_name(p->cpus[c].reason), "?");
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR) {
            main_cpus++;
            out("main: %4u %5u %5u     -      -     -     main          -          -  %s\n", c, oc->apic_id,
                p->cpus[c].numa_node, why);
            continue;
        }
        sidecars++;
        if (oc->round > max_round)
            max_round = oc->round;
        out("main: %4u %5u %5u %5u %6u %5d %8s %10lu %10lu  %s\n", c, oc->apic_id, p->cpus[c].numa_node,
            oc->node, oc->round, oc->started_by == SIDECAR_NO_CPU ? -1 : (int)oc->started_by,
            name_or(sidecar_cpu_status_name(oc->status), "?"), oc->start_tsc * 1000 / khz,
            oc->ready_tsc * 1000 / khz,
            oc->failure ? name_or(sidecar_cpu_failure_name(oc->failure), "unknown") : why);
    }

    int hrc = mk_host_open(p, o);
    struct mk_ping_result ping = { false, 0, 0, sidecar_host_strerror(hrc), SIDECAR_NO_CPU, 0 };
    if (!hrc)
        ping = mk_ping_all(p, o, 0);
    if (!ping.ok && ping.first_failed_cpu != SIDECAR_NO_CPU)
        out("main: ping of cpu %u failed: %s (status byte now %d)\n", ping.first_failed_cpu, ping.error,
            ping.first_failed_status);
    out("main: caching: %u sidecar CPUs arrived with CR0.CD/NW set and enabled it, %u still have it off\n",
        o->cache_off_at_entry, o->cache_still_off);
    uint64_t bringup_us = o->bringup_tsc * 1000 / khz;
    out("main: bring-up %lu us, %u/%u sidecar CPUs ready, %u rounds; ping: %s (%u/%u answered)\n",
        bringup_us, o->ready_count, sidecars, max_round, ping.ok ? "ok" : ping.error,
        ping.answered, ping.asked);
    bool ok = o->ready_count == sidecars && ping.ok;
    /* Command round trips: 8 pings of every ready CPU. */
    struct mk_stats rt = { 0, 0, 0, 0 };
    if (!hrc && ping.ok) {
        rt = mk_ping_roundtrip(p, o, 8);
        out("main: NONE round trip over %u pings: median %lu ns, p99 %lu ns, min %lu ns\n", rt.samples,
            rt.median * 1000000 / khz, rt.p99 * 1000000 / khz, rt.min * 1000000 / khz);
    }

    /* Which CPUs left and why; the others must work. */
    static struct mk_cpureport_result crr;
    if (opt.cpu_report && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        mk_cpureport(mk_host(), p, cpu_list, n, khz, &crr);
        for (uint32_t k = 0; k < crr.removed_count && k < MK_CPUREPORT_MAX; k++)
            out("main: cpu %u left the sidecar: %s\n", crr.removed[k].cpu, crr.removed[k].error);
        out("main: cpu report: %s; %u removed, %u/%u others answered and ran a VP%s%s\n", crr.ok ? "ok" : "FAILED",
            crr.removed_count, crr.others_ok, crr.others, crr.error[0] ? ": " : "", crr.error);
    }

    /* Interrupts on exception vectors (first: some targets must never have run a guest). */
    static struct mk_vectors_result vr;
    if (opt.vectors && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        mk_vectors_test(mk_host(), p, cpu_list, n, khz, &vr);
        out("main: vectors: %s; %u IPIs to %u CPUs (%u idle, %u after a guest, %u running one), %u answered, "
            "%u ran a VP, %u running guests stopped%s%s\n", vr.ok ? "ok" : "FAILED", vr.ipis, vr.cpus, vr.idle,
            vr.ran, vr.running, vr.answered, vr.vp_ok, vr.stopped, vr.error[0] ? ": " : "", vr.error);
        ok = ok && vr.ok;
    }

    /* INIT right after REMOVED while others log (last among the early steps: it takes CPUs away). */
    static struct mk_hotinit_result hir;
    if (opt.hot_init && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        mk_hotinit_test(mk_host(), p, cpu_list, n, khz, &hir);
        out("main: hot INIT: %s; %u/%u targets REMOVEd and INITed (0-%u us after REMOVED), %u/%u bystanders "
            "answered%s%s\n", hir.ok ? "ok" : "FAILED", hir.inited, hir.targets, hir.max_delay_us, hir.answered,
            hir.bystanders, hir.error[0] ? ": " : "", hir.error);
        for (uint32_t k = hir.bystanders; k < n; k++)
            converted[cpu_list[k]] = true;   /* gone from the sidecar: no more pings */
        ok = ok && hir.ok;
    }

    /* The canary check, then the sidecar still answers. */
    struct mk_canary_result canary = { true, 0, 0, 0, 0, 0 };
    bool after_canary = true;
    if (opt.canary && !hrc) {
        canary = mk_canary_check(h, mk_image_start(), mk_image_end(),
                                 opt.touch_sidecar ? p->trampoline_page + SIDECAR_PAGE_SIZE - 8 : 0);
        out("main: canary: %s; %lu bytes of sidecar memory in %u ranges unchanged after filling %lu bytes\n",
            canary.ok ? "ok" : "FAILED", canary.ok ? canary.sidecar_bytes : 0, canary.ranges,
            canary.filled_bytes);
        if (!canary.ok)
            out("main: canary: sidecar memory range at %lx changed\n", canary.bad_base);
        after_canary = ping_rest(p, o, "after the canary fill");
        ok = ok && canary.ok && after_canary;
    }

    /* The VP test on every sidecar CPU that came up. */
    static struct mk_vp_result vpr;
    uint64_t vp_us = 0;
    if (opt.vp_test && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        uint64_t t0 = mk_rdtsc();
        mk_vp_test(mk_host(), p, cpu_list, n, khz, o->cpuid_faulting, &vpr);
        vp_us = (mk_rdtsc() - t0) * 1000 / khz;
        out("main: vp test: %s; %u/%u CPUs passed, %u intercepts, %u stops, CPUID %s (leaf 0 EAX %u), %lu us%s%s\n",
            vpr.ok ? "ok" : "FAILED", vpr.passed, vpr.cpus, vpr.intercepts, vpr.stops,
            vpr.cpuid_intercept ? "intercepted" : "native", vpr.cpuid_max_leaf,
            vp_us, vpr.error[0] ? ": " : "", vpr.error);
        ok = ok && vpr.ok;
    }

    /* The hostile guest suite on every sidecar CPU at once. */
    static struct mk_hostile_result hr;
    if (opt.vp_hostile && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        uint64_t t0 = mk_rdtsc();
        mk_hostile_all(mk_host(), p, cpu_list, n, o->cpuid_faulting, &hr);
        out("main: hostile guests on %u VPs at once: %s; %u/%u CPUs held all %u cases, %u runs, %lu us%s%s\n",
            hr.cpus, hr.ok ? "ok" : "FAILED", hr.passed, hr.cpus, hr.cases, hr.runs,
            (mk_rdtsc() - t0) * 1000 / khz, hr.error[0] ? ": " : "", hr.error);
        ok = ok && hr.ok;
    }

    /* The computation on every sidecar CPU at once. */
    static struct mk_compute_result cr;
    if (opt.vp_compute && !hrc) {
        uint32_t n = ready_sidecars(p, o, cpu_list);
        mk_compute_all(mk_host(), p, cpu_list, n, khz, &cr);
        out("main: compute on %u VPs at once: %s; %u right, %u intercepts, %lu us%s%s\n", cr.cpus,
            cr.ok ? "ok" : "FAILED", cr.passed, cr.intercepts, cr.us, cr.error[0] ? ": " : "", cr.error);
        ok = ok && cr.ok;
    }

    /* Conversions. */
    bool want_convert = opt.convert.count || opt.convert_node != MK_NO_NODE || opt.convert_running.count ||
                        opt.convert_one_per_node;
    bool running_ok = true;
    uint32_t running_stopped = 0;
    bool convert_ok = true, again_ok = true, ping_after = true, work_again = true;
    uint32_t work_count = 0;
    if (want_convert && !hrc) {
        struct mk_convert_env env = { mk_host(), p, mk_low_page(h), khz };
        if (!env.trampoline_pa || !mk_ap_install(env.trampoline_pa))
            fatal("convert", "no usable page below 640 KiB for the AP trampoline");
        out("main: AP trampoline at %lx\n", env.trampoline_pa);
        if (opt.convert_running.count) {
            /* A CPU that is running a VP: STOP the run, then REMOVE. */
            if (!mk_vp_load_guest(p))
                fatal("mk.convert_running", "no usable guest RAM");
            for (uint32_t k = 0; k < opt.convert_running.count; k++) {
                const char *why = "";
                uint32_t c = opt.convert_running.cpu[k];
                int rc = mk_vp_run_and_stop(mk_host(), p, c, khz, &why);
                out("main: cpu %u ran a VP and was stopped: %s%s%s\n", c, rc ? "FAILED" : "ok",
                    rc ? ": " : "", why);
                running_stopped += !rc;
            }
            running_ok = running_stopped == opt.convert_running.count;
            convert(&env, opt.convert_running.cpu, opt.convert_running.count, "mk.convert_running");
        }
        if (opt.convert.count)
            convert(&env, opt.convert.cpu, opt.convert.count, "mk.convert");
        if (opt.convert_node != MK_NO_NODE) {
            static uint32_t list[SIDECAR_MAX_NODE_CPUS];
            uint32_t n = 0;
            if (opt.convert_node >= p->node_count)
                fatal("mk.convert_node", "no such sidecar node");
            const struct sidecar_params_node *nd = &p->nodes[opt.convert_node];
            for (uint32_t c = nd->base_cpu; c < nd->base_cpu + nd->cpu_count; c++)
                if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && !converted[c])
                    list[n++] = c;
            convert(&env, list, n, "mk.convert_node");
        }
        if (opt.convert_one_per_node) {
            static uint32_t list[SIDECAR_MAX_NODES];
            uint32_t n = 0;
            for (uint32_t k = 0; k < p->node_count; k++) {
                const struct sidecar_params_node *nd = &p->nodes[k];
                for (uint32_t c = nd->base_cpu + nd->cpu_count; c-- > nd->base_cpu;) {
                    if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && !converted[c] &&
                        o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE) {
                        list[n++] = c;
                        break;
                    }
                }
            }
            convert(&env, list, n, "mk.convert_one_per_node");
        }
        for (uint32_t k = 0; k < conv_count; k++)
            convert_ok = convert_ok && conv[k].work_ok;
        ping_after = ping_rest(p, o, "of the CPUs not converted");
        work_again = mk_converted_work_all(&env, &work_count);
        out("main: all %u converted CPUs ran more work: %s\n", work_count, work_again ? "ok" : "FAILED");
        if (opt.convert_again && conv_count) {
            uint32_t c = conv[0].cpu;
            int rc = sidecar_host_acquire(mk_host(), c);
            if (!rc) {
                rc = sidecar_host_remove(mk_host(), c, 2000000000ull);
                sidecar_host_release(mk_host(), c);
            }
            again_ok = rc == SIDECAR_HOST_E_REMOVED;
            out("main: converting cpu %u again: %s (%s)\n", c, sidecar_host_strerror(rc),
                again_ok ? "refused, as it must be" : "WRONG");
        }
        ok = ok && convert_ok && ping_after && work_again && again_ok && running_ok;
    }

    /* The round-trip bench on the last ready sidecar CPU not converted. */
    static struct mk_rtbench_result rb;
    if (opt.bench_roundtrip && !hrc) {
        uint32_t cpu = SIDECAR_NO_CPU;
        for (uint32_t c = p->cpu_count; c-- > 0 && cpu == SIDECAR_NO_CPU;)
            if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE &&
                !converted[c])
                cpu = c;
        struct mk_convert_env env = { mk_host(), p, mk_low_page(h), khz };
        if (cpu == SIDECAR_NO_CPU || !env.trampoline_pa || !mk_ap_install(env.trampoline_pa)) {
            rb.ok = false;
            sc_snprintf(rb.error, sizeof(rb.error), "no CPU or no trampoline page for the bench");
        } else {
            mk_rtbench(&env, cpu, 2000, &rb);
            if (rb.ok)
                converted[cpu] = true;
        }
        out("main: round trips on cpu %u (%u each, ns): RUN_VP median %lu p99 %lu; NONE median %lu p99 %lu; "
            "bare IPI median %lu p99 %lu%s%s\n", rb.cpu, rb.run_vp.samples, rb.run_vp.median * 1000000 / khz,
            rb.run_vp.p99 * 1000000 / khz, rb.none.median * 1000000 / khz, rb.none.p99 * 1000000 / khz,
            rb.ipi.median * 1000000 / khz, rb.ipi.p99 * 1000000 / khz, rb.ok ? "" : ": ", rb.error);
        ok = ok && rb.ok;
    }

    /* The soak on every ready sidecar CPU that was not converted. */
    static struct mk_soak_result sr;
    if (opt.soak && !hrc) {
        uint32_t n = 0;
        for (uint32_t c = 0; c < p->cpu_count; c++)
            if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR && o->cpus[c].status == SIDECAR_CPU_STATUS_IDLE &&
                !converted[c])
                cpu_list[n++] = c;
        out("main: soak: %u CPUs x %u commands\n", n, opt.soak_commands);
        mk_soak(mk_host(), p, cpu_list, n, opt.soak_commands, khz, &sr);
        out("main: soak: %s; %lu commands in %lu us: %lu/s (per CPU min %lu, median %lu, max %lu); "
            "%lu intercepts, %lu stopped, %lu STOPs; lost %lu, duplicated %lu%s%s\n",
            sr.ok ? "ok" : "FAILED", sr.commands, sr.us, sr.per_s, sr.cpu_per_s[0], sr.cpu_per_s[1],
            sr.cpu_per_s[2], sr.intercepts, sr.stopped, sr.stops, sr.lost, sr.duplicated,
            sr.error[0] ? ": " : "", sr.error);
        ok = ok && sr.ok;
    }

    /* The fault tests (last: remove_race takes CPUs out of sidecar). */
    static struct mk_faults_result fr;
    if (opt.faults && !hrc) {
        struct mk_faults_env fe = { mk_host(), h, p, o, khz, mk_image_start(), mk_image_end(), opt.fault_iters,
                                    opt.touch_sidecar, mk_host_open_other };
        uint64_t t0 = mk_rdtsc();
        mk_faults_run(&fe, opt.faults, &fr);
        out("main: fault tests on %u targets (%u bystanders), %lu us: %s%s%s\n", fr.targets, fr.bystanders,
            (mk_rdtsc() - t0) * 1000 / khz, fr.ok ? "ok" : "FAILED", fr.error[0] ? ": " : "", fr.error);
        for (unsigned i = 0; i < MK_FAULT_CASES; i++) {
            const struct mk_fault_case *c = &fr.c[i];
            if (c->ran)
                out("main:   %s %s: %lu iterations, %s %lu, %s %lu, guard %s%s%s\n", mk_fault_name(i),
                    c->ok ? "ok" : "FAILED", c->iterations, c->ka ? c->ka : "-", c->a, c->kb ? c->kb : "-", c->b,
                    c->guard_ok ? "ok" : "CHANGED", c->error[0] ? ": " : "", c->error);
        }
        out("main:   guard: %u regions, %lu bytes; %u unused node pages patterned; main-kernel memory "
            "(%lu bytes filled) %s\n", fr.guard_regions, fr.guard_bytes, fr.unused_pages, fr.filled_bytes,
            fr.fill_ok ? "untouched" : "CHANGED");
        if (!fr.fill_ok)
            out("main:   main-kernel memory changed at %lx\n", fr.fill_bad);
        ok = ok && fr.ok;
    }

    out("SIDECAR-REPORT {\"ok\":%s,\"sidecar\":true,\"cpus\":%u,\"main_cpus\":%u,\"sidecar_cpus\":%u,",
        ok ? "true" : "false", p->cpu_count, main_cpus, sidecars);
    out("\"park\":\"%s\",\"cpuid_faulting\":%s,", o->use_mwait ? "mwait" : "hlt",
        o->cpuid_faulting ? "true" : "false");
    out("\"cache_off_at_entry\":%u,\"cache_still_off\":%u,", o->cache_off_at_entry, o->cache_still_off);
    out("\"apic_mode\":\"%s\",\"tsc_khz\":%lu,\"bringup_us\":%lu,\"bringup_tsc\":%lu,\"rounds\":%u,\"pages_per_cpu\":%u,",
        o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic", o->tsc_khz, bringup_us,
        o->bringup_tsc, max_round, o->pages_per_cpu);
    out("\"main\":[");
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        out("%s{\"cpu\":%u,\"apic_id\":%u,\"numa\":%u,\"why\":\"%s\"}", first ? "" : ",", c,
            p->cpus[c].apic_id, p->cpus[c].numa_node, name_or(sidecar_cpu_reason_name(p->cpus[c].reason), "?"));
        first = 0;
    }
    out("],\"nodes\":[");
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        uint32_t sc = 0;
        for (uint32_t c = nd->base_cpu; c < nd->base_cpu + nd->cpu_count; c++)
            sc += p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR;
        out("%s{\"index\":%u,\"base_cpu\":%u,\"cpu_count\":%u,\"sidecar_cpus\":%u,\"numa\":%u,\"memory_base\":%lu}",
            n ? "," : "", n, nd->base_cpu, nd->cpu_count, sc, p->cpus[nd->base_cpu].numa_node,
            nd->memory_base);
    }
    out("],\"ready\":%u,\"failed\":[", o->ready_count);
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR || oc->status == SIDECAR_CPU_STATUS_IDLE)
            continue;
        out("%s{\"cpu\":%u,\"apic_id\":%u,\"reason\":\"%s\",\"vector\":%u}", first ? "" : ",", c,
            oc->apic_id, name_or(sidecar_cpu_failure_name(oc->failure), "unknown"), oc->vector);
        first = 0;
    }
    out("],\"roundtrip_ns\":{\"samples\":%u,\"median\":%lu,\"p99\":%lu,\"min\":%lu}", rt.samples,
        rt.median * 1000000 / khz, rt.p99 * 1000000 / khz, rt.min * 1000000 / khz);
    /* Every sidecar CPU's bring-up: [cpu, apic_id, node, round, started_by,
     * start_us, ready_us] (ready_us 0 when it never got there). */
    out(",\"timeline\":[");
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        out("%s[%u,%u,%u,%u,%d,%lu,%lu]", first ? "" : ",", c, oc->apic_id, oc->node, oc->round,
            oc->started_by == SIDECAR_NO_CPU ? -1 : (int)oc->started_by, oc->start_tsc * 1000 / khz,
            oc->status == SIDECAR_CPU_STATUS_IDLE ? oc->ready_tsc * 1000 / khz : 0);
        first = 0;
    }
    out("],\"ping_ok\":%s,\"ping_answered\":%u,\"ping_error\":\"%s\"", ping.ok ? "true" : "false",
        ping.answered, ping.ok ? "" : ping.error);
    if (opt.canary)
        out(",\"canary\":{\"ok\":%s,\"sidecar_bytes\":%lu,\"filled_bytes\":%lu,\"ping_after\":%s}",
            canary.ok ? "true" : "false", canary.sidecar_bytes, canary.filled_bytes,
            after_canary ? "true" : "false");
    if (opt.vp_test)
        out(",\"vp\":{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"intercepts\":%u,\"stops\":%u,"
            "\"cpuid\":\"%s\",\"cpuid_max_leaf\":%u,\"us\":%lu,\"error\":\"%s\"}",
            vpr.ok ? "true" : "false", vpr.cpus, vpr.passed, vpr.intercepts, vpr.stops,
            vpr.cpuid_intercept ? "intercept" : "native", vpr.cpuid_max_leaf, vp_us, vpr.error);
    if (opt.bench_roundtrip)
        out(",\"rt_bench_ns\":{\"ok\":%s,\"cpu\":%u,\"samples\":%u,\"run_vp\":[%lu,%lu],\"none\":[%lu,%lu],"
            "\"ipi\":[%lu,%lu],\"error\":\"%s\"}",
            rb.ok ? "true" : "false", rb.cpu, rb.run_vp.samples, rb.run_vp.median * 1000000 / khz,
            rb.run_vp.p99 * 1000000 / khz, rb.none.median * 1000000 / khz, rb.none.p99 * 1000000 / khz,
            rb.ipi.median * 1000000 / khz, rb.ipi.p99 * 1000000 / khz, rb.error);
    if (opt.vp_hostile)
        out(",\"hostile\":{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"cases\":%u,\"runs\":%u,\"error\":\"%s\"}",
            hr.ok ? "true" : "false", hr.cpus, hr.passed, hr.cases, hr.runs, hr.error);
    if (opt.vp_compute)
        out(",\"compute\":{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"intercepts\":%u,\"us\":%lu,\"error\":\"%s\"}",
            cr.ok ? "true" : "false", cr.cpus, cr.passed, cr.intercepts, cr.us, cr.error);
    if (opt.soak) {
        out(",\"soak\":{\"ok\":%s,\"cpus\":%u,\"commands_per_cpu\":%lu,\"commands\":%lu,\"us\":%lu,"
            "\"per_s\":%lu,\"cpu_per_s\":[%lu,%lu,%lu],\"intercepts\":%lu,\"stopped\":%lu,\"stops\":%lu,"
            "\"rip_steps\":%lu,\"lost\":%lu,\"duplicated\":%lu,\"kinds\":{",
            sr.ok ? "true" : "false", sr.cpus, sr.per_cpu, sr.commands, sr.us, sr.per_s, sr.cpu_per_s[0],
            sr.cpu_per_s[1], sr.cpu_per_s[2], sr.intercepts, sr.stopped, sr.stops, sr.rip_steps, sr.lost,
            sr.duplicated);
        static const char *const kinds[MK_SOAK_KINDS] = { "none", "run_exit", "run_exit_stop", "run_spin",
                                                         "get", "set", "translate" };
        for (unsigned k = 0; k < MK_SOAK_KINDS; k++)
            out("%s\"%s\":%lu", k ? "," : "", kinds[k], sr.by_kind[k]);
        out("},\"error\":\"%s\"}", sr.error);
    }
    if (opt.faults) {
        out(",\"faults\":{\"ok\":%s,\"targets\":%u,\"bystanders\":%u,\"bystanders_ok\":%s,"
            "\"guard_regions\":%u,\"guard_bytes\":%lu,\"unused_pages\":%u,\"filled_bytes\":%lu,"
            "\"fill_ok\":%s,\"error\":\"%s\",\"cases\":{",
            fr.ok ? "true" : "false", fr.targets, fr.bystanders, fr.bystanders_ok ? "true" : "false",
            fr.guard_regions, fr.guard_bytes, fr.unused_pages, fr.filled_bytes, fr.fill_ok ? "true" : "false",
            fr.error);
        for (unsigned i = 0, first = 1; i < MK_FAULT_CASES; i++) {
            const struct mk_fault_case *c = &fr.c[i];
            if (!c->ran)
                continue;
            out("%s\"%s\":{\"ok\":%s,\"cpus\":%u,\"iterations\":%lu,\"%s\":%lu,\"%s\":%lu,\"guard\":%s,"
                "\"error\":\"%s\"}", first ? "" : ",", mk_fault_name(i), c->ok ? "true" : "false", c->cpus,
                c->iterations, c->ka ? c->ka : "a", c->a, c->kb ? c->kb : "b", c->b,
                c->guard_ok ? "true" : "false", c->error);
            first = 0;
        }
        out("}}");
    }
    if (opt.cpu_report) {
        out(",\"cpu_report\":{\"ok\":%s,\"others\":%u,\"others_ok\":%u,\"error\":\"%s\",\"removed\":[",
            crr.ok ? "true" : "false", crr.others, crr.others_ok, crr.error);
        for (uint32_t k = 0; k < crr.removed_count && k < MK_CPUREPORT_MAX; k++)
            out("%s{\"cpu\":%u,\"error\":\"%s\"}", k ? "," : "", crr.removed[k].cpu, crr.removed[k].error);
        out("]}");
    }
    if (opt.hot_init)
        out(",\"hot_init\":{\"ok\":%s,\"targets\":%u,\"bystanders\":%u,\"inited\":%u,\"answered\":%u,"
            "\"max_delay_us\":%u,\"error\":\"%s\"}", hir.ok ? "true" : "false", hir.targets, hir.bystanders,
            hir.inited, hir.answered, hir.max_delay_us, hir.error);
    if (opt.vectors)
        out(",\"vectors\":{\"ok\":%s,\"cpus\":%u,\"idle\":%u,\"ran\":%u,\"running\":%u,\"ipis\":%u,"
            "\"answered\":%u,\"vp_ok\":%u,\"stopped\":%u,\"error\":\"%s\"}",
            vr.ok ? "true" : "false", vr.cpus, vr.idle, vr.ran, vr.running, vr.ipis, vr.answered, vr.vp_ok,
            vr.stopped, vr.error);
    if (opt.convert_running.count)
        out(",\"convert_running\":{\"ok\":%s,\"cpus\":%u,\"stopped\":%u}", running_ok ? "true" : "false",
            opt.convert_running.count, running_stopped);
    if (want_convert) {
        out(",\"converted\":[");
        for (uint32_t k = 0; k < conv_count; k++)
            out("%s{\"cpu\":%u,\"apic_id\":%u,\"reported_apic_id\":%d,\"ok\":%s,\"error\":\"%s\"}", k ? "," : "",
                conv[k].cpu, conv[k].apic_id, conv[k].online ? (int)conv[k].reported_apic_id : -1,
                conv[k].work_ok ? "true" : "false", conv[k].error);
        uint32_t cd = 0;
        for (uint32_t k = 0; k < conv_count; k++) {
            uint64_t cr0;
            cd += conv[k].online && mk_ap_entry_cr0(conv[k].apic_id, &cr0) && (cr0 & 0x60000000u);
        }
        out("],\"converted_cache_off\":%u", cd);   /* converted CPUs that came with CR0.CD/NW set */
        out(",\"convert_ok\":%s,\"ping_after_convert\":%s,\"converted_work_again\":%s",
            convert_ok ? "true" : "false", ping_after ? "true" : "false", work_again ? "true" : "false");
        if (opt.convert_again)
            out(",\"convert_again_refused\":%s", again_ok ? "true" : "false");
    }
    out("}\n");
    mk_exit(MK_EXIT_SUCCESS);
}
