/* SPDX-License-Identifier: MIT */
/* Booting Linux as the main kernel: placement, e820, command line, the CPU
 * order and the reordered ACPI copy (the bzImage check and boot_params are
 * linuxboot's: tests/linuxboot). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <shim/linux.h>

/* not every table builder is used here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "acpi_image.h"

static char err[SHIM_ERR_SIZE];

/* ---- placement ---- */

static struct shim_memmap pmap;

static void pmap_setup(void)
{
    memset(&pmap, 0, sizeof(pmap));
    pmap.count = 4;
    pmap.ranges[0] = (struct shim_range){ 0, 0x9fc00, 1 };
    pmap.ranges[1] = (struct shim_range){ 0x100000, 0x3ff00000, 1 };     /* 1 MiB .. 1 GiB */
    pmap.ranges[2] = (struct shim_range){ 0x3ff00000, 0x100000, 2 };    /* reserved inside */
    pmap.ranges[3] = (struct shim_range){ 0xfec00000, 0x1000, 2 };
}

TestSuite(linux_place, .init = pmap_setup);

Test(linux_place, lowest_aligned)
{
    uint64_t at;
    struct shim_range avoid[] = { { 0x1000000, 0x300000, 2 } };   /* 16..19 MiB */
    cr_assert(shim_linux_place(&pmap, avoid, 1, 0x3000000, 0x200000, 0x1000000, 1ull << 32, false, &at));
    cr_assert_eq(at, 0x1400000);   /* first 2 MiB boundary after the avoided range */
}

Test(linux_place, highest_below_limit_and_reserved)
{
    uint64_t at;
    cr_assert(shim_linux_place(&pmap, NULL, 0, 0x5000, 0x1000, 0x100000, 0x80000000ull, true, &at));
    cr_assert_eq(at, 0x3ff00000 - 0x5000);   /* below the reserved MiB at the top of RAM */
}

Test(linux_place, highest_skips_avoided)
{
    uint64_t at;
    struct shim_range avoid[] = { { 0x3fe00000, 0x100000, 2 } };
    cr_assert(shim_linux_place(&pmap, avoid, 1, 0x5000, 0x1000, 0x100000, 1ull << 32, true, &at));
    cr_assert_eq(at, 0x3fe00000 - 0x5000);
}

Test(linux_place, spans_adjacent_usable_entries)
{
    pmap.ranges[1] = (struct shim_range){ 0x100000, 0x1f00000, 1 };
    pmap.ranges[4] = (struct shim_range){ 0x2000000, 0x3df00000, 1 };
    pmap.count = 5;
    uint64_t at;
    cr_assert(shim_linux_place(&pmap, NULL, 0, 0x2000000, 0x200000, 0x1000000, 1ull << 32, false, &at));
    cr_assert_eq(at, 0x1000000);
}

Test(linux_place, never_over_a_non_usable_entry)
{
    /* an overlapping reserved entry inside the usable one */
    pmap.ranges[4] = (struct shim_range){ 0x1100000, 0x1000, 2 };
    pmap.count = 5;
    uint64_t at;
    cr_assert(shim_linux_place(&pmap, NULL, 0, 0x400000, 0x200000, 0x1000000, 1ull << 32, false, &at));
    cr_assert_eq(at, 0x1200000);
}

/* The check behind every fixed load address (the shim's own image, the
 * sidecar kernel at 4 MiB, the main kernel at its link address). */
Test(linux_place, memmap_usable)
{
    cr_assert(shim_memmap_usable(&pmap, 0x400000, 0x200000));
    cr_assert(shim_memmap_usable(&pmap, 0x100000, 0x3ff00000 - 0x100000));     /* to the reserved MiB */
    cr_assert(shim_memmap_usable(&pmap, 0x12345000, 0));                        /* empty */
    cr_assert_not(shim_memmap_usable(&pmap, 0x9f000, 0x2000));                  /* into the hole below 1 MiB */
    cr_assert_not(shim_memmap_usable(&pmap, 0xa0000, 0x1000));                  /* in the hole */
    cr_assert_not(shim_memmap_usable(&pmap, 0x3fe00000, 0x200000));             /* onto the reserved MiB */
    cr_assert_not(shim_memmap_usable(&pmap, 0x40000000, 0x1000));               /* past the end of RAM */
    cr_assert_not(shim_memmap_usable(&pmap, ~0ull - 0xfff, 0x2000));            /* wraps */
    pmap.ranges[4] = (struct shim_range){ 0x500000, 0x1000, 2 };                /* reserved inside usable */
    pmap.count = 5;
    cr_assert_not(shim_memmap_usable(&pmap, 0x400000, 0x200000));
}

