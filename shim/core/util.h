/* Small helpers of the shim core (no libc): scfree's, and little-endian reads. */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <scfree/scfree.h>

#define shim_zero(p, n) sc_memset((p), 0, (n))
#define shim_copy(d, s, n) sc_memcpy((d), (s), (n))
#define shim_strlen(s, max) sc_strnlen((s), (max))
#define shim_vfmt sc_vsnprintf
#define shim_fmt sc_snprintf

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

#endif
