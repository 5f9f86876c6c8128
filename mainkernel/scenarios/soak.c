/* SPDX-License-Identifier: MIT */
/* The soak (soak.h). */
#include <stdarg.h>

#include <scfree/scfree.h>

#include "arch/x86_64/platform.h"
#include "seqhost.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "soak.h"

#define T_NS 5000000000ull              /* a synchronous command's bound */
#define SILENCE_US 10000000ull          /* nothing completes for this long: lost */
#define SPIN_MAX_US 50u                 /* a spinning run is stopped within this */
/* At most this many guests spin at once: under TCG a spinning vCPU takes a
 * host thread's whole time, and the host has few cores. */
#define MAX_SPINNING 2u
#define TRANSLATE_VALIDATE_READ 1ull

/* What a CPU has in flight. The synchronous calls are made with a zero
 * timeout: they return E_TIMEOUT with the command in flight, which
 * sidecar_host_wait collects later; the results are then read from the
 * command page (sidecar_host_command_page). */
enum flight { IDLE_, PING, GET, SET, TRANSLATE, RUN, SPIN };

struct cpu_state {
    uint32_t cpu;
    uint64_t rng;
    uint64_t done;              /* commands completed */
    uint64_t r12;               /* the value R12 must read back */
    uint64_t r12_pending;       /* a SET in flight writes this */
    uint64_t gva;               /* a TRANSLATE in flight */
    uint8_t flight;
    bool stop_sent;
    bool finished;
    uint64_t finished_us;       /* when it completed its last command */
    uint64_t stop_at_us;
    struct mk_seq_vp seq;
};

static struct cpu_state st[SIDECAR_MAX_CPUS];
static int16_t slot_of[SIDECAR_MAX_CPUS];
static uint64_t rates[SIDECAR_MAX_CPUS];

static uint64_t khz_;
static uint32_t spinning;

static uint64_t now_us(void)
{
    uint64_t t = mk_rdtsc();
    return t / khz_ * 1000 + t % khz_ * 1000 / khz_;
}


static void count_verdict(struct mk_soak_result *r, enum mk_seq_verdict vd)
{
    if (vd == MK_SEQ_GAP)
        r->lost++;
    else if (vd == MK_SEQ_DUPLICATE || vd == MK_SEQ_NOT_STARTED)
        r->duplicated++;
}

/* A run ended: check it (and count the RIP step over an OUT). */
static void run_done(struct sidecar_host *h, struct cpu_state *s, int result, struct mk_soak_result *r)
{
    enum mk_seq_verdict vd;
    const char *why = mk_seqg_completed_vd(h, s->cpu, result, &s->seq, &vd);
    if (why) {
        count_verdict(r, vd);
        MK_FAIL(r, "%s", why);
    }
    s->done++;
    r->commands++;
    if (s->flight == SPIN)
        spinning--;
    if (result == SIDECAR_HOST_RUN_INTERCEPT) {
        r->intercepts++;
        s->done++;              /* the SET of RIP past the OUT */
        r->commands++;
        r->rip_steps++;
    } else if (result == SIDECAR_HOST_RUN_STOPPED) {
        r->stopped++;
    }
    s->flight = IDLE_;
}

static bool get_check(struct sidecar_host *h, struct cpu_state *s, struct mk_soak_result *r, uint64_t timeout)
{
    struct sidecar_hv_register_assoc a[2];
    sc_memset(a, 0, sizeof(a));
    a[0].name = SIDECAR_HV_REGISTER_NAME_R12;
    a[1].name = SIDECAR_HV_REGISTER_NAME_RIP;
    int rc = sidecar_host_get_registers(h, s->cpu, 0, a, 2, timeout, 0);
    if (rc == SIDECAR_HOST_E_TIMEOUT && !timeout) {
        s->flight = GET;
        return true;
    }
    if (rc)
        return MK_FAIL(r, "cpu %u: GET: %s", s->cpu, sidecar_host_strerror(rc));
    if (a[0].value.low != s->r12)
        return MK_FAIL(r, "cpu %u: R12 %lx, the last SET wrote %lx", s->cpu, a[0].value.low, s->r12);
    return true;
}

static bool translate_check(struct cpu_state *s, struct mk_soak_result *r, const struct sidecar_translate_gva_output *out)
{
    if (out->translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS || out->gpa_page != s->gva >> 12)
        return MK_FAIL(r, "cpu %u: translate %lx: result %u page %lx", s->cpu, s->gva, out->translation_result.result_code,
                    out->gpa_page);
    return true;
}

/* A register or translate command in flight ended: its results are in
 * the command page. */
