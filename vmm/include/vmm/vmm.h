/* SPDX-License-Identifier: MIT */
/* The small VMM's common definitions (docs/vmm.md): result codes and the
 * size of the message buffer every fallible function fills. Portable C11,
 * no libc: the same code builds freestanding (the bare-metal main kernel)
 * and natively (unit tests, a Linux user-space VMM). */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMM_ERR_SIZE 160

enum vmm_result {
    VMM_OK = 0,
    VMM_E_INVALID = -1,    /* a bad argument or input field (the message names it) */
    VMM_E_NOT_MINE = -2,   /* an access outside the device's ports */
    VMM_E_NO_ROOM = -3,    /* it does not fit guest RAM (the message says what) */
};

#endif
