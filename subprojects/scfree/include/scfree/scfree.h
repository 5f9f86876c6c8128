/* SPDX-License-Identifier: MIT */
/* scfree: freestanding helpers shared by sidecar's kernel, shim and
 * bare-metal main kernel. No libc; every function is bounded. */
#ifndef SCFREE_H
#define SCFREE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *sc_memset(void *dst, int c, size_t n);
void *sc_memcpy(void *dst, const void *src, size_t n);
void *sc_memmove(void *dst, const void *src, size_t n);
int sc_memcmp(const void *a, const void *b, size_t n);
size_t sc_strnlen(const char *s, size_t max);
int sc_strncmp(const char *a, const char *b, size_t n);

/*
 * Bounded formatting into buf (always NUL terminated when size > 0).
 * Returns the length written, excluding the NUL (truncated output counts
 * only what fit). Conversions: %s %c %d %i %u %x %X %p %%, with optional
 * '0' flag, field width, and the length modifiers l, ll and z. %s accepts
 * NULL (prints "(null)").
 */
size_t sc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t sc_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends formatted text at *len in buf (of size), keeping it terminated. */
void sc_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SC_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define SC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SC_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
