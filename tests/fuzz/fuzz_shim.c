/* libFuzzer: the shim's ACPI parser and command-line parser. First byte
 * even: the rest is a NUL-terminated command line. Odd: the rest is a
 * physical memory image at 0xE0000 (the BIOS area the RSDP is searched in;
 * tables may point anywhere, only this window is readable), parsed from
 * RSDP discovery on; a topology that parses is then run through the plan
 * and the hand-off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shim/core.h>

#define IMAGE_BASE 0xe0000ull

static const uint8_t *image;
static size_t image_size;

static const void *map(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    if (pa < IMAGE_BASE || len > image_size || pa - IMAGE_BASE > image_size - len)
        return NULL;
    return image + (pa - IMAGE_BASE);
}

static struct shim_topology topo;
static struct shim_plan plan;
static struct sidecar_params params;
static struct sidecar_handoff handoff;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    char err[SHIM_ERR_SIZE];
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
