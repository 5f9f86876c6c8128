/* Small helpers of the shim core (no libc). */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void shim_zero(void *p, size_t n);
void shim_copy(void *dst, const void *src, size_t n);
size_t shim_strlen(const char *s, size_t max);
/* Bounded formatting: %s %u %x %lu %lx (64-bit with l). Always terminated. */
size_t shim_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t shim_fmt(char *buf, size_t size, const char *fmt, ...);

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

#endif
