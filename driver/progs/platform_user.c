/* SPDX-License-Identifier: GPL-2.0-only */
/* What mainkernel/vp.c needs from its platform, in Linux user space. */
#include <stdint.h>

#include "arch/x86_64/platform.h"

uint64_t mk_rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

void mk_pause(void)
{
    __builtin_ia32_pause();
}
