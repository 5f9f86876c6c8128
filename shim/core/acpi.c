/* SPDX-License-Identifier: MIT */
/* ACPI topology: RSDP, RSDT/XSDT, MADT and SRAT. Facts (signatures, entry
 * types and offsets) from the ACPI specification, 6.x. Every read goes
 * through shim_mem and every length is checked against the table. */
#include <shim/core.h>
#include <shim/linux.h>

#include "util.h"

#define MAX_TABLE_SIZE (1u << 20)
#define SDT_HEADER 36u

static uint8_t checksum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static bool sig(const uint8_t *p, const char *s)
{
    for (int i = 0; s[i]; i++)
        if (p[i] != (uint8_t)s[i])
            return false;
    return true;
}

static bool rsdp_at(const struct shim_mem *m, uint64_t pa)
{
    const uint8_t *p = m->map(m->ctx, pa, 20);
    if (!p || !sig(p, "RSD PTR ") || checksum(p, 20) != 0)
        return false;
    if (p[15] >= 2) {
        const uint8_t *x = m->map(m->ctx, pa, 36);
        if (!x)
            return false;
        uint32_t len = rd32(x + 20);
        if (len < 36 || len > 4096 || !(x = m->map(m->ctx, pa, len)) || checksum(x, len) != 0)
            return false;
    }
    return true;
}

int shim_acpi_find_rsdp(const struct shim_mem *m, uint64_t *rsdp_pa)
{
    const uint8_t *bda = m->map(m->ctx, 0x40e, 2);
    if (bda) {
        uint64_t ebda = (uint64_t)rd16(bda) << 4;
        if (ebda >= 0x80000 && ebda < 0xa0000) {
            for (uint64_t pa = ebda; pa < ebda + 1024; pa += 16) {
                if (rsdp_at(m, pa)) {
                    *rsdp_pa = pa;
                    return SHIM_OK;
                }
            }
        }
    }
    for (uint64_t pa = 0xe0000; pa < 0x100000; pa += 16) {
        if (rsdp_at(m, pa)) {
            *rsdp_pa = pa;
            return SHIM_OK;
        }
    }
    return SHIM_E_NOT_FOUND;
}

/* Maps a whole system description table after checking its header,
 * length and checksum. */
static int map_table(const struct shim_mem *m, uint64_t pa, const uint8_t **out,
                     uint32_t *len, char err[SHIM_ERR_SIZE])
{
    const uint8_t *h = m->map(m->ctx, pa, SDT_HEADER);
    if (!h)
        return shim_fail(err, SHIM_E_MALFORMED, "table at 0x%lx: unreadable", pa);
    uint32_t n = rd32(h + 4);
    char name[5] = { (char)h[0], (char)h[1], (char)h[2], (char)h[3], 0 };
    if (n < SDT_HEADER || n > MAX_TABLE_SIZE)
        return shim_fail(err, SHIM_E_MALFORMED, "%s at 0x%lx: length %u out of range", name, pa, n);
    const uint8_t *t = m->map(m->ctx, pa, n);
    if (!t)
        return shim_fail(err, SHIM_E_MALFORMED, "%s at 0x%lx: %u bytes unreadable", name, pa, n);
    if (checksum(t, n) != 0)
        return shim_fail(err, SHIM_E_CHECKSUM, "%s at 0x%lx: bad checksum", name, pa);
    *out = t;
    *len = n;
    return SHIM_OK;
}

static uint32_t dense_node(struct shim_topology *t, uint32_t domain, bool *ok)
{
    for (uint32_t i = 0; i < t->numa_count; i++)
        if (t->numa_domain[i] == domain)
            return i;
    if (t->numa_count >= SHIM_MAX_NUMA) {
        *ok = false;
        return 0;
    }
    t->numa_domain[t->numa_count] = domain;
    return t->numa_count++;
}

