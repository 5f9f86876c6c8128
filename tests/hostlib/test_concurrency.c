/* SPDX-License-Identifier: MIT */
/* libsidecar-host over the simulator, many threads at once: synchronous
 * runs on all CPUs, STOP racing completion, a stress test of 10^5 async
 * runs across 64 CPUs (no completion lost or reported twice), and a
 * 1024-CPU simulator. Nothing here asserts timing. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "common.h"

/* ---- synchronous runs from several threads --------------------------------- */

struct worker {
    struct fixture *f;
    uint32_t first, count, rounds;
    int failures;
};

static void *sync_worker(void *arg)
{
    struct worker *w = arg;
    for (uint32_t r = 0; r < w->rounds; r++) {
        for (uint32_t c = w->first; c < w->first + w->count; c++) {
            struct sidecar_hv_register_assoc a = reg(SIDECAR_HV_REGISTER_NAME_R9, r);
            if (sidecar_host_set_registers(&w->f->host, c, 0, &a, 1, T_LONG, NULL) ||
                sidecar_host_run_vp(&w->f->host, c, T_LONG) != SIDECAR_HOST_RUN_INTERCEPT)
                w->failures++;
            struct sidecar_hv_x64_intercept_message_header hdr;
            if (sidecar_host_intercept_header(&w->f->host, c, &hdr) || hdr.vp_index != c)
                w->failures++;
        }
    }
    return NULL;
}

