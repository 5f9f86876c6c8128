/* SPDX-License-Identifier: MIT */
/* libFuzzer: sidecar.ko's checks of what user space passes
 * (driver/sidecar_checks.h, which the driver includes), natively.
 *
 * Input: a node's geometry (base CPU, CPU count; raw or small), the
 * addresses and sizes the device maps (page multiples, anywhere in the
 * 64-bit space), then calls: the CPU argument of the CPU ioctls (raw
 * 64-bit values or near the node), a request vector as user space may
 * write it into its mapped control page (any 32-bit value), and an mmap
 * offset and length (near each region's offset or raw).
 *
 * Checks, against a 128-bit oracle written here: a CPU argument is taken
 * exactly when it is one of the node's CPUs, with its index; a vector is
 * sent exactly when it is in [SIDECAR_MIN_VECTOR, 255] (so the ICR's
 * delivery-mode, destination-mode and shorthand bits are never set from
 * it); an mmap is allowed exactly when it lies inside the region its
 * offset names (the node's whole command/register pages, the control
 * page, the params and output pages read-only, or guest RAM from the
 * offset on), with the physical address of that byte of the region. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/abi.h>
#include <sidecar/linux_driver.h>

#include "sidecar_checks.h"

typedef unsigned __int128 u128;

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static uint64_t un(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)u8() << (8 * i);
    return v;
}

#define PAGE 4096ull

/* A page-multiple physical address (below 2^52, the architectural
 * maximum): small, or anywhere. The layout is what the driver's probe
 * validated (params and output by the generated validators); the input
 * under test is what user space passes. */
static uint64_t addr(void) { return u8() & 1 ? un(8) & ((1ull << 52) - 1) & ~(PAGE - 1) : un(3) << 12; }

static void check_cpu(unsigned base, unsigned count, unsigned long arg)
{
    unsigned idx = 0xdeadbeef;
    int ok = sc_check_cpu_arg(base, count, arg, &idx);
    int want = (u128)arg >= base && (u128)arg < (u128)base + count;
    if (ok != want || (ok && (u128)idx + base != arg) || (!ok && idx != 0xdeadbeef))
        abort();
}

static void check_vector(uint32_t v)
{
    int ok = sc_check_ipi_vector(v);
    if (ok != (v >= 32 && v <= 255))
        abort();
    /* what the driver writes to the ICR: fixed, physical, no shorthand */
    if (ok && (v & ~0xffu))
        abort();
}

static void check_mmap(const struct sc_mmap_layout *l, uint64_t off, uint64_t len)
{
    unsigned long long pa = 0x1234;
    int ro = 7;
    if (!len)
        return;   /* Linux never calls mmap with length 0 */
    int rc = sc_check_mmap(l, off, len, &pa, &ro);
    u128 base, size;
    int want_ro = 0, exact = 0;
    if (off == SIDECAR_DRV_MMAP_SHMEM)
        base = l->shmem_pa, size = l->shmem_size, exact = 1;
    else if (off == SIDECAR_DRV_MMAP_CONTROL)
        base = l->control_pa, size = l->page_size;
    else if (off == SIDECAR_DRV_MMAP_PARAMS)
        base = l->params_pa, size = l->params_size, want_ro = 1;
    else if (off == SIDECAR_DRV_MMAP_OUTPUT)
        base = l->output_pa, size = l->output_size, want_ro = 1;
    else if ((u128)off >= SIDECAR_DRV_MMAP_GUEST_RAM && (u128)off < (u128)SIDECAR_DRV_MMAP_GUEST_RAM + l->guest_ram_size)
        base = (u128)l->guest_ram_base + (off - SIDECAR_DRV_MMAP_GUEST_RAM),
        size = (u128)l->guest_ram_base + l->guest_ram_size - base;
    else
        base = 0, size = 0, len = len ? len : 1;   /* no region: always refused */
    int want = size && (exact ? len == size : len <= size);
    if ((rc == 0) != want) {
        abort();
    }
    if (rc)
        return;
    if (pa != base || ro != want_ro)
        abort();
    /* inside the region, as the driver's remap_pfn_range will map it */
    if ((u128)pa + len > base + size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    uint8_t how = u8();
    unsigned base = how & 1 ? (unsigned)un(4) : u8();
    unsigned count = how & 2 ? (unsigned)un(4) : u8() % 65;
    struct sc_mmap_layout l = {
        .shmem_pa = addr(), .shmem_size = (uint64_t)count * 2 * PAGE, .control_pa = addr(),
        .params_pa = addr(), .params_size = (sizeof(struct sidecar_params) + PAGE - 1) & ~(PAGE - 1),
        .output_pa = addr(), .output_size = (sizeof(struct sidecar_output) + PAGE - 1) & ~(PAGE - 1),
        /* guest RAM as params allow it: 2 MiB aligned, base <= 0x7fc0000000, size <= max_guest_ram */
        .guest_ram_base = (un(3) % 0x3fe01) << 21, .guest_ram_size = (un(2) % (SIDECAR_MAX_GUEST_RAM / 0x200000 + 1)) << 21,
        .page_size = PAGE,
    };
    static const uint64_t offs[] = { SIDECAR_DRV_MMAP_SHMEM, SIDECAR_DRV_MMAP_CONTROL, SIDECAR_DRV_MMAP_PARAMS,
                                     SIDECAR_DRV_MMAP_OUTPUT, SIDECAR_DRV_MMAP_GUEST_RAM };
    while (in_pos < in_len) {
        uint8_t op = u8();
        switch (op % 3) {
        case 0: {
            unsigned long arg = op & 0x80 ? (unsigned long)un(8) : base + (unsigned long)(int8_t)u8();
            check_cpu(base, count, arg);
            break;
        }
        case 1:
            check_vector(op & 0x80 ? (uint32_t)un(4) : u8());
            break;
        case 2: {
            uint64_t off = op & 0x80 ? un(8) : offs[u8() % 5] + (u8() & 1 ? (un(3) << 12) : 0);
            uint64_t len = op & 0x40 ? un(8) : un(2) << 12;
            check_mmap(&l, off, len);
            break;
        }
        }
    }
    return 0;
}
