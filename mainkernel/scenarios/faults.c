/* SPDX-License-Identifier: MIT */
/* The fault tests (faults.h). */
#include <stdarg.h>
#include <stddef.h>

#include <scfree/scfree.h>

#include "arch/x86_64/platform.h"
#include "canary.h"
#include "compute.h"
#include "faults.h"
#include "guard.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "seq.h"
#include "seqhost.h"

#define T_NS 2000000000ull              /* a command's bound */
#define T_RUN_NS 200000000ull           /* a run from a garbage context */
#define SPIN_WAIT_US 3000000ull         /* a spinning guest must move within this */
#define GARBAGE_ROUNDS 12u
#define IDLE_STORM 2000u                /* request IPIs per idle target */
#define SPIN_STORM 500u                 /* per spinning target */
#define STATUS_FIRST_IMPOSSIBLE 5u      /* removed .. remove are 0-4 */

static const char *const names[MK_FAULT_CASES] = {
    "garbage", "status", "ipi", "stop_race", "reconnect", "remove_race",
};

const char *mk_fault_name(unsigned index) { return index < MK_FAULT_CASES ? names[index] : 0; }

struct fctx {
    const struct mk_faults_env *env;
    struct sidecar_host *h;
    const struct sidecar_params *p;
    uint64_t rng;
    uint32_t targets[SIDECAR_MAX_CPUS];
    uint32_t nt;
    uint32_t bystanders[SIDECAR_MAX_CPUS];
    uint32_t nb;
    bool is_target[SIDECAR_MAX_CPUS];
    bool removed[SIDECAR_MAX_CPUS];
    struct mk_seq_vp seq[SIDECAR_MAX_CPUS];
    struct mk_fault_case *c;
    uint64_t ipis;
};

static struct fctx fx;
static struct mk_guard guard;
static struct sidecar_host other;   /* the vanishing host, then the fresh one */

static bool fail(struct fctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct fctx *f, const char *fmt, ...)
{
    if (f->c->ok) {
        va_list ap;
        va_start(ap, fmt);
        sc_vsnprintf(f->c->error, sizeof(f->c->error), fmt, ap);
        va_end(ap);
    }
    f->c->ok = false;
    return false;
}

static uint64_t now_us(const struct fctx *f)
{
    uint64_t t = mk_rdtsc(), k = f->env->tsc_khz;
    return t / k * 1000 + t % k * 1000 / k;
}

static void delay(uint32_t pauses)
{
    while (pauses--)
        mk_pause();
}

/* ---- raw access to a CPU's pages (what any host can do) ---- */

static const struct sidecar_output_node *node_of(const struct fctx *f, uint32_t cpu, uint32_t *index)
{
    uint32_t n;
    if (sidecar_host_locate(f->h, cpu, &n, index))
        return 0;
    return &f->env->o->nodes[n];
}

static struct sidecar_control_page *control_of(const struct fctx *f, uint32_t cpu, uint32_t *index)
{
    const struct sidecar_output_node *on = node_of(f, cpu, index);
    return on ? (struct sidecar_control_page *)(uintptr_t)on->control_page : 0;
}

static void raw_status(const struct fctx *f, uint32_t cpu, uint8_t v)
{
    uint32_t i;
    struct sidecar_control_page *c = control_of(f, cpu, &i);
    if (c)
        sidecar_control_page_cpu_status_store(c, i, v);
}

static bool raw_cas(const struct fctx *f, uint32_t cpu, uint8_t from, uint8_t to)
{
    uint32_t i;
    struct sidecar_control_page *c = control_of(f, cpu, &i);
    sidecar_cpu_status_t expected = from;
    return c && sidecar_control_page_cpu_status_compare_exchange(c, i, &expected, to);
}

/* A spurious request IPI, as the host sends with a command. */
static void poke(struct fctx *f, uint32_t cpu)
{
    uint32_t i;
    struct sidecar_control_page *c = control_of(f, cpu, &i);
    uint32_t v = c ? sidecar_control_page_request_vector_load(c) : 0;
    if (v && v <= 0xff) {
        mk_send_ipi(f->p->cpus[cpu].apic_id, v);
        f->ipis++;
    }
}

static void random_bytes(struct fctx *f, volatile uint8_t *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        b[k] = (uint8_t)mk_rand(&f->rng);
}

/* Every byte of the command page. */
static void garbage_page(struct fctx *f, uint32_t cpu)
{
    random_bytes(f, (volatile uint8_t *)sidecar_host_command_page(f->h, cpu), SIDECAR_PAGE_SIZE);
}

/* Every field but cpu_context (the VP's registers, which the host owns
 * between runs): command, has_error, padding, intercept_message, error,
 * request_data, reserved. */
static void garbage_fields(struct fctx *f, uint32_t cpu)
{
    volatile uint8_t *b = (volatile uint8_t *)sidecar_host_command_page(f->h, cpu);
    const uint32_t ctx = offsetof(struct sidecar_command_page, cpu_context);
    const uint32_t after = offsetof(struct sidecar_command_page, intercept_message);
    random_bytes(f, b, ctx);
    random_bytes(f, b + after, SIDECAR_PAGE_SIZE - after);
}

