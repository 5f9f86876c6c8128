/* Pinging every ready sidecar CPU with the NONE command. */
#ifndef MK_PING_H
#define MK_PING_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

struct mk_ping_result {
    bool ok;
    uint32_t asked;
    uint32_t answered;
    const char *error;
    uint32_t first_failed_cpu;   /* when !ok */
    int first_failed_status;
};

struct mk_ping_result mk_ping_all(const struct sidecar_params *p, const struct sidecar_output *o);

#endif
