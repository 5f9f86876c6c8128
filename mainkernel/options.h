/* SPDX-License-Identifier: MIT */
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
 *   mk.convert_again       afterwards, convert an already converted CPU
 *                          again (must fail at once with "removed")
 *
 * and the options of the test scenarios, from their table
 * (scenarios/scenarios.def; docs/mainkernel.md lists them all):
 * mk.canary, mk.test_touch_sidecar, mk.vp_test, mk.svm_basics, mk.vp_hostile,
 * mk.vp_compute, mk.bench_roundtrip, mk.soak, mk.soak_commands=N,
 * mk.faults=LIST (fault case names separated by commas, or "all"),
 * mk.fault_iters=N.
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

/* The C type of a scenario option's value, by kind (scenarios.def). */
#define MK_OPT_TYPE_FLAG bool
#define MK_OPT_TYPE_CASES uint32_t      /* bit i: the i-th name */
#define MK_OPT_TYPE_RANGED uint32_t

struct mk_options {
    struct mk_cpu_list convert;
    struct mk_cpu_list convert_running;
    uint32_t convert_node;          /* MK_NO_NODE: none */
    bool convert_one_per_node;
    bool convert_again;
    /* The scenarios' options: one field each, named as in the table. */
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) MK_OPT_TYPE_##kind field;
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def) MK_OPT_TYPE_##kind field;
#include "scenarios/scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION
};

/* Parses cmdline into *opt (defaults first). Returns false and writes a
 * message naming the option to err on the first bad value; the options
 * parsed before it are kept, the bad one keeps its default. */
bool mk_options_parse(const char *cmdline, struct mk_options *opt, char *err, unsigned long err_size);

#endif
