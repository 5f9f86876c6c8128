/* ACPI topology: RSDP, RSDT/XSDT, MADT and SRAT. Facts (signatures, entry
 * types and offsets) from the ACPI specification, 6.x. Every read goes
 * through shim_mem and every length is checked against the table. */
#include <shim/core.h>

#include "util.h"

#define MAX_TABLE_SIZE (1u << 20)
#define SDT_HEADER 36u

static int fail(char err[SHIM_ERR_SIZE], int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shim_vfmt(err, SHIM_ERR_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

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
        return fail(err, SHIM_E_MALFORMED, "table at 0x%lx: unreadable", pa);
    uint32_t n = rd32(h + 4);
    char name[5] = { (char)h[0], (char)h[1], (char)h[2], (char)h[3], 0 };
    if (n < SDT_HEADER || n > MAX_TABLE_SIZE)
        return fail(err, SHIM_E_MALFORMED, "%s at 0x%lx: length %u out of range", name, pa, n);
    const uint8_t *t = m->map(m->ctx, pa, n);
    if (!t)
        return fail(err, SHIM_E_MALFORMED, "%s at 0x%lx: %u bytes unreadable", name, pa, n);
    if (checksum(t, n) != 0)
        return fail(err, SHIM_E_CHECKSUM, "%s at 0x%lx: bad checksum", name, pa);
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
            return fail(err, SHIM_E_MALFORMED, "MADT: APIC ID %u listed twice", apic_id);
    if (t->cpu_count >= SHIM_MAX_CPUS)
        return fail(err, SHIM_E_LIMIT, "MADT: more than %u CPUs", (unsigned)SHIM_MAX_CPUS);
    t->cpus[t->cpu_count++] = (struct shim_cpu){ apic_id, uid, 0 };
    return SHIM_OK;
}

static int parse_madt(const uint8_t *t, uint32_t len, struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    if (len < 44)
        return fail(err, SHIM_E_MALFORMED, "MADT: %u bytes, too short", len);
    for (uint32_t off = 44; off < len;) {
        if (len - off < 2)
            return fail(err, SHIM_E_MALFORMED, "MADT: entry at offset %u truncated", off);
        uint8_t type = t[off], elen = t[off + 1];
        if (elen < 2 || elen > len - off)
            return fail(err, SHIM_E_MALFORMED, "MADT: entry at offset %u: length %u out of range", off, elen);
        const uint8_t *e = t + off;
        int rc = SHIM_OK;
        if (type == 0) {
            if (elen < 8)
                return fail(err, SHIM_E_MALFORMED, "MADT: local APIC entry at offset %u: length %u", off, elen);
            if ((rd32(e + 4) & 3) && e[3] != 0xff)   /* enabled or online capable */
                rc = add_cpu(topo, e[3], e[2], err);
        } else if (type == 9) {
            if (elen < 16)
                return fail(err, SHIM_E_MALFORMED, "MADT: x2APIC entry at offset %u: length %u", off, elen);
            if ((rd32(e + 8) & 3) && rd32(e + 4) != 0xffffffffu)
                rc = add_cpu(topo, rd32(e + 4), rd32(e + 12), err);
        }
        if (rc != SHIM_OK)
            return rc;
        off += elen;
    }
    if (!topo->cpu_count)
        return fail(err, SHIM_E_MALFORMED, "MADT: no enabled CPU");
    return SHIM_OK;
}

static int parse_srat(const uint8_t *t, uint32_t len, struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    bool ok = true;
    for (uint32_t off = 48; off < len;) {
        if (len - off < 2)
            return fail(err, SHIM_E_MALFORMED, "SRAT: entry at offset %u truncated", off);
        uint8_t type = t[off], elen = t[off + 1];
        if (elen < 2 || elen > len - off)
            return fail(err, SHIM_E_MALFORMED, "SRAT: entry at offset %u: length %u out of range", off, elen);
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
            return fail(err, SHIM_E_LIMIT, "SRAT: more than %u proximity domains", (unsigned)SHIM_MAX_NUMA);
        off += elen;
    }
    return SHIM_OK;
}

int shim_acpi_parse(const struct shim_mem *m, uint64_t rsdp_pa,
                    struct shim_topology *topo, char err[SHIM_ERR_SIZE])
{
    shim_zero(topo, sizeof(*topo));
    if (!rsdp_at(m, rsdp_pa))
        return fail(err, SHIM_E_CHECKSUM, "RSDP at 0x%lx: bad signature or checksum", rsdp_pa);
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
        return fail(err, SHIM_E_MALFORMED, "%s: wrong signature", xsdt ? "XSDT" : "RSDT");
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
        return fail(err, SHIM_E_NOT_FOUND, "no MADT");
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
