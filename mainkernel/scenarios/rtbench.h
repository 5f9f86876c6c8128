/* SPDX-License-Identifier: MIT */
/* The command round-trip bench (option mk.bench_roundtrip): on one sidecar
 * CPU, the round trip of a RUN_VP whose guest exits at once (a HLT
 * intercept) and of a NONE command, both host -> sidecar -> host through
 * libsidecar-host; then the same CPU is converted and the baseline is a
 * bare IPI round trip between the same two CPUs: the boot CPU sends the
 * wake IPI, the CPU wakes from hlt and writes a counter the boot CPU
 * polls (the same doorbell and the same completion polling the protocol
 * uses, without the protocol). TSC, same QEMU run. */
#ifndef MK_RTBENCH_H
#define MK_RTBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "convert.h"
#include "stats.h"

struct mk_rtbench_result {
    bool ok;
    bool svm;                   /* measured with the svm backend (an OUT), else ring3 (a HLT) */
    uint32_t cpu;
    struct mk_stats run_vp;     /* TSC ticks */
    struct mk_stats none;
    struct mk_stats ipi;
    char error[96];
};

/* Measures iterations of each kind (at most 4096) on sidecar CPU cpu,
 * which ends up converted. */
void mk_rtbench(const struct mk_convert_env *env, uint32_t cpu, uint32_t iterations, bool svm,
                struct mk_rtbench_result *r);

#endif
