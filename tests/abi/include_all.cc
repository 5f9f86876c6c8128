/* SPDX-License-Identifier: MIT */
// The generated headers as C++17.
#include <sidecar/abi.h>
#include <sidecar/validate.h>

int main()
{
    sidecar_control_page cp{};
    sidecar_control_page_cpu_status_store(&cp, 3, SIDECAR_CPU_STATUS_IDLE);
    sidecar_abi_error err{};
    (void)sidecar_control_page_validate(&cp, &err);
    return sidecar_control_page_cpu_status_load(&cp, 3) == SIDECAR_CPU_STATUS_IDLE ? 0 : 1;
}
