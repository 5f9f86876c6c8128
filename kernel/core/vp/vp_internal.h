/* Helpers shared by the ring-3 VP backend's portable files. Not an API. */
#ifndef SIDECAR_VP_INTERNAL_H
#define SIDECAR_VP_INTERNAL_H

#include <sidecar/vp.h>

/* Byte loops: no libc in the kernel (the compiler may still turn them into
 * memset/memcpy, which scfree provides for the kernel image). */
static inline void vp_zero(void *p, uint32_t n)
{
    uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

static inline void vp_copy(void *dst, const void *src, uint32_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

#endif
