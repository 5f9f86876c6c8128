/* SPDX-License-Identifier: MIT */
#include <sidecar/validate.h>

int consumer_check(const struct sidecar_params *p);
int consumer_check(const struct sidecar_params *p)
{
    return sidecar_params_validate(p, 0) == SIDECAR_ABI_OK;
}
