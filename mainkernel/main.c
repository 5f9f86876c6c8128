/* SPDX-License-Identifier: MIT */
/* The bare-metal main kernel: what runs on the BSP after the shim. It
 * validates the hand-off block and the kernel's output, prints the bring-up
 * report (a table, then one JSON line prefixed "SIDECAR-REPORT "), pings
 * every sidecar CPU through libsidecar-host's bare-metal transport, runs
 * the test scenarios its options ask for (scenarios/scenarios.def, in
 * table order: those of phase BEFORE, then the conversions, then those of
 * phase AFTER), and exits QEMU through isa-debug-exit. "ok" in the report
 * is true when every sidecar CPU the shim planned came up and answered and
 * every requested step worked. */
#include <scfree/scfree.h>
#include <sidecar/validate.h>

#include "arch/x86_64/platform.h"
#include "convert.h"
#include "options.h"
#include "ping.h"
#include "report.h"
#include "scenarios/scenarios.h"
#include "vp.h"

void mk_main(uint64_t handoff_pa);

static struct sidecar_handoff handoff __attribute__((aligned(4096)));
static struct mk_options opt;
static bool converted[SIDECAR_MAX_CPUS];
static uint32_t cpu_list[SIDECAR_MAX_CPUS];
static struct mk_conversion conv[SIDECAR_MAX_CPUS];
static uint32_t conv_count;

static __attribute__((noreturn)) void fatal(const char *what, const char *msg)
{
    mk_out("main: FAIL: %s: %s\n", what, msg);
    mk_out("SIDECAR-REPORT {\"ok\":false,\"error\":\"%s: %s\"}\n", what, msg);
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
        mk_out("main: convert cpu %u (apic %u): %s%s", c[k].cpu, c[k].apic_id,
               c[k].error[0] ? "FAILED: " : "ok", c[k].error);
        if (c[k].online)
            mk_out(", now a main-kernel CPU reporting APIC ID %u", c[k].reported_apic_id);
        mk_out("\n");
    }
    conv_count += n;
    mk_out("main: %s: %u/%u CPUs converted and working, %lu us\n", what, good, n, us);
}

/* The scenarios of one phase whose option was given, in table order;
 * false when one of them failed. */
static bool run_scenarios(struct mk_ctx *ctx, enum mk_phase phase)
{
    bool ok = true;
    for (unsigned i = 0; i < mk_scenario_count; i++) {
        const struct mk_scenario *s = &mk_scenarios[i];
        if (s->phase == phase && s->on(ctx->opt)) {
            bool passed = s->run(ctx);
            ok = ok && passed;
        }
    }
    return ok;
}