Test(linux_place, no_room)
{
    uint64_t at = 7;
    cr_assert_not(shim_linux_place(&pmap, NULL, 0, 0x40000000, 0x1000, 0x100000, 1ull << 32, false, &at));
    cr_assert_not(shim_linux_place(&pmap, NULL, 0, 0x1000, 0x3000, 0x100000, 1ull << 32, false, &at));
    cr_assert_not(shim_linux_place(&pmap, NULL, 0, 0, 0x1000, 0x100000, 1ull << 32, false, &at));
    cr_assert_eq(at, 7);
}

/* ---- e820, command line, boot_params ---- */

static struct sidecar_handoff *ho;

static void ho_setup(void)
{
    ho = aligned_alloc(4096, sizeof(*ho));
    memset(ho, 0, sizeof(*ho));
}

static void ho_teardown(void) { free(ho); }

static void ho_range(uint64_t base, uint64_t size, uint32_t type)
{
    ho->memory_map[ho->memory_range_count++] = (struct sidecar_memory_range){ base, size, type, 0 };
}

TestSuite(linux_boot, .init = ho_setup, .fini = ho_teardown);

Test(linux_boot, e820_sidecar_memory_is_reserved)
{
    ho_range(0, 0x1000, 1);
    ho_range(0x1000, 0x1000, 0x5344);
    ho_range(0x2000, 0x9dc00, 1);
    ho_range(0x9fc00, 0x400, 2);
    ho_range(0x100000, 0x100000, 1);
    ho_range(0x200000, 0x10000, 0x5344);
    ho_range(0x210000, 0x10000, 2);      /* merges with the sidecar range before it */
    ho_range(0x220000, 0x10000, 0x1234); /* unknown: reserved, merges too */
    ho_range(0x230000, 0x10000, 3);      /* ACPI stays ACPI */
    struct linuxboot_e820 e[LINUXBOOT_E820_MAX];
    uint32_t n;
    cr_assert_eq(shim_linux_e820(ho, e, &n, err), SHIM_OK, "%s", err);
    cr_assert_eq(n, 7);
    cr_assert_eq(e[1].type, 2);
    cr_assert_eq(e[1].base, 0x1000);
    cr_assert_eq(e[5].base, 0x200000);
    cr_assert_eq(e[5].size, 0x30000);
    cr_assert_eq(e[5].type, 2);
    cr_assert_eq(e[6].type, 3);
}

Test(linux_boot, e820_too_many)
{
    for (uint32_t i = 0; i < SIDECAR_MAX_MEMORY_RANGES; i++)
        ho_range(i * 0x2000, 0x1000, 1 + (i & 1));   /* gaps: nothing merges */
    struct linuxboot_e820 e[LINUXBOOT_E820_MAX];
    uint32_t n;
    cr_assert_eq(shim_linux_e820(ho, e, &n, err), SHIM_OK, "%s", err);
    cr_assert_eq(n, LINUXBOOT_E820_MAX);
}

Test(linux_boot, cmdline)
{
    char out[256];
    cr_assert_eq(shim_linux_cmdline("console=ttyS0 boot_cpus=0,4", 2, 0x145000, 2047, out, sizeof(out), err),
                 SHIM_OK, "%s", err);
    cr_assert_str_eq(out, "console=ttyS0 boot_cpus=0,4 maxcpus=2 sidecar.handoff=0x145000");
    cr_assert_eq(shim_linux_cmdline("console=ttyS0", 0, 0, 2047, out, sizeof(out), err), SHIM_OK);
    cr_assert_str_eq(out, "console=ttyS0");
    cr_assert_eq(shim_linux_cmdline("", 3, 0x1000, 2047, out, sizeof(out), err), SHIM_OK);
    cr_assert_str_eq(out, "maxcpus=3 sidecar.handoff=0x1000");
}

