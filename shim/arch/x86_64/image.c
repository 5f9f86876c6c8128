/* SPDX-License-Identifier: MIT */
/* Validating an embedded image's header. Even though the images are built
 * with the shim, the header is checked like any input: a corrupt build
 * must not make the shim jump into garbage. */
#include <scfree/scfree.h>
#include <sidecar/validate.h>

#include "images.h"

bool shim_image_check(struct shim_image *img, char *err, unsigned long errlen)
{
    if (img->file_size < sizeof(struct sidecar_image_header)) {
        sc_snprintf(err, errlen, "%s image: %lu bytes, smaller than its header", img->name, img->file_size);
        return false;
    }
    const struct sidecar_image_header *h = (const void *)img->data;
    struct sidecar_abi_error e;
    if (sidecar_image_header_validate(h, &e) != SIDECAR_ABI_OK) {
        sc_snprintf(err, errlen, "%s image: header.%s", img->name, e.message);
        return false;
    }
    if (h->file_end < h->link_base || h->file_end - h->link_base != img->file_size) {
        sc_snprintf(err, errlen, "%s image: header.file_end: %lx does not match the file size %lx",
                    img->name, h->file_end, img->file_size);
        return false;
    }
    if (h->mem_end < h->file_end || h->mem_end - h->link_base > 0x1000000) {
        sc_snprintf(err, errlen, "%s image: header.mem_end: %lx out of range", img->name, h->mem_end);
        return false;
    }
    if (h->entry < h->link_base || h->entry >= h->file_end) {
        sc_snprintf(err, errlen, "%s image: header.entry: %lx outside the image", img->name, h->entry);
        return false;
    }
    img->hdr = h;
    img->mem_size = SC_ALIGN_UP(h->mem_end - h->link_base, 4096ull);
    return true;
}
