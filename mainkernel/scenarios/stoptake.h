/* SPDX-License-Identifier: MIT */
/* The STOP-before-take test (mk.stop_take, mk.stop_take_pairs=N): on every given sidecar CPU
 * at once, N times, a RUN_VP of the sequence guest (seq.h, a run that ends
 * at once in an OUT) is started and STOPped right behind its start, so the
 * STOP usually reaches the sidecar before it took the command. Before each
 * start the command page carries a stale error (has_error = 1 and an error
 * text) and hostlib writes 0xff in the answer byte. OpenHCL's rule, which
 * ours follows: a command found in RUN or STOP is executed, so after every
 * completion the command field must be NONE (taken), has_error 0 with an
 * empty error text, and the answer 0 (stopped) or 1 (the OUT); every start
 * must have exactly one completion and the sequence numbers must run
 * without gap or repeat (a skipped command fails all of these). */
#ifndef MK_STOPTAKE_H
#define MK_STOPTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

struct mk_stoptake_result {
    bool ok;
    uint32_t cpus;
    uint32_t pairs;                 /* START+STOP pairs asked per CPU */
    uint64_t completions;           /* all CPUs */
    uint64_t stopped, intercepts;   /* how they ended */
    uint64_t skipped;               /* completions whose command was not taken: must be 0 */
    uint64_t stale;                 /* completions with the stale error left: must be 0 */
    char error[128];
};

void mk_stoptake_run(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                     uint32_t pairs, struct mk_stoptake_result *r);

#endif
