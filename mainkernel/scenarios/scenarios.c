/* SPDX-License-Identifier: MIT */
/* The scenario table (scenarios.h), built from scenarios.def. */
#include "scenarios.h"

/* Whether each scenario's option was given: its value is not 0. */
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) \
    static bool on_##field(const struct mk_options *opt) { return opt->field != 0; }
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def)
#include "scenarios.def"
#undef MK_SCENARIO

#define MK_SCENARIO(field, key, kind, cases, phase, run, report) \
    { "mk." #field, key, MK_PHASE_##phase, on_##field, run, report },
const struct mk_scenario mk_scenarios[] = {
#include "scenarios.def"
};
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION

const unsigned mk_scenario_count = sizeof(mk_scenarios) / sizeof(mk_scenarios[0]);
