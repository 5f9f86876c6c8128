/* SPDX-License-Identifier: MIT */
/* A synthetic bzImage for the tests of the Linux boot protocol code
 * (tests/linuxboot, tests/vmm): a 64 KiB file with a setup header like
 * Linux 6.1's, protocol 2.15, relocatable, 64-bit entry, and a marker byte
 * at the 64-bit entry. Header only: each test program has its own copy. */
#ifndef TESTS_BZIMAGE_FIXTURE_H
#define TESTS_BZIMAGE_FIXTURE_H

#include <stdint.h>
#include <string.h>

#define BZ_SIZE (64 * 1024)
static uint8_t bz[BZ_SIZE];

static inline void bz16(uint32_t off, uint16_t v) { memcpy(bz + off, &v, 2); }
static inline void bz32(uint32_t off, uint32_t v) { memcpy(bz + off, &v, 4); }
static inline void bz64(uint32_t off, uint64_t v) { memcpy(bz + off, &v, 8); }

/* setup_sects 3: the kernel starts at 0x800; syssize covers the rest. */
static inline void bz_good(void)
{
    memset(bz, 0, sizeof(bz));
    bz[0x1f1] = 3;
    bz32(0x1f4, (BZ_SIZE - 0x800) / 16);
    bz16(0x1fe, 0xaa55);
    bz[0x200] = 0xeb;
    bz[0x201] = 0x6a;                /* header ends at 0x26c, as Linux 6.1's */
    memcpy(bz + 0x202, "HdrS", 4);
    bz16(0x206, 0x020f);
    bz[0x211] = 1;                   /* LOADED_HIGH */
    bz32(0x22c, 0x7fffffff);
    bz32(0x230, 0x200000);
    bz[0x234] = 1;
    bz16(0x236, 0x7f);
    bz32(0x238, 2047);
    bz64(0x258, 0x1000000);
    bz32(0x260, 0x400000);
    bz[0x800 + 0x200] = 0xcc;        /* the "64-bit entry" */
}

#endif
