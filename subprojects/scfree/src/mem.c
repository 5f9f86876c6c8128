/* SPDX-License-Identifier: MIT */
/* Memory helpers. The compiler may emit calls to memset, memcpy, memmove
 * and memcmp even in freestanding code (struct copies, zeroing), so the
 * standard names are defined here too, as thin aliases. */
#include "scfree/scfree.h"

void *sc_memset(void *dst, int c, size_t n)
{
    volatile unsigned char *d = dst; /* volatile: not turned into memset() */
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *sc_memcpy(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *sc_memmove(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if ((uintptr_t)d < (uintptr_t)s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int sc_memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t sc_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int sc_strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
        if (!a[i])
            return 0;
    }
    return 0;
}

#ifndef SCFREE_NO_MEM_SYMBOLS
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *dst, int c, size_t n) { return sc_memset(dst, c, n); }
void *memcpy(void *dst, const void *src, size_t n) { return sc_memcpy(dst, src, n); }
void *memmove(void *dst, const void *src, size_t n) { return sc_memmove(dst, src, n); }
int memcmp(const void *a, const void *b, size_t n) { return sc_memcmp(a, b, n); }
#endif
