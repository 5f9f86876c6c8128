/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include <sidecar/host.h>
#include <sidecar/validate.h>

int main(void)
{
    struct sidecar_control_page cp;
    memset(&cp, 0, sizeof(cp));
    struct sidecar_abi_error err;
    sidecar_abi_result_t rc = sidecar_control_page_validate(&cp, &err);
    printf("libsidecar-host %s; empty control page: %s (%s)\n", sidecar_host_version(),
           sidecar_abi_result_name(rc), err.message);
    return rc != SIDECAR_ABI_OK ? 0 : 1;   /* an all-zero page is not valid */
}
