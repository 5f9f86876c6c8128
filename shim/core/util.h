/* SPDX-License-Identifier: MIT */
/* Small helpers of the shim core (no libc): scfree's (little-endian reads
 * and writes from scfree/le.h) and the formatted error every parser
 * returns. */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <scfree/le.h>
#include <scfree/scfree.h>
#include <shim/core.h>

#define shim_zero(p, n) sc_memset((p), 0, (n))
#define shim_copy(d, s, n) sc_memcpy((d), (s), (n))
#define shim_strlen(s, max) sc_strnlen((s), (max))
#define shim_vfmt sc_vsnprintf
#define shim_fmt sc_snprintf

#define rd16 sc_rd16
#define rd32 sc_rd32
#define rd64 sc_rd64
#define wr16 sc_wr16
#define wr32 sc_wr32
#define wr64 sc_wr64

/* Formats the message into err (SHIM_ERR_SIZE bytes) and returns code. */
static inline int shim_fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int shim_fail(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shim_vfmt(err, SHIM_ERR_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

#endif
