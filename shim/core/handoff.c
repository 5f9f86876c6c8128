/* SPDX-License-Identifier: MIT */
/* The hand-off block for the main kernel (protocol: handoff). */
#include <shim/core.h>
#include <sidecar/validate.h>

#include "util.h"

#define SIDECAR_MEMORY_TYPE 0x5344u   /* 'SD': memory the sidecar owns */

static int fail(char err[SHIM_ERR_SIZE], const char *msg)
{
    shim_fmt(err, SHIM_ERR_SIZE, "handoff: %s", msg);
    return SHIM_E_INVALID;
}

static bool push(struct sidecar_handoff *h, uint64_t base, uint64_t size, uint32_t type)
{
    if (!size)
        return true;
    if (h->memory_range_count) {   /* adjacent and of the same type: one range */
        struct sidecar_memory_range *last = &h->memory_map[h->memory_range_count - 1];
        if (last->type == type && last->base + last->size == base) {
            last->size += size;
            return true;
        }
    }
    if (h->memory_range_count >= SIDECAR_MAX_MEMORY_RANGES)
        return false;
    struct sidecar_memory_range *r = &h->memory_map[h->memory_range_count++];
    r->base = base;
    r->size = size;
    r->type = type;
    r->reserved = 0;
    return true;
}

static void sort(struct shim_range *r, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct shim_range x = r[i];
        uint32_t j = i;
        while (j && r[j - 1].base > x.base) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
}