Test(linux_boot, cmdline_too_long)
{
    char out[256];
    cr_assert_eq(shim_linux_cmdline("console=ttyS0", 2, 0x145000, 20, out, sizeof(out), err), SHIM_E_INVALID);
    cr_assert(strstr(err, "cmdline_size"), "%s", err);
    cr_assert_eq(shim_linux_cmdline("console=ttyS0", 2, 0x145000, 2047, out, 30, err), SHIM_E_INVALID);
}

Test(linux_boot, cpu_order)
{
    struct sidecar_params *p = aligned_alloc(4096, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->cpu_count = 6;
    p->bsp_cpu = 2;
    uint32_t ids[] = { 10, 11, 12, 13, 14, 15 };
    uint8_t roles[] = { SIDECAR_CPU_ROLE_SIDECAR, SIDECAR_CPU_ROLE_MAIN, SIDECAR_CPU_ROLE_MAIN,
                        SIDECAR_CPU_ROLE_SIDECAR, SIDECAR_CPU_ROLE_MAIN, SIDECAR_CPU_ROLE_SIDECAR };
    for (int i = 0; i < 6; i++) {
        p->cpus[i].apic_id = ids[i];
        p->cpus[i].role = roles[i];
    }
    uint32_t out[6], main_count;
    cr_assert_eq(shim_linux_cpu_order(p, out, &main_count), 6);
    cr_assert_eq(main_count, 3);
    uint32_t want[] = { 12, 11, 14, 10, 13, 15 };
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], want[i], "position %d", i);
    /* sidecar.linux_numbering=vp: the boot CPU, then params order */
    cr_assert_eq(shim_linux_cpu_order_vp(p, out), 6);
    uint32_t want_vp[] = { 12, 10, 11, 13, 14, 15 };
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], want_vp[i], "vp position %d", i);
    /* with the boot CPU at index 0, Linux CPU n = params index n */
    p->bsp_cpu = 0;
    cr_assert_eq(shim_linux_cpu_order_vp(p, out), 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], ids[i], "vp position %d", i);
    free(p);
}

/* ---- the reordered ACPI copy ---- */

#define COPY_PA 0x180000u
#define COPY_SIZE 0x10000u
#define SRAT2_PA 0x140000u
static struct shim_topology *topo;

static void acpi_setup(void)
{
    fake_reset();
    topo = calloc(1, sizeof(*topo));
}

static void acpi_teardown(void) { free(topo); }

TestSuite(linux_acpi, .init = acpi_setup, .fini = acpi_teardown);

/* 8 CPUs (APIC ID 2*i; 6 and 14 as x2APIC entries), an I/O APIC, an
 * interrupt override, a local APIC NMI entry and a disabled CPU, plus an
 * SRAT putting CPUs 0-3 in domain 0 and 4-7 in domain 1. */
static uint32_t madt_len;

static void machine(bool xsdt, bool with_rsdt_too)
{
    struct tb t = tb_begin(MADT_PA, "APIC", 8);
    wr32(MADT_PA + 36, 0xfee00000u);
    uint8_t ioapic[12] = { 1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0 };
    tb_bytes(&t, ioapic, sizeof(ioapic));
    for (uint32_t i = 0; i < 8; i++) {
        if (i == 3 || i == 7)
            madt_x2apic(&t, 2 * i, 1, i);
        else
            madt_lapic(&t, (uint8_t)i, (uint8_t)(2 * i), 1);
        if (i == 4) {
            uint8_t iso[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 };
            tb_bytes(&t, iso, sizeof(iso));
        }
    }
    madt_lapic(&t, 9, 99, 0);                 /* disabled */
    uint8_t nmi[6] = { 4, 6, 0xff, 0, 0, 1 };
    tb_bytes(&t, nmi, sizeof(nmi));
    tb_end(&t);
    madt_len = t.len;
    struct tb s = tb_begin(SRAT2_PA, "SRAT", 12);
    for (uint32_t i = 0; i < 8; i++)
        srat_apic(&s, (uint8_t)(2 * i), i / 4);
    tb_end(&s);
    uint64_t tables[] = { SRAT2_PA, MADT_PA };
    put_root(xsdt, tables, 2);
    if (xsdt && with_rsdt_too) {
        /* a revision-2 RSDP with both roots: an RSDT at 0x110000 too */
        struct tb r = tb_begin(0x110000, "RSDT", 0);
        uint32_t v[] = { SRAT2_PA, MADT_PA };
        tb_bytes(&r, v, sizeof(v));
        tb_end(&r);
        put_rsdp(RSDP_PA, 2, 0x110000, XSDT_PA);
    }
}