static int add_cpu(struct shim_topology *t, uint32_t apic_id, uint32_t uid, char err[SHIM_ERR_SIZE])
{
    for (uint32_t i = 0; i < t->cpu_count; i++)
        if (t->cpus[i].apic_id == apic_id)
            return shim_fail(err, SHIM_E_MALFORMED, "MADT: APIC ID %u listed twice", apic_id);
    if (t->cpu_count >= SHIM_MAX_CPUS)
        return shim_fail(err, SHIM_E_LIMIT, "MADT: more than %u CPUs", (unsigned)SHIM_MAX_CPUS);
    t->cpus[t->cpu_count++] = (struct shim_cpu){ apic_id, uid, 0 };
    return SHIM_OK;
}

static int parse_madt(const uint8_t *t, uint32_t len, struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    if (len < 44)
        return shim_fail(err, SHIM_E_MALFORMED, "MADT: %u bytes, too short", len);
    for (uint32_t off = 44; off < len;) {
        if (len - off < 2)
            return shim_fail(err, SHIM_E_MALFORMED, "MADT: entry at offset %u truncated", off);
        uint8_t type = t[off], elen = t[off + 1];
        if (elen < 2 || elen > len - off)
            return shim_fail(err, SHIM_E_MALFORMED, "MADT: entry at offset %u: length %u out of range", off, elen);
        const uint8_t *e = t + off;
        int rc = SHIM_OK;
        if (type == 0) {
            if (elen < 8)
                return shim_fail(err, SHIM_E_MALFORMED, "MADT: local APIC entry at offset %u: length %u", off, elen);
            if ((rd32(e + 4) & 1) && e[3] != 0xff)
                rc = add_cpu(topo, e[3], e[2], err);
            else if ((rd32(e + 4) & 3) == 2 && e[3] != 0xff)
                topo->online_capable++;
        } else if (type == 9) {
            if (elen < 16)
                return shim_fail(err, SHIM_E_MALFORMED, "MADT: x2APIC entry at offset %u: length %u", off, elen);
            if ((rd32(e + 8) & 1) && rd32(e + 4) != 0xffffffffu)
                rc = add_cpu(topo, rd32(e + 4), rd32(e + 12), err);
            else if ((rd32(e + 8) & 3) == 2 && rd32(e + 4) != 0xffffffffu)
                topo->online_capable++;
        }
        if (rc != SHIM_OK)
            return rc;
        off += elen;
    }
    if (!topo->cpu_count)
        return shim_fail(err, SHIM_E_MALFORMED, "MADT: no enabled CPU");
    return SHIM_OK;
}

static int parse_srat(const uint8_t *t, uint32_t len, struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    bool ok = true;
    for (uint32_t off = 48; off < len;) {
        if (len - off < 2)
            return shim_fail(err, SHIM_E_MALFORMED, "SRAT: entry at offset %u truncated", off);
        uint8_t type = t[off], elen = t[off + 1];
        if (elen < 2 || elen > len - off)
            return shim_fail(err, SHIM_E_MALFORMED, "SRAT: entry at offset %u: length %u out of range", off, elen);
        const uint8_t *e = t + off;
        uint32_t apic = 0, domain = 0;
        bool cpu = false;
        if (type == 0 && elen >= 16 && (rd32(e + 4) & 1)) {
            apic = e[3];
            domain = e[2] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
            cpu = true;
        } else if (type == 2 && elen >= 24 && (rd32(e + 12) & 1)) {
            apic = rd32(e + 8);
            domain = rd32(e + 4);
            cpu = true;
        } else if (type == 1 && elen >= 40 && (rd32(e + 28) & 1)) {
            uint64_t base = rd64(e + 8), size = rd64(e + 16);
            if (size && base + size > base && topo->mem_affinity_count < SHIM_MAX_MEM_AFFINITY) {
                uint32_t n = dense_node(topo, rd32(e + 2), &ok);
                topo->mem_affinity[topo->mem_affinity_count++] = (struct shim_mem_affinity){ base, size, n };
            }
        }
        if (cpu) {
            for (uint32_t i = 0; i < topo->cpu_count; i++)
                if (topo->cpus[i].apic_id == apic)
                    topo->cpus[i].numa_node = dense_node(topo, domain, &ok);
        }
        if (!ok)
            return shim_fail(err, SHIM_E_LIMIT, "SRAT: more than %u proximity domains", (unsigned)SHIM_MAX_NUMA);
        off += elen;
    }
    return SHIM_OK;
}