static void collected(struct sidecar_host *h, struct cpu_state *s, struct mk_soak_result *r)
{
    const struct sidecar_command_page *c = sidecar_host_command_page(h, s->cpu);
    if (s->flight == GET || s->flight == SET) {
        const struct sidecar_get_set_vp_registers_request *req = (const void *)c->request_data;
        if (req->status != SIDECAR_HV_STATUS_SUCCESS)
            MK_FAIL(r, "cpu %u: %s: HvStatus %u", s->cpu, s->flight == GET ? "GET" : "SET", req->status);
        else if (s->flight == GET && req->regs[0].value.low != s->r12)
            MK_FAIL(r, "cpu %u: R12 %lx, the last SET wrote %lx", s->cpu, req->regs[0].value.low, s->r12);
        else if (s->flight == SET)
            s->r12 = s->r12_pending;
    } else if (s->flight == TRANSLATE) {
        const struct sidecar_translate_gva_response *resp = (const void *)c->request_data;
        if (resp->status != SIDECAR_HV_STATUS_SUCCESS)
            MK_FAIL(r, "cpu %u: translate: HvStatus %u", s->cpu, resp->status);
        else
            translate_check(s, r, &resp->output);
    }
}

/* Starts the next command of a CPU with nothing in flight. */
static void next(struct sidecar_host *h, const struct sidecar_params *p, struct cpu_state *s,
                 struct mk_soak_result *r)
{
    enum mk_soak_kind kind = mk_soak_pick(&s->rng);
    if (kind == MK_SOAK_RUN_SPIN && spinning >= MAX_SPINNING)
        kind = MK_SOAK_RUN_EXIT_STOP;
    r->by_kind[kind]++;
    volatile struct mk_seq_data *d = mk_seqg_data(p, s->cpu);
    int rc = 0;
    switch (kind) {
    case MK_SOAK_NONE:
        rc = sidecar_host_run_command(h, s->cpu, SIDECAR_COMMAND_NONE, 0);
        if (rc == SIDECAR_HOST_E_TIMEOUT) {
            s->flight = PING;
            return;
        }
        break;
    case MK_SOAK_RUN_EXIT:
    case MK_SOAK_RUN_EXIT_STOP:
    case MK_SOAK_RUN_SPIN:
        d->mode = kind == MK_SOAK_RUN_SPIN ? MK_SEQ_SPIN : MK_SEQ_EXIT;
        rc = sidecar_host_run_vp_start(h, s->cpu);
        if (rc)
            break;
        mk_seq_started(&s->seq);
        s->flight = kind == MK_SOAK_RUN_SPIN ? SPIN : RUN;
        spinning += kind == MK_SOAK_RUN_SPIN;
        s->stop_sent = false;
        s->stop_at_us = now_us() + mk_rand_below(&s->rng, SPIN_MAX_US);
        if (kind == MK_SOAK_RUN_EXIT_STOP) {
            sidecar_host_stop(h, s->cpu);
            s->stop_sent = true;
            r->stops++;
        }
        return;
    case MK_SOAK_GET:
        if (!get_check(h, s, r, 0) || s->flight == GET)
            return;
        break;
    case MK_SOAK_SET: {
        struct sidecar_hv_register_assoc a;
        sc_memset(&a, 0, sizeof(a));
        a.name = SIDECAR_HV_REGISTER_NAME_R12;
        a.value.low = mk_rand(&s->rng);
        s->r12_pending = a.value.low;
        rc = sidecar_host_set_registers(h, s->cpu, 0, &a, 1, 0, 0);
        if (rc == SIDECAR_HOST_E_TIMEOUT) {
            s->flight = SET;
            return;
        }
        if (!rc)
            s->r12 = a.value.low;
        break;
    }
    case MK_SOAK_TRANSLATE: {
        uint64_t off = (uint64_t)mk_rand_below(&s->rng, (uint32_t)(p->guest_ram_size >> 12)) << 12;
        struct sidecar_translate_gva_output out;
        uint16_t hv = 0;
        s->gva = p->guest_ram_base + off + mk_rand_below(&s->rng, 4096);
        rc = sidecar_host_translate_gva(h, s->cpu, s->gva, TRANSLATE_VALIDATE_READ, 0, &out, &hv);
        if (rc == SIDECAR_HOST_E_TIMEOUT) {
            s->flight = TRANSLATE;
            return;
        }
        if (!rc)
            translate_check(s, r, &out);
        break;
    }
    default:
        break;
    }
    if (rc)
        MK_FAIL(r, "cpu %u: command kind %u: %s", s->cpu, kind, sidecar_host_strerror(rc));
    s->done++;
    r->commands++;
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

void mk_soak(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
             uint64_t commands, uint64_t tsc_khz, struct mk_soak_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    r->cpus = n;
    r->per_cpu = commands;
    khz_ = tsc_khz ? tsc_khz : 1;
    spinning = 0;
    if (!n || n > SIDECAR_MAX_CPUS || !mk_seqg_load(p)) {
        MK_FAIL(r, "%s", n ? "guest RAM too small" : "no sidecar CPU");
        return;
    }
    for (uint32_t c = 0; c < SIDECAR_MAX_CPUS; c++)
        slot_of[c] = -1;
    for (uint32_t k = 0; k < n; k++) {
        struct cpu_state *s = &st[k];
        sc_memset(s, 0, sizeof(*s));
        s->cpu = cpus[k];
        s->rng = 0x50a450a4ull * (cpus[k] + 1) + 0x1234567ull;
        slot_of[cpus[k]] = (int16_t)k;
        int rc = sidecar_host_acquire(h, s->cpu);
        if (!rc)
            rc = mk_seqg_setup(h, p, s->cpu);
        if (rc) {
            MK_FAIL(r, "cpu %u: setup: %s", s->cpu, sidecar_host_strerror(rc));
            s->finished = true;
        }
    }
    uint64_t t0 = now_us(), last_progress = t0, last_report = 0;
    uint32_t finished = 0;
    for (uint32_t k = 0; k < n; k++)
        finished += st[k].finished;
    while (finished < n && r->ok) {
        uint64_t now = now_us();
        for (uint32_t k = 0; k < n && r->ok; k++) {
            struct cpu_state *s = &st[k];
            if (s->finished)
                continue;
            if (s->flight == PING || s->flight == GET || s->flight == SET || s->flight == TRANSLATE) {
                /* A cheap look first: still RUN means still running. */
                if (sidecar_host_cpu_status(h, s->cpu) == SIDECAR_CPU_STATUS_RUN)
                    continue;
                int rc = sidecar_host_wait(h, s->cpu, 0);
                if (rc == SIDECAR_HOST_E_TIMEOUT)
                    continue;
                if (rc)
                    MK_FAIL(r, "cpu %u: command (%u) in flight: %s", s->cpu, s->flight, sidecar_host_strerror(rc));
                else
                    collected(h, s, r);
                s->done++;
                r->commands++;
                s->flight = IDLE_;
                last_progress = now;
            } else if (s->flight == SPIN && !s->stop_sent && now >= s->stop_at_us) {
                sidecar_host_stop(h, s->cpu);
                s->stop_sent = true;
                r->stops++;
            }
            if (s->flight == IDLE_) {
                if (s->done >= commands) {
                    s->finished = true;
                    s->finished_us = now - t0;
                    finished++;
                    continue;
                }
                next(h, p, s, r);
                last_progress = now;
            }
        }
        /* Every run that ended, each exactly once. */
        for (;;) {
            struct sidecar_host_completion c;
            int rc = sidecar_host_wait_any(h, 0, &c);
            if (rc == SIDECAR_HOST_E_TIMEOUT || rc == SIDECAR_HOST_E_NOTHING)
                break;
            if (rc) {
                MK_FAIL(r, "wait_any: %s", sidecar_host_strerror(rc));
                break;
            }
            int slot = c.cpu < SIDECAR_MAX_CPUS ? slot_of[c.cpu] : -1;
            if (slot < 0 || (st[slot].flight != RUN && st[slot].flight != SPIN)) {
                r->duplicated++;
                MK_FAIL(r, "a completion for cpu %u, which runs nothing", c.cpu);
                break;
            }
            run_done(h, &st[slot], c.result, r);
            last_progress = now;
        }
        if (now - last_progress > SILENCE_US) {
            for (uint32_t k = 0; k < n; k++)
                r->lost += st[k].flight != IDLE_ && !st[k].finished;
            MK_FAIL(r, "nothing completed for %lu s (%lu commands in flight)", (uint64_t)(SILENCE_US / 1000000), r->lost);
        }
        if (now - t0 >= last_report + 10000000) {
            last_report = now - t0;
            char line[128];
            uint64_t sum = 0;
            for (uint32_t k = 0; k < n; k++)
                sum += st[k].done;
            uint32_t len = (uint32_t)sc_snprintf(line, sizeof(line), "main: soak: %lu s, %lu/%lu commands\n",
                                                 last_report / 1000000, sum, commands * n);
            mk_write(line, len);
        }
    }
    r->us = now_us() - t0;
    /* The end: stop anything left, let every guest report, and compare
     * its own count with what the host saw. */
    for (uint32_t k = 0; k < n; k++)
        if (st[k].flight == SPIN || st[k].flight == RUN)
            sidecar_host_stop(h, st[k].cpu);
    for (uint32_t k = 0; k < n; k++) {
        struct cpu_state *s = &st[k];
        if (s->flight != IDLE_ && s->flight != RUN && s->flight != SPIN && sidecar_host_wait(h, s->cpu, T_NS) >= 0) {
            collected(h, s, r);
            s->flight = IDLE_;
        }
    }
    for (;;) {
        struct sidecar_host_completion c;
        if (sidecar_host_wait_any(h, T_NS, &c))
            break;
        int slot = c.cpu < SIDECAR_MAX_CPUS ? slot_of[c.cpu] : -1;
        if (slot >= 0)
            run_done(h, &st[slot], c.result, r);
    }
    for (uint32_t k = 0; k < n; k++) {
        struct cpu_state *s = &st[k];
        volatile struct mk_seq_data *d = mk_seqg_data(p, s->cpu);
        if (r->ok) {
            d->mode = MK_SEQ_EXIT;
            mk_seq_started(&s->seq);
            enum mk_seq_verdict vd;
            const char *why = mk_seqg_completed_vd(h, s->cpu, sidecar_host_run_vp(h, s->cpu, T_NS), &s->seq, &vd);
            if (why) {
                count_verdict(r, vd);
                MK_FAIL(r, "%s", why);
            } else if (!mk_seq_consistent(&s->seq, d->seq)) {
                r->lost += d->seq > s->seq.seen ? d->seq - s->seq.seen : 0;
                MK_FAIL(r, "cpu %u: the guest counted %lu runs, the host saw %lu (%lu starts, %lu completions)", s->cpu,
                     d->seq, s->seq.seen, s->seq.starts, s->seq.completions);
            } else {
                get_check(h, s, r, T_NS);
            }
        }
        sidecar_host_release(h, s->cpu);
        uint64_t t = s->finished_us ? s->finished_us : r->us;
        rates[k] = t ? s->done * 1000000 / t : 0;
    }
    r->per_s = r->us ? r->commands * 1000000 / r->us : 0;
    /* Per-CPU rates: min, median, max (insertion sort; n is small). */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && cmp_u64(rates[j - 1], rates[j]) > 0; j--) {
            uint64_t t = rates[j];
            rates[j] = rates[j - 1];
            rates[j - 1] = t;
        }
    r->cpu_per_s[0] = rates[0];
    r->cpu_per_s[1] = rates[n / 2];
    r->cpu_per_s[2] = rates[n - 1];
    if (r->lost || r->duplicated)
        MK_FAIL(r, "%lu lost, %lu duplicated", r->lost, r->duplicated);
}