static volatile uint8_t *request_data(struct fctx *f, uint32_t cpu)
{
    return sidecar_host_command_page(f->h, cpu)->request_data;
}

static bool ping_with(struct fctx *f, struct sidecar_host *h, uint32_t cpu, const char *when)
{
    int rc = sidecar_host_ping(h, cpu, T_NS);
    return rc ? fail(f, "cpu %u: ping %s: %s", cpu, when, sidecar_host_strerror(rc)) : true;
}

static bool ping_ok(struct fctx *f, uint32_t cpu, const char *when) { return ping_with(f, f->h, cpu, when); }

static bool acquire_targets(struct fctx *f)
{
    for (uint32_t k = 0; k < f->nt; k++) {
        int rc = sidecar_host_acquire(f->h, f->targets[k]);
        if (rc)
            return fail(f, "cpu %u: acquire: %s", f->targets[k], sidecar_host_strerror(rc));
    }
    return true;
}

static void release_targets(struct fctx *f)
{
    for (uint32_t k = 0; k < f->nt; k++)
        sidecar_host_release(f->h, f->targets[k]);
}

/* Waits (bounded) until the spinning guest's counter moves past `from`. */
static bool spins_past(struct fctx *f, uint32_t cpu, uint64_t from)
{
    volatile struct mk_seq_data *d = mk_seqg_data(f->p, cpu);
    uint64_t t0 = now_us(f);
    while (d->spins == from && now_us(f) - t0 < SPIN_WAIT_US)
        mk_pause();
    return d->spins != from;
}

/* Sets every target up for the sequence guest. */
static bool seq_setup_targets(struct fctx *f)
{
    for (uint32_t k = 0; k < f->nt; k++) {
        uint32_t cpu = f->targets[k];
        sc_memset(&f->seq[cpu], 0, sizeof(f->seq[cpu]));
        int rc = mk_seqg_setup(f->h, f->p, cpu);
        if (rc)
            return fail(f, "cpu %u: guest setup: %s", cpu, sidecar_host_strerror(rc));
    }
    return true;
}

/* Runs the guest without STOP until its OUT, then checks that the guest's
 * own count equals what the host saw. */
static bool seq_settle(struct fctx *f, struct sidecar_host *h, uint32_t cpu)
{
    struct mk_seq_vp *v = &f->seq[cpu];
    mk_seqg_data(f->p, cpu)->mode = MK_SEQ_EXIT;
    mk_seq_started(v);
    const char *why = mk_seqg_completed(h, cpu, sidecar_host_run_vp(h, cpu, T_NS), v);
    if (why)
        return fail(f, "%s", why);
    uint64_t g = mk_seqg_data(f->p, cpu)->seq;
    if (!mk_seq_consistent(v, g))
        return fail(f, "cpu %u: guest counted %lu runs, the host saw %lu OUTs, %lu starts, %lu completions", cpu,
                    g, v->seen, v->starts, v->completions);
    return true;
}

/* The computation on every target, with hooks. */
static bool compute_targets(struct fctx *f, struct sidecar_host *h, const struct mk_compute_hooks *hooks)
{
    static struct mk_compute_result cr;
    mk_compute_run(h, f->p, f->targets, f->nt, f->env->tsc_khz, hooks, &cr);
    if (!cr.ok || cr.passed != f->nt)
        return fail(f, "computation: %u/%u right: %s", cr.passed, f->nt, cr.error);
    return true;
}

/* ---- garbage ---- */

static const uint32_t real_registers[] = {
    SIDECAR_HV_REGISTER_NAME_RAX, SIDECAR_HV_REGISTER_NAME_RBX, SIDECAR_HV_REGISTER_NAME_R15,
    SIDECAR_HV_REGISTER_NAME_RIP, SIDECAR_HV_REGISTER_NAME_RSP, SIDECAR_HV_REGISTER_NAME_RFLAGS,
    SIDECAR_HV_REGISTER_NAME_XMM0, SIDECAR_HV_REGISTER_NAME_XMM15, SIDECAR_HV_REGISTER_NAME_FP_MMX0,
    SIDECAR_HV_REGISTER_NAME_CR2, SIDECAR_HV_REGISTER_NAME_CS, SIDECAR_HV_REGISTER_NAME_FS,
    SIDECAR_HV_REGISTER_NAME_GS, SIDECAR_HV_REGISTER_NAME_XMM_CONTROL_STATUS,
    SIDECAR_HV_REGISTER_NAME_FP_CONTROL_STATUS,
};

/* A register request of random content; half the time with a count in
 * range and real register names (with random values). */
