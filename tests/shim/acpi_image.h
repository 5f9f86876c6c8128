/* SPDX-License-Identifier: MIT */
/* Synthetic ACPI table images in a fake physical memory, for the tests. */
#ifndef ACPI_IMAGE_H
#define ACPI_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <shim/core.h>

#define FAKE_MEM_SIZE 0x200000u
#define RSDP_PA 0xe0040u
#define XSDT_PA 0x100000u
#define MADT_PA 0x101000u
#define SRAT_PA 0x140000u

static uint8_t fake_mem[FAKE_MEM_SIZE];
static uint64_t unreadable_from = ~0ull;   /* reads touching [from, to) fail */
static uint64_t unreadable_to = ~0ull;

static const void *fake_map(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    if (pa > FAKE_MEM_SIZE || len > FAKE_MEM_SIZE - pa || (pa + len > unreadable_from && pa < unreadable_to))
        return NULL;
    return fake_mem + pa;
}

static const struct shim_mem fake = { fake_map, NULL };

static inline void wr16(uint64_t pa, uint16_t v) { memcpy(fake_mem + pa, &v, 2); }
static void wr32(uint64_t pa, uint32_t v) { memcpy(fake_mem + pa, &v, 4); }
static void wr64(uint64_t pa, uint64_t v) { memcpy(fake_mem + pa, &v, 8); }

static uint8_t sum(uint64_t pa, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s = (uint8_t)(s + fake_mem[pa + i]);
    return s;
}

static void put_rsdp(uint64_t pa, uint8_t rev, uint64_t rsdt, uint64_t xsdt)
{
    memset(fake_mem + pa, 0, 36);
    memcpy(fake_mem + pa, "RSD PTR ", 8);
    memcpy(fake_mem + pa + 9, "TEST  ", 6);
    fake_mem[pa + 15] = rev;
    wr32(pa + 16, (uint32_t)rsdt);
    if (rev >= 2) {
        wr32(pa + 20, 36);
        wr64(pa + 24, xsdt);
    }
    fake_mem[pa + 8] = (uint8_t)-sum(pa, 20);
    if (rev >= 2)
        fake_mem[pa + 32] = (uint8_t)-sum(pa, 36);
}

/* A table under construction. */
struct tb {
    uint64_t pa;
    uint32_t len;
};

static struct tb tb_begin(uint64_t pa, const char *sig, uint32_t extra)
{
    memset(fake_mem + pa, 0, 36 + extra);
    memcpy(fake_mem + pa, sig, 4);
    fake_mem[pa + 8] = 1;
    return (struct tb){ pa, 36 + extra };
}

static void tb_bytes(struct tb *t, const void *p, uint32_t n)
{
    memcpy(fake_mem + t->pa + t->len, p, n);
    t->len += n;
}

static void tb_end(struct tb *t)
{
    wr32(t->pa + 4, t->len);
    fake_mem[t->pa + 9] = 0;
    fake_mem[t->pa + 9] = (uint8_t)-sum(t->pa, t->len);
}

static void madt_lapic(struct tb *t, uint8_t uid, uint8_t apic, uint32_t flags)
{
    uint8_t e[8] = { 0, 8, uid, apic };
    memcpy(e + 4, &flags, 4);
    tb_bytes(t, e, 8);
}

static void madt_x2apic(struct tb *t, uint32_t apic, uint32_t flags, uint32_t uid)
{
    uint8_t e[16] = { 9, 16 };
    memcpy(e + 4, &apic, 4);
    memcpy(e + 8, &flags, 4);
    memcpy(e + 12, &uid, 4);
    tb_bytes(t, e, 16);
}

static void srat_apic(struct tb *t, uint8_t apic, uint32_t domain)
{
    uint8_t e[16] = { 0, 16, (uint8_t)domain, apic, 1, 0, 0, 0, 0,
                      (uint8_t)(domain >> 8), (uint8_t)(domain >> 16), (uint8_t)(domain >> 24) };
    tb_bytes(t, e, 16);
}

static void srat_x2apic(struct tb *t, uint32_t apic, uint32_t domain)
{
    uint8_t e[24] = { 2, 24 };
    uint32_t flags = 1;
    memcpy(e + 4, &domain, 4);
    memcpy(e + 8, &apic, 4);
    memcpy(e + 12, &flags, 4);
    tb_bytes(t, e, 24);
}

static void srat_mem(struct tb *t, uint32_t domain, uint64_t base, uint64_t size, uint32_t flags)
{
    uint8_t e[40] = { 1, 40 };
    memcpy(e + 2, &domain, 4);
    memcpy(e + 8, &base, 8);
    memcpy(e + 16, &size, 8);
    memcpy(e + 28, &flags, 4);
    tb_bytes(t, e, 40);
}

/* Root table (XSDT when xsdt, else RSDT at XSDT_PA) naming n tables. */
static void put_root(bool xsdt, const uint64_t *tables, uint32_t n)
{
    struct tb t = tb_begin(XSDT_PA, xsdt ? "XSDT" : "RSDT", 0);
    for (uint32_t i = 0; i < n; i++) {
        if (xsdt)
            tb_bytes(&t, &tables[i], 8);
        else {
            uint32_t v = (uint32_t)tables[i];
            tb_bytes(&t, &v, 4);
        }
    }
    tb_end(&t);
    put_rsdp(RSDP_PA, xsdt ? 2 : 0, xsdt ? 0 : XSDT_PA, xsdt ? XSDT_PA : 0);
}

static void fake_reset(void)
{
    memset(fake_mem, 0, sizeof(fake_mem));
    unreadable_from = ~0ull;
    unreadable_to = ~0ull;
}

#endif