static int copy(const uint32_t *ids, uint32_t n, uint32_t required, uint64_t *rsdp, uint32_t *used)
{
    return shim_acpi_copy_reordered(&fake, RSDP_PA, ids, n, required, fake_mem + COPY_PA, COPY_PA, COPY_SIZE,
                                    rsdp, used, err);
}

static void expect_order(uint64_t rsdp, const uint32_t *ids, uint32_t n)
{
    cr_assert_eq(shim_acpi_parse(&fake, rsdp, topo, err), SHIM_OK, "the copy parses: %s", err);
    cr_assert_eq(topo->cpu_count, n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(topo->cpus[i].apic_id, ids[i], "MADT position %u", i);
    cr_assert_eq(topo->numa_count, 2, "the SRAT is still found");
}

/* The copied MADT: same length, same bytes as a multiset of entries, the
 * non-processor entries in their original order after the processors. */
static void expect_entries_kept(uint64_t rsdp)
{
    (void)rsdp;
    const uint8_t *m = NULL;
    for (uint32_t off = 0; off < COPY_SIZE - 4; off += 16)
        if (!memcmp(fake_mem + COPY_PA + off, "APIC", 4)) {
            m = fake_mem + COPY_PA + off;
            break;
        }
    cr_assert(m, "a MADT in the copy");
    uint32_t len;
    memcpy(&len, m + 4, 4);
    cr_assert_eq(len, madt_len);
    cr_assert_eq(sum((uint64_t)(m - fake_mem), len), 0, "MADT checksum");
    cr_assert_eq(memcmp(m + 36, fake_mem + MADT_PA + 36, 8), 0, "local APIC address and flags");
    /* after the 8 processor entries (6 x 8 + 2 x 16 bytes): I/O APIC,
     * override, the disabled CPU, the NMI entry */
    const uint8_t *rest = m + 44 + 6 * 8 + 2 * 16;
    cr_assert_eq(rest[0], 1);
    cr_assert_eq(rest[12], 2);
    cr_assert_eq(rest[22], 0);
    cr_assert_eq(rest[26], 0, "the disabled CPU's flags");
    cr_assert_eq(rest[30], 4);
}

Test(linux_acpi, xsdt_main_cpus_first)
{
    machine(true, false);
    uint32_t ids[] = { 0, 8, 2, 4, 6, 10, 12, 14 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 8, 2, &rsdp, &used), SHIM_OK, "%s", err);
    cr_assert_eq(rsdp, COPY_PA);
    cr_assert_leq(used, COPY_SIZE);
    expect_order(rsdp, ids, 8);
    expect_entries_kept(rsdp);
    cr_assert_eq(sum(COPY_PA, 20), 0, "RSDP checksum");
    cr_assert_eq(sum(COPY_PA, 36), 0, "RSDP extended checksum");
    /* the firmware's tables are unchanged */
    uint32_t fw[] = { 0, 2, 4, 6, 8, 10, 12, 14 };
    struct shim_topology *t2 = calloc(1, sizeof(*t2));
    cr_assert_eq(shim_acpi_parse(&fake, RSDP_PA, t2, err), SHIM_OK);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(t2->cpus[i].apic_id, fw[i]);
    free(t2);
}

Test(linux_acpi, rsdt_only)
{
    machine(false, false);
    uint32_t ids[] = { 6, 14, 0, 2, 4, 8, 10, 12 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 8, 2, &rsdp, &used), SHIM_OK, "%s", err);
    cr_assert_eq(fake_mem[rsdp + 15], 0, "same RSDP revision");
    expect_order(rsdp, ids, 8);
    expect_entries_kept(rsdp);
}