static void garbage_registers(struct fctx *f, uint32_t cpu)
{
    volatile uint8_t *rd = request_data(f, cpu);
    random_bytes(f, rd, SIDECAR_REQUEST_DATA_SIZE);
    if (mk_rand(&f->rng) & 1)
        return;
    struct sidecar_get_set_vp_registers_request *req = (void *)(uintptr_t)rd;
    req->count = (uint16_t)mk_rand_below(&f->rng, SIDECAR_MAX_GET_SET_VP_REGISTERS + 1);
    for (uint32_t k = 0; k < req->count; k++)
        if (mk_rand(&f->rng) & 1)
            req->regs[k].name = real_registers[mk_rand_below(&f->rng, SC_ARRAY_SIZE(real_registers))];
}

/* One command on garbage: allowed results only. */
static bool garbage_command(struct fctx *f, uint32_t cpu, uint32_t command)
{
    int rc = sidecar_host_run_command(f->h, cpu, command, command == SIDECAR_COMMAND_RUN_VP ? T_RUN_NS : T_NS);
    if (rc == SIDECAR_HOST_E_TIMEOUT && command == SIDECAR_COMMAND_RUN_VP) {
        /* A garbage RIP can land in a loop in guest RAM: stop it. */
        sidecar_host_stop(f->h, cpu);
        rc = sidecar_host_wait(f->h, cpu, T_NS);
    }
    bool run = command == SIDECAR_COMMAND_RUN_VP;
    if (rc == SIDECAR_HOST_E_COMMAND) {
        char text[SIDECAR_ERROR_TEXT_SIZE + 1];
        if (!sidecar_host_error_text(f->h, cpu, text, sizeof(text)))
            return fail(f, "cpu %u: command %u failed without an error text", cpu, command);
        f->c->a++;
        return true;
    }
    if (rc == SIDECAR_HOST_OK || (run && (rc == SIDECAR_HOST_RUN_INTERCEPT || rc == SIDECAR_HOST_RUN_STOPPED))) {
        f->c->b++;
        return true;
    }
    return fail(f, "cpu %u: command %u on garbage: %s", cpu, command, sidecar_host_strerror(rc));
}

static void between_garbage(void *ctx, uint32_t cpu)
{
    struct fctx *f = ctx;
    garbage_fields(f, cpu);
    poke(f, cpu);
}

static void case_garbage(struct fctx *f)
{
    f->c->ka = "refused";
    f->c->kb = "served";
    if (!acquire_targets(f))
        goto out;
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++) {
        uint32_t cpu = f->targets[k];
        for (uint32_t round = 0; round < GARBAGE_ROUNDS && f->c->ok; round++) {
            f->c->iterations++;
            garbage_page(f, cpu);
            poke(f, cpu);
            /* An unknown command code: refused with a text. */
            uint32_t code = (uint32_t)mk_rand(&f->rng);
            if (code <= SIDECAR_COMMAND_TRANSLATE_GVA)
                code += 0x100;
            int rc = sidecar_host_run_command(f->h, cpu, code, T_NS);
            if (rc != SIDECAR_HOST_E_COMMAND) {
                fail(f, "cpu %u: command code %u: %s, expected refused", cpu, code, sidecar_host_strerror(rc));
                break;
            }
            f->c->a++;
            garbage_registers(f, cpu);
            garbage_command(f, cpu, SIDECAR_COMMAND_GET_VP_REGISTERS);
            garbage_registers(f, cpu);
            garbage_command(f, cpu, SIDECAR_COMMAND_SET_VP_REGISTERS);
            random_bytes(f, request_data(f, cpu), SIDECAR_REQUEST_DATA_SIZE);
            garbage_command(f, cpu, SIDECAR_COMMAND_TRANSLATE_GVA);
            /* A run from a garbage context (and whatever the SET did). */
            garbage_page(f, cpu);
            garbage_command(f, cpu, SIDECAR_COMMAND_RUN_VP);
            garbage_page(f, cpu);
            ping_ok(f, cpu, "after garbage");
        }
    }
    release_targets(f);
    if (!f->c->ok)
        goto out;
    /* Then real work, with garbage in every field but the registers
     * between its runs: every result must be right. */
    for (uint32_t k = 0; k < f->nt; k++)
        garbage_page(f, f->targets[k]);
    struct mk_compute_hooks hooks = { f, between_garbage, 0 };
    compute_targets(f, f->h, &hooks);
out:
    return;
}

/* ---- impossible status bytes ---- */

