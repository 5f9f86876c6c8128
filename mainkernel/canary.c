/* The canary check (canary.h). */
#include "canary.h"

#define LOW_LIMIT 0x100000ull           /* firmware and trampolines below */
#define MAP_LIMIT 0x100000000ull        /* the main kernel maps 0-4 GiB */
#define MEMORY_TYPE_USABLE 1u
#define MAX_RANGES SIDECAR_MAX_MEMORY_RANGES

static uint64_t hash_range(uint64_t base, uint64_t size)
{
    const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)base;
    uint64_t h = 0xcbf29ce484222325ull ^ size;
    for (uint64_t i = 0; i < size / 8; i++)
        h = (h ^ w[i]) * 0x100000001b3ull + (h >> 29);
    const volatile uint8_t *b = (const volatile uint8_t *)(uintptr_t)base;
    for (uint64_t i = size & ~7ull; i < size; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void fill(uint64_t base, uint64_t end)
{
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)base;
    for (uint64_t i = 0; i < (end - base) / 8; i++)
        w[i] = 0x5a5a5a5a00000000ull | (uint32_t)(base + i * 8);
}

static bool in_map(uint64_t base, uint64_t size)
{
    return base < MAP_LIMIT && size <= MAP_LIMIT - base;
}

struct mk_canary_result mk_canary_check(const struct sidecar_handoff *h, uint64_t image_start,
                                        uint64_t image_end, uint64_t touch_pa)
{
    struct mk_canary_result r = { true, 0, 0, 0, 0, 0 };
    uint64_t before[MAX_RANGES];
    uint32_t n = h->memory_range_count < MAX_RANGES ? h->memory_range_count : MAX_RANGES;
    for (uint32_t i = 0; i < n; i++) {
        const struct sidecar_memory_range *m = &h->memory_map[i];
        if (m->type != MK_MEMORY_TYPE_SIDECAR || !in_map(m->base, m->size))
            continue;
        before[i] = hash_range(m->base, m->size);
        r.sidecar_bytes += m->size;
        r.ranges++;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct sidecar_memory_range *m = &h->memory_map[i];
        if (m->type != MEMORY_TYPE_USABLE || !in_map(m->base, m->size))
            continue;
        uint64_t b = m->base < LOW_LIMIT ? LOW_LIMIT : m->base, e = m->base + m->size;
        b = (b + 7) & ~7ull;
        e &= ~7ull;
        /* Two pieces: around the main kernel's image. */
        uint64_t cut[2][2] = { { b, e < image_start ? e : image_start },
                               { b > image_end ? b : image_end, e } };
        for (int k = 0; k < 2; k++) {
            if (cut[k][0] < cut[k][1]) {
                fill(cut[k][0], cut[k][1]);
                r.filled_bytes += cut[k][1] - cut[k][0];
            }
        }
    }
    if (touch_pa) {
        volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)(touch_pa & ~7ull);
        *w = ~*w;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct sidecar_memory_range *m = &h->memory_map[i];
        if (m->type != MK_MEMORY_TYPE_SIDECAR || !in_map(m->base, m->size))
            continue;
        if (hash_range(m->base, m->size) != before[i] && r.ok) {
            r.ok = false;
            r.bad_range = i;
            r.bad_base = m->base;
        }
    }
    return r;
}