int shim_acpi_parse(const struct shim_mem *m, uint64_t rsdp_pa,
                    struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    shim_zero(topo, sizeof(*topo));
    if (!rsdp_at(m, rsdp_pa))
        return shim_fail(err, SHIM_E_CHECKSUM, "RSDP at 0x%lx: bad signature or checksum", rsdp_pa);
    const uint8_t *r = m->map(m->ctx, rsdp_pa, 20);
    bool xsdt = false;
    uint64_t root_pa = rd32(r + 16);
    if (r[15] >= 2) {   /* rsdp_at has read all 36 bytes of a revision 2 RSDP */
        const uint8_t *x = m->map(m->ctx, rsdp_pa, 36);
        if (x && rd64(x + 24) != 0) {
            xsdt = true;
            root_pa = rd64(x + 24);
        }
    }
    const uint8_t *root;
    uint32_t root_len;
    int rc = map_table(m, root_pa, &root, &root_len, err);
    if (rc != SHIM_OK)
        return rc;
    if (!sig(root, xsdt ? "XSDT" : "RSDT"))
        return shim_fail(err, SHIM_E_MALFORMED, "%s: wrong signature", xsdt ? "XSDT" : "RSDT");
    uint32_t width = xsdt ? 8 : 4;
    const uint8_t *madt = NULL, *srat = NULL;
    uint32_t madt_len = 0, srat_len = 0;
    for (uint32_t off = SDT_HEADER; off + width <= root_len; off += width) {
        uint64_t pa = xsdt ? rd64(root + off) : rd32(root + off);
        const uint8_t *h = m->map(m->ctx, pa, 4);
        if (!h)
            continue;
        if (sig(h, "APIC") && !madt) {
            if ((rc = map_table(m, pa, &madt, &madt_len, err)) != SHIM_OK)
                return rc;
        } else if (sig(h, "SRAT") && !srat) {
            if ((rc = map_table(m, pa, &srat, &srat_len, err)) != SHIM_OK)
                return rc;
        }
    }
    if (!madt)
        return shim_fail(err, SHIM_E_NOT_FOUND, "no MADT");
    if ((rc = parse_madt(madt, madt_len, topo, err)) != SHIM_OK)
        return rc;
    if (srat) {
        topo->has_srat = true;
        if ((rc = parse_srat(srat, srat_len, topo, err)) != SHIM_OK)
            return rc;
    }
    if (!topo->numa_count) {
        topo->numa_count = 1;
        topo->numa_domain[0] = 0;
    }
    return SHIM_OK;
}

/* ---- A reordered copy of the ACPI root and MADT, for a Linux main kernel ---- */

/* Sets the checksum byte at off so that the len bytes at t sum to zero. */
static void fix_checksum(uint8_t *t, uint32_t len, uint32_t off)
{
    t[off] = 0;
    t[off] = (uint8_t)(0u - checksum(t, len));
}

/* A processor entry the topology counts (see parse_madt): its APIC ID. */
static bool cpu_entry(const uint8_t *e, uint32_t *apic)
{
    if (e[0] == 0 && e[1] >= 8 && (rd32(e + 4) & 3) && e[3] != 0xff) {
        *apic = e[3];
        return true;
    }
    if (e[0] == 9 && e[1] >= 16 && (rd32(e + 8) & 3) && rd32(e + 4) != 0xffffffffu) {
        *apic = rd32(e + 4);
        return true;
    }
    return false;
}

