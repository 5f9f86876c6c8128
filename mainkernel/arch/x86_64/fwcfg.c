/* SPDX-License-Identifier: MIT */
/* QEMU fw_cfg (fwcfg.h): the I/O-port interface (selector 0x510, data
 * 0x511) and, when the feature bitmap says so, the DMA interface (0x514).
 * Layouts from QEMU's docs/specs/fw_cfg.rst: big-endian directory and DMA
 * descriptors. */
#include <scfree/scfree.h>
#include <scfree/x86.h>

#include "fwcfg.h"

#define PORT_SELECTOR 0x510u
#define PORT_DATA 0x511u
#define PORT_DMA_HIGH 0x514u
#define PORT_DMA_LOW 0x518u
#define KEY_SIGNATURE 0x0000u
#define KEY_FEATURES 0x0001u
#define KEY_FILE_DIR 0x0019u
#define FEATURE_DMA 0x2u
#define DMA_ERROR 0x1u
#define DMA_READ 0x2u
#define DMA_SELECT 0x8u
#define NAME_SIZE 56u

static uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
static uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }

static void select_key(uint16_t key)
{
    __asm__ volatile("outw %0, %1" : : "a"(key), "Nd"((uint16_t)PORT_SELECTOR));
}

static void read_bytes(void *dst, uint32_t n)
{
    uint8_t *d = dst;
    for (uint32_t i = 0; i < n; i++)
        d[i] = inb(PORT_DATA);
}

static bool present(void)
{
    char sig[4];
    select_key(KEY_SIGNATURE);
    read_bytes(sig, 4);
    return sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
}

static bool has_dma(void)
{
    uint32_t features;
    select_key(KEY_FEATURES);
    read_bytes(&features, 4);
    return features & FEATURE_DMA;     /* little-endian, unlike the rest */
}

bool mk_fwcfg_find(const char *name, struct mk_fwcfg_file *f)
{
    if (!present())
        return false;
    uint32_t count;
    select_key(KEY_FILE_DIR);
    read_bytes(&count, 4);
    count = be32(count);
    for (uint32_t i = 0; i < count && i < 4096; i++) {
        struct { uint32_t size; uint16_t select; uint16_t reserved; char name[NAME_SIZE]; } e;
        read_bytes(&e, sizeof(e));
        e.name[NAME_SIZE - 1] = 0;
        uint32_t k = 0;
        while (name[k] && name[k] == e.name[k])
            k++;
        if (!name[k] && !e.name[k]) {
            f->size = be32(e.size);
            f->select = be16(e.select);
            return true;
        }
    }
    return false;
}

/* One DMA descriptor, 16-byte aligned; the device clears control when done. */
static struct { uint32_t control; uint32_t length; uint64_t address; } dma __attribute__((aligned(16)));

bool mk_fwcfg_read(const struct mk_fwcfg_file *f, uint64_t pa, uint32_t n)
{
    if (n > f->size)
        return false;
    if (!has_dma()) {
        select_key(f->select);
        read_bytes((void *)(uintptr_t)pa, n);
        return true;
    }
    dma.control = be32(((uint32_t)f->select << 16) | DMA_SELECT | DMA_READ);
    dma.length = be32(n);
    dma.address = __builtin_bswap64(pa);
    uint64_t d = (uint64_t)(uintptr_t)&dma;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    outl(PORT_DMA_HIGH, be32((uint32_t)(d >> 32)));
    outl(PORT_DMA_LOW, be32((uint32_t)d));     /* starts the transfer */
    while (be32(__atomic_load_n(&dma.control, __ATOMIC_ACQUIRE)) & ~DMA_ERROR)
        __asm__ volatile("pause");
    return !(be32(dma.control) & DMA_ERROR);
}
