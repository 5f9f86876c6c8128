/* SPDX-License-Identifier: MIT */
/* The main kernel's libsidecar-host instance (bare-metal transport) and
 * pinging sidecar CPUs with the NONE command through it. */
#ifndef MK_PING_H
#define MK_PING_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

#include "stats.h"

struct mk_ping_result {
    bool ok;
    uint32_t asked;
    uint32_t answered;
    const char *error;
    uint32_t first_failed_cpu;   /* when !ok */
    int first_failed_status;
};

/* Opens the host over the bare-metal transport (identity-mapped memory,
 * this CPU's local APIC, the TSC as clock). 0 or a sidecar_host code. */
int mk_host_open(const struct sidecar_params *p, const struct sidecar_output *o);
struct sidecar_host *mk_host(void);
/* Opens another handle on the same pages, with the same transport (a
 * second host; after mk_host_open). */
int mk_host_open_other(struct sidecar_host *h);

/* Pings every ready CPU `rounds` times and returns the distribution of the
 * NONE round trips in TSC ticks (at most 4096 samples are kept). */
struct mk_stats mk_ping_roundtrip(const struct sidecar_params *p, const struct sidecar_output *o,
                                      uint32_t rounds);

/* Pings every CPU that reached IDLE at boot, except those with skip[cpu]
 * set (converted ones); skip may be NULL. */
struct mk_ping_result mk_ping_all(const struct sidecar_params *p, const struct sidecar_output *o,
                                  const bool *skip);

/* mk_ping_all, logged as "main: ping <when>: ok (n/n answered)"; true
 * when every CPU answered. */
bool mk_ping_rest(const struct sidecar_params *p, const struct sidecar_output *o, const bool *skip,
                  const char *when);

/* The sidecar CPUs that reached IDLE at boot, ascending, except those with
 * skip[cpu] set (skip may be NULL), into to[]; returns how many. */
uint32_t mk_ready_cpus(const struct sidecar_params *p, const struct sidecar_output *o, const bool *skip,
                       uint32_t *to);

#endif