static void case_status(struct fctx *f)
{
    f->c->ka = "values";
    f->c->kb = "refused_calls";
    if (!acquire_targets(f) || !seq_setup_targets(f))
        goto out;
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++) {
        uint32_t cpu = f->targets[k];
        for (uint32_t v = STATUS_FIRST_IMPOSSIBLE; v <= 0xff && f->c->ok; v++) {
            f->c->iterations++;
            raw_status(f, cpu, (uint8_t)v);
            poke(f, cpu);
            int rcs[5] = {
                sidecar_host_ping(f->h, cpu, T_NS), sidecar_host_run_vp_start(f->h, cpu),
                sidecar_host_remove(f->h, cpu, T_NS), sidecar_host_stop(f->h, cpu),
                sidecar_host_wait(f->h, cpu, T_NS),
            };
            for (int i = 0; i < 5; i++) {
                if (rcs[i] != SIDECAR_HOST_E_STATE) {
                    fail(f, "cpu %u: status %u: call %d gave %s, expected E_STATE", cpu, v, i,
                         sidecar_host_strerror(rcs[i]));
                    break;
                }
                f->c->b++;
            }
            /* The sidecar left it alone (it has seen the IPI by now: the
             * calls above took far longer than a wake-up). */
            if (sidecar_host_cpu_status(f->h, cpu) != (int)v)
                fail(f, "cpu %u: status %u became %d", cpu, v, sidecar_host_cpu_status(f->h, cpu));
            raw_status(f, cpu, SIDECAR_CPU_STATUS_IDLE);
            ping_ok(f, cpu, "after restoring IDLE");
        }
        f->c->a = STATUS_FIRST_IMPOSSIBLE <= 0xff ? 0x100 - STATUS_FIRST_IMPOSSIBLE : 0;
        if (!f->c->ok)
            break;
        /* During a run: the guest spins on (the byte is not STOP), the
         * host sees E_STATE, and RUN restored + STOP ends the run. */
        mk_seqg_data(f->p, cpu)->mode = MK_SEQ_SPIN;
        int rc = sidecar_host_run_vp_start(f->h, cpu);
        if (rc || !spins_past(f, cpu, 0)) {
            fail(f, "cpu %u: spinning run: %s", cpu, rc ? sidecar_host_strerror(rc) : "never ran");
            sidecar_host_stop(f->h, cpu);
            sidecar_host_wait(f->h, cpu, T_NS);
            break;
        }
        raw_status(f, cpu, 0x99);
        poke(f, cpu);
        uint64_t s = mk_seqg_data(f->p, cpu)->spins;
        if (!spins_past(f, cpu, s))
            fail(f, "cpu %u: the guest stopped when its status became 0x99", cpu);
        rc = sidecar_host_wait(f->h, cpu, 0);
        if (rc != SIDECAR_HOST_E_STATE)
            fail(f, "cpu %u: wait during status 0x99: %s", cpu, sidecar_host_strerror(rc));
        raw_status(f, cpu, SIDECAR_CPU_STATUS_RUN);
        sidecar_host_stop(f->h, cpu);
        rc = sidecar_host_wait(f->h, cpu, T_NS);
        if (rc != SIDECAR_HOST_RUN_STOPPED)
            fail(f, "cpu %u: the run after RUN was restored ended with %s", cpu, sidecar_host_strerror(rc));
        mk_seqg_data(f->p, cpu)->mode = MK_SEQ_EXIT;
        ping_ok(f, cpu, "after the run");
    }
out:
    release_targets(f);
}

/* ---- IPI storms ---- */

static void storm_all(void *ctx)
{
    struct fctx *f = ctx;
    for (uint32_t k = 0; k < f->nt; k++)
        poke(f, f->targets[k]);
}

static void case_ipi(struct fctx *f)
{
    f->c->ka = "ipis";
    f->c->kb = "spin_stops";
    uint64_t ipis0 = f->ipis;
    /* Idle. */
    for (uint32_t n = 0; n < IDLE_STORM; n++)
        storm_all(f);
    if (!acquire_targets(f))
        goto out;
    for (uint32_t k = 0; k < f->nt; k++) {
        if (sidecar_host_cpu_status(f->h, f->targets[k]) != SIDECAR_CPU_STATUS_IDLE)
            fail(f, "cpu %u: status %d after the idle storm", f->targets[k],
                 sidecar_host_cpu_status(f->h, f->targets[k]));
        ping_ok(f, f->targets[k], "after the idle storm");
    }
    release_targets(f);
    if (!f->c->ok)
        goto out;
    /* During a computation: an IPI to every target at every look. */
    struct mk_compute_hooks hooks = { f, 0, storm_all };
    compute_targets(f, f->h, &hooks);
    /* During spinning runs: the run goes on until the real STOP. */
    if (!acquire_targets(f) || !seq_setup_targets(f))
        goto out;
    for (uint32_t k = 0; k < f->nt; k++) {
        uint32_t cpu = f->targets[k];
        mk_seqg_data(f->p, cpu)->mode = MK_SEQ_SPIN;
        int rc = sidecar_host_run_vp_start(f->h, cpu);
        if (rc)
            fail(f, "cpu %u: start: %s", cpu, sidecar_host_strerror(rc));
        else
            mk_seq_started(&f->seq[cpu]);
    }
    for (uint32_t n = 0; n < SPIN_STORM && f->c->ok; n++) {
        storm_all(f);
        struct sidecar_host_completion d;
        int rc = sidecar_host_wait_any(f->h, 0, &d);
        if (rc != SIDECAR_HOST_E_TIMEOUT)
            fail(f, "a spinning run ended under the storm: %s (cpu %u)", sidecar_host_strerror(rc), d.cpu);
    }
    for (uint32_t k = 0; k < f->nt; k++) {
        uint32_t cpu = f->targets[k];
        if (!spins_past(f, cpu, 0))
            fail(f, "cpu %u: the guest never spun", cpu);
        sidecar_host_stop(f->h, cpu);
    }
    for (uint32_t k = 0; k < f->nt; k++) {
        struct sidecar_host_completion d;
        int rc = sidecar_host_wait_any(f->h, T_NS, &d);
        if (rc) {
            fail(f, "collecting the stopped runs: %s", sidecar_host_strerror(rc));
            break;
        }
        const char *why = mk_seqg_completed(f->h, d.cpu, d.result, &f->seq[d.cpu]);
        if (why)
            fail(f, "%s", why);
        else if (d.result == SIDECAR_HOST_RUN_STOPPED)
            f->c->b++;
    }
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++)
        seq_settle(f, f->h, f->targets[k]);
    release_targets(f);