Test(linux_acpi, both_roots_rewritten)
{
    machine(true, true);
    uint32_t ids[] = { 12, 0, 2, 4, 6, 8, 10, 14 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 8, 1, &rsdp, &used), SHIM_OK, "%s", err);
    expect_order(rsdp, ids, 8);
    /* the RSDT of the copy names the new MADT too */
    uint32_t rsdt;
    memcpy(&rsdt, fake_mem + rsdp + 16, 4);
    cr_assert_neq(rsdt, 0);
    cr_assert_eq(memcmp(fake_mem + rsdt, "RSDT", 4), 0);
    cr_assert_eq(sum(rsdt, 44), 0, "RSDT checksum");
    uint32_t madt;
    memcpy(&madt, fake_mem + rsdt + 40, 4);
    cr_assert_gt(madt, COPY_PA);
    cr_assert_eq(memcmp(fake_mem + madt, "APIC", 4), 0);
    put_rsdp(RSDP_PA + 0x100, 0, rsdt, 0);   /* parse through the RSDT alone */
    cr_assert_eq(shim_acpi_parse(&fake, RSDP_PA + 0x100, topo, err), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpus[0].apic_id, 12);
}

Test(linux_acpi, unlisted_cpus_keep_their_order_after)
{
    machine(true, false);
    uint32_t ids[] = { 10, 4 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 2, 2, &rsdp, &used), SHIM_OK, "%s", err);
    cr_assert_eq(shim_acpi_parse(&fake, rsdp, topo, err), SHIM_OK, "%s", err);
    uint32_t want[] = { 10, 4, 0, 2, 6, 8, 12, 14 };
    for (int i = 0; i < 8; i++)
        cr_assert_eq(topo->cpus[i].apic_id, want[i], "position %d", i);
}

Test(linux_acpi, missing_main_cpu)
{
    machine(true, false);
    uint32_t ids[] = { 0, 5, 2 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 3, 2, &rsdp, &used), SHIM_E_MALFORMED);
    cr_assert(strstr(err, "APIC ID 5"), "%s", err);
    /* a missing sidecar CPU (not required) is skipped */
    cr_assert_eq(copy(ids, 3, 1, &rsdp, &used), SHIM_OK, "%s", err);
}

Test(linux_acpi, duplicate_ids)
{
    machine(true, false);
    uint32_t ids[] = { 0, 2, 0 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 3, 1, &rsdp, &used), SHIM_E_INVALID);
    cr_assert(strstr(err, "twice"), "%s", err);
}

Test(linux_acpi, buffer_too_small)
{
    machine(true, false);
    uint32_t ids[] = { 0 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(shim_acpi_copy_reordered(&fake, RSDP_PA, ids, 1, 1, fake_mem + COPY_PA, COPY_PA, 100,
                                          &rsdp, &used, err), SHIM_E_LIMIT);
    cr_assert_eq(shim_acpi_copy_reordered(&fake, RSDP_PA, ids, 1, 1, fake_mem + COPY_PA, 0xffffff00ull,
                                          COPY_SIZE, &rsdp, &used, err), SHIM_E_INVALID, "not below 4 GiB");
}

Test(linux_acpi, bad_tables_refused)
{
    machine(true, false);
    fake_mem[MADT_PA + 50] ^= 1;   /* MADT checksum */
    uint32_t ids[] = { 0 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 1, 1, &rsdp, &used), SHIM_E_CHECKSUM);
    fake_reset();
    machine(true, false);
    fake_mem[RSDP_PA] = 'X';
    cr_assert_eq(copy(ids, 1, 1, &rsdp, &used), SHIM_E_CHECKSUM);
}

Test(linux_acpi, truncated_entry_refused)
{
    /* an entry whose length runs past the table */
    struct tb t = tb_begin(MADT_PA, "APIC", 8);
    madt_lapic(&t, 0, 0, 1);
    uint8_t bad[4] = { 1, 12, 0, 0 };
    tb_bytes(&t, bad, sizeof(bad));
    tb_end(&t);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    uint32_t ids[] = { 0 };
    uint64_t rsdp;
    uint32_t used;
    cr_assert_eq(copy(ids, 1, 1, &rsdp, &used), SHIM_E_MALFORMED);
    cr_assert(strstr(err, "MADT"), "%s", err);
}
