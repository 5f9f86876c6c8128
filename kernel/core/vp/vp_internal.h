/* SPDX-License-Identifier: MIT */
/* Helpers shared by the ring-3 VP backend's portable files. Not an API. */
#ifndef SIDECAR_VP_INTERNAL_H
#define SIDECAR_VP_INTERNAL_H

#include <sidecar/vp.h>

/* No libc in the kernel. The copies run on every RUN_VP (the 512-byte FX
 * area in and out, the 256-byte message), so they move 8 bytes at a time
 * when both ends and the size allow it: under QEMU TCG a byte loop over
 * them cost more than the rest of the run. */
typedef uint64_t __attribute__((may_alias)) vp_word;

static inline void vp_zero(void *p, uint32_t n)
{
    if ((((uintptr_t)p | n) & 7u) == 0) {
        vp_word *w = p;
        for (n /= 8; n; n--)
            *w++ = 0;
        return;
    }
    uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

static inline void vp_copy(void *dst, const void *src, uint32_t n)
{
    if ((((uintptr_t)dst | (uintptr_t)src | n) & 7u) == 0) {
        vp_word *d = dst;
        const vp_word *s = src;
        for (n /= 8; n; n--)
            *d++ = *s++;
        return;
    }
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

/* The start of every TRANSLATE_GVA (both backends): reads the request
 * first (it may share bytes with resp, in request_data), zeroes resp, and
 * refuses unknown control flags and force supervisor with force user
 * (status INVALID_PARAMETER, false). Else status SUCCESS and true. */
static inline bool vp_translate_begin(const struct sidecar_translate_gva_request *req,
                                      struct sidecar_translate_gva_response *resp, uint64_t *gvn,
                                      uint64_t *flags)
{
    *gvn = req->gvn;
    *flags = req->control_flags;
    vp_zero(resp, sizeof(*resp));
    if ((*flags & ~SK_TRANSLATE_KNOWN_FLAGS) ||
        ((*flags & SK_TRANSLATE_FORCE_SUPERVISOR) && (*flags & SK_TRANSLATE_FORCE_USER))) {
        resp->status = SIDECAR_HV_STATUS_INVALID_PARAMETER;
        return false;
    }
    resp->status = SIDECAR_HV_STATUS_SUCCESS;
    return true;
}

#endif
