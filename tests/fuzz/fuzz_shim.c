/* SPDX-License-Identifier: MIT */
/* libFuzzer: the shim's ACPI parser and command-line parser, and its
 * reading of a Linux bzImage. First byte % 4 == 0: the rest is a
 * NUL-terminated command line. == 2: the rest is a bzImage (setup header
 * check, then boot_params). Odd: the rest is a physical memory image at
 * 0xE0000 (the BIOS area the RSDP is searched in; tables may point
 * anywhere, only this window is readable), parsed from RSDP discovery on;
 * a topology that parses is then run through the plan and the hand-off,
 * and through the reordered ACPI copy for Linux (CPUs in reverse order),
 * which must parse back to the same CPUs in the new order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>
#include <shim/linux.h>

#define IMAGE_BASE 0xe0000ull

#define COPY_BASE 0x40000000ull
#define COPY_SIZE 0xc000u

static const uint8_t *image;
static size_t image_size;
static uint8_t acpi_copy[COPY_SIZE];
static int copy_visible;   /* the copy is readable only when it is parsed back */

static const void *map(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    if (copy_visible && pa >= COPY_BASE && len <= COPY_SIZE && pa - COPY_BASE <= COPY_SIZE - len)
        return acpi_copy + (pa - COPY_BASE);
    if (pa < IMAGE_BASE || len > image_size || pa - IMAGE_BASE > image_size - len)
        return NULL;
    return image + (pa - IMAGE_BASE);
}

static struct shim_topology topo, topo2;
static uint32_t order[SHIM_MAX_CPUS];

/* The Linux copy of the tables that parsed into topo. */
static void acpi_copy_check(const struct shim_mem *mem, uint64_t rsdp)
{
    char err[SHIM_ERR_SIZE];
    uint32_t n = topo.cpu_count;
    for (uint32_t i = 0; i < n; i++)
        order[i] = topo.cpus[n - 1 - i].apic_id;
    uint64_t new_rsdp;
    uint32_t used;
    memset(acpi_copy, 0, sizeof(acpi_copy));
    if (shim_acpi_copy_reordered(mem, rsdp, order, n, n < 2 ? n : 2, acpi_copy, COPY_BASE, COPY_SIZE,
                                 &new_rsdp, &used, err) != SHIM_OK)
        return;
    if (used > COPY_SIZE || new_rsdp != COPY_BASE)
        abort();
    copy_visible = 1;
    int rc = shim_acpi_parse(mem, new_rsdp, &topo2, err);
    copy_visible = 0;
    if (rc != SHIM_OK || topo2.cpu_count != n)
        abort();
    for (uint32_t i = 0; i < n; i++)
        if (topo2.cpus[i].apic_id != order[i])
            abort();
}

static uint8_t boot_params[LINUXBOOT_BOOT_PARAMS_SIZE];

static void bzimage(const uint8_t *p, size_t size)
{
    char err[SHIM_ERR_SIZE];
    struct linuxboot_image img;
    if (linuxboot_check(p, size, &img, err) != SHIM_OK)
        return;
    if ((uint64_t)img.setup_size + img.kernel_size != size || img.header_end > 0x290 || img.header_end > size ||
        img.init_size < 16 || (img.kernel_alignment & (img.kernel_alignment - 1)))
        abort();
    static const struct linuxboot_e820 e820[] = { { 0, 0x9fc00, 1 }, { 0x100000, 0x3ff00000, 1 } };
    struct linuxboot_boot b = { e820, 2, 0x20000, 0x3f000000, 0x100000, 0xe0000 };
    if (linuxboot_boot_params(boot_params, p, &img, &b, err) == SHIM_OK && boot_params[0x210] != 0xff)
        abort();
}

static struct shim_plan plan;
static struct sidecar_params params;
static struct sidecar_handoff handoff;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    char err[SHIM_ERR_SIZE];
    if ((data[0] & 3) == 2) {
        uint8_t *bz = malloc(size - 1 ? size - 1 : 1);   /* exact size: over-reads are caught */
        memcpy(bz, data + 1, size - 1);
        bzimage(bz, size - 1);
        free(bz);
        return 0;
    }
    if (!(data[0] & 1)) {
        char *line = malloc(size);
        memcpy(line, data + 1, size - 1);
        line[size - 1] = 0;
        struct shim_options opt;
        shim_options_default(&opt);
        shim_cmdline_parse(line, &opt, err);
        free(line);
        return 0;
    }
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);
    image = copy;
    image_size = size - 1;
    const struct shim_mem mem = { map, NULL };
    uint64_t rsdp;
    if (shim_acpi_find_rsdp(&mem, &rsdp) == SHIM_OK && shim_acpi_parse(&mem, rsdp, &topo, err) == SHIM_OK) {
        acpi_copy_check(&mem, rsdp);
        struct shim_options opt;
        shim_options_default(&opt);
        struct shim_memmap mm = { 2, { { 0, 0x9fc00, 1 }, { 0x100000, 0x3ff00000, 1 } } };
        struct shim_range in_use[] = { { 0, 0x1000, 2 }, { 0x100000, 0x200000, 2 } };
        uint32_t bsp = topo.cpu_count ? topo.cpus[0].apic_id : 0;
        if (shim_plan_build(&topo, &opt, &mm, in_use, 2, bsp, &params, &plan, NULL) == SHIM_OK || !plan.enabled)
            shim_handoff_build(&mm, &plan, &params, 0x20000, 0x30000, "console=ttyS0", &handoff, err);
    }
    free(copy);
    return 0;
}
