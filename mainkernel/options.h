/* The bare-metal main kernel's command-line options (the hand-off block's
 * cmdline: what the shim was given, less its sidecar options, plus
 * boot_cpus=). Words that are not "mk." options are ignored.
 *
 *   mk.convert=LIST        convert these sidecar CPUs (CPU indices, e.g.
 *                          3,5-9) in one batch
 *   mk.convert_node=N      convert every sidecar CPU of sidecar node N
 *   mk.convert_one_per_node  convert the last sidecar CPU of every node
 *   mk.convert_running=LIST  first run a VP (an endless loop) on each of
 *                          these CPUs, STOP it, then convert them in one
 *                          batch like mk.convert
 *   mk.bench_roundtrip     RUN_VP and NONE round trips vs a bare IPI round
 *                          trip on one CPU (rtbench.h)
 *   mk.vp_hostile          the hostile guest suite on every sidecar CPU at
 *                          once (hostile.h)
 *   mk.vp_compute          every sidecar CPU at once hashes guest memory and
 *                          reports through IO intercepts (compute.h)
 *   mk.vp_test             run the guest VP test (vp.h) on every sidecar
 *                          CPU: each intercept kind, registers,
 *                          translation, STOP and resume
 *   mk.convert_again       afterwards, convert an already converted CPU
 *                          again (must fail at once with "removed")
 *   mk.canary              fill all usable memory, then check that no
 *                          byte of sidecar memory changed
 *   mk.test_touch_sidecar  (test of the test) also write one word of
 *                          sidecar memory, which the canary check must see
 *   mk.faults=LIST         the fault tests (faults.h): case names separated
 *                          by commas (garbage, status, ipi, stop_race,
 *                          reconnect, remove_race) or "all"
 *   mk.fault_iters=N       iterations per CPU of the race cases (1-100000,
 *                          default 200)
 *   mk.soak                the soak (soak.h) on every ready sidecar CPU
 *   mk.soak_commands=N     commands per CPU in the soak (1-10000000,
 *                          default 100000)
 *   mk.vectors             fixed IPIs on every exception vector and NMIs
 *                          to idle, used and running sidecar CPUs
 *                          (vectors.h); before the other VP steps
 *   mk.hot_init            REMOVE sidecar CPUs and INIT each right away
 *                          while others log (hotinit.h); the targets are
 *                          gone afterwards
 *   mk.cpu_report          list the sidecar CPUs that left (E_REMOVED) with
 *                          their error text; every other one must answer
 *                          and run a VP (cpureport.h)
 *
 * Portable C: unit-tested natively. */
#ifndef MK_OPTIONS_H
#define MK_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define MK_LIST_MAX 256u
#define MK_NO_NODE 0xffffffffu
#define MK_FAULT_ITERS_DEFAULT 200u
#define MK_SOAK_COMMANDS_DEFAULT 100000u

struct mk_cpu_list {
    uint32_t count;
    uint32_t cpu[MK_LIST_MAX];
};

struct mk_options {
    struct mk_cpu_list convert;
    struct mk_cpu_list convert_running;
    uint32_t convert_node;          /* MK_NO_NODE: none */
    bool convert_one_per_node;
    bool convert_again;
    bool vp_test;
    bool vp_compute;
    bool vp_hostile;
    bool bench_roundtrip;
    bool canary;
    bool touch_sidecar;
    uint32_t faults;                /* bit i: fault case i (faults.h) */
    uint32_t fault_iters;
    bool soak;
    uint32_t soak_commands;
    bool vectors;
    bool hot_init;
    bool cpu_report;
};

/* Parses cmdline into *opt (defaults first). Returns false and writes a
 * message naming the option to err on the first bad value; the options
 * parsed before it are kept, the bad one keeps its default. */
bool mk_options_parse(const char *cmdline, struct mk_options *opt, char *err, unsigned long err_size);

#endif
