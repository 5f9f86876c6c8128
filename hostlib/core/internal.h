/* SPDX-License-Identifier: MIT */
/* libsidecar-host's internals shared between its own sources (not
 * installed; shl_* symbols stay local to the shared library, see
 * sidecar-host.map). */
#ifndef SIDECAR_HOST_INTERNAL_H
#define SIDECAR_HOST_INTERNAL_H

#include <sidecar/host.h>

#if SIDECAR_HOST_HOSTED
/* Makes *err this thread's last failure (sidecar_host_last_error). */
void shl_error_record(const struct sidecar_host_error *err);
#endif

#endif