void mk_main(uint64_t handoff_pa)
{
    mk_platform_init();
    mk_out("main: bare-metal main kernel, hand-off at %lx\n", handoff_pa);
    struct sidecar_abi_error err;
    if (!handoff_pa || sidecar_handoff_validate((const void *)(uintptr_t)handoff_pa, &err) != SIDECAR_ABI_OK)
        fatal("handoff", handoff_pa ? err.message : "null address");
    /* Ours from now on: the shim's memory is usable RAM to us. */
    sc_memcpy(&handoff, (const void *)(uintptr_t)handoff_pa, sizeof(handoff));
    const struct sidecar_handoff *h = &handoff;
    char reason[SIDECAR_ERROR_TEXT_SIZE + 1];
    sc_memcpy(reason, h->disabled_reason.buf, h->disabled_reason.len);
    reason[h->disabled_reason.len] = '\0';
    mk_out("main: command line \"%s\"\n", (const char *)h->cmdline);
    char oerr[96];
    if (!mk_options_parse((const char *)h->cmdline, &opt, oerr, sizeof(oerr)))
        fatal("command line", oerr);
    if (!h->sidecar_enabled) {
        mk_out("main: sidecar disabled: %s\n", reason);
        /* Every CPU is ours: the shim's count of them (0 if it could not read the topology). */
        mk_out("SIDECAR-REPORT {\"ok\":true,\"sidecar\":false,\"reason\":\"%s\",\"cpus\":%u,\"main_cpus\":%u,"
               "\"sidecar_cpus\":0,\"ready\":0,\"failed\":[],\"ping_ok\":false}\n", reason, h->main_cpu_count,
               h->main_cpu_count);
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
    mk_out("main: %u CPUs, %u sidecar nodes, %s, park with %s, TSC %lu kHz, guest CPUID %s\n", p->cpu_count,
           p->node_count, o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic",
           o->use_mwait ? "mwait" : "hlt", o->tsc_khz,
           o->cpuid_faulting ? "intercepted (CPUID faulting)" : "native (no CPUID faulting)");
    mk_out("main:  cpu  apic  numa  node  round  from   status   start_us   ready_us  why / failure\n");
    for (uint32_t c = 0; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        const char *why = name_or(sidecar_cpu_reason_name(p->cpus[c].reason), "?");
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR) {
            main_cpus++;
            mk_out("main: %4u %5u %5u     -      -     -     main          -          -  %s\n", c, oc->apic_id,
                   p->cpus[c].numa_node, why);
            continue;
        }
        sidecars++;
        if (oc->round > max_round)
            max_round = oc->round;
        mk_out("main: %4u %5u %5u %5u %6u %5d %8s %10lu %10lu  %s\n", c, oc->apic_id, p->cpus[c].numa_node,
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
        mk_out("main: ping of cpu %u failed: %s (status byte now %d)\n", ping.first_failed_cpu, ping.error,
               ping.first_failed_status);
    mk_out("main: caching: %u sidecar CPUs arrived with CR0.CD/NW set and enabled it, %u still have it off\n",
           o->cache_off_at_entry, o->cache_still_off);
    uint64_t bringup_us = o->bringup_tsc * 1000 / khz;
    mk_out("main: bring-up %lu us, %u/%u sidecar CPUs ready, %u rounds; ping: %s (%u/%u answered)\n",
           bringup_us, o->ready_count, sidecars, max_round, ping.ok ? "ok" : ping.error,
           ping.answered, ping.asked);
    bool ok = o->ready_count == sidecars && ping.ok;
    /* Command round trips: 8 pings of every ready CPU. */
    struct mk_stats rt = { 0, 0, 0, 0 };
    if (!hrc && ping.ok) {
        rt = mk_ping_roundtrip(p, o, 8);
        mk_out("main: NONE round trip over %u pings: median %lu ns, p99 %lu ns, min %lu ns\n", rt.samples,
               rt.median * 1000000 / khz, rt.p99 * 1000000 / khz, rt.min * 1000000 / khz);
    }

    /* What the scenarios work with, and those that run before the
     * conversions. */
    struct mk_ctx ctx = { h, p, o, mk_host(), &opt, khz, converted, cpu_list };
    if (!hrc)
        ok = run_scenarios(&ctx, MK_PHASE_BEFORE) && ok;

    /* Conversions. */
    bool want_convert = opt.convert.count || opt.convert_node != MK_NO_NODE || opt.convert_running.count ||
                        opt.convert_one_per_node;
    bool running_ok = true;
    uint32_t running_stopped = 0;
    bool convert_ok = true, again_ok = true, ping_after = true, work_again = true;
    uint32_t work_count = 0;
    if (want_convert && !hrc) {
        struct mk_convert_env env = { mk_host(), p, mk_low_page(h), khz };
        if (!mk_convert_install(&env))
            fatal("convert", "no usable page below 640 KiB for the AP trampoline");
        mk_out("main: AP trampoline at %lx\n", env.trampoline_pa);
        if (opt.convert_running.count) {
            /* A CPU that is running a VP: STOP the run, then REMOVE. */
            if (!mk_vp_load_guest(p))
                fatal("mk.convert_running", "no usable guest RAM");
            for (uint32_t k = 0; k < opt.convert_running.count; k++) {
                const char *why = "";
                uint32_t c = opt.convert_running.cpu[k];
                int rc = mk_vp_run_and_stop(mk_host(), p, c, khz, &why);
                mk_out("main: cpu %u ran a VP and was stopped: %s%s%s\n", c, rc ? "FAILED" : "ok",
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
        ping_after = mk_ping_rest(p, o, converted, "of the CPUs not converted");
        work_again = mk_converted_work_all(&env, &work_count);
        mk_out("main: all %u converted CPUs ran more work: %s\n", work_count, work_again ? "ok" : "FAILED");
        if (opt.convert_again && conv_count) {
            uint32_t c = conv[0].cpu;
            int rc = sidecar_host_acquire(mk_host(), c);
            if (!rc) {
                rc = sidecar_host_remove(mk_host(), c, 2000000000ull);
                sidecar_host_release(mk_host(), c);
            }
            again_ok = rc == SIDECAR_HOST_E_REMOVED;
            mk_out("main: converting cpu %u again: %s (%s)\n", c, sidecar_host_strerror(rc),
                   again_ok ? "refused, as it must be" : "WRONG");
        }
        ok = ok && convert_ok && ping_after && work_again && again_ok && running_ok;
    }

    /* The scenarios that run after the conversions. */
    if (!hrc)
        ok = run_scenarios(&ctx, MK_PHASE_AFTER) && ok;

    mk_out("SIDECAR-REPORT {\"ok\":%s,\"sidecar\":true,\"cpus\":%u,\"main_cpus\":%u,\"sidecar_cpus\":%u,",
           ok ? "true" : "false", p->cpu_count, main_cpus, sidecars);
    mk_out("\"park\":\"%s\",\"cpuid_faulting\":%s,\"vp_backend\":\"%s\",", o->use_mwait ? "mwait" : "hlt",
           o->cpuid_faulting ? "true" : "false",
           o->vp_backend == SIDECAR_VP_BACKEND_SVM     ? "svm"
           : o->vp_backend == SIDECAR_VP_BACKEND_RING3 ? "ring3"
                                                       : "none");
    mk_out("\"cache_off_at_entry\":%u,\"cache_still_off\":%u,", o->cache_off_at_entry, o->cache_still_off);
    mk_out("\"apic_mode\":\"%s\",\"tsc_khz\":%lu,\"bringup_us\":%lu,\"bringup_tsc\":%lu,\"rounds\":%u,"
           "\"pages_per_cpu\":%u,",
           o->apic_mode == SIDECAR_APIC_MODE_X2APIC ? "x2apic" : "xapic", o->tsc_khz, bringup_us,
           o->bringup_tsc, max_round, o->pages_per_cpu);
    mk_out("\"main\":[");
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        if (p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        mk_out("%s{\"cpu\":%u,\"apic_id\":%u,\"numa\":%u,\"why\":\"%s\"}", first ? "" : ",", c,
               p->cpus[c].apic_id, p->cpus[c].numa_node, name_or(sidecar_cpu_reason_name(p->cpus[c].reason), "?"));
        first = 0;
    }
    mk_out("],\"nodes\":[");
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        uint32_t sc = 0;
        for (uint32_t c = nd->base_cpu; c < nd->base_cpu + nd->cpu_count; c++)
            sc += p->cpus[c].role == SIDECAR_CPU_ROLE_SIDECAR;
        mk_out("%s{\"index\":%u,\"base_cpu\":%u,\"cpu_count\":%u,\"sidecar_cpus\":%u,\"numa\":%u,\"memory_base\":%lu}",
               n ? "," : "", n, nd->base_cpu, nd->cpu_count, sc, p->cpus[nd->base_cpu].numa_node,
               nd->memory_base);
    }
    mk_out("],\"ready\":%u,\"failed\":[", o->ready_count);
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR || oc->status == SIDECAR_CPU_STATUS_IDLE)
            continue;
        mk_out("%s{\"cpu\":%u,\"apic_id\":%u,\"reason\":\"%s\",\"vector\":%u}", first ? "" : ",", c,
               oc->apic_id, name_or(sidecar_cpu_failure_name(oc->failure), "unknown"), oc->vector);
        first = 0;
    }
    mk_out("],\"roundtrip_ns\":{\"samples\":%u,\"median\":%lu,\"p99\":%lu,\"min\":%lu}", rt.samples,
           rt.median * 1000000 / khz, rt.p99 * 1000000 / khz, rt.min * 1000000 / khz);
    /* Every sidecar CPU's bring-up: [cpu, apic_id, node, round, started_by,
     * start_us, ready_us] (ready_us 0 when it never got there). */
    mk_out(",\"timeline\":[");
    for (uint32_t c = 0, first = 1; c < p->cpu_count; c++) {
        const struct sidecar_output_cpu *oc = &o->cpus[c];
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        mk_out("%s[%u,%u,%u,%u,%d,%lu,%lu]", first ? "" : ",", c, oc->apic_id, oc->node, oc->round,
               oc->started_by == SIDECAR_NO_CPU ? -1 : (int)oc->started_by, oc->start_tsc * 1000 / khz,
               oc->status == SIDECAR_CPU_STATUS_IDLE ? oc->ready_tsc * 1000 / khz : 0);
        first = 0;
    }
    mk_out("],\"ping_ok\":%s,\"ping_answered\":%u,\"ping_error\":\"%s\"", ping.ok ? "true" : "false",
           ping.answered, ping.ok ? "" : ping.error);
    for (unsigned i = 0; i < mk_scenario_count; i++) {
        const struct mk_scenario *s = &mk_scenarios[i];
        if (s->on(&opt)) {
            mk_out(",\"%s\":", s->key);
            s->report(&ctx);
        }
    }
    if (opt.convert_running.count)
        mk_out(",\"convert_running\":{\"ok\":%s,\"cpus\":%u,\"stopped\":%u}", running_ok ? "true" : "false",
               opt.convert_running.count, running_stopped);
    if (want_convert) {
        mk_out(",\"converted\":[");
        for (uint32_t k = 0; k < conv_count; k++)
            mk_out("%s{\"cpu\":%u,\"apic_id\":%u,\"reported_apic_id\":%d,\"ok\":%s,\"saved_registers\":%u,"
                   "\"saved_rip\":%lu,\"error\":\"%s\"}", k ? "," : "",
                   conv[k].cpu, conv[k].apic_id, conv[k].online ? (int)conv[k].reported_apic_id : -1,
                   conv[k].work_ok ? "true" : "false", conv[k].saved_count, conv[k].saved_rip, conv[k].error);
        uint32_t cd = 0;
        for (uint32_t k = 0; k < conv_count; k++) {
            uint64_t cr0;
            cd += conv[k].online && mk_ap_entry_cr0(conv[k].apic_id, &cr0) && (cr0 & 0x60000000u);
        }
        mk_out("],\"converted_cache_off\":%u", cd);   /* converted CPUs that came with CR0.CD/NW set */
        mk_out(",\"convert_ok\":%s,\"ping_after_convert\":%s,\"converted_work_again\":%s",
               convert_ok ? "true" : "false", ping_after ? "true" : "false", work_again ? "true" : "false");
        if (opt.convert_again)
            mk_out(",\"convert_again_refused\":%s", again_ok ? "true" : "false");
    }
    mk_out("}\n");
    mk_exit(MK_EXIT_SUCCESS);
}