static bool listed_id(const uint32_t *ids, uint32_t count, uint32_t id)
{
    for (uint32_t i = 0; i < count; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Copies a root table (RSDT: width 4, XSDT: width 8) to dst, pointing
 * every entry that names a MADT at new_madt. */
static void copy_root(const struct shim_mem *m, const uint8_t *root, uint32_t len, uint32_t width,
                      uint8_t *dst, uint64_t new_madt)
{
    shim_copy(dst, root, len);
    for (uint32_t off = SDT_HEADER; off + width <= len; off += width) {
        uint64_t pa = width == 8 ? rd64(root + off) : rd32(root + off);
        const uint8_t *h = m->map(m->ctx, pa, 4);
        if (h && sig(h, "APIC")) {
            if (width == 8)
                wr64(dst + off, new_madt);
            else
                wr32(dst + off, (uint32_t)new_madt);
        }
    }
    fix_checksum(dst, len, 9);
}

int shim_acpi_copy_reordered(const struct shim_mem *m, uint64_t rsdp_pa,
                             const uint32_t *ids, uint32_t count, uint32_t required,
                             uint8_t *buf, uint64_t buf_pa, uint32_t buf_size,
                             uint64_t *rsdp_out, uint32_t *used, char err[SHIM_ERR_SIZE])
{
    if (required > count)
        return shim_fail(err, SHIM_E_INVALID, "ACPI copy: %u required CPUs of %u", required, count);
    for (uint32_t i = 0; i < count; i++)
        if (listed_id(ids, i, ids[i]))
            return shim_fail(err, SHIM_E_INVALID, "ACPI copy: APIC ID %u listed twice", ids[i]);
    if (!rsdp_at(m, rsdp_pa))
        return shim_fail(err, SHIM_E_CHECKSUM, "RSDP at 0x%lx: bad signature or checksum", rsdp_pa);
    const uint8_t *r = m->map(m->ctx, rsdp_pa, 20);
    uint8_t rev = r[15];
    uint32_t rsdp_len = 20;
    uint64_t rsdt_pa = rd32(r + 16), xsdt_pa = 0;
    if (rev >= 2) {
        r = m->map(m->ctx, rsdp_pa, 36);
        rsdp_len = rd32(r + 20);
        r = m->map(m->ctx, rsdp_pa, rsdp_len);   /* rsdp_at checked it */
        xsdt_pa = rd64(r + 24);
    }
    const uint8_t *rsdt = NULL, *xsdt = NULL, *madt = NULL;
    uint32_t rsdt_len = 0, xsdt_len = 0, madt_len = 0;
    int rc;
    if (rsdt_pa) {
        if ((rc = map_table(m, rsdt_pa, &rsdt, &rsdt_len, err)) != SHIM_OK)
            return rc;
        if (!sig(rsdt, "RSDT"))
            return shim_fail(err, SHIM_E_MALFORMED, "RSDT: wrong signature");
    }
    if (xsdt_pa) {
        if ((rc = map_table(m, xsdt_pa, &xsdt, &xsdt_len, err)) != SHIM_OK)
            return rc;
        if (!sig(xsdt, "XSDT"))
            return shim_fail(err, SHIM_E_MALFORMED, "XSDT: wrong signature");
    }
    if (!rsdt && !xsdt)
        return shim_fail(err, SHIM_E_NOT_FOUND, "RSDP names neither an RSDT nor an XSDT");
    /* The MADT the topology came from: the XSDT's when there is one. */
    const uint8_t *root = xsdt ? xsdt : rsdt;
    uint32_t root_len = xsdt ? xsdt_len : rsdt_len, width = xsdt ? 8 : 4;
    for (uint32_t off = SDT_HEADER; off + width <= root_len && !madt; off += width) {
        uint64_t pa = width == 8 ? rd64(root + off) : rd32(root + off);
        const uint8_t *h = m->map(m->ctx, pa, 4);
        if (h && sig(h, "APIC") && (rc = map_table(m, pa, &madt, &madt_len, err)) != SHIM_OK)
            return rc;
    }
    if (!madt)
        return shim_fail(err, SHIM_E_NOT_FOUND, "no MADT");
    if (madt_len < 44)
        return shim_fail(err, SHIM_E_MALFORMED, "MADT: %u bytes, too short", madt_len);

    /* Layout: RSDP, XSDT, RSDT, MADT, each 16-byte aligned. */
    uint64_t o_rsdp = 0, o_xsdt = SC_ALIGN_UP((uint64_t)rsdp_len, 16ull);
    uint64_t o_rsdt = o_xsdt + SC_ALIGN_UP((uint64_t)xsdt_len, 16ull);
    uint64_t o_madt = o_rsdt + SC_ALIGN_UP((uint64_t)rsdt_len, 16ull);
    uint64_t total = o_madt + madt_len;
    if (total > buf_size)
        return shim_fail(err, SHIM_E_LIMIT, "ACPI copy: %lu bytes needed, %u available", total, buf_size);
    if (buf_pa + total > (1ull << 32) || buf_pa + total < buf_pa)
        return shim_fail(err, SHIM_E_INVALID, "ACPI copy: buffer at 0x%lx is not below 4 GiB", buf_pa);

    /* The MADT: header, processor entries in the given order, the rest. */
    uint8_t *nm = buf + o_madt;
    shim_copy(nm, madt, 44);
    uint32_t w = 44;
    for (uint32_t off = 44; off < madt_len;) {   /* lengths first, as parse_madt */
        uint8_t elen = madt_len - off >= 2 ? madt[off + 1] : 0;
        if (elen < 2 || elen > madt_len - off)
            return shim_fail(err, SHIM_E_MALFORMED, "MADT: entry at offset %u: length %u out of range", off, elen);
        off += elen;
    }
    for (uint32_t k = 0; k < count; k++) {
        uint32_t found = 0, apic = 0;
        for (uint32_t off = 44; off < madt_len; off += madt[off + 1]) {
            if (!cpu_entry(madt + off, &apic) || apic != ids[k])
                continue;
            if (found++)
                return shim_fail(err, SHIM_E_MALFORMED, "MADT: APIC ID %u listed twice", apic);
            shim_copy(nm + w, madt + off, madt[off + 1]);
            w += madt[off + 1];
        }
        if (!found && k < required)
            return shim_fail(err, SHIM_E_MALFORMED, "MADT: no processor entry for APIC ID %u", ids[k]);
    }
    for (uint32_t off = 44; off < madt_len; off += madt[off + 1]) {
        uint32_t apic;
        if (cpu_entry(madt + off, &apic) && listed_id(ids, count, apic))
            continue;
        shim_copy(nm + w, madt + off, madt[off + 1]);
        w += madt[off + 1];
    }
    if (w != madt_len)
        return shim_fail(err, SHIM_E_MALFORMED, "MADT copy: %u bytes of %u", w, madt_len);
    fix_checksum(nm, madt_len, 9);

    uint64_t madt_pa = buf_pa + o_madt;
    if (xsdt)
        copy_root(m, xsdt, xsdt_len, 8, buf + o_xsdt, madt_pa);
    if (rsdt)
        copy_root(m, rsdt, rsdt_len, 4, buf + o_rsdt, madt_pa);
    uint8_t *nr = buf + o_rsdp;
    shim_copy(nr, r, rsdp_len);
    wr32(nr + 16, rsdt ? (uint32_t)(buf_pa + o_rsdt) : 0);
    fix_checksum(nr, 20, 8);
    if (rev >= 2) {
        wr64(nr + 24, xsdt ? buf_pa + o_xsdt : 0);
        fix_checksum(nr, rsdp_len, 32);
    }
    *rsdp_out = buf_pa + o_rsdp;
    *used = (uint32_t)total;
    return SHIM_OK;
}
