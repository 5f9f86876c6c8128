/* SPDX-License-Identifier: MIT */
/* Compiles the generated headers and validators in one translation unit
 * (built freestanding -pedantic, hosted, and as C++ from include_all.cc). */
#include <sidecar/abi.h>
#include <sidecar/validate.h>

int sidecar_abi_include_all(void);
int sidecar_abi_include_all(void)
{
    struct sidecar_control_page cp = { 0 };
    sidecar_control_page_cpu_status_store(&cp, 3, SIDECAR_CPU_STATUS_IDLE);
    return sidecar_control_page_cpu_status_load(&cp, 3) == SIDECAR_CPU_STATUS_IDLE ? 0 : 1;
}