static void sort_u64(uint64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        uint32_t j = i;
        while (j && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* sidecar, sidecar=..., sidecar.anything: the shim's own words. */
static bool is_sidecar_word(const char *w, size_t n)
{
    static const char p[] = "sidecar";
    if (n < 7)
        return false;
    for (size_t i = 0; i < 7; i++)
        if (w[i] != p[i])
            return false;
    return n == 7 || w[7] == '=' || w[7] == '.';
}

/* Appends text to the command line; false when it does not fit. */
static bool append(char *buf, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > SIDECAR_CMDLINE_SIZE)
        return false;
    shim_copy(buf + *len, s, n);
    *len += n;
    buf[*len] = 0;
    return true;
}

int shim_handoff_build(const struct shim_memmap *map, const struct shim_plan *plan,
                       const struct sidecar_params *params, uint64_t params_pa,
                       uint64_t output_pa, const char *cmdline,
                       struct sidecar_handoff *h, char err[SHIM_ERR_SIZE])
{
    shim_zero(h, sizeof(*h));
    h->magic = SIDECAR_HANDOFF_MAGIC;
    h->abi_major = SIDECAR_ABI_MAJOR;
    h->abi_minor = SIDECAR_ABI_MINOR;
    h->sidecar_enabled = plan->enabled;
    /* Disabled: every CPU of the topology is the main kernel's (the VM's
     * CPU count; 0 when the shim could not read the topology). Enabled:
     * counted below from params. */
    h->main_cpu_count = plan->enabled ? 0 : plan->cpu_count;
    h->params_pa = plan->enabled ? params_pa : 0;
    h->output_pa = plan->enabled ? output_pa : 0;
    /* Only a disabled sidecar has a reason (an enabled plan's reason notes
     * fallbacks, which the log already has). */
    uint32_t rlen = plan->enabled ? 0 : (uint32_t)shim_strlen(plan->reason, SIDECAR_ERROR_TEXT_SIZE);
    shim_copy(h->disabled_reason.buf, plan->reason, rlen);
    h->disabled_reason.len = (uint8_t)rlen;

    /* Reserved ranges, sorted: the plan's plus params and output. */
    const uint32_t plan_max = sizeof(plan->reserved) / sizeof(plan->reserved[0]);
    struct shim_range res[sizeof(plan->reserved) / sizeof(plan->reserved[0]) + 2];
    uint32_t nres = 0;
    if (plan->enabled) {
        for (uint32_t i = 0; i < plan->reserved_count && nres < plan_max; i++)
            res[nres++] = plan->reserved[i];
        res[nres++] = (struct shim_range){ params_pa, sizeof(struct sidecar_params), 0 };
        res[nres++] = (struct shim_range){ output_pa, sizeof(struct sidecar_output), 0 };
    }
    sort(res, nres);

    /* The memory map: cut at every boundary of every entry, each piece
     * typed by what covers it. Sidecar memory wins over everything; where
     * firmware entries overlap, a non-usable type wins over usable (the
     * first such entry in map order). Pieces nothing covers are left out;
     * sidecar memory outside the firmware map is not added. */
    uint64_t cut[2 * (SHIM_MAX_RANGES + sizeof(res) / sizeof(res[0]))];
    uint32_t ncut = 0;
    uint32_t nmap = map->count < SHIM_MAX_RANGES ? map->count : SHIM_MAX_RANGES;
    for (uint32_t i = 0; i < nmap; i++) {
        const struct shim_range *r = &map->ranges[i];
        if (!r->size || r->base + r->size < r->base)
            continue;
        cut[ncut++] = r->base;
        cut[ncut++] = r->base + r->size;
    }
    for (uint32_t k = 0; k < nres; k++) {
        if (!res[k].size || res[k].base + res[k].size < res[k].base)
            continue;
        cut[ncut++] = res[k].base;
        cut[ncut++] = res[k].base + res[k].size;
    }
    sort_u64(cut, ncut);
    for (uint32_t c = 0; c + 1 < ncut; c++) {
        uint64_t b = cut[c], e = cut[c + 1];
        if (b == e)
            continue;
        uint32_t type = 0;
        for (uint32_t i = 0; i < nmap; i++) {
            const struct shim_range *r = &map->ranges[i];
            if (!r->size || r->base + r->size < r->base || r->base > b || r->base + r->size < e)
                continue;
            uint32_t t = r->type && r->type <= 0xffff ? r->type : 2;
            if (!type || (type == 1 && t != 1))
                type = t;
        }
        if (!type)
            continue;
        for (uint32_t k = 0; k < nres; k++)
            if (res[k].size && res[k].base <= b && res[k].base + res[k].size >= e)
                type = SIDECAR_MEMORY_TYPE;
        if (!push(h, b, e - b, type))
            return fail(err, "memory map: too many ranges");
    }

    /* The command line: the shim's, less the loader's image path and the
     * sidecar options, plus boot_cpus=<the main CPUs>. */
    char *out = (char *)h->cmdline;
    size_t len = 0;
    size_t n = shim_strlen(cmdline, SIDECAR_CMDLINE_SIZE);
    size_t i = 0;
    bool first_word = true;
    while (i < n) {
        while (i < n && cmdline[i] == ' ')
            i++;
        size_t s = i;
        while (i < n && cmdline[i] != ' ')
            i++;
        if (i == s)
            break;
        bool path = first_word && cmdline[s] == '/';
        bool ours = is_sidecar_word(cmdline + s, i - s);
        first_word = false;
        if (path || ours)
            continue;
        if ((len && !append(out, &len, " ", 1)) || !append(out, &len, cmdline + s, i - s))
            return fail(err, "cmdline: too long for the main kernel");
    }
    if (plan->enabled) {
        if ((len && !append(out, &len, " ", 1)) || !append(out, &len, "boot_cpus=", 10))
            return fail(err, "cmdline: too long for the main kernel");
        /* The main CPUs, ascending, runs written a-b: as OpenHCL's boot
         * shim under the openhcl policy (VP indices, which are params
         * indices there), else their APIC IDs. */
        bool vp = plan->policy == SHIM_POLICY_OPENHCL;
        uint32_t prev = 0, start = 0;
        bool any = false, first = true;
        for (;;) {
            /* the next main APIC ID above prev (params has no duplicates) */
            bool found = false;
            uint32_t next = 0;
            for (uint32_t c = 0; c < params->cpu_count && c < SIDECAR_MAX_CPUS; c++) {
                uint32_t id = vp ? c : params->cpus[c].apic_id;
                if (params->cpus[c].role == SIDECAR_CPU_ROLE_MAIN && (!any || id > prev) &&
                    (!found || id < next)) {
                    next = id;
                    found = true;
                }
            }
            if (any && (!found || next != prev + 1)) {
                char num[32];
                size_t k = start == prev ? shim_fmt(num, sizeof(num), "%s%u", first ? "" : ",", start)
                                         : shim_fmt(num, sizeof(num), "%s%u-%u", first ? "" : ",", start, prev);
                if (!append(out, &len, num, k))
                    return fail(err, "cmdline: too long for the main kernel");
                first = false;
            }
            if (!found)
                break;
            if (!any || next != prev + 1)
                start = next;
            prev = next;
            any = true;
            h->main_cpu_count++;
        }
    }
    struct sidecar_abi_error e;
    if (sidecar_handoff_validate(h, &e) != SIDECAR_ABI_OK) {
        shim_fmt(err, SHIM_ERR_SIZE, "handoff.%s", e.message);
        return SHIM_E_INVALID;
    }
    return SHIM_OK;
}
