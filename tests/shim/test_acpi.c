/* SPDX-License-Identifier: MIT */
/* ACPI parsing on synthetic table images. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "acpi_image.h"

static struct shim_topology *topo;
static char err[SHIM_ERR_SIZE];

static void setup(void)
{
    fake_reset();
    topo = calloc(1, sizeof(*topo));
}

static void teardown(void) { free(topo); }

TestSuite(acpi, .init = setup, .fini = teardown);

/* MADT with n CPUs, APIC ID = stride * i (x2APIC entries for IDs > 254). */
static struct tb madt_cpus(uint32_t n, uint32_t stride)
{
    struct tb t = tb_begin(MADT_PA, "APIC", 8);
    wr32(MADT_PA + 36, 0xfee00000u);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = i * stride;
        if (id < 255)
            madt_lapic(&t, (uint8_t)i, (uint8_t)id, 1);
        else
            madt_x2apic(&t, id, 1, i);
    }
    return t;
}

static int parse(void)
{
    uint64_t rsdp;
    int rc = shim_acpi_find_rsdp(&fake, &rsdp);
    if (rc != SHIM_OK)
        return rc;
    return shim_acpi_parse(&fake, rsdp, topo, err);
}

static void machine(uint32_t n, uint32_t stride, bool xsdt)
{
    struct tb m = madt_cpus(n, stride);
    tb_end(&m);
    uint64_t tables[] = { MADT_PA };
    put_root(xsdt, tables, 1);
}

Test(acpi, one_cpu)
{
    machine(1, 1, true);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpu_count, 1);
    cr_assert_eq(topo->numa_count, 1);
    cr_assert_not(topo->has_srat);
}

Test(acpi, eight_cpus_rsdt)
{
    machine(8, 2, false);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpu_count, 8);
    cr_assert_eq(topo->cpus[7].apic_id, 14);
    cr_assert_eq(topo->cpus[7].acpi_uid, 7);
}

Test(acpi, x2apic_ids_above_255)
{
    machine(255, 3, true);   /* IDs up to 762 */
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpu_count, 255);
    cr_assert_eq(topo->cpus[254].apic_id, 762);
    cr_assert_eq(topo->cpus[100].acpi_uid, 100);
}

Test(acpi, rsdp_in_ebda)
{
    machine(2, 1, true);
    memset(fake_mem + RSDP_PA, 0, 36);
    wr16(0x40e, 0x9fc0);
    put_rsdp(0x9fc00 + 0x30, 2, 0, XSDT_PA);
    uint64_t pa;
    cr_assert_eq(shim_acpi_find_rsdp(&fake, &pa), SHIM_OK);
    cr_assert_eq(pa, 0x9fc30);
}

Test(acpi, rsdp_not_on_16_byte_boundary_or_bad_checksum)
{
    machine(2, 1, true);
    memset(fake_mem + RSDP_PA, 0, 36);
    put_rsdp(RSDP_PA + 8, 2, 0, XSDT_PA);
    uint64_t pa;
    cr_assert_eq(shim_acpi_find_rsdp(&fake, &pa), SHIM_E_NOT_FOUND);
    put_rsdp(RSDP_PA, 2, 0, XSDT_PA);
    fake_mem[RSDP_PA + 32]++;   /* extended checksum */
    cr_assert_eq(shim_acpi_find_rsdp(&fake, &pa), SHIM_E_NOT_FOUND);
}

Test(acpi, xsdt_preferred_over_rsdt)
{
    machine(4, 1, true);
    /* an RSDT (at 0x102f00) naming nothing useful */
    struct tb r = tb_begin(0x1f0000, "RSDT", 0);
    tb_end(&r);
    put_rsdp(RSDP_PA, 2, 0x1f0000, XSDT_PA);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpu_count, 4);
}

Test(acpi, disabled_and_online_capable_cpus)
{
    struct tb t = tb_begin(MADT_PA, "APIC", 8);
    madt_lapic(&t, 0, 0, 1);
    madt_lapic(&t, 1, 1, 0);      /* disabled */
    madt_lapic(&t, 2, 2, 2);      /* online capable */
    madt_lapic(&t, 3, 0xff, 1);   /* invalid ID */
    madt_x2apic(&t, 300, 0, 4);   /* disabled */
    madt_x2apic(&t, 301, 2, 5);   /* online capable */
    madt_x2apic(&t, 302, 3, 6);   /* enabled (and online capable) */
    uint8_t ioapic[12] = { 1, 12 };
    tb_bytes(&t, ioapic, 12);     /* other entries skipped */
    tb_end(&t);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    /* Online capable without enabled: not present at boot, never started
     * (each would cost the AP start timeout), only counted. */
    cr_assert_eq(topo->cpu_count, 2);
    cr_assert_eq(topo->cpus[0].apic_id, 0);
    cr_assert_eq(topo->cpus[1].apic_id, 302);
    cr_assert_eq(topo->online_capable, 2);
}

