/* SPDX-License-Identifier: MIT */
/* The main kernel's test scenarios: what main.c gives each one (struct
 * mk_ctx) and the table it runs (struct mk_scenario, built from
 * scenarios.def in scenarios.c). A scenario is one file here with a run
 * and a report function of the signatures below; docs/mainkernel.md says
 * how to add one. */
#ifndef MK_SCENARIOS_H
#define MK_SCENARIOS_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/host.h>

#include "options.h"

/* Everything a scenario works with. Filled by main.c once the hand-off
 * block, params and output are validated and the host is opened. */
struct mk_ctx {
    const struct sidecar_handoff *handoff;  /* the main kernel's copy */
    const struct sidecar_params *params;
    const struct sidecar_output *output;
    struct sidecar_host *host;              /* libsidecar-host, bare-metal transport (ping.h) */
    const struct mk_options *opt;           /* the command line: a scenario reads its own fields */
    uint64_t tsc_khz;                       /* output.tsc_khz, at least 1 */
    /* [SIDECAR_MAX_CPUS]: CPUs the main kernel took over (converted); a
     * scenario that converts a CPU sets its entry, and scenarios that want
     * sidecar CPUs skip the set ones (mk_ready_cpus in ping.h). */
    bool *converted;
    uint32_t *cpus;                         /* [SIDECAR_MAX_CPUS]: room for a list of CPUs */
};

/* When a scenario runs: before or after the conversions (mk.convert*). */
enum mk_phase { MK_PHASE_BEFORE, MK_PHASE_AFTER };

struct mk_scenario {
    const char *option;         /* "mk.canary": what turns it on */
    const char *key;            /* its key in the report */
    enum mk_phase phase;
    bool (*on)(const struct mk_options *opt);   /* its option was given */
    /* Runs it (only when a host could be opened): does the work, writes
     * its log lines (report.h), keeps its result; true when it passed. */
    bool (*run)(struct mk_ctx *ctx);
    /* Writes its value in the report (the JSON object after "key":), from
     * the result run kept, or the initial one when run did not run. */
    void (*report)(const struct mk_ctx *ctx);
};

/* The table, in the order of scenarios.def: the order they run in (within
 * a phase) and appear in the report. */
extern const struct mk_scenario mk_scenarios[];
extern const unsigned mk_scenario_count;

/* Every scenario's run and report function, declared from the table. */
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) \
    bool run(struct mk_ctx *ctx);                                \
    void report(const struct mk_ctx *ctx);
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def)
#include "scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION

#endif
