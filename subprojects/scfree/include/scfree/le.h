/* SPDX-License-Identifier: MIT */
/* Little-endian loads and stores at any alignment (byte by byte: no
 * unaligned access, no aliasing questions). Shared by every parser of
 * firmware and image formats (ACPI, the Linux boot protocol). */
#ifndef SCFREE_LE_H
#define SCFREE_LE_H

#include <stdint.h>

static inline uint16_t sc_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t sc_rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t sc_rd64(const uint8_t *p) { return sc_rd32(p) | (uint64_t)sc_rd32(p + 4) << 32; }

static inline void sc_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void sc_wr32(uint8_t *p, uint32_t v) { sc_wr16(p, (uint16_t)v); sc_wr16(p + 2, (uint16_t)(v >> 16)); }
static inline void sc_wr64(uint8_t *p, uint64_t v) { sc_wr32(p, (uint32_t)v); sc_wr32(p + 4, (uint32_t)(v >> 32)); }

#endif