Test(acpi, bad_table_checksum)
{
    machine(4, 1, true);
    fake_mem[MADT_PA + 50]++;
    cr_assert_eq(parse(), SHIM_E_CHECKSUM);
    cr_assert(strstr(err, "APIC"), "%s", err);
}

Test(acpi, truncated_madt)
{
    struct tb t = madt_cpus(4, 1);
    t.len -= 3;   /* last entry cut */
    tb_end(&t);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
    cr_assert(strstr(err, "MADT"), "%s", err);
}

Test(acpi, madt_length_past_readable_memory)
{
    machine(4, 1, true);
    unreadable_from = MADT_PA + 60;
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
}

Test(acpi, absurd_lengths)
{
    struct tb t = madt_cpus(2, 1);
    uint8_t e[2] = { 0, 200 };    /* entry longer than the table */
    tb_bytes(&t, e, 2);
    tb_end(&t);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
    t = madt_cpus(2, 1);
    e[1] = 0;                     /* zero length would loop forever */
    tb_bytes(&t, e, 2);
    tb_end(&t);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
    machine(2, 1, true);
    wr32(MADT_PA + 4, 0xfffffff0u);   /* table length */
    cr_assert_neq(parse(), SHIM_OK);
    t = madt_cpus(1, 1);
    uint8_t small[4] = { 9, 4 };  /* x2APIC entry too short */
    tb_bytes(&t, small, 4);
    tb_end(&t);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
}

Test(acpi, duplicate_apic_ids)
{
    struct tb t = madt_cpus(4, 1);
    madt_x2apic(&t, 2, 1, 9);
    tb_end(&t);
    uint64_t tables[] = { MADT_PA };
    put_root(true, tables, 1);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
    cr_assert(strstr(err, "twice"), "%s", err);
}

Test(acpi, too_many_cpus)
{
    machine(SHIM_MAX_CPUS + 1, 1, true);
    cr_assert_eq(parse(), SHIM_E_LIMIT);
}

Test(acpi, missing_madt)
{
    put_root(true, NULL, 0);
    cr_assert_eq(parse(), SHIM_E_NOT_FOUND);
}

static void with_srat(struct tb *s)
{
    tb_end(s);
    uint64_t tables[] = { MADT_PA, SRAT_PA };
    put_root(true, tables, 2);
}

Test(acpi, srat_two_nodes)
{
    struct tb m = madt_cpus(8, 1);
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    for (uint8_t i = 0; i < 8; i++)
        srat_apic(&s, i, i < 4 ? 7 : 3);
    srat_mem(&s, 7, 0, 0x80000000u, 1);
    srat_mem(&s, 3, 0x80000000u, 0x80000000u, 1);
    srat_mem(&s, 3, 0x100000000ull, 0x1000, 0);   /* not enabled */
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert(topo->has_srat);
    cr_assert_eq(topo->numa_count, 2);
    cr_assert_eq(topo->numa_domain[0], 7);
    cr_assert_eq(topo->numa_domain[1], 3);
    cr_assert_eq(topo->cpus[0].numa_node, 0);
    cr_assert_eq(topo->cpus[5].numa_node, 1);
    cr_assert_eq(topo->mem_affinity_count, 2);
    cr_assert_eq(topo->mem_affinity[1].numa_node, 1);
    cr_assert_eq(topo->mem_affinity[1].base, 0x80000000u);
}

Test(acpi, srat_four_nodes_interleaved_x2apic_and_memory_only_node)
{
    struct tb m = madt_cpus(12, 100);   /* IDs 0..1100, x2APIC above 254 */
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    srat_mem(&s, 9, 0x100000000ull, 0x40000000u, 1);   /* memory-only node first */
    for (uint32_t i = 0; i < 12; i++) {
        if (i * 100 < 255)
            srat_apic(&s, (uint8_t)(i * 100), 0x10000 + i % 4);   /* high domain bits */
        else
            srat_x2apic(&s, i * 100, 0x10000 + i % 4);
    }
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->numa_count, 5);
    cr_assert_eq(topo->numa_domain[0], 9);
    cr_assert_eq(topo->numa_domain[1], 0x10000);
    cr_assert_eq(topo->numa_domain[4], 0x10003);
    cr_assert_eq(topo->cpus[0].numa_node, 1);
    cr_assert_eq(topo->cpus[11].numa_node, 4);
    cr_assert_eq(topo->cpus[6].numa_node, 3);
}

