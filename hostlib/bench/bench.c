/* SPDX-License-Identifier: MIT */
/* Command round trip in the simulator beside a bare shared-memory
 * ping-pong between two threads, in the same run (DESIGN.md section 8:
 * "hostlib sim: one command round trip within 2x of a bare shared-memory
 * ping-pong between two threads"). Not a test: nothing is asserted.
 *
 *   build/hostlib/sidecar-host-bench [round trips per sample [spin_ns]]
 *
 * Both sides spin while they wait (the simulator's spin_ns, default 1 ms),
 * as the bare ping-pong does; 0 measures the sleeping (futex) path. Five
 * alternating samples of each, the median printed. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>

#define SAMPLES 5

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- bare ping-pong ---------------------------------------------------- */

struct pingpong {
    _Alignas(64) uint64_t ping;
    _Alignas(64) uint64_t pong;
    uint64_t rounds;
};

static void *ponger(void *arg)
{
    struct pingpong *p = arg;
    for (uint64_t i = 1; i <= p->rounds; i++) {
        while (__atomic_load_n(&p->ping, __ATOMIC_ACQUIRE) != i)
            __builtin_ia32_pause();
        __atomic_store_n(&p->pong, i, __ATOMIC_RELEASE);
    }
    return NULL;
}

static double bare_ns(uint64_t rounds)
{
    static struct pingpong p;
    p.ping = p.pong = 0;
    p.rounds = rounds;
    pthread_t t;
    if (pthread_create(&t, NULL, ponger, &p))
        return -1;
    uint64_t start = now_ns();
    for (uint64_t i = 1; i <= rounds; i++) {
        __atomic_store_n(&p.ping, i, __ATOMIC_RELEASE);
        while (__atomic_load_n(&p.pong, __ATOMIC_ACQUIRE) != i)
            __builtin_ia32_pause();
    }
    uint64_t end = now_ns();
    pthread_join(t, NULL);
    return (double)(end - start) / (double)rounds;
}

/* ---- simulator round trip ------------------------------------------------ */

static double sim_ns(struct sidecar_host *h, uint32_t cpu, uint32_t command, uint64_t rounds)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < rounds; i++) {
        int rc = sidecar_host_run_command(h, cpu, command, 1000000000ull);
        if (rc < 0) {
            fprintf(stderr, "bench: %s\n", sidecar_host_strerror(rc));
            return -1;
        }
    }
    return (double)(now_ns() - start) / (double)rounds;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t rounds = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;
    if (!rounds)
        rounds = 1;
    struct sidecar_host_sim_config cfg = {
        .node_count = 1, .cpus_per_node = 2, .main_cpu_per_node = true,
        /* 1 ms: both sides stay awake between commands */
        .spin_ns = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000,
    };
    struct sidecar_host_sim *sim;
    static struct sidecar_host host;
    int rc = sidecar_host_sim_create(&cfg, &sim);
    if (!rc)
        rc = sidecar_host_open_sim(&host, sim);
    if (!rc)
        rc = sidecar_host_acquire(&host, 1);
    if (rc) {
        fprintf(stderr, "bench: %s\n", sidecar_host_strerror(rc));
        return 1;
    }
    double bare[SAMPLES], run[SAMPLES], ping[SAMPLES];
    sim_ns(&host, 1, SIDECAR_COMMAND_RUN_VP, rounds / 10 + 1);   /* warm up */
    bare_ns(rounds / 10 + 1);
    for (int s = 0; s < SAMPLES; s++) {
        bare[s] = bare_ns(rounds);
        run[s] = sim_ns(&host, 1, SIDECAR_COMMAND_RUN_VP, rounds);
        ping[s] = sim_ns(&host, 1, SIDECAR_COMMAND_NONE, rounds);
    }
    qsort(bare, SAMPLES, sizeof(double), cmp);
    qsort(run, SAMPLES, sizeof(double), cmp);
    qsort(ping, SAMPLES, sizeof(double), cmp);
    double b = bare[SAMPLES / 2], r = run[SAMPLES / 2], p = ping[SAMPLES / 2];
    printf("round trips per sample: %" PRIu64 ", spin_ns %" PRIu64 ", median of %d samples\n", rounds,
           cfg.spin_ns, SAMPLES);
    printf("bare two-thread shared-memory ping-pong: %8.1f ns\n", b);
    printf("sim RUN_VP (exits at once, HLT):         %8.1f ns  (%.2fx the ping-pong)\n", r, r / b);
    printf("sim NONE (ping):                         %8.1f ns  (%.2fx the ping-pong)\n", p, p / b);
    sidecar_host_release(&host, 1);
    sidecar_host_close(&host);
    sidecar_host_sim_destroy(sim);
    return 0;
}
