/* Small helpers of the shim core (no libc): scfree's, little-endian reads
 * and writes, and the formatted error every parser returns. */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <scfree/scfree.h>
#include <shim/core.h>

#define shim_zero(p, n) sc_memset((p), 0, (n))
#define shim_copy(d, s, n) sc_memcpy((d), (s), (n))
#define shim_strlen(s, max) sc_strnlen((s), (max))
#define shim_vfmt sc_vsnprintf
#define shim_fmt sc_snprintf

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static inline void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

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
