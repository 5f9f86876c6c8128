/* SPDX-License-Identifier: MIT */
/* The canary check: proof that the main kernel never touches sidecar
 * memory. With every sidecar CPU parked, it hashes every byte the hand-off
 * memory map marks as sidecar memory (type 0x5344), then fills all usable
 * memory above 1 MiB except the main kernel's own image with a pattern (as
 * a kernel that uses all the RAM it was given would), then hashes again.
 * Any difference means the map failed to reserve something the sidecar
 * owns. Portable; the caller supplies the image bounds. */
#ifndef MK_CANARY_H
#define MK_CANARY_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

#define MK_MEMORY_TYPE_SIDECAR 0x5344u

struct mk_canary_result {
    bool ok;
    uint64_t sidecar_bytes;     /* hashed */
    uint64_t filled_bytes;      /* overwritten */
    uint32_t ranges;            /* sidecar ranges hashed */
    uint32_t bad_range;         /* first range whose hash changed (when !ok) */
    uint64_t bad_base;
};

/* touch_pa (a test of the test; 0 for none): also flip the word at this
 * address of sidecar memory, which the check must then see. Pick one no
 * sidecar CPU uses while idle (the end of the sidecar trampoline page). */
struct mk_canary_result mk_canary_check(const struct sidecar_handoff *h, uint64_t image_start,
                                        uint64_t image_end, uint64_t touch_pa);

/* The fill alone: the pattern (a function of each word's address) in all
 * usable memory above 1 MiB but the image; returns the bytes filled. */
uint64_t mk_canary_fill(const struct sidecar_handoff *h, uint64_t image_start, uint64_t image_end);
/* After mk_canary_fill: the first address whose word no longer holds the
 * pattern (something wrote main-kernel memory), or 0 when all of it does. */
uint64_t mk_canary_verify_fill(const struct sidecar_handoff *h, uint64_t image_start, uint64_t image_end);

#endif
