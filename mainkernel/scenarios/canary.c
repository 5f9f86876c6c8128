/* SPDX-License-Identifier: MIT */
/* The canary check (canary.h). */
#include "arch/x86_64/platform.h"
#include "canary.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"

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

static uint64_t pattern(uint64_t pa) { return 0x5a5a5a5a00000000ull | (uint32_t)pa; }

static void fill(uint64_t base, uint64_t end)
{
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)base;
    for (uint64_t i = 0; i < (end - base) / 8; i++)
        w[i] = pattern(base + i * 8);
}

/* The first word in [base, end) that does not hold the pattern, or 0. */
static uint64_t check_fill(uint64_t base, uint64_t end)
{
    const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)base;
    for (uint64_t i = 0; i < (end - base) / 8; i++)
        if (w[i] != pattern(base + i * 8))
            return base + i * 8;
    return 0;
}

static bool in_map(uint64_t base, uint64_t size)
{
    return base < MAP_LIMIT && size <= MAP_LIMIT - base;
}

/* Every usable piece above 1 MiB (and below 4 GiB) but the image: fill
 * (check false) or check (true; returns the first bad address, or 0). */
static uint64_t usable_pieces(const struct sidecar_handoff *h, uint64_t image_start, uint64_t image_end,
                              bool check, uint64_t *bytes)
{
    uint32_t n = h->memory_range_count < MAX_RANGES ? h->memory_range_count : MAX_RANGES;
    *bytes = 0;
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
            if (cut[k][0] >= cut[k][1])
                continue;
            if (check) {
                uint64_t bad = check_fill(cut[k][0], cut[k][1]);
                if (bad)
                    return bad;
            } else {
                fill(cut[k][0], cut[k][1]);
            }
            *bytes += cut[k][1] - cut[k][0];
        }
    }
    return 0;
}

uint64_t mk_canary_fill(const struct sidecar_handoff *h, uint64_t image_start, uint64_t image_end)
{
    uint64_t bytes;
    usable_pieces(h, image_start, image_end, false, &bytes);
    return bytes;
}

uint64_t mk_canary_verify_fill(const struct sidecar_handoff *h, uint64_t image_start, uint64_t image_end)
{
    uint64_t bytes;
    return usable_pieces(h, image_start, image_end, true, &bytes);
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
    r.filled_bytes = mk_canary_fill(h, image_start, image_end);
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

/* ---- the scenario (mk.canary; scenarios.def) ---- */

static struct mk_canary_result canary = { true, 0, 0, 0, 0, 0 };
static bool after_canary = true;

/* The canary check, then the sidecar still answers. */
bool mk_canary_run(struct mk_ctx *ctx)
{
    const struct sidecar_params *p = ctx->params;
    canary = mk_canary_check(ctx->handoff, mk_image_start(), mk_image_end(),
                             ctx->opt->touch_sidecar ? p->trampoline_page + SIDECAR_PAGE_SIZE - 8 : 0);
    mk_out("main: canary: %s; %lu bytes of sidecar memory in %u ranges unchanged after filling %lu bytes\n",
           canary.ok ? "ok" : "FAILED", canary.ok ? canary.sidecar_bytes : 0, canary.ranges,
           canary.filled_bytes);
    if (!canary.ok)
        mk_out("main: canary: sidecar memory range at %lx changed\n", canary.bad_base);
    after_canary = mk_ping_rest(p, ctx->output, ctx->converted, "after the canary fill");
    return canary.ok && after_canary;
}

void mk_canary_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"sidecar_bytes\":%lu,\"filled_bytes\":%lu,\"ping_after\":%s}",
           canary.ok ? "true" : "false", canary.sidecar_bytes, canary.filled_bytes,
           after_canary ? "true" : "false");
}