Test(concurrency, sync_runs_on_all_cpus_from_several_threads, .timeout = 120)
{
    struct fixture *f = fixture_open(2, 16, false);
    enum { THREADS = 4, ROUNDS = 200 };
    struct worker w[THREADS];
    pthread_t t[THREADS];
    for (uint32_t c = 0; c < 32; c++)
        cr_assert_eq(sidecar_host_acquire(&f->host, c), 0);
    for (int k = 0; k < THREADS; k++) {
        w[k] = (struct worker){ f, (uint32_t)k * 8, 8, ROUNDS, 0 };
        cr_assert_eq(pthread_create(&t[k], NULL, sync_worker, &w[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(t[k], NULL);
        cr_assert_eq(w[k].failures, 0, "thread %d", k);
    }
    for (uint32_t c = 0; c < 32; c++) {
        cr_assert_eq(sidecar_host_sim_commands(f->sim, c), 2 * ROUNDS, "CPU %u", c);
        struct sidecar_hv_register_value v;
        sidecar_host_sim_peek_register(f->sim, c, SIDECAR_HV_REGISTER_NAME_R9, &v);
        cr_assert_eq(v.low, ROUNDS - 1);
    }
    fixture_close(f);
}

Test(concurrency, spinning_sim_sync_and_async, .timeout = 120)
{
    /* Both sides spin before they sleep (as in the benchmark): the same
     * answers, every wake-up still delivered. */
    struct sidecar_host_sim_config cfg = { .node_count = 1, .cpus_per_node = 4, .spin_ns = 200000 };
    struct fixture *f = fixture_open_config(&cfg);
    for (uint32_t c = 0; c < 4; c++)
        cr_assert_eq(sidecar_host_acquire(&f->host, c), 0);
    for (int k = 0; k < 2000; k++) {
        cr_assert_eq(sidecar_host_ping(&f->host, k % 4, T_LONG), 0);
        cr_assert_eq(sidecar_host_run_vp(&f->host, (k + 1) % 4, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    }
    for (int k = 0; k < 500; k++) {
        for (uint32_t c = 0; c < 4; c++)
            cr_assert_eq(sidecar_host_run_vp_start(&f->host, c), 0);
        for (uint32_t c = 0; c < 4; c++) {
            struct sidecar_host_completion d;
            cr_assert_eq(sidecar_host_wait_any(&f->host, T_LONG, &d), 0);
            cr_assert_eq(d.result, SIDECAR_HOST_RUN_INTERCEPT);
        }
        if (k % 50 == 0)
            usleep(300);   /* let both sides fall asleep now and then */
    }
    fixture_close(f);
}

/* ---- STOP racing completion ------------------------------------------------ */

struct racer {
    struct fixture *f;
    uint32_t cpu, rounds;
    uint32_t intercepts, stops, failures;
};

static void *race_worker(void *arg)
{
    struct racer *r = arg;
    struct sidecar_host *h = &r->f->host;
    for (uint32_t k = 0; k < r->rounds; k++) {
        if (sidecar_host_run_vp_start(h, r->cpu)) {
            r->failures++;
            continue;
        }
        /* Stop at once, or after a little while: both orders happen. */
        for (uint32_t spin = 0; spin < (k % 7) * 50; spin++)
            __builtin_ia32_pause();
        if (sidecar_host_stop(h, r->cpu))
            r->failures++;
        int rc = sidecar_host_wait(h, r->cpu, T_LONG);
        if (rc == SIDECAR_HOST_RUN_INTERCEPT)
            r->intercepts++;
        else if (rc == SIDECAR_HOST_RUN_STOPPED)
            r->stops++;
        else
            r->failures++;
        if (sidecar_host_cpu_status(h, r->cpu) != SIDECAR_CPU_STATUS_IDLE)
            r->failures++;
    }
    return NULL;
}

Test(concurrency, stop_racing_completion, .timeout = 120)
{
    struct fixture *f = fixture_open(1, 4, false);
    enum { ROUNDS = 3000 };
    struct racer r[4];
    pthread_t t[4];
    for (uint32_t c = 0; c < 4; c++) {
        /* Each intercept consumes one step; a stop that wins consumes none. */
        struct sidecar_host_sim_step s;
        sidecar_host_sim_step_halt(&s);
        s.repeat = ROUNDS;
        cr_assert_eq(sidecar_host_sim_script(f->sim, c, &s, 1), 0);
        cr_assert_eq(sidecar_host_acquire(&f->host, c), 0);
        r[c] = (struct racer){ f, c, ROUNDS, 0, 0, 0 };
        cr_assert_eq(pthread_create(&t[c], NULL, race_worker, &r[c]), 0);
    }
    for (uint32_t c = 0; c < 4; c++) {
        pthread_join(t[c], NULL);
        cr_assert_eq(r[c].failures, 0, "CPU %u", c);
        cr_assert_eq(r[c].intercepts + r[c].stops, ROUNDS);
        cr_assert_eq(sidecar_host_sim_script_left(f->sim, c), ROUNDS - r[c].intercepts,
                     "CPU %u: every intercept reported is a step used, and only those", c);
        cr_log_info("CPU %u: %u intercepts, %u stops", c, r[c].intercepts, r[c].stops);
    }
    fixture_close(f);
}

/* ---- stress: 10^5 async runs over 64 CPUs, any thread collects any --------- */

enum { STRESS_CPUS = 64, STRESS_TOTAL = 100000, STRESS_THREADS = 4 };

struct stress {
    struct fixture *f;
    int64_t budget;                    /* starts left */
    uint64_t completed;
    uint8_t inflight[STRESS_CPUS];
    uint64_t starts[STRESS_CPUS], ends[STRESS_CPUS];
    uint32_t duplicates, bad_results, start_failures, timeouts;
};

static void stress_start(struct stress *s, uint32_t cpu)
{
    if (__atomic_sub_fetch(&s->budget, 1, __ATOMIC_ACQ_REL) < 0)
        return;
    __atomic_store_n(&s->inflight[cpu], 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&s->starts[cpu], 1, __ATOMIC_RELAXED);
    if (sidecar_host_run_vp_start(&s->f->host, cpu)) {
        __atomic_add_fetch(&s->start_failures, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->completed, 1, __ATOMIC_RELAXED);   /* do not wait for it */
    }
}

static void *stress_worker(void *arg)
{
    struct stress *s = arg;
    while (__atomic_load_n(&s->completed, __ATOMIC_ACQUIRE) < STRESS_TOTAL) {
        struct sidecar_host_completion d;
        int rc = sidecar_host_wait_any(&s->f->host, 200000000ull, &d);
        if (rc == SIDECAR_HOST_E_NOTHING || rc == SIDECAR_HOST_E_TIMEOUT) {
            /* Another thread is between a claim and its restart, or done. */
            if (rc == SIDECAR_HOST_E_TIMEOUT)
                __atomic_add_fetch(&s->timeouts, 1, __ATOMIC_RELAXED);
            sched_yield();
            continue;
        }
        if (rc || d.cpu >= STRESS_CPUS) {
            __atomic_add_fetch(&s->bad_results, 1, __ATOMIC_RELAXED);
            continue;
        }
        uint8_t one = 1;
        if (!__atomic_compare_exchange_n(&s->inflight[d.cpu], &one, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            __atomic_add_fetch(&s->duplicates, 1, __ATOMIC_RELAXED);
        if (d.result != SIDECAR_HOST_RUN_INTERCEPT)
            __atomic_add_fetch(&s->bad_results, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->ends[d.cpu], 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->completed, 1, __ATOMIC_RELEASE);
        stress_start(s, d.cpu);
    }
    return NULL;
}

Test(concurrency, stress_async_runs_none_lost_or_duplicated, .timeout = 300)
{
    static struct stress s;
    s.f = fixture_open(2, STRESS_CPUS / 2, false);
    s.budget = STRESS_TOTAL;
    for (uint32_t c = 0; c < STRESS_CPUS; c++)
        cr_assert_eq(sidecar_host_acquire(&s.f->host, c), 0);
    for (uint32_t c = 0; c < STRESS_CPUS; c++)
        stress_start(&s, c);
    pthread_t t[STRESS_THREADS];
    for (int k = 0; k < STRESS_THREADS; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, stress_worker, &s), 0);
    for (int k = 0; k < STRESS_THREADS; k++)
        pthread_join(t[k], NULL);
    cr_assert_eq(s.duplicates, 0);
    cr_assert_eq(s.bad_results, 0);
    cr_assert_eq(s.start_failures, 0);
    cr_assert_eq(s.completed, STRESS_TOTAL);
    uint64_t total = 0;
    for (uint32_t c = 0; c < STRESS_CPUS; c++) {
        cr_assert_eq(s.ends[c], s.starts[c], "CPU %u", c);
        cr_assert_eq(sidecar_host_sim_commands(s.f->sim, c), s.starts[c], "CPU %u: the sidecar ran each once", c);
        cr_assert_eq(s.inflight[c], 0);
        total += s.ends[c];
    }
    cr_assert_eq(total, STRESS_TOTAL);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(&s.f->host, 0, &d), SIDECAR_HOST_E_NOTHING);
    cr_log_info("stress: %d runs, %u wait_any timeouts", STRESS_TOTAL, s.timeouts);
    fixture_close(s.f);
}

/* ---- 1024 CPUs -------------------------------------------------------------- */

Test(concurrency, sim_with_1024_cpus, .timeout = 300)
{
    struct fixture *f = fixture_open(32, 32, false);
    cr_assert_eq(sidecar_host_cpu_count(&f->host), 1024);
    cr_assert_eq(sidecar_host_node_count(&f->host), 32);
    for (uint32_t c = 0; c < 1024; c++) {
        cr_assert_eq(sidecar_host_acquire(&f->host, c), 0);
        cr_assert_eq(sidecar_host_ping(&f->host, c, T_LONG), 0, "CPU %u", c);
    }
    for (uint32_t c = 0; c < 1024; c++)
        cr_assert_eq(sidecar_host_run_vp_start(&f->host, c), 0);
    static uint8_t seen[1024];
    for (uint32_t k = 0; k < 1024; k++) {
        struct sidecar_host_completion d;
        cr_assert_eq(sidecar_host_wait_any(&f->host, T_LONG, &d), 0);
        cr_assert_lt(d.cpu, 1024);
        cr_assert_eq(seen[d.cpu]++, 0, "CPU %u twice", d.cpu);
        cr_assert_eq(d.result, SIDECAR_HOST_RUN_INTERCEPT);
    }
    fixture_close(f);
}