Test(acpi, cpu_without_srat_entry_goes_to_node_0)
{
    struct tb m = madt_cpus(3, 1);
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    srat_apic(&s, 1, 5);
    srat_apic(&s, 2, 6);
    srat_apic(&s, 77, 8);   /* unknown CPU: ignored, domain still noted */
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpus[0].numa_node, 0);
    cr_assert_eq(topo->cpus[1].numa_node, 0);
    cr_assert_eq(topo->cpus[2].numa_node, 1);
}

Test(acpi, truncated_srat)
{
    struct tb m = madt_cpus(2, 1);
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    srat_apic(&s, 0, 0);
    srat_apic(&s, 1, 1);
    s.len -= 1;
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_E_MALFORMED);
    cr_assert(strstr(err, "SRAT"), "%s", err);
}

Test(acpi, revision_0_rsdp_at_the_end_of_readable_memory)
{
    machine(2, 1, false);
    memset(fake_mem + RSDP_PA, 0, 36);
    put_rsdp(0xfffd0, 0, XSDT_PA, 0);
    unreadable_from = 0xfffe4;   /* 20 bytes readable, not 36 */
    unreadable_to = 0x100000;
    cr_assert_eq(shim_acpi_parse(&fake, 0xfffd0, topo, err), SHIM_OK, "%s", err);
    cr_assert_eq(topo->cpu_count, 2);
}

/* Random byte changes (with checksums fixed up, so the parser sees them)
 * never crash the parser and never give an inconsistent topology. */
Test(acpi, mutated_tables_never_crash)
{
    uint32_t seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        fake_reset();
        struct tb m = madt_cpus(16, 17);
        tb_end(&m);
        struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
        for (uint32_t i = 0; i < 16; i++) {
            if (i * 17 < 255)
                srat_apic(&s, (uint8_t)(i * 17), i % 3);
            else
                srat_x2apic(&s, i * 17, i % 3);
        }
        srat_mem(&s, 0, 0, 0x40000000u, 1);
        srat_mem(&s, 5, 0x40000000u, 0x40000000u, 1);
        with_srat(&s);
        struct tb *t = iter % 2 ? &m : &s;
        int changes = 1 + iter % 4;
        for (int c = 0; c < changes; c++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t off = (seed >> 8) % t->len;
            seed = seed * 1103515245u + 12345u;
            fake_mem[t->pa + off] = (uint8_t)(seed >> 16);
        }
        if (iter % 5) {   /* keep the checksum right, length as mutated */
            uint32_t len;
            memcpy(&len, fake_mem + t->pa + 4, 4);
            if (len >= 36 && len <= t->len + 64) {
                fake_mem[t->pa + 9] = 0;
                fake_mem[t->pa + 9] = (uint8_t)-sum(t->pa, len);
            }
        }
        int rc = parse();
        cr_assert(rc <= 0 && rc >= SHIM_E_MEMORY, "iteration %d: rc %d", iter, rc);
        if (rc != SHIM_OK)
            continue;
        cr_assert_geq(topo->cpu_count, 1);
        cr_assert_leq(topo->cpu_count, SHIM_MAX_CPUS);
        cr_assert_geq(topo->numa_count, 1);
        cr_assert_leq(topo->numa_count, SHIM_MAX_NUMA);
        for (uint32_t i = 0; i < topo->cpu_count; i++) {
            cr_assert_lt(topo->cpus[i].numa_node, topo->numa_count);
            for (uint32_t k = 0; k < i; k++)
                cr_assert_neq(topo->cpus[i].apic_id, topo->cpus[k].apic_id);
        }
        for (uint32_t i = 0; i < topo->mem_affinity_count; i++)
            cr_assert_lt(topo->mem_affinity[i].numa_node, topo->numa_count);
    }
}

Test(acpi, too_many_proximity_domains)
{
    /* more memory ranges than kept: the extra ones are ignored */
    struct tb m = madt_cpus(SHIM_MAX_NUMA + 1, 1);
    tb_end(&m);
    struct tb s = tb_begin(SRAT_PA, "SRAT", 12);
    for (uint32_t d = 0; d <= SHIM_MAX_MEM_AFFINITY; d++)
        srat_mem(&s, 0, (uint64_t)d << 30, 1u << 30, 1);
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_OK, "%s", err);
    cr_assert_eq(topo->mem_affinity_count, SHIM_MAX_MEM_AFFINITY);
    /* more proximity domains than supported: an error */
    s = tb_begin(SRAT_PA, "SRAT", 12);
    for (uint32_t d = 0; d <= SHIM_MAX_NUMA; d++)
        srat_apic(&s, (uint8_t)d, d);
    with_srat(&s);
    cr_assert_eq(parse(), SHIM_E_LIMIT);
    cr_assert(strstr(err, "SRAT"), "%s", err);
}
