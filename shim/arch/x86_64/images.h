/* SPDX-License-Identifier: MIT */
/* The images the shim carries: the sidecar kernel and the bare-metal main
 * kernel, each a flat binary starting with a struct sidecar_image_header. */
#ifndef SHIM_IMAGES_H
#define SHIM_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

struct shim_image {
    const char *name;
    const uint8_t *data;     /* the embedded file */
    uint64_t file_size;
    const struct sidecar_image_header *hdr;
    uint64_t load_pa;        /* where it was copied */
    uint64_t mem_size;       /* file + bss, page rounded */
};

/* Checks the header against the file it came from; fills hdr/mem_size.
 * On failure writes a message naming the field into err. */
bool shim_image_check(struct shim_image *img, char *err, unsigned long errlen);

#endif