out:
    f->c->a = f->ipis - ipis0;
    f->c->iterations = IDLE_STORM + SPIN_STORM;
}

/* ---- STOP racing the completion ---- */

static void case_stop_race(struct fctx *f)
{
    f->c->ka = "intercepts";
    f->c->kb = "stopped";
    uint32_t spread = 1;
    if (!acquire_targets(f) || !seq_setup_targets(f))
        goto out;
    for (uint32_t it = 0; it < f->env->iterations && f->c->ok; it++) {
        f->c->iterations++;
        /* Each start followed by its STOP after a random delay: before
         * the VP enters, while it runs, or after it ended (then the STOP
         * is a no-op). */
        for (uint32_t k = 0; k < f->nt; k++) {
            uint32_t cpu = f->targets[k];
            int rc = sidecar_host_run_vp_start(f->h, cpu);
            if (rc) {
                fail(f, "cpu %u: start: %s", cpu, sidecar_host_strerror(rc));
                break;
            }
            mk_seq_started(&f->seq[cpu]);
            delay(mk_rand_below(&f->rng, spread));
            sidecar_host_stop(f->h, cpu);
        }
        /* Exactly one completion per start. */
        for (uint32_t k = 0; k < f->nt && f->c->ok; k++) {
            struct sidecar_host_completion d;
            int rc = sidecar_host_wait_any(f->h, T_NS, &d);
            if (rc) {
                fail(f, "iteration %u: %s with %u runs started", it, sidecar_host_strerror(rc), f->nt);
                break;
            }
            if (d.cpu >= SIDECAR_MAX_CPUS || !f->is_target[d.cpu]) {
                fail(f, "a completion for cpu %u, which runs nothing", d.cpu);
                break;
            }
            const char *why = mk_seqg_completed(f->h, d.cpu, d.result, &f->seq[d.cpu]);
            if (why)
                fail(f, "%s", why);
            else if (d.result == SIDECAR_HOST_RUN_STOPPED)
                f->c->b++;
            else
                f->c->a++;
        }
        struct sidecar_host_completion d;
        int rc = sidecar_host_wait_any(f->h, 0, &d);
        if (rc != SIDECAR_HOST_E_NOTHING)
            fail(f, "iteration %u: an extra completion (%s, cpu %u)", it, sidecar_host_strerror(rc), d.cpu);
        /* Move the window: later while the STOPs mostly win (they came
         * before the VP entered), earlier while they mostly come after the
         * OUT: both outcomes keep happening. */
        spread = f->c->b > f->c->a ? spread * 2 : spread > 1 ? spread / 2 : 1;
        if (spread > 1u << 16)
            spread = 1u << 16;
    }
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++)
        seq_settle(f, f->h, f->targets[k]);
out:
    release_targets(f);
}

/* ---- a host that disappears, and a fresh one ---- */

