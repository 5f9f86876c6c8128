/* SPDX-License-Identifier: MIT */
/* Shared helpers of the libsidecar-host tests: a simulator with a host
 * opened over it. */
#ifndef HOSTLIB_TEST_COMMON_H
#define HOSTLIB_TEST_COMMON_H

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>

#define T_LONG 10000000000ull   /* 10 s: "answers", never reached when all is well */
#define T_SHORT 20000000ull     /* 20 ms: for calls that must time out */

struct fixture {
    struct sidecar_host_sim *sim;
    struct sidecar_host host;
};

static inline struct fixture *fixture_open_config(const struct sidecar_host_sim_config *cfg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    cr_assert_not_null(f);
    int rc = sidecar_host_sim_create(cfg, &f->sim);
    cr_assert_eq(rc, 0, "sim_create: %s", sidecar_host_strerror(rc));
    rc = sidecar_host_open_sim(&f->host, f->sim);
    cr_assert_eq(rc, 0, "open_sim: %s", sidecar_host_strerror(rc));
    return f;
}

static inline struct fixture *fixture_open(uint32_t nodes, uint32_t per_node, bool main_first)
{
    struct sidecar_host_sim_config cfg = { .node_count = nodes, .cpus_per_node = per_node,
                                           .main_cpu_per_node = main_first };
    return fixture_open_config(&cfg);
}

static inline void fixture_close(struct fixture *f)
{
    sidecar_host_close(&f->host);
    sidecar_host_sim_destroy(f->sim);
    free(f);
}

static inline struct sidecar_hv_register_assoc reg(uint32_t name, uint64_t low)
{
    struct sidecar_hv_register_assoc r;
    memset(&r, 0, sizeof(r));
    r.name = name;
    r.value.low = low;
    return r;
}

/* Waits until the CPU has taken every step of its script (so that a run
 * is known to be inside its last step, e.g. blocked until STOP). */
static inline void wait_script_used(struct sidecar_host_sim *sim, uint32_t cpu)
{
    for (int k = 0; k < 10000 && sidecar_host_sim_script_left(sim, cpu); k++)
        usleep(1000);
    cr_assert_eq(sidecar_host_sim_script_left(sim, cpu), 0, "CPU %u never took its step", cpu);
}

#endif
