/* SPDX-License-Identifier: MIT */
/* The fault tests' memory guard (faults.c): proof that a fault case wrote
 * nothing outside the target CPUs' own pages. Before a case it hashes all
 * sidecar memory that must not change while the case runs, and checks it
 * afterwards:
 *   - every range the hand-off map marks as sidecar memory (the sidecar
 *     kernel image, the trampoline page, params and output pages), less
 *     node memory and guest RAM (the guests write that);
 *   - each node's control page, less the fields the host and the sidecar
 *     write at run time (the status bytes of the node's CPUs,
 *     needs_attention, response_cpu, response_vector);
 *   - every CPU's register page (nothing may write it);
 *   - every sidecar CPU's page tables and the node's guest-RAM tables,
 *     compared without the accessed and dirty bits the MMU sets;
 *   - the command page and the globals+stack page of every CPU that is
 *     not a target (bystanders must not change at all);
 *   - the pages of node CPU slots nobody uses (main CPUs inside a node's
 *     range, CPUs that never came up), filled once with a pattern by
 *     mk_guard_fill_unused.
 * Node memory is walked with the kernel's layout (docs/boot.md section 5,
 * kernel/arch/x86_64/layout.h). */
#ifndef MK_GUARD_H
#define MK_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

#define MK_GUARD_MAX_REGIONS 2048u

struct mk_guard_region {
    uint64_t base, size;
    uint64_t hash;
    uint32_t cpu;               /* SIDECAR_NO_CPU when not a CPU's page */
    uint32_t cpu_count;         /* control page: status bytes in use */
    uint8_t kind;
    const char *what;
};

struct mk_guard {
    uint32_t count;
    bool overflow;              /* more regions than MK_GUARD_MAX_REGIONS */
    uint64_t bytes;             /* hashed */
    uint32_t unused_pages;      /* filled with the pattern */
    struct mk_guard_region r[MK_GUARD_MAX_REGIONS];
};

/* Fills the pages of unused node CPU slots with a pattern; once, before
 * the first snapshot. Returns the pages filled. */
uint32_t mk_guard_fill_unused(const struct sidecar_params *p, const struct sidecar_output *o);

/* Snapshot; target[cpu] marks the CPUs whose command and globals pages
 * the case may change. */
void mk_guard_snapshot(struct mk_guard *g, const struct sidecar_handoff *h, const struct sidecar_params *p,
                       const struct sidecar_output *o, const bool *target);

/* true when nothing changed; otherwise err names the first region. */
bool mk_guard_check(const struct mk_guard *g, char *err, unsigned long size);

#endif