static void case_reconnect(struct fctx *f)
{
    f->c->ka = "recovered_running";
    f->c->kb = "recovered_idle";
    f->c->iterations = 1;
    struct sidecar_host *old = &other;
    int rc = f->env->open(old);
    if (rc) {
        fail(f, "opening the first host: %s", sidecar_host_strerror(rc));
        return;
    }
    /* The old host: every target acquired; even ones spin (an async run
     * that never ends by itself), odd ones get an exit-at-once run
     * started synchronously with no time to finish (it ends in the
     * sidecar, nobody collects it). */
    for (uint32_t k = 0; k < f->nt; k++) {
        uint32_t cpu = f->targets[k];
        if ((rc = sidecar_host_acquire(old, cpu)) != 0 || (rc = mk_seqg_setup(old, f->p, cpu)) != 0) {
            fail(f, "cpu %u: the first host: %s", cpu, sidecar_host_strerror(rc));
            return;
        }
        sc_memset(&f->seq[cpu], 0, sizeof(f->seq[cpu]));
        mk_seqg_data(f->p, cpu)->mode = k % 2 ? MK_SEQ_EXIT : MK_SEQ_SPIN;
        rc = k % 2 ? sidecar_host_run_command(old, cpu, SIDECAR_COMMAND_RUN_VP, 0) : sidecar_host_run_vp_start(old, cpu);
        if (rc && rc != SIDECAR_HOST_E_TIMEOUT && rc != SIDECAR_HOST_RUN_INTERCEPT) {
            fail(f, "cpu %u: the first host's run: %s", cpu, sidecar_host_strerror(rc));
            return;
        }
    }
    for (uint32_t k = 0; k < f->nt; k += 2)
        if (!spins_past(f, f->targets[k], 0))
            fail(f, "cpu %u: the guest never spun", f->targets[k]);
    /* The old host is gone: its handle (acquire flags, pending runs) with
     * it. A fresh host opens the same pages. */
    sc_memset(old, 0xa5, sizeof(*old));
    struct sidecar_host *fresh = old;
    rc = f->env->open(fresh);
    if (rc) {
        fail(f, "the fresh host cannot open the pages: %s", sidecar_host_strerror(rc));
        return;
    }
    /* What it must do (docs/robustness.md): for every sidecar CPU, read
     * the status. RUN or STOP: a command of the old host is running:
     * STOP it and wait for IDLE (the result is the old host's and is
     * dropped: wait returns OK, the intercept accessors have nothing).
     * IDLE: usable; anything the old host left in the command page is
     * overwritten by the next command. */
    for (uint32_t k = 0; k < f->nt; k++) {
        uint32_t cpu = f->targets[k];
        if ((rc = sidecar_host_acquire(fresh, cpu)) != 0) {
            fail(f, "cpu %u: the fresh host cannot acquire it: %s", cpu, sidecar_host_strerror(rc));
            continue;
        }
        int s = sidecar_host_cpu_status(fresh, cpu);
        if (s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP) {
            sidecar_host_stop(fresh, cpu);
            rc = sidecar_host_wait(fresh, cpu, T_NS);
            if (rc != SIDECAR_HOST_OK)
                fail(f, "cpu %u: recovering a running CPU: %s", cpu, sidecar_host_strerror(rc));
            f->c->a++;
        } else if (s == SIDECAR_CPU_STATUS_IDLE) {
            f->c->b++;
        } else {
            fail(f, "cpu %u: status %d after the old host left", cpu, s);
        }
        if (k % 2 == 0 && sidecar_host_cpu_status(fresh, cpu) == SIDECAR_CPU_STATUS_IDLE) {
            /* The spinning guest really stopped. */
            uint64_t s0 = mk_seqg_data(f->p, cpu)->spins;
            delay(20000);
            if (mk_seqg_data(f->p, cpu)->spins != s0)
                fail(f, "cpu %u: the guest still spins after the recovery", cpu);
        }
        ping_with(f, fresh, cpu, "by the fresh host");
    }
    /* And carries on: its own runs, registers, the computation. */
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++) {
        uint32_t cpu = f->targets[k];
        /* What the old host saw is gone; the guest's count stands in. */
        uint64_t g = mk_seqg_data(f->p, cpu)->seq;
        f->seq[cpu] = (struct mk_seq_vp){ g, g, g, g, 0, false };
        if (mk_seqg_data(f->p, cpu)->seq && sidecar_host_cpu_status(fresh, cpu) == SIDECAR_CPU_STATUS_IDLE) {
            /* The exit-at-once guests ended in their OUT (the old host's
             * intercept): step over it as that host would have. */
            struct sidecar_hv_register_assoc a;
            sc_memset(&a, 0, sizeof(a));
            a.name = SIDECAR_HV_REGISTER_NAME_RIP;
            if (!sidecar_host_get_registers(fresh, cpu, 0, &a, 1, T_NS, 0) && a.value.low == mk_seqg_out_rip(f->p)) {
                a.value.low += 2;
                sidecar_host_set_registers(fresh, cpu, 0, &a, 1, T_NS, 0);
            }
        }
        for (uint32_t n = 0; n < 8 && f->c->ok; n++)
            seq_settle(f, fresh, cpu);
    }
    for (uint32_t k = 0; k < f->nt; k++)
        sidecar_host_release(fresh, f->targets[k]);
    if (f->c->ok)
        compute_targets(f, fresh, 0);
    sidecar_host_close(fresh);
}

/* ---- REMOVE racing the completion ---- */

