/* SPDX-License-Identifier: MIT */
/* The tests' whole-file read (hosted): the bytes in malloc'd memory and
 * their count, or NULL when the file cannot be read or is empty. */
#ifndef SIDECAR_TESTS_VMM_SLURP_H
#define SIDECAR_TESTS_VMM_SLURP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint8_t *slurp(const char *path, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (uint64_t)n;
    return b;
}

#endif