/* ---- the scenario (mk.soak; scenarios.def) ---- */

static struct mk_soak_result sr;

/* The soak on every ready sidecar CPU that was not converted. */
bool mk_soak_run(struct mk_ctx *ctx)
{
    uint32_t commands = ctx->opt->soak_commands;
    uint32_t *cpu_list = ctx->cpus;
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, cpu_list);
    mk_out("main: soak: %u CPUs x %u commands\n", n, commands);
    mk_soak(ctx->host, ctx->params, cpu_list, n, commands, ctx->tsc_khz, &sr);
    mk_out("main: soak: %s; %lu commands in %lu us: %lu/s (per CPU min %lu, median %lu, max %lu); "
           "%lu intercepts, %lu stopped, %lu STOPs; lost %lu, duplicated %lu%s%s\n",
           sr.ok ? "ok" : "FAILED", sr.commands, sr.us, sr.per_s, sr.cpu_per_s[0], sr.cpu_per_s[1],
           sr.cpu_per_s[2], sr.intercepts, sr.stopped, sr.stops, sr.lost, sr.duplicated,
           sr.error[0] ? ": " : "", sr.error);
    return sr.ok;
}

void mk_soak_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"commands_per_cpu\":%lu,\"commands\":%lu,\"us\":%lu,"
           "\"per_s\":%lu,\"cpu_per_s\":[%lu,%lu,%lu],\"intercepts\":%lu,\"stopped\":%lu,\"stops\":%lu,"
           "\"rip_steps\":%lu,\"lost\":%lu,\"duplicated\":%lu,\"kinds\":{",
           sr.ok ? "true" : "false", sr.cpus, sr.per_cpu, sr.commands, sr.us, sr.per_s, sr.cpu_per_s[0],
           sr.cpu_per_s[1], sr.cpu_per_s[2], sr.intercepts, sr.stopped, sr.stops, sr.rip_steps, sr.lost,
           sr.duplicated);
    static const char *const kinds[MK_SOAK_KINDS] = { "none", "run_exit", "run_exit_stop", "run_spin",
                                                     "get", "set", "translate" };
    for (unsigned k = 0; k < MK_SOAK_KINDS; k++)
        mk_out("%s\"%s\":%lu", k ? "," : "", kinds[k], sr.by_kind[k]);
    mk_out("},\"error\":\"%s\"}", sr.error);
}