static void case_remove_race(struct fctx *f)
{
    f->c->ka = "remove_lost";
    f->c->kb = "remove_won";
    if (!acquire_targets(f) || !seq_setup_targets(f))
        goto out;
    for (uint32_t k = 0; k < f->nt && f->c->ok; k++) {
        uint32_t cpu = f->targets[k];
        struct mk_seq_vp *v = &f->seq[cpu];
        volatile struct mk_seq_data *d = mk_seqg_data(f->p, cpu);
        for (uint32_t it = 0; it < f->env->iterations && f->c->ok; it++) {
            f->c->iterations++;
            /* A synchronous run with no time to wait: it stays in flight,
             * the guest spinning until the host lets it end (mode EXIT). */
            d->mode = MK_SEQ_SPIN;
            uint64_t s0 = d->spins;
            mk_seq_started(v);
            int rc = sidecar_host_run_command(f->h, cpu, SIDECAR_COMMAND_RUN_VP, 0);
            if (rc != SIDECAR_HOST_E_TIMEOUT) {
                fail(f, "cpu %u: a spinning run ended at once: %s", cpu, sidecar_host_strerror(rc));
                break;
            }
            if (!spins_past(f, cpu, s0)) {
                fail(f, "cpu %u: the guest never spun", cpu);
                break;
            }
            /* libsidecar-host never lets a REMOVE overtake a command it
             * has not collected. */
            rc = sidecar_host_remove(f->h, cpu, T_NS);
            if (rc != SIDECAR_HOST_E_BUSY) {
                fail(f, "cpu %u: REMOVE with a run not collected: %s, expected busy", cpu,
                     sidecar_host_strerror(rc));
                break;
            }
            /* The protocol race itself, as a host without that bookkeeping
             * would run it: IDLE -> REMOVE at a growing delay after the
             * guest was let go, racing the sidecar's RUN -> IDLE. */
            d->mode = MK_SEQ_EXIT;
            delay(mk_rand_below(&f->rng, 1 + it / 4));   /* later and later, at random */
            if (!raw_cas(f, cpu, SIDECAR_CPU_STATUS_IDLE, SIDECAR_CPU_STATUS_REMOVE)) {
                /* Lost: the run is still going; it completes normally. */
                f->c->a++;
                const char *why = mk_seqg_completed(f->h, cpu, sidecar_host_wait(f->h, cpu, T_NS), v);
                if (why)
                    fail(f, "%s", why);
                continue;
            }
            /* Won: the run had completed; the sidecar leaves (REMOVED) and
             * the completed run's answer is still in its command page. */
            f->c->b++;
            poke(f, cpu);
            uint64_t t0 = now_us(f);
            while (sidecar_host_cpu_status(f->h, cpu) == SIDECAR_CPU_STATUS_REMOVE && now_us(f) - t0 < 2000000)
                mk_pause();
            const struct sidecar_command_page *c = sidecar_host_command_page(f->h, cpu);
            const struct sidecar_hv_x64_io_port_intercept_message *io = (const void *)c->intercept_message.payload;
            if (sidecar_host_cpu_status(f->h, cpu) != SIDECAR_CPU_STATUS_REMOVED)
                fail(f, "cpu %u: status %d after REMOVE", cpu, sidecar_host_cpu_status(f->h, cpu));
            else if (c->has_error || c->request_data[0] != 1 ||
                     c->intercept_message.header.message_type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT ||
                     io->port_number != MK_SEQ_PORT || (uint32_t)io->rax != (uint32_t)(v->seen + 1) ||
                     d->seq != v->seen + 1)
                fail(f, "cpu %u: the run before the REMOVE: error %u, answer %u, seq %lu (host saw %lu)", cpu,
                     c->has_error, c->request_data[0], d->seq, v->seen);
            else if ((rc = sidecar_host_ping(f->h, cpu, T_NS)) != SIDECAR_HOST_E_REMOVED)
                fail(f, "cpu %u: a command after REMOVED: %s", cpu, sidecar_host_strerror(rc));
            f->removed[cpu] = true;
            break;
        }
        if (!f->removed[cpu] && f->c->ok)
            seq_settle(f, f->h, cpu);
    }
out:
    release_targets(f);
}

/* ---- the driver ---- */

static void (*const cases[MK_FAULT_CASES])(struct fctx *) = {
    case_garbage, case_status, case_ipi, case_stop_race, case_reconnect, case_remove_race,
};

