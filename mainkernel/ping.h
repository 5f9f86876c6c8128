/* The main kernel's libsidecar-host instance (bare-metal transport) and
 * pinging sidecar CPUs with the NONE command through it. */
#ifndef MK_PING_H
#define MK_PING_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

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

/* Round trips of NONE commands (host -> sidecar -> host), in TSC ticks. */
struct mk_roundtrip {
    uint32_t samples;
    uint64_t median;
    uint64_t p99;
    uint64_t min;
};

/* Pings every ready CPU `rounds` times and returns the distribution of the
 * round trips (at most 4096 samples are kept). */
struct mk_roundtrip mk_ping_roundtrip(const struct sidecar_params *p, const struct sidecar_output *o,
                                      uint32_t rounds);

/* Pings every CPU that reached IDLE at boot, except those with skip[cpu]
 * set (converted ones); skip may be NULL. */
struct mk_ping_result mk_ping_all(const struct sidecar_params *p, const struct sidecar_output *o,
                                  const bool *skip);

#endif