void mk_faults_run(const struct mk_faults_env *env, uint32_t mask, struct mk_faults_result *r)
{
    struct fctx *f = &fx;
    sc_memset(r, 0, sizeof(*r));
    sc_memset(f, 0, sizeof(*f));
    f->env = env;
    f->h = env->h;
    f->p = env->p;
    f->rng = 0x5eed5eed12345678ull;
    r->ok = true;
    r->bystanders_ok = true;
    const struct sidecar_params *p = env->p;
    for (uint32_t c = 0, k = 0; c < p->cpu_count && c < SIDECAR_MAX_CPUS; c++) {
        if (p->cpus[c].role != SIDECAR_CPU_ROLE_SIDECAR || env->o->cpus[c].status != SIDECAR_CPU_STATUS_IDLE)
            continue;
        if (k++ % 2 == 0) {
            f->targets[f->nt++] = c;
            f->is_target[c] = true;
        } else {
            f->bystanders[f->nb++] = c;
        }
    }
    r->targets = f->nt;
    r->bystanders = f->nb;
    if (!f->nt || !mk_seqg_load(p)) {
        r->ok = false;
        sc_snprintf(r->error, sizeof(r->error), "%s", f->nt ? "guest RAM too small" : "no sidecar CPU to test");
        return;
    }
    r->unused_pages = mk_guard_fill_unused(p, env->o);
    r->filled_bytes = mk_canary_fill(env->handoff, env->image_start, env->image_end);
    for (unsigned i = 0; i < MK_FAULT_CASES; i++) {
        if (!(mask & (1u << i)))
            continue;
        struct mk_fault_case *c = &r->c[i];
        f->c = c;
        c->ran = true;
        c->ok = true;
        c->cpus = f->nt;
        mk_guard_snapshot(&guard, env->handoff, p, env->o, f->is_target);
        r->guard_regions = guard.count;
        r->guard_bytes = guard.bytes;
        cases[i](f);
        if (env->touch_bystander && f->nb) {
            /* The test of the test: one byte of a bystander's page. */
            volatile uint8_t *b = (volatile uint8_t *)sidecar_host_command_page(f->h, f->bystanders[0]);
            b[SIDECAR_PAGE_SIZE - 1] ^= 1;
        }
        char err[128];
        c->guard_ok = mk_guard_check(&guard, err, sizeof(err));
        if (!c->guard_ok)
            fail(f, "%s", err);
        /* The bystanders answer. */
        for (uint32_t k = 0; k < f->nb; k++) {
            uint32_t cpu = f->bystanders[k];
            int rc = sidecar_host_acquire(f->h, cpu);
            if (!rc) {
                rc = sidecar_host_ping(f->h, cpu, T_NS);
                sidecar_host_release(f->h, cpu);
            }
            if (rc) {
                r->bystanders_ok = false;
                fail(f, "bystander cpu %u: %s", cpu, sidecar_host_strerror(rc));
            }
        }
        r->ok = r->ok && c->ok;
    }
    r->fill_bad = mk_canary_verify_fill(env->handoff, env->image_start, env->image_end);
    r->fill_ok = !r->fill_bad;
    r->ok = r->ok && r->fill_ok && r->bystanders_ok;
}

/* ---- the scenario (mk.faults; scenarios.def) ---- */

static struct mk_faults_result fr;

/* The fault tests (last: remove_race takes CPUs out of sidecar). */
bool mk_faults_scenario_run(struct mk_ctx *ctx)
{
    uint64_t khz = ctx->tsc_khz;
    struct mk_faults_env fe = { ctx->host, ctx->handoff, ctx->params, ctx->output, khz, mk_image_start(),
                                mk_image_end(), ctx->opt->fault_iters, ctx->opt->touch_sidecar,
                                mk_host_open_other };
    uint64_t t0 = mk_rdtsc();
    mk_faults_run(&fe, ctx->opt->faults, &fr);
    mk_out("main: fault tests on %u targets (%u bystanders), %lu us: %s%s%s\n", fr.targets, fr.bystanders,
           (mk_rdtsc() - t0) * 1000 / khz, fr.ok ? "ok" : "FAILED", fr.error[0] ? ": " : "", fr.error);
    for (unsigned i = 0; i < MK_FAULT_CASES; i++) {
        const struct mk_fault_case *c = &fr.c[i];
        if (c->ran)
            mk_out("main:   %s %s: %lu iterations, %s %lu, %s %lu, guard %s%s%s\n", mk_fault_name(i),
                   c->ok ? "ok" : "FAILED", c->iterations, c->ka ? c->ka : "-", c->a, c->kb ? c->kb : "-", c->b,
                   c->guard_ok ? "ok" : "CHANGED", c->error[0] ? ": " : "", c->error);
    }
    mk_out("main:   guard: %u regions, %lu bytes; %u unused node pages patterned; main-kernel memory "
           "(%lu bytes filled) %s\n", fr.guard_regions, fr.guard_bytes, fr.unused_pages, fr.filled_bytes,
           fr.fill_ok ? "untouched" : "CHANGED");
    if (!fr.fill_ok)
        mk_out("main:   main-kernel memory changed at %lx\n", fr.fill_bad);
    return fr.ok;
}

void mk_faults_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"targets\":%u,\"bystanders\":%u,\"bystanders_ok\":%s,"
           "\"guard_regions\":%u,\"guard_bytes\":%lu,\"unused_pages\":%u,\"filled_bytes\":%lu,"
           "\"fill_ok\":%s,\"error\":\"%s\",\"cases\":{",
           fr.ok ? "true" : "false", fr.targets, fr.bystanders, fr.bystanders_ok ? "true" : "false",
           fr.guard_regions, fr.guard_bytes, fr.unused_pages, fr.filled_bytes, fr.fill_ok ? "true" : "false",
           fr.error);
    for (unsigned i = 0, first = 1; i < MK_FAULT_CASES; i++) {
        const struct mk_fault_case *c = &fr.c[i];
        if (!c->ran)
            continue;
        mk_out("%s\"%s\":{\"ok\":%s,\"cpus\":%u,\"iterations\":%lu,\"%s\":%lu,\"%s\":%lu,\"guard\":%s,"
               "\"error\":\"%s\"}", first ? "" : ",", mk_fault_name(i), c->ok ? "true" : "false", c->cpus,
               c->iterations, c->ka ? c->ka : "a", c->a, c->kb ? c->kb : "b", c->b,
               c->guard_ok ? "true" : "false", c->error);
        first = 0;
    }
    mk_out("}}");
}
